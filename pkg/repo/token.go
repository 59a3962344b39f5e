package repo

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/commons-p2p/commons/gateway/api"
)

// APIToken returns the token the daemon's API requires, from the repo at
// path, making it (32 random bytes, hex) the first time. The file is mode
// 0600; one that others may read is made so again, as its owner meant it.
func APIToken(path string) (string, error) {
	name := filepath.Join(path, api.TokenFile)
	b, err := os.ReadFile(name)
	switch {
	case err == nil:
		tok := strings.TrimSpace(string(b))
		if len(tok) < 32 {
			return "", fmt.Errorf("api token %s: too short; delete the file and start the daemon again to make a new one", name)
		}
		if fi, err := os.Stat(name); err == nil && fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(name, 0o600); err != nil {
				return "", fmt.Errorf("api token %s: readable by others and cannot be made private: %w", name, err)
			}
		}
		return tok, nil
	case !errors.Is(err, fs.ErrNotExist):
		return "", fmt.Errorf("api token: %w", err)
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return "", fmt.Errorf("api token: %w", err)
	}
	tok := hex.EncodeToString(raw)
	if err := WriteFileAtomic(name, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("api token: %w", err)
	}
	return tok, nil
}

// ReadAPIToken returns the repo's API token, or "" if it has none (or it
// cannot be read: the request then fails with a clear 401).
func ReadAPIToken(path string) string {
	b, err := os.ReadFile(filepath.Join(path, api.TokenFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

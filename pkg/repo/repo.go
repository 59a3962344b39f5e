// Package repo is a node's directory on disk: its identity, configuration,
// store, lock, and the files through which a running daemon tells the CLI
// and scripts where it listens.
//
// Layout of a repo (default ~/.commons, or --repo / $COMMONS_REPO):
//
//	config.toml     configuration (see pkg/config)
//	identity.key    the node's ed25519 private key, mode 0600
//	version         layout version of this repo
//	datastore/      the pebble store: blocks, pins, DHT records (pkg/store)
//	search/         the full-text index of bundles (pkg/search; rebuilt from the store if removed)
//	repo.lock       held (flock) by the process that has the repo open; holds its pid
//	api             written by a running daemon: URL of its HTTP API
//	gateway         written by a running daemon: URL of its gateway
//	listen          written by a running daemon: its libp2p addresses, one per line
package repo

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/commons-p2p/commons/pkg/config"
	"github.com/commons-p2p/commons/pkg/store"
)

// Version is the repo layout version this code reads and writes.
const Version = "1"

// Names of the files in a repo.
const (
	KeyFile     = "identity.key"
	VersionFile = "version"
	StoreDir    = "datastore"
	SearchDir   = "search"
	LockFile    = "repo.lock"
	APIFile     = "api"
	GatewayFile = "gateway"
	ListenFile  = "listen"
)

var (
	// ErrNotInitialized means the directory holds no repo.
	ErrNotInitialized = errors.New("no commons repo here")
	// ErrExists means Init found a repo already.
	ErrExists = errors.New("a commons repo already exists here")
	// ErrLocked means another process has the repo open.
	ErrLocked = errors.New("repo is in use by another process")
)

// DefaultPath returns $COMMONS_REPO, or ~/.commons.
func DefaultPath() (string, error) {
	if p := os.Getenv("COMMONS_REPO"); p != "" {
		return p, nil
	}
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("find home directory for the default repo (set --repo or COMMONS_REPO): %w", err)
	}
	return filepath.Join(home, ".commons"), nil
}

// IsInitialized reports whether path holds a repo.
func IsInitialized(path string) bool {
	_, err := os.Stat(filepath.Join(path, config.FileName))
	return err == nil
}

// Init creates a repo at path with a new ed25519 identity and the given
// configuration. It refuses a directory that already holds a repo. Every
// file is synced before Init returns.
func Init(path string, cfg config.Config) (peer.ID, error) {
	if IsInitialized(path) {
		return "", fmt.Errorf("init %s: %w", path, ErrExists)
	}
	if err := cfg.Validate(); err != nil {
		return "", fmt.Errorf("init %s: %w", path, err)
	}
	if err := os.MkdirAll(path, 0o700); err != nil {
		return "", fmt.Errorf("init %s: %w", path, err)
	}
	priv, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		return "", fmt.Errorf("init %s: generate identity: %w", path, err)
	}
	id, err := peer.IDFromPrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("init %s: %w", path, err)
	}
	keyBytes, err := crypto.MarshalPrivateKey(priv)
	if err != nil {
		return "", fmt.Errorf("init %s: %w", path, err)
	}
	cfgBytes, err := cfg.Marshal()
	if err != nil {
		return "", fmt.Errorf("init %s: %w", path, err)
	}
	// The config file is written last: its presence is what marks a repo as
	// initialised, so a crash part way leaves a directory Init can retry.
	for _, f := range []struct {
		name string
		data []byte
		mode os.FileMode
	}{
		{KeyFile, keyBytes, 0o600},
		{VersionFile, []byte(Version + "\n"), 0o644},
		{config.FileName, cfgBytes, 0o644},
	} {
		if err := WriteFileAtomic(filepath.Join(path, f.name), f.data, f.mode); err != nil {
			return "", fmt.Errorf("init %s: %w", path, err)
		}
	}
	return id, nil
}

// Repo is an open repo. It holds the repo lock until Close.
type Repo struct {
	Path     string
	Config   config.Config
	Identity crypto.PrivKey
	// Publisher is the key that signs bundles: publish.key_file if set,
	// else Identity.
	Publisher crypto.PrivKey
	Store     *store.Store

	lock *os.File
}

// Open locks the repo at path and opens its configuration, identity and
// store. A repo held by another process gives an error wrapping ErrLocked
// that names that process.
func Open(path string) (*Repo, error) {
	if !IsInitialized(path) {
		return nil, fmt.Errorf("open repo %s: %w (run `commons init` first, or point --repo at one)", path, ErrNotInitialized)
	}
	if v, err := os.ReadFile(filepath.Join(path, VersionFile)); err == nil && strings.TrimSpace(string(v)) != Version {
		return nil, fmt.Errorf("open repo %s: layout version %q, this commons reads version %s", path, strings.TrimSpace(string(v)), Version)
	}
	lock, err := acquireLock(path)
	if err != nil {
		return nil, err
	}
	r := &Repo{Path: path, lock: lock}
	// Whoever holds the lock knows any daemon address files are stale (a
	// daemon killed with kill -9 leaves them): remove them, so a client
	// never dials a dead daemon or mistakes the files for a live one.
	r.RemoveAddrs()
	fail := func(err error) (*Repo, error) {
		releaseLock(lock)
		return nil, err
	}
	r.Config, err = config.Load(filepath.Join(path, config.FileName))
	if err != nil {
		return fail(err)
	}
	keyBytes, err := os.ReadFile(filepath.Join(path, KeyFile))
	if err != nil {
		return fail(fmt.Errorf("open repo %s: read identity: %w", path, err))
	}
	r.Identity, err = crypto.UnmarshalPrivateKey(keyBytes)
	if err != nil {
		return fail(fmt.Errorf("open repo %s: identity.key is damaged: %w", path, err))
	}
	r.Publisher = r.Identity
	if kf := r.Config.Publish.KeyFile; kf != "" {
		if !filepath.IsAbs(kf) {
			kf = filepath.Join(path, kf)
		}
		if r.Publisher, err = ReadKey(kf); err != nil {
			return fail(fmt.Errorf("open repo %s: %w: publish.key_file: %w", path, config.ErrInvalid, err))
		}
	}
	// The sizes parsed when the configuration was validated.
	minFree, _ := r.Config.Datastore.MinFree.Bytes()
	ballast, _ := r.Config.Datastore.Ballast.Bytes()
	r.Store, err = store.Open(filepath.Join(path, StoreDir), store.Options{CacheSize: r.Config.Datastore.CacheSize, MinFree: minFree, Ballast: ballast})
	if err != nil {
		return fail(fmt.Errorf("open repo %s: %w", path, err))
	}
	return r, nil
}

// OpenWait is Open, retrying for up to wait while another process holds
// the lock: typically a CLI command that opened the repo for a moment, or
// a daemon that is still starting. ctx ends the wait early.
func OpenWait(ctx context.Context, path string, wait time.Duration) (*Repo, error) {
	deadline := time.Now().Add(wait)
	for {
		r, err := Open(path)
		if err == nil || !errors.Is(err, ErrLocked) || !time.Now().Before(deadline) {
			return r, err
		}
		select {
		case <-ctx.Done():
			return nil, err
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// ReadKey reads a libp2p-marshalled ed25519 private key file (the format of
// identity.key). The file must not be readable by others.
func ReadKey(path string) (crypto.PrivKey, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("key %s is readable by others (mode %o): chmod 600 it", path, st.Mode().Perm())
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	k, err := crypto.UnmarshalPrivateKey(b)
	if err != nil {
		return nil, fmt.Errorf("key %s is not a libp2p private key: %w", path, err)
	}
	if k.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("key %s is %s; commons signs with ed25519", path, k.Type())
	}
	return k, nil
}

// PeerID returns the node's peer ID.
func (r *Repo) PeerID() peer.ID {
	id, _ := peer.IDFromPrivateKey(r.Identity)
	return id
}

// Close removes the daemon address files, closes the store and releases the
// lock. It is idempotent.
func (r *Repo) Close() error {
	if r.lock == nil {
		return nil
	}
	r.RemoveAddrs()
	err := r.Store.Close()
	releaseLock(r.lock)
	r.lock = nil
	return err
}

// Addrs are what a running daemon publishes in the repo.
type Addrs struct {
	API     string   // URL, e.g. http://127.0.0.1:5101
	Gateway string   // URL, e.g. http://127.0.0.1:8080
	Listen  []string // multiaddrs with /p2p/<id>
}

// WriteAddrs writes the api, gateway and listen files.
func (r *Repo) WriteAddrs(a Addrs) error {
	files := []struct{ name, data string }{
		{ListenFile, strings.Join(a.Listen, "\n") + "\n"},
		{GatewayFile, a.Gateway + "\n"},
		// api last: clients look for it to know the daemon is ready.
		{APIFile, a.API + "\n"},
	}
	for _, f := range files {
		if f.data == "\n" {
			continue
		}
		if err := WriteFileAtomic(filepath.Join(r.Path, f.name), []byte(f.data), 0o644); err != nil {
			return fmt.Errorf("write daemon addresses: %w", err)
		}
	}
	return nil
}

// RemoveAddrs removes the api, gateway and listen files.
func (r *Repo) RemoveAddrs() {
	for _, n := range []string{APIFile, GatewayFile, ListenFile} {
		_ = os.Remove(filepath.Join(r.Path, n))
	}
}

// ReadAPI returns the API URL a daemon wrote into the repo at path, or ""
// if there is none. A leftover file from a killed daemon is still returned;
// the caller finds out by dialling it.
func ReadAPI(path string) string {
	b, err := os.ReadFile(filepath.Join(path, APIFile))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

func acquireLock(path string) (*os.File, error) {
	name := filepath.Join(path, LockFile)
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock repo %s: %w", path, err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		pid := "another process"
		if b, rerr := os.ReadFile(name); rerr == nil && len(strings.TrimSpace(string(b))) > 0 {
			pid = "process " + strings.TrimSpace(string(b))
		}
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("repo %s: %w (%s holds it; is a daemon running? stop it, or use the running daemon)", path, ErrLocked, pid)
		}
		return nil, fmt.Errorf("lock repo %s: %w", path, err)
	}
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt([]byte(strconv.Itoa(os.Getpid())+"\n"), 0)
	}
	return f, nil
}

func releaseLock(f *os.File) {
	_ = f.Truncate(0)
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	_ = f.Close()
}

// WriteFileAtomic writes data to name through a synced temporary file and a
// rename, then syncs the directory, so a crash leaves either the old file or
// the new one, never a torn one.
func WriteFileAtomic(name string, data []byte, mode fs.FileMode) error {
	dir := filepath.Dir(name)
	tmp, err := os.CreateTemp(dir, "."+filepath.Base(name)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), name); err != nil {
		return err
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

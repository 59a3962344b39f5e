// Package kubopeer runs real Kubo (go-ipfs) daemons as peers in tests, so
// interop tests exercise the reference IPFS implementation rather than a
// stand-in.
//
// The Kubo binary is built from the sibling module node/nodetest/kubo, which
// pins the Kubo version; it is built once per machine and cached (see
// Binary). Each Peer runs in its own temporary repository and listens on
// 127.0.0.1 only, with bootstrap, mDNS, AutoConf, AutoTLS, NAT port mapping
// and telemetry switched off, so a test never touches the internet.
//
// The package uses only the standard library, so importing it adds nothing to
// the main module's dependencies. It needs a Unix-like system (it relies on
// flock(2) and signals).
package kubopeer

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"
)

// Version is the Kubo version this package builds and expects. It must match
// the version required in node/nodetest/kubo/go.mod; Binary refuses to build
// if the two disagree, so a version bump cannot silently reuse a stale cache.
const Version = "v0.43.1"

// Environment variables that change where Binary finds or puts Kubo.
const (
	// EnvBinary names an existing Kubo binary to use instead of building one.
	EnvBinary = "COMMONS_KUBO_BIN"
	// EnvCacheDir replaces os.UserCacheDir()/commons as the cache root.
	EnvCacheDir = "COMMONS_CACHE_DIR"
)

const (
	kuboModulePath = "github.com/ipfs/kubo"
	kuboMainPkg    = "github.com/ipfs/kubo/cmd/ipfs"
	// lockPoll is how often Binary retries a held build lock.
	lockPoll = 250 * time.Millisecond
)

// Binary returns the path of a Kubo Version `ipfs` binary.
//
// If $COMMONS_KUBO_BIN is set (non-empty) it must name an executable regular
// file, which is returned as is (its version is not checked); otherwise
// Binary returns an error saying what is wrong with it.
//
// Otherwise the binary lives at <cache>/kubo-<Version>/ipfs, where <cache> is
// $COMMONS_CACHE_DIR or os.UserCacheDir()/commons. If it is not there yet,
// Binary builds it with `go build` from the module node/nodetest/kubo of this
// repository and prints a line to stderr saying so. That takes about 1.5
// minutes on two idle cores when the Go build cache already holds the
// libraries the main module shares with Kubo, and much longer with an empty
// cache on a busy machine (11 minutes was measured), which counts against
// the calling test's timeout: CI should build it first with
// `go run ./node/nodetest/kubopeer/kubobin`.
//
// An exclusive flock on <cache>/kubo-<Version>/.lock makes concurrent test
// processes build it only once: the others wait, then use the result. The
// binary is written to a temporary file and renamed into place, so a build
// that is interrupted never leaves a half-written binary behind.
//
// Cancelling ctx stops the wait for the lock and kills a build in progress;
// Binary then returns an error wrapping ctx.Err().
func Binary(ctx context.Context) (string, error) {
	if p := os.Getenv(EnvBinary); p != "" {
		if err := checkExecutable(p); err != nil {
			return "", fmt.Errorf("kubopeer: $%s=%q: %w", EnvBinary, p, err)
		}
		return p, nil
	}
	dir, err := cacheDir()
	if err != nil {
		return "", err
	}
	return cachedBinary(ctx, dir)
}

// cacheDir returns the directory that holds the cached binary of Version.
func cacheDir() (string, error) {
	root := os.Getenv(EnvCacheDir)
	if root == "" {
		uc, err := os.UserCacheDir()
		if err != nil {
			return "", fmt.Errorf("kubopeer: find cache directory (set $%s): %w", EnvCacheDir, err)
		}
		root = filepath.Join(uc, "commons")
	}
	return filepath.Join(root, "kubo-"+Version), nil
}

// cachedBinary returns dir/ipfs, building it under dir/.lock if it is missing.
func cachedBinary(ctx context.Context, dir string) (string, error) {
	bin := filepath.Join(dir, "ipfs")
	// Fast path: the binary only ever appears by rename, so if it exists it
	// is complete.
	if checkExecutable(bin) == nil {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("kubopeer: create cache directory: %w", err)
	}
	unlock, err := lockFile(ctx, filepath.Join(dir, ".lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	// Another process may have built it while we waited for the lock.
	if checkExecutable(bin) == nil {
		return bin, nil
	}
	if err := build(ctx, dir, bin); err != nil {
		return "", err
	}
	return bin, nil
}

// checkExecutable reports why path is not an executable regular file, or nil.
func checkExecutable(path string) error {
	fi, err := os.Stat(path)
	if err != nil {
		return fmt.Errorf("not usable as the Kubo binary: %w", err)
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("not usable as the Kubo binary: %s is not a regular file", path)
	}
	if fi.Mode().Perm()&0o111 == 0 {
		return fmt.Errorf("not usable as the Kubo binary: %s is not executable", path)
	}
	return nil
}

// lockFile takes an exclusive flock on path, polling so that ctx can cancel
// the wait. The returned function releases it.
func lockFile(ctx context.Context, path string) (unlock func(), err error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("kubopeer: open build lock: %w", err)
	}
	ticker := time.NewTicker(lockPoll)
	defer ticker.Stop()
	announced := false
	for {
		err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			return func() {
				_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
				_ = f.Close()
			}, nil
		}
		if !errors.Is(err, syscall.EWOULDBLOCK) && !errors.Is(err, syscall.EINTR) {
			_ = f.Close()
			return nil, fmt.Errorf("kubopeer: lock %s: %w", path, err)
		}
		if !announced {
			fmt.Fprintf(os.Stderr, "kubopeer: waiting for another process building Kubo %s (lock %s)\n", Version, path)
			announced = true
		}
		select {
		case <-ctx.Done():
			_ = f.Close()
			return nil, fmt.Errorf("kubopeer: wait for build lock %s: %w", path, ctx.Err())
		case <-ticker.C:
		}
	}
}

// build compiles Kubo from the sibling module into bin, via a temporary file
// in dir. The caller holds the lock.
func build(ctx context.Context, dir, bin string) error {
	modDir, err := kuboModuleDir()
	if err != nil {
		return err
	}
	if err := checkModuleVersion(modDir); err != nil {
		return err
	}
	// Leftovers of builds that were killed mid-way.
	if old, _ := filepath.Glob(filepath.Join(dir, "ipfs-*.tmp")); len(old) > 0 {
		for _, o := range old {
			_ = os.Remove(o)
		}
	}
	tmp, err := os.CreateTemp(dir, "ipfs-*.tmp")
	if err != nil {
		return fmt.Errorf("kubopeer: create temporary binary: %w", err)
	}
	tmpName := tmp.Name()
	_ = tmp.Close()
	defer os.Remove(tmpName) // no-op once renamed

	fmt.Fprintf(os.Stderr, "kubopeer: building Kubo %s from %s into %s (2-10 minutes, depending on the Go build cache and load; cached afterwards)\n", Version, modDir, bin)
	start := time.Now()
	cmd := exec.CommandContext(ctx, "go", "build", "-o", tmpName, "-ldflags=-s -w", kuboMainPkg)
	cmd.Dir = modDir
	// GOWORK=off: the nested module must build on its own pins even if a
	// go.work appears above it. GOFLAGS from the caller's environment could
	// carry -mod or tags meant for the main module, so drop it.
	cmd.Env = append(filteredEnv("GOWORK", "GOFLAGS"), "GOWORK=off")
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("kubopeer: build Kubo %s: %w", Version, ctx.Err())
		}
		return fmt.Errorf("kubopeer: build Kubo %s in %s: %w\n%s", Version, modDir, err, tail(out.Bytes(), 40))
	}
	if err := os.Chmod(tmpName, 0o755); err != nil {
		return fmt.Errorf("kubopeer: chmod built binary: %w", err)
	}
	if err := os.Rename(tmpName, bin); err != nil {
		return fmt.Errorf("kubopeer: install built binary: %w", err)
	}
	fmt.Fprintf(os.Stderr, "kubopeer: built Kubo %s in %s\n", Version, time.Since(start).Round(time.Second))
	return nil
}

// kuboModuleDir finds node/nodetest/kubo: first next to this source file (as
// recorded at compile time), then by walking up from the working directory,
// which go test sets to a package directory inside the repository.
func kuboModuleDir() (string, error) {
	var tried []string
	if _, file, _, ok := runtime.Caller(0); ok && filepath.IsAbs(file) {
		d := filepath.Join(filepath.Dir(file), "..", "kubo")
		if isKuboModule(d) {
			return filepath.Clean(d), nil
		}
		tried = append(tried, d)
	}
	if wd, err := os.Getwd(); err == nil {
		for d := wd; ; d = filepath.Dir(d) {
			c := filepath.Join(d, "node", "nodetest", "kubo")
			if isKuboModule(c) {
				return c, nil
			}
			if filepath.Dir(d) == d {
				break
			}
		}
		tried = append(tried, "node/nodetest/kubo above "+wd)
	}
	return "", fmt.Errorf("kubopeer: cannot find the Kubo build module (tried %s); set $%s to a Kubo %s binary",
		strings.Join(tried, ", "), EnvBinary, Version)
}

func isKuboModule(dir string) bool {
	fi, err := os.Stat(filepath.Join(dir, "go.mod"))
	return err == nil && fi.Mode().IsRegular()
}

// checkModuleVersion makes sure the module pins the Kubo that Version names,
// so the cache directory's name tells the truth.
func checkModuleVersion(modDir string) error {
	data, err := os.ReadFile(filepath.Join(modDir, "go.mod"))
	if err != nil {
		return fmt.Errorf("kubopeer: read Kubo module: %w", err)
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		f := strings.Fields(strings.TrimPrefix(strings.TrimSpace(line), "require "))
		if len(f) >= 2 && f[0] == kuboModulePath {
			if f[1] != Version {
				return fmt.Errorf("kubopeer: %s/go.mod requires %s %s but kubopeer.Version is %s; update them together",
					modDir, kuboModulePath, f[1], Version)
			}
			return nil
		}
	}
	return fmt.Errorf("kubopeer: %s/go.mod does not require %s", modDir, kuboModulePath)
}

// filteredEnv returns os.Environ without the named variables.
func filteredEnv(drop ...string) []string {
	var env []string
next:
	for _, kv := range os.Environ() {
		for _, d := range drop {
			if strings.HasPrefix(kv, d+"=") {
				continue next
			}
		}
		env = append(env, kv)
	}
	return env
}

// tail returns the last n lines of b.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

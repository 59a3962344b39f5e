package repo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/commons-p2p/commons/pkg/config"
)

func initRepo(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "repo")
	c, _ := config.FromProfile("test")
	if _, err := Init(p, c); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestInitLayoutAndModes(t *testing.T) {
	p := initRepo(t)
	for name, mode := range map[string]os.FileMode{KeyFile: 0o600, config.FileName: 0o644, VersionFile: 0o644} {
		st, err := os.Stat(filepath.Join(p, name))
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if st.Mode().Perm() != mode {
			t.Errorf("%s mode %v, want %v", name, st.Mode().Perm(), mode)
		}
	}
	if _, err := Init(p, config.Default()); !errors.Is(err, ErrExists) {
		t.Fatalf("second Init: %v; want ErrExists", err)
	}
}

func TestOpenLocksAndCloseReleases(t *testing.T) {
	p := initRepo(t)
	r, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	_, err = Open(p)
	if !errors.Is(err, ErrLocked) {
		t.Fatalf("second Open: %v; want ErrLocked", err)
	}
	if !strings.Contains(err.Error(), strconv.Itoa(os.Getpid())) {
		t.Errorf("lock error %q does not name the holder's pid", err)
	}
	id := r.PeerID()
	if err := r.Close(); err != nil {
		t.Fatal(err)
	}
	if err := r.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	r, err = Open(p)
	if err != nil {
		t.Fatalf("Open after Close: %v", err)
	}
	defer r.Close()
	if r.PeerID() != id {
		t.Fatalf("identity changed across reopen: %s vs %s", r.PeerID(), id)
	}
}

func TestOpenRefusals(t *testing.T) {
	if _, err := Open(t.TempDir()); !errors.Is(err, ErrNotInitialized) || !strings.Contains(err.Error(), "commons init") {
		t.Fatalf("Open of an empty dir: %v; want ErrNotInitialized mentioning commons init", err)
	}

	p := initRepo(t)
	if err := os.WriteFile(filepath.Join(p, config.FileName), []byte("[fetch]\ntimeout = \"never\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(p); !errors.Is(err, config.ErrInvalid) {
		t.Fatalf("Open with a bad config: %v; want config.ErrInvalid", err)
	}

	p = initRepo(t)
	if err := os.WriteFile(filepath.Join(p, KeyFile), []byte("garbage"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(p); err == nil || !strings.Contains(err.Error(), "identity") {
		t.Fatalf("Open with a damaged key: %v; want an error about the identity", err)
	}

	p = initRepo(t)
	if err := os.WriteFile(filepath.Join(p, VersionFile), []byte("99\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Open(p); err == nil || !strings.Contains(err.Error(), "version") {
		t.Fatalf("Open of a future layout: %v; want a version error", err)
	}
	// A refused Open must not leave the lock held.
	if err := os.WriteFile(filepath.Join(p, VersionFile), []byte(Version+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := Open(p)
	if err != nil {
		t.Fatalf("Open after fixing the version: %v", err)
	}
	r.Close()
}

func TestAddrFiles(t *testing.T) {
	p := initRepo(t)
	r, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	if ReadAPI(p) != "" {
		t.Fatal("api file before any daemon")
	}
	a := Addrs{API: "http://127.0.0.1:1234", Gateway: "http://127.0.0.1:5678", Listen: []string{"/ip4/127.0.0.1/tcp/1/p2p/x"}}
	if err := r.WriteAddrs(a); err != nil {
		t.Fatal(err)
	}
	if got := ReadAPI(p); got != a.API {
		t.Fatalf("ReadAPI = %q", got)
	}
	gw, _ := os.ReadFile(filepath.Join(p, GatewayFile))
	if strings.TrimSpace(string(gw)) != a.Gateway {
		t.Fatalf("gateway file = %q", gw)
	}
	r.Close()
	for _, n := range []string{APIFile, GatewayFile, ListenFile} {
		if _, err := os.Stat(filepath.Join(p, n)); !os.IsNotExist(err) {
			t.Errorf("%s left behind after Close", n)
		}
	}
}

func TestDefaultPath(t *testing.T) {
	t.Setenv("COMMONS_REPO", "/some/where")
	if p, _ := DefaultPath(); p != "/some/where" {
		t.Fatalf("DefaultPath with COMMONS_REPO = %q", p)
	}
	t.Setenv("COMMONS_REPO", "")
	home, _ := os.UserHomeDir()
	if p, _ := DefaultPath(); p != filepath.Join(home, ".commons") {
		t.Fatalf("DefaultPath = %q", p)
	}
}

func TestOpenWaitOutlastsAShortHolder(t *testing.T) {
	p := initRepo(t)
	holder, err := Open(p)
	if err != nil {
		t.Fatal(err)
	}
	// The holder lets go a little later; whether OpenWait tries once or
	// many times before that, it must end up with the repo.
	released := make(chan struct{})
	time.AfterFunc(200*time.Millisecond, func() { holder.Close(); close(released) })
	r, err := OpenWait(context.Background(), p, 30*time.Second)
	if err != nil {
		t.Fatalf("OpenWait: %v", err)
	}
	<-released
	r.Close()

	holder, err = Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close()
	if _, err := OpenWait(context.Background(), p, 300*time.Millisecond); !errors.Is(err, ErrLocked) {
		t.Fatalf("OpenWait on a repo held throughout: %v; want ErrLocked", err)
	}
}

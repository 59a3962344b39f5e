package kubopeer

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestBinaryFromEnv(t *testing.T) {
	dir := t.TempDir()
	exe := filepath.Join(dir, "ipfs")
	if err := os.WriteFile(exe, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	plain := filepath.Join(dir, "plain")
	if err := os.WriteFile(plain, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		path    string
		wantErr string
	}{
		{"executable", exe, ""},
		{"missing", filepath.Join(dir, "nope"), "no such file"},
		{"directory", dir, "not a regular file"},
		{"not executable", plain, "not executable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv(EnvBinary, tt.path)
			got, err := Binary(t.Context())
			if tt.wantErr == "" {
				if err != nil || got != tt.path {
					t.Fatalf("Binary() = %q, %v; want %q, nil", got, err, tt.path)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) || !strings.Contains(err.Error(), EnvBinary) {
				t.Fatalf("Binary() = %q, %v; want error naming $%s and containing %q", got, err, EnvBinary, tt.wantErr)
			}
		})
	}
}

func TestCachedBinaryReusesExisting(t *testing.T) {
	dir := t.TempDir()
	bin := filepath.Join(dir, "ipfs")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	// A cancelled context makes any attempt to lock or build fail, so
	// success proves the cached file was used as is.
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	got, err := cachedBinary(ctx, dir)
	if err != nil || got != bin {
		t.Fatalf("cachedBinary() = %q, %v; want %q, nil", got, err, bin)
	}
}

func TestLockFileWaitsForHolder(t *testing.T) {
	lock := filepath.Join(t.TempDir(), ".lock")
	unlock, err := lockFile(t.Context(), lock)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*lockPoll)
	defer cancel()
	if _, err := lockFile(ctx, lock); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("second lockFile while held: err = %v, want deadline exceeded", err)
	}
	unlock()
	unlock2, err := lockFile(t.Context(), lock)
	if err != nil {
		t.Fatalf("lockFile after unlock: %v", err)
	}
	unlock2()
}

// TestModuleVersionMatches keeps Version and node/nodetest/kubo/go.mod in
// step.
func TestModuleVersionMatches(t *testing.T) {
	dir, err := kuboModuleDir()
	if err != nil {
		t.Fatal(err)
	}
	if err := checkModuleVersion(dir); err != nil {
		t.Fatal(err)
	}
}

func TestMultiaddrHostPort(t *testing.T) {
	tests := []struct {
		in, want string
		ok       bool
	}{
		{"/ip4/127.0.0.1/tcp/5001", "127.0.0.1:5001", true},
		{"/ip6/::1/tcp/5001", "[::1]:5001", true},
		{"/ip4/127.0.0.1/udp/5001/quic-v1", "", false},
		{"/dns4/localhost/tcp/5001", "", false},
		{"", "", false},
	}
	for _, tt := range tests {
		got, err := multiaddrHostPort(tt.in)
		if (err == nil) != tt.ok || got != tt.want {
			t.Errorf("multiaddrHostPort(%q) = %q, %v; want %q, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
	}
}

func TestExtractTarRejectsEscape(t *testing.T) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "root", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "root/../../evil", Typeflag: tar.TypeReg, Mode: 0o644},
	} {
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out")
	if err := extractTar(&buf, out); err == nil {
		t.Fatal("extractTar accepted an entry outside the root")
	}
	if _, err := os.Stat(filepath.Join(filepath.Dir(out), "evil")); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("escaping entry was written: stat err = %v", err)
	}
}

// writeTree creates a small bundle-like folder with a file large enough to
// span several chunks, and returns it. withEmpty adds an empty file.
func writeTree(t *testing.T, withEmpty bool) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "bundle")
	rng := rand.New(rand.NewPCG(1, 2))
	big := make([]byte, 700_000)
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	files := map[string][]byte{
		"README.md":         []byte("# Widget\nAn open-hardware widget.\n"),
		"cad/frame.step":    big,
		"cad/parts/bom.csv": []byte("part,qty\nscrew M3,4\n"),
	}
	if withEmpty {
		files["empty.txt"] = []byte{}
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// readTree maps each regular file under dir, by slash path, to its contents.
func readTree(t *testing.T, dir string) map[string][]byte {
	t.Helper()
	m := make(map[string][]byte)
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		b, err := os.ReadFile(p)
		m[filepath.ToSlash(rel)] = b
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return m
}

func equalTrees(t *testing.T, got, want map[string][]byte) {
	t.Helper()
	for name, w := range want {
		g, ok := got[name]
		if !ok {
			t.Errorf("missing %s", name)
		} else if !bytes.Equal(g, w) {
			t.Errorf("%s: got %d bytes, want %d bytes (contents differ)", name, len(g), len(w))
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			t.Errorf("unexpected %s", name)
		}
	}
}

func TestPeerAddCatGet(t *testing.T) {
	p := Start(t, Options{}) // may build Kubo first: start the clock after
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	if p.PeerID == "" || len(p.SwarmAddrs) == 0 || p.APIURL == "" || p.GatewayURL == "" {
		t.Fatalf("incomplete peer: %+v", p)
	}
	for _, a := range p.SwarmAddrs {
		if !strings.HasPrefix(a, "/ip4/127.0.0.1/tcp/") || !strings.HasSuffix(a, "/p2p/"+p.PeerID) {
			t.Errorf("swarm address %q is not loopback TCP ending in /p2p/%s", a, p.PeerID)
		}
	}
	ver, err := p.Run(ctx, "version", "--number")
	if err != nil {
		t.Fatal(err)
	}
	if got := "v" + strings.TrimSpace(string(ver)); got != Version {
		t.Errorf("daemon version %s, want %s", got, Version)
	}

	dir := writeTree(t, true)
	want := readTree(t, dir)
	cid, err := p.AddDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(cid, "bafy") {
		t.Errorf("AddDir returned %q, want a CIDv1 (bafy...)", cid)
	}
	for _, name := range []string{"README.md", "cad/frame.step", "empty.txt"} {
		got, err := p.Cat(ctx, cid+"/"+name)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want[name]) {
			t.Errorf("Cat %s: got %d bytes, want %d (contents differ)", name, len(got), len(want[name]))
		}
	}
	// Overriding a default flag must work (Kubo rejects a repeated option)
	// and must change the DAG.
	sized, err := p.AddDir(ctx, dir, "--chunker=size-1024")
	if err != nil {
		t.Fatal(err)
	}
	if sized == cid {
		t.Errorf("AddDir with --chunker=size-1024 gave the same CID %s as buzhash", cid)
	}
	if _, err := p.Cat(ctx, cid+"/no-such-file"); err == nil {
		t.Error("Cat of a missing path succeeded")
	}

	out := filepath.Join(t.TempDir(), "out")
	if err := p.Get(ctx, cid, out); err != nil {
		t.Fatal(err)
	}
	equalTrees(t, readTree(t, out), want)

	// The gateway serves the same bytes, so GatewayURL is right.
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.GatewayURL+"/ipfs/"+cid+"/cad/parts/bom.csv", nil)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || resp.StatusCode != http.StatusOK || !bytes.Equal(body, want["cad/parts/bom.csv"]) {
		t.Errorf("gateway GET: status %s, err %v, body %q", resp.Status, err, body)
	}

	if err := p.Stop(); err != nil {
		t.Errorf("Stop: %v", err)
	}
	if _, err := os.Stat(filepath.Join(p.Repo, "api")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("api file still present after Stop (err %v)", err)
	}
	if _, err := p.Peers(ctx); err == nil {
		t.Error("RPC API still answers after Stop")
	}
	if err := p.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
}

func TestTwoPeersPinOverNetwork(t *testing.T) {
	a := Start(t, Options{}) // may build Kubo first: start the clock after
	b := Start(t, Options{})
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()

	// No empty file here: with --raw-leaves it becomes the zero-length raw
	// block bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku,
	// which Kubo 0.43.1's bitswap server (boxo v0.43.0) only ever answers
	// with HAVE, never with the block, so fetching it hangs.
	dir := writeTree(t, false)
	want := readTree(t, dir)
	cid, err := a.AddDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	// b must not have the data yet, or the pin below would prove nothing.
	if _, err := b.Run(ctx, "block", "stat", "--offline", cid); err == nil {
		t.Fatalf("peer b already has %s before fetching", cid)
	}

	if err := b.SwarmConnect(ctx, a.SwarmAddrs[0]); err != nil {
		t.Fatal(err)
	}
	peers, err := b.Peers(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(peers, a.PeerID) {
		t.Fatalf("b's peers %v do not include a (%s)", peers, a.PeerID)
	}

	// TEST_DHT_STUB lets each into the other's WAN DHT table, which is the
	// table commons nodes (on loopback in tests) must reach.
	for _, pr := range []struct{ self, other *Peer }{{a, b}, {b, a}} {
		waitFor(ctx, t, "peer in WAN DHT table", func() (bool, error) {
			ids, err := pr.self.DHTPeers(ctx, "wan")
			return slices.Contains(ids, pr.other.PeerID), err
		})
	}
	// a provides what it added (a leaf, not just the root) into the DHT.
	refs, err := a.Run(ctx, "refs", "--offline", "-r", cid)
	if err != nil {
		t.Fatal(err)
	}
	leaves := strings.Fields(string(refs))
	if len(leaves) == 0 {
		t.Fatalf("no refs under %s", cid)
	}
	leaf := leaves[len(leaves)-1]
	waitFor(ctx, t, "a found as provider of "+leaf, func() (bool, error) {
		ids, err := b.FindProviders(ctx, leaf, 1)
		return slices.Contains(ids, a.PeerID), err
	})

	if err := b.PinAdd(ctx, cid); err != nil {
		t.Fatal(err)
	}
	pins, err := b.Run(ctx, "pin", "ls", "--type=recursive", "-q", cid)
	if err != nil || strings.TrimSpace(string(pins)) != cid {
		t.Fatalf("pin ls on b: %q, %v; want %s", pins, err, cid)
	}
	// Everything is local now: offline reads must work.
	got, err := b.Run(ctx, "cat", "--offline", cid+"/cad/frame.step")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want["cad/frame.step"]) {
		t.Errorf("offline cat on b: got %d bytes, want %d (contents differ)", len(got), len(want["cad/frame.step"]))
	}
	readme, err := b.Cat(ctx, cid+"/README.md")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(readme, want["README.md"]) {
		t.Errorf("Cat README.md on b = %q, want %q", readme, want["README.md"])
	}
	out := filepath.Join(t.TempDir(), "out")
	if err := b.Get(ctx, cid, out); err != nil {
		t.Fatal(err)
	}
	equalTrees(t, readTree(t, out), want)
}

// waitFor polls cond until it returns true, failing the test when ctx ends
// first. An error from cond is remembered for the failure message, not fatal.
func waitFor(ctx context.Context, t *testing.T, what string, cond func() (bool, error)) {
	t.Helper()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	var last error
	for {
		ok, err := cond()
		if ok {
			return
		}
		last = err
		select {
		case <-ctx.Done():
			t.Fatalf("waiting for %s: %v (last error: %v)", what, ctx.Err(), last)
		case <-tick.C:
		}
	}
}

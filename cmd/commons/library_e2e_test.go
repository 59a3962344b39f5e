package main

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/commons-p2p/commons/gateway/api"
)

func tcpAddr(t *testing.T, d *daemon) string {
	t.Helper()
	for _, l := range d.listen {
		if strings.Contains(l, "/tcp/") {
			return l
		}
	}
	t.Fatalf("daemon listens on no TCP address: %v", d.listen)
	return ""
}

func mirrorLib(t *testing.T, r *testRepo, name string) api.MirrorLibrary {
	t.Helper()
	st := decode[api.MirrorStatus](t, r.ok("mirror", "status", "--json"))
	for _, l := range st.Libraries {
		if l.Name == name {
			return l
		}
	}
	return api.MirrorLibrary{}
}

// TestE2EFollowMirror runs three daemons on loopback: A publishes, B
// follows A's library, C follows it too but is connected only to B (two
// hops from A). A publishes twice; `mirror status --json` on B and C shows
// both versions pinned; the time from each publish to C's pin is logged.
// Then the refusals, and unfollow.
func TestE2EFollowMirror(t *testing.T) {
	t.Parallel()
	a, b, c := newRepo(t, "publisher"), newRepo(t, "mirror"), newRepo(t, "village")
	da, db, dc := a.start(), b.start(), c.start()
	dir := filepath.Join(t.TempDir(), "cargo-bike")
	writeFiles(t, dir, map[string][]byte{
		"commons.toml":    []byte(e2eTOML),
		"instructions.md": []byte("# Build\n\n1. Cut the tubes.\n"),
		"bom.csv":         []byte("part,qty,unit cost,currency\nsteel tube,6,4.20,EUR\n"),
		"cad/frame.step":  []byte(strings.Repeat("frame geometry\n", 50000)),
	})
	v1 := a.publish(dir)
	lib := decode[api.LibraryInfo](t, a.ok("library", "--json"))
	if lib.Sequence != 1 || len(lib.Bundles) != 1 || !lib.Bundles[0].Root.Equals(v1.CID) {
		t.Fatalf("library after publish: %+v", lib)
	}
	if out := a.ok("library").stdout; !strings.Contains(out, "/ipns/"+lib.Name) || !strings.Contains(out, "cargo-bike") {
		t.Errorf("library output:\n%s", out)
	}

	b.ok("connect", tcpAddr(t, da))
	c.ok("connect", tcpAddr(t, db))
	b.ok("follow", lib.Name)
	c.ok("follow", "/ipns/"+lib.Name, "--latest")
	c.ok("follow", lib.Name) // again: the policy is replaced by "all"
	waitPinned := func(r *testRepo, v cid.Cid) time.Duration {
		t.Helper()
		start := time.Now()
		if !poll(120*time.Second, nil, func() bool { return r.pinned(v) }) {
			t.Fatalf("%s did not pin %s; mirror status:\n%s", filepath.Base(r.path), v, r.ok("mirror", "status").stdout)
		}
		return time.Since(start)
	}
	waitPinned(b, v1.CID)
	waitPinned(c, v1.CID)

	// Five more versions; each time from the publish's return to the pin
	// two hops away (C polls its pins through the CLI, which costs a few
	// milliseconds per look).
	var took []time.Duration
	var v2 api.PublishResult
	for i := 2; i <= 6; i++ {
		writeFiles(t, dir, map[string][]byte{"instructions.md": []byte(fmt.Sprintf("# Build\n\n1. Cut the tubes.\n2. Weld (version %d).\n", i))})
		v2 = a.publish(dir)
		took = append(took, waitPinned(c, v2.CID))
	}
	slices.Sort(took)
	t.Logf("publish -> pinned two hops away (real daemons, loopback TCP), 5 versions: median %s, min %s, max %s",
		took[2].Round(time.Millisecond), took[0].Round(time.Millisecond), took[4].Round(time.Millisecond))
	for _, r := range []*testRepo{b, c} {
		var st api.MirrorLibrary
		if !poll(30*time.Second, nil, func() bool {
			st = mirrorLib(t, r, lib.Name)
			return st.State == api.MirrorCurrent && st.Pinned == 6
		}) {
			t.Fatalf("%s mirror status: %+v", filepath.Base(r.path), st)
		}
		if st.Versions != 6 || st.Bundles != 1 || st.BytesToGo != 0 || st.Sequence != 6 || !st.Direct || st.Policy.Mode != "all" {
			t.Errorf("%s mirror status: %+v", filepath.Base(r.path), st)
		}
	}
	// C's gateway serves the library by name from its own copy.
	code, body := httpGet(t, dc.gateway+"/ipns/"+lib.Name+"/cargo-bike/instructions.md")
	if code != 200 || !strings.Contains(string(body), "2. Weld (version 6).") {
		t.Errorf("C's gateway /ipns/<library>/cargo-bike/instructions.md: %d %q", code, body)
	}
	if out := c.ok("mirror", "status").stdout; !strings.Contains(out, "current") || !strings.Contains(out, "6/6") {
		t.Errorf("mirror status (not a terminal, printed once):\n%s", out)
	}

	// Refusals.
	mustFail(t, c.run("follow", "example.org"), 4, "not a library name")
	mustFail(t, a.run("follow", lib.Name), 4, "own library")
	mustFail(t, c.run("follow", lib.Name, "--latest", "--quota", "1GiB"), 2, "exclude")
	mustFail(t, c.run("follow", lib.Name, "--quota", "lots"), 2, "not a size")

	// B's library includes A's; A cannot include its own.
	inc := decode[api.LibraryInfo](t, b.ok("library", "include", "--json", lib.Name))
	if len(inc.Includes) != 1 || inc.Includes[0] != lib.Name || inc.Sequence != 1 {
		t.Errorf("library include: %+v", inc)
	}
	mustFail(t, a.run("library", "include", lib.Name), 4, "own library")
	if exc := decode[api.LibraryInfo](t, b.ok("library", "exclude", "--json", lib.Name)); len(exc.Includes) != 0 || exc.Sequence != 2 {
		t.Errorf("library exclude: %+v", exc)
	}

	// Unfollow on B releases both versions; C still has them.
	un := decode[api.UnfollowResult](t, b.ok("unfollow", "--json", lib.Name))
	if un.Unpinned != 6 || un.Kept != 0 {
		t.Errorf("unfollow: %+v", un)
	}
	if b.pinned(v1.CID) || b.pinned(v2.CID) {
		t.Error("B still pins versions after unfollow")
	}
	mustFail(t, b.run("unfollow", lib.Name), 3, "does not follow")
	if !c.pinned(v2.CID) {
		t.Error("C lost version 2")
	}
}

// TestE2EMirrorKill9 kills a mirroring daemon with SIGKILL halfway through
// a large bundle: nothing of it is pinned or listed as done, a gc keeps
// what arrived, and the restarted daemon completes the mirror.
func TestE2EMirrorKill9(t *testing.T) {
	t.Parallel()
	a, b := newRepo(t, "publisher"), newRepo(t, "mirror")
	da := a.start()
	db := b.start()
	dir := filepath.Join(t.TempDir(), "tractor")
	cad := make([]byte, 160<<20)
	rng := rand.New(rand.NewPCG(5, 6))
	for i := 0; i < len(cad); i += 8 {
		binary.LittleEndian.PutUint64(cad[i:], rng.Uint64())
	}
	writeFiles(t, dir, map[string][]byte{
		"commons.toml":     []byte(strings.Replace(e2eTOML, "cargo-bike", "tractor", 1)),
		"instructions.md":  []byte("# Tractor\n"),
		"cad/chassis.step": cad,
	})
	v1 := a.publish(dir)
	lib := decode[api.LibraryInfo](t, a.ok("library", "--json"))
	b.ok("connect", tcpAddr(t, da))
	b.ok("follow", lib.Name)
	var st api.MirrorLibrary
	if !poll(120*time.Second, nil, func() bool {
		st = mirrorLib(t, b, lib.Name)
		return st.State == api.MirrorFetching && st.BytesToGo > 0 && st.BytesToGo < v1.Bytes*9/10
	}) {
		t.Fatalf("the mirror never got under way: %+v", st)
	}
	db.kill()

	// Offline, right after the crash: the version is not pinned, the
	// status says what is missing, and gc keeps the partial download.
	if b.pinned(v1.CID) {
		t.Fatal("a version half fetched is pinned after kill -9")
	}
	st = mirrorLib(t, b, lib.Name)
	if st.State != api.MirrorStopped || st.Pinned != 0 || st.Versions != 1 {
		t.Errorf("offline status after kill -9: %+v", st)
	}
	// Everything B stores is either pinned (the library's blocks) or the
	// partial version: gc must remove nothing.
	if gc := b.gc(); gc.Removed != 0 || gc.Kept < 10 {
		t.Errorf("gc after the crash removed blocks of the wanted version: %+v", gc)
	}
	d2 := b.start()
	b.ok("connect", tcpAddr(t, da))
	if !poll(180*time.Second, nil, func() bool { return b.pinned(v1.CID) }) {
		t.Fatalf("the restarted mirror did not complete:\n%s\n%s", b.ok("mirror", "status").stdout, d2.logTail(30))
	}
	out := filepath.Join(t.TempDir(), "copy")
	b.ok("get", v1.CID.String(), "-o", out)
	sameBundleTree(t, dir, out)
	// Every block the crashed and resumed mirror stores hashes right, and
	// every pin is complete.
	if v := decode[api.VerifyResult](t, b.ok("verify", "--json")); !v.OK || v.Blocks == 0 || v.Pins < 2 {
		t.Errorf("verify after the crash and resume: %+v", v)
	}
}

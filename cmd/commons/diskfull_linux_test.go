//go:build netlab

// The disk-full test: a repo on a small file system of its own (root only,
// like the other netlab tests: `make netlab` runs it, and `make test` when
// it runs as root, as CI does).

package main

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/commons-p2p/commons/gateway/api"
)

const mib = 1 << 20

// Sizes of the disk-full test. The repo's disk holds pebble's preallocated
// write-ahead log (35 MiB), the ballast, the reserve and everything the
// test stores, with room to spare; the operations are larger than one
// memtable (32 MiB), so that pebble rotates its log and flushes in the
// middle of them, which is when a full disk shows.
const (
	smallDiskSize  = 640 * mib
	testMinFree    = 96 * mib
	testBallast    = 64 * mib
	publishSize    = 64 * mib // P1: a bundle A publishes
	fetchSize      = 64 * mib // Q: a bundle A fetches from B
	carSize        = 96 * mib // C: a bundle A imports as a CAR
	diskFullWait   = 60 * time.Second
	smallDiskFiler = "filler"
)

// TestNetLabDiskFull runs the real daemon on a repo whose disk fills up:
// on a tmpfs and on a loop-mounted ext4 image. See docs/testing.md
// ("Disk full") for what each phase shows.
func TestNetLabDiskFull(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Fatal("the disk-full test needs root: it mounts small file systems (tmpfs, a loop-mounted ext4 image); run it as root, as CI does (make netlab)")
	}
	for _, kind := range []string{"tmpfs", "ext4"} {
		t.Run(kind, func(t *testing.T) { diskFull(t, kind) })
	}
}

func diskFull(t *testing.T, kind string) {
	disk := mountSmallDisk(t, kind, smallDiskSize)

	// B, on the ordinary disk, has what A will fetch and import.
	b := newRepo(t, "b")
	db := b.start()
	q := b.publish(sizedBundle(t, "fetched-q", fetchSize, 1))
	c := b.publish(sizedBundle(t, "imported-c", carSize, 2))
	carPath := filepath.Join(t.TempDir(), "c.car")
	b.ok("export", c.CID.String(), "-o", carPath)

	// A: a repo on the small disk, with a reserve and a ballast.
	a := repoAt(t, filepath.Join(disk.dir, "a"))
	a.setConfig("datastore", "min_free", fmt.Sprintf("%q", fmt.Sprintf("%dMiB", testMinFree/mib)))
	a.setConfig("datastore", "ballast", fmt.Sprintf("%q", fmt.Sprintf("%dMiB", testBallast/mib)))
	// startA starts A's daemon and connects it to B: the test profile
	// has no bootstrap peers, so a restarted A would not find B.
	startA := func(t *testing.T) *daemon {
		t.Helper()
		d := a.in(t).start()
		a.in(t).ok("connect", tcpAddr(t, db))
		return d
	}
	da := startA(t)
	p0dir := sizedBundle(t, "kept-p0", 1*mib, 3)
	p0 := a.publish(p0dir)
	p1dir := sizedBundle(t, "later-p1", publishSize, 4)
	ballast := filepath.Join(a.path, "datastore", "EMERGENCY_BALLAST")
	if st, err := os.Stat(ballast); err != nil || st.Size() != testBallast {
		t.Fatalf("no ballast of %d bytes in the store: %v", testBallast, err)
	}
	intact := func(t *testing.T, d *daemon) {
		t.Helper()
		want := mustRead(t, filepath.Join(p0dir, "instructions.md"))
		code, got := httpGet(t, d.gateway+"/ipfs/"+p0.CID.String()+"/instructions.md")
		if code != http.StatusOK || string(got) != string(want) {
			t.Fatalf("the gateway no longer serves what was published before: HTTP %d, %.80q", code, got)
		}
		if !a.in(t).pinned(p0.CID) {
			t.Fatal("the bundle published before is no longer pinned")
		}
	}
	t.Logf("%s of %d MiB: %.1f MiB free after setup (A holds P0, its ballast and pebble's log)", kind, smallDiskSize/mib, disk.freeMiB())

	t.Run("reserve refuses before writing", func(t *testing.T) {
		disk.leave(t, 80*mib)
		before := stateOf(t, a)
		for _, op := range [][]string{
			{"publish", p1dir},
			{"import", carPath},
			{"pin", "add", q.CID.String()},
		} {
			start := time.Now()
			r := a.in(t).run(op...)
			mustFail(t, r, exitNoSpace, "not enough disk space", "datastore.min_free", "free space", "move the repo")
			t.Logf("%s refused in %s with %.1f MiB free: %s", op[0], time.Since(start).Round(time.Millisecond), disk.freeMiB(), firstLine(r.stderr))
		}
		sameState(t, before, stateOf(t, a))
		if da.exited() {
			t.Fatal("the daemon stopped")
		}
		intact(t, da)
		m := scrape(t, http.DefaultClient, da.api)
		if m["commons_store_refusing_blocks"] != 1 || m["commons_store_min_free_bytes"] != testMinFree {
			t.Errorf("metrics: refusing %v, min_free %v", m["commons_store_refusing_blocks"], m["commons_store_min_free_bytes"])
		}

		// Above the reserve, but not by the CAR's size: refused once it is
		// checked, before a block is stored.
		disk.leave(t, testMinFree+24*mib)
		r := a.in(t).run("import", carPath)
		mustFail(t, r, exitNoSpace, "not enough disk space", fmt.Sprintf("this needs about %d.0 MiB", carSize/mib))
		sameState(t, before, stateOf(t, a))
	})

	t.Run("reserve reached during the operation", func(t *testing.T) {
		before := stateOf(t, a)
		for _, op := range [][]string{
			{"publish", p1dir},
			{"pin", "add", q.CID.String()},
		} {
			disk.leave(t, testMinFree+24*mib)
			r := a.in(t).run(op...)
			mustFail(t, r, exitNoSpace, "not enough disk space", "datastore.min_free")
			t.Logf("%s stopped at the reserve, %.1f MiB free: %s", op[0], disk.freeMiB(), firstLine(r.stderr))
			if da.exited() {
				t.Fatal("the daemon stopped")
			}
		}
		// Blocks were stored, unpinned: nothing is pinned or listed that
		// was not before, and the repo is whole.
		sameDone(t, before, stateOf(t, a))
		intact(t, da)
	})

	t.Run("restart while below the reserve", func(t *testing.T) {
		before := stateOf(t, a)
		if code := da.stop(); code != 0 {
			t.Fatalf("the daemon stopped with exit code %d", code)
		}
		verifyOffline(t, a)
		da = startA(t)
		sameDone(t, before, stateOf(t, a))
		intact(t, da)
		mustFail(t, a.in(t).run("publish", p1dir), exitNoSpace, "not enough disk space")
		if _, err := os.Stat(ballast); err != nil {
			t.Fatalf("the ballast is gone though the disk never ran out: %v", err)
		}
	})

	t.Run("the disk runs out", func(t *testing.T) {
		// No reserve: only the disk itself says no.
		if code := da.stop(); code != 0 {
			t.Fatalf("the daemon stopped with exit code %d", code)
		}
		a.in(t).setConfig("datastore", "min_free", `"0"`)
		da = startA(t)
		// What the failures above left (unpinned blocks) goes, so that
		// each operation below writes all it has.
		a.in(t).gc()
		before := stateOf(t, a)
		ops := []struct {
			args    []string
			leave   int64
			restart bool
		}{
			{args: []string{"publish", p1dir}, leave: 4 * mib},
			// The CAR's size is known before it is stored: leave room
			// for its blocks, not for pebble's log and the flushes of
			// them. Where pebble runs out then depends on the state of
			// its log, so the daemon starts afresh first: it runs out
			// at the same batch every time (six runs by hand).
			{args: []string{"import", carPath}, leave: carSize + mib, restart: true},
			{args: []string{"pin", "add", q.CID.String()}, leave: 4 * mib},
		}
		for i, op := range ops {
			if op.restart {
				if code := da.stop(); code != 0 {
					t.Fatalf("the daemon stopped with exit code %d", code)
				}
				da = startA(t)
			}
			disk.leave(t, op.leave)
			r := a.in(t).run(op.args...)
			mustFail(t, r, exitNoSpace, "not enough disk space", "ran out of space", "gave up its emergency reserve", "free space")
			t.Logf("%s with %d MiB free: %s", op.args[0], op.leave/mib, firstLine(r.stderr))
			if da.exited() {
				t.Fatalf("the daemon stopped (exit code %d)", da.exitCode())
			}
			if _, err := os.Stat(ballast); err == nil {
				t.Fatal("the ballast is still there after the disk ran out")
			}
			if !strings.Contains(da.logTail(400), "the store takes no new blocks") {
				t.Error("the daemon did not log that the store takes no new blocks")
			}
			intact(t, da)
			sameDone(t, before, stateOf(t, a))
			if i == len(ops)-1 {
				break // the next phase restarts it while the disk is full
			}
			// Space comes back: the store makes its ballast again and
			// takes blocks, with no command needed to notice.
			disk.leave(t, 0)
			if !poll(diskFullWait, da.done, func() bool {
				m := scrape(t, http.DefaultClient, da.api)
				return m["commons_store_refusing_blocks"] == 0 && m["commons_store_ballast_bytes"] == testBallast
			}) {
				t.Fatalf("the store did not take blocks again within %s of the filler's removal", diskFullWait)
			}
		}
	})

	t.Run("restart while full", func(t *testing.T) {
		before := stateOf(t, a)
		// As the disk ran out: whether the store then has room to replay
		// its log, or opens read-only, depends on how far pebble got.
		t.Logf("%.1f MiB free after the disk ran out", disk.freeMiB())
		restart := func(t *testing.T, leave int64) {
			t.Helper()
			if code := da.stop(); code != 0 {
				t.Fatalf("the daemon stopped with exit code %d", code)
			}
			verifyOffline(t, a)
			if leave > 0 {
				// After the stop: pebble gives its old logs' space
				// back when it closes and opens.
				disk.leave(t, leave)
			}
			da = startA(t)
			sameDone(t, before, stateOf(t, a))
			intact(t, da)
		}
		restart(t, 0)
		// Room to open for writing but, even if pebble gives back the
		// space of its old logs, not for a ballast: the store takes no
		// blocks.
		restart(t, 16*mib)
		mustFail(t, a.in(t).run("publish", p1dir), exitNoSpace, "not enough disk space", "emergency reserve")
		if code := da.stop(); code != 0 {
			t.Fatalf("the daemon stopped with exit code %d", code)
		}

		// No room even to replay the log: the store opens read-only.
		disk.leave(t, mib)
		verifyOffline(t, a)
		mustFail(t, a.in(t).run("publish", p1dir), exitNoSpace, "read-only", "free space")
		da = startA(t)
		intact(t, da)
		sameDone(t, before, stateOf(t, a))
		mustFail(t, a.in(t).run("publish", p1dir), exitNoSpace, "read-only")
		if code := da.stop(); code != 0 {
			t.Fatalf("the daemon stopped with exit code %d", code)
		}
	})

	t.Run("space freed", func(t *testing.T) {
		disk.leave(t, 0)
		a.in(t).setConfig("datastore", "min_free", fmt.Sprintf("%q", fmt.Sprintf("%dMiB", testMinFree/mib)))
		da = startA(t)
		p1 := a.in(t).publish(p1dir)
		imp := decode[api.ImportResult](t, a.in(t).ok("import", "--json", carPath))
		a.in(t).ok("pin", "add", q.CID.String())
		for _, want := range []struct {
			name string
			got  bool
		}{
			{"P1", a.in(t).pinned(p1.CID)},
			{"the CAR's root", len(imp.Roots) == 1 && imp.Roots[0].Equals(c.CID) && a.in(t).pinned(c.CID)},
			{"Q", a.in(t).pinned(q.CID)},
		} {
			if !want.got {
				t.Errorf("%s is not pinned after the operation was done again", want.name)
			}
		}
		intact(t, da)
		st := stateOf(t, a)
		if st := decode[api.VerifyResult](t, a.in(t).ok("verify", "--json")); !st.OK {
			t.Fatalf("verify: %+v", st)
		}
		if _, err := os.Stat(ballast); err != nil {
			t.Fatalf("the ballast was not made again: %v", err)
		}
		gc := a.in(t).gc()
		t.Logf("done again; %d blocks, %d pins; gc removed %d blocks; %.1f MiB free", st.blocks, len(st.pins), gc.Removed, disk.freeMiB())
	})
}

// smallDisk is a file system of its own for a test, with a filler file
// that takes the space the test wants taken.
type smallDisk struct {
	dir string
}

// mountSmallDisk mounts a file system of size bytes (kind tmpfs, or ext4
// on a loop device backed by a sparse image in the test's temp dir) and
// unmounts it at cleanup, after every daemon on it stopped (cleanups run
// in reverse).
func mountSmallDisk(t *testing.T, kind string, size int64) *smallDisk {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mnt")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	run := func(name string, args ...string) {
		t.Helper()
		if out, err := exec.Command(name, args...).CombinedOutput(); err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
	}
	switch kind {
	case "tmpfs":
		run("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d,mode=0755", size), "tmpfs", dir)
	case "ext4":
		img := filepath.Join(t.TempDir(), "disk.img")
		if err := os.WriteFile(img, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		if err := os.Truncate(img, size); err != nil {
			t.Fatal(err)
		}
		// -m 0: no blocks reserved for root. The daemon runs as root
		// here, and would write into them after statfs said the disk
		// was full for everyone else.
		run("mkfs.ext4", "-q", "-F", "-m", "0", img)
		run("mount", "-o", "loop", img, dir)
	default:
		t.Fatalf("unknown file system %q", kind)
	}
	t.Cleanup(func() {
		if out, err := exec.Command("umount", dir).CombinedOutput(); err != nil {
			t.Errorf("umount %s: %v\n%s", dir, err, out)
			_ = exec.Command("umount", "-l", dir).Run()
		}
	})
	return &smallDisk{dir: dir}
}

func (d *smallDisk) free(t *testing.T) int64 {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(d.dir, &st); err != nil {
		t.Fatal(err)
	}
	return int64(st.Bavail) * int64(st.Bsize)
}

func (d *smallDisk) freeMiB() float64 {
	var st syscall.Statfs_t
	if syscall.Statfs(d.dir, &st) != nil {
		return -1
	}
	return float64(int64(st.Bavail)*int64(st.Bsize)) / mib
}

// leave grows or shrinks the filler so that about n bytes are free (0:
// removes the filler). The filler's blocks are allocated (fallocate), as
// another program's data would be, without writing them.
func (d *smallDisk) leave(t *testing.T, n int64) {
	t.Helper()
	name := filepath.Join(d.dir, smallDiskFiler)
	if n == 0 {
		if err := os.Remove(name); err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		return
	}
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	// A few rounds: on ext4 allocating also takes metadata blocks.
	for range 4 {
		st, err := f.Stat()
		if err != nil {
			t.Fatal(err)
		}
		free := d.free(t)
		switch delta := free - n; {
		case delta > 64<<10:
			if err := syscall.Fallocate(int(f.Fd()), 0, st.Size(), delta); err != nil {
				t.Fatalf("fill %s with %d bytes: %v", d.dir, delta, err)
			}
		case delta < -(64 << 10):
			if err := f.Truncate(max(0, st.Size()+delta)); err != nil {
				t.Fatal(err)
			}
		default:
			return
		}
	}
	if free := d.free(t); free > n+mib || free < n-mib {
		t.Fatalf("wanted %d MiB free on %s, have %.1f MiB", n/mib, d.dir, float64(free)/mib)
	}
}

// repoAt runs `commons init --profile test` for a repo at path.
func repoAt(t *testing.T, path string) *testRepo {
	t.Helper()
	r := mustOK(t, runCommons(t, filepath.Dir(path), "--repo", path, "init", "--profile", "test", "--json"))
	out := decode[struct {
		PeerID string `json:"peer_id"`
	}](t, r)
	return &testRepo{t: t, path: path, peerID: out.PeerID}
}

// sizedBundle writes a design bundle whose CAD file is size bytes of
// seeded random data (no two seeds share a block).
func sizedBundle(t *testing.T, name string, size int64, seed uint64) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	rng := rand.New(rand.NewPCG(seed, 77))
	data := make([]byte, size)
	for i := 0; i+8 <= len(data); i += 8 {
		binary.LittleEndian.PutUint64(data[i:], rng.Uint64())
	}
	writeFiles(t, dir, map[string][]byte{
		"commons.toml":    []byte(strings.Replace(e2eTOML, "cargo-bike", name, 1)),
		"instructions.md": fmt.Appendf(nil, "# %s\n\nCut, weld, paint.\n", name),
		"bom.csv":         []byte("part,qty\ntube,6\n"),
		"cad/frame.step":  data,
	})
	return dir
}

// repoState is what a repo reports as done: its pins, its bundles, and
// the number of blocks stored (from `verify`, which must pass).
type repoState struct {
	pins    []string
	bundles string
	blocks  int64
}

func stateOf(t *testing.T, r *testRepo) repoState {
	t.Helper()
	r = r.in(t)
	v := decode[api.VerifyResult](t, r.ok("verify", "--json"))
	if !v.OK {
		t.Fatalf("verify: the repo is not whole: %+v", v)
	}
	var pins []string
	for _, p := range r.pins() {
		pins = append(pins, p.CID.String()+" "+p.Type+" "+p.Name)
	}
	slices.Sort(pins)
	return repoState{pins: pins, bundles: r.ok("bundles", "--json").stdout, blocks: v.Blocks}
}

// sameState fails unless nothing changed at all: not a block stored.
func sameState(t *testing.T, before, after repoState) {
	t.Helper()
	sameDone(t, before, after)
	if before.blocks != after.blocks {
		t.Errorf("blocks stored: %d before, %d after", before.blocks, after.blocks)
	}
}

// sameDone fails unless what is reported as done (pins, bundles) is the
// same; blocks of a failed operation may be stored, unpinned, for gc.
func sameDone(t *testing.T, before, after repoState) {
	t.Helper()
	if !slices.Equal(before.pins, after.pins) {
		t.Errorf("pins changed:\nbefore %q\nafter  %q", before.pins, after.pins)
	}
	if before.bundles != after.bundles {
		t.Errorf("bundles changed:\nbefore %s\nafter  %s", before.bundles, after.bundles)
	}
}

// verifyOffline runs `commons verify` with no daemon: the repo opened by
// the CLI itself.
func verifyOffline(t *testing.T, r *testRepo) {
	t.Helper()
	if v := decode[api.VerifyResult](t, r.in(t).ok("verify", "--json")); !v.OK {
		t.Fatalf("verify: %+v", v)
	}
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}

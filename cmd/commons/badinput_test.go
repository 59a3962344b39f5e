package main

// Bad input given to the real binary. Every refusal is checked twice: the
// exit code and message, and that nothing changed (no pin, no block stored,
// no file written).

import (
	"encoding/binary"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ipfs/go-cid"
)

// TestE2EBadInput runs every refusal against a repo opened directly and
// against a daemon.
func TestE2EBadInput(t *testing.T) {
	t.Parallel()
	cars := makeCARs(t)
	for _, mode := range []string{"offline", "daemon"} {
		t.Run(mode, func(t *testing.T) {
			t.Parallel()
			r := newRepo(t, "bad")
			r.setConfig("fetch", "timeout", `"2s"`)
			if mode == "daemon" {
				r.start()
			}
			nothingStored(t, r)
			// refused runs a case, then checks the repo is still empty.
			refused := func(name string, f func(t *testing.T, r *testRepo)) {
				t.Run(name, func(t *testing.T) {
					r := r.in(t)
					f(t, r)
					nothingStored(t, r)
				})
			}

			refused("publish symlink to /etc/passwd", func(t *testing.T, r *testRepo) {
				dir := t.TempDir()
				writeFile(t, filepath.Join(dir, "notes.txt"), "hello")
				symlink(t, "/etc/passwd", filepath.Join(dir, "passwd-link"))
				publishRefused(t, r, dir, "passwd-link", "/etc/passwd")
			})
			refused("publish FIFO", func(t *testing.T, r *testRepo) {
				dir := t.TempDir()
				writeFile(t, filepath.Join(dir, "notes.txt"), "hello")
				if err := syscall.Mkfifo(filepath.Join(dir, "loudpipe"), 0o644); err != nil {
					t.Fatal(err)
				}
				publishRefused(t, r, dir, "loudpipe")
			})
			refused("publish symlink escaping with ../", func(t *testing.T, r *testRepo) {
				base := t.TempDir()
				writeFile(t, filepath.Join(base, "secret"), "not for sharing")
				dir := filepath.Join(base, "bundle")
				writeFile(t, filepath.Join(dir, "sub", "notes.txt"), "hello")
				symlink(t, "../../secret", filepath.Join(dir, "sub", "escape"))
				publishRefused(t, r, dir, "escape", "outside")
			})
			refused("publish symlink escaping through a sibling", func(t *testing.T, r *testRepo) {
				base := t.TempDir()
				writeFile(t, filepath.Join(base, "bundle-private", "key"), "not for sharing")
				dir := filepath.Join(base, "bundle")
				writeFile(t, filepath.Join(dir, "notes.txt"), "hello")
				symlink(t, "../bundle-private/key", filepath.Join(dir, "sneaky"))
				publishRefused(t, r, dir, "sneaky", "outside")
			})
			refused("publish missing folder", func(t *testing.T, r *testRepo) {
				mustFail(t, r.run("publish", filepath.Join(t.TempDir(), "nothing-here")), 4, "nothing-here")
			})

			refused("cat notacid", func(t *testing.T, r *testRepo) {
				mustFail(t, r.run("cat", "notacid"), 4, "notacid", "not a CID")
			})
			refused("pin add notacid", func(t *testing.T, r *testRepo) {
				mustFail(t, r.run("pin", "add", "notacid"), 4, "notacid", "not a CID")
			})
			refused("pin rm notacid", func(t *testing.T, r *testRepo) {
				mustFail(t, r.run("pin", "rm", "notacid"), 4, "notacid", "not a CID")
			})
			refused("ls /ipfs/xyz", func(t *testing.T, r *testRepo) {
				mustFail(t, r.run("ls", "/ipfs/xyz"), 4, "/ipfs/xyz", "not a CID")
			})
			refused("export notacid", func(t *testing.T, r *testRepo) {
				car := filepath.Join(t.TempDir(), "x.car")
				mustFail(t, r.run("export", "notacid", "-o", car), 4, "notacid")
				noFile(t, car)
			})
			refused("get notacid", func(t *testing.T, r *testRepo) {
				out := filepath.Join(t.TempDir(), "out")
				mustFail(t, r.run("get", "notacid", "-o", out), 4, "notacid")
				noFile(t, out)
			})
			refused("cat a path that is not in the DAG", func(t *testing.T, r *testRepo) {
				mustFail(t, r.run("cat", cars.root.String()+"/../../etc/passwd"), 4)
			})

			for _, bc := range cars.bad {
				refused("import "+bc.name, func(t *testing.T, r *testRepo) {
					mustFail(t, r.run("import", bc.path), 4, append([]string{filepath.Base(bc.path)}, bc.why...)...)
				})
			}
			refused("import from stdin", func(t *testing.T, r *testRepo) {
				// Same checks when the CAR arrives on standard input.
				f, err := os.Open(cars.bad[0].path)
				if err != nil {
					t.Fatal(err)
				}
				defer f.Close()
				res := runCommonsStdin(t, filepath.Dir(r.path), f, "--repo", r.path, "import", "-")
				mustFail(t, res, 4, cars.bad[0].why...)
			})

			refused("CID nobody has", func(t *testing.T, r *testRepo) {
				absent := absentCID(t).String()
				if mode == "offline" {
					mustFail(t, r.run("pin", "add", absent), 6, "commons daemon")
					mustFail(t, r.run("cat", absent), 6, "commons daemon")
					return
				}
				// fetch.timeout is 2s; the command's own deadline is far
				// longer, so it must end by itself with not-found.
				mustFail(t, r.run("pin", "add", absent), 3, "no peer", absent)
				mustFail(t, r.run("cat", absent), 3, "no peer")
				out := filepath.Join(t.TempDir(), "out")
				mustFail(t, r.run("get", absent, "-o", out), 3, "no peer")
				noFile(t, out)
			})
			refused("pin rm of what is not pinned", func(t *testing.T, r *testRepo) {
				mustFail(t, r.run("pin", "rm", absentCID(t).String()), 3, "not pinned")
			})

			// The control: the same repo does store a good CAR, so the
			// checks above could have seen something stored.
			t.Run("import a good CAR", func(t *testing.T) {
				r := r.in(t)
				if res := r.ok("import", cars.good); !strings.Contains(res.stdout, "pinned "+cars.root.String()) {
					t.Errorf("import of the good CAR:\n%s", res)
				}
				if gc := r.gc(); gc.Kept == 0 || gc.Removed != 0 {
					t.Errorf("gc after a good import: %+v", gc)
				}
			})
		})
	}
}

// TestE2EUsageErrors: a wrong command line exits 2 and changes nothing.
func TestE2EUsageErrors(t *testing.T) {
	t.Parallel()
	r := newRepo(t, "usage")
	c := absentCID(t).String()
	for _, args := range [][]string{
		{"pin", "ls", "--bogus"},
		{"--bogus", "pin", "ls"},
		{"publish"},
		{"publish", "a", "b"},
		{"cat"},
		{"pin", "add"},
		{"pin", "frob"},
		{"get", c, "--output"},
		{"export", c},
		{"daemon", "--log-level", "loud"},
		{"init", "--profile", "nope"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			r := r.in(t)
			mustFail(t, r.run(args...), 2, "commons")
			nothingStored(t, r)
		})
	}
	// A usage error is found before the repo is touched.
	missing := filepath.Join(t.TempDir(), "missing")
	mustFail(t, runCommons(t, filepath.Dir(missing), "--repo", missing, "pin", "ls", "--bogus"), 2, "--bogus")
	noFile(t, missing)
}

// TestE2EUnknownCommand: `commons help` documents exit code 2 for an
// unknown command. It fails until the product bug in the e2e report is
// fixed: cobra's "unknown command" error is not a usageError, so it exits 1.
func TestE2EUnknownCommand(t *testing.T) {
	t.Parallel()
	r := newRepo(t, "unknown")
	mustFail(t, r.run("frobnicate"), 2, "unknown command", "frobnicate")
	mustFail(t, runCommons(t, t.TempDir(), "frobnicate"), 2, "unknown command")
}

// nothingStored checks that the repo has no pin and no block.
func nothingStored(t *testing.T, r *testRepo) {
	t.Helper()
	if pins := r.pins(); len(pins) != 0 {
		t.Errorf("pin ls --json = %+v; want nothing pinned", pins)
	}
	if gc := r.gc(); gc.Removed != 0 || gc.Kept != 0 {
		t.Errorf("gc = %+v; want no block stored (0 removed, 0 kept)", gc)
	}
}

// publishRefused checks that publishing dir exits 4 with a message
// mentioning msgs, and leaves dir as it was.
func publishRefused(t *testing.T, r *testRepo, dir string, msgs ...string) {
	t.Helper()
	before := treeOf(t, dir)
	mustFail(t, r.run("publish", dir), 4, msgs...)
	mustFail(t, r.run("publish", "--json", dir), 4, msgs...)
	if after := treeOf(t, dir); !maps.Equal(before, after) {
		t.Errorf("a refused publish changed %s", dir)
	}
}

func writeFile(t *testing.T, name, data string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

func symlink(t *testing.T, target, name string) {
	t.Helper()
	if err := os.Symlink(target, name); err != nil {
		t.Fatal(err)
	}
}

func noFile(t *testing.T, name string) {
	t.Helper()
	if _, err := os.Lstat(name); err == nil {
		t.Errorf("%s was written", name)
	}
}

// badCAR is a damaged or foreign CAR and the words its refusal must use.
type badCAR struct {
	name string
	path string
	why  []string
}

// testCARs are the CAR files the bad-input tests import.
type testCARs struct {
	root cid.Cid
	good string // a real export of the demo bundle
	bad  []badCAR
}

// makeCARs exports the demo bundle from a scratch repo and derives damaged
// and foreign CARs from it.
func makeCARs(t *testing.T) testCARs {
	t.Helper()
	dir := t.TempDir()
	scratch := newRepo(t, "car-source")
	root := scratch.publish(demoBundle(t)).CID
	good := filepath.Join(dir, "good.car")
	scratch.ok("export", root.String(), "-o", good)
	b := mustRead(t, good)
	hdr, secs := parseCARv1(t, b)
	if len(secs) < 3 {
		t.Fatalf("the export has %d blocks; want several", len(secs))
	}
	// The header encoder below must give the exporter's bytes for the same
	// root, or the foreign-root CAR would test the encoder, not import.
	if got := carV1Header(root); string(got) != string(b[:hdr]) {
		t.Fatalf("carV1Header(%s) = %x, the export's header is %x", root, got, b[:hdr])
	}
	if !secs[0].c.Equals(root) {
		t.Fatalf("the export's first block is %s, want the root %s", secs[0].c, root)
	}
	// The largest block: a raw leaf with file bytes in it.
	big := secs[0]
	for _, s := range secs {
		if s.end-s.data > big.end-big.data {
			big = s
		}
	}
	last := secs[len(secs)-1]
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}

	var bad []badCAR
	add := func(name, file string, data []byte, why ...string) {
		bad = append(bad, badCAR{name: name, path: write(file, data), why: why})
	}
	add("truncated", "truncated.car", b[:last.data+(last.end-last.data)/2], "truncated")
	add("truncated after the header", "header-only.car", b[:hdr], "root")

	flipped := append([]byte(nil), b...)
	flipped[big.data+(big.end-big.data)/2] ^= 0x01
	add("one flipped byte in a block", "flipped.car", flipped, big.c.String(), "corrupt")

	noise := make([]byte, 4096)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range noise {
		noise[i] = byte(rng.Uint32())
	}
	add("random bytes", "random.car", noise, "CAR header")

	absent := absentCID(t)
	foreign := append(carV1Header(absent), b[hdr:]...)
	add("header root not in the file", "foreign-root.car", foreign, absent.String())

	// Drop a block the root links to: the DAG is incomplete.
	var missing []byte
	dropped := secs[1]
	missing = append(missing, b[:dropped.start]...)
	missing = append(missing, b[dropped.end:]...)
	add("a block missing", "missing-block.car", missing, dropped.c.String())

	return testCARs{root: root, good: good, bad: bad}
}

// carSection is one block of a CARv1: bytes [start, end) of the file hold
// its length prefix, CID and data; the data starts at data.
type carSection struct {
	start, data, end int
	c                cid.Cid
}

// parseCARv1 returns the header's length (with its length prefix) and the
// sections of a CARv1.
func parseCARv1(t *testing.T, b []byte) (int, []carSection) {
	t.Helper()
	n, k := binary.Uvarint(b)
	if k <= 0 || int(n) > len(b)-k {
		t.Fatalf("not a CARv1: bad header length")
	}
	hdr := k + int(n)
	var secs []carSection
	for pos := hdr; pos < len(b); {
		n, k := binary.Uvarint(b[pos:])
		if k <= 0 || int(n) > len(b)-pos-k {
			t.Fatalf("not a CARv1: bad section length at byte %d", pos)
		}
		body := b[pos+k : pos+k+int(n)]
		cl, c, err := cid.CidFromBytes(body)
		if err != nil {
			t.Fatalf("CARv1 section at byte %d: %v", pos, err)
		}
		secs = append(secs, carSection{start: pos, data: pos + k + cl, end: pos + k + int(n), c: c})
		pos += k + int(n)
	}
	return hdr, secs
}

// carV1Header encodes a CARv1 header with one root, as the length-prefixed
// DAG-CBOR map {"roots": [root], "version": 1}, keys in DAG-CBOR order.
func carV1Header(root cid.Cid) []byte {
	link := append([]byte{0}, root.Bytes()...) // tag 42 holds 0x00 + the CID
	var h []byte
	h = append(h, 0xa2)             // map(2)
	h = append(h, 0x65)             // text(5)
	h = append(h, "roots"...)       //
	h = append(h, 0x81, 0xd8, 0x2a) // array(1), tag(42)
	switch {
	case len(link) < 24:
		h = append(h, 0x40|byte(len(link)))
	case len(link) < 256:
		h = append(h, 0x58, byte(len(link)))
	default:
		h = append(h, 0x59, byte(len(link)>>8), byte(len(link)))
	}
	h = append(h, link...)
	h = append(h, 0x67) // text(7)
	h = append(h, "version"...)
	h = append(h, 0x01)
	return append(binary.AppendUvarint(nil, uint64(len(h))), h...)
}

// TestE2EMissingPath asks for names that are not in a bundle the repo has.
// That is content not found (exit 3, naming what is missing), not an
// unclassified error; node.resolve already means to say so for one case. It
// fails until the product bug in the e2e report is fixed: boxo's
// resolver.ErrNoLink and ipld-prime's wrong-kind error reach the user
// unwrapped, so these exit 1 with library messages.
func TestE2EMissingPath(t *testing.T) {
	t.Parallel()
	r := newRepo(t, "paths")
	root := r.publish(demoBundle(t)).CID.String()
	check := func(t *testing.T, r *testRepo) {
		mustFail(t, r.run("cat", root+"/nope.txt"), 3, "nope.txt")
		mustFail(t, r.run("ls", root+"/cad/nope"), 3, "nope")
		mustFail(t, r.run("cat", root+"/bom.csv/inside-a-file"), 3, "inside-a-file")
		out := filepath.Join(t.TempDir(), "out")
		mustFail(t, r.run("get", root+"/nope", "-o", out), 3, "nope")
		noFile(t, out)
		car := filepath.Join(t.TempDir(), "x.car")
		mustFail(t, r.run("export", root+"/nope", "-o", car), 3, "nope")
		noFile(t, car)
	}
	t.Run("offline", func(t *testing.T) { check(t, r.in(t)) })
	t.Run("daemon", func(t *testing.T) {
		r := r.in(t)
		r.start()
		check(t, r)
	})
}

package main

import (
	"bytes"
	"encoding/binary"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	"github.com/multiformats/go-varint"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/pkg/sneakernet"
)

// TestE2ESneakernet carries a library between two repos that have no
// network between them, through the binary: the village follows it
// offline and writes a have-file; the publisher exports what it lacks;
// the village imports it. Damaged and foreign CARs exit 4 and change
// nothing; an update travels as a delta into the village's running
// daemon; a partial export exits 8 and still imports.
func TestE2ESneakernet(t *testing.T) {
	t.Parallel()
	a, b := newRepo(t, "publisher"), newRepo(t, "village")
	work := t.TempDir()
	at := func(name string) string { return filepath.Join(work, name) }
	dir := at("cargo-bike")
	cad := make([]byte, 6<<20)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := 0; i < len(cad); i += 8 {
		binary.LittleEndian.PutUint64(cad[i:], rng.Uint64())
	}
	writeFiles(t, dir, map[string][]byte{
		"commons.toml":    []byte(e2eTOML),
		"instructions.md": []byte("# Build\n\n1. Cut the tubes.\n"),
		"cad/frame.step":  cad,
	})
	v1 := a.publish(dir)
	lib := decode[api.LibraryInfo](t, a.ok("library", "--json"))

	// The village follows offline and says what it holds: nothing yet.
	b.ok("follow", lib.Name)
	sum := decode[struct {
		Libraries []struct {
			Name     string `json:"name"`
			Sequence int64  `json:"sequence"`
			Versions int    `json:"versions"`
		} `json:"libraries"`
	}](t, b.ok("have", "-o", at("have.file"), "--json"))
	if len(sum.Libraries) != 1 || sum.Libraries[0].Name != lib.Name || sum.Libraries[0].Sequence != 0 {
		t.Fatalf("have --json: %+v", sum)
	}
	// To standard output (not a terminal here), the same format.
	if _, err := sneakernet.DecodeHave([]byte(b.ok("have").stdout)); err != nil {
		t.Fatalf("have to standard output: %v", err)
	}

	res := decode[api.LibraryExportResult](t, a.ok("export", "--for", at("have.file"), "-o", at("first.car"), "--json"))
	if res.Missing != 0 || len(res.Libraries) != 1 || res.Libraries[0].Versions != 1 || !res.Libraries[0].Included {
		t.Fatalf("export --for: %+v", res)
	}
	first := mustRead(t, at("first.car"))

	// Damaged and foreign files: exit 4, nothing changes.
	bad := func(name string, data []byte) string {
		if err := os.WriteFile(at(name), data, 0o644); err != nil {
			t.Fatal(err)
		}
		return at(name)
	}
	flipped := bytes.Clone(first)
	flipped[len(flipped)-1] ^= 0x20
	stray := []byte("a block no manifest lists")
	h, _ := mh.Sum(stray, mh.SHA2_256, -1)
	sc := cid.NewCidV1(cid.Raw, h)
	section := append(varint.ToUvarint(uint64(len(sc.Bytes())+len(stray))), append(sc.Bytes(), stray...)...)
	pinsBefore := b.pins()
	mustFail(t, b.run("import", bad("flipped.car", flipped)), 4, "corrupt")
	mustFail(t, b.run("import", bad("cut.car", first[:len(first)*2/3])), 4, "truncated")
	mustFail(t, b.run("import", bad("foreign.car", append(bytes.Clone(first), section...))), 4, "foreign")
	if got := b.pins(); len(got) != len(pinsBefore) {
		t.Fatalf("a refused import changed the pins: %v -> %v", pinsBefore, got)
	}
	if gc := b.gc(); gc.Removed != 0 {
		t.Fatalf("a refused import left %d blocks behind", gc.Removed)
	}

	out := b.ok("import", at("first.car")).stdout
	if !strings.Contains(out, "1 versions pinned") || !strings.Contains(out, "record 1 taken") {
		t.Errorf("import output:\n%s", out)
	}
	st := mirrorLib(t, b, lib.Name)
	if st.Pinned != 1 || st.Versions != 1 || st.Sequence != 1 || st.State != api.MirrorCurrent {
		t.Fatalf("mirror status after the import: %+v", st)
	}
	b.ok("verify")

	// An update, carried into the village's running daemon.
	writeFiles(t, dir, map[string][]byte{"instructions.md": []byte("# Build\n\n1. Cut the tubes.\n2. Weld.\n")})
	v2 := a.publish(dir)
	b.start()
	b.ok("have", "-o", at("have2.file"))
	a.ok("export", "--for", at("have2.file"), "-o", at("delta.car"))
	a.ok("export", "--libraries", "-o", at("full.car"))
	ds, fs := len(mustRead(t, at("delta.car"))), len(mustRead(t, at("full.car")))
	t.Logf("one-version update (instructions edited, 6 MiB CAD file unchanged): delta CAR %d bytes, full CAR %d bytes", ds, fs)
	if ds*10 > fs {
		t.Errorf("delta %d bytes, full %d bytes", ds, fs)
	}
	imp := decode[api.ImportResult](t, b.ok("import", "--json", at("delta.car")))
	if len(imp.Libraries) != 1 || len(imp.Libraries[0].Pinned) != 1 || !imp.Libraries[0].Pinned[0].Equals(v2.CID) {
		t.Fatalf("import through the daemon: %+v", imp)
	}
	if !poll(commandDeadline, nil, func() bool {
		st = mirrorLib(t, b, lib.Name)
		return st.State == api.MirrorCurrent && st.Pinned == 2 && st.Sequence == 2
	}) {
		t.Fatalf("the daemon's mirror after the import: %+v", st)
	}
	if !b.pinned(v1.CID) || !b.pinned(v2.CID) {
		t.Fatal("the village lacks a version")
	}

	// A partial export: the publisher no longer has version 1.
	a.ok("pin", "rm", v1.CID.String())
	a.gc()
	c := newRepo(t, "second-village")
	c.ok("follow", lib.Name)
	c.ok("have", "-o", at("have3.file"))
	mustFail(t, a.run("export", "--for", at("have3.file"), "-o", at("partial.car")), 8, "partial", v1.CID.String())
	c.ok("import", at("partial.car"))
	if !c.pinned(v2.CID) || c.pinned(v1.CID) {
		t.Fatal("the partial export did not carry what it had")
	}

	// Command-line mistakes.
	mustFail(t, a.run("export", "--for", at("have.file"), v1.CID.String(), "-o", at("x.car")), 2, "name no CID")
	mustFail(t, a.run("export", "--for", at("have.file"), "--libraries", "-o", at("x.car")), 2, "exclude")
	mustFail(t, a.run("export", "--latest", v1.CID.String(), "-o", at("x.car")), 2, "--libraries")
	mustFail(t, a.run("export", "--for", at("first.car"), "-o", at("x.car")), 4, "have-file")
	mustFail(t, b.run("import", "--latest", at("delta.car")), 2, "--follow")
	mustFail(t, a.run("have", "--json"), 2, "-o FILE")
}

package node_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	car "github.com/ipld/go-car/v2"
	"github.com/ipld/go-car/v2/storage"
	"github.com/libp2p/go-libp2p/core/crypto"
	mh "github.com/multiformats/go-multihash"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/node"
	"github.com/commons-p2p/commons/node/nodetest"
	"github.com/commons-p2p/commons/pkg/carfile"
	"github.com/commons-p2p/commons/pkg/config"
	"github.com/commons-p2p/commons/pkg/library"
	"github.com/commons-p2p/commons/pkg/metadata"
	"github.com/commons-p2p/commons/pkg/sneakernet"
	"github.com/commons-p2p/commons/pkg/store"
)

// offlineNode opens a repo's store in a new directory as the CLI does
// with no daemon running: no host, no network at all.
func offlineNode(t testing.TB) (*node.Node, crypto.PrivKey) {
	t.Helper()
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	st, err := store.Open(filepath.Join(t.TempDir(), "store"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	s, err := config.FromProfile("test")
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(context.Background(), node.Config{Settings: s, Identity: key, Store: st, Offline: true})
	if err != nil {
		st.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := n.Close(); err != nil {
			t.Error(err)
		}
		if err := st.Close(); err != nil {
			t.Error(err)
		}
	})
	return n, key
}

// cadFolder is a licensed design folder with a large CAD file of
// incompressible bytes (no chunk repeats), seeded so versions differ only
// where a test edits them.
func cadFolder(t *testing.T, size int) (dir string, cad []byte) {
	t.Helper()
	dir = licensedFolder(t)
	cad = make([]byte, size)
	rng := rand.New(rand.NewPCG(7, 11))
	for i := range cad {
		cad[i] = byte(rng.Uint32())
	}
	nodetest.WriteTree(t, dir, map[string]string{"cad/chassis.step": string(cad)})
	return dir, cad
}

// exportTo writes an export CAR from svc into a new file and returns its
// path and the result.
func exportTo(t *testing.T, svc api.SneakernetService, opts api.LibraryExportOptions) (string, api.LibraryExportResult) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "export.car")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	res, err := svc.ExportLibraries(context.Background(), opts, f, nil)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p, res
}

func importFrom(t *testing.T, svc api.SneakernetService, path string, opts api.ImportOptions) (api.ImportResult, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return svc.ImportCAR(context.Background(), f, opts, nil)
}

func mustImport(t *testing.T, svc api.SneakernetService, path string, opts api.ImportOptions) api.ImportResult {
	t.Helper()
	res, err := importFrom(t, svc, path, opts)
	if err != nil {
		t.Fatalf("import %s: %v", filepath.Base(path), err)
	}
	return res
}

func size(t *testing.T, path string) int64 {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

// carBlocks lists the blocks of a CAR file (checked).
func carBlocks(t *testing.T, path string) (roots []cid.Cid, bs []blocks.Block) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ar, err := carfile.Open(context.Background(), f, carfile.ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ar.Close()
	for _, c := range ar.Keys() {
		b, err := ar.Get(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		bs = append(bs, b)
	}
	return ar.Roots(), bs
}

// writeCAR writes a CARv1 with the given root and blocks, in order.
func writeCAR(t *testing.T, root cid.Cid, bs []blocks.Block) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "crafted.car")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := storage.NewWritable(struct{ io.Writer }{f}, []cid.Cid{root}, car.WriteAsCarV1(true), car.UseWholeCIDs(true))
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		if err := w.Put(context.Background(), b.Cid().KeyString(), b.RawData()); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finalize(); err != nil {
		t.Fatal(err)
	}
	return p
}

// rewrite makes a CAR from the export at path with its manifest edited
// by edit, extra blocks appended.
func rewrite(t *testing.T, path string, edit func(m *sneakernet.Manifest), extra ...blocks.Block) string {
	t.Helper()
	roots, bs := carBlocks(t, path)
	var m *sneakernet.Manifest
	var rest []blocks.Block
	for _, b := range bs {
		if b.Cid().Equals(roots[0]) {
			var err error
			if m, err = sneakernet.DecodeManifest(b.RawData()); err != nil {
				t.Fatal(err)
			}
			continue
		}
		rest = append(rest, b)
	}
	edit(m)
	enc, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	mb, _ := blocks.NewBlockWithCid(enc, sneakernet.CID(enc))
	return writeCAR(t, mb.Cid(), append(append([]blocks.Block{mb}, rest...), extra...))
}

// repoState is what a refused import must not change.
type repoState struct {
	blocks int
	pins   []string
	mirror []string
}

func stateOf(t *testing.T, n *node.Node) repoState {
	t.Helper()
	ctx := context.Background()
	var st repoState
	keys, err := n.Blockstore.AllKeysChan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for range keys {
		st.blocks++
	}
	pins, err := n.Pins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pins {
		st.pins = append(st.pins, p.CID.String()+" "+p.Type)
	}
	slices.Sort(st.pins)
	if st.mirror, err = n.MirrorState(ctx); err != nil {
		t.Fatal(err)
	}
	return st
}

func (s repoState) equal(o repoState) bool {
	return s.blocks == o.blocks && slices.Equal(s.pins, o.pins) && slices.Equal(s.mirror, o.mirror)
}

func decodeHave(t *testing.T, b []byte) *sneakernet.Have {
	t.Helper()
	h, err := sneakernet.DecodeHave(b)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func mustVerify(t *testing.T, n *node.Node) {
	t.Helper()
	res, err := n.Verify(context.Background(), api.VerifyOptions{}, nil)
	if err != nil || !res.OK {
		t.Fatalf("verify: %+v %v", res, err)
	}
}

// TestSneakernetRoundTrip: two repos with no network between them. A
// publishes a library; B follows it offline, writes its have-file; A
// exports what B lacks; B imports it and holds the version pinned, as a
// mirror would. Then a one-version update (100 bytes edited in a 16 MiB
// CAD file) makes the same round trip as a delta, much smaller than a
// full export and holding no block B had.
func TestSneakernetRoundTrip(t *testing.T) {
	ctx := context.Background()
	a, _ := offlineNode(t)
	b, _ := offlineNode(t)
	dir, cad := cadFolder(t, 16<<20)
	v1 := publishBundle(t, a, dir, metadata.Metadata{Message: "first"})
	lib, err := a.Library(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Following works offline: recorded, nothing known yet.
	if _, err := b.Follow(ctx, lib.Name, api.FollowPolicy{}); err != nil {
		t.Fatal(err)
	}
	if st := mirrorOf(t, b, lib.Name); st.State != api.MirrorStopped || st.Sequence != 0 || !st.Direct {
		t.Fatalf("status after an offline follow: %+v", st)
	}
	have, err := b.Have(ctx)
	if err != nil {
		t.Fatal(err)
	}
	h := decodeHave(t, have)
	if len(h.Libraries) != 1 || h.Libraries[0].Name != lib.Name || h.Libraries[0].Sequence != 0 || len(h.Libraries[0].Versions) != 0 || h.Libraries[0].Policy.Mode != "all" {
		t.Fatalf("first have-file: %+v", h)
	}

	first, res := exportTo(t, a, api.LibraryExportOptions{Have: have})
	if res.Missing != 0 || len(res.Libraries) != 1 || !res.Libraries[0].Included || res.Libraries[0].Versions != 1 {
		t.Fatalf("export for B: %+v", res)
	}
	imp := mustImport(t, b, first, api.ImportOptions{})
	if len(imp.Libraries) != 1 || imp.Libraries[0].Record != "taken" || len(imp.Libraries[0].Pinned) != 1 || !imp.Libraries[0].Pinned[0].Equals(v1.CID) {
		t.Fatalf("import: %+v", imp)
	}
	if !pinned(t, b, v1.CID) {
		t.Fatal("B did not pin version 1")
	}
	st := mirrorOf(t, b, lib.Name)
	if st.State != api.MirrorCurrent || st.Sequence != 1 || st.Pinned != 1 || st.Versions != 1 || st.BytesToGo != 0 {
		t.Fatalf("mirror status after the import: %+v", st)
	}
	mustVerify(t, b)
	got, err := b.Cat(ctx, "/ipns/"+lib.Name+"/brick-press/bom.csv")
	if err != nil {
		t.Fatal(err)
	}
	got.Close()

	// A one-version update: 100 bytes in the middle of the CAD file.
	copy(cad[8<<20:], bytes.Repeat([]byte("edited! "), 13)[:100])
	nodetest.WriteTree(t, dir, map[string]string{"cad/chassis.step": string(cad)})
	v2 := publishBundle(t, a, dir, metadata.Metadata{Message: "100-byte edit"})
	have, err = b.Have(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if h := decodeHave(t, have); h.Libraries[0].Sequence != 1 || len(h.Libraries[0].Versions) != 1 || !h.Libraries[0].Versions[0].Equals(v1.CID) {
		t.Fatalf("second have-file: %+v", h.Libraries)
	}
	delta, dres := exportTo(t, a, api.LibraryExportOptions{Have: have})
	full, fres := exportTo(t, a, api.LibraryExportOptions{})
	if dres.Libraries[0].Versions != 1 || dres.Libraries[0].Held != 1 || fres.Libraries[0].Versions != 2 {
		t.Fatalf("delta %+v, full %+v", dres, fres)
	}
	latestFull, lres := exportTo(t, a, api.LibraryExportOptions{Policy: &api.FollowPolicy{Mode: api.PolicyLatest}})
	ds, fs, ls := size(t, delta), size(t, full), size(t, latestFull)
	t.Logf("one-version update (100 bytes edited in the middle of a 16 MiB CAD file; bundle %d bytes): delta CAR %d bytes (%d blocks); full CAR %d bytes (%d blocks, both versions), %.2f%%; full CAR of the new version alone %d bytes (%d blocks), %.2f%%",
		v2.Bytes, ds, dres.Blocks, fs, fres.Blocks, 100*float64(ds)/float64(fs), ls, lres.Blocks, 100*float64(ds)/float64(ls))
	if ds*20 > fs {
		t.Fatalf("the delta (%d bytes) is not much smaller than the full export (%d bytes)", ds, fs)
	}
	_, dblocks := carBlocks(t, delta)
	for _, blk := range dblocks {
		if has, err := b.Blockstore.Has(ctx, blk.Cid()); err != nil || has {
			t.Fatalf("the delta carries %s, which B holds already", blk.Cid())
		}
	}
	imp = mustImport(t, b, delta, api.ImportOptions{})
	if l := imp.Libraries[0]; l.Record != "taken" || len(l.Pinned) != 1 || !l.Pinned[0].Equals(v2.CID) || l.Held != 1 {
		t.Fatalf("delta import: %+v", l)
	}
	st = mirrorOf(t, b, lib.Name)
	if st.State != api.MirrorCurrent || st.Sequence != 2 || st.Pinned != 2 || st.Versions != 2 {
		t.Fatalf("mirror status after the delta: %+v", st)
	}
	mustVerify(t, b)
	r, err := b.Cat(ctx, "/ipns/"+lib.Name+"/brick-press/cad/chassis.step")
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(r)
	r.Close()
	if !bytes.Equal(data, cad) {
		t.Fatal("B reads another CAD file than A published")
	}

	// The same CAR again changes nothing; so does the full one (every
	// block of it is held, its record is the same).
	before := stateOf(t, b)
	imp = mustImport(t, b, delta, api.ImportOptions{})
	if l := imp.Libraries[0]; l.Record != "same" || len(l.Pinned) != 0 || l.Held != 2 || imp.Blocks != 0 {
		t.Fatalf("importing the delta again: %+v", imp)
	}
	mustImport(t, b, full, api.ImportOptions{})
	if after := stateOf(t, b); !after.equal(before) {
		t.Fatalf("importing held content again changed the repo:\nbefore %+v\nafter  %+v", before, after)
	}

	// B now has nothing to ask for: the export leaves the library out.
	have, _ = b.Have(ctx)
	if _, res := exportTo(t, a, api.LibraryExportOptions{Have: have}); res.Libraries[0].Included || !strings.Contains(res.Libraries[0].Reason, "lacks nothing") {
		t.Fatalf("export for an up-to-date village: %+v", res)
	}
}

// TestSneakernetThroughDaemon: the same round trip through the JSON API,
// into a running node (its mirror service going, with no peer at all):
// the import is pinned and held so that the mirror reports the library
// current and fetches nothing.
func TestSneakernetThroughDaemon(t *testing.T) {
	ctx := context.Background()
	a, _ := offlineNode(t)
	asrv := httptest.NewServer(api.NewHandler(a, nil))
	t.Cleanup(asrv.Close)
	ac := api.NewClient(asrv.URL, nil)
	nw := nodetest.New(t, 1, nodetest.Options{})
	b := nw.Nodes[0]
	bsrv := httptest.NewServer(api.NewHandler(b.Node, nil))
	t.Cleanup(bsrv.Close)
	bc := api.NewClient(bsrv.URL, nil)

	dir, _ := cadFolder(t, 4<<20)
	v1 := publishBundle(t, ac, dir, metadata.Metadata{})
	nodetest.WriteTree(t, dir, map[string]string{"notes/v2.md": "second\n"})
	v2 := publishBundle(t, ac, dir, metadata.Metadata{})
	lib, err := ac.Library(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := bc.Follow(ctx, lib.Name, api.FollowPolicy{}); err != nil {
		t.Fatal(err)
	}
	have, err := bc.Have(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var progressed int64
	p := filepath.Join(t.TempDir(), "delta.car")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	res, err := ac.ExportLibraries(ctx, api.LibraryExportOptions{Have: have}, f, func(pr api.Progress) { progressed = pr.Blocks })
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	if res.Libraries[0].Versions != 2 || res.Blocks < 10 || progressed != res.Blocks {
		t.Fatalf("export through the API: %+v (progress counted %d blocks)", res, progressed)
	}
	imp := mustImport(t, bc, p, api.ImportOptions{})
	if len(imp.Libraries) != 1 || len(imp.Libraries[0].Pinned) != 2 || imp.Blocks+1 != res.Blocks {
		t.Fatalf("import through the API: %+v", imp)
	}
	for _, v := range []cid.Cid{v1.CID, v2.CID} {
		if !pinned(t, b.Node, v) {
			t.Fatalf("B did not pin %s", v)
		}
	}
	nodetest.Eventually(t, 30*time.Second, func() bool {
		st := mirrorOf(t, b.Node, lib.Name)
		return st.State == api.MirrorCurrent && st.Pinned == 2 && st.Versions == 2 && st.Sequence == 2
	}, "the running mirror to report the imported library current")
	if st := mirrorOf(t, b.Node, lib.Name); len(st.Errors) != 0 || st.BytesToGo != 0 {
		t.Fatalf("the mirror wants to fetch after the import: %+v", st)
	}
	mustVerify(t, b.Node)
}

// TestSneakernetRefusals: a tampered, truncated or foreign CAR changes
// nothing (blocks, pins, mirror state) and the error says why.
func TestSneakernetRefusals(t *testing.T) {
	ctx := context.Background()
	a, aKey := offlineNode(t)
	b, _ := offlineNode(t)
	c, cKey := offlineNode(t)
	dir, _ := cadFolder(t, 2<<20)
	v1 := publishBundle(t, a, dir, metadata.Metadata{})
	lib, _ := a.Library(ctx)
	publishBundle(t, c, licensedFolder(t), metadata.Metadata{})
	cLib, _ := c.Library(ctx)
	cRec, err := c.LibraryRecord(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Follow(ctx, lib.Name, api.FollowPolicy{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Follow(ctx, cLib.Name, api.FollowPolicy{}); err != nil {
		t.Fatal(err)
	}
	have, _ := b.Have(ctx)
	good, _ := exportTo(t, a, api.LibraryExportOptions{Have: have})
	raw, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	variant := func(data []byte) string {
		p := filepath.Join(t.TempDir(), "bad.car")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	// Cut exactly after a block section: no section is damaged, blocks
	// are just missing.
	roots, bs := carBlocks(t, good)
	var cut []blocks.Block
	for _, blk := range bs {
		cut = append(cut, blk)
		if len(cut) == len(bs)/2 {
			break
		}
	}
	// C's library's own blocks, for a record under A's name that A's key
	// signed but that points at C's library.
	cV, err := library.Load(ctx, c.DAG, cLib.Root, cKey.GetPublic())
	if err != nil {
		t.Fatal(err)
	}
	cStructure, err := library.Structure(ctx, c.DAG, cV)
	if err != nil {
		t.Fatal(err)
	}
	var cBlocks []blocks.Block
	for _, k := range cStructure {
		blk, err := c.Blockstore.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		cBlocks = append(cBlocks, blk)
	}
	aRecForC, err := library.NewRecord(aKey, cLib.Root, 5, time.Hour, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	stray := blocks.NewBlock([]byte("a block nobody asked for"))
	strayRaw, _ := blocks.NewBlockWithCid(stray.RawData(), cid.NewCidV1(cid.Raw, mustHash(t, stray.RawData())))

	cases := []struct {
		name string
		path string
		want []error
		msg  string
	}{
		{"tampered (one byte flipped)", variant(flipLast(raw)), []error{carfile.ErrHashMismatch}, "corrupt"},
		{"truncated in a block", variant(raw[:len(raw)/2]), []error{carfile.ErrTruncated}, "truncated"},
		{"truncated between blocks", writeCAR(t, roots[0], cut), []error{carfile.ErrIncomplete}, "neither in the file nor stored here"},
		{"empty file", variant(nil), []error{carfile.ErrTruncated}, "empty"},
		{"record signed by another key", rewrite(t, good, func(m *sneakernet.Manifest) { m.Libraries[0].Record = cRec }), []error{library.ErrBadRecord}, "not the name's"},
		{"manifest root not the record's", rewrite(t, good, func(m *sneakernet.Manifest) { m.Libraries[0].Root = v1.CID }), nil, "its record points at"},
		{"record of the name pointing at another key's library", rewrite(t, good, func(m *sneakernet.Manifest) {
			m.Libraries[0].Record, m.Libraries[0].Root, m.Libraries[0].Sequence = aRecForC.Data, cLib.Root, 1
		}, cBlocks...), []error{library.ErrWrongPublisher}, "unexpected key"},
		{"a library named with another name's record", rewrite(t, good, func(m *sneakernet.Manifest) { m.Libraries[0].Name = cLib.Name }), []error{library.ErrBadRecord}, "not the name's"},
		{"a block not reachable from the manifest", rewrite(t, good, func(*sneakernet.Manifest) {}, strayRaw), nil, "foreign CAR"},
		{"a version of another library", rewrite(t, good, func(m *sneakernet.Manifest) {
			// C's bundle listed as a version of A's library.
			cb, _ := c.Library(ctx)
			m.Libraries[0].Versions = append(m.Libraries[0].Versions, cb.Bundles[0].Root)
			m.Sort()
		}, cBundleBlocks(t, c)...), nil, "not a version of library"},
	}
	before := stateOf(t, b)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := importFrom(t, b, tc.path, api.ImportOptions{Follow: true})
			if !errors.Is(err, api.ErrInvalid) {
				t.Fatalf("want an invalid-input error, got %v", err)
			}
			for _, w := range tc.want {
				if !errors.Is(err, w) {
					t.Errorf("error does not wrap %v: %v", w, err)
				}
			}
			if !strings.Contains(err.Error(), tc.msg) {
				t.Errorf("error does not say %q: %v", tc.msg, err)
			}
			t.Logf("%v", err)
			if after := stateOf(t, b); !after.equal(before) {
				t.Fatalf("a refused CAR changed the repo:\nbefore %+v\nafter  %+v", before, after)
			}
		})
	}
	// The good CAR still imports.
	if imp := mustImport(t, b, good, api.ImportOptions{}); len(imp.Libraries) != 1 || len(imp.Libraries[0].Pinned) != 1 {
		t.Fatalf("good CAR after the refusals: %+v", imp)
	}
}

func flipLast(b []byte) []byte {
	b = bytes.Clone(b)
	b[len(b)-1] ^= 0x40
	return b
}

func mustHash(t *testing.T, data []byte) mh.Multihash {
	t.Helper()
	h, err := mh.Sum(data, mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// cBundleBlocks returns every block of the first bundle of n's library.
func cBundleBlocks(t *testing.T, n *node.Node) []blocks.Block {
	t.Helper()
	l, err := n.Library(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []blocks.Block
	for _, c := range dagCIDs(t, n, l.Bundles[0].Root) {
		b, err := n.Blockstore.Get(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}

// TestSneakernetPolicies: the village's policy decides what travels and
// what is pinned: latest takes only the newest version, all every one;
// a partial export (the exporter lacks a version) carries the rest and
// names what is missing.
func TestSneakernetPolicies(t *testing.T) {
	ctx := context.Background()
	a, _ := offlineNode(t)
	latest, _ := offlineNode(t)
	all, _ := offlineNode(t)
	dir, _ := cadFolder(t, 1<<20)
	var vs []cid.Cid
	for i := range 3 {
		nodetest.WriteTree(t, dir, map[string]string{"notes/version.md": strings.Repeat("v", i+1) + "\n"})
		vs = append(vs, publishBundle(t, a, dir, metadata.Metadata{}).CID)
	}
	lib, _ := a.Library(ctx)
	if _, err := latest.Follow(ctx, lib.Name, api.FollowPolicy{Mode: api.PolicyLatest}); err != nil {
		t.Fatal(err)
	}
	if _, err := all.Follow(ctx, lib.Name, api.FollowPolicy{Mode: api.PolicyAll}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		n    *node.Node
		want []cid.Cid
	}{{latest, vs[2:]}, {all, vs}} {
		have, _ := tc.n.Have(ctx)
		p, res := exportTo(t, a, api.LibraryExportOptions{Have: have})
		if res.Libraries[0].Versions != len(tc.want) {
			t.Fatalf("export carries %d versions, want %d", res.Libraries[0].Versions, len(tc.want))
		}
		imp := mustImport(t, tc.n, p, api.ImportOptions{})
		if len(imp.Libraries[0].Pinned) != len(tc.want) {
			t.Fatalf("import pinned %v, want %v", imp.Libraries[0].Pinned, tc.want)
		}
		for _, v := range vs {
			if pinned(t, tc.n, v) != slices.ContainsFunc(tc.want, v.Equals) {
				t.Fatalf("pinned(%s) = %t", v, pinned(t, tc.n, v))
			}
		}
		if st := mirrorOf(t, tc.n, lib.Name); st.State != api.MirrorCurrent || st.Pinned != len(tc.want) {
			t.Fatalf("status: %+v", st)
		}
		mustVerify(t, tc.n)
	}

	// A full export of the latest versions only carries one version;
	// imported into the "all" village it changes nothing.
	p, res := exportTo(t, a, api.LibraryExportOptions{Policy: &api.FollowPolicy{Mode: api.PolicyLatest}})
	if res.Libraries[0].Versions != 1 {
		t.Fatalf("full export, latest: %+v", res)
	}
	if imp := mustImport(t, all, p, api.ImportOptions{}); imp.Libraries[0].Held != 3 || len(imp.Libraries[0].Pinned) != 0 {
		t.Fatalf("%+v", imp)
	}

	// The exporter lacks version 1: the export carries the others and
	// says so.
	if err := a.Unpin(ctx, vs[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := a.GC(ctx); err != nil {
		t.Fatal(err)
	}
	fresh, _ := offlineNode(t)
	if _, err := fresh.Follow(ctx, lib.Name, api.FollowPolicy{}); err != nil {
		t.Fatal(err)
	}
	have, _ := fresh.Have(ctx)
	p, res = exportTo(t, a, api.LibraryExportOptions{Have: have})
	if l := res.Libraries[0]; res.Missing != 1 || l.MissingCount != 1 || !l.Missing[0].Root.Equals(vs[0]) || l.Versions != 2 {
		t.Fatalf("partial export: %+v", res)
	}
	imp := mustImport(t, fresh, p, api.ImportOptions{})
	if len(imp.Libraries[0].Pinned) != 2 || pinned(t, fresh, vs[0]) {
		t.Fatalf("import of a partial export: %+v", imp)
	}
	mustVerify(t, fresh)
}

// TestSneakernetFirstInstall: a full export (no have-file) into a node
// that follows nothing: without --follow the library is skipped and
// nothing is stored; with it, it is followed and mirrored.
func TestSneakernetFirstInstall(t *testing.T) {
	ctx := context.Background()
	a, _ := offlineNode(t)
	b, _ := offlineNode(t)
	dir, _ := cadFolder(t, 1<<20)
	v1 := publishBundle(t, a, dir, metadata.Metadata{})
	lib, _ := a.Library(ctx)
	p, res := exportTo(t, a, api.LibraryExportOptions{})
	if len(res.Libraries) != 1 || res.Libraries[0].Name != lib.Name || res.Libraries[0].Versions != 1 {
		t.Fatalf("full export: %+v", res)
	}
	// Names this node does not know: refused.
	_, cnKey := offlineNode(t)
	cKey, _ := library.NameOf(cnKey.GetPublic())
	if _, err := a.ExportLibraries(ctx, api.LibraryExportOptions{Libraries: []string{cKey.String()}}, io.Discard, nil); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("export of an unknown library: %v", err)
	}
	if _, err := a.ExportLibraries(ctx, api.LibraryExportOptions{Have: []byte("not a have-file")}, io.Discard, nil); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("export for a bad have-file: %v", err)
	}

	before := stateOf(t, b)
	imp := mustImport(t, b, p, api.ImportOptions{})
	if len(imp.Libraries) != 1 || !strings.Contains(imp.Libraries[0].Skipped, "--follow") || imp.Blocks != 0 {
		t.Fatalf("import into a node that does not follow: %+v", imp)
	}
	if after := stateOf(t, b); !after.equal(before) {
		t.Fatalf("a skipped library changed the repo:\nbefore %+v\nafter  %+v", before, after)
	}
	imp = mustImport(t, b, p, api.ImportOptions{Follow: true, Policy: api.FollowPolicy{Mode: api.PolicyLatest}})
	if l := imp.Libraries[0]; !l.Followed || l.Record != "taken" || len(l.Pinned) != 1 || !l.Pinned[0].Equals(v1.CID) {
		t.Fatalf("import --follow: %+v", imp)
	}
	if st := mirrorOf(t, b, lib.Name); !st.Direct || st.Policy.Mode != api.PolicyLatest || st.State != api.MirrorCurrent {
		t.Fatalf("status after import --follow: %+v", st)
	}
	// A plain CAR keeps the plain import.
	var plain bytes.Buffer
	if err := a.Export(ctx, v1.CID.String(), &plain, nil); err != nil {
		t.Fatal(err)
	}
	if res, err := b.Import(ctx, &plain, nil); err != nil || res.Manifest.Defined() || len(res.Roots) != 1 || !res.Roots[0].Equals(v1.CID) {
		t.Fatalf("plain import: %+v %v", res, err)
	}
}

// TestSneakernetIncludes: libraries travel through a hub by sneakernet
// alone. A campus library includes A's; the hub follows the campus and
// learns A's library from the campus's record, gets each from its
// publisher by have-file and export; a village that follows only the
// campus then gets both from the hub in one CAR, A's followed through the
// include the same CAR carries.
func TestSneakernetIncludes(t *testing.T) {
	ctx := context.Background()
	a, _ := offlineNode(t)
	campus, _ := offlineNode(t)
	hub, _ := offlineNode(t)
	village, _ := offlineNode(t)
	dir, _ := cadFolder(t, 1<<20)
	v1 := publishBundle(t, a, dir, metadata.Metadata{})
	aLib, _ := a.Library(ctx)
	cLib, err := campus.Include(ctx, aLib.Name, false)
	if err != nil {
		t.Fatal(err)
	}
	trip := func(from, to *node.Node) api.ImportResult {
		t.Helper()
		have, err := to.Have(ctx)
		if err != nil {
			t.Fatal(err)
		}
		p, _ := exportTo(t, from, api.LibraryExportOptions{Have: have})
		return mustImport(t, to, p, api.ImportOptions{})
	}
	if _, err := hub.Follow(ctx, cLib.Name, api.FollowPolicy{}); err != nil {
		t.Fatal(err)
	}
	trip(campus, hub)
	if st := mirrorOf(t, hub, aLib.Name); st.Direct || len(st.Via) != 1 || st.Sequence != 0 {
		t.Fatalf("the hub does not follow A's library through the campus: %+v", st)
	}
	if imp := trip(a, hub); len(imp.Libraries) != 1 || len(imp.Libraries[0].Pinned) != 1 {
		t.Fatalf("A to the hub: %+v", imp)
	}
	if _, err := village.Follow(ctx, cLib.Name, api.FollowPolicy{Mode: api.PolicyLatest}); err != nil {
		t.Fatal(err)
	}
	imp := trip(hub, village)
	if len(imp.Libraries) != 2 {
		t.Fatalf("hub to the village: %+v", imp)
	}
	if !pinned(t, village, v1.CID) {
		t.Fatal("the village did not pin A's bundle, included by the campus")
	}
	for _, name := range []string{aLib.Name, cLib.Name} {
		if st := mirrorOf(t, village, name); st.State != api.MirrorCurrent || st.Sequence == 0 || st.Policy.Mode != api.PolicyLatest {
			t.Fatalf("village status of %s: %+v", name, st)
		}
	}
	mustVerify(t, village)
}

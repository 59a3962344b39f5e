package bundle

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockservice"
	blockstore "github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/commons-p2p/commons/pkg/folder"
)

func newDAG(t testing.TB) ipld.DAGService {
	t.Helper()
	bs := blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore()))
	return merkledag.NewDAGService(blockservice.New(bs, nil))
}

func newKey(t testing.TB) crypto.PrivKey {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// importTree imports a map of path -> content as a UnixFS folder.
func importTree(t testing.TB, dag ipld.DAGService, tree map[string]string) cid.Cid {
	t.Helper()
	dir := t.TempDir()
	for p, content := range tree {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	nd, _, err := folder.Open(dir, folder.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	c, err := folder.Import(context.Background(), dag, nd, folder.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func baseManifest(files cid.Cid) Manifest {
	return Manifest{
		Schema: Schema, Name: "brick-press", Title: "CEB brick press", Summary: "A compressed earth brick press.",
		Version: "1.0", Sequence: 1, Kind: KindProductDesign, Tags: []string{"construction"},
		Licenses:   Licenses{Hardware: "CERN-OHL-S-2.0", Software: "NONE", Documentation: "CC-BY-SA-4.0"},
		OpenSource: true, Authors: []Author{{Name: "Open Source Ecology", Contact: "https://www.opensourceecology.org"}},
		Files: files, Size: 10, Message: "first", Created: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC).Format(time.RFC3339),
	}
}

func TestManifestRoundTrip(t *testing.T) {
	dag := newDAG(t)
	fc := importTree(t, dag, map[string]string{"README.md": "# press\n"})
	m := baseManifest(fc)
	m.Bom = &FileRef{Path: "README.md", Link: fc}
	m.Log = []LogEntry{{Time: m.Created, Author: "a", Text: "welded the frame", Attachments: []FileRef{{Path: LogDir + "/0001-a.jpg", Link: fc}}}}
	s, err := Sign(m, newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	block, err := s.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(block)
	if err != nil {
		t.Fatal(err)
	}
	again, err := got.Encode()
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(block, again) || !CID(block).Equals(CID(again)) {
		t.Fatal("decode then encode changed the block")
	}
	if got.Manifest.Kind != KindProductDesign || got.Manifest.Bom.Path != "README.md" || len(got.Manifest.Log) != 1 {
		t.Fatalf("decoded manifest differs: %+v", got.Manifest)
	}
	if err := got.Verify(nil); err != nil {
		t.Fatal(err)
	}
	js, err := got.JSON()
	if err != nil || !bytes.Contains(js, []byte(`"kind":"product-design"`)) {
		t.Fatalf("dag-json: %s %v", js, err)
	}
}

func TestDecodeRefuses(t *testing.T) {
	dag := newDAG(t)
	fc := importTree(t, dag, map[string]string{"a": "a"})
	s, err := Sign(baseManifest(fc), newKey(t))
	if err != nil {
		t.Fatal(err)
	}
	block, _ := s.Encode()
	cases := map[string][]byte{
		"empty":     nil,
		"truncated": block[:len(block)/2],
		"garbage":   []byte("not cbor at all"),
		"too big":   make([]byte, MaxManifestSize+1),
		// A non-canonical encoding of the same data: a map with an
		// indefinite length header instead of a definite one.
		"non-canonical": append([]byte{0xbf}, append(block[1:], 0xff)...),
	}
	for name, b := range cases {
		if _, err := Decode(b); !errors.Is(err, ErrInvalidManifest) {
			t.Errorf("%s: got %v, want ErrInvalidManifest", name, err)
		}
	}
}

func TestValidate(t *testing.T) {
	fc, _ := cid.Decode("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy")
	key := newKey(t)
	for name, mutate := range map[string]func(*Manifest){
		"bad name":          func(m *Manifest) { m.Name = "Brick Press" },
		"schema":            func(m *Manifest) { m.Schema = "commons/bundle/9" },
		"sequence 0":        func(m *Manifest) { m.Sequence = 0 },
		"v2 without parent": func(m *Manifest) { m.Sequence = 2 },
		"v1 with parent":    func(m *Manifest) { m.Parents = []cid.Cid{fc} },
		"kind":              func(m *Manifest) { m.Kind = "cad" },
		"bad time":          func(m *Manifest) { m.Created = "yesterday" },
		"dotdot path":       func(m *Manifest) { m.Bom = &FileRef{Path: "../etc/passwd", Link: fc} },
		"absolute path":     func(m *Manifest) { m.Instructions = &FileRef{Path: "/etc/passwd", Link: fc} },
		"attachment outside": func(m *Manifest) {
			m.Log = []LogEntry{{Time: m.Created, Text: "x", Attachments: []FileRef{{Path: "cad/x", Link: fc}}}}
		},
		"too many tags":       func(m *Manifest) { m.Tags = make([]string, MaxTags+1) },
		"author without name": func(m *Manifest) { m.Authors = []Author{{Contact: "x"}} },
		"no files":            func(m *Manifest) { m.Files = cid.Undef },
	} {
		m := baseManifest(fc)
		mutate(&m)
		if _, err := Sign(m, key); !errors.Is(err, ErrInvalidManifest) {
			t.Errorf("%s: got %v, want ErrInvalidManifest", name, err)
		}
	}
}

func TestSignature(t *testing.T) {
	dag := newDAG(t)
	fc := importTree(t, dag, map[string]string{"a": "a"})
	key, other := newKey(t), newKey(t)
	s, err := Sign(baseManifest(fc), key)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Verify(key.GetPublic()); err != nil {
		t.Fatalf("own signature: %v", err)
	}
	err = s.Verify(other.GetPublic())
	if !errors.Is(err, ErrWrongPublisher) || !strings.Contains(err.Error(), peerIDOf(other.GetPublic())) || !strings.Contains(err.Error(), "brick-press") {
		t.Fatalf("expected key: got %v", err)
	}
	// Tampering: any signed field changed after signing.
	for name, mutate := range map[string]func(*Manifest){
		"title":    func(m *Manifest) { m.Title = "Something else" },
		"licence":  func(m *Manifest) { m.Licenses.Hardware = "CERN-OHL-P-2.0" },
		"sequence": func(m *Manifest) { m.Sequence = 7; m.Parents = []cid.Cid{fc} },
		"files":    func(m *Manifest) { m.Files = cid.NewCidV1(cid.Raw, fc.Hash()) },
	} {
		t2 := *s
		mutate(&t2.Manifest)
		err := t2.Verify(nil)
		if !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), peerIDOf(key.GetPublic())) {
			t.Errorf("tampered %s: got %v, want ErrBadSignature naming the key", name, err)
		}
	}
	// Someone else re-signs under their key: valid, but not the publisher
	// a follower expects.
	m := s.Manifest
	forged, err := Sign(m, other)
	if err != nil {
		t.Fatal(err)
	}
	if err := forged.Verify(key.GetPublic()); !errors.Is(err, ErrWrongPublisher) {
		t.Fatalf("re-signed by another key: %v", err)
	}
	// Signature bytes flipped.
	bad := *s
	bad.Signature = append([]byte(nil), s.Signature...)
	bad.Signature[0] ^= 1
	if err := bad.Verify(nil); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("flipped signature: %v", err)
	}
}

// build publishes a version over files and returns the verified bundle.
func build(t testing.TB, dag ipld.DAGService, key crypto.PrivKey, m Manifest) *Bundle {
	t.Helper()
	s, err := Sign(m, key)
	if err != nil {
		t.Fatal(err)
	}
	root, err := Build(context.Background(), dag, s, cid.Undef)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Load(context.Background(), dag, root, LoadOptions{Publisher: key.GetPublic()})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestBuildAndLoad(t *testing.T) {
	ctx := context.Background()
	dag := newDAG(t)
	fc := importTree(t, dag, map[string]string{"README.md": "# press\n", "cad/frame.step": strings.Repeat("x", 5000)})
	key := newKey(t)
	m := baseManifest(fc)
	m.Instructions = &FileRef{Path: "README.md"}
	m.Instructions.Link, _ = Resolve(ctx, dag, fc, "README.md")
	b := build(t, dag, key, m)
	// The files are reachable by path from the bundle root, as on any
	// IPFS path gateway, and so is the manifest, as a plain file.
	for _, p := range []string{"README.md", "cad/frame.step", ManifestPath} {
		if _, err := Resolve(ctx, dag, b.Root, p); err != nil {
			t.Errorf("%s not reachable from the root: %v", p, err)
		}
	}
	mc, _ := Resolve(ctx, dag, b.Root, ManifestPath)
	if mc.Type() != cid.Raw || !bytes.Equal(mc.Hash(), b.ManifestCID.Hash()) || b.ManifestCID.Type() != cid.DagCBOR {
		t.Fatalf("manifest %s, dag-cbor CID %s: want the same multihash", mc, b.ManifestCID)
	}
	// A plain folder is not a bundle.
	if _, err := Load(ctx, dag, fc, LoadOptions{}); !errors.Is(err, ErrNotBundle) {
		t.Fatalf("plain folder: %v", err)
	}
	// A raw block is not a bundle.
	if _, err := Load(ctx, dag, mc, LoadOptions{}); !errors.Is(err, ErrNotBundle) {
		t.Fatalf("raw block: %v", err)
	}
}

// rewrap builds a root from dir's entries with one change applied.
func rewrap(t testing.TB, dag ipld.DAGService, root cid.Cid, change func(uio.Directory)) cid.Cid {
	t.Helper()
	ctx := context.Background()
	nd, err := dag.Get(ctx, root)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := uio.NewDirectoryFromNode(dag, nd)
	if err != nil {
		t.Fatal(err)
	}
	change(dir)
	out, err := dir.GetNode()
	if err != nil {
		t.Fatal(err)
	}
	if err := dag.Add(ctx, out); err != nil {
		t.Fatal(err)
	}
	return out.Cid()
}

func TestLoadRefusesTamperedLayout(t *testing.T) {
	ctx := context.Background()
	dag := newDAG(t)
	fc := importTree(t, dag, map[string]string{"README.md": "# press\n", "BOM.csv": "part,qty\nbolt,2\n"})
	key := newKey(t)
	b := build(t, dag, key, baseManifest(fc))
	evil := merkledag.NewRawNode([]byte("<script>alert(1)</script>"))
	if err := dag.Add(ctx, evil); err != nil {
		t.Fatal(err)
	}
	cases := map[string]cid.Cid{
		"extra file": rewrap(t, dag, b.Root, func(d uio.Directory) {
			if err := d.AddChild(ctx, "evil.html", evil); err != nil {
				t.Fatal(err)
			}
		}),
		"replaced file": rewrap(t, dag, b.Root, func(d uio.Directory) {
			if err := d.AddChild(ctx, "README.md", evil); err != nil {
				t.Fatal(err)
			}
		}),
		"removed file": rewrap(t, dag, b.Root, func(d uio.Directory) {
			if err := d.RemoveChild(ctx, "BOM.csv"); err != nil {
				t.Fatal(err)
			}
		}),
		"extra metadata": rewrap(t, dag, b.Root, func(d uio.Directory) {
			meta, _ := d.Find(ctx, MetaDir)
			md, _ := uio.NewDirectoryFromNode(dag, meta)
			_ = md.AddChild(ctx, "other.cbor", evil)
			mn, _ := md.GetNode()
			_ = dag.Add(ctx, mn)
			_ = d.AddChild(ctx, MetaDir, mn)
		}),
	}
	for name, root := range cases {
		if _, err := Load(ctx, dag, root, LoadOptions{}); !errors.Is(err, ErrInvalidManifest) {
			t.Errorf("%s: got %v, want ErrInvalidManifest", name, err)
		}
	}
	// A manifest replaced by one signed by another key over the same
	// files: valid alone, refused when the original publisher is expected.
	other := newKey(t)
	forged := build(t, dag, other, baseManifest(fc))
	if _, err := Load(ctx, dag, forged.Root, LoadOptions{Publisher: key.GetPublic()}); !errors.Is(err, ErrWrongPublisher) {
		t.Fatalf("forged publisher: %v", err)
	}
	// The manifest block swapped for a tampered one (title changed, old
	// signature kept).
	s := *b.Signed
	s.Manifest.Title = "Tampered"
	tampered := rewrap(t, dag, b.Root, func(d uio.Directory) {
		block, err := s.Encode()
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := merkledag.NewRawNodeWPrefix(block, cid.Prefix{Version: 1, Codec: cid.Raw, MhType: 0x12, MhLength: -1})
		_ = dag.Add(ctx, raw)
		meta := ft.EmptyDirNode()
		_ = meta.SetCidBuilder(dagPB)
		_ = meta.AddNodeLink(ManifestFile, raw)
		_ = dag.Add(ctx, meta)
		_ = d.AddChild(ctx, MetaDir, meta)
	})
	_, err := Load(ctx, dag, tampered, LoadOptions{})
	if !errors.Is(err, ErrBadSignature) || !strings.Contains(err.Error(), "brick-press") {
		t.Fatalf("tampered manifest: %v", err)
	}
}

func TestIndexRefusesReplay(t *testing.T) {
	ctx := context.Background()
	dag := newDAG(t)
	key := newKey(t)
	x := NewIndex(dssync.MutexWrap(ds.NewMapDatastore()))
	f1 := importTree(t, dag, map[string]string{"a": "1"})
	f2 := importTree(t, dag, map[string]string{"a": "2"})
	v1 := build(t, dag, key, baseManifest(f1))
	m2 := baseManifest(f2)
	m2.Sequence, m2.Parents = 2, []cid.Cid{v1.Root}
	v2 := build(t, dag, key, m2)
	if err := x.Advance(ctx, v1); err != nil {
		t.Fatal(err)
	}
	if err := x.Advance(ctx, v2); err != nil {
		t.Fatal(err)
	}
	// The old version presented again as the newest: refused.
	if err := x.Advance(ctx, v1); !errors.Is(err, ErrStale) {
		t.Fatalf("replayed v1: %v", err)
	}
	// Another version with v2's sequence but other content: refused too.
	m2b := m2
	m2b.Message = "a conflicting second version"
	v2b := build(t, dag, key, m2b)
	if err := x.Advance(ctx, v2b); !errors.Is(err, ErrStale) {
		t.Fatalf("conflicting v2: %v", err)
	}
	head, ok, err := x.Head(ctx, peerIDOf(key.GetPublic()), "brick-press")
	if err != nil || !ok || !head.Root.Equals(v2.Root) {
		t.Fatalf("head = %v %v %v, want v2", head.Root, ok, err)
	}
	if err := x.Advance(ctx, v2); err != nil {
		t.Fatalf("advancing to the head again: %v", err)
	}
	all, _ := x.All(ctx)
	if len(all) != 3 {
		t.Fatalf("%d records, want 3 (every verified version is remembered)", len(all))
	}
}

func TestDiffAndNewBytes(t *testing.T) {
	ctx := context.Background()
	dag := newDAG(t)
	big := make([]byte, 4<<20)
	_, _ = rand.Read(big)
	edited := append([]byte(nil), big...)
	copy(edited[2<<20:], bytes.Repeat([]byte("E"), 100))
	f1 := importTree(t, dag, map[string]string{"cad/frame.step": string(big), "README.md": "one\n", "old.txt": "gone"})
	f2 := importTree(t, dag, map[string]string{"cad/frame.step": string(edited), "README.md": "two\n", "new/part.stl": "solid"})
	d, err := DiffTrees(ctx, dag, f1, f2)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range d.Changes {
		got[c.Path] = c.Change
	}
	want := map[string]string{"cad/frame.step": Changed, "README.md": Changed, "old.txt": Removed, "new/part.stl": Added}
	if len(got) != len(want) {
		t.Fatalf("changes %v, want %v", got, want)
	}
	for p, c := range want {
		if got[p] != c {
			t.Errorf("%s: %q, want %q", p, got[p], c)
		}
	}
	nb, blocks, err := NewBytes(ctx, dag, f1, f2)
	if err != nil {
		t.Fatal(err)
	}
	// The 100-byte edit rewrites one or two buzhash chunks (at most 512
	// KiB each) plus the directory and file-index nodes on the path.
	if nb <= 100 || nb > 1200<<10 || blocks < 3 {
		t.Fatalf("new bytes %d in %d blocks for a 100-byte edit of a 4 MiB file", nb, blocks)
	}
	all, _, err := NewBytes(ctx, dag, cid.Undef, f2)
	if err != nil || all < int64(len(edited)) {
		t.Fatalf("everything is new without an old version: %d %v", all, err)
	}
	if same, n, _ := NewBytes(ctx, dag, f2, f2); same != 0 || n != 0 {
		t.Fatalf("nothing is new against itself: %d bytes %d blocks", same, n)
	}
}

func TestNameFromFolder(t *testing.T) {
	for in, want := range map[string]string{
		"Brick Press":     "brick-press",
		"brick-press":     "brick-press",
		"  CEB  v2!! ":    "ceb-v2",
		"Tracteur_été":    "tracteur_-t",
		"...":             "",
		"MicroHouse 4.0.": "microhouse-4.0",
	} {
		if got := NameFromFolder(in); got != want {
			t.Errorf("NameFromFolder(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	dag := newDAG(f)
	fc := importTree(f, dag, map[string]string{"a": "a"})
	s, err := Sign(baseManifest(fc), newKey(f))
	if err != nil {
		f.Fatal(err)
	}
	block, _ := s.Encode()
	f.Add(block)
	f.Add([]byte{0xa0})
	f.Add([]byte("{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		s, err := Decode(b)
		if err != nil {
			if !errors.Is(err, ErrInvalidManifest) {
				t.Fatalf("error %v does not wrap ErrInvalidManifest", err)
			}
			return
		}
		again, err := s.Encode()
		if err != nil || !bytes.Equal(again, b) {
			t.Fatalf("a decoded manifest does not re-encode to the same block: %v", err)
		}
		_ = s.Verify(nil)
	})
}

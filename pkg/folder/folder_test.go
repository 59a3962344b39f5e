package folder

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipfs/boxo/files"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// openImport opens path and imports it into dag with opts.
func openImport(t testing.TB, dag ipld.DAGService, path string, opts Options) (cid.Cid, Totals) {
	t.Helper()
	n, totals, err := Open(path, opts)
	if err != nil {
		t.Fatalf("Open(%s): %v", path, err)
	}
	c, err := Import(context.Background(), dag, n, opts)
	if err != nil {
		t.Fatalf("Import(%s): %v", path, err)
	}
	return c, totals
}

func TestRoundTrip(t *testing.T) {
	for _, hidden := range []bool{false, true} {
		name := "tree"
		if hidden {
			name = "tree-hidden"
		}
		t.Run(name, func(t *testing.T) {
			src := fixtureDir(t, "src")
			makeTree(t, src)
			opts := DefaultOptions()
			opts.Hidden = hidden
			var last Progress
			calls := 0
			opts.Progress = func(p Progress) { last = p; calls++ }

			dag, _ := newDAG()
			c, totals := openImport(t, dag, src, opts)

			want := Totals{Files: 6, Dirs: 5, Symlinks: 4, Bytes: treeBytes(t, src, false)}
			if hidden {
				want = Totals{Files: 8, Dirs: 6, Symlinks: 5, Bytes: treeBytes(t, src, true)}
			}
			if want.Bytes < bigFileSize {
				t.Fatalf("treeBytes = %d", want.Bytes)
			}
			if totals != want {
				t.Errorf("totals = %+v, want %+v", totals, want)
			}
			if last.Files != totals.Files || last.Bytes != totals.Bytes || calls < int(totals.Files) {
				t.Errorf("last import progress %+v after %d calls, want files and bytes of %+v", last, calls, totals)
			}

			dst := filepath.Join(t.TempDir(), "copy")
			var wlast Progress
			if err := Write(context.Background(), dag, c, dst, WriteOptions{Progress: func(p Progress) { wlast = p }}); err != nil {
				t.Fatalf("Write: %v", err)
			}
			if wlast.Files != totals.Files || wlast.Bytes != totals.Bytes {
				t.Errorf("last write progress %+v, want files and bytes of %+v", wlast, totals)
			}
			compareTrees(t, listTree(t, src, hidden), listTree(t, dst, true))
			if got, err := os.Readlink(filepath.Join(dst, "parts", "bolts", "readme")); err != nil || got != "../../README.md" {
				t.Errorf("symlink text = %q, %v; want ../../README.md", got, err)
			}
			if b, err := os.ReadFile(filepath.Join(dst, "bolts", "m8x30.txt")); err != nil || string(b) != "M8x30 DIN 912, 8 pieces\n" {
				t.Errorf("reading through the written directory symlink: %q, %v", b, err)
			}
		})
	}
}

// kuboCase is a fixture whose root CID Kubo computed (testdata/kubo-cids.json).
type kuboCase struct {
	name  string
	build func(t testing.TB, path string)
}

var kuboCases = []kuboCase{
	{"tree", func(t testing.TB, p string) { makeTree(t, p) }},
	{"tree-hidden", func(t testing.TB, p string) { makeTree(t, p) }},
	{"empty", func(t testing.TB, p string) {
		if err := os.Mkdir(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}},
	{"single.bin", func(t testing.TB, p string) { mkfile(t, p, randBytes("single.bin", 1<<20+7)) }},
	{"empty.bin", func(t testing.TB, p string) { mkfile(t, p, nil) }},
}

// kuboCIDs returns the root CIDs Kubo's adder gave for the fixtures with
// `ipfs add -r --cid-version=1 --raw-leaves --chunker=buzhash` (see
// testdata/kubogolden).
func kuboCIDs(t testing.TB) map[string]string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "kubo-cids.json"))
	if err != nil {
		t.Fatal(err)
	}
	var golden map[string]string
	if err := json.Unmarshal(b, &golden); err != nil {
		t.Fatal(err)
	}
	return golden
}

// TestKuboCompat checks root CIDs against Kubo's (the sharded fixture is
// checked in TestShardedDirectory).
func TestKuboCompat(t *testing.T) {
	golden := kuboCIDs(t)
	for _, tc := range kuboCases {
		t.Run(tc.name, func(t *testing.T) {
			p := fixturePath(t, tc.name)
			tc.build(t, p)
			opts := DefaultOptions()
			opts.Hidden = strings.HasSuffix(tc.name, "-hidden")
			dag, _ := newDAG()
			c, _ := openImport(t, dag, p, opts)
			if got, want := c.String(), golden[tc.name]; got != want {
				t.Errorf("root CID = %s, Kubo gives %s", got, want)
			}
			// Same folder twice, same CID (a fresh DAG service each time).
			dag2, _ := newDAG()
			if c2, _ := openImport(t, dag2, p, opts); c2 != c {
				t.Errorf("second import gave %s, first %s", c2, c)
			}
		})
	}
}

func TestShardedDirectory(t *testing.T) {
	src := fixtureDir(t, "sharded")
	makeSharded(t, src)
	dag, _ := newDAG()
	c, totals := openImport(t, dag, src, DefaultOptions())
	if want := kuboCIDs(t)["sharded"]; c.String() != want {
		t.Errorf("root CID = %s, Kubo gives %s", c, want)
	}
	if totals.Files != shardedEntries+1 {
		t.Errorf("totals.Files = %d, want %d", totals.Files, shardedEntries+1)
	}
	root, err := dag.Get(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	var sub cid.Cid
	for _, l := range root.Links() {
		if l.Name == "bolts" {
			sub = l.Cid
		}
	}
	nd, err := dag.Get(context.Background(), sub)
	if err != nil {
		t.Fatal(err)
	}
	fsn, err := unixfs.ExtractFSNode(nd)
	if err != nil {
		t.Fatal(err)
	}
	if fsn.Type() != unixfs.THAMTShard {
		t.Fatalf("bolts/ is UnixFS type %v, want a HAMT shard", fsn.Type())
	}
	dst := filepath.Join(t.TempDir(), "copy")
	if err := Write(context.Background(), dag, c, dst, WriteOptions{}); err != nil {
		t.Fatalf("Write: %v", err)
	}
	compareTrees(t, listTree(t, src, false), listTree(t, dst, true))
}

// leaves returns the CIDs of the leaf blocks of the file DAG at c.
func leaves(t testing.TB, dag ipld.DAGService, c cid.Cid) []cid.Cid {
	t.Helper()
	nd, err := dag.Get(context.Background(), c)
	if err != nil {
		t.Fatal(err)
	}
	if len(nd.Links()) == 0 {
		return []cid.Cid{c}
	}
	var out []cid.Cid
	for _, l := range nd.Links() {
		out = append(out, leaves(t, dag, l.Cid)...)
	}
	return out
}

// TestChunkingLocality checks that buzhash makes an edit in the middle of a
// large file change only a few leaf blocks, even when the edit shifts the
// rest of the file, where fixed-size chunks change every block after it.
func TestChunkingLocality(t *testing.T) {
	const size = 20 << 20
	orig := randBytes("locality", size)
	edit := bytes.Repeat([]byte{'E'}, 100)
	mid := size / 2
	inserted := append(append(append([]byte{}, orig[:mid]...), edit...), orig[mid:]...)

	importLeaves := func(chunker string, data []byte) []cid.Cid {
		dag, _ := newDAG()
		opts := DefaultOptions()
		opts.Chunker = chunker
		c, err := Import(context.Background(), dag, files.NewBytesFile(data), opts)
		if err != nil {
			t.Fatal(err)
		}
		return leaves(t, dag, c)
	}
	changed := func(before, after []cid.Cid) int {
		old := make(map[cid.Cid]bool)
		for _, c := range before {
			old[c] = true
		}
		n := 0
		for _, c := range after {
			if !old[c] {
				n++
			}
		}
		return n
	}

	base := importLeaves("buzhash", orig)
	if len(base) < 40 {
		t.Fatalf("20 MiB gave %d buzhash leaves, want at least 40", len(base))
	}
	n := changed(base, importLeaves("buzhash", inserted))
	t.Logf("buzhash, 100-byte insert: %d of %d leaves changed", n, len(base))
	if n < 1 || n > 3 {
		t.Errorf("buzhash, 100-byte insert: %d of %d leaves changed, want 1 to 3", n, len(base))
	}

	fixed := importLeaves("size-262144", orig)
	n = changed(fixed, importLeaves("size-262144", inserted))
	t.Logf("fixed size, 100-byte insert: %d of %d leaves changed", n, len(fixed))
	if n < len(fixed)/2-1 {
		t.Errorf("fixed-size chunks, 100-byte insert: %d of %d leaves changed, want about half", n, len(fixed))
	}
}

func TestImportOptions(t *testing.T) {
	data := randBytes("options", 600<<10)
	tests := []struct {
		name    string
		opts    Options
		wantErr bool
		check   func(t *testing.T, dag ipld.DAGService, c cid.Cid)
	}{
		{name: "zero options are CIDv1 buzhash", opts: Options{}, check: func(t *testing.T, dag ipld.DAGService, c cid.Cid) {
			if c.Version() != 1 {
				t.Errorf("CID version %d, want 1", c.Version())
			}
		}},
		{name: "raw leaves", opts: DefaultOptions(), check: func(t *testing.T, dag ipld.DAGService, c cid.Cid) {
			for _, l := range leaves(t, dag, c) {
				if l.Type() != cid.Raw {
					t.Errorf("leaf %s is not raw", l)
				}
			}
		}},
		{name: "dag-pb leaves", opts: Options{Chunker: "size-65536"}, check: func(t *testing.T, dag ipld.DAGService, c cid.Cid) {
			ls := leaves(t, dag, c)
			if len(ls) != 10 {
				t.Errorf("%d leaves, want 10", len(ls))
			}
			for _, l := range ls {
				if l.Type() != cid.DagProtobuf {
					t.Errorf("leaf %s is not dag-pb", l)
				}
			}
		}},
		{name: "bad chunker", opts: Options{Chunker: "zigzag"}, wantErr: true},
		{name: "CIDv0 refused", opts: Options{CIDVersion: 2}, wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dag, _ := newDAG()
			c, err := Import(context.Background(), dag, files.NewBytesFile(data), tc.opts)
			if tc.wantErr {
				if err == nil || c.Defined() {
					t.Fatalf("Import = %v, %v; want an error", c, err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			tc.check(t, dag, c)
			var buf bytes.Buffer
			dst := filepath.Join(t.TempDir(), "f")
			if err := Write(context.Background(), dag, c, dst, WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(dst)
			if err != nil {
				t.Fatal(err)
			}
			buf.Write(b)
			if !bytes.Equal(buf.Bytes(), data) {
				t.Errorf("written file differs from the imported one")
			}
		})
	}
}

// TestEmptyDirNode checks the empty directory against boxo's own.
func TestEmptyDirNode(t *testing.T) {
	dag, _ := newDAG()
	c, err := Import(context.Background(), dag, files.NewMapDirectory(nil), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	want := unixfs.EmptyDirNode()
	prefix, _ := merkledag.PrefixForCidVersion(1)
	if err := want.SetCidBuilder(prefix); err != nil {
		t.Fatal(err)
	}
	if c != want.Cid() {
		t.Errorf("empty directory = %s, want %s", c, want.Cid())
	}
}

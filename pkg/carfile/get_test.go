package carfile

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/ipld/merkledag"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	carblockstore "github.com/ipld/go-car/v2/blockstore"
)

var (
	_ BlockGetter = blockstore.Blockstore(nil)
	_ BlockPutter = blockstore.Blockstore(nil)
	_ BlockPutter = (*carblockstore.ReadWrite)(nil)
)

// TestGetFlow follows the package doc's recipe for `commons get`: spool
// the stream to a file, Verify it, open it with go-car's read-only
// blockstore and read the bundle's files from it.
func TestGetFlow(t *testing.T) {
	ctx := context.Background()
	src := newStore()
	b := buildBundle(t, src)
	stream, done := feedPipe(exportCAR(t, src, b.root))
	defer done()

	f, err := os.CreateTemp(t.TempDir(), "get-*.car")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := io.Copy(f, stream); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	res, err := Verify(ctx, f, ImportOptions{RequireComplete: true})
	if err != nil {
		t.Fatalf("Verify: %v", err)
	}
	bs, err := carblockstore.OpenReadOnly(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	defer bs.Close()
	dag := merkledag.NewDAGService(blockservice.New(bs, nil))

	// Walk the directory tree from the root and read every file.
	got := map[string][]byte{}
	var walk func(prefix string, c cid.Cid)
	walk = func(prefix string, c cid.Cid) {
		n, err := dag.Get(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		if dir, err := uio.NewDirectoryFromNode(dag, n); err == nil {
			links, err := dir.Links(ctx)
			if err != nil {
				t.Fatal(err)
			}
			for _, l := range links {
				walk(prefix+l.Name+"/", l.Cid)
			}
			return
		}
		r, err := uio.NewDagReader(ctx, n, dag)
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		got[prefix[:len(prefix)-1]] = data
	}
	walk("", res.Roots[0])
	if len(got) != len(b.files) {
		t.Fatalf("read %d files, want %d", len(got), len(b.files))
	}
	for name, want := range b.files {
		if !bytes.Equal(got[name], want) {
			t.Fatalf("file %s differs", name)
		}
	}
}

// Import into a go-car read-write blockstore, whose roots are not known
// before the import.
func TestImportIntoCarBlockstore(t *testing.T) {
	ctx := context.Background()
	src := newStore()
	b := buildBundle(t, src)
	path := filepath.Join(t.TempDir(), "tmp.car")
	rw, err := carblockstore.OpenReadWrite(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Discard()
	res, err := Import(ctx, bytes.NewReader(exportCAR(t, src, b.root)), rw, ImportOptions{RequireComplete: true})
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	for _, c := range storeKeys(t, src) {
		want, _ := src.Get(ctx, c)
		got, err := rw.Get(ctx, c)
		if err != nil {
			t.Fatalf("block %s: %v", c, err)
		}
		if !bytes.Equal(got.RawData(), want.RawData()) {
			t.Fatalf("block %s differs", c)
		}
	}
	if res.Blocks != int64(len(storeKeys(t, src))) {
		t.Fatalf("result %d blocks", res.Blocks)
	}
}

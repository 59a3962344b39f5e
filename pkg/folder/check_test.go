package folder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// fileOf adds a UnixFS file node over children, with the block sizes
// and file size given, true or not.
func fileOf(t testing.TB, dag ipld.DAGService, children []ipld.Node, blocksize, filesize uint64) ipld.Node {
	t.Helper()
	fsn := unixfs.NewFSNode(unixfs.TFile)
	for range children {
		fsn.AddBlockSize(blocksize)
	}
	fsn.UpdateFilesize(int64(filesize) - int64(fsn.FileSize()))
	data, err := fsn.GetBytes()
	if err != nil {
		t.Fatal(err)
	}
	nd := merkledag.NodeWithData(data)
	if err := nd.SetCidBuilder(v1); err != nil {
		t.Fatal(err)
	}
	links := make([]*ipld.Link, len(children))
	for i, c := range children {
		links[i] = &ipld.Link{Cid: c.Cid()}
	}
	if err := nd.SetLinks(links); err != nil {
		t.Fatal(err)
	}
	return addNode(t, dag, nd)
}

func copiesOf(nd ipld.Node, n int) []named {
	out := make([]named, n)
	for i := range out {
		out[i] = named{fmt.Sprintf("copy-%05d", i), nd}
	}
	return out
}

func TestOverexpands(t *testing.T) {
	for _, tc := range []struct {
		total, distinct int64
		want            bool
	}{
		{0, 0, false},
		{10 << 30, 10 << 30, false},     // nothing repeated
		{64 << 20, 0, false},            // the floor
		{64<<20 + 1, 0, true},           // past it, from nothing
		{9 << 30, 1 << 30, false},       // eight copies more
		{9<<30 + 1, 1 << 30, true},      // and a byte
		{100000 << 20, 1 << 20, true},   // 1 MiB linked 100,000 times
		{100 << 20, 50 << 20, false},    // a folder with its files twice
		{1 << 62, 1 << 62, false},       // no overflow
		{1<<62 - 1, 1<<62 - 1, false},   // nor here
		{1 << 62, 1<<62 - 1<<30, false}, // a gigabyte repeated in an exabyte
		{1 << 62, 1 << 58, true},        // fifteen copies more
		{1 << 62, 1<<60 + 1<<58, false}, // eleven in five
	} {
		if got := Overexpands(tc.total, tc.distinct); got != tc.want {
			t.Errorf("Overexpands(%d, %d) = %v, want %v", tc.total, tc.distinct, got, tc.want)
		}
	}
}

func TestCheck(t *testing.T) {
	ctx := context.Background()
	dag, _ := newDAG()
	ok := fileNode(t, dag, "payload")
	mb := fileNode(t, dag, string(bytes.Repeat([]byte("m"), 1<<20)))
	// A file of 100 links to the 1 MiB leaf, claiming (truly) 100 MiB.
	bombFile := fileOf(t, dag, repeatNode(mb, 100), 1<<20, 100<<20)
	deep := dirNode(t, dag, named{"ok", ok})
	for range MaxDepth {
		deep = dirNode(t, dag, named{"d", deep})
	}
	honest := dirNode(t, dag, named{"a.stl", mb}, named{"sub", dirNode(t, dag, named{"b.txt", ok}, named{"l", linkNode(t, dag, "b.txt")})})

	sum, err := Check(ctx, dag, honest.Cid(), Limits{MaxEntries: 4, MaxBytes: 2 << 20})
	if err != nil {
		t.Fatalf("Check(honest) = %v", err)
	}
	if want := (Summary{Entries: 4, Bytes: 1<<20 + 7, Distinct: 1<<20 + 7}); sum != want {
		t.Errorf("Check(honest) = %+v, want %+v", sum, want)
	}

	for _, tc := range []struct {
		name string
		root ipld.Node
		lim  Limits
		want error
		says string
	}{
		{"entries", honest, Limits{MaxEntries: 3}, ErrTooLarge, "more than 3 entries"},
		{"bytes", honest, Limits{MaxBytes: 1 << 20}, ErrTooLarge, "more than 1048576 bytes"},
		{"wide directory", dirNode(t, dag, copiesOf(ok, 50)...), Limits{MaxEntries: 10}, ErrTooLarge, "more than 10 entries"},
		{"folder bomb", dirNode(t, dag, copiesOf(mb, 100)...), Limits{}, ErrExpands, "copy-00065: 69206016 bytes of files made of 1048576"},
		{"file bomb", bombFile, Limits{}, ErrExpands, "104857600 bytes of files made of 1048576"},
		{"file bomb in a folder", dirNode(t, dag, named{"x", bombFile}), Limits{}, ErrExpands, "check x:"},
		{"file claiming an exabyte", fileOf(t, dag, []ipld.Node{ok}, 7, 1<<63), Limits{}, ErrTooLarge, "claims"},
		{"too deep", deep, Limits{}, ErrTooDeep, "more than 1000 levels"},
		{"unsafe name", dirNode(t, dag, named{"ok", ok}, named{"../x", ok}), Limits{}, ErrUnsafeName, `"../x"`},
		{"duplicate", dirNode(t, dag, named{"a", ok}, named{"a", mb}), Limits{}, ErrDuplicateName, `"a"`},
		{"escaping symlink", dirNode(t, dag, named{"sub", dirNode(t, dag, named{"l", linkNode(t, dag, "../../x")})}), Limits{}, ErrSymlinkEscapes, "sub/l: -> ../../x"},
		{"lone symlink", linkNode(t, dag, "x"), Limits{}, ErrSymlinkEscapes, "on its own"},
		{"wide HAMT", dirNode(t, dag, named{"w", dataNode(t, dag, []byte{0x08, 0x05, 0x28, 0x22, 0x30, 0x80, 0x80, 0x40})}), Limits{}, ErrUnknownType, "fanout 1048576"},
		{"HAMT sub-shard that is a file", hamtWith(t, dag, "5C", ok), Limits{}, ErrUnknownType, "cannot be read"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Check(ctx, dag, tc.root.Cid(), tc.lim)
			if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
				t.Errorf("Check = %v, want %v saying %q", err, tc.want, tc.says)
			}
		})
	}
}

func repeatNode(nd ipld.Node, n int) []ipld.Node {
	out := make([]ipld.Node, n)
	for i := range out {
		out[i] = nd
	}
	return out
}

// hamtWith adds a 256-wide HAMT shard holding one link, as given, at
// the index its two-digit prefix names.
func hamtWith(t testing.TB, dag ipld.DAGService, name string, child ipld.Node) ipld.Node {
	t.Helper()
	var idx int
	if _, err := fmt.Sscanf(name[:2], "%X", &idx); err != nil {
		t.Fatal(err)
	}
	bits := make([]byte, 32)
	bits[31-idx/8] = 1 << (idx % 8)
	data, err := unixfs.HAMTShardData(bytes.TrimLeft(bits, "\x00"), 256, 0x22)
	if err != nil {
		t.Fatal(err)
	}
	nd := merkledag.NodeWithData(data)
	if err := nd.SetCidBuilder(v1); err != nil {
		t.Fatal(err)
	}
	if err := nd.AddRawLink(name, &ipld.Link{Cid: child.Cid()}); err != nil {
		t.Fatal(err)
	}
	return addNode(t, dag, nd)
}

// TestWriteBomb writes DAG bombs: Write stops when what it wrote repeats
// the blocks it read too often, and leaves nothing behind.
func TestWriteBomb(t *testing.T) {
	dag, _ := newDAG()
	mb := fileNode(t, dag, string(bytes.Repeat([]byte("m"), 1<<20)))
	for _, tc := range []struct {
		name string
		root cid.Cid
		says string
	}{
		{"folder", dirNode(t, dag, copiesOf(mb, 1000)...).Cid(), "copy-000"},
		// Its root claims 1 byte: what is written is measured, not claimed.
		{"file claiming one byte", fileOf(t, dag, repeatNode(mb, 1000), 1<<20, 1).Cid(), "file"},
		{"file", fileOf(t, dag, repeatNode(mb, 1000), 1<<20, 1000<<20).Cid(), "file"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			sandbox, target := writeSandbox(t)
			err := Write(context.Background(), dag, tc.root, target, WriteOptions{})
			if !errors.Is(err, ErrExpands) || !strings.Contains(err.Error(), tc.says) {
				t.Fatalf("Write = %v, want ErrExpands naming %s", err, tc.says)
			}
			checkNothingWritten(t, sandbox)
		})
	}

	// An honest folder that repeats a file a few times is written.
	sandbox := t.TempDir()
	target := filepath.Join(sandbox, "copy")
	root := dirNode(t, dag, copiesOf(mb, 40)...)
	if err := Write(context.Background(), dag, root.Cid(), target, WriteOptions{}); err != nil {
		t.Fatalf("Write(40 copies of 1 MiB) = %v", err)
	}
	if n := len(dirNames(t, target)); n != 40 {
		t.Errorf("wrote %d files, want 40", n)
	}
}

package carfile

import (
	"bytes"
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	"github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	ipld "github.com/ipfs/go-ipld-format"
	car "github.com/ipld/go-car/v2"
	"github.com/ipld/go-car/v2/storage"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	mh "github.com/multiformats/go-multihash"
	"github.com/multiformats/go-varint"
)

// prefix is how bundles are built: CIDv1, dag-pb nodes, raw leaves, sha2-256.
var prefix = cid.Prefix{Version: 1, Codec: cid.DagProtobuf, MhType: mh.SHA2_256, MhLength: -1}

func newStore() blockstore.Blockstore {
	return blockstore.NewBlockstore(dssync.MutexWrap(datastore.NewMapDatastore()))
}

func dagService(bs blockstore.Blockstore) ipld.DAGService {
	return merkledag.NewDAGService(blockservice.New(bs, nil))
}

// content returns n deterministic pseudo-random bytes.
func content(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 42))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// addFile imports data as a UnixFS file: chunk-byte raw leaves under a
// balanced tree of at most 4 links per node, so modest sizes give several
// levels.
func addFile(t testing.TB, dserv ipld.DAGService, data []byte, chunk int64) ipld.Node {
	t.Helper()
	params := helpers.DagBuilderParams{Maxlinks: 4, RawLeaves: true, CidBuilder: prefix, Dagserv: dserv}
	db, err := params.New(chunker.NewSizeSplitter(bytes.NewReader(data), chunk))
	if err != nil {
		t.Fatal(err)
	}
	n, err := balanced.Layout(db)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// bundle is a UnixFS directory built into a store.
type bundle struct {
	root  cid.Cid
	files map[string][]byte // path -> content
	file  cid.Cid           // root of the multi-block file "big.bin"
	leaf  cid.Cid           // one raw leaf of "big.bin"
}

// buildBundle builds a directory with a one-block file, two multi-block
// files (one with a two-level tree) and a nested directory.
func buildBundle(t testing.TB, bs blockstore.Blockstore) bundle {
	t.Helper()
	ctx := context.Background()
	dserv := dagService(bs)
	b := bundle{files: map[string][]byte{
		"readme.txt":        []byte("a small open-hardware bundle\n"),
		"big.bin":           content(1, 20<<10),
		"sub/bom.csv":       content(2, 3000),
		"sub/notes.txt":     []byte("nested\n"),
		"sub/deeper/x.step": content(3, 5000),
	}}
	mkdir := func() uio.Directory {
		d, err := uio.NewDirectory(dserv, uio.WithCidBuilder(prefix))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	add := func(d uio.Directory, name string, n ipld.Node) {
		if err := d.AddChild(ctx, name, n); err != nil {
			t.Fatal(err)
		}
	}
	finish := func(d uio.Directory) ipld.Node {
		n, err := d.GetNode()
		if err != nil {
			t.Fatal(err)
		}
		if err := dserv.Add(ctx, n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	deeper := mkdir()
	add(deeper, "x.step", addFile(t, dserv, b.files["sub/deeper/x.step"], 1024))
	sub := mkdir()
	add(sub, "bom.csv", addFile(t, dserv, b.files["sub/bom.csv"], 1024))
	add(sub, "notes.txt", addFile(t, dserv, b.files["sub/notes.txt"], 1024))
	add(sub, "deeper", finish(deeper))
	top := mkdir()
	add(top, "readme.txt", addFile(t, dserv, b.files["readme.txt"], 1024))
	big := addFile(t, dserv, b.files["big.bin"], 1024)
	add(top, "big.bin", big)
	add(top, "sub", finish(sub))
	b.root = finish(top).Cid()
	b.file = big.Cid()
	// Walk down big.bin's first links to a raw leaf.
	n := big
	for len(n.Links()) > 0 {
		var err error
		if n, err = n.Links()[0].GetNode(ctx, dserv); err != nil {
			t.Fatal(err)
		}
	}
	b.leaf = n.Cid()
	return b
}

// exportCAR exports roots from bg and returns the CAR bytes.
func exportCAR(t testing.TB, bg BlockGetter, roots ...cid.Cid) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := Export(context.Background(), bg, roots, &buf, ExportOptions{}); err != nil {
		t.Fatalf("Export: %v", err)
	}
	return buf.Bytes()
}

// section is one block section of a CAR as go-car reads it.
type section struct {
	cid    cid.Cid
	data   []byte
	offset int64 // of the section, in the file
}

// readSections parses a CAR with go-car alone (no code of ours).
func readSections(t testing.TB, data []byte) ([]cid.Cid, []section) {
	t.Helper()
	br, err := car.NewBlockReader(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	var out []section
	for {
		md, err := br.SkipNext()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		start := int64(md.SourceOffset)
		end := start + int64(varint.UvarintSize(uint64(md.ByteLen())+md.Size)) + int64(md.ByteLen()) + int64(md.Size)
		out = append(out, section{cid: md.Cid, data: data[end-int64(md.Size) : end], offset: start})
	}
	return br.Roots, out
}

// header returns the bytes of a CARv1 header naming roots, as go-car writes it.
func header(t testing.TB, roots ...cid.Cid) []byte {
	t.Helper()
	var buf bytes.Buffer
	if _, err := storage.NewWritable(&buf, roots, car.WriteAsCarV1(true)); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// appendSection appends one block section, written by hand so that tests
// can put anything in it.
func appendSection(b []byte, c cid.Cid, data []byte) []byte {
	b = append(b, varint.ToUvarint(uint64(c.ByteLen()+len(data)))...)
	b = append(b, c.Bytes()...)
	return append(b, data...)
}

// buildCAR writes a CARv1 by hand: header naming roots, then the blocks as given.
func buildCAR(t testing.TB, roots []cid.Cid, blks ...blocks.Block) []byte {
	t.Helper()
	b := header(t, roots...)
	for _, blk := range blks {
		b = appendSection(b, blk.Cid(), blk.RawData())
	}
	return b
}

// storeKeys returns the CIDs in bs.
func storeKeys(t testing.TB, bs blockstore.Blockstore) []cid.Cid {
	t.Helper()
	ch, err := bs.AllKeysChan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []cid.Cid
	for c := range ch {
		out = append(out, c)
	}
	return out
}

func assertEmpty(t testing.TB, bs blockstore.Blockstore) {
	t.Helper()
	if keys := storeKeys(t, bs); len(keys) != 0 {
		t.Fatalf("store holds %d blocks after a failed import, want 0", len(keys))
	}
}

// assertSameBlocks checks that dst holds exactly the blocks of src.
func assertSameBlocks(t testing.TB, src, dst blockstore.Blockstore) {
	t.Helper()
	ctx := context.Background()
	srcKeys, dstKeys := storeKeys(t, src), storeKeys(t, dst)
	if len(srcKeys) != len(dstKeys) {
		t.Fatalf("destination holds %d blocks, source %d", len(dstKeys), len(srcKeys))
	}
	for _, c := range srcKeys {
		want, err := src.Get(ctx, c)
		if err != nil {
			t.Fatal(err)
		}
		got, err := dst.Get(ctx, c)
		if err != nil {
			t.Fatalf("block %s not imported: %v", c, err)
		}
		if !bytes.Equal(got.RawData(), want.RawData()) {
			t.Fatalf("block %s differs after import", c)
		}
	}
}

// rawBlock makes a raw block with a sha2-256 CIDv1.
func rawBlock(t testing.TB, data []byte) blocks.Block {
	t.Helper()
	c, err := cid.V1Builder{Codec: cid.Raw, MhType: mh.SHA2_256}.Sum(data)
	if err != nil {
		t.Fatal(err)
	}
	blk, err := blocks.NewBlockWithCid(data, c)
	if err != nil {
		t.Fatal(err)
	}
	return blk
}

// cborBlock encodes a dag-cbor map built by fn, hashed with sha2-256, or
// inlined in an identity CID when identity is set.
func cborBlock(t testing.TB, identity bool, fn func(ma datamodel.MapAssembler)) blocks.Block {
	t.Helper()
	n, err := qp.BuildMap(basicnode.Prototype.Any, -1, fn)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := dagcbor.Encode(n, &buf); err != nil {
		t.Fatal(err)
	}
	mhType := uint64(mh.SHA2_256)
	if identity {
		mhType = mh.IDENTITY
	}
	c, err := cid.V1Builder{Codec: cid.DagCBOR, MhType: mhType}.Sum(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	blk, err := blocks.NewBlockWithCid(buf.Bytes(), c)
	if err != nil {
		t.Fatal(err)
	}
	return blk
}

// wantCheck asserts that err is an *Error wrapping want, and returns it.
func wantCheck(t testing.TB, err, want error) *Error {
	t.Helper()
	if !errors.Is(err, want) {
		t.Fatalf("error = %v, want %v", err, want)
	}
	var ce *Error
	if !errors.As(err, &ce) {
		t.Fatalf("error %v is not a *carfile.Error", err)
	}
	return ce
}

// withoutBlock returns the sections of a CAR other than the one for c,
// reassembled under the same header.
func withoutBlock(t testing.TB, carBytes []byte, c cid.Cid) []byte {
	t.Helper()
	roots, secs := readSections(t, carBytes)
	out := header(t, roots...)
	found := false
	for _, s := range secs {
		if s.cid.Equals(c) {
			found = true
			continue
		}
		out = appendSection(out, s.cid, s.data)
	}
	if !found {
		t.Fatalf("block %s not in CAR", c)
	}
	return out
}

func cidsOf(secs []section) []cid.Cid {
	out := make([]cid.Cid, len(secs))
	for i, s := range secs {
		out[i] = s.cid
	}
	return out
}

func containsCid(cs []cid.Cid, c cid.Cid) bool {
	return slices.ContainsFunc(cs, c.Equals)
}

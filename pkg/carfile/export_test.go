package carfile

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	mh "github.com/multiformats/go-multihash"
)

// preorder computes the expected export order with boxo's merkledag
// decoder, independently of the package's own link decoding: depth first,
// each node before its children, children in link order, each block once.
func preorder(t *testing.T, bs blockstore.Blockstore, roots ...cid.Cid) []cid.Cid {
	t.Helper()
	seen := map[cid.Cid]bool{}
	var out []cid.Cid
	var visit func(c cid.Cid)
	visit = func(c cid.Cid) {
		if seen[c] {
			return
		}
		seen[c] = true
		out = append(out, c)
		if c.Type() != cid.DagProtobuf {
			return
		}
		blk, err := bs.Get(context.Background(), c)
		if err != nil {
			t.Fatal(err)
		}
		pn, err := merkledag.DecodeProtobuf(blk.RawData())
		if err != nil {
			t.Fatal(err)
		}
		for _, l := range pn.Links() {
			visit(l.Cid)
		}
	}
	for _, r := range roots {
		visit(r)
	}
	return out
}

func TestExportOrder(t *testing.T) {
	bs := newStore()
	b := buildBundle(t, bs)
	all := storeKeys(t, bs)

	tests := []struct {
		name  string
		roots []cid.Cid
	}{
		{"directory", []cid.Cid{b.root}},
		{"file then its directory", []cid.Cid{b.file, b.root}},
		{"directory then a file inside it", []cid.Cid{b.root, b.file}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			roots, secs := readSections(t, exportCAR(t, bs, tt.roots...))
			if !slices.EqualFunc(roots, tt.roots, cid.Cid.Equals) {
				t.Fatalf("header roots = %v, want %v", roots, tt.roots)
			}
			got := cidsOf(secs)
			want := preorder(t, bs, tt.roots...)
			if !slices.EqualFunc(got, want, cid.Cid.Equals) {
				t.Fatalf("export order:\n got %v\nwant %v", got, want)
			}
			// Every block of the store is reachable from the directory.
			if len(got) != len(all) {
				t.Fatalf("exported %d blocks, store has %d", len(got), len(all))
			}
			for _, s := range secs {
				if err := checkHash(s.cid, s.data, s.offset); err != nil {
					t.Fatalf("exported block: %v", err)
				}
			}
		})
	}
}

// Exporting through a blockservice, as `commons export` does to fetch
// missing blocks, gives the same CAR as exporting from the blockstore.
func TestExportThroughBlockService(t *testing.T) {
	bs := newStore()
	b := buildBundle(t, bs)
	bserv := blockservice.New(bs, nil)
	got := exportCAR(t, GetterFunc(bserv.GetBlock), b.root)
	if want := exportCAR(t, bs, b.root); !bytes.Equal(got, want) {
		t.Fatal("export through a blockservice differs from export from the blockstore")
	}
}

func TestExportProgress(t *testing.T) {
	bs := newStore()
	b := buildBundle(t, bs)
	var calls, lastBlocks, lastBytes int64
	var buf bytes.Buffer
	err := Export(context.Background(), bs, []cid.Cid{b.root}, &buf, ExportOptions{
		Progress: func(blocks, bytes int64) {
			calls++
			if blocks != lastBlocks+1 || bytes <= lastBytes && blocks > 1 {
				t.Errorf("progress went from (%d, %d) to (%d, %d)", lastBlocks, lastBytes, blocks, bytes)
			}
			lastBlocks, lastBytes = blocks, bytes
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	_, secs := readSections(t, buf.Bytes())
	var size int64
	for _, s := range secs {
		size += int64(len(s.data))
	}
	if calls != int64(len(secs)) || lastBlocks != int64(len(secs)) || lastBytes != size {
		t.Fatalf("progress: %d calls, last (%d, %d); want %d calls, (%d, %d)", calls, lastBlocks, lastBytes, len(secs), len(secs), size)
	}
}

func TestExportMissingBlock(t *testing.T) {
	bs := newStore()
	b := buildBundle(t, bs)
	if err := bs.DeleteBlock(context.Background(), b.leaf); err != nil {
		t.Fatal(err)
	}
	err := Export(context.Background(), bs, []cid.Cid{b.root}, io.Discard, ExportOptions{})
	ce := wantCheck(t, err, ErrBlockUnavailable)
	if !ce.Cid.Equals(b.leaf) {
		t.Fatalf("error names %s, want the missing leaf %s", ce.Cid, b.leaf)
	}
	if !strings.Contains(err.Error(), b.leaf.String()) {
		t.Fatalf("message %q does not name the missing block %s", err, b.leaf)
	}
	if !errors.Is(err, ipld.ErrNotFound{}) {
		t.Fatalf("error %v does not wrap the blockstore's not-found error", err)
	}
}

func TestExportCorruptBlock(t *testing.T) {
	bs := newStore()
	b := buildBundle(t, bs)
	ctx := context.Background()
	bad, err := blocks.NewBlockWithCid([]byte("not what the CID says"), b.leaf)
	if err != nil {
		t.Fatal(err)
	}
	if err := bs.DeleteBlock(ctx, b.leaf); err != nil {
		t.Fatal(err)
	}
	if err := bs.Put(ctx, bad); err != nil {
		t.Fatal(err)
	}
	err = Export(ctx, bs, []cid.Cid{b.root}, io.Discard, ExportOptions{})
	if ce := wantCheck(t, err, ErrHashMismatch); !ce.Cid.Equals(b.leaf) {
		t.Fatalf("error names %s, want %s", ce.Cid, b.leaf)
	}
}

func TestExportCodecs(t *testing.T) {
	ctx := context.Background()
	bs := newStore()
	leaf := rawBlock(t, []byte("leaf under an identity node"))
	other := rawBlock(t, []byte("second leaf"))
	// An identity-hashed dag-cbor node: not written, but its link is followed.
	inline := cborBlock(t, true, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "x", qp.Link(cidlink.Link{Cid: leaf.Cid()}))
	})
	root := cborBlock(t, false, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "a", qp.Link(cidlink.Link{Cid: inline.Cid()}))
		qp.MapEntry(ma, "b", qp.List(-1, func(la datamodel.ListAssembler) {
			qp.ListEntry(la, qp.Link(cidlink.Link{Cid: other.Cid()}))
			qp.ListEntry(la, qp.Link(cidlink.Link{Cid: leaf.Cid()}))
		}))
	})
	for _, blk := range []blocks.Block{leaf, other, root} {
		if err := bs.Put(ctx, blk); err != nil {
			t.Fatal(err)
		}
	}
	if !isIdentity(inline.Cid()) {
		t.Fatal("test setup: inline node is not identity-hashed")
	}

	t.Run("identity node followed, not written", func(t *testing.T) {
		roots, secs := readSections(t, exportCAR(t, bs, root.Cid()))
		want := []cid.Cid{root.Cid(), leaf.Cid(), other.Cid()}
		if got := cidsOf(secs); !slices.EqualFunc(got, want, cid.Cid.Equals) {
			t.Fatalf("exported %v, want %v", got, want)
		}
		if len(roots) != 1 || !roots[0].Equals(root.Cid()) {
			t.Fatalf("roots = %v", roots)
		}
	})

	t.Run("identity root", func(t *testing.T) {
		roots, secs := readSections(t, exportCAR(t, bs, inline.Cid()))
		if len(roots) != 1 || !roots[0].Equals(inline.Cid()) {
			t.Fatalf("roots = %v, want the identity root", roots)
		}
		if got := cidsOf(secs); len(got) != 1 || !got[0].Equals(leaf.Cid()) {
			t.Fatalf("exported %v, want just %s", got, leaf.Cid())
		}
	})

	t.Run("unsupported codec", func(t *testing.T) {
		gitData := []byte("blob 3\x00abc")
		gc, err := cid.V1Builder{Codec: cid.GitRaw, MhType: mh.SHA1}.Sum(gitData)
		if err != nil {
			t.Fatal(err)
		}
		gb, _ := blocks.NewBlockWithCid(gitData, gc)
		if err := bs.Put(ctx, gb); err != nil {
			t.Fatal(err)
		}
		err = Export(ctx, bs, []cid.Cid{gc}, io.Discard, ExportOptions{})
		if ce := wantCheck(t, err, ErrUndecodable); !ce.Cid.Equals(gc) {
			t.Fatalf("error names %s, want %s", ce.Cid, gc)
		}
	})

	t.Run("insecure hash refused", func(t *testing.T) {
		sum, err := mh.Sum([]byte("x"), mh.MURMUR3X64_64, -1)
		if err != nil {
			t.Fatal(err)
		}
		weak := cid.NewCidV1(cid.Raw, sum)
		err = Export(ctx, bs, []cid.Cid{weak}, io.Discard, ExportOptions{})
		wantCheck(t, err, ErrUnsupportedHash)
	})
}

// An *os.File is an io.WriterAt; Export must still write from the file's
// current position, as a stream, not at offset 0.
func TestExportToFileAfterPrefix(t *testing.T) {
	bs := newStore()
	b := buildBundle(t, bs)
	path := filepath.Join(t.TempDir(), "out.car")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	const prefix = "PREFIX-"
	if _, err := f.WriteString(prefix); err != nil {
		t.Fatal(err)
	}
	if err := Export(context.Background(), bs, []cid.Cid{b.root}, f, ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want := exportCAR(t, bs, b.root)
	if !bytes.Equal(got, append([]byte(prefix), want...)) {
		t.Fatalf("file holds %d bytes, want prefix + %d-byte CAR", len(got), len(want))
	}
}

func TestExportArguments(t *testing.T) {
	bs := newStore()
	b := buildBundle(t, bs)
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name  string
		ctx   context.Context
		roots []cid.Cid
		is    error
	}{
		{"no roots", context.Background(), nil, nil},
		{"undefined root", context.Background(), []cid.Cid{cid.Undef}, nil},
		{"cancelled", cancelled, []cid.Cid{b.root}, context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := Export(tt.ctx, bs, tt.roots, io.Discard, ExportOptions{})
			if err == nil {
				t.Fatal("Export succeeded")
			}
			if tt.is != nil && !errors.Is(err, tt.is) {
				t.Fatalf("error = %v, want %v", err, tt.is)
			}
		})
	}
}

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

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	car "github.com/ipld/go-car/v2"
	"github.com/ipld/go-car/v2/storage"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	mh "github.com/multiformats/go-multihash"
)

// readerOnly hides every method but Read, so Import must spool.
type readerOnly struct{ io.Reader }

// assertDirEmpty checks that no spool file was left behind.
func assertDirEmpty(t testing.TB, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Fatalf("%d files left in the temp dir, e.g. %s", len(entries), entries[0].Name())
	}
}

// feedPipe returns the read end of an io.Pipe fed with data, and a
// function to call once the reader is done with it.
func feedPipe(data []byte) (io.Reader, func()) {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, err := pw.Write(data)
		pw.CloseWithError(err)
	}()
	return pr, func() { pr.Close(); <-done }
}

// feedOSPipe is feedPipe with an operating-system pipe: an *os.File whose
// Seek fails, as when a CAR is piped into `commons import -`.
func feedOSPipe(t testing.TB, data []byte) (io.Reader, func()) {
	t.Helper()
	pr, pw, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_, _ = pw.Write(data)
		pw.Close()
	}()
	return pr, func() { pr.Close(); <-done }
}

func TestImportRoundTrip(t *testing.T) {
	src := newStore()
	b := buildBundle(t, src)
	good := exportCAR(t, src, b.root)
	nBlocks := int64(len(storeKeys(t, src)))
	_, secs := readSections(t, good)
	var nBytes int64
	for _, s := range secs {
		nBytes += int64(len(s.data))
	}

	tests := []struct {
		name string
		open func(t *testing.T) (io.Reader, func())
	}{
		{"bytes.Reader", func(t *testing.T) (io.Reader, func()) { return bytes.NewReader(good), func() {} }},
		{"plain reader, spooled", func(t *testing.T) (io.Reader, func()) { return readerOnly{bytes.NewReader(good)}, func() {} }},
		{"io.Pipe", func(t *testing.T) (io.Reader, func()) { return feedPipe(good) }},
		{"os.Pipe", func(t *testing.T) (io.Reader, func()) { return feedOSPipe(t, good) }},
		{"file read from a non-zero offset", func(t *testing.T) (io.Reader, func()) {
			path := filepath.Join(t.TempDir(), "in.car")
			if err := os.WriteFile(path, append([]byte("junk"), good...), 0o600); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(path)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Seek(4, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			return f, func() { f.Close() }
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r, done := tt.open(t)
			defer done()
			dst := newStore()
			tmp := t.TempDir()
			var progBlocks, progBytes, checked int64
			res, err := Import(context.Background(), r, dst, ImportOptions{
				TempDir:         tmp,
				RequireComplete: true,
				Progress:        func(blocks, bytes int64) { progBlocks, progBytes = blocks, bytes },
				CheckProgress:   func(sections, bytes int64) { checked = sections },
			})
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			if len(res.Roots) != 1 || !res.Roots[0].Equals(b.root) {
				t.Fatalf("roots = %v, want [%s]", res.Roots, b.root)
			}
			if res.Blocks != nBlocks || res.Bytes != nBytes {
				t.Fatalf("result = %d blocks, %d bytes; want %d, %d", res.Blocks, res.Bytes, nBlocks, nBytes)
			}
			if progBlocks != nBlocks || progBytes != nBytes || checked != int64(len(secs)) {
				t.Fatalf("progress ended at (%d, %d), checked %d; want (%d, %d), %d", progBlocks, progBytes, checked, nBlocks, nBytes, len(secs))
			}
			assertSameBlocks(t, src, dst)
			assertDirEmpty(t, tmp)
		})
	}
}

func TestImportCARv2(t *testing.T) {
	src := newStore()
	b := buildBundle(t, src)
	v1 := exportCAR(t, src, b.root)
	_, secs := readSections(t, v1)

	var wrapped bytes.Buffer
	if err := car.WrapV1(bytes.NewReader(v1), &wrapped); err != nil {
		t.Fatal(err)
	}
	v2 := wrapped.Bytes()
	dataStart := int64(car.PragmaSize + car.HeaderSize)
	dataEnd := dataStart + int64(len(v1))

	// A CARv2 with padding before the data, written by go-car's storage.
	path := filepath.Join(t.TempDir(), "padded.car")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := storage.NewWritable(f, []cid.Cid{b.root}, car.UseDataPadding(13))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range secs {
		if err := w.Put(context.Background(), s.cid.KeyString(), s.data); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Finalize(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	padded, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name    string
		in      []byte
		want    error // nil: accepted
		wantOff int64
	}{
		{"wrapped v1 with index", v2, nil, 0},
		{"padded", padded, nil, 0},
		{"index cut off (the index is not used)", v2[:dataEnd], nil, 0},
		// A CARv1 cut between two sections looks complete; a CARv2 knows its size.
		{"cut between two sections", v2[:dataStart+secs[len(secs)-1].offset], ErrTruncated, dataStart + secs[len(secs)-1].offset},
		{"cut inside a block", v2[:dataEnd-3], ErrTruncated, dataEnd - 3},
		{"cut inside the v2 header", v2[:30], ErrTruncated, 30},
		{"cut in the padding", padded[:car.PragmaSize+car.HeaderSize+5], ErrTruncated, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, spool := range []bool{false, true} {
				var r io.Reader = bytes.NewReader(tt.in)
				if spool {
					r = readerOnly{r}
				}
				dst := newStore()
				res, err := Import(context.Background(), r, dst, ImportOptions{TempDir: t.TempDir(), RequireComplete: true})
				if tt.want == nil {
					if err != nil {
						t.Fatalf("Import (spool %v): %v", spool, err)
					}
					if len(res.Roots) != 1 || !res.Roots[0].Equals(b.root) {
						t.Fatalf("roots = %v", res.Roots)
					}
					assertSameBlocks(t, src, dst)
					continue
				}
				ce := wantCheck(t, err, tt.want)
				if tt.wantOff >= 0 && ce.Offset != tt.wantOff {
					t.Fatalf("offset = %d, want %d (%v)", ce.Offset, tt.wantOff, err)
				}
				assertEmpty(t, dst)
			}
		})
	}
}

// rejectCase is a CAR that must be refused with a given sentinel.
type rejectCase struct {
	name    string
	in      []byte
	opts    ImportOptions
	want    error
	wantCid cid.Cid // checked when defined
	wantOff *int64  // checked when set
}

func at(off int64) *int64 { return &off }

func rejectCases(t *testing.T) []rejectCase {
	src := newStore()
	b := buildBundle(t, src)
	good := exportCAR(t, src, b.root)
	_, secs := readSections(t, good)
	hl := secs[0].offset // header length
	last := secs[len(secs)-1]
	mid := secs[len(secs)/2]
	midEnd := secs[len(secs)/2+1].offset

	flip := func(at int64) []byte {
		out := bytes.Clone(good)
		out[at] ^= 0x01
		return out
	}
	firstOver := func(limit int) section {
		for _, s := range secs {
			if len(s.data) > limit {
				return s
			}
		}
		t.Fatalf("no block over %d bytes", limit)
		return section{}
	}

	absent := rawBlock(t, []byte("a block that is not in the file"))
	huge := rawBlock(t, make([]byte, DefaultMaxBlockSize+1))
	atLimit := rawBlock(t, make([]byte, DefaultMaxBlockSize))

	weakSum, err := mh.Sum([]byte("weak"), mh.MURMUR3X64_64, -1)
	if err != nil {
		t.Fatal(err)
	}
	weak := cid.NewCidV1(cid.Raw, weakSum)
	shortSum, err := mh.Sum([]byte("short"), mh.SHA2_256, 16) // truncated digest
	if err != nil {
		t.Fatal(err)
	}
	short := cid.NewCidV1(cid.Raw, shortSum)

	idCid, err := cid.V1Builder{Codec: cid.Raw, MhType: mh.IDENTITY}.Sum([]byte("inline"))
	if err != nil {
		t.Fatal(err)
	}

	// A dag-pb block whose hash is right but whose bytes are not dag-pb.
	notPB := []byte{0xff, 0xff, 0xff}
	notPBCid, err := cid.V1Builder{Codec: cid.DagProtobuf, MhType: mh.SHA2_256}.Sum(notPB)
	if err != nil {
		t.Fatal(err)
	}

	// Hand-written headers: {"roots": [], "version": 1} and version 3.
	noRoots := append([]byte{17, 0xa2, 0x65}, "roots\x80\x67version\x01"...)
	version3 := append([]byte{17, 0xa2, 0x65}, "roots\x80\x67version\x03"...)

	// A section claiming 3 bytes, fewer than its CID.
	shortSection := append(bytes.Clone(good[:hl]), 3)
	shortSection = append(shortSection, good[hl+1:]...)

	return []rejectCase{
		{name: "flipped byte in the last block", in: flip(int64(len(good)) - 1), want: ErrHashMismatch, wantCid: last.cid, wantOff: at(last.offset)},
		{name: "flipped byte in a middle block", in: flip(midEnd - 1), want: ErrHashMismatch, wantCid: mid.cid, wantOff: at(mid.offset)},
		{name: "flipped byte in a CID", in: flip(midEnd - int64(len(mid.data)) - 1), want: ErrHashMismatch, wantOff: at(mid.offset)},
		{name: "empty file", in: nil, want: ErrTruncated, wantOff: at(0)},
		{name: "cut after one byte", in: good[:1], want: ErrTruncated, wantOff: at(1)},
		{name: "cut inside the header", in: good[:hl/2], want: ErrTruncated, wantOff: at(hl / 2)},
		{name: "cut at the header's last byte", in: good[:hl-1], want: ErrTruncated, wantOff: at(hl - 1)},
		{name: "cut after a section length", in: good[:hl+1], want: ErrTruncated, wantOff: at(hl + 1)},
		{name: "cut inside a CID", in: good[:hl+6], want: ErrTruncated, wantOff: at(hl + 6)},
		{name: "cut inside the first block", in: good[:secs[1].offset-1], want: ErrTruncated, wantOff: at(secs[1].offset - 1)},
		{name: "cut inside a middle block", in: good[:midEnd-7], want: ErrTruncated, wantOff: at(midEnd - 7)},
		{name: "cut inside the last block", in: good[:len(good)-1], want: ErrTruncated, wantOff: at(int64(len(good)) - 1)},
		{name: "cut between sections, complete DAG required", in: good[:last.offset], opts: ImportOptions{RequireComplete: true}, want: ErrIncomplete, wantCid: last.cid},
		{name: "root not in the file", in: buildCAR(t, []cid.Cid{absent.Cid()}, rawBlock(t, []byte("other"))), want: ErrMissingRoot, wantCid: absent.Cid()},
		{name: "second root not in the file", in: withRoots(t, good, b.root, absent.Cid()), want: ErrMissingRoot, wantCid: absent.Cid()},
		{name: "missing leaf, complete DAG required", in: withoutBlock(t, good, b.leaf), opts: ImportOptions{RequireComplete: true}, want: ErrIncomplete, wantCid: b.leaf},
		{name: "missing directory, complete DAG required", in: withoutBlock(t, good, secs[1].cid), opts: ImportOptions{RequireComplete: true}, want: ErrIncomplete, wantCid: secs[1].cid},
		{name: "block over MaxBlockSize", in: good, opts: ImportOptions{MaxBlockSize: 512}, want: ErrBlockTooLarge, wantCid: firstOver(512).cid, wantOff: at(firstOver(512).offset)},
		{name: "block over the default limit", in: buildCAR(t, []cid.Cid{huge.Cid()}, huge), want: ErrBlockTooLarge, wantCid: huge.Cid(), wantOff: at(int64(len(header(t, huge.Cid()))))},
		{name: "block at the limit, cut short", in: buildCAR(t, []cid.Cid{atLimit.Cid()}, atLimit)[:len(header(t, atLimit.Cid()))+100], want: ErrTruncated},
		{name: "insecure hash function", in: appendSection(header(t, weak), weak, []byte("weak")), want: ErrUnsupportedHash, wantCid: weak},
		{name: "digest too short", in: appendSection(header(t, short), short, []byte("short")), want: ErrUnsupportedHash, wantCid: short},
		{name: "not a CAR", in: []byte(strings.Repeat("not a CAR file. ", 20)), want: ErrBadHeader},
		{name: "header without roots", in: noRoots, want: ErrBadHeader},
		{name: "header version 3", in: version3, want: ErrBadHeader},
		{name: "section shorter than its CID", in: shortSection, want: ErrMalformed, wantOff: at(hl)},
		{name: "zero-length section", in: append(bytes.Clone(good), 0), want: ErrMalformed, wantOff: at(int64(len(good)))},
		{name: "identity block unlike its CID", in: appendSection(header(t, idCid), idCid, []byte("different")), want: ErrHashMismatch, wantCid: idCid},
		{name: "undecodable dag-pb, complete DAG required", in: appendSection(header(t, notPBCid), notPBCid, notPB), opts: ImportOptions{RequireComplete: true}, want: ErrUndecodable, wantCid: notPBCid},
	}
}

// withRoots rewrites a CAR's header.
func withRoots(t *testing.T, carBytes []byte, roots ...cid.Cid) []byte {
	t.Helper()
	_, secs := readSections(t, carBytes)
	out := header(t, roots...)
	for _, s := range secs {
		out = appendSection(out, s.cid, s.data)
	}
	return out
}

func TestImportRejects(t *testing.T) {
	for _, tt := range rejectCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			for _, spool := range []bool{false, true} {
				var r io.Reader = bytes.NewReader(tt.in)
				if spool {
					r = readerOnly{r}
				}
				tmp := t.TempDir()
				opts := tt.opts
				opts.TempDir = tmp
				dst := newStore()
				_, err := Import(context.Background(), r, dst, opts)
				ce := wantCheck(t, err, tt.want)
				if tt.wantCid.Defined() && !ce.Cid.Equals(tt.wantCid) {
					t.Fatalf("error names block %s, want %s (%v)", ce.Cid, tt.wantCid, err)
				}
				if tt.wantOff != nil && ce.Offset != *tt.wantOff {
					t.Fatalf("error offset = %d, want %d (%v)", ce.Offset, *tt.wantOff, err)
				}
				if ce.Msg == "" || (ce.Offset > 0 && !strings.Contains(err.Error(), "byte")) {
					t.Fatalf("message %q does not say where", err)
				}
				assertEmpty(t, dst)
				assertDirEmpty(t, tmp)

				// Verify makes the same checks.
				_, err = Verify(context.Background(), bytes.NewReader(tt.in), tt.opts)
				wantCheck(t, err, tt.want)
			}
		})
	}
}

func TestImportMessages(t *testing.T) {
	src := newStore()
	b := buildBundle(t, src)
	good := exportCAR(t, src, b.root)
	_, err := Import(context.Background(), bytes.NewReader(good[:1000]), newStore(), ImportOptions{})
	want := "truncated at byte 1000"
	if err == nil || !strings.HasPrefix(err.Error(), want) || !strings.Contains(err.Error(), "copy it again") {
		t.Fatalf("message = %q, want it to start %q and advise copying again", err, want)
	}
}

func TestImportHave(t *testing.T) {
	src := newStore()
	b := buildBundle(t, src)
	good := exportCAR(t, src, b.root)
	ctx := context.Background()
	local := newStore() // what the importing node already has
	leaf, err := src.Get(ctx, b.leaf)
	if err != nil {
		t.Fatal(err)
	}
	if err := local.Put(ctx, leaf); err != nil {
		t.Fatal(err)
	}
	rootBlk, err := src.Get(ctx, b.root)
	if err != nil {
		t.Fatal(err)
	}
	if err := local.Put(ctx, rootBlk); err != nil {
		t.Fatal(err)
	}
	var asked []cid.Cid
	haveLocal := func(ctx context.Context, c cid.Cid) (bool, error) {
		asked = append(asked, c)
		return local.Has(ctx, c)
	}
	haveErr := errors.New("disk on fire")

	tests := []struct {
		name      string
		in        []byte
		opts      ImportOptions
		want      error // nil: accepted
		wantAsked []cid.Cid
	}{
		{"complete file: Have not asked", good, ImportOptions{RequireComplete: true, Have: haveLocal}, nil, nil},
		{"missing leaf held locally", withoutBlock(t, good, b.leaf), ImportOptions{RequireComplete: true, Have: haveLocal}, nil, []cid.Cid{b.leaf}},
		{"missing leaf, completeness not required", withoutBlock(t, good, b.leaf), ImportOptions{}, nil, nil},
		{"missing root held locally", withoutBlock(t, good, b.root), ImportOptions{Have: haveLocal}, nil, []cid.Cid{b.root}},
		{"missing root, nothing local", withoutBlock(t, good, b.root), ImportOptions{}, ErrMissingRoot, nil},
		{"Have fails", withoutBlock(t, good, b.leaf), ImportOptions{RequireComplete: true, Have: func(context.Context, cid.Cid) (bool, error) {
			return false, haveErr
		}}, haveErr, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			asked = nil
			dst := newStore()
			res, err := Import(ctx, bytes.NewReader(tt.in), dst, tt.opts)
			if tt.want != nil {
				if !errors.Is(err, tt.want) {
					t.Fatalf("error = %v, want %v", err, tt.want)
				}
				assertEmpty(t, dst)
				return
			}
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			if !slices.EqualFunc(asked, tt.wantAsked, cid.Cid.Equals) {
				t.Fatalf("Have asked about %v, want %v", asked, tt.wantAsked)
			}
			if got := int64(len(storeKeys(t, dst))); got != res.Blocks {
				t.Fatalf("store holds %d blocks, result says %d", got, res.Blocks)
			}
		})
	}
}

func TestImportIdentity(t *testing.T) {
	ctx := context.Background()
	leaf := rawBlock(t, []byte("reachable only through an identity node"))
	inline := cborBlock(t, true, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "x", qp.Link(cidlink.Link{Cid: leaf.Cid()}))
	})
	root := cborBlock(t, false, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "inline", qp.Link(cidlink.Link{Cid: inline.Cid()}))
	})
	src := newStore()
	for _, blk := range []blocks.Block{leaf, root} {
		if err := src.Put(ctx, blk); err != nil {
			t.Fatal(err)
		}
	}
	good := exportCAR(t, src, root.Cid())
	// The same, but with the identity block written out as a section, as
	// some CAR writers do.
	withID := appendSection(bytes.Clone(good), inline.Cid(), inline.RawData())

	tests := []struct {
		name    string
		in      []byte
		want    error
		wantCid cid.Cid
	}{
		{"identity node followed", good, nil, cid.Undef},
		{"identity section accepted, not stored", withID, nil, cid.Undef},
		{"leaf under identity node missing", withoutBlock(t, good, leaf.Cid()), ErrIncomplete, leaf.Cid()},
		{"identity root", exportCAR(t, src, inline.Cid()), nil, cid.Undef},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dst := newStore()
			res, err := Import(ctx, bytes.NewReader(tt.in), dst, ImportOptions{RequireComplete: true})
			if tt.want != nil {
				if ce := wantCheck(t, err, tt.want); !ce.Cid.Equals(tt.wantCid) {
					t.Fatalf("error names %s, want %s", ce.Cid, tt.wantCid)
				}
				assertEmpty(t, dst)
				return
			}
			if err != nil {
				t.Fatalf("Import: %v", err)
			}
			keys := storeKeys(t, dst)
			if containsCid(keys, inline.Cid()) {
				t.Fatal("identity block was stored")
			}
			if !containsCid(keys, leaf.Cid()) || int64(len(keys)) != res.Blocks {
				t.Fatalf("stored %v, result %d blocks", keys, res.Blocks)
			}
		})
	}
}

// recordingStore counts PutMany calls on a real blockstore.
type recordingStore struct {
	blockstore.Blockstore
	batches []int
	fail    error
}

func (r *recordingStore) PutMany(ctx context.Context, bs []blocks.Block) error {
	if r.fail != nil {
		return r.fail
	}
	r.batches = append(r.batches, len(bs))
	return r.Blockstore.PutMany(ctx, bs)
}

func TestImportBatchesAndDuplicates(t *testing.T) {
	ctx := context.Background()
	const n = 2*batchBlocks + 10
	var leaves []blocks.Block
	for i := range n {
		leaves = append(leaves, rawBlock(t, []byte{byte(i), byte(i >> 8), 'x'}))
	}
	root := cborBlock(t, false, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "leaves", qp.List(-1, func(la datamodel.ListAssembler) {
			for _, l := range leaves {
				qp.ListEntry(la, qp.Link(cidlink.Link{Cid: l.Cid()}))
			}
		}))
	})
	// Every leaf twice: sections may repeat.
	all := append([]blocks.Block{root}, leaves...)
	in := buildCAR(t, []cid.Cid{root.Cid()}, append(all, leaves...)...)

	dst := &recordingStore{Blockstore: newStore()}
	res, err := Import(ctx, bytes.NewReader(in), dst, ImportOptions{RequireComplete: true})
	if err != nil {
		t.Fatal(err)
	}
	if res.Blocks != n+1 {
		t.Fatalf("result = %d blocks, want %d", res.Blocks, n+1)
	}
	total := 0
	for _, b := range dst.batches {
		if b > batchBlocks {
			t.Fatalf("batch of %d blocks, limit %d", b, batchBlocks)
		}
		total += b
	}
	if total != n+1 || len(dst.batches) < 3 {
		t.Fatalf("batches %v: %d blocks in %d batches", dst.batches, total, len(dst.batches))
	}

	putErr := errors.New("store full")
	failing := &recordingStore{Blockstore: newStore(), fail: putErr}
	if _, err := Import(ctx, bytes.NewReader(in), failing, ImportOptions{}); !errors.Is(err, putErr) {
		t.Fatalf("error = %v, want the store's error", err)
	}
}

func TestImportCancelled(t *testing.T) {
	src := newStore()
	b := buildBundle(t, src)
	good := exportCAR(t, src, b.root)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	dst := newStore()
	if _, err := Import(ctx, bytes.NewReader(good), dst, ImportOptions{}); !errors.Is(err, context.Canceled) {
		t.Fatalf("error = %v, want context.Canceled", err)
	}
	assertEmpty(t, dst)
}

// A failing import from a pipe leaves no spool file and stores nothing.
func TestImportPipeFailure(t *testing.T) {
	src := newStore()
	b := buildBundle(t, src)
	good := exportCAR(t, src, b.root)
	r, done := feedPipe(good[:len(good)-10])
	defer done()
	tmp := t.TempDir()
	dst := newStore()
	_, err := Import(context.Background(), r, dst, ImportOptions{TempDir: tmp})
	wantCheck(t, err, ErrTruncated)
	assertEmpty(t, dst)
	assertDirEmpty(t, tmp)
}

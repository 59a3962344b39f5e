package gateway

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/ipfs/boxo/blockservice"
	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/exchange/offline"
	boxogw "github.com/ipfs/boxo/gateway"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	ihelper "github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	"github.com/ipfs/boxo/path"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// importShaped imports data as a UnixFS file with the given chunk size,
// links per node and leaf kind, so that files are several levels deep.
func (f *fixture) importShaped(t testing.TB, data []byte, chunk int64, maxLinks int, rawLeaves bool, v0 bool) ipld.Node {
	t.Helper()
	prefix, err := merkledag.PrefixForCidVersion(1)
	if v0 {
		prefix, err = merkledag.PrefixForCidVersion(0)
	}
	if err != nil {
		t.Fatal(err)
	}
	params := ihelper.DagBuilderParams{Dagserv: f.dserv, Maxlinks: maxLinks, RawLeaves: rawLeaves, CidBuilder: prefix}
	db, err := params.New(chunker.NewSizeSplitter(bytes.NewReader(data), chunk))
	if err != nil {
		t.Fatal(err)
	}
	nd, err := balanced.Layout(db)
	if err != nil {
		t.Fatal(err)
	}
	return nd
}

// TestFastCARMatchesBoxo: for every request fastCAR takes, its CAR is
// byte for byte the one boxo's own walk writes: the same blocks in the
// same order, each once. Files several levels deep, with raw and dag-pb
// leaves, repeated chunks, CIDv0, a tiny file held in its root, folders, a
// symlink, raw blocks; whole, as a block, and by ranges at and around
// chunk boundaries, past the end, and open-ended.
func TestFastCARMatchesBoxo(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	rng := rand.New(rand.NewPCG(7, 7))
	random := make([]byte, 20000)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	repeated := bytes.Repeat(random[:1000], 12) // chunks that repeat: each block once in a CAR

	symlinkData, err := unixfs.SymlinkData("../elsewhere")
	if err != nil {
		t.Fatal(err)
	}
	symlink := merkledag.NodeWithData(symlinkData)
	if err := f.dserv.Add(ctx, symlink); err != nil {
		t.Fatal(err)
	}
	rawFile := merkledag.NodeWithData(unixfs.WrapData([]byte("an old-style raw unixfs node")))
	if err := f.dserv.Add(ctx, rawFile); err != nil {
		t.Fatal(err)
	}
	cases := map[string]cid.Cid{
		"deep file, raw leaves":    f.importShaped(t, random, 100, 3, true, false).Cid(),
		"deep file, dag-pb leaves": f.importShaped(t, random, 333, 4, false, false).Cid(),
		"repeated chunks":          f.importShaped(t, repeated, 500, 5, true, false).Cid(),
		"CIDv0 file":               f.importShaped(t, random[:5000], 256, 3, false, true).Cid(),
		"tiny file in its root":    f.importShaped(t, []byte("small"), 256, 3, false, false).Cid(),
		"fixture file":             f.file,
		"folder":                   f.dir,
		"symlink":                  symlink.Cid(),
		"raw unixfs node":          rawFile.Cid(),
		"raw block":                f.importFile(t, []byte("one raw leaf")).Cid(),
	}
	i64 := func(v int64) *int64 { return &v }
	ranges := []*boxogw.DagByteRange{
		nil,
		{From: 0},
		{From: 0, To: i64(0)},
		{From: 0, To: i64(99)},
		{From: 99, To: i64(100)},
		{From: 100, To: i64(199)},
		{From: 150, To: i64(4321)},
		{From: 4999, To: i64(5000)},
		{From: 12345},
		{From: 19999, To: i64(19999)},
		{From: 19000, To: i64(1 << 40)},
		{From: 1 << 30},
		{From: 1 << 30, To: i64(1<<30 + 10)},
	}
	bs := blockservice.New(f.bstore, offline.Exchange(f.bstore))
	bb, err := boxogw.NewBlocksBackend(bs)
	if err != nil {
		t.Fatal(err)
	}
	compared := 0
	for name, c := range cases {
		p, err := path.NewImmutablePath(path.FromCid(c))
		if err != nil {
			t.Fatal(err)
		}
		var params []boxogw.CarParams
		params = append(params, boxogw.CarParams{Scope: boxogw.DagScopeBlock})
		for _, r := range ranges {
			params = append(params, boxogw.CarParams{Scope: boxogw.DagScopeEntity, Range: r, Order: boxogw.DagOrderDFS, Duplicates: boxogw.DuplicateBlocksExcluded})
		}
		params = append(params, boxogw.CarParams{Scope: boxogw.DagScopeEntity})
		for _, pr := range params {
			desc := fmt.Sprintf("%s, scope %s, range %s", name, pr.Scope, rangeString(pr.Range))
			rc, ok := fastCAR(ctx, bs, p, pr)
			if !ok {
				t.Errorf("%s: fastCAR declined", desc)
				continue
			}
			got, gerr := io.ReadAll(rc)
			_, brc, err := bb.GetCAR(ctx, p, pr)
			if err != nil {
				t.Fatalf("%s: boxo: %v", desc, err)
			}
			want, werr := io.ReadAll(brc)
			if (gerr == nil) != (werr == nil) {
				t.Errorf("%s: fastCAR error %v, boxo's %v", desc, gerr, werr)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s: fastCAR wrote %d bytes, boxo %d; not the same CAR", desc, len(got), len(want))
			}
			compared++
		}
	}
	t.Logf("%d CARs compared", compared)

	// What fastCAR leaves to boxo.
	folder := f.importDir(t, nil).Cid() // a folder is taken; a path into it is not
	deep, err := path.Join(path.FromCid(folder), "x")
	if err != nil {
		t.Fatal(err)
	}
	ideep, err := path.NewImmutablePath(deep)
	if err != nil {
		t.Fatal(err)
	}
	pfile, _ := path.NewImmutablePath(path.FromCid(cases["deep file, raw leaves"]))
	for desc, tc := range map[string]struct {
		p  path.ImmutablePath
		pr boxogw.CarParams
	}{
		"a path below the CID": {ideep, boxogw.CarParams{Scope: boxogw.DagScopeEntity}},
		"dag-scope=all":        {pfile, boxogw.CarParams{Scope: boxogw.DagScopeAll}},
		"dups=y":               {pfile, boxogw.CarParams{Scope: boxogw.DagScopeEntity, Duplicates: boxogw.DuplicateBlocksIncluded}},
		"order=unk":            {pfile, boxogw.CarParams{Scope: boxogw.DagScopeEntity, Order: boxogw.DagOrderUnknown}},
		"a range from the end": {pfile, boxogw.CarParams{Scope: boxogw.DagScopeEntity, Range: &boxogw.DagByteRange{From: -10}}},
	} {
		if rc, ok := fastCAR(ctx, bs, tc.p, tc.pr); ok {
			rc.Close()
			t.Errorf("%s: fastCAR took it; boxo should", desc)
		}
	}
}

func rangeString(r *boxogw.DagByteRange) string {
	switch {
	case r == nil:
		return "none"
	case r.To == nil:
		return fmt.Sprintf("%d:*", r.From)
	default:
		return fmt.Sprintf("%d:%d", r.From, *r.To)
	}
}

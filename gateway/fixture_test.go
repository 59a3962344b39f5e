package gateway

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/exchange"
	"github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/ipld/merkledag"
	ihelper "github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/boxo/namesys"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

// fixture is a blockstore holding a few real UnixFS DAGs. Its contents are
// deterministic, so the CIDs below are stable (the fuzz seed corpus uses
// them).
type fixture struct {
	bstore blockstore.Blockstore
	dserv  ipld.DAGService

	file     cid.Cid // a multi-block file, not inside a directory
	fileData []byte

	dir    cid.Cid // a directory: readme.txt, parts.csv, sub/notes.md
	readme []byte  // content of dir/readme.txt

	site      cid.Cid // a directory with index.html
	indexHTML []byte

	missing cid.Cid // a CID whose block is nowhere
}

// newFixture imports the fixture's DAGs into a fresh in-memory blockstore.
func newFixture(t testing.TB) *fixture {
	t.Helper()
	ctx := context.Background()
	bstore := blockstore.NewIdStore(blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore())))
	f := &fixture{
		bstore: bstore,
		dserv:  merkledag.NewDAGService(blockservice.New(bstore, offline.Exchange(bstore))),
	}

	f.fileData = patterned(3000)
	f.file = f.importFile(t, f.fileData).Cid()

	f.readme = []byte("Open hardware bundle.\nSee parts.csv for the bill of materials.\n")
	sub := f.importDir(t, map[string]ipld.Node{
		"notes.md": f.importFile(t, []byte("# Notes\n\nAssembly takes an hour.\n")),
	})
	f.dir = f.importDir(t, map[string]ipld.Node{
		"readme.txt": f.importFile(t, f.readme),
		"parts.csv":  f.importFile(t, []byte("part,qty\nM3 screw,12\n")),
		"sub":        sub,
	}).Cid()

	f.indexHTML = []byte("<!DOCTYPE html><title>site</title><h1>hello site</h1>\n")
	f.site = f.importDir(t, map[string]ipld.Node{
		"index.html": f.importFile(t, f.indexHTML),
		"style.css":  f.importFile(t, []byte("h1 { color: teal }\n")),
	}).Cid()

	missing, err := cid.NewPrefixV1(cid.Raw, mh.SHA2_256).Sum([]byte("a block nobody has"))
	if err != nil {
		t.Fatal(err)
	}
	f.missing = missing
	if has, err := bstore.Has(ctx, missing); err != nil || has {
		t.Fatalf("missing block present: has=%v err=%v", has, err)
	}
	return f
}

// patterned returns n bytes that differ from chunk to chunk.
func patterned(n int) []byte {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte('a' + (i*7+i/256)%26)
	}
	return b
}

// importFile imports data as a CIDv1 UnixFS file with raw leaves and small
// chunks, so that files span several blocks.
func (f *fixture) importFile(t testing.TB, data []byte) ipld.Node {
	t.Helper()
	return f.importShaped(t, data, 256, ihelper.DefaultLinksPerBlock, true, false)
}

// importDir stores a CIDv1 UnixFS directory of the given entries.
func (f *fixture) importDir(t testing.TB, entries map[string]ipld.Node) ipld.Node {
	t.Helper()
	ctx := context.Background()
	prefix, err := merkledag.PrefixForCidVersion(1)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := uio.NewDirectory(f.dserv, uio.WithCidBuilder(prefix))
	if err != nil {
		t.Fatal(err)
	}
	for name, nd := range entries {
		if err := dir.AddChild(ctx, name, nd); err != nil {
			t.Fatal(err)
		}
	}
	nd, err := dir.GetNode()
	if err != nil {
		t.Fatal(err)
	}
	if err := f.dserv.Add(ctx, nd); err != nil {
		t.Fatal(err)
	}
	return nd
}

// keys lists every CID in the fixture's blockstore.
func (f *fixture) keys(t testing.TB) map[cid.Cid]bool {
	t.Helper()
	ch, err := f.bstore.AllKeysChan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	got := map[cid.Cid]bool{}
	for c := range ch {
		got[c] = true
	}
	return got
}

// reachable lists every block of the DAG under root.
func (f *fixture) reachable(t testing.TB, root cid.Cid) map[cid.Cid]bool {
	t.Helper()
	seen := map[cid.Cid]bool{}
	var walk func(c cid.Cid)
	walk = func(c cid.Cid) {
		if seen[c] {
			return
		}
		seen[c] = true
		nd, err := f.dserv.Get(context.Background(), c)
		if err != nil {
			t.Fatalf("get %s: %v", c, err)
		}
		for _, l := range nd.Links() {
			walk(l.Cid)
		}
	}
	walk(root)
	return seen
}

// stallExchange is an exchange that never delivers a block: every fetch
// waits until its context ends. started is closed by the first fetch.
type stallExchange struct {
	once    sync.Once
	started chan struct{}
}

func newStallExchange() *stallExchange { return &stallExchange{started: make(chan struct{})} }

func (e *stallExchange) begin() { e.once.Do(func() { close(e.started) }) }

func (e *stallExchange) GetBlock(ctx context.Context, _ cid.Cid) (blocks.Block, error) {
	e.begin()
	<-ctx.Done()
	return nil, ctx.Err()
}

func (e *stallExchange) GetBlocks(ctx context.Context, _ []cid.Cid) (<-chan blocks.Block, error) {
	e.begin()
	ch := make(chan blocks.Block)
	go func() {
		<-ctx.Done()
		close(ch)
	}()
	return ch, nil
}

func (e *stallExchange) NotifyNewBlocks(context.Context, ...blocks.Block) error { return nil }
func (e *stallExchange) Close() error                                           { return nil }

var _ exchange.Interface = (*stallExchange)(nil)

// newTestServer serves a gateway over f's blockstore with the given exchange
// (offline when nil).
func newTestServer(t testing.TB, f *fixture, ex exchange.Interface, cfg Config, names namesys.Resolver, pages http.Handler) *httptest.Server {
	t.Helper()
	if ex == nil {
		ex = offline.Exchange(f.bstore)
	}
	h, err := New(cfg, blockservice.New(f.bstore, ex), names, pages)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// noRedirects is a client that returns redirects instead of following them.
var noRedirects = &http.Client{
	CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
}

// do sends a request to srv and returns the response with its body read.
func do(t testing.TB, srv *httptest.Server, method, target string, header http.Header, host string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if host != "" {
		req.Host = host
	}
	res, err := noRedirects.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, target, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatalf("%s %s: read body: %v", method, target, err)
	}
	return res, body
}

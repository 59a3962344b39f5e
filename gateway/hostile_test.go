package gateway

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unicode"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/boxo/ipld/unixfs/hamt"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"

	"github.com/commons-p2p/commons/pkg/store"
)

// This file sends hostile designs through the gateway: DAGs built by hand,
// as a peer could build them, whose names, shapes and claims no importer
// would produce. Each is stored in a real pebble store on disk and asked
// for every way a browser or client can ask (path, listing, subdomain, tar,
// CAR with its scopes). Whatever the DAG holds, the gateway must not panic,
// must answer with a status and a message (never a dropped connection
// before the status), must keep its memory bounded, and must stop working
// when the client goes away.

// hostileDAG builds hand-made dag-pb/UnixFS DAGs into a block store.
type hostileDAG struct {
	t      testing.TB
	bstore blockstore.Blockstore
	dag    ipld.DAGService
	v1     cid.Prefix
}

func newHostileDAG(t testing.TB, bs blockstore.Blockstore) *hostileDAG {
	return &hostileDAG{
		t: t, bstore: bs,
		dag: merkledag.NewDAGService(blockservice.New(bs, offline.Exchange(bs))),
		v1:  cid.Prefix{Version: 1, Codec: cid.DagProtobuf, MhType: mh.SHA2_256, MhLength: -1},
	}
}

// entry is a named link of a hand-built directory.
type entry struct {
	name string
	c    cid.Cid
}

func (h *hostileDAG) add(nd ipld.Node) cid.Cid {
	h.t.Helper()
	if err := h.dag.Add(context.Background(), nd); err != nil {
		h.t.Fatal(err)
	}
	return nd.Cid()
}

// raw stores a raw leaf.
func (h *hostileDAG) raw(data []byte) cid.Cid {
	h.t.Helper()
	nd, err := merkledag.NewRawNodeWPrefix(data, cid.Prefix{Version: 1, Codec: cid.Raw, MhType: mh.SHA2_256, MhLength: -1})
	if err != nil {
		h.t.Fatal(err)
	}
	return h.add(nd)
}

// pb stores a dag-pb node with the given data and links, in that order.
func (h *hostileDAG) pb(data []byte, links ...entry) cid.Cid {
	h.t.Helper()
	nd := merkledag.NodeWithData(data)
	if err := nd.SetCidBuilder(h.v1); err != nil {
		h.t.Fatal(err)
	}
	ls := make([]*ipld.Link, len(links))
	for i, l := range links {
		ls[i] = &ipld.Link{Name: l.name, Cid: l.c}
	}
	if err := nd.SetLinks(ls); err != nil {
		h.t.Fatal(err)
	}
	return h.add(nd)
}

// dir stores a basic UnixFS directory holding the entries as given: no
// name is checked, duplicates and all.
func (h *hostileDAG) dir(entries ...entry) cid.Cid {
	h.t.Helper()
	return h.pb(unixfs.FolderPBData(), entries...)
}

// symlink stores a UnixFS symlink.
func (h *hostileDAG) symlink(target string) cid.Cid {
	h.t.Helper()
	data, err := unixfs.SymlinkData(target)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.pb(data)
}

// file stores a UnixFS file node over the children with the block sizes
// and file size given, true or not.
func (h *hostileDAG) file(children []cid.Cid, blocksizes []uint64, filesize uint64) cid.Cid {
	h.t.Helper()
	fsn := unixfs.NewFSNode(unixfs.TFile)
	for _, s := range blocksizes {
		fsn.AddBlockSize(s)
	}
	fsn.UpdateFilesize(int64(filesize) - int64(fsn.FileSize()))
	data, err := fsn.GetBytes()
	if err != nil {
		h.t.Fatal(err)
	}
	links := make([]entry, len(children))
	for i, c := range children {
		links[i] = entry{c: c}
	}
	return h.pb(data, links...)
}

// shard stores a HAMT shard node with the fanout given (valid or not),
// murmur3 hashing, a full bitfield and the links as given.
func (h *hostileDAG) shard(fanout uint64, bitfield []byte, links ...entry) cid.Cid {
	h.t.Helper()
	data, err := unixfs.HAMTShardData(bitfield, fanout, hamt.HashMurmur3)
	if err != nil {
		h.t.Fatal(err)
	}
	return h.pb(data, links...)
}

// hamtDir stores a real HAMT directory (fanout 256) of n entries named
// prefix+number, all linking to child.
func (h *hostileDAG) hamtDir(n int, prefix string, child cid.Cid) cid.Cid {
	h.t.Helper()
	ctx := context.Background()
	s, err := hamt.NewShard(h.dag, 256)
	if err != nil {
		h.t.Fatal(err)
	}
	s.SetCidBuilder(h.v1)
	cnode, err := h.dag.Get(ctx, child)
	if err != nil {
		h.t.Fatal(err)
	}
	for i := range n {
		if err := s.Set(ctx, fmt.Sprintf("%s%06d", prefix, i), cnode); err != nil {
			h.t.Fatal(err)
		}
	}
	nd, err := s.Node()
	if err != nil {
		h.t.Fatal(err)
	}
	return h.add(nd)
}

// putBlock stores a block of any codec.
func (h *hostileDAG) putBlock(codec uint64, data []byte) cid.Cid {
	h.t.Helper()
	c, err := cid.Prefix{Version: 1, Codec: codec, MhType: mh.SHA2_256, MhLength: -1}.Sum(data)
	if err != nil {
		h.t.Fatal(err)
	}
	b, err := blocks.NewBlockWithCid(data, c)
	if err != nil {
		h.t.Fatal(err)
	}
	if err := h.bstore.Put(context.Background(), b); err != nil {
		h.t.Fatal(err)
	}
	return c
}

// hostileCase is one hostile DAG and what to ask of it beyond its root.
type hostileCase struct {
	name  string
	root  cid.Cid
	paths []string // escaped paths below the root, each asked as a file
	// want holds the statuses some requests must get, by the request's
	// name in TestHostileDesigns; the others must only not fail.
	want map[string]int
	// serverSays lists what a 5xx answer may be about: boxo answers
	// malformed HAMTs with 500 and a message naming the fault.
	serverSays []string
	// cutOK allows the body of a 200 to end short: a file whose root
	// claims more bytes than its leaves hold is cut off when they run out,
	// the only way to say so once the status is sent.
	cutOK bool
	// light asks only for the path, the listings, a tar and a CAR of the
	// entity (for a directory, its own blocks): each request costs the
	// wide DAGs seconds, and the whole DAG's CAR adds nothing to what
	// the other cases show.
	light bool
}

const mib = 1 << 20

// The hostile names of a directory entry: each of them could leave a
// folder it is written into, or play tricks on whoever displays it.
var hostileNames = []string{
	"..", ".", "../../etc/passwd", "/abs", "a/b", "nul\x00x", "new\nline", "esc\x1b[31mred", strings.Repeat("n", 4000),
	`..\..\win`, "\xff\xfe not UTF-8", `"><script>alert(1)</script>`,
}

// buildHostile stores every hostile DAG in bs and returns them.
func buildHostile(t testing.TB, bs blockstore.Blockstore) []hostileCase {
	h := newHostileDAG(t, bs)
	ok := h.raw([]byte("an honest file\n"))
	var cases []hostileCase

	// Names that would leave the folder, control characters, a 4,000-byte
	// name, and a name used twice.
	var named []entry
	var paths []string
	for _, n := range hostileNames {
		named = append(named, entry{n, ok})
		paths = append(paths, url.PathEscape(n))
	}
	named = append(named, entry{"ok.txt", ok}, entry{"twice", ok}, entry{"twice", h.raw([]byte("the other twice\n"))})
	cases = append(cases, hostileCase{name: "names", root: h.dir(named...), paths: append(paths, "ok.txt", "twice"),
		want: map[string]int{"listing": 200, "subdomain": 200, "tar": 422, "car": 200, "tar ok.txt": 200}})

	// Symlinks pointing out of the folder, and one that stays in.
	cases = append(cases, hostileCase{name: "symlinks", root: h.dir(
		entry{"ok.txt", ok},
		entry{"passwd", h.symlink("/etc/passwd")},
		entry{"up", h.symlink("../../../../etc")},
		entry{"zigzag", h.symlink("ok.txt/../../x")},
		entry{"fine", h.symlink("ok.txt")},
	), paths: []string{"passwd", "up", "up/passwd", "zigzag", "fine"},
		want: map[string]int{"listing": 200, "tar": 422, "tar passwd": 422, "tar fine": 422, "car": 200}})

	// HAMT shards with bad fanouts (the class of CVE-2023-23625): 2^20,
	// whose bitfield would need 128 KiB per shard, and 3, not a power of
	// two; each with an entry that would be valid in a good shard.
	// boxo refuses each as it resolves the root (500, naming the fault);
	// the block itself is served as it is.
	badShard := map[string]int{"car block": 200, "raw": 200}
	cases = append(cases,
		hostileCase{name: "hamt fanout 2^20", root: h.shard(1<<20, []byte{1}, entry{"00000ok.txt", ok}), paths: []string{"ok.txt"}, want: badShard, serverSays: shardFaults},
		hostileCase{name: "hamt fanout 3", root: h.shard(3, []byte{1}, entry{"0ok.txt", ok}), paths: []string{"ok.txt"}, want: badShard, serverSays: shardFaults},
		hostileCase{name: "hamt fanout 0", root: h.shard(0, nil, entry{"ok.txt", ok}), paths: []string{"ok.txt"}, want: badShard, serverSays: shardFaults},
		hostileCase{name: "hamt bitfield wider than fanout", root: h.shard(256, bytes.Repeat([]byte{0xff}, 4096), entry{"00ok.txt", ok}), paths: []string{"ok.txt"}, want: badShard, serverSays: shardFaults},
	)
	// A good 256-wide shard whose child is not what its link says: a
	// sub-shard link (a bare two-digit prefix) to a raw block, to a file,
	// to a dag-cbor block; an entry to a dag-cbor block.
	cbor := h.putBlock(cid.DagCBOR, []byte{0xa1, 0x61, 0x61, 0x01}) // {"a": 1}
	fileNode := h.file([]cid.Cid{ok}, []uint64{15}, 15)
	// The root resolves; a tar is refused (422) as `commons get` would
	// refuse it, but for the chain, which lists ok.txt as a HAMT should.
	badChild := map[string]int{"tar": 422, "car block": 200}
	for _, child := range []struct {
		what string
		link entry
		want map[string]int
	}{
		{"sub-shard is a raw block", entry{"5C", ok}, badChild},
		{"sub-shard is a file", entry{"5C", fileNode}, badChild},
		{"sub-shard is dag-cbor", entry{"5C", cbor}, badChild},
		{"entry is dag-cbor", entry{"5Cok.txt", cbor}, badChild},
		{"sub-shard chain", entry{"5C", cid.Undef}, map[string]int{"listing": 200, "tar": 200}},
	} {
		link := child.link
		if !link.c.Defined() {
			// A shard cannot link to itself (its CID would change with
			// the link); a sub-shard below a sub-shard at the same
			// prefix is the nearest thing.
			inner := h.shard(256, bitAt(0x5C), entry{"5Cok.txt", ok})
			link.c = h.shard(256, bitAt(0x5C), entry{"5C", inner})
		}
		cases = append(cases, hostileCase{name: "hamt " + child.what, root: h.shard(256, bitAt(0x5C), link), paths: []string{"ok.txt"},
			want: child.want, serverSays: shardFaults})
	}

	// A directory nested 10,000 levels deep, a file at the bottom.
	deep := h.dir(entry{"bottom.txt", ok})
	for range 10000 {
		deep = h.dir(entry{"d", deep})
	}
	// The longest path the gateway resolves (the CID and 255 levels),
	// one level more, and the whole depth.
	long, longer, longest := strings.Repeat("d/", MaxPathSegments-2)+"d", strings.Repeat("d/", MaxPathSegments-1)+"d", strings.Repeat("d/", 10000)+"bottom.txt"
	cases = append(cases, hostileCase{name: "10,000 levels", root: deep, paths: []string{long, longer, longest},
		want: map[string]int{"listing": 200, "tar": 422, "car": 200, "car block": 200, "path " + abbrev(long): 301, "car " + abbrev(long): 200,
			"path " + abbrev(longer): 414, "path " + abbrev(longest): 414, "car " + abbrev(longest): 414}})

	// 30,000 entries in one dag-pb node (1.4 MB), and a HAMT of 120,000.
	wide := make([]entry, 30000)
	for i := range wide {
		wide[i] = entry{fmt.Sprintf("part-%05d.stl", i), ok}
	}
	cases = append(cases,
		hostileCase{name: "30,000 entries", root: h.dir(wide...), paths: []string{"part-29999.stl"}, light: true,
			want: map[string]int{"listing": 422, "subdomain": 422, "tar": 200, "car entity": 200, "path part-29999.stl": 200}},
		hostileCase{name: "HAMT of 110,000 entries", root: h.hamtDir(110000, "p", ok), paths: []string{"p109999"}, light: true,
			want: map[string]int{"listing": 422, "tar": 422, "car entity": 200, "path p109999": 200}},
	)

	// Files whose block sizes and file size do not match their leaves: the
	// leaves hold 2 × 1,000 bytes.
	leafA, leafB := h.raw(bytes.Repeat([]byte("a"), 1000)), h.raw(bytes.Repeat([]byte("b"), 1000))
	claimsLess := h.file([]cid.Cid{leafA, leafB}, []uint64{10, 10}, 20)
	claimsMore := h.file([]cid.Cid{leafA, leafB}, []uint64{1 << 30, 1 << 30}, 2<<30)
	sizeOnly := h.file([]cid.Cid{leafA, leafB}, []uint64{1000, 1000}, 1<<40)
	fewerSizes := h.file([]cid.Cid{leafA, leafB}, []uint64{1000}, 2000)
	cases = append(cases,
		hostileCase{name: "file claims less", root: claimsLess, cutOK: true},
		hostileCase{name: "file claims more", root: claimsMore, cutOK: true},
		hostileCase{name: "file claims 1 TiB", root: sizeOnly, cutOK: true, want: map[string]int{"tar": 422}},
		hostileCase{name: "file with fewer sizes than links", root: fewerSizes, cutOK: true, serverSays: []string{"does not support seeking"}},
		hostileCase{name: "lying files in a folder", root: h.dir(entry{"less", claimsLess}, entry{"more", claimsMore}, entry{"tib", sizeOnly}, entry{"fewer", fewerSizes}),
			paths: []string{"less", "more", "tib", "fewer"}, want: map[string]int{"listing": 200, "tar": 422, "tar tib": 422}, cutOK: true},
	)

	// DAG bombs: tiny in blocks, huge when expanded. A 1 MiB leaf linked
	// 100,000 times from one folder (about 98 GiB expanded); a file
	// claiming the same through 100 links to a node of 1,000 links to the
	// leaf; a folder of 1,000 links to a folder of 1,000 entries (a million
	// entries).
	mb := make([]byte, mib)
	for i := range mb {
		mb[i] = byte(i * 7)
	}
	leaf := h.raw(mb)
	bombEntries := make([]entry, 100000)
	for i := range bombEntries {
		bombEntries[i] = entry{fmt.Sprintf("copy-%06d.bin", i), leaf}
	}
	mid := h.file(repeat(leaf, 1000), repeatSize(mib, 1000), 1000*mib)
	bombFile := h.file(repeat(mid, 100), repeatSize(1000*mib, 100), 100000*mib)
	inner := make([]entry, 1000)
	for i := range inner {
		inner[i] = entry{fmt.Sprintf("f%04d", i), ok}
	}
	innerDir := h.dir(inner...)
	outer := make([]entry, 1000)
	for i := range outer {
		outer[i] = entry{fmt.Sprintf("d%04d", i), innerDir}
	}
	cases = append(cases,
		hostileCase{name: "folder bomb", root: h.dir(bombEntries...), paths: []string{"copy-099999.bin"},
			want: map[string]int{"listing": 422, "subdomain": 422, "tar": 422, "car": 200, "path copy-099999.bin": 200}},
		hostileCase{name: "file bomb", root: bombFile, want: map[string]int{"path": 200, "tar": 422, "car": 200}},
		hostileCase{name: "file bomb in a folder", root: h.dir(entry{"bomb.bin", bombFile}, entry{"ok.txt", ok}), paths: []string{"bomb.bin"},
			want: map[string]int{"listing": 200, "tar": 422, "tar bomb.bin": 422, "car": 200}},
		hostileCase{name: "million-entry bomb", root: h.dir(outer...), paths: []string{"d0999/f0999"}, light: true,
			want: map[string]int{"listing": 200, "tar": 422, "car entity": 200, "path d0999/f0999": 200}},
	)
	return cases
}

// shardFaults are the messages boxo answers malformed HAMTs with (500),
// as plain text or in its HTML error page.
var shardFaults = []string{"hamt width", "hamt witdh", "power of two", "bitfield", "field not present", "expected protobuf", "not a dir shard"}

// bitAt returns a 256-bit HAMT bitfield with only bit i set, big-endian
// as boxo stores it.
func bitAt(i int) []byte {
	b := make([]byte, 32)
	b[31-i/8] = 1 << (i % 8)
	return bytes.TrimLeft(b, "\x00")
}

func repeat(c cid.Cid, n int) []cid.Cid {
	out := make([]cid.Cid, n)
	for i := range out {
		out[i] = c
	}
	return out
}

func repeatSize(s uint64, n int) []uint64 {
	out := make([]uint64, n)
	for i := range out {
		out[i] = s
	}
	return out
}

// guard counts the requests in the handler and records panics other
// than the deliberate http.ErrAbortHandler.
type guard struct {
	next     http.Handler
	inFlight atomic.Int64
	mu       sync.Mutex
	panics   []string
}

func (g *guard) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.inFlight.Add(1)
	defer g.inFlight.Add(-1)
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				buf := make([]byte, 8<<10)
				buf = buf[:runtime.Stack(buf, false)]
				g.mu.Lock()
				g.panics = append(g.panics, fmt.Sprintf("%s: %v\n%s", r.URL, v, buf))
				g.mu.Unlock()
			}
			panic(v)
		}
	}()
	g.next.ServeHTTP(w, r)
}

// heapSampler tracks the peak of live heap objects while a request runs.
type heapSampler struct {
	stop chan struct{}
	done chan struct{}
	peak atomic.Uint64
}

// heapMetric is the heap marked live by the latest collection: garbage
// not yet collected does not count, so the figure is what a request holds.
var heapMetric = "/gc/heap/live:bytes"

func heapNow() uint64 {
	s := []metrics.Sample{{Name: heapMetric}}
	metrics.Read(s)
	return s[0].Value.Uint64()
}

// startHeap collects garbage, then samples the heap every few
// milliseconds until stopped. It returns the baseline.
func startHeap() (*heapSampler, uint64) {
	runtime.GC()
	base := heapNow()
	s := &heapSampler{stop: make(chan struct{}), done: make(chan struct{})}
	s.peak.Store(base)
	go func() {
		defer close(s.done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			if v := heapNow(); v > s.peak.Load() {
				s.peak.Store(v)
			}
			select {
			case <-s.stop:
				return
			case <-tick.C:
			}
		}
	}()
	return s, base
}

func (s *heapSampler) finish() uint64 {
	close(s.stop)
	<-s.done
	if v := heapNow(); v > s.peak.Load() {
		s.peak.Store(v)
	}
	return s.peak.Load()
}

// hostileLimits bound what one hostile request may cost.
const (
	// readCap is how much of a body the client reads before it hangs up:
	// enough for every answer the gateway should give, far below what
	// the bombs expand to.
	readCap = 64 * mib
	// heapCap bounds the live heap's growth during one request. The
	// largest honest answers here (listings of 10,000 entries, a tar of
	// 30,000) hold tens of MiB; a bomb expanded in memory would be
	// gigabytes.
	heapCap = 256 * mib
)

// answer is what one request measured.
type answer struct {
	status  int
	body    []byte // the first MiB
	size    int64  // bytes read
	cut     bool   // the client hung up at readCap
	err     error  // no answer at all: the connection dropped before a status
	bodyErr error  // the body ended short
	tar     tarRead
	elapsed time.Duration
	heap    int64 // peak heap growth
}

// ask sends one GET and reads at most readCap of the answer, keeping its
// first MiB; a tar is read member by member as it arrives (tarred
// says whether to). Nothing more is kept, so that the heap measured is
// the server's.
func ask(t *testing.T, srv *httptest.Server, target, host string, header http.Header, tarred bool) answer {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 5*time.Minute) // a hang fails the test
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		req.Header[k] = v
	}
	if host != "" {
		req.Host = host
	}
	hs, base := startHeap()
	start := time.Now()
	var a answer
	res, err := noRedirects.Do(req)
	if err != nil {
		a.err = err
	} else {
		a.status = res.StatusCode
		cr := &countReader{r: io.LimitReader(res.Body, readCap+1)}
		head := &headBuffer{max: 1 << 20} // boxo's error pages carry 250 KB of style before the message
		body := io.TeeReader(cr, head)
		if tarred && res.StatusCode == http.StatusOK {
			a.tar = readTar(body)
		}
		_, rerr := io.Copy(io.Discard, body)
		a.size, a.body = cr.n, head.buf.Bytes()
		if a.size > readCap {
			a.cut = true
		} else if rerr != nil {
			a.bodyErr = rerr
		}
		res.Body.Close()
	}
	a.elapsed = time.Since(start)
	a.heap = int64(hs.finish()) - int64(base)
	return a
}

type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += int64(k)
	return k, err
}

// headBuffer keeps the first max bytes written to it.
type headBuffer struct {
	buf bytes.Buffer
	max int
}

func (h *headBuffer) Write(p []byte) (int, error) {
	if room := h.max - h.buf.Len(); room > 0 {
		h.buf.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// waitIdle polls until the handler has returned from every request: a
// client that hung up must not leave the server expanding a bomb.
func waitIdle(t *testing.T, g *guard, what string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for g.inFlight.Load() > 0 {
		if time.Now().After(deadline) {
			t.Fatalf("%s: the handler still runs 2 minutes after the client left", what)
		}
		<-tick.C
	}
}

func TestHostileDesigns(t *testing.T) {
	st, err := store.Open(filepath.Join(t.TempDir(), "store"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	bs := st.Blockstore()
	built := time.Now()
	cases := buildHostile(t, bs)
	t.Logf("built %d hostile DAGs in %s", len(cases), time.Since(built).Round(time.Millisecond))

	h, err := New(Config{}, blockservice.New(bs, offline.Exchange(bs)), nil, http.NotFoundHandler())
	if err != nil {
		t.Fatal(err)
	}
	g := &guard{next: h}
	srv := httptest.NewServer(g)
	t.Cleanup(srv.Close)

	carDups := http.Header{"Accept": {"application/vnd.ipld.car; version=1; order=dfs; dups=y"}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			root := tc.root.String()
			type request struct {
				what, target, host string
				header             http.Header
			}
			reqs := []request{
				{"path", "/ipfs/" + root, "", nil},
				{"listing", "/ipfs/" + root + "/", "", http.Header{"Accept": {"text/html"}}},
				{"subdomain", "/", root + ".ipfs.localhost", http.Header{"Accept": {"text/html"}}},
				{"tar", "/ipfs/" + root + "?format=tar", "", nil},
				{"car entity", "/ipfs/" + root + "?format=car&dag-scope=entity", "", nil},
			}
			if !tc.light {
				reqs = append(reqs, []request{
					{"car", "/ipfs/" + root + "?format=car", "", nil},
					{"car dups=y", "/ipfs/" + root, "", carDups},
					{"car entity 0:1MiB", "/ipfs/" + root + "?format=car&dag-scope=entity&entity-bytes=0:1048575", "", nil},
					{"car entity tail", "/ipfs/" + root + "?format=car&dag-scope=entity&entity-bytes=-1000:*", "", nil},
					{"car block", "/ipfs/" + root + "?format=car&dag-scope=block", "", nil},
					{"raw", "/ipfs/" + root + "?format=raw", "", nil},
					{"range", "/ipfs/" + root, "", http.Header{"Range": {"bytes=1000000-1000099"}}},
				}...)
			}
			for _, p := range tc.paths {
				reqs = append(reqs,
					request{"path " + abbrev(p), "/ipfs/" + root + "/" + p, "", nil},
					request{"tar " + abbrev(p), "/ipfs/" + root + "/" + p + "?format=tar", "", nil},
					request{"car " + abbrev(p), "/ipfs/" + root + "/" + p + "?format=car&dag-scope=entity", "", nil},
				)
			}
			for _, rq := range reqs {
				a := ask(t, srv, rq.target, rq.host, rq.header, strings.HasPrefix(rq.what, "tar"))
				waitIdle(t, g, rq.what)
				t.Logf("%-22s %3d %10d bytes%s in %-8s heap +%.1f MiB", rq.what, a.status, a.size, cutNote(a.cut), a.elapsed.Round(time.Millisecond), float64(a.heap)/mib)
				check(t, tc, rq.what, a)
			}
		})
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	for _, p := range g.panics {
		t.Errorf("handler panicked: %s", p)
	}
}

func cutNote(cut bool) string {
	if cut {
		return " (cut)"
	}
	return "       "
}

// abbrev shortens a path for the log.
func abbrev(p string) string {
	if len(p) > 24 {
		return fmt.Sprintf("%.12s…(%d)", p, len(p))
	}
	return p
}

// check holds an answer to the rules.
func check(t *testing.T, tc hostileCase, what string, a answer) {
	t.Helper()
	switch {
	case a.err != nil:
		t.Errorf("%s: no complete answer: %v", what, a.err)
		return
	case a.bodyErr != nil && !(tc.cutOK && (a.status == http.StatusOK || a.status == http.StatusPartialContent)):
		t.Errorf("%s: status %d, then the body ended short after %d bytes: %v", what, a.status, a.size, a.bodyErr)
	case a.status >= 500 && a.status != http.StatusNotImplemented && a.status != http.StatusGatewayTimeout &&
		!saysOneOf(a.body, tc.serverSays):
		t.Errorf("%s: server error %d: %.300q", what, a.status, a.body)
	case a.status >= 400 && len(bytes.TrimSpace(a.body)) == 0:
		t.Errorf("%s: status %d without a message", what, a.status)
	}
	if want, ok := tc.want[what]; ok && a.status != want {
		t.Errorf("%s: status %d, want %d: %.300q", what, a.status, want, a.body)
	}
	if a.heap > heapCap {
		t.Errorf("%s: heap grew by %d MiB during the request", what, a.heap/mib)
	}
	if a.cut && !strings.HasPrefix(what, "car dups") && !strings.HasPrefix(what, "path") && what != "listing" && what != "subdomain" {
		// Only a client's own request for a whole file (by path, or as
		// the root of a listing URL) or for every duplicate block may run
		// on: what it asked for is that large, the server's work is what
		// the client reads, and it stops when the client does.
		t.Errorf("%s: the answer ran past %d MiB", what, readCap/mib)
	}
	if strings.HasPrefix(what, "tar") && a.status == http.StatusOK && !a.cut {
		for _, p := range a.tar.problems {
			t.Errorf("%s: %s", what, p)
		}
		// boxo ends a tar whose file held less than it claimed with the
		// error, as text: a corrupt tar, by design.
		if a.tar.err != nil && !tc.cutOK {
			t.Errorf("%s: member %d: %v (%d bytes)", what, a.tar.members, a.tar.err, a.size)
		}
	}
}

// saysOneOf reports whether body names one of the faults.
func saysOneOf(body []byte, faults []string) bool {
	for _, f := range faults {
		if bytes.Contains(body, []byte(f)) {
			return true
		}
	}
	return false
}

// tarRead is what readTar found.
type tarRead struct {
	members  int
	problems []string // members that leave the top folder or mislead
	err      error    // the tar did not parse to its end
}

// readTar reads a tar: every member must stay inside the top folder and
// have a clean, printable name, and no symlink may point out of it.
func readTar(r io.Reader) tarRead {
	var out tarRead
	tr := tar.NewReader(r)
	top := ""
	for ; ; out.members++ {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			out.err = err
			return out
		}
		name := path.Clean(hdr.Name)
		if top == "" {
			top, _, _ = strings.Cut(name, "/")
		}
		if name != top && !strings.HasPrefix(name, top+"/") {
			out.problems = append(out.problems, fmt.Sprintf("member %q outside the top folder %q", hdr.Name, top))
		}
		if name != hdr.Name && hdr.Name != name+"/" {
			out.problems = append(out.problems, fmt.Sprintf("member %q is not clean", hdr.Name))
		}
		if strings.IndexFunc(hdr.Name, unicode.IsControl) >= 0 {
			out.problems = append(out.problems, fmt.Sprintf("member %q has a control character", hdr.Name))
		}
		if hdr.Typeflag == tar.TypeSymlink {
			target := path.Join(path.Dir(name), hdr.Linkname)
			if path.IsAbs(hdr.Linkname) || (target != top && !strings.HasPrefix(target, top+"/")) {
				out.problems = append(out.problems, fmt.Sprintf("symlink %q -> %q leaves the top folder", hdr.Name, hdr.Linkname))
			}
		}
	}
}

package node

// The bulk path: fetching a DAG, or what is missing of it, as CAR streams
// from a peer's trustless gateway over libp2p HTTP (/http/1.1, protocol
// /ipfs/gateway, as Kubo serves it with Experimental.GatewayOverLibp2p).
//
// Bitswap asks for blocks one message at a time, and on a slow link with a
// long round trip it sends large blocks twice (boxo's per-message deadline
// resets a block that shares the link with others). A CAR stream is one
// request per missing subtree: the transport's own flow and congestion
// control fill the link, and every block is checked as it arrives (its
// hash, and that a block already accepted links to it), so a peer can
// waste our bandwidth but not our disk.
//
// What is missing is planned from the blocks stored: a missing subtree is
// one request (dag-scope=entity: a whole file, or a directory's own blocks
// so its entries can be planned next), and the missing leaves of a stored
// file are one request per run (entity-bytes). Blocks already stored are
// not asked for again, so a transfer cut anywhere resumes where it
// stopped; a block cut in the middle resumes from the byte it stopped at
// (a Range request for the raw block). Requests go out small and
// important first: the bundle's metadata, then instructions, BOMs and
// other documents, then small images, then the rest by size.

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/boxo/bitswap"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/datamodel"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	libp2phttp "github.com/libp2p/go-libp2p/p2p/http"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
	"github.com/multiformats/go-multicodec"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/commons-p2p/commons/gateway"
	"github.com/commons-p2p/commons/gateway/api"
)

// gatewayProtocol is the trustless gateway's protocol ID over libp2p HTTP,
// the one Kubo uses (ipfs/specs#433 will name it for good).
const gatewayProtocol protocol.ID = "/ipfs/gateway"

// Limits and timings of the bulk path.
const (
	// bulkConcurrency is the number of CAR requests in flight per fetch.
	// One stream fills a slow link; a few more keep small files moving
	// while a large one streams, and hide round trips on fast links. On
	// loopback, where both ends share the CPUs, 8 fetched the 256 MiB
	// library 12-25% faster than 4 (4.8-5.6 s against 5.6-6.6 s, two
	// daemons on 2 busy vCPU) with no more CPU; 12 was no faster than 8.
	bulkConcurrency = 8
	// bulkServeConcurrency bounds the requests one peer may have open at
	// this node's trustless gateway; more get 429. Twice a fetch's, so a
	// peer may run two fetches from this node at once.
	bulkServeConcurrency = 16
	// bulkStall is how long no byte may arrive while requests are open
	// before the connection is checked (a link that is cut keeps its
	// connection open for 10-30 s, during which requests hang).
	bulkStall = 5 * time.Second
	// bulkDialTimeout bounds one redial attempt. Attempts follow each
	// other without pause, so a link that comes back is found within
	// about this long.
	bulkDialTimeout = 2 * time.Second
	// bulkProbeTimeout bounds asking a peer whether it has a CID.
	bulkProbeTimeout = 10 * time.Second
	// maxBlockSize is the largest block accepted, as in bitswap.
	maxBlockSize = 2 << 20
	// minPartial is the smallest cut-off block worth resuming by Range.
	minPartial = 16 << 10
	// maxPartials bounds the bytes of cut-off blocks kept for resuming.
	maxPartials = 64 << 20
	// bulkMaxFails is how many requests in a row may fail, with the
	// source connected, before the source is given up for this fetch.
	bulkMaxFails = 12
	// bulkWholeMax is the largest subtree (by its link's size) asked for
	// whole before its top block is seen. A larger one is asked for block
	// by block from the top, because a new version of a large file shares
	// most of its blocks with the old one, and a whole-entity request
	// would send those again.
	bulkWholeMax = 256 << 10
	// bulkRangeMax is the most bytes of one file asked for in one
	// request. A large file is split into several requests, so that the
	// requests in flight share the work of both ends (a single stream is
	// served, encrypted, hashed and stored one block at a time) and the
	// last large file does not stream alone.
	bulkRangeMax = 8 << 20
	// bulkFlushBytes and bulkFlushEvery bound what is received but not
	// yet written: a crash or a cut loses at most this much.
	bulkFlushBytes = 1 << 20
	bulkFlushEvery = 250 * time.Millisecond
)

// errNoBulkSource means no peer serves the CID over the bulk path; bitswap
// is left to find it.
var errNoBulkSource = errors.New("no peer serves it over the trustless gateway protocol")

// bulk is the node's side of the bulk path: the server (the trustless
// gateway on its libp2p host) and the client state shared by fetches.
type bulk struct {
	n   *Node
	h   *libp2phttp.Host
	log *slog.Logger

	readers sync.Pool // *bufio.Reader of 64 KiB for CAR responses

	mu       sync.Mutex
	clients  map[peer.ID]*bulkClient
	noServe  map[peer.ID]time.Time // peers found not to serve, until
	served   map[peer.ID]int       // open requests per peer at our server
	partials map[cid.Cid][]byte    // cut-off blocks, by CID
	partialN int
	dialMu   map[peer.ID]*sync.Mutex

	// Counters, read by Received and the metrics.
	received     atomic.Int64 // bytes of blocks (and block parts) received
	receivedDup  atomic.Int64 // ... of blocks stored already
	blocksIn     atomic.Int64
	blocksDup    atomic.Int64
	resumed      atomic.Int64
	servedBytes  atomic.Int64
	reconnects   atomic.Int64
	refusedPeers atomic.Int64
	requests     *prometheus.CounterVec
}

type bulkClient struct {
	c      *http.Client
	prefix string // where the peer mounts /ipfs/gateway, no trailing slash
}

// buildBulk sets up the bulk path on the node's host: the client always
// (fetch.bulk decides whether fetches use it), the server when
// gateway.over_libp2p is on.
func (n *Node) buildBulk(serve bool) error {
	b := &bulk{
		n:        n,
		h:        &libp2phttp.Host{StreamHost: n.Host},
		log:      n.log.With("subsystem", "bulk"),
		clients:  map[peer.ID]*bulkClient{},
		noServe:  map[peer.ID]time.Time{},
		served:   map[peer.ID]int{},
		partials: map[cid.Cid][]byte{},
		dialMu:   map[peer.ID]*sync.Mutex{},
	}
	counter := func(name, help string, v *atomic.Int64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v.Load()) })
	}
	b.requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "commons_bulk_requests_total",
		Help: "CAR and block requests made over the bulk path, by outcome.",
	}, []string{"outcome"})
	for _, c := range []prometheus.Collector{
		counter("commons_bulk_received_bytes_total", "Bytes of blocks received over the bulk path (CAR streams and Range resumes), duplicates and cut-off parts included.", &b.received),
		counter("commons_bulk_dup_received_bytes_total", "Bytes of blocks received over the bulk path that were stored already.", &b.receivedDup),
		counter("commons_bulk_blocks_received_total", "Whole blocks received over the bulk path, duplicates included.", &b.blocksIn),
		counter("commons_bulk_dup_blocks_received_total", "Blocks received over the bulk path that were stored already.", &b.blocksDup),
		counter("commons_bulk_resumed_blocks_total", "Blocks cut off by a broken stream and completed by a Range request.", &b.resumed),
		counter("commons_bulk_served_bytes_total", "Bytes of responses this node's trustless gateway sent to peers.", &b.servedBytes),
		counter("commons_bulk_reconnects_total", "Connections re-established to a peer in the middle of a bulk fetch.", &b.reconnects),
		counter("commons_bulk_bad_peers_total", "Peers dropped from a fetch for sending a block that does not verify or was not asked for.", &b.refusedPeers),
		b.requests,
	} {
		if err := n.metrics.Register(c); err != nil {
			return fmt.Errorf("node: bulk metrics: %w", err)
		}
	}
	if serve {
		h, err := gateway.Trustless(n.local, n.metrics)
		if err != nil {
			return fmt.Errorf("node: bulk server: %w", err)
		}
		b.h.SetHTTPHandlerAtPath(gatewayProtocol, "/", b.limit(h))
		// Serve registers the /http/1.1 stream handler and blocks until
		// Close; with no listen addresses of its own it only fails on a
		// closed host.
		go func() {
			if err := b.h.Serve(); err != nil && !errors.Is(err, http.ErrServerClosed) {
				b.log.Debug("trustless gateway over libp2p stopped", "err", err)
			}
		}()
	}
	n.closers = append(n.closers, func() error { b.h.Close(); return nil })
	n.bulk = b
	return nil
}

// limit bounds the requests each peer has open at once and counts the
// bytes served.
func (b *bulk) limit(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p := libp2phttp.ClientPeerID(r)
		b.mu.Lock()
		if b.served[p] >= bulkServeConcurrency {
			b.mu.Unlock()
			w.Header().Set("Retry-After", "1")
			http.Error(w, fmt.Sprintf("too many requests: at most %d at once per peer", bulkServeConcurrency), http.StatusTooManyRequests)
			return
		}
		b.served[p]++
		b.mu.Unlock()
		defer func() {
			b.mu.Lock()
			if b.served[p]--; b.served[p] <= 0 {
				delete(b.served, p)
			}
			b.mu.Unlock()
		}()
		next.ServeHTTP(&countingWriter{ResponseWriter: w, c: &b.servedBytes}, r)
	})
}

type countingWriter struct {
	http.ResponseWriter
	c *atomic.Int64
}

func (w *countingWriter) Write(p []byte) (int, error) {
	n, err := w.ResponseWriter.Write(p)
	w.c.Add(int64(n))
	return n, err
}

func (w *countingWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// client returns an HTTP client for p's trustless gateway, asking p where
// it mounts it (the .well-known/libp2p/protocols resource) the first
// time. A peer that does not serve it is remembered for ten minutes.
func (b *bulk) client(ctx context.Context, p peer.ID) (*bulkClient, error) {
	b.mu.Lock()
	if c, ok := b.clients[p]; ok {
		b.mu.Unlock()
		return c, nil
	}
	if until, ok := b.noServe[p]; ok && time.Now().Before(until) {
		b.mu.Unlock()
		return nil, errNoBulkSource
	}
	b.mu.Unlock()
	rt, err := b.h.NewConstrainedRoundTripper(peer.AddrInfo{ID: p})
	if err != nil {
		return nil, err
	}
	c := &http.Client{Transport: rt}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, libp2phttp.WellKnownProtocols, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := c.Do(req)
	if err != nil {
		if ctx.Err() == nil && isProtocolUnsupported(err) {
			b.markNoServe(p)
			return nil, errNoBulkSource
		}
		return nil, err
	}
	defer resp.Body.Close()
	var meta libp2phttp.PeerMeta
	if resp.StatusCode != http.StatusOK {
		b.markNoServe(p)
		return nil, errNoBulkSource
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&meta); err != nil {
		b.markNoServe(p)
		return nil, errNoBulkSource
	}
	pm, ok := meta[gatewayProtocol]
	if !ok || !strings.HasPrefix(pm.Path, "/") {
		b.markNoServe(p)
		return nil, errNoBulkSource
	}
	bc := &bulkClient{c: c, prefix: strings.TrimSuffix(pm.Path, "/")}
	b.mu.Lock()
	b.clients[p] = bc
	b.mu.Unlock()
	return bc, nil
}

func (b *bulk) markNoServe(p peer.ID) {
	b.mu.Lock()
	b.noServe[p] = time.Now().Add(10 * time.Minute)
	b.mu.Unlock()
}

func isProtocolUnsupported(err error) bool {
	s := err.Error()
	return strings.Contains(s, "protocols not supported") || strings.Contains(s, "protocol not supported")
}

// has asks p whether it stores c (HEAD of the raw block).
func (b *bulk) has(ctx context.Context, p peer.ID, c cid.Cid) bool {
	ctx, cancel := context.WithTimeout(ctx, bulkProbeTimeout)
	defer cancel()
	bc, err := b.client(ctx, p)
	if err != nil {
		return false
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, bc.prefix+"/ipfs/"+c.String()+"?format=raw", nil)
	if err != nil {
		return false
	}
	req.Header.Set("Accept", "application/vnd.ipld.raw")
	resp, err := bc.c.Do(req)
	if err != nil {
		return false
	}
	resp.Body.Close()
	return resp.StatusCode == http.StatusOK
}

// takePartial returns and forgets the cut-off start of block c.
func (b *bulk) takePartial(c cid.Cid) []byte {
	b.mu.Lock()
	defer b.mu.Unlock()
	p, ok := b.partials[c]
	if ok {
		delete(b.partials, c)
		b.partialN -= len(p)
	}
	return p
}

// keepPartial remembers the cut-off start of block c, within maxPartials.
func (b *bulk) keepPartial(c cid.Cid, data []byte) {
	if len(data) < minPartial {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if old, ok := b.partials[c]; ok {
		if len(old) >= len(data) {
			return
		}
		b.partialN -= len(old)
		delete(b.partials, c)
	}
	if b.partialN+len(data) > maxPartials {
		return
	}
	b.partials[c] = bytes.Clone(data)
	b.partialN += len(data)
}

// reconnect dials p until it answers or ctx ends. Attempts follow each
// other closely and skip the swarm's dial backoff (which after a long cut
// would hold a redial back for minutes): the peer had what we want a
// moment ago, and a link that comes back should be used at once.
func (b *bulk) reconnect(ctx context.Context, p peer.ID) error {
	b.mu.Lock()
	mu, ok := b.dialMu[p]
	if !ok {
		mu = &sync.Mutex{}
		b.dialMu[p] = mu
	}
	b.mu.Unlock()
	mu.Lock()
	defer mu.Unlock()
	h := b.n.Host
	for attempt := 0; ; attempt++ {
		if h.Network().Connectedness(p) == network.Connected {
			if attempt > 0 {
				b.reconnects.Add(1)
				b.log.Info("reconnected to a peer to resume a transfer", "peer", p, "attempts", attempt)
			}
			return nil
		}
		if sw, ok := h.Network().(*swarm.Swarm); ok {
			sw.Backoff().Clear(p)
		}
		dctx, cancel := context.WithTimeout(network.WithForceDirectDial(ctx, "resume a transfer"), bulkDialTimeout)
		err := h.Connect(dctx, peer.AddrInfo{ID: p})
		cancel()
		if err == nil {
			continue
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt == 0 {
			b.log.Info("lost the peer a transfer comes from; redialling until it answers", "peer", p, "err", err)
		}
		// A dial that fails at once (no route while a link is down)
		// must not spin.
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// fetch makes every block under root stored, from peers that serve the
// trustless gateway. It returns nil when the DAG is complete; otherwise
// the error says why, and bitswap is left to fetch the rest (what arrived
// here is stored and not asked for again). wd is kicked by every byte
// that arrives.
func (b *bulk) fetch(ctx context.Context, root cid.Cid, wd *watchdog, progress func(api.Progress)) error {
	f := &bulkFetch{b: b, root: root, wd: wd, progress: progress, queued: map[string]bool{}}
	return f.run(ctx)
}

// item is one request: a missing subtree (whole entity), or a run of
// missing leaves of a stored file (entity-bytes from-to).
type item struct {
	c        cid.Cid
	path     string
	size     uint64
	whole    bool // the whole entity; else its top block only, or a range
	ranged   bool
	from, to uint64  // byte range of the file, inclusive, when ranged
	first    cid.Cid // the first missing block: a cut-off copy of it is resumed by Range
	prio     int
	tries    int
}

func (it *item) key() string {
	if it.ranged {
		return it.c.KeyString() + ":" + strconv.FormatUint(it.from, 10) + "-" + strconv.FormatUint(it.to, 10)
	}
	if !it.whole {
		return it.c.KeyString() + ":block"
	}
	return it.c.KeyString()
}

// bulkFetch is one fetch of one DAG.
type bulkFetch struct {
	b        *bulk
	root     cid.Cid
	wd       *watchdog
	progress func(api.Progress)

	src      peer.ID      // the peer requests go to
	alts     []peer.ID    // others that have the root
	probeCID cid.Cid      // what the sources said they have
	fails    atomic.Int32 // requests failed in a row

	genMu     sync.Mutex
	gen       context.Context // the context of the requests in flight
	genCancel context.CancelFunc
	lastByte  atomic.Int64

	mu     sync.Mutex
	queue  []*item
	queued map[string]bool
	left   int // items no peer could serve
}

type itemResult struct {
	it  *item
	err error
	bad bool // the peer sent something that does not verify
}

func (f *bulkFetch) run(ctx context.Context) error {
	items, err := f.plan(ctx, f.root, "", 0)
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return nil
	}
	f.push(items)
	f.probeCID = items[0].c
	if err := f.findSource(ctx, f.probeCID); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go f.watchStall(ctx)

	results := make(chan itemResult)
	inflight := 0
	for {
		for inflight < bulkConcurrency {
			it := f.pop()
			if it == nil {
				break
			}
			inflight++
			go func() { results <- f.do(ctx, it) }()
		}
		if inflight == 0 {
			break
		}
		var r itemResult
		select {
		case r = <-results:
		case <-ctx.Done():
			for ; inflight > 0; inflight-- {
				<-results
			}
			return ctx.Err()
		}
		inflight--
		f.mu.Lock()
		delete(f.queued, r.it.key())
		f.mu.Unlock()
		if r.bad {
			f.b.refusedPeers.Add(1)
			f.b.log.Warn("peer sent a block that does not verify; not asking it again in this fetch", "peer", f.source(), "cid", r.it.c, "err", r.err)
			if !f.nextSource() {
				cancel()
				f.drain(&inflight, results)
				return fmt.Errorf("bulk fetch %s: %w", f.root, r.err)
			}
		}
		if r.err != nil && ctx.Err() != nil {
			continue
		}
		switch {
		case r.err == nil:
			f.fails.Store(0)
		case !errors.Is(r.err, errNoBulkSource) && !r.bad && f.b.n.Host.Network().Connectedness(f.source()) == network.Connected:
			// A source that fails every request while connected (it
			// resets streams, or its gateway errs) is given up on, as
			// a bad one is.
			if f.fails.Add(1) >= bulkMaxFails {
				f.b.log.Info("the source fails every request; trying another", "peer", f.source(), "err", r.err)
				f.fails.Store(0)
				if !f.nextSource() {
					cancel()
					f.drain(&inflight, results)
					return fmt.Errorf("bulk fetch %s: %d requests in a row failed: %w", f.root, bulkMaxFails, r.err)
				}
			}
		}
		if errors.Is(r.err, errNoBulkSource) {
			// The source does not have this part: try the others,
			// else leave it to bitswap.
			r.it.tries++
			if r.it.tries <= f.altCount() && f.nextSource() {
				f.push([]*item{r.it})
			} else {
				f.mu.Lock()
				f.left++
				f.mu.Unlock()
			}
			continue
		}
		// Whatever happened, plan again from what is stored now: a
		// finished directory yields its entries, a cut stream the rest.
		// A range of a file is planned again within itself: the file's
		// other ranges are queued or in flight already.
		more, err := f.plan(ctx, r.it.c, r.it.path, r.it.size)
		if err == nil && r.it.ranged {
			more = within(more, r.it)
		}
		if err != nil {
			cancel()
			f.drain(&inflight, results)
			return err
		}
		f.push(more)
	}
	if f.left > 0 {
		return fmt.Errorf("bulk fetch %s: %d parts not served by %s: %w", f.root, f.left, f.source(), errNoBulkSource)
	}
	return nil
}

func (f *bulkFetch) drain(inflight *int, results chan itemResult) {
	for ; *inflight > 0; *inflight-- {
		<-results
	}
}

func (f *bulkFetch) push(items []*item) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, it := range items {
		if k := it.key(); !f.queued[k] {
			f.queued[k] = true
			f.queue = append(f.queue, it)
		}
	}
	slices.SortStableFunc(f.queue, func(a, b *item) int {
		if c := cmp.Compare(a.prio, b.prio); c != 0 {
			return c
		}
		if c := cmp.Compare(a.size, b.size); c != 0 {
			return c
		}
		return cmp.Compare(a.path, b.path)
	})
}

func (f *bulkFetch) pop() *item {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.queue) == 0 {
		return nil
	}
	it := f.queue[0]
	f.queue = f.queue[1:]
	return it
}

// findSource picks the peer to stream from: the connected peers are asked
// whether they have c (all at once; the first to say yes is the source,
// the others that do are kept as alternatives); if none has it, the
// routing's providers are.
func (f *bulkFetch) findSource(ctx context.Context, c cid.Cid) error {
	h := f.b.n.Host
	var cands []peer.ID
	for _, p := range h.Network().Peers() {
		f.b.mu.Lock()
		until, no := f.b.noServe[p]
		f.b.mu.Unlock()
		if no && time.Now().Before(until) {
			continue
		}
		// A peer whose protocols identify has listed without HTTP
		// (most Kubo nodes) is not asked.
		if protos, err := h.Peerstore().GetProtocols(p); err == nil && len(protos) > 0 && !slices.Contains(protos, libp2phttp.ProtocolIDForMultistreamSelect) {
			continue
		}
		cands = append(cands, p)
	}
	if f.probe(ctx, c, cands) {
		return nil
	}
	if f.b.n.Routing == nil {
		return errNoBulkSource
	}
	pctx, cancel := context.WithTimeout(ctx, bulkProbeTimeout)
	defer cancel()
	var provs []peer.ID
	for pi := range f.b.n.Routing.FindProvidersAsync(pctx, c, 8) {
		if pi.ID == h.ID() || slices.Contains(cands, pi.ID) {
			continue
		}
		if err := h.Connect(pctx, pi); err == nil {
			provs = append(provs, pi.ID)
		}
	}
	if f.probe(ctx, c, provs) {
		return nil
	}
	return errNoBulkSource
}

func (f *bulkFetch) probe(ctx context.Context, c cid.Cid, cands []peer.ID) bool {
	if len(cands) == 0 {
		return false
	}
	if len(cands) > 16 {
		cands = cands[:16]
	}
	yes := make(chan peer.ID, len(cands))
	var wg sync.WaitGroup
	for _, p := range cands {
		wg.Go(func() {
			if f.b.has(ctx, p, c) {
				yes <- p
			}
		})
	}
	go func() { wg.Wait(); close(yes) }()
	first, ok := <-yes
	if !ok {
		return false
	}
	f.src = first
	f.b.n.bulkSources.add(first)
	// The others are collected as they answer; the fetch needs them only
	// if the first fails.
	go func() {
		for p := range yes {
			f.mu.Lock()
			f.alts = append(f.alts, p)
			f.mu.Unlock()
		}
	}()
	return true
}

func (f *bulkFetch) altCount() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return len(f.alts)
}

func (f *bulkFetch) source() peer.ID {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.src
}

// nextSource moves to an alternative source, if there is one.
func (f *bulkFetch) nextSource() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.alts) == 0 {
		return false
	}
	f.src, f.alts = f.alts[0], f.alts[1:]
	return true
}

// watchStall notices a source that has gone quiet while requests are open
// (a cut link keeps its connection up for a while, and requests hang on
// it) and closes the connection, so that the requests fail and the
// fetch redials.
func (f *bulkFetch) watchStall(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	f.lastByte.Store(time.Now().UnixNano())
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if time.Since(time.Unix(0, f.lastByte.Load())) < bulkStall {
			continue
		}
		f.mu.Lock()
		src := f.src
		f.mu.Unlock()
		if f.b.n.Host.Network().Connectedness(src) == network.Connected {
			if f.b.has(ctx, src, f.probeCID) || ctx.Err() != nil {
				f.lastByte.Store(time.Now().UnixNano())
				continue
			}
			f.b.log.Info("no data from the peer for a while and it does not answer; closing the connection to redial", "peer", src, "quiet", bulkStall)
			_ = f.b.n.Host.Network().ClosePeer(src)
		}
		// Requests still waiting on the old connection are ended; they
		// are planned again and sent once the source is back.
		f.abortRequests()
		f.lastByte.Store(time.Now().UnixNano())
	}
}

// requestCtx is the context requests are made in: the fetch's, until
// abortRequests ends the current one.
func (f *bulkFetch) requestCtx(parent context.Context) context.Context {
	f.genMu.Lock()
	defer f.genMu.Unlock()
	if f.gen == nil || f.gen.Err() != nil {
		f.gen, f.genCancel = context.WithCancel(parent)
	}
	return f.gen
}

func (f *bulkFetch) abortRequests() {
	f.genMu.Lock()
	defer f.genMu.Unlock()
	if f.genCancel != nil {
		f.genCancel()
	}
	f.gen = nil
}

// do makes one request and stores what arrives.
func (f *bulkFetch) do(fetchCtx context.Context, it *item) itemResult {
	ctx := f.requestCtx(fetchCtx)
	f.mu.Lock()
	src := f.src
	f.mu.Unlock()
	if n := f.fails.Load(); n > 0 {
		// After failures, a pause that grows with them: a source that
		// errs at once must not be hammered.
		select {
		case <-ctx.Done():
			return itemResult{it: it, err: ctx.Err()}
		case <-time.After(min(50*time.Millisecond*time.Duration(n), 2*time.Second)):
		}
	}
	if err := f.b.reconnect(fetchCtx, src); err != nil {
		return itemResult{it: it, err: err}
	}
	bc, err := f.b.client(ctx, src)
	if err != nil {
		return itemResult{it: it, err: err}
	}
	if it.first.Defined() {
		if part := f.b.takePartial(it.first); part != nil {
			// Finish the cut-off block first; the item is planned again
			// afterwards.
			return f.resume(ctx, bc, it, part)
		}
	}
	q := "?format=car&dag-scope=entity&car-order=dfs&car-dups=n"
	switch {
	case it.ranged:
		q += "&entity-bytes=" + strconv.FormatUint(it.from, 10) + ":" + strconv.FormatUint(it.to, 10)
	case !it.whole:
		q = "?format=car&dag-scope=block&car-order=dfs&car-dups=n"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, bc.prefix+"/ipfs/"+it.c.String()+q, nil)
	if err != nil {
		return itemResult{it: it, err: err}
	}
	req.Header.Set("Accept", "application/vnd.ipld.car;version=1;order=dfs;dups=n")
	resp, err := bc.c.Do(req)
	if err != nil {
		f.b.requests.WithLabelValues("error").Inc()
		return itemResult{it: it, err: err}
	}
	defer resp.Body.Close()
	stop := context.AfterFunc(ctx, func() { resp.Body.Close() })
	defer stop()
	switch {
	case resp.StatusCode == http.StatusOK:
	case resp.StatusCode == http.StatusTooManyRequests:
		f.b.requests.WithLabelValues("busy").Inc()
		select {
		case <-ctx.Done():
		case <-time.After(time.Second):
		}
		return itemResult{it: it, err: errors.New("peer busy")}
	default:
		f.b.requests.WithLabelValues("missing").Inc()
		return itemResult{it: it, err: fmt.Errorf("%s: %s: %w", src, resp.Status, errNoBulkSource)}
	}
	err = f.readCAR(ctx, resp.Body, it)
	var bad *badBlockError
	if errors.As(err, &bad) {
		f.b.requests.WithLabelValues("bad").Inc()
		f.b.n.penalties.offend(src, offenceBadBlock, 1, err.Error())
		return itemResult{it: it, err: err, bad: true}
	}
	if err != nil {
		f.b.requests.WithLabelValues("cut").Inc()
		return itemResult{it: it, err: err}
	}
	f.b.requests.WithLabelValues("ok").Inc()
	return itemResult{it: it}
}

// resume completes a block whose start arrived before a stream broke,
// with a Range request for the rest of the raw block.
func (f *bulkFetch) resume(ctx context.Context, bc *bulkClient, it *item, part []byte) itemResult {
	c := it.first
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, bc.prefix+"/ipfs/"+c.String()+"?format=raw", nil)
	if err != nil {
		return itemResult{it: it, err: err}
	}
	req.Header.Set("Accept", "application/vnd.ipld.raw")
	req.Header.Set("Range", "bytes="+strconv.Itoa(len(part))+"-")
	resp, err := bc.c.Do(req)
	if err != nil {
		f.b.keepPartial(c, part)
		return itemResult{it: it, err: err}
	}
	defer resp.Body.Close()
	stop := context.AfterFunc(ctx, func() { resp.Body.Close() })
	defer stop()
	if resp.StatusCode != http.StatusPartialContent {
		// No range support, or no block: plan again without the part.
		f.b.requests.WithLabelValues("range-refused").Inc()
		return itemResult{it: it}
	}
	data := part
	buf := make([]byte, 32<<10)
	for {
		n, rerr := resp.Body.Read(buf)
		if n > 0 {
			f.kick(n)
			f.b.received.Add(int64(n))
			data = append(data, buf[:n]...)
			if len(data) > maxBlockSize {
				return itemResult{it: it, err: &badBlockError{c: c, why: "longer than any block"}, bad: true}
			}
		}
		if rerr == io.EOF {
			break
		}
		if rerr != nil {
			f.b.keepPartial(c, data)
			return itemResult{it: it, err: rerr}
		}
	}
	blk, err := blocks.NewBlockWithCid(data, c)
	if err != nil || !verifies(c, data) {
		// The kept start may have been wrong: start the block over.
		f.b.requests.WithLabelValues("range-bad").Inc()
		return itemResult{it: it}
	}
	if err := f.b.n.Blocks.AddBlocks(ctx, []blocks.Block{blk}); err != nil {
		return itemResult{it: it, err: err}
	}
	f.b.resumed.Add(1)
	f.b.blocksIn.Add(1)
	f.report(len(data))
	f.b.requests.WithLabelValues("range").Inc()
	return itemResult{it: it}
}

func (f *bulkFetch) kick(n int) {
	f.lastByte.Store(time.Now().UnixNano())
	f.wd.kick()
}

func (f *bulkFetch) report(size int) {
	f.wd.count(size, f.progress)
}

// badBlockError is a block from a peer that does not match its CID, or
// that nothing asked for.
type badBlockError struct {
	c   cid.Cid
	why string
}

func (e *badBlockError) Error() string { return fmt.Sprintf("block %s: %s", e.c, e.why) }

func verifies(c cid.Cid, data []byte) bool {
	got, err := c.Prefix().Sum(data)
	return err == nil && got.Equals(c)
}

// readCAR reads a CARv1 stream: every block must hash to its CID and be
// the requested root or linked from a block accepted before it. Verified
// blocks are stored in small batches; a block cut off by a broken stream
// is kept for a Range resume.
func (f *bulkFetch) readCAR(ctx context.Context, body io.Reader, it *item) error {
	// The read buffers are reused: a fetch of a folder of small files
	// makes a request per file, and a new 64 KiB buffer each was a tenth
	// of what a fetch allocated.
	r, _ := f.b.readers.Get().(*bufio.Reader)
	if r == nil {
		r = bufio.NewReaderSize(nil, 64<<10)
	}
	r.Reset(&kickReader{r: body, f: f})
	defer func() {
		r.Reset(nil)
		f.b.readers.Put(r)
	}()
	hlen, err := binary.ReadUvarint(r)
	if err != nil {
		return fmt.Errorf("car header: %w", err)
	}
	if hlen == 0 || hlen > 64<<10 {
		return &badBlockError{c: it.c, why: fmt.Sprintf("CAR header of %d bytes", hlen)}
	}
	hdr := make([]byte, hlen)
	if _, err := io.ReadFull(r, hdr); err != nil {
		return fmt.Errorf("car header: %w", err)
	}
	if err := checkCARHeader(hdr); err != nil {
		return &badBlockError{c: it.c, why: err.Error()}
	}
	expected := map[cid.Cid]bool{it.c: true}
	var batch []blocks.Block
	batchBytes := 0
	lastFlush := time.Now()
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := f.b.n.Blocks.AddBlocks(ctx, batch)
		batch, batchBytes, lastFlush = nil, 0, time.Now()
		return err
	}
	defer func() { _ = flush() }()
	bs := f.b.n.Blockstore
	for {
		slen, err := binary.ReadUvarint(r)
		if err == io.EOF {
			return flush()
		}
		if err != nil {
			return err
		}
		if slen == 0 || slen > maxBlockSize+128 {
			return &badBlockError{c: it.c, why: fmt.Sprintf("CAR section of %d bytes", slen)}
		}
		cr := &countReader{r: r}
		_, c, err := cid.CidFromReader(cr)
		if err != nil {
			if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
				return err
			}
			return &badBlockError{c: it.c, why: "unreadable CID: " + err.Error()}
		}
		if uint64(cr.n) > slen {
			return &badBlockError{c: c, why: "CAR section shorter than its CID"}
		}
		if !expected[c] {
			return &badBlockError{c: c, why: "not linked from what was asked for"}
		}
		data := make([]byte, slen-uint64(cr.n))
		if n, err := io.ReadFull(r, data); err != nil {
			f.b.received.Add(int64(n))
			f.b.keepPartial(c, data[:n])
			return err
		}
		f.b.received.Add(int64(len(data)))
		if !verifies(c, data) {
			return &badBlockError{c: c, why: "data does not hash to its CID"}
		}
		delete(expected, c)
		links, err := blockLinks(c, data)
		if err != nil {
			return &badBlockError{c: c, why: err.Error()}
		}
		for _, l := range links {
			expected[l] = true
		}
		f.b.blocksIn.Add(1)
		if have, _ := bs.Has(ctx, c); have {
			f.b.blocksDup.Add(1)
			f.b.receivedDup.Add(int64(len(data)))
			continue
		}
		blk, _ := blocks.NewBlockWithCid(data, c)
		batch = append(batch, blk)
		batchBytes += len(data)
		f.report(len(data))
		if batchBytes >= bulkFlushBytes || time.Since(lastFlush) >= bulkFlushEvery {
			if err := flush(); err != nil {
				return err
			}
		}
	}
}

// checkCARHeader accepts a CARv1 header: a dag-cbor map with version 1.
func checkCARHeader(hdr []byte) error {
	nb := basicnode.Prototype.Any.NewBuilder()
	if err := dagcbor.Decode(nb, bytes.NewReader(hdr)); err != nil {
		return fmt.Errorf("CAR header: %w", err)
	}
	v, err := nb.Build().LookupByString("version")
	if err != nil {
		return errors.New("CAR header without a version")
	}
	if n, err := v.AsInt(); err != nil || n != 1 {
		return errors.New("not a CARv1 stream")
	}
	return nil
}

// blockLinks returns the CIDs a block links to, for the codecs a design
// DAG is made of. Other codecs are refused: the bulk path cannot check
// what follows them, and bitswap fetches them.
func blockLinks(c cid.Cid, data []byte) ([]cid.Cid, error) {
	switch multicodec.Code(c.Type()) {
	case multicodec.Raw:
		return nil, nil
	case multicodec.DagPb:
		nd, err := merkledag.DecodeProtobuf(data)
		if err != nil {
			return nil, fmt.Errorf("dag-pb: %w", err)
		}
		out := make([]cid.Cid, 0, len(nd.Links()))
		for _, l := range nd.Links() {
			out = append(out, l.Cid)
		}
		return out, nil
	case multicodec.DagCbor:
		nb := basicnode.Prototype.Any.NewBuilder()
		if err := dagcbor.Decode(nb, bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("dag-cbor: %w", err)
		}
		var out []cid.Cid
		collectLinks(nb.Build(), &out, 0)
		return out, nil
	}
	return nil, fmt.Errorf("codec %s is not fetched in bulk", multicodec.Code(c.Type()))
}

func collectLinks(n datamodel.Node, out *[]cid.Cid, depth int) {
	if depth > 64 {
		return
	}
	switch n.Kind() {
	case datamodel.Kind_Link:
		if l, err := n.AsLink(); err == nil {
			if cl, ok := l.(cidlink.Link); ok {
				*out = append(*out, cl.Cid)
			}
		}
	case datamodel.Kind_Map:
		for it := n.MapIterator(); !it.Done(); {
			_, v, err := it.Next()
			if err != nil {
				return
			}
			collectLinks(v, out, depth+1)
		}
	case datamodel.Kind_List:
		for it := n.ListIterator(); !it.Done(); {
			_, v, err := it.Next()
			if err != nil {
				return
			}
			collectLinks(v, out, depth+1)
		}
	}
}

type kickReader struct {
	r io.Reader
	f *bulkFetch
}

func (k *kickReader) Read(p []byte) (int, error) {
	n, err := k.r.Read(p)
	if n > 0 {
		k.f.kick(n)
	}
	return n, err
}

type countReader struct {
	r *bufio.Reader
	n int
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

func (c *countReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	return b, err
}

// plan walks what is stored under c and returns the missing parts as
// requests. p is c's path in the DAG being fetched (for priorities) and
// size its size from its parent's link (0 if unknown).
func (f *bulkFetch) plan(ctx context.Context, c cid.Cid, p string, size uint64) ([]*item, error) {
	var out []*item
	seen := cid.NewSet()
	if err := f.walk(ctx, c, p, size, seen, &out); err != nil {
		return nil, fmt.Errorf("bulk fetch %s: plan: %w", f.root, err)
	}
	return out, nil
}

func (f *bulkFetch) walk(ctx context.Context, c cid.Cid, p string, size uint64, seen *cid.Set, out *[]*item) error {
	if !seen.Visit(c) {
		return nil
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if c.Prefix().MhType == 0 { // identity: the data is the CID
		return nil
	}
	missing := func() {
		whole := size > 0 && size <= bulkWholeMax
		*out = append(*out, &item{c: c, path: p, size: size, whole: whole, first: c, prio: bulkPriority(p, size)})
	}
	if multicodec.Code(c.Type()) == multicodec.Raw {
		// No links: whether it is stored is all the plan needs, and
		// reading it would read a file's data.
		has, err := f.b.n.Blockstore.Has(ctx, c)
		if err != nil {
			return err
		}
		if !has {
			missing()
		} else {
			f.stored()
		}
		return nil
	}
	blk, err := f.b.n.Blockstore.Get(ctx, c)
	if ipld.IsNotFound(err) {
		missing()
		return nil
	}
	if err != nil {
		return err
	}
	f.stored()
	switch multicodec.Code(c.Type()) {
	case multicodec.Raw:
		return nil
	case multicodec.DagPb:
		nd, err := merkledag.DecodeProtobuf(blk.RawData())
		if err != nil {
			return fmt.Errorf("%s: %w", c, err)
		}
		fsn, err := unixfs.FSNodeFromBytes(nd.Data())
		if err == nil && (fsn.Type() == unixfs.TFile || fsn.Type() == unixfs.TRaw) && fsn.NumChildren() == len(nd.Links()) {
			return f.walkFile(ctx, c, nd, fsn, p, out)
		}
		hamt := err == nil && fsn.Type() == unixfs.THAMTShard
		for _, l := range nd.Links() {
			name := l.Name
			if hamt && len(name) >= 2 {
				name = name[2:] // the shard's hash prefix
			}
			// The path only orders requests and names them in logs:
			// joined plainly, and not past 1 KiB, so that a hostile DAG
			// thousands of levels deep does not cost a copy of an
			// ever longer path per level.
			cp := p
			switch {
			case name == "" || len(p) > 1024:
			case p == "":
				cp = name
			default:
				cp = p + "/" + name
			}
			if err := f.walk(ctx, l.Cid, cp, l.Size, seen, out); err != nil {
				return err
			}
		}
		return nil
	default:
		links, err := blockLinks(c, blk.RawData())
		if err != nil {
			// Not ours to walk: bitswap fetches what hangs off it.
			return nil
		}
		for _, l := range links {
			if err := f.walk(ctx, l, p, 0, seen, out); err != nil {
				return err
			}
		}
		return nil
	}
}

// within keeps the items planned for its file that lie inside its
// byte range (a missing inner node of the file: if it overlaps it).
func within(items []*item, it *item) []*item {
	var out []*item
	for _, m := range items {
		switch {
		case m.c != it.c && !m.ranged && m.path == it.path:
			// A missing inner node of the file: its range is not
			// known here; asking for it twice is harmless, and it
			// is keyed by CID, so it is queued once.
			out = append(out, m)
		case m.ranged && m.c == it.c && m.from >= it.from && m.to <= it.to:
			out = append(out, m)
		}
	}
	return out
}

// leafGap is a missing child of a stored file node, by byte range of the
// file.
type leafGap struct {
	c        cid.Cid
	from, to uint64
}

// stored records that the plan found a block stored. That is progress as
// much as a block arriving: a plan of a large DAG that is mostly stored
// here (or a deep or hostile one) must not outlive the fetch timeout
// while it reads, and then fail as though no peer had sent anything.
func (f *bulkFetch) stored() { f.wd.kick() }

// walkFile plans a stored UnixFS file node: each run of consecutive
// missing children is one entity-bytes request for the file.
func (f *bulkFetch) walkFile(ctx context.Context, top cid.Cid, nd *merkledag.ProtoNode, fsn *unixfs.FSNode, p string, out *[]*item) error {
	var gaps []leafGap
	if err := f.fileGaps(ctx, nd, fsn, p, 0, &gaps, out, 0, cid.NewSet()); err != nil {
		return err
	}
	if len(gaps) == 0 {
		return nil
	}
	start := 0
	for i := 1; i <= len(gaps); i++ {
		if i < len(gaps) && gaps[i].from == gaps[i-1].to+1 && gaps[i].to-gaps[start].from < bulkRangeMax {
			continue
		}
		run := gaps[start:i]
		from, to := run[0].from, run[len(run)-1].to
		*out = append(*out, &item{
			c: top, path: p, size: to - from + 1, ranged: true, from: from, to: to,
			first: run[0].c, prio: bulkPriority(p, to-from+1),
		})
		start = i
	}
	return nil
}

// fileGaps adds the missing parts of the stored file node nd to gaps and
// out. complete holds the inner nodes found stored whole: a file that
// links one node many times (a DAG bomb does, a file of zeros may) is
// walked below it once, and leaves are checked with Has, never read.
func (f *bulkFetch) fileGaps(ctx context.Context, nd *merkledag.ProtoNode, fsn *unixfs.FSNode, p string, base uint64, gaps *[]leafGap, out *[]*item, depth int, complete *cid.Set) error {
	if depth > 32 {
		return fmt.Errorf("file DAG deeper than 32 levels")
	}
	off := base + uint64(len(fsn.Data()))
	for i, l := range nd.Links() {
		if err := ctx.Err(); err != nil {
			return err
		}
		bsz := fsn.BlockSize(i)
		from, to := off, off+bsz-1
		off += bsz
		if bsz == 0 || complete.Has(l.Cid) {
			continue
		}
		if l.Cid.Type() != uint64(multicodec.DagPb) {
			has, err := f.b.n.Blockstore.Has(ctx, l.Cid)
			if err != nil {
				return err
			}
			if !has {
				*gaps = append(*gaps, leafGap{c: l.Cid, from: from, to: to})
			} else {
				f.stored()
			}
			continue
		}
		blk, err := f.b.n.Blockstore.Get(ctx, l.Cid)
		if ipld.IsNotFound(err) {
			if l.Cid.Type() == uint64(multicodec.DagPb) && bsz > bulkWholeMax {
				// A missing inner node of a large file: its top block
				// first, so that the leaves it shares with a version
				// stored here are not sent again.
				*out = append(*out, &item{c: l.Cid, path: p, size: bsz, first: l.Cid, prio: bulkPriority(p, bsz)})
				continue
			}
			*gaps = append(*gaps, leafGap{c: l.Cid, from: from, to: to})
			continue
		}
		if err != nil {
			return err
		}
		f.stored()
		cn, err := merkledag.DecodeProtobuf(blk.RawData())
		if err != nil {
			return fmt.Errorf("%s: %w", l.Cid, err)
		}
		cfs, err := unixfs.FSNodeFromBytes(cn.Data())
		if err != nil || cfs.NumChildren() != len(cn.Links()) {
			continue // not a file part; bitswap's walk deals with it
		}
		ng, no := len(*gaps), len(*out)
		if err := f.fileGaps(ctx, cn, cfs, p, from, gaps, out, depth+1, complete); err != nil {
			return err
		}
		if len(*gaps) == ng && len(*out) == no {
			complete.Add(l.Cid)
		}
	}
	return nil
}

// bulkPriority orders requests: smaller first. The bundle's metadata
// comes first, then what a builder reads (instructions, BOMs, other
// documents), then names without an extension (most are folders, whose
// entries are planned once they arrive) and small images, then the rest.
func bulkPriority(p string, size uint64) int {
	if p == "" || strings.HasPrefix(p, ".commons") || strings.Contains(p, "/.commons") {
		return 0
	}
	base := strings.ToLower(path.Base(p))
	ext := path.Ext(base)
	switch ext {
	case ".md", ".markdown", ".txt", ".csv", ".tsv", ".json", ".toml", ".yaml", ".yml", ".html", ".htm", ".rst", ".adoc":
		return 1
	case ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".avif":
		if size <= 2<<20 {
			return 2
		}
		return 3
	case "":
		for _, doc := range []string{"readme", "license", "licence", "copying", "notice", "authors"} {
			if strings.HasPrefix(base, doc) {
				return 1
			}
		}
		return 2
	}
	return 3
}

// ReceivedStats counts what a node has received from peers since it
// started, over bitswap and the bulk path together.
type ReceivedStats struct {
	Blocks    int64 // whole blocks, duplicates included
	Bytes     int64 // bytes of blocks, duplicates and cut-off parts included
	DupBlocks int64 // blocks that were stored already
	DupBytes  int64
	// BulkBytes and BitswapBytes split Bytes by path.
	BulkBytes, BitswapBytes int64
	// Resumed counts blocks cut off by a broken stream and completed from
	// where they stopped.
	Resumed int64
}

// Received returns what the node has received from peers since it
// started. An offline node has received nothing.
func (n *Node) Received() ReceivedStats {
	var s ReceivedStats
	if bs, ok := n.Exchange.(interface {
		Stat() (*bitswap.Stat, error)
	}); ok {
		if st, err := bs.Stat(); err == nil {
			s.Blocks += int64(st.BlocksReceived)
			s.Bytes += int64(st.DataReceived)
			s.DupBlocks += int64(st.DupBlksReceived)
			s.DupBytes += int64(st.DupDataReceived)
			s.BitswapBytes = int64(st.DataReceived)
		}
	}
	if b := n.bulk; b != nil {
		s.Blocks += b.blocksIn.Load()
		s.Bytes += b.received.Load()
		s.DupBlocks += b.blocksDup.Load()
		s.DupBytes += b.receivedDup.Load()
		s.BulkBytes = b.received.Load()
		s.Resumed = b.resumed.Load()
	}
	return s
}

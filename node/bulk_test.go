package node_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	format "github.com/ipfs/go-ipld-format"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/fluent/qp"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	"github.com/libp2p/go-libp2p/core/network"
	libp2phttp "github.com/libp2p/go-libp2p/p2p/http"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	dto "github.com/prometheus/client_model/go"

	"github.com/commons-p2p/commons/gateway"
	"github.com/commons-p2p/commons/node"
	"github.com/commons-p2p/commons/node/nodetest"
	"github.com/commons-p2p/commons/pkg/config"
)

// dagBlocks lists every block of the DAG under root, as n stores it.
func dagBlocks(t *testing.T, n *node.Node, root cid.Cid) (cids []cid.Cid, size int64) {
	t.Helper()
	ctx := context.Background()
	ng := merkledag.NewDAGService(blockservice.New(n.Blockstore, nil))
	set := cid.NewSet()
	err := merkledag.Walk(ctx, func(ctx context.Context, c cid.Cid) ([]*format.Link, error) {
		nd, err := ng.Get(ctx, c)
		if err != nil {
			return nil, err
		}
		size += int64(len(nd.RawData()))
		cids = append(cids, c)
		return nd.Links(), nil
	}, root, set.Visit)
	if err != nil {
		t.Fatal(err)
	}
	return cids, size
}

// counterValue sums every sample of the metric name.
func counterValue(t *testing.T, n *node.Node, name string) float64 {
	return sumMetric(t, n, name, func(*dto.Metric) bool { return true })
}

// sumMetric sums the samples of the metric name that keep accepts.
func sumMetric(t *testing.T, n *node.Node, name string, keep func(*dto.Metric) bool) float64 {
	t.Helper()
	mfs, err := n.Metrics().Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if keep(m) {
				sum += metricValue(m)
			}
		}
	}
	return sum
}

func metricValue(m *dto.Metric) float64 {
	switch {
	case m.GetCounter() != nil:
		return m.GetCounter().GetValue()
	case m.GetGauge() != nil:
		return m.GetGauge().GetValue()
	}
	return 0
}

func fileCID(t *testing.T, n *node.Node, root cid.Cid, p string) cid.Cid {
	t.Helper()
	dir, name, _ := strings.Cut(p, "/")
	entries, err := n.Ls(context.Background(), root.String()+"/"+dir)
	if name == "" {
		entries, err = n.Ls(context.Background(), root.String())
		name = dir
	}
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name == name {
			return e.CID
		}
	}
	t.Fatalf("%s not in %s", p, root)
	return cid.Undef
}

// TestBulkImportantFilesFirst: over a slow link, a bundle's instructions
// and BOM are stored before its large CAD file, all of it comes over the
// bulk path (nothing over bitswap), and no block arrives twice.
func TestBulkImportantFilesFirst(t *testing.T) {
	nw := nodetest.New(t, 2, nodetest.Options{Link: mocknet.LinkOptions{Bandwidth: 1 << 20}})
	a, b := nw.Nodes[0], nw.Nodes[1]
	root := publish(t, a.Node, bundle(t))
	nw.Connect(1, 0)
	instr := fileCID(t, a.Node, root, "instructions.md")
	bom := fileCID(t, a.Node, root, "bom.csv")
	cad := fileCID(t, a.Node, root, "cad/frame.step")
	cadBlocks, _ := dagBlocks(t, a.Node, cad)
	_, need := dagBlocks(t, a.Node, root)

	ctx := context.Background()
	done := make(chan error, 1)
	go func() { done <- b.Pin(ctx, root, "press", nil) }()
	has := func(c cid.Cid) bool { ok, _ := b.Blockstore.Has(ctx, c); return ok }
	cadStored := func() bool {
		for _, c := range cadBlocks {
			if !has(c) {
				return false
			}
		}
		return true
	}
	var docsFirst, finished bool
	deadline := time.Now().Add(60 * time.Second)
	for !finished && time.Now().Before(deadline) {
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			finished = true
		case <-time.After(5 * time.Millisecond):
		}
		if !docsFirst && has(instr) && has(bom) {
			if cadStored() {
				t.Fatal("the CAD file was complete before the instructions and BOM arrived")
			}
			docsFirst = true
		}
	}
	if !finished {
		t.Fatal("the pin did not finish within 60s")
	}
	if !docsFirst {
		t.Fatal("never saw the instructions and BOM stored")
	}
	st := b.Received()
	t.Logf("received %d bytes in %d blocks (%d duplicate blocks, %d bytes) for a DAG of %d bytes; bulk %d, bitswap %d",
		st.Bytes, st.Blocks, st.DupBlocks, st.DupBytes, need, st.BulkBytes, st.BitswapBytes)
	if st.BitswapBytes != 0 {
		t.Errorf("bitswap received %d bytes; the bulk path should have fetched everything", st.BitswapBytes)
	}
	// Each large file's top block comes again at the head of the range
	// request for its leaves: a few hundred bytes.
	if st.Bytes-st.DupBytes != need || st.DupBytes > need/100 {
		t.Errorf("received %d bytes (%d duplicate) for a DAG of %d bytes", st.Bytes, st.DupBytes, need)
	}
	mustVerify(t, b.Node)
}

// flakyGateway replaces a node's trustless gateway over libp2p with one
// that serves the same blocks through handle.
func flakyGateway(t *testing.T, p *nodetest.Peer, handle func(w http.ResponseWriter, r *http.Request, real http.Handler)) {
	t.Helper()
	real, err := gateway.Trustless(blockservice.New(p.Blockstore, nil), nil)
	if err != nil {
		t.Fatal(err)
	}
	h := &libp2phttp.Host{StreamHost: p.Host}
	h.SetHTTPHandlerAtPath("/ipfs/gateway", "/", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		handle(w, r, real)
	}))
	go func() { _ = h.Serve() }()
	t.Cleanup(func() { _ = h.Close() })
}

// cutWriter aborts the response after limit bytes, as a broken link does.
type cutWriter struct {
	http.ResponseWriter
	left int
}

func (w *cutWriter) Write(p []byte) (int, error) {
	if len(p) > w.left {
		_, _ = w.ResponseWriter.Write(p[:w.left])
		w.left = 0
		if f, ok := w.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler) // net/http closes the stream without ending the body
	}
	w.left -= len(p)
	return w.ResponseWriter.Write(p)
}

// TestBulkResumesCutBlock: a CAR stream that breaks in the middle of a
// large block is resumed from the byte it stopped at (a Range request),
// so the bytes received stay those of the DAG.
func TestBulkResumesCutBlock(t *testing.T) {
	nw := nodetest.New(t, 2, nodetest.Options{})
	a, b := nw.Nodes[0], nw.Nodes[1]
	root := publish(t, a.Node, bundle(t))
	var cuts atomic.Int32
	flakyGateway(t, a, func(w http.ResponseWriter, r *http.Request, real http.Handler) {
		// The first two CARs of the big file break 200 KiB in: inside
		// its first leaf, whatever the chunk boundaries.
		if r.URL.Query().Get("format") == "car" && cuts.Load() < 2 && r.URL.Query().Get("entity-bytes") != "" {
			cuts.Add(1)
			real.ServeHTTP(&cutWriter{ResponseWriter: w, left: 200 << 10}, r)
			return
		}
		real.ServeHTTP(w, r)
	})
	nw.Connect(1, 0)
	if err := b.Pin(context.Background(), root, "press", nil); err != nil {
		t.Fatal(err)
	}
	_, need := dagBlocks(t, a.Node, root)
	st := b.Received()
	t.Logf("%d cut streams; received %d bytes (%d resumed blocks, %d duplicate bytes) for a DAG of %d bytes",
		cuts.Load(), st.Bytes, st.Resumed, st.DupBytes, need)
	if cuts.Load() == 0 {
		t.Fatal("no stream was cut: the test did not test anything")
	}
	if st.Resumed == 0 {
		t.Error("no cut-off block was resumed")
	}
	// The only bytes on top of the DAG are the file's top block, sent
	// again at the head of each resumed range.
	if st.Bytes-st.DupBytes > need || st.Bytes > need+need/50 {
		t.Errorf("received %d bytes (%d duplicate) for a DAG of %d", st.Bytes, st.DupBytes, need)
	}
	mustVerify(t, b.Node)
}

// carSection appends one CARv1 section.
func carSection(buf *bytes.Buffer, c cid.Cid, data []byte) {
	var v [binary.MaxVarintLen64]byte
	buf.Write(v[:binary.PutUvarint(v[:], uint64(c.ByteLen()+len(data)))])
	buf.Write(c.Bytes())
	buf.Write(data)
}

func carHeader(t *testing.T, root cid.Cid) []byte {
	t.Helper()
	nd, err := qp.BuildMap(basicnode.Prototype.Any, 2, func(ma datamodel.MapAssembler) {
		qp.MapEntry(ma, "roots", qp.List(1, func(la datamodel.ListAssembler) {
			qp.ListEntry(la, qp.Link(cidlink.Link{Cid: root}))
		}))
		qp.MapEntry(ma, "version", qp.Int(1))
	})
	if err != nil {
		t.Fatal(err)
	}
	var hdr bytes.Buffer
	if err := dagcbor.Encode(nd, &hdr); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	var v [binary.MaxVarintLen64]byte
	out.Write(v[:binary.PutUvarint(v[:], uint64(hdr.Len()))])
	out.Write(hdr.Bytes())
	return out.Bytes()
}

// TestBulkHostilePeer: a peer whose gateway sends blocks that do not match
// their CIDs, blocks nobody asked for, or absurd sections is dropped from
// the fetch; nothing it sent is stored, and the fetch completes from an
// honest peer (over bitswap, the honest one serving no bulk path here).
func TestBulkHostilePeer(t *testing.T) {
	for _, tc := range []struct {
		name string
		car  func(t *testing.T, asked cid.Cid, honest *node.Node) []byte
	}{
		{"data that does not hash to its CID", func(t *testing.T, asked cid.Cid, honest *node.Node) []byte {
			blk, err := honest.Blockstore.Get(context.Background(), asked)
			if err != nil {
				t.Fatal(err)
			}
			data := bytes.Clone(blk.RawData())
			data[len(data)/2] ^= 0xff
			var b bytes.Buffer
			b.Write(carHeader(t, asked))
			carSection(&b, asked, data)
			return b.Bytes()
		}},
		{"a block nobody asked for", func(t *testing.T, asked cid.Cid, honest *node.Node) []byte {
			junk := []byte("not part of the design")
			c, _ := cid.V1Builder{Codec: cid.Raw, MhType: 0x12}.Sum(junk)
			var b bytes.Buffer
			b.Write(carHeader(t, asked))
			carSection(&b, c, junk)
			return b.Bytes()
		}},
		{"a section larger than any block", func(t *testing.T, asked cid.Cid, honest *node.Node) []byte {
			var b bytes.Buffer
			b.Write(carHeader(t, asked))
			var v [binary.MaxVarintLen64]byte
			b.Write(v[:binary.PutUvarint(v[:], 1<<40)])
			return b.Bytes()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			nw := nodetest.New(t, 3, nodetest.Options{Settings: func(i int, s *config.Config) {
				s.Gateway.OverLibp2p = i != 0 // the honest holder serves bitswap only
			}})
			a, b, m := nw.Nodes[0], nw.Nodes[1], nw.Nodes[2]
			root := publish(t, a.Node, bundle(t))
			var served atomic.Int32
			flakyGateway(t, m, func(w http.ResponseWriter, r *http.Request, _ http.Handler) {
				if r.Method == http.MethodHead {
					w.WriteHeader(http.StatusOK) // "I have it all"
					return
				}
				asked, err := cid.Decode(strings.TrimPrefix(r.URL.Path, "/ipfs/"))
				if err != nil {
					http.Error(w, err.Error(), http.StatusBadRequest)
					return
				}
				served.Add(1)
				w.Header().Set("Content-Type", "application/vnd.ipld.car; version=1")
				_, _ = w.Write(tc.car(t, asked, a.Node))
			})
			nw.Connect(1, 2)
			nw.Connect(1, 0)
			before := blockCount(t, b.Node)
			if err := b.Pin(context.Background(), root, "press", nil); err != nil {
				t.Fatal(err)
			}
			if served.Load() == 0 {
				t.Fatal("the hostile peer was never asked: the test did not test anything")
			}
			if got := counterValue(t, b.Node, "commons_bulk_bad_peers_total"); got != 1 {
				t.Errorf("bad peers counted: %v, want 1", got)
			}
			cids, _ := dagBlocks(t, a.Node, root)
			// Nothing but the DAG was stored (some of its blocks, such
			// as the empty file, B had already).
			if after := blockCount(t, b.Node); after-before > len(cids) {
				t.Errorf("stored %d blocks for a DAG of %d", after-before, len(cids))
			}
			mustVerify(t, b.Node)
		})
	}
}

func blockCount(t *testing.T, n *node.Node) int {
	t.Helper()
	ch, err := n.Blockstore.AllKeysChan(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	k := 0
	for range ch {
		k++
	}
	return k
}

// TestBulkRedialsAfterCut: a link cut in the middle of a transfer; the
// fetch redials by itself when the link is back and resumes where it
// stopped, without the blocks it has being sent again.
func TestBulkRedialsAfterCut(t *testing.T) {
	nw := nodetest.New(t, 2, nodetest.Options{Link: mocknet.LinkOptions{Bandwidth: 1 << 20}})
	a, b := nw.Nodes[0], nw.Nodes[1]
	root := publish(t, a.Node, bundle(t))
	_, need := dagBlocks(t, a.Node, root)
	nw.Connect(1, 0)
	done := make(chan error, 1)
	go func() { done <- b.Pin(context.Background(), root, "press", nil) }()
	nodetest.Eventually(t, 30*time.Second, func() bool { return b.Received().Bytes > need/3 }, "a third of the bundle to arrive")
	nw.Unlink(0, 1)
	cutAt := b.Received().Bytes
	// The stream broke with the connection; the fetch redials (and fails
	// to, the link being down) until the link is back. (Over a real
	// transport a cut leaves the connection up for a while; the netlab
	// tests cover that.)
	nodetest.Eventually(t, 30*time.Second, func() bool {
		return counterValue(t, b.Node, "commons_bulk_requests_total") > 0 && b.Host.Network().Connectedness(a.Host.ID()) != network.Connected
	}, "B to notice the cut")
	back := time.Now()
	nw.Relink(0, 1)
	var resumed time.Duration
	nodetest.Eventually(t, 30*time.Second, func() bool {
		if resumed == 0 && b.Received().Bytes > cutAt+16<<10 {
			resumed = time.Since(back)
		}
		select {
		case err := <-done:
			if err != nil {
				t.Fatal(err)
			}
			return true
		default:
			return false
		}
	}, "the pin to finish after the link is back")
	st := b.Received()
	t.Logf("cut at %d of %d bytes; resumed %v after the link was back; received %d bytes (%d duplicate, %d resumed blocks), %d reconnects",
		cutAt, need, resumed, st.Bytes, st.DupBytes, st.Resumed, int(counterValue(t, b.Node, "commons_bulk_reconnects_total")))
	if counterValue(t, b.Node, "commons_bulk_reconnects_total") < 1 {
		t.Error("no reconnect was counted")
	}
	if st.Bytes > need+need/20 {
		t.Errorf("received %d bytes for a DAG of %d: more than 5%% on top", st.Bytes, need)
	}
	mustVerify(t, b.Node)
	_ = fmt.Sprint
}

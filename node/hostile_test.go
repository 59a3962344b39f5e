package node_test

// Hostile peers, in process. A victim commons node on a real libp2p host
// (loopback TCP, the node's own resource manager, pebble on disk) faces an
// attacker that is a bare libp2p host speaking bitswap, the DHT and libp2p
// HTTP directly, while an honest commons node fetches from the victim (or
// the victim from an honest one). Each test fetches once without the
// attack and once under it, and logs both times, the victim's
// resource-manager scopes and the process's heap (the attacker runs in the
// same process, so the heap is an upper bound of the victim's). Limits and
// correctness are asserted; times never are.

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/boxo/bitswap"
	bsmsg "github.com/ipfs/boxo/bitswap/message"
	pb "github.com/ipfs/boxo/bitswap/message/pb"
	"github.com/ipfs/boxo/bitswap/network/bsnet"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
	"github.com/libp2p/go-msgio"
	mh "github.com/multiformats/go-multihash"
	dto "github.com/prometheus/client_model/go"

	"github.com/commons-p2p/commons/node"
	"github.com/commons-p2p/commons/node/nodetest"
	"github.com/commons-p2p/commons/pkg/config"
)

// bitswapProtocols are the four protocol IDs a bitswap node answers.
var bitswapProtocols = []protocol.ID{bsnet.ProtocolBitswap, bsnet.ProtocolBitswapOneOne, bsnet.ProtocolBitswapOneZero, bsnet.ProtocolBitswapNoVers}

const dhtProtocol protocol.ID = "/ipfs/kad/1.0.0"

// hostileNet starts n commons nodes on real loopback hosts.
func hostileNet(t *testing.T, n int, settings func(i int, s *config.Config)) *nodetest.Network {
	t.Helper()
	return nodetest.New(t, n, nodetest.Options{Loopback: true, Settings: settings})
}

// designDir writes a design folder whose CAD file is size bytes of data
// seeded by seed: every seed gives a different DAG of the same shape.
func designDir(t *testing.T, seed uint64, size int) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), fmt.Sprintf("design-%d", seed))
	rng := rand.New(rand.NewPCG(seed, 0xc0ffee))
	cad := make([]byte, size)
	for i := 0; i+8 <= len(cad); i += 8 {
		binary.LittleEndian.PutUint64(cad[i:], rng.Uint64())
	}
	nodetest.WriteTree(t, dir, map[string]string{
		"README.md":     fmt.Sprintf("# Design %d\n\nCut, drill, assemble.\n", seed),
		"bom.csv":       "part,qty\nplate,2\nbolt,8\n",
		"cad/part.step": string(cad),
	})
	return dir
}

// timedPin pins root on p and returns how long the fetch took.
func timedPin(t *testing.T, p *nodetest.Peer, root cid.Cid) time.Duration {
	t.Helper()
	d, err := pinFor(p, root)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func pinFor(p *nodetest.Peer, root cid.Cid) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	start := time.Now()
	if err := p.Pin(ctx, root, "", nil); err != nil {
		return 0, fmt.Errorf("pin %s: %w", root, err)
	}
	return time.Since(start), nil
}

func peerStat(t *testing.T, v *nodetest.Peer, p peer.ID) network.ScopeStat {
	t.Helper()
	var st network.ScopeStat
	if err := v.Host.Network().ResourceManager().ViewPeer(p, func(s network.PeerScope) error { st = s.Stat(); return nil }); err != nil {
		t.Fatal(err)
	}
	return st
}

func serviceStat(t *testing.T, v *nodetest.Peer, svc string) network.ScopeStat {
	t.Helper()
	var st network.ScopeStat
	if err := v.Host.Network().ResourceManager().ViewService(svc, func(s network.ServiceScope) error { st = s.Stat(); return nil }); err != nil {
		t.Fatal(err)
	}
	return st
}

func transientStat(t *testing.T, v *nodetest.Peer) network.ScopeStat {
	t.Helper()
	var st network.ScopeStat
	if err := v.Host.Network().ResourceManager().ViewTransient(func(s network.ResourceScope) error { st = s.Stat(); return nil }); err != nil {
		t.Fatal(err)
	}
	return st
}

func systemStat(t *testing.T, v *nodetest.Peer) network.ScopeStat {
	t.Helper()
	var st network.ScopeStat
	if err := v.Host.Network().ResourceManager().ViewSystem(func(s network.ResourceScope) error { st = s.Stat(); return nil }); err != nil {
		t.Fatal(err)
	}
	return st
}

func fmtStat(st network.ScopeStat) string {
	return fmt.Sprintf("streams in/out %d/%d, conns in/out %d/%d, memory %s",
		st.NumStreamsInbound, st.NumStreamsOutbound, st.NumConnsInbound, st.NumConnsOutbound, mib(st.Memory))
}

func mib[T int64 | uint64 | int](n T) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// logScopes logs the victim's resource-manager scopes.
func logScopes(t *testing.T, when string, v *nodetest.Peer, attacker peer.ID) {
	t.Helper()
	t.Logf("%s: victim system: %s", when, fmtStat(systemStat(t, v)))
	t.Logf("%s: victim transient: %s", when, fmtStat(transientStat(t, v)))
	t.Logf("%s: victim's scope of the attacker: %s", when, fmtStat(peerStat(t, v, attacker)))
	for _, svc := range []string{node.ServiceBitswap, node.ServiceDHT, node.ServiceHTTP} {
		t.Logf("%s: victim service %s: %s", when, svc, fmtStat(serviceStat(t, v, svc)))
	}
}

// heapDelta formats a heap measurement against its start.
func heapDelta(before, peak, after uint64) string {
	return fmt.Sprintf("heap in use before %s, peak %s (+%s), after %s",
		mib(before), mib(peak), mib(int64(peak)-int64(before)), mib(after))
}

// counterLabel sums the samples of the metric name that carry label=value.
func counterLabel(t *testing.T, n *node.Node, name, label, value string) float64 {
	t.Helper()
	return sumMetric(t, n, name, func(m *dto.Metric) bool {
		for _, l := range m.GetLabel() {
			if l.GetName() == label && l.GetValue() == value {
				return true
			}
		}
		return false
	})
}

// mustNotBePenalised fails if the victim holds anything against p.
func mustNotBePenalised(t *testing.T, v *nodetest.Peer, p peer.ID, who string) {
	t.Helper()
	if score, until := v.Penalty(p); score != 0 || !until.IsZero() {
		t.Errorf("%s has score %.1f (banned until %v): an honest peer was penalised", who, score, until)
	}
}

// mustBeBanned waits until v has banned a, dropped its connections and
// refused a new one.
func mustBeBanned(t *testing.T, v *nodetest.Peer, a host.Host) {
	t.Helper()
	nodetest.Eventually(t, 10*time.Second, func() bool {
		_, until := v.Penalty(a.ID())
		return !until.IsZero() && v.Host.Network().Connectedness(a.ID()) != network.Connected
	}, "the victim to ban the attacker and drop its connections")
	refused := counterValue(t, v.Node, "commons_peers_refused_total")
	err := nodetest.Dial(a, v)
	nodetest.Eventually(t, 10*time.Second, func() bool {
		return counterValue(t, v.Node, "commons_peers_refused_total") > refused &&
			v.Host.Network().Connectedness(a.ID()) != network.Connected
	}, "the victim to refuse the banned attacker's new connection")
	t.Logf("banned attacker's new connection: dial error %v; refused connections %v", err, counterValue(t, v.Node, "commons_peers_refused_total"))
}

// isTimeout reports whether err is a deadline passing (yamux's own error
// does not wrap os.ErrDeadlineExceeded).
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, os.ErrDeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

func randomCID(rng *rand.Rand, codec uint64) cid.Cid {
	digest := make([]byte, 32)
	for i := 0; i < len(digest); i += 8 {
		binary.LittleEndian.PutUint64(digest[i:], rng.Uint64())
	}
	m, err := mh.Encode(digest, mh.SHA2_256)
	if err != nil {
		panic(err)
	}
	return cid.NewCidV1(codec, m)
}

// encode returns m as it goes on the wire (bitswap 1.1+).
func encode(t *testing.T, m bsmsg.BitSwapMessage) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := m.ToNetV1(&b); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// sendRaw opens a stream from a to v with proto, writes data and closes
// its side.
func sendRaw(ctx context.Context, a host.Host, v peer.ID, proto protocol.ID, data []byte) error {
	s, err := a.NewStream(ctx, v, proto)
	if err != nil {
		return err
	}
	if _, err := s.Write(data); err != nil {
		_ = s.Reset()
		return err
	}
	return s.Close()
}

// serveBitswap makes a answer every bitswap message v sends it with
// reply (nil: read and discard).
func serveBitswap(a host.Host, reply func(m bsmsg.BitSwapMessage) bsmsg.BitSwapMessage) {
	for _, proto := range bitswapProtocols {
		a.SetStreamHandler(proto, func(s network.Stream) {
			defer s.Close()
			r := msgio.NewVarintReaderSize(s, network.MessageSizeMax)
			for range 100_000 { // a stream carries at most this many messages here
				m, _, err := bsmsg.FromMsgReader(r)
				if err != nil {
					return
				}
				if reply == nil {
					continue
				}
				if out := reply(m); out != nil && !out.Empty() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					var b bytes.Buffer
					if out.ToNetV1(&b) == nil {
						_ = sendRaw(ctx, a, s.Conn().RemotePeer(), bsnet.ProtocolBitswap, b.Bytes())
					}
					cancel()
				}
			}
		})
	}
}

// TestHostileBitswapBadBlocks: while the victim fetches a design over
// bitswap from an honest peer, the attacker answers each of its wants with
// data that does not hash to the wanted CID, then pushes blocks nobody
// asked for. Nothing it sent is stored, the fetch completes and verifies,
// and the attacker is disconnected and refused; the honest peer is not
// penalised.
func TestHostileBitswapBadBlocks(t *testing.T) {
	nw := hostileNet(t, 2, func(i int, s *config.Config) {
		if i == 0 {
			s.Fetch.Bulk = false // the victim fetches over bitswap, where the attacker can answer
		}
	})
	v, h := nw.Nodes[0], nw.Nodes[1]
	root1 := publish(t, h.Node, designDir(t, 1, 2<<20))
	root2 := publish(t, h.Node, designDir(t, 2, 2<<20))
	nw.Connect(0, 1)
	base := timedPin(t, v, root1)

	a := nodetest.RawHost(t)
	var mu sync.Mutex
	var junk []cid.Cid // the CIDs the victim computes for what the attacker sends
	var tampered atomic.Int64
	serveBitswap(a, func(m bsmsg.BitSwapMessage) bsmsg.BitSwapMessage {
		out := bsmsg.New(false)
		for _, e := range m.Wantlist() {
			if e.Cancel {
				continue
			}
			data := []byte("tampered: not the block of " + e.Cid.String())
			blk, err := blocks.NewBlockWithCid(data, e.Cid) // claims to be e.Cid
			if err != nil {
				continue
			}
			out.AddBlock(blk)
			if c, err := e.Cid.Prefix().Sum(data); err == nil {
				mu.Lock()
				junk = append(junk, c)
				mu.Unlock()
			}
			tampered.Add(1)
		}
		return out
	})
	if err := nodetest.Dial(a, v); err != nil {
		t.Fatal(err)
	}
	cids, _ := dagBlocks(t, h.Node, root2)
	before := blockCount(t, v.Node)
	w := nodetest.WatchHeap()
	under := timedPin(t, v, root2)
	if tampered.Load() == 0 {
		t.Fatal("the victim never asked the attacker for anything: the test did not test anything")
	}
	seen := counterLabel(t, v.Node, "commons_peer_offences_total", "offence", "unsolicited-block")
	if seen == 0 {
		t.Errorf("the victim did not notice %d blocks that do not match their CIDs", tampered.Load())
	}

	// Now blocks nobody asked for, until the victim has had enough.
	rng := rand.New(rand.NewPCG(7, 7))
	pushed := 0
	for ; pushed < 50; pushed++ {
		if _, until := v.Penalty(a.ID()); !until.IsZero() {
			break
		}
		data := fmt.Appendf(nil, "nobody asked for block %d", pushed)
		c, _ := cid.V1Builder{Codec: cid.Raw, MhType: mh.SHA2_256}.Sum(data)
		blk, _ := blocks.NewBlockWithCid(data, c)
		m := bsmsg.New(false)
		m.AddBlock(blk)
		mu.Lock()
		junk = append(junk, c)
		mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		err := sendRaw(ctx, a, v.Host.ID(), bitswapProtocols[rng.IntN(len(bitswapProtocols))], encode(t, m))
		cancel()
		if err != nil {
			break // the victim closed the connection
		}
	}
	mustBeBanned(t, v, a)
	peak, after := w.Stop()

	mu.Lock()
	defer mu.Unlock()
	for _, c := range junk {
		if ok, _ := v.Blockstore.Has(context.Background(), c); ok {
			t.Errorf("the victim stored %s, which the attacker sent", c)
		}
	}
	if got := blockCount(t, v.Node) - before; got > len(cids) {
		t.Errorf("the victim stored %d blocks for a DAG of %d", got, len(cids))
	}
	mustVerify(t, v.Node)
	mustNotBePenalised(t, v, h.Host.ID(), "the honest holder")
	t.Logf("fetch from the honest peer: %v without the attacker, %v with it", base, under)
	t.Logf("attacker: %d tampered blocks in answer to wants (%v seen as unsolicited), then %d pushed before the ban; %d distinct CIDs, none stored",
		tampered.Load(), seen, pushed, len(junk))
	t.Logf("offences %v, penalised %v (unsolicited-block)", counterValue(t, v.Node, "commons_peer_offences_total"),
		counterLabel(t, v.Node, "commons_peers_penalised_total", "offence", "unsolicited-block"))
	t.Logf("%s (attacker in the same process)", heapDelta(w.Before, peak, after))
	logScopes(t, "after", v, a.ID())
}

// TestHostileWantlistFlood: the attacker floods the victim with want lists
// of 40,000 random CIDs (1.8 MB, 40 times what the victim keeps; it
// answers DONT_HAVE), one after another, and churns wants and cancels on
// another stream, while an honest peer fetches a design from the
// victim over bitswap. The victim keeps at most bitswapMaxWants of the
// attacker's wants, the bitswap service's message memory stays within its
// limit, the heap stays bounded, and the honest fetch completes. Heavy use
// is no offence: the attacker is contained, not penalised.
func TestHostileWantlistFlood(t *testing.T) {
	nw := hostileNet(t, 2, func(i int, s *config.Config) {
		if i == 1 {
			s.Fetch.Bulk = false // the honest peer fetches over bitswap, which the flood hits
		}
	})
	v, h := nw.Nodes[0], nw.Nodes[1]
	root1 := publish(t, v.Node, designDir(t, 11, 2<<20))
	root2 := publish(t, v.Node, designDir(t, 12, 2<<20))
	nw.Connect(1, 0)
	base := timedPin(t, h, root1)

	a := nodetest.RawHost(t)
	serveBitswap(a, nil) // reads the victim's DONT_HAVEs
	if err := nodetest.Dial(a, v); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(21, 21))
	const entries = 40_000
	huge := make([][]byte, 1)
	for i := range huge {
		m := bsmsg.New(true)
		for j := range entries {
			m.AddEntry(randomCID(rng, cid.Raw), int32(entries-j), pb.Message_Wantlist_Block, true)
		}
		huge[i] = encode(t, m)
		if len(huge[i]) >= network.MessageSizeMax {
			t.Fatalf("flood message of %d bytes: over the limit, it would be refused unread", len(huge[i]))
		}
	}
	var churn bytes.Buffer
	prev := cid.Undef
	for range 1000 {
		m := bsmsg.New(false)
		c := randomCID(rng, cid.Raw)
		m.AddEntry(c, 1, pb.Message_Wantlist_Have, true)
		if prev.Defined() {
			m.Cancel(prev)
		}
		prev = c
		if err := m.ToNetV1(&churn); err != nil {
			t.Fatal(err)
		}
	}

	bs := v.Exchange.(*bitswap.Bitswap)
	msgsBefore := counterValue(t, v.Node, "commons_bitswap_messages_received_total")
	stop := make(chan struct{})
	var sent, churned atomic.Int64
	var wg sync.WaitGroup
	for k := range huge {
		wg.Go(func() {
			for round := 0; round < 4; round++ {
				select {
				case <-stop:
					return
				default:
				}
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				err := sendRaw(ctx, a, v.Host.ID(), bitswapProtocols[k], huge[k])
				cancel()
				if err == nil {
					sent.Add(1)
				}
			}
		})
	}
	wg.Go(func() {
		for round := 0; round < 5; round++ {
			select {
			case <-stop:
				return
			default:
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			if sendRaw(ctx, a, v.Host.ID(), bsnet.ProtocolBitswap, churn.Bytes()) == nil {
				churned.Add(1000)
			}
			cancel()
		}
	})
	stopFlood := sync.OnceFunc(func() { close(stop); wg.Wait() })
	defer stopFlood()

	w := nodetest.WatchHeap()
	var maxWants int
	var maxSvc, maxPeer int64
	sample := func() {
		maxWants = max(maxWants, len(bs.WantlistForPeer(a.ID())))
		maxSvc = max(maxSvc, serviceStat(t, v, node.ServiceBitswap).Memory)
		maxPeer = max(maxPeer, peerStat(t, v, a.ID()).Memory)
	}
	nodetest.Eventually(t, 30*time.Second, func() bool { sample(); return maxWants > 0 }, "the flood to reach the victim's bitswap engine")
	done := make(chan error, 1)
	var under time.Duration
	go func() {
		d, err := pinFor(h, root2)
		under = d
		done <- err
	}()
	var ferr error
	nodetest.Eventually(t, 90*time.Second, func() bool {
		sample()
		select {
		case ferr = <-done:
			return true
		default:
			return false
		}
	}, "the honest fetch to end")
	if ferr != nil {
		t.Fatalf("honest fetch under the flood: %v", ferr)
	}
	stopFlood()
	msgs := counterValue(t, v.Node, "commons_bitswap_messages_received_total") - msgsBefore
	// The victim is still decoding what arrived; measure once it is done.
	drainStart := time.Now()
	nodetest.Eventually(t, 60*time.Second, func() bool {
		sample()
		return serviceStat(t, v, node.ServiceBitswap).Memory == 0
	}, "the victim to finish with the flood's messages")
	drain := time.Since(drainStart)
	peak, after := w.Stop()
	mustVerify(t, h.Node)

	lim := node.ServiceLimits()[node.ServiceBitswap]
	if maxWants > node.BitswapMaxWants {
		t.Errorf("the victim kept %d of the attacker's wants, more than %d", maxWants, node.BitswapMaxWants)
	}
	if maxSvc > lim.Memory {
		t.Errorf("bitswap messages held %s, over the service's %s", mib(maxSvc), mib(lim.Memory))
	}
	// Bounded: a few of the attacker's 3.6 MB messages decoded at once (a
	// few tens of MB each), never the whole flood.
	if growth := int64(peak) - int64(w.Before); growth > 512<<20 {
		t.Errorf("heap grew by %s during the flood", mib(growth))
	}
	if score, _ := v.Penalty(a.ID()); score != 0 {
		t.Errorf("the flooding peer has score %.1f: heavy use is not an offence", score)
	}
	mustNotBePenalised(t, v, h.Host.ID(), "the honest fetcher")
	t.Logf("honest fetch over bitswap: %v without the flood, %v under it", base, under)
	t.Logf("flood: %d want lists of %d CIDs (%d bytes each) and %d want/cancel messages sent while the honest fetch ran; the victim received %v bitswap messages meanwhile, and finished with what had arrived %v after the flood stopped",
		sent.Load(), entries, len(huge[0]), churned.Load(), msgs, drain)
	t.Logf("victim: at most %d of the attacker's wants queued (limit %d); bitswap message memory at most %s (limit %s); attacker's peer scope at most %s",
		maxWants, node.BitswapMaxWants, mib(maxSvc), mib(lim.Memory), mib(maxPeer))
	t.Logf("%s (attacker in the same process)", heapDelta(w.Before, peak, after))
	logScopes(t, "after", v, a.ID())
}

// TestHostileStreamsNeverRead: the attacker asks the victim for the large
// blocks of a design over bitswap and never reads the answers, then opens
// 100 streams on each bitswap protocol ID, on the DHT and on libp2p HTTP
// (the bulk path), each with an unfinished message or request header, and
// leaves them. Meanwhile two honest peers fetch from the victim, one over
// the bulk path and one over bitswap. The victim's resource manager holds
// the attacker to the per-peer limits of limits.go (checked on the
// victim's scopes and by probing the attacker's streams), and both honest
// fetches complete.
func TestHostileStreamsNeverRead(t *testing.T) {
	nw := hostileNet(t, 3, func(i int, s *config.Config) {
		if i == 2 {
			s.Fetch.Bulk = false
		}
	})
	v, hb, hs := nw.Nodes[0], nw.Nodes[1], nw.Nodes[2]
	roots := make([]cid.Cid, 4)
	for i := range roots {
		roots[i] = publish(t, v.Node, designDir(t, uint64(31+i), 2<<20))
	}
	nw.Connect(1, 0)
	nw.Connect(2, 0)
	baseBulk := timedPin(t, hb, roots[0])
	baseBitswap := timedPin(t, hs, roots[1])

	a := nodetest.RawHost(t)
	stuck := make(chan struct{})
	t.Cleanup(func() { close(stuck) })
	var answers atomic.Int64
	for _, proto := range bitswapProtocols {
		a.SetStreamHandler(proto, func(s network.Stream) {
			answers.Add(1)
			<-stuck // never read what the victim sends
			_ = s.Reset()
		})
	}
	if err := nodetest.Dial(a, v); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// Every block of a design, wanted whole, never read.
	large, _ := dagBlocks(t, v.Node, roots[0])
	want := bsmsg.New(true)
	for i, c := range large {
		want.AddEntry(c, int32(len(large)-i), pb.Message_Wantlist_Block, false)
	}
	ws, err := a.NewStream(ctx, v.Host.ID(), bsnet.ProtocolBitswap)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ws.Write(encode(t, want)); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 20*time.Second, func() bool { return answers.Load() > 0 }, "the victim to start sending the blocks")

	// Streams that never finish their first message.
	type opened struct {
		class string
		s     network.Stream
	}
	var streams []opened
	refusedAtOpen := map[string]int{}
	classOf := func(p protocol.ID) string {
		switch p {
		case dhtProtocol:
			return "dht"
		case "/http/1.1":
			return "http"
		}
		return "bitswap"
	}
	const perProtocol = 100
	for _, proto := range append(append([]protocol.ID{}, bitswapProtocols...), dhtProtocol, "/http/1.1") {
		opener := []byte{0x80} // the first byte of a length prefix, never the rest
		if proto == "/http/1.1" {
			opener = []byte("GET /ipfs/" + roots[0].String() + " HTTP/1.1\r\nHost: victim\r\n") // a header never ended
		}
		for range perProtocol {
			s, err := a.NewStream(ctx, v.Host.ID(), proto)
			if err == nil {
				_, err = s.Write(opener)
			}
			if err != nil {
				refusedAtOpen[classOf(proto)]++
				continue
			}
			streams = append(streams, opened{classOf(proto), s})
		}
	}
	nodetest.Eventually(t, 30*time.Second, func() bool { return transientStat(t, v).NumStreamsInbound == 0 },
		"the victim to finish negotiating the attacker's streams")

	w := nodetest.WatchHeap()
	var maxIn int
	var maxMem int64
	type result struct {
		d   time.Duration
		err error
	}
	bulkDone, bitswapDone := make(chan result, 1), make(chan result, 1)
	go func() { d, err := pinFor(hb, roots[2]); bulkDone <- result{d, err} }()
	go func() { d, err := pinFor(hs, roots[3]); bitswapDone <- result{d, err} }()
	var rb, rs *result
	nodetest.Eventually(t, 90*time.Second, func() bool {
		st := peerStat(t, v, a.ID())
		maxIn, maxMem = max(maxIn, st.NumStreamsInbound), max(maxMem, st.Memory)
		select {
		case r := <-bulkDone:
			rb = &r
		case r := <-bitswapDone:
			rs = &r
		default:
		}
		return rb != nil && rs != nil
	}, "the honest fetches to end")
	peak, after := w.Stop()
	if rb.err != nil || rs.err != nil {
		t.Fatalf("honest fetches while the attacker holds streams: bulk path %v, bitswap %v", rb.err, rs.err)
	}
	mustVerify(t, hb.Node)
	mustVerify(t, hs.Node)

	// The victim's view: once it has handled them, the attacker holds no
	// more inbound streams than the per-peer limits of the three services
	// allow, plus libp2p's own (identify, ping). (While streams are being
	// handed to their handlers, go-libp2p's wider per-peer and
	// per-protocol limits are what holds: the maximum sampled is logged.)
	lims := node.ServiceLimits()
	bound := lims[node.ServiceBitswap].PeerStreams + lims[node.ServiceDHT].PeerStreams + lims[node.ServiceHTTP].PeerStreams + 4
	var steady network.ScopeStat
	nodetest.Eventually(t, 20*time.Second, func() bool {
		steady = peerStat(t, v, a.ID())
		return steady.NumStreamsInbound <= bound
	}, fmt.Sprintf("the attacker's inbound streams on the victim to be within %d", bound))
	// The attacker's view: streams the victim did not reset, per service.
	alive := func() map[string]int {
		out := map[string]int{}
		var mu sync.Mutex
		var wg sync.WaitGroup
		for _, o := range streams {
			wg.Go(func() {
				_ = o.s.SetReadDeadline(time.Now().Add(2 * time.Second))
				var b [1]byte
				_, err := o.s.Read(b[:])
				if isTimeout(err) {
					mu.Lock()
					out[o.class]++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		return out
	}
	limitOf := map[string]int{"bitswap": lims[node.ServiceBitswap].PeerStreams, "dht": lims[node.ServiceDHT].PeerStreams, "http": lims[node.ServiceHTTP].PeerStreams}
	var held map[string]int
	nodetest.Eventually(t, 20*time.Second, func() bool {
		held = alive()
		for class, l := range limitOf {
			if held[class] > l {
				return false
			}
		}
		return true
	}, "the attacker's open streams to be within the per-peer limits")
	for class := range limitOf {
		if held[class] == 0 {
			t.Errorf("no %s stream of the attacker was left open: the limit was not what stopped it", class)
		}
	}
	mustNotBePenalised(t, v, hb.Host.ID(), "the honest bulk fetcher")
	mustNotBePenalised(t, v, hs.Host.ID(), "the honest bitswap fetcher")
	var sentToA uint64
	if l := v.Exchange.(*bitswap.Bitswap).LedgerForPeer(a.ID()); l != nil {
		sentToA = l.Sent
	}
	t.Logf("honest fetch over the bulk path: %v before, %v while the attacker holds streams", baseBulk, rb.d)
	t.Logf("honest fetch over bitswap: %v before, %v while the attacker holds streams", baseBitswap, rs.d)
	t.Logf("attacker: wanted %d blocks and never read (victim's bitswap sent it %d bytes on %d streams); opened %d streams per protocol, refused at open: %v; left open by the victim: %v (limits %v)",
		len(large), sentToA, answers.Load(), perProtocol, len(refusedAtOpen), held, limitOf)
	t.Logf("victim's scope of the attacker: %d inbound streams once handled (bound %d), at most %d sampled while the honest fetches ran; memory %s, at most %s (yamux reserves each stream's receive window)",
		steady.NumStreamsInbound, bound, maxIn, mib(steady.Memory), mib(maxMem))
	t.Logf("%s (attacker in the same process)", heapDelta(w.Before, peak, after))
	logScopes(t, "after", v, a.ID())
}

// TestHostileFalseProvider: the attacker announces a design it does not
// have in the DHT (through a real kad-dht client) and claims it over
// bitswap, never sending a block: either answering HAVE to every want,
// want-blocks included, or answering want-haves with HAVE and want-blocks
// with silence. The victim, which finds providers through a DHT server,
// still fetches the design from the honest provider within its fetch
// timeout. The first liar is penalised (a HAVE in answer to a want-block
// is an offence; before the node watched for it, it stalled the fetch
// until fetch.timeout); the second is left to boxo's DONT_HAVE timeout.
func TestHostileFalseProvider(t *testing.T) {
	for _, tc := range []struct {
		name      string
		haveToAll bool // answer want-blocks with HAVE too
	}{
		{"HAVE to every want", true},
		{"HAVE, then silence", false},
	} {
		t.Run(tc.name, func(t *testing.T) { falseProvider(t, tc.haveToAll) })
	}
}

func falseProvider(t *testing.T, haveToAll bool) {
	// 0: victim, over bitswap only (the attacker serves no bulk path, so
	// the bulk path would never meet it); 1: the honest holder; 2: a DHT
	// server both are connected to.
	nw := hostileNet(t, 3, func(i int, s *config.Config) {
		if i == 0 {
			s.Fetch.Bulk = false
		}
	})
	v, h, d := nw.Nodes[0], nw.Nodes[1], nw.Nodes[2]
	root1 := publish(t, h.Node, designDir(t, 41, 2<<20))
	root2 := publish(t, h.Node, designDir(t, 42, 2<<20))
	nw.Connect(0, 2)
	nw.Connect(1, 2)
	nw.WaitRouting(1)
	nodetest.WaitProvider(t, 30*time.Second, v, root1, h.Host.ID())
	nodetest.WaitProvider(t, 30*time.Second, v, root2, h.Host.ID())
	base := timedPin(t, v, root1)

	a := nodetest.RawHost(t)
	var haves, wantBlocks atomic.Int64
	serveBitswap(a, func(m bsmsg.BitSwapMessage) bsmsg.BitSwapMessage {
		out := bsmsg.New(false)
		for _, e := range m.Wantlist() {
			if e.Cancel {
				continue
			}
			if e.WantType == pb.Message_Wantlist_Block {
				wantBlocks.Add(1)
				if !haveToAll {
					continue
				}
			}
			out.AddHave(e.Cid) // "I have it"; the block never comes
			haves.Add(1)
		}
		return out
	})
	ad, err := dht.New(a, dht.Mode(dht.ModeClient))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = ad.Close() })
	if err := nodetest.Dial(a, d); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 20*time.Second, func() bool { return ad.RoutingTable().Size() > 0 }, "the attacker's DHT client to know the server")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := ad.Provide(ctx, root2, true); err != nil {
		t.Fatalf("attacker's false announcement: %v", err)
	}
	nodetest.WaitProvider(t, 30*time.Second, v, root2, a.ID())
	// The honest provider is to be found through the DHT, as the first
	// fetch found it; the attacker is connected to the victim, so it hears
	// the victim's first want at once and answers first.
	_ = v.Host.Network().ClosePeer(h.Host.ID())
	if err := nodetest.Dial(a, v); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 10*time.Second, func() bool {
		ps, err := v.Host.Peerstore().SupportsProtocols(a.ID(), bsnet.ProtocolBitswap)
		return err == nil && len(ps) > 0 && v.Host.Network().Connectedness(h.Host.ID()) != network.Connected
	}, "the victim to identify the attacker as a bitswap peer, and not to be connected to the honest provider")

	w := nodetest.WatchHeap()
	under, err := pinFor(v, root2)
	peak, after := w.Stop()
	if err != nil {
		score, until := v.Penalty(a.ID())
		t.Fatalf("fetch with a false provider: %v (the false provider: %d HAVEs, %d want-blocks; %v false-have offences, score %.1f, banned until %v)",
			err, haves.Load(), wantBlocks.Load(), counterLabel(t, v.Node, "commons_peer_offences_total", "offence", "false-have"), score, until)
	}
	if haves.Load() == 0 {
		t.Fatal("the victim never asked the attacker: the test did not test anything")
	}
	mustVerify(t, v.Node)
	mustNotBePenalised(t, v, h.Host.ID(), "the honest provider")
	falseHaves := counterLabel(t, v.Node, "commons_peer_offences_total", "offence", "false-have")
	score, until := v.Penalty(a.ID())
	if haveToAll {
		if wantBlocks.Load() > 0 && falseHaves == 0 {
			t.Errorf("%d want-blocks answered with HAVE, no offence counted", wantBlocks.Load())
		}
		if falseHaves >= 2 {
			mustBeBanned(t, v, a)
			score, until = v.Penalty(a.ID())
		}
	} else if score != 0 || falseHaves != 0 {
		t.Errorf("a peer that only answers want-haves has score %.1f, %v false-have offences", score, falseHaves)
	}
	t.Logf("fetch found through the DHT: %v with honest providers only, %v with the false provider too (fetch.timeout %v)",
		base, under, nw.Settings(0).Fetch.Timeout)
	t.Logf("false provider: %d HAVEs sent (%d want-blocks received, answered with %s), no block; %v false-have offences, score %.1f, banned until %v",
		haves.Load(), wantBlocks.Load(), map[bool]string{true: "HAVE", false: "silence"}[haveToAll], falseHaves, score, until)
	t.Logf("%s (attacker in the same process)", heapDelta(w.Before, peak, after))
}

// TestHostileOversizedMessages: first an attacker announces bitswap
// messages of just under 4 MiB on 64 streams and sends one byte of each:
// the victim reserves each length in its resource manager before reading
// it, so only as many as the bitswap service's per-peer memory allows are
// read, the rest are reset, and the heap does not grow by 64 × 4 MiB (it
// would without the guard: msgio allocates the announced length up
// front). That is within the protocol and not penalised. Then messages
// that break it, two each from a fresh attacker: a bitswap length over
// 4 MiB, a length prefix longer than any varint, a DHT length of 64 MiB,
// and a bitswap message that does not decode. Each stream is reset, and
// each attacker is disconnected and refused. An honest peer fetches over
// bitswap meanwhile.
func TestHostileOversizedMessages(t *testing.T) {
	nw := hostileNet(t, 2, func(i int, s *config.Config) {
		if i == 1 {
			s.Fetch.Bulk = false
		}
	})
	v, h := nw.Nodes[0], nw.Nodes[1]
	root1 := publish(t, v.Node, designDir(t, 51, 2<<20))
	root2 := publish(t, v.Node, designDir(t, 52, 2<<20))
	root3 := publish(t, v.Node, designDir(t, 53, 2<<20))
	nw.Connect(1, 0)
	base := timedPin(t, h, root1)
	lim := node.ServiceLimits()[node.ServiceBitswap]
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	t.Run("announced but never sent", func(t *testing.T) {
		a := nodetest.RawHost(t)
		if err := nodetest.Dial(a, v); err != nil {
			t.Fatal(err)
		}
		const size = network.MessageSizeMax - 1
		const streams = 64
		prefix := binary.AppendUvarint(nil, size)
		w := nodetest.WatchHeap()
		svcBefore := serviceStat(t, v, node.ServiceBitswap).Memory
		var opened []network.Stream
		for i := range streams {
			s, err := a.NewStream(ctx, v.Host.ID(), bitswapProtocols[i%len(bitswapProtocols)])
			if err != nil {
				continue
			}
			if _, err := s.Write(append(prefix, 0)); err != nil {
				continue
			}
			opened = append(opened, s)
		}
		const reserved = node.DecodeFactor * size // what the victim reserves for each
		fits := int(lim.PeerMemory / reserved)
		var held int64
		nodetest.Eventually(t, 30*time.Second, func() bool {
			held = serviceStat(t, v, node.ServiceBitswap).Memory - svcBefore
			return transientStat(t, v).NumStreamsInbound == 0 && held >= int64(fits)*reserved &&
				peerStat(t, v, a.ID()).NumStreamsInbound <= fits+4
		}, "the victim to read as many announced messages as its limit allows and reset the rest")
		settled := nodetest.HeapInUse(true)
		under := timedPin(t, h, root2)
		peak, after := w.Stop()
		if held > lim.PeerMemory {
			t.Errorf("the attacker's announced messages hold %s, over the per-peer %s", mib(held), mib(lim.PeerMemory))
		}
		// Without the reservation every stream would hold 4 MiB.
		if growth := int64(settled) - int64(w.Before); growth > int64(fits)*size+32<<20 {
			t.Errorf("heap grew by %s for %d streams announcing %s each; %d fit the limit", mib(growth), len(opened), mib(int64(size)), fits)
		}
		if score, _ := v.Penalty(a.ID()); score != 0 {
			t.Errorf("score %.1f for messages within the protocol's limit", score)
		}
		mustVerify(t, h.Node)
		t.Logf("%d streams each announcing a %s message: the victim reserved %s (%d messages at %d× their length; per-peer limit %s) and reset the rest; attacker's scope: %s",
			len(opened), mib(int64(size)), mib(held), held/reserved, node.DecodeFactor, mib(lim.PeerMemory), fmtStat(peerStat(t, v, a.ID())))
		t.Logf("heap in use before %s, with the streams held %s (+%s; unguarded it would be about +%s), peak %s, after %s (attacker in the same process)",
			mib(w.Before), mib(settled), mib(int64(settled)-int64(w.Before)), mib(int64(len(opened))*4<<20), mib(peak), mib(after))
		t.Logf("honest fetch over bitswap: %v before, %v with the streams held", base, under)
		_ = a.Network().ClosePeer(v.Host.ID())
	})

	for _, tc := range []struct {
		name    string
		proto   protocol.ID
		data    []byte
		offence string
	}{
		{"bitswap length over 4 MiB", bsnet.ProtocolBitswap, append(binary.AppendUvarint(nil, network.MessageSizeMax+1), make([]byte, 64)...), "oversized-message"},
		{"length prefix longer than a varint", bsnet.ProtocolBitswapOneOne, bytes.Repeat([]byte{0xff}, 16), "oversized-message"},
		{"DHT length of 64 MiB", dhtProtocol, append(binary.AppendUvarint(nil, 64<<20), make([]byte, 64)...), "oversized-message"},
		{"bitswap message that does not decode", bsnet.ProtocolBitswap, append(binary.AppendUvarint(nil, 32), bytes.Repeat([]byte{0xff}, 32)...), "malformed-message"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a := nodetest.RawHost(t)
			if err := nodetest.Dial(a, v); err != nil {
				t.Fatal(err)
			}
			offences := counterLabel(t, v.Node, "commons_peer_offences_total", "offence", tc.offence)
			w := nodetest.WatchHeap()
			for i := range 2 {
				s, err := a.NewStream(ctx, v.Host.ID(), tc.proto)
				if err != nil {
					t.Fatalf("stream %d: %v", i, err)
				}
				if _, err := s.Write(tc.data); err != nil {
					t.Logf("stream %d: write: %v", i, err)
				}
				_ = s.SetReadDeadline(time.Now().Add(20 * time.Second))
				_, err = io.ReadAll(s)
				if err == nil || isTimeout(err) {
					t.Errorf("stream %d: the victim did not reset it (read: %v)", i, err)
				}
			}
			mustBeBanned(t, v, a)
			peak, after := w.Stop()
			if got := counterLabel(t, v.Node, "commons_peer_offences_total", "offence", tc.offence) - offences; got != 2 {
				t.Errorf("%v %s offences counted, want 2", got, tc.offence)
			}
			t.Logf("%s: both streams reset, attacker banned; %s; penalised total %v", tc.name,
				heapDelta(w.Before, peak, after), counterValue(t, v.Node, "commons_peers_penalised_total"))
		})
	}

	under := timedPin(t, h, root3)
	mustVerify(t, h.Node)
	mustNotBePenalised(t, v, h.Host.ID(), "the honest fetcher")
	t.Logf("honest fetch over bitswap after the attacks: %v (%v before)", under, base)
	logScopes(t, "after", v, h.Host.ID())
}

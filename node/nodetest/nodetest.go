// Package nodetest runs several commons nodes in one process for tests: on
// a mocknet by default (no ports, fast, deterministic links), or on real
// libp2p hosts over loopback TCP and QUIC when a test must cross real
// sockets. Every node runs as it would in the daemon (Run is going) and is
// closed when the test ends.
package nodetest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	ma "github.com/multiformats/go-multiaddr"

	"github.com/commons-p2p/commons/node"
	"github.com/commons-p2p/commons/pkg/config"
	"github.com/commons-p2p/commons/pkg/store"
)

// Options shape a test network.
type Options struct {
	// Loopback builds real libp2p hosts on 127.0.0.1 instead of mocknet.
	Loopback bool
	// Gateway gives each node an HTTP gateway on 127.0.0.1 port 0.
	Gateway bool
	// Settings adjusts each node's configuration (after the test profile).
	Settings func(i int, s *config.Config)
	// Verbose sends node logs to the test log.
	Verbose bool
	// Link shapes every mocknet link (latency, bandwidth in bytes per
	// second); the zero value is an instant, unlimited link.
	Link mocknet.LinkOptions
	// LANAddrs gives mocknet node i the private address
	// /ip4/10.0.0.<i+1>/tcp/4242 instead of loopback: the dual DHT's LAN
	// half drops loopback addresses from provider records, so only on
	// such addresses can a test see what the dual DHT announces.
	LANAddrs bool
	// Store, if set, gives node i's store options at each start (a
	// reserve of free space, a ballast); nil: the zero options.
	Store func(i int) store.Options
}

// Network is a set of nodes under test.
type Network struct {
	t     testing.TB
	opts  Options
	mn    mocknet.Mocknet
	Nodes []*Peer
}

// Peer is one node of the network with what is needed to restart it.
type Peer struct {
	*node.Node
	Key      crypto.PrivKey
	StoreDir string

	net    *Network
	i      int
	store  *store.Store
	cancel context.CancelFunc
	done   chan error
	once   sync.Once
}

// New starts n nodes. Nothing is connected: use Connect or ConnectAll.
func New(t testing.TB, n int, opts Options) *Network {
	t.Helper()
	nw := &Network{t: t, opts: opts}
	if !opts.Loopback {
		nw.mn = mocknet.New()
		nw.mn.SetLinkDefaults(opts.Link)
		t.Cleanup(func() { _ = nw.mn.Close() })
	}
	for i := range n {
		key, _, err := crypto.GenerateEd25519Key(nil)
		if err != nil {
			t.Fatal(err)
		}
		p := &Peer{Key: key, StoreDir: filepath.Join(t.TempDir(), "store"), net: nw, i: i}
		p.start()
		nw.Nodes = append(nw.Nodes, p)
	}
	return nw
}

// Settings returns the configuration a test node starts from: the test
// profile, with no listeners unless asked for.
func (nw *Network) Settings(i int) config.Config {
	s, err := config.FromProfile("test")
	if err != nil {
		nw.t.Fatal(err)
	}
	s.Addresses.API = ""
	s.Addresses.Gateway = ""
	if nw.opts.Gateway {
		s.Addresses.Gateway = "/ip4/127.0.0.1/tcp/0"
	}
	s.Fetch.Timeout = config.Duration(15 * time.Second)
	if nw.opts.Settings != nil {
		nw.opts.Settings(i, &s)
	}
	return s
}

func (p *Peer) start() {
	t := p.net.t
	t.Helper()
	var so store.Options
	if p.net.opts.Store != nil {
		so = p.net.opts.Store(p.i)
	}
	st, err := store.Open(p.StoreDir, so)
	if err != nil {
		t.Fatalf("node %d: %v", p.i, err)
	}
	cfg := node.Config{Settings: p.net.Settings(p.i), Identity: p.Key, Store: st}
	if p.net.opts.Verbose {
		cfg.Logger = slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug})).With("node", p.i)
	}
	if p.net.mn != nil {
		// Adding a peer ID again (on Restart) replaces its closed host.
		addr, _ := ma.NewMultiaddr("/ip4/127.0.0.1/tcp/4242")
		if p.net.opts.LANAddrs {
			addr, _ = ma.NewMultiaddr(fmt.Sprintf("/ip4/10.0.0.%d/tcp/4242", p.i+1))
		}
		if cfg.Host, err = p.net.mn.AddPeer(p.Key, addr); err != nil {
			t.Fatalf("node %d: mocknet: %v", p.i, err)
		}
		// Link to every other peer; whether they connect is up to the
		// test (Connect) or the DHT (dials by what it learns).
		if err := p.net.mn.LinkAll(); err != nil {
			t.Fatal(err)
		}
	}
	n, err := node.New(context.Background(), cfg)
	if err != nil {
		st.Close()
		t.Fatalf("node %d: %v", p.i, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p.Node, p.store, p.cancel, p.done, p.once = n, st, cancel, make(chan error, 1), sync.Once{}
	go func() { p.done <- n.Run(ctx) }()
	t.Cleanup(p.Stop)
}

// Stop closes the node and its store (as a daemon's clean exit does). It
// is idempotent; Restart starts it again on the same store and identity.
func (p *Peer) Stop() {
	p.once.Do(func() {
		p.cancel()
		select {
		case err := <-p.done:
			if err != nil && !errors.Is(err, context.Canceled) {
				p.net.t.Errorf("node %d: run: %v", p.i, err)
			}
		case <-time.After(30 * time.Second):
			p.net.t.Errorf("node %d: Run did not return within 30s of cancel", p.i)
		}
		id := p.Node.Host.ID()
		if err := p.Node.Close(); err != nil {
			p.net.t.Errorf("node %d: close: %v", p.i, err)
		}
		if p.net.mn != nil {
			// Mocknet keeps a closed host's links (and the other side of
			// its connections); a peer dialling the restarted node could
			// pick an old link and reach the dead host, and send its
			// blocks there. Over a real network the connections reset:
			// drop the links and close the connections.
			for _, o := range p.net.Nodes {
				if o == p || o.Node == nil || o.Node.Host == nil {
					continue
				}
				for _, l := range p.net.mn.LinksBetweenPeers(id, o.Host.ID()) {
					_ = p.net.mn.Unlink(l)
				}
				_ = o.Host.Network().ClosePeer(id)
			}
		}
		if err := p.store.Close(); err != nil {
			p.net.t.Errorf("node %d: close store: %v", p.i, err)
		}
	})
}

// Restart stops the node if running and starts it again with the same
// identity and store.
func (p *Peer) Restart() {
	p.Stop()
	p.start()
}

// Connect connects node i to node j.
func (nw *Network) Connect(i, j int) {
	nw.t.Helper()
	a, b := nw.Nodes[i], nw.Nodes[j]
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := a.Host.Connect(ctx, peer.AddrInfo{ID: b.Host.ID(), Addrs: b.Host.Addrs()}); err != nil {
		nw.t.Fatalf("connect node %d to %d: %v", i, j, err)
	}
}

// Datastore is the node's datastore, under its block store: tests damage
// stored blocks through it as a failing disk would.
func (p *Peer) Datastore() ds.Batching { return p.store.Datastore() }

// Unlink cuts the mocknet link between nodes i and j (closing their
// connections), so that neither can dial the other until the next
// Restart of either relinks everything.
func (nw *Network) Unlink(i, j int) {
	nw.t.Helper()
	if nw.mn == nil {
		nw.t.Fatal("Unlink needs a mocknet network")
	}
	a, b := nw.Nodes[i].Host.ID(), nw.Nodes[j].Host.ID()
	// Every start links all pairs again, so there may be several links.
	links := nw.mn.LinksBetweenPeers(a, b)
	if len(links) == 0 {
		nw.t.Fatalf("unlink %d and %d: they are not linked", i, j)
	}
	for _, l := range links {
		if err := nw.mn.Unlink(l); err != nil {
			nw.t.Fatalf("unlink %d and %d: %v", i, j, err)
		}
	}
	_ = nw.mn.DisconnectPeers(a, b)
}

// Relink restores the mocknet link between nodes i and j that Unlink cut,
// without connecting them: the nodes redial by themselves.
func (nw *Network) Relink(i, j int) {
	nw.t.Helper()
	if nw.mn == nil {
		nw.t.Fatal("Relink needs a mocknet network")
	}
	if _, err := nw.mn.LinkPeers(nw.Nodes[i].Host.ID(), nw.Nodes[j].Host.ID()); err != nil {
		nw.t.Fatalf("relink %d and %d: %v", i, j, err)
	}
}

// ConnectAddr connects node i to the peer at a multiaddr ending in
// /p2p/<id> (e.g. a Kubo daemon).
func (nw *Network) ConnectAddr(i int, addr string) {
	nw.t.Helper()
	m, err := ma.NewMultiaddr(addr)
	if err != nil {
		nw.t.Fatal(err)
	}
	pi, err := peer.AddrInfoFromP2pAddr(m)
	if err != nil {
		nw.t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := nw.Nodes[i].Host.Connect(ctx, *pi); err != nil {
		nw.t.Fatalf("connect node %d to %s: %v", i, addr, err)
	}
}

// WaitRouting waits until every node has at least min peers in its DHT
// routing table (connections come before routing-table entries).
func (nw *Network) WaitRouting(min int) {
	nw.t.Helper()
	Eventually(nw.t, 30*time.Second, func() bool {
		for _, p := range nw.Nodes {
			if p.RoutingSize() < min {
				return false
			}
		}
		return true
	}, "DHT routing tables to fill")
}

// WaitProvider waits until p finds provider in the DHT as a provider of c.
func WaitProvider(t testing.TB, within time.Duration, p *Peer, c cid.Cid, provider peer.ID) {
	t.Helper()
	Eventually(t, within, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		for pi := range p.Routing.FindProvidersAsync(ctx, c, 1) {
			if pi.ID == provider {
				return true
			}
		}
		return false
	}, fmt.Sprintf("%s to be found as a provider of %s", provider, c))
}

// Eventually polls cond every 50ms until it is true or the deadline passes.
func Eventually(t testing.TB, within time.Duration, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(within)
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		<-tick.C
	}
}

type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}

// WriteTree creates files under dir from a map of slash-separated relative
// paths to contents.
func WriteTree(t testing.TB, dir string, files map[string]string) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

package nodetest

import (
	"context"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
)

// RawHost starts a bare libp2p host on loopback TCP with no resource
// limits of its own: the stand-in for a hostile peer, which speaks the
// protocols directly instead of running a node. It is closed when the
// test ends. It has only the TCP transport, so its connections are TCP
// with yamux whatever the other side listens on: with QUIC, an attacker
// churning thousands of small bitswap streams stalled its own large
// messages (flow control on the attacker's side, with or without the
// node's guard), and the tests would measure that instead.
func RawHost(t testing.TB) host.Host {
	t.Helper()
	h, err := libp2p.New(
		libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
		libp2p.ResourceManager(&network.NullResourceManager{}),
		libp2p.DisableRelay(),
		libp2p.Transport(tcp.NewTCPTransport),
	)
	if err != nil {
		t.Fatalf("raw host: %v", err)
	}
	t.Cleanup(func() { _ = h.Close() })
	return h
}

// Dial connects h to p. It returns the error instead of failing, since a
// test may expect a refusal.
func Dial(h host.Host, p *Peer) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return h.Connect(ctx, peer.AddrInfo{ID: p.Host.ID(), Addrs: p.Host.Addrs()})
}

// HeapWatch samples the process's heap in use until Stop. Tests run the
// nodes under test and their attackers in one process, so it measures all
// of them together: read it as an upper bound of what the victim holds.
type HeapWatch struct {
	Before uint64 // heap in use at the start, after a collection
	stop   chan struct{}
	done   chan struct{}
	mu     sync.Mutex
	peak   uint64
}

// WatchHeap starts sampling every 20 ms.
func WatchHeap() *HeapWatch {
	w := &HeapWatch{Before: HeapInUse(true), stop: make(chan struct{}), done: make(chan struct{})}
	w.peak = w.Before
	go func() {
		defer close(w.done)
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-w.stop:
				return
			case <-t.C:
			}
			if h := HeapInUse(false); h > w.Peak() {
				w.mu.Lock()
				w.peak = h
				w.mu.Unlock()
			}
		}
	}()
	return w
}

// Peak returns the largest heap in use sampled so far.
func (w *HeapWatch) Peak() uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peak
}

// Stop ends the sampling and returns the peak and the heap in use after a
// collection.
func (w *HeapWatch) Stop() (peak, after uint64) {
	close(w.stop)
	<-w.done
	return w.Peak(), HeapInUse(true)
}

// HeapInUse returns runtime.MemStats.HeapInuse, after a collection if gc.
func HeapInUse(gc bool) uint64 {
	if gc {
		runtime.GC()
	}
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapInuse
}

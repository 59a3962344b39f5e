package node

import (
	"context"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/p2p/net/swarm"
)

// A village link drops for minutes. A fetch in progress redials its
// source by itself (bulk.reconnect); what is left is the time between
// fetches: a mirror whose fetch gave up waits for its retry, and nothing
// else dials a peer that is not a bootstrap peer. So while the mirror has
// work it could not finish, the node redials the peers that served it
// recently, about once a second, and a new connection to any peer makes
// the mirror retry at once instead of at the end of its backoff.

// sourceMemory is how long a peer that served a transfer is remembered.
const sourceMemory = 24 * time.Hour

// redialEvery is the pause between redials of a source while the mirror
// has work it could not finish; after redialPatience it grows to
// redialSlow.
const (
	redialEvery    = time.Second
	redialPatience = 10 * time.Minute
	redialSlow     = 30 * time.Second
)

// sources remembers the peers that served this node content.
type sources struct {
	mu   sync.Mutex
	seen map[peer.ID]time.Time
}

func (s *sources) add(p peer.ID) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.seen == nil {
		s.seen = map[peer.ID]time.Time{}
	}
	s.seen[p] = time.Now()
}

func (s *sources) list() []peer.ID {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []peer.ID
	for p, t := range s.seen {
		if time.Since(t) > sourceMemory {
			delete(s.seen, p)
			continue
		}
		out = append(out, p)
	}
	return out
}

// redialSources runs until ctx ends: see the comment at the top.
func (n *Node) redialSources(ctx context.Context) {
	n.Host.Network().Notify(&network.NotifyBundle{
		ConnectedF: func(nw network.Network, c network.Conn) {
			if n.mirror != nil && n.mirror.retryNow(len(nw.Peers()) <= 1) {
				n.log.Debug("a peer connected; the mirror retries and looks up now", "subsystem", "mirror", "peer", c.RemotePeer())
			}
		},
	})
	var pendingSince time.Time
	last := map[peer.ID]time.Time{}
	t := time.NewTicker(redialEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n.mirror == nil || !n.mirror.unfinished() {
			pendingSince = time.Time{}
			continue
		}
		if pendingSince.IsZero() {
			pendingSince = time.Now()
		}
		every := redialEvery
		if time.Since(pendingSince) > redialPatience {
			every = redialSlow
		}
		for _, p := range n.bulkSources.list() {
			if n.Host.Network().Connectedness(p) == network.Connected || time.Since(last[p]) < every {
				continue
			}
			if len(n.Host.Peerstore().Addrs(p)) == 0 {
				continue // nothing to dial; the DHT or a bootstrap peer finds it again
			}
			last[p] = time.Now()
			go func() {
				if sw, ok := n.Host.Network().(*swarm.Swarm); ok {
					sw.Backoff().Clear(p)
				}
				dctx, cancel := context.WithTimeout(network.WithForceDirectDial(ctx, "resume the mirror"), bulkDialTimeout)
				defer cancel()
				_ = n.Host.Connect(dctx, peer.AddrInfo{ID: p})
			}()
		}
	}
}

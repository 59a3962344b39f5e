package node

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"sync"
	"time"

	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p-kad-dht/dual"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"

	"github.com/commons-p2p/commons/gateway/api"
)

func parseMultiaddrs(ss []string) ([]ma.Multiaddr, error) {
	out := make([]ma.Multiaddr, 0, len(ss))
	for _, s := range ss {
		m, err := ma.NewMultiaddr(s)
		if err != nil {
			return nil, fmt.Errorf("%q is not a multiaddr: %w", s, err)
		}
		out = append(out, m)
	}
	return out, nil
}

func parseAddrInfos(ss []string) ([]peer.AddrInfo, error) {
	ms, err := parseMultiaddrs(ss)
	if err != nil {
		return nil, err
	}
	infos, err := peer.AddrInfosFromP2pAddrs(ms...)
	if err != nil {
		return nil, fmt.Errorf("%v: each address must end in /p2p/<peer id>: %w", ss, err)
	}
	return infos, nil
}

// loopbackOnly reports whether every listen address is on loopback, in
// which case asking the router for a port mapping is pointless.
func loopbackOnly(addrs []string) bool {
	for _, s := range addrs {
		m, err := ma.NewMultiaddr(s)
		if err != nil || !manet.IsIPLoopback(m) {
			return false
		}
	}
	return true
}

// RoutingSize is the number of peers in the DHT routing tables.
func (n *Node) RoutingSize() int {
	switch r := n.Routing.(type) {
	case *dht.IpfsDHT:
		return r.RoutingTable().Size()
	case *dual.DHT:
		return r.WAN.RoutingTable().Size() + r.LAN.RoutingTable().Size()
	}
	return 0
}

func (n *Node) routingReady() bool { return n.RoutingSize() > 0 }

// keepConnected dials the bootstrap peers at start and whenever the node
// has few connections. Unreachable bootstrap peers are normal (a village
// with no internet) and only logged.
func (n *Node) keepConnected(ctx context.Context) {
	if len(n.bootstrapPeers) == 0 {
		return
	}
	const want = 4
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if len(n.Host.Network().Peers()) < want {
			var wg sync.WaitGroup
			for _, pi := range n.bootstrapPeers {
				if n.Host.Network().Connectedness(pi.ID) == network.Connected {
					continue
				}
				wg.Go(func() {
					cctx, cancel := context.WithTimeout(ctx, 15*time.Second)
					defer cancel()
					if err := n.Host.Connect(cctx, pi); err != nil {
						n.log.Debug("bootstrap peer unreachable", "subsystem", "bootstrap", "peer", pi.ID, "err", err)
					}
				})
			}
			wg.Wait()
			if b, ok := n.Routing.(interface{ Bootstrap(context.Context) error }); ok {
				_ = b.Bootstrap(ctx)
			}
		}
		t.Reset(time.Minute)
	}
}

type mdnsNotifee struct {
	n   *Node
	ctx context.Context
}

func (m *mdnsNotifee) HandlePeerFound(pi peer.AddrInfo) {
	if pi.ID == m.n.Host.ID() || m.n.Host.Network().Connectedness(pi.ID) == network.Connected {
		return
	}
	go func() {
		ctx, cancel := context.WithTimeout(m.ctx, 15*time.Second)
		defer cancel()
		if err := m.n.Host.Connect(ctx, pi); err != nil {
			m.n.log.Debug("mdns peer unreachable", "subsystem", "discovery", "peer", pi.ID, "err", err)
			return
		}
		m.n.log.Info("found peer on the LAN", "subsystem", "discovery", "peer", pi.ID)
	}()
}

// ListenAddrs returns the node's libp2p addresses, each with /p2p/<id>.
func (n *Node) ListenAddrs() []string {
	if n.Host == nil {
		return nil
	}
	infos, err := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: n.Host.ID(), Addrs: n.Host.Addrs()})
	if err != nil {
		return nil
	}
	out := make([]string, 0, len(infos))
	for _, a := range infos {
		out = append(out, a.String())
	}
	slices.Sort(out)
	return out
}

// ID implements api.Service.
func (n *Node) ID(ctx context.Context) (api.IDInfo, error) {
	info := api.IDInfo{AgentVer: UserAgent, Online: !n.offline, GatewayURL: n.GatewayURL()}
	var pub crypto.PubKey
	switch {
	case n.Host != nil:
		pub = n.Host.Peerstore().PubKey(n.Host.ID())
		info.PeerID = n.Host.ID().String()
	case n.identity != nil: // offline: no host, but the identity is known
		pub = n.identity.GetPublic()
		if id, err := peer.IDFromPublicKey(pub); err == nil {
			info.PeerID = id.String()
		}
	}
	if pub != nil {
		if b, err := crypto.MarshalPublicKey(pub); err == nil {
			info.PublicKey = base64.StdEncoding.EncodeToString(b)
		}
	}
	if n.Host == nil {
		return info, nil
	}
	info.Addresses = n.ListenAddrs()
	for _, p := range n.Host.Mux().Protocols() {
		info.Protocols = append(info.Protocols, string(p))
	}
	slices.Sort(info.Protocols)
	return info, nil
}

// Peers implements api.Service.
func (n *Node) Peers(ctx context.Context) ([]api.PeerInfo, error) {
	if n.Host == nil {
		return nil, fmt.Errorf("peers: %w: start the daemon (commons daemon) first", api.ErrOffline)
	}
	var out []api.PeerInfo
	for _, c := range n.Host.Network().Conns() {
		out = append(out, api.PeerInfo{
			PeerID:    c.RemotePeer().String(),
			Address:   c.RemoteMultiaddr().String(),
			Direction: c.Stat().Direction.String(),
			Latency:   n.Host.Peerstore().LatencyEWMA(c.RemotePeer()),
		})
	}
	slices.SortFunc(out, func(a, b api.PeerInfo) int {
		if a.PeerID != b.PeerID {
			return compare(a.PeerID, b.PeerID)
		}
		return compare(a.Address, b.Address)
	})
	return out, nil
}

func compare(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// Connect implements api.Service.
func (n *Node) Connect(ctx context.Context, addr string) error {
	if n.Host == nil {
		return fmt.Errorf("connect %s: %w: start the daemon (commons daemon) first", addr, api.ErrOffline)
	}
	m, err := ma.NewMultiaddr(addr)
	if err != nil {
		return fmt.Errorf("connect %q: %w: not a multiaddr: %v", addr, api.ErrInvalid, err)
	}
	pi, err := peer.AddrInfoFromP2pAddr(m)
	if err != nil {
		return fmt.Errorf("connect %s: %w: the address must end in /p2p/<peer id>", addr, api.ErrInvalid)
	}
	if pi.ID == n.Host.ID() {
		return fmt.Errorf("connect %s: %w: that is this node", addr, api.ErrInvalid)
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := n.Host.Connect(ctx, *pi); err != nil {
		return fmt.Errorf("connect %s: %w", addr, err)
	}
	return nil
}

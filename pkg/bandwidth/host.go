package bandwidth

import (
	"context"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// WrapHost returns h with every stream it opens (NewStream) and every
// stream it hands to a handler set through it (SetStreamHandler,
// SetStreamHandlerMatch) limited by l. Everything else is h's.
//
// Streams of handlers set on h itself are not limited: in a host from
// libp2p.New those are libp2p's own protocols (identify, ping, and the
// others its options turn on), which move a few kilobytes a connection.
// So build everything that transfers data on the returned host.
//
// With l nil or unlimited WrapHost returns h itself.
func WrapHost(h host.Host, l *Limiter) host.Host {
	if l == nil || l.limits.Unlimited() {
		return h
	}
	return &limitedHost{Host: h, lim: l}
}

type limitedHost struct {
	host.Host
	lim *Limiter
}

var _ host.Host = (*limitedHost)(nil)

// NewStream opens a stream as the wrapped host does and limits it.
func (h *limitedHost) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	s, err := h.Host.NewStream(ctx, p, pids...)
	if err != nil {
		return nil, err
	}
	return h.lim.Stream(s), nil
}

// SetStreamHandler sets handler on the wrapped host, handing it limited
// streams.
func (h *limitedHost) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	h.Host.SetStreamHandler(pid, h.limited(handler))
}

// SetStreamHandlerMatch sets handler on the wrapped host, handing it
// limited streams.
func (h *limitedHost) SetStreamHandlerMatch(pid protocol.ID, match func(protocol.ID) bool, handler network.StreamHandler) {
	h.Host.SetStreamHandlerMatch(pid, match, h.limited(handler))
}

func (h *limitedHost) limited(handler network.StreamHandler) network.StreamHandler {
	return func(s network.Stream) { handler(h.lim.Stream(s)) }
}

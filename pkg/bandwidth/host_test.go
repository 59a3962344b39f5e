package bandwidth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/protocol"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
)

// TestWrapHost: on a wrapped host, streams from NewStream and streams
// handed to handlers set through it (by ID or by match) are limited;
// handlers set on the host underneath, as libp2p's own are, get the
// streams as they are. Unlimited, WrapHost returns the host itself.
func TestWrapHost(t *testing.T) {
	mn := mocknet.New()
	t.Cleanup(func() { _ = mn.Close() })
	a, err := mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	b, err := mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	if err := mn.LinkAll(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := mn.ConnectPeers(a.ID(), b.ID()); err != nil {
		t.Fatal(err)
	}

	for _, l := range []*Limiter{nil, newLimiter(t, Limits{})} {
		if h := WrapHost(a, l); h != host.Host(a) {
			t.Errorf("WrapHost with limiter %v wrapped the host: %T", l, h)
		}
	}
	wa := WrapHost(a, newLimiter(t, Limits{PeerDownload: 1 << 20}))

	got := make(chan network.Stream, 1)
	handler := func(s network.Stream) { got <- s }
	wa.SetStreamHandler("/by-id", handler)
	wa.SetStreamHandlerMatch("/by-match", func(p protocol.ID) bool { return strings.HasPrefix(string(p), "/by-match") }, handler)
	a.SetStreamHandler("/underneath", handler)

	for _, tc := range []struct {
		proto   protocol.ID
		limited bool
	}{
		{"/by-id", true},
		{"/by-match/1.0", true},
		{"/underneath", false},
	} {
		s, err := b.NewStream(ctx, a.ID(), tc.proto)
		if err != nil {
			t.Fatalf("open %s: %v", tc.proto, err)
		}
		if _, err := s.Write([]byte("x")); err != nil { // the handler runs once data comes
			t.Fatal(err)
		}
		var in network.Stream
		select {
		case in = <-got:
		case <-ctx.Done():
			t.Fatalf("%s: the handler was not called", tc.proto)
		}
		if _, limited := in.(*stream); limited != tc.limited {
			t.Errorf("%s: the handler got a %T; limited = %v, want %v", tc.proto, in, limited, tc.limited)
		}
		in.Close()
		s.Close()
	}

	b.SetStreamHandler("/out", func(s network.Stream) { s.Close() })
	s, err := wa.NewStream(ctx, b.ID(), "/out")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, limited := s.(*stream); !limited {
		t.Errorf("NewStream on the wrapped host gave a %T, not a limited stream", s)
	}
}

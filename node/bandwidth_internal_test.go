package node

import (
	"testing"

	"github.com/libp2p/go-libp2p/core/host"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/commons-p2p/commons/pkg/config"
)

// TestLimitBandwidthWrapsOnlyWhenLimited: with every rate unset (the
// default, "0" or "") the host is used as it is and nothing is
// registered; with any rate set it is wrapped and the metrics are there.
func TestLimitBandwidthWrapsOnlyWhenLimited(t *testing.T) {
	mn := mocknet.New()
	t.Cleanup(func() { _ = mn.Close() })
	h, err := mn.GenPeer()
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		swarm   func(*config.Swarm)
		wrapped bool
	}{
		{"default", func(*config.Swarm) {}, false},
		{"empty", func(s *config.Swarm) { *s = config.Swarm{} }, false},
		{"zero with a unit", func(s *config.Swarm) { s.UploadRate = "0Mbit" }, false},
		{"one rate", func(s *config.Swarm) { s.PeerDownloadRate = "256kbit" }, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := config.Default().Swarm
			tc.swarm(&s)
			reg := prometheus.NewRegistry()
			got, err := limitBandwidth(h, s, reg)
			if err != nil {
				t.Fatal(err)
			}
			if wrapped := got != host.Host(h); wrapped != tc.wrapped {
				t.Errorf("host wrapped = %v (%T); want %v", wrapped, got, tc.wrapped)
			}
			mfs, err := reg.Gather()
			if err != nil {
				t.Fatal(err)
			}
			if registered := len(mfs) > 0; registered != tc.wrapped {
				t.Errorf("metrics registered = %v; want %v", registered, tc.wrapped)
			}
		})
	}
	if _, err := limitBandwidth(h, config.Swarm{UploadRate: "fast"}, prometheus.NewRegistry()); err == nil {
		t.Error("limitBandwidth accepted a rate that does not parse")
	}
}

package node_test

import (
	"testing"
	"time"

	"github.com/commons-p2p/commons/node/nodetest"
	"github.com/commons-p2p/commons/pkg/config"
)

// TestAnnounceSweep: with provider.strategy = "all" a node announces every
// block of a pin, not only its root, through the sweeping provider, for
// one DHT and for the dual one. What it pins with an empty routing table
// (a village with no network) is announced once a peer appears; what it
// pins when online is announced at once, not at the next reprovide (the
// interval is 22 h). The dual DHT's nodes have private LAN addresses: its
// LAN half drops loopback ones from provider records.
func TestAnnounceSweep(t *testing.T) {
	for _, routing := range []string{"single", "dual"} {
		t.Run(routing, func(t *testing.T) {
			nw := nodetest.New(t, 3, nodetest.Options{LANAddrs: routing == "dual", Settings: func(i int, s *config.Config) {
				s.Routing.DHT = routing
				s.Provider.Strategy = "all"
				s.Provider.Interval = config.Duration(22 * time.Hour)
				if i != 1 {
					s.Routing.Mode = "client"
				}
			}})
			a, c := nw.Nodes[0], nw.Nodes[2]

			offline := publish(t, a.Node, bundle(t)) // no peers yet
			leaf := fileCID(t, a.Node, offline, "bom.csv")
			start := time.Now()
			nw.Connect(0, 1)
			nw.Connect(2, 1)
			nodetest.WaitProvider(t, 90*time.Second, c, leaf, a.Host.ID())
			nodetest.WaitProvider(t, 30*time.Second, c, offline, a.Host.ID())
			t.Logf("%s: pinned offline, found %s after the network came up", routing, time.Since(start))

			dir := bundle(t)
			nodetest.WriteTree(t, dir, map[string]string{"bom.csv": "part,qty\ntube,4\nbolt,12\n"})
			online := publish(t, a.Node, dir)
			leaf2 := fileCID(t, a.Node, online, "bom.csv")
			start = time.Now()
			nodetest.WaitProvider(t, 60*time.Second, c, leaf2, a.Host.ID())
			t.Logf("%s: pinned online, found after %s", routing, time.Since(start))
		})
	}
}

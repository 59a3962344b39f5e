package node_test

import (
	"context"
	"io/fs"
	"path/filepath"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/commons-p2p/commons/node"
	"github.com/commons-p2p/commons/node/nodetest"
	"github.com/commons-p2p/commons/pkg/config"
)

// TestBandwidthLimits: a node fetches a bundle of about 3 MiB from a
// peer over mocknet (an instant, unlimited link) with one limit of
// 1 MiB/s set, on the fetcher (download) or on the server (upload),
// global or per peer. The fetch takes at least 0.85 × size / rate (only
// a lower bound: the machine may be slow, never fast), and the limited
// node counts time waited in that direction. With no limit, the nodes
// have no limiter at all: no bandwidth metrics, and the same fetch.
func TestBandwidthLimits(t *testing.T) {
	const rate = 1 << 20 // bytes per second
	tests := []struct {
		name      string
		limit     func(*config.Swarm)
		on        int    // the limited node: 0 serves, 1 fetches
		direction string // of the limited node's waits
	}{
		{"download_rate on the fetcher", func(s *config.Swarm) { s.DownloadRate = "1MiB" }, 1, "download"},
		{"peer_download_rate on the fetcher", func(s *config.Swarm) { s.PeerDownloadRate = "1024KiB" }, 1, "download"},
		{"upload_rate on the server", func(s *config.Swarm) { s.UploadRate = "1MiB/s" }, 0, "upload"},
		{"peer_upload_rate on the server", func(s *config.Swarm) { s.PeerUploadRate = "1MiB" }, 0, "upload"},
		{"no limits", nil, -1, ""},
	}
	dir := bundle(t)
	size := treeSize(t, dir)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			nw := nodetest.New(t, 2, nodetest.Options{Settings: func(i int, s *config.Config) {
				if i == tc.on {
					tc.limit(&s.Swarm)
				}
			}})
			server, fetcher := nw.Nodes[0], nw.Nodes[1]
			root := publish(t, server.Node, dir)
			nw.Connect(1, 0)

			out := filepath.Join(t.TempDir(), "copy")
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			start := time.Now()
			if err := fetcher.Get(ctx, root.String(), out, nil); err != nil {
				t.Fatalf("get: %v", err)
			}
			took := time.Since(start)
			compareTrees(t, dir, out)

			if tc.on < 0 {
				t.Logf("%d bytes unlimited in %v", size, took)
				for i, p := range nw.Nodes {
					for name := range bandwidthFamilies(t, p.Node) {
						t.Errorf("node %d has a limiter with no limit set: metric %s", i, name)
					}
				}
				return
			}
			least := time.Duration(0.85 * float64(size) / rate * float64(time.Second))
			t.Logf("%d bytes at %d B/s in %v (at least %v)", size, rate, took, least)
			if took < least {
				t.Errorf("the fetch took %v; a limit of %d B/s allows no less than %v", took, rate, least)
			}
			mfs := bandwidthFamilies(t, nw.Nodes[tc.on].Node)
			if w := sample(mfs["commons_bandwidth_wait_seconds_total"], "direction", tc.direction); w <= 0 {
				t.Errorf("the limited node waited %v s for %s tokens; want some", w, tc.direction)
			}
			var limit float64
			for _, m := range mfs["commons_bandwidth_limit_bytes_per_second"].GetMetric() {
				limit += m.GetGauge().GetValue()
			}
			if limit != rate {
				t.Errorf("the limits in force add up to %v B/s; want the one set, %d", limit, rate)
			}
		})
	}
}

// treeSize is the sum of the sizes of the files under dir.
func treeSize(t *testing.T, dir string) int64 {
	t.Helper()
	var size int64
	err := filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		size += info.Size()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return size
}

// bandwidthFamilies returns the node's commons_bandwidth_* metric families.
func bandwidthFamilies(t *testing.T, n *node.Node) map[string]*dto.MetricFamily {
	t.Helper()
	mfs, err := n.Metrics().Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]*dto.MetricFamily{}
	for _, mf := range mfs {
		if name := mf.GetName(); len(name) > 18 && name[:18] == "commons_bandwidth_" {
			out[name] = mf
		}
	}
	return out
}

// sample returns the value of mf's sample whose label is value (0 if none).
func sample(mf *dto.MetricFamily, label, value string) float64 {
	for _, m := range mf.GetMetric() {
		for _, l := range m.GetLabel() {
			if l.GetName() == label && l.GetValue() == value {
				return m.GetCounter().GetValue() + m.GetGauge().GetValue()
			}
		}
	}
	return 0
}

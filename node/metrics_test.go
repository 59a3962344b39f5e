package node_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/node/nodetest"
	"github.com/commons-p2p/commons/pkg/config"
)

// scrape GETs the node's /metrics and parses the text format.
func scrape(t *testing.T, apiURL string) map[string]*dto.MetricFamily {
	t.Helper()
	res, err := http.Get(apiURL + api.MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: status %d", res.StatusCode)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	mfs, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		t.Fatalf("parse /metrics: %v", err)
	}
	return mfs
}

// value returns the value of the sample of family name whose labels
// include want, and whether there is one.
func value(mfs map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	mf := mfs[name]
	if mf == nil {
		return 0, false
	}
next:
	for _, m := range mf.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.Counter.GetValue(), true
		case m.Gauge != nil:
			return m.Gauge.GetValue(), true
		case m.Histogram != nil:
			return float64(m.Histogram.GetSampleCount()), true
		}
		return 0, true
	}
	return 0, false
}

// TestMetricsEndpoint runs two real nodes on loopback: B fetches A's
// bundle through its gateway, and A's page is read. A's /metrics, scraped
// over its API listener, has go-libp2p's families (resource manager,
// swarm, identify), bitswap's, the DHT's, the boxo gateway's and the
// node's own reach counters; scraping changes nothing; nothing lands in the
// process-wide default registry.
func TestMetricsEndpoint(t *testing.T) {
	before, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	nw := nodetest.New(t, 2, nodetest.Options{Loopback: true, Gateway: true, Settings: func(_ int, s *config.Config) {
		s.Addresses.API = "/ip4/127.0.0.1/tcp/0"
	}})
	a, b := nw.Nodes[0], nw.Nodes[1]
	nw.Connect(1, 0)
	v1 := publishDir(t, a.Node, demoFolder(t))
	root := v1.CID.String()

	// B reads a file of A's bundle through B's gateway: bitswap A -> B.
	if res, body := fetch(t, b.GatewayURL()+"/ipfs/"+root+"/bom.csv", ""); res.StatusCode != http.StatusOK {
		t.Fatalf("B's gateway: %d %.200s", res.StatusCode, body)
	}
	// The page of A's bundle on A, twice, a zip, and a file by path.
	for _, u := range []string{"/bundles/" + root + "/", "/bundles/" + root + "/", "/bundles/" + root + ".zip", "/ipfs/" + root + "/README.md"} {
		if res, _ := fetch(t, a.GatewayURL()+u, ""); res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s on A: %d", u, res.StatusCode)
		}
	}

	labels := map[string]string{"bundle": "brick-press", "sequence": "1"}
	var mfs map[string]*dto.MetricFamily
	nodetest.Eventually(t, 30*time.Second, func() bool {
		mfs = scrape(t, a.APIURL())
		sent, _ := value(mfs, "commons_bitswap_blocks_sent_total", nil)
		return sent > 0
	}, "A's bitswap counting the blocks it sent")

	for _, prefix := range []string{
		"libp2p_rcmgr_", "libp2p_swarm_", "libp2p_identify_", // go-libp2p
		"ipfs_http_",       // boxo's gateway
		"commons_bitswap_", // bitswap
		"commons_dht_",     // the DHT
		"commons_bundle_",  // reach
		"go_", "process_",  // runtime
	} {
		found := false
		for name := range mfs {
			if strings.HasPrefix(name, prefix) {
				found = true
				break
			}
		}
		if !found {
			t.Errorf("no metric family %s* in A's /metrics", prefix)
		}
	}
	if v, ok := value(mfs, "commons_bundle_page_views_total", labels); !ok || v != 2 {
		t.Errorf("commons_bundle_page_views_total%v = %v (present %v), want 2", labels, v, ok)
	}
	zip := map[string]string{"bundle": "brick-press", "sequence": "1", "kind": "zip"}
	if v, ok := value(mfs, "commons_bundle_downloads_total", zip); !ok || v != 1 {
		t.Errorf("commons_bundle_downloads_total%v = %v (present %v), want 1", zip, v, ok)
	}
	if v, ok := value(mfs, "ipfs_http_gw_responses_total", map[string]string{"code": "200"}); !ok || v < 1 {
		t.Errorf("ipfs_http_gw_responses_total{code=200} = %v (present %v)", v, ok)
	}
	if v, ok := value(mfs, "commons_dht_routing_table_peers", nil); !ok || v < 1 {
		t.Errorf("commons_dht_routing_table_peers = %v (present %v), want B in it", v, ok)
	}

	// Scraping is read-only: the counts stay where they were.
	for range 3 {
		scrape(t, a.APIURL())
	}
	st, err := a.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := versionStats(st, root); v.Views != 2 || v.Downloads.Zip != 1 {
		t.Errorf("counts after scrapes: %+v", v)
	}
	// Only GET: the API's other methods do not reach the metrics.
	res, err := http.Post(a.APIURL()+api.MetricsPath, "text/plain", nil)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST /metrics: status %d, want 405", res.StatusCode)
	}

	// Each node has its own registry; the default one is untouched.
	if mb := scrape(t, b.APIURL()); mb["commons_bundle_page_views_total"] != nil {
		t.Error("B reports A's page views")
	}
	after, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		names := []string{}
		for _, mf := range after {
			names = append(names, mf.GetName())
		}
		t.Errorf("the default registry grew from %d to %d families: %v", len(before), len(after), names)
	}
}

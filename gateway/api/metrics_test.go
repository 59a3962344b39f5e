package api_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/commons-p2p/commons/gateway/api"
)

// TestMetricsEndpoint: GET /metrics serves the gatherer in the Prometheus
// text format; it is the only GET of the API, refuses other methods and
// foreign origins, and without WithMetrics it does not exist.
func TestMetricsEndpoint(t *testing.T) {
	n, _, _ := setup(t)
	reg := prometheus.NewRegistry()
	scrapes := prometheus.NewCounter(prometheus.CounterOpts{Name: "test_things_total", Help: "Things."})
	scrapes.Add(3)
	reg.MustRegister(scrapes)
	srv := httptest.NewServer(api.NewHandler(n, nil, api.WithMetrics(reg)))
	t.Cleanup(srv.Close)

	send := func(method, target string, hdr ...string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+target, nil)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i+1 < len(hdr); i += 2 {
			req.Header.Set(hdr[i], hdr[i+1])
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res, string(b)
	}

	res, body := send(http.MethodGet, api.MetricsPath)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: status %d", res.StatusCode)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
		t.Errorf("Content-Type %q, want the text format", ct)
	}
	if !strings.Contains(body, "# TYPE test_things_total counter\ntest_things_total 3\n") {
		t.Errorf("body lacks the counter:\n%s", body)
	}
	for _, m := range []string{http.MethodPost, http.MethodPut, http.MethodDelete} {
		if res, _ := send(m, api.MetricsPath); res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("%s /metrics: status %d, want 405", m, res.StatusCode)
		}
	}
	if res, _ := send(http.MethodGet, api.MetricsPath, "Origin", "https://evil.example"); res.StatusCode != http.StatusForbidden {
		t.Errorf("GET /metrics from a web page: status %d, want 403", res.StatusCode)
	}
	// Every operation stays POST only, the new one included.
	for _, op := range []string{"stats", "id", "pin/ls", "gc"} {
		if res, _ := send(http.MethodGet, api.Prefix+op); res.StatusCode != http.StatusMethodNotAllowed {
			t.Errorf("GET %s: status %d, want 405", op, res.StatusCode)
		}
	}

	bare := httptest.NewServer(api.NewHandler(n, nil))
	t.Cleanup(bare.Close)
	res, err := http.Get(bare.URL + api.MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("GET /metrics without WithMetrics: status %d, want 404", res.StatusCode)
	}
}

// TestStatsOverHTTP: the stats op answers through the client; a node with
// nothing counted has an empty list, not null.
func TestStatsOverHTTP(t *testing.T) {
	_, c, _ := setup(t)
	st, err := c.Stats(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if st.Bundles == nil || len(st.Bundles) != 0 {
		t.Errorf("stats of a fresh node: %+v", st)
	}
}

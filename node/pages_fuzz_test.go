package node_test

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/commons-p2p/commons/node/nodetest"
	"github.com/commons-p2p/commons/pkg/config"
)

// pagePaths are the prefixes of the design pages' routes; the fuzzer
// supplies what follows.
var pagePaths = []string{"/", "/search", "/bundles/", "/diff", "/bundles/brick-press/", "/healthz"}

// FuzzPagesRequest sends arbitrary paths and query strings to the design
// pages of a real node holding a bundle built to attack them and the demo
// bundle. The pages must never panic or fail with a server error other
// than 504 (content not retrieved in time), and no page they render may
// carry markup that runs script, whatever the request says.
func FuzzPagesRequest(f *testing.F) {
	// A node with no peers: what it lacks is not found within a second,
	// not the default's minutes.
	nw := nodetest.New(f, 1, nodetest.Options{Gateway: true, Settings: func(_ int, s *config.Config) {
		s.Gateway.RetrievalTimeout = config.Duration(time.Second)
		s.Fetch.Timeout = config.Duration(time.Second)
	}})
	n := nw.Nodes[0]
	evil := publishDir(f, n.Node, hostileFolder(f)).CID.String()
	demo := publishDir(f, n.Node, demoFolder(f)).CID.String()
	h := n.GatewayHandler()
	for _, seed := range []struct {
		prefix    uint8
		rest, qry string
	}{
		{0, "", ""},
		{1, "", "q=press"},
		{1, "", "q=%3Cscript%3E&license=CERN-OHL-S-2.0&kind=product-design"},
		{2, "@evil/", ""},
		{2, "@demo/", "file=instructions.md"},
		{2, "evil-press/", ""},
		{2, "@demo.zip", ""},
		{2, "brick-press.zip", "v=1"},
		{3, "", "old=@demo&new=@evil"},
		{3, "", "old=brick-press&new=..%2F..%2Fetc"},
		{4, "", ""},
		{5, "", ""},
	} {
		f.Add(seed.prefix, seed.rest, seed.qry)
	}
	// Seeds name the bundles @evil and @demo: their CIDs differ in every
	// process (each signs with its own key), and the fuzzer's workers
	// replay seeds in their own processes.
	cids := strings.NewReplacer("@evil", evil, "@demo", demo)
	f.Fuzz(func(t *testing.T, prefix uint8, rest, query string) {
		rest, query = cids.Replace(rest), cids.Replace(query)
		target := (&url.URL{Path: pagePaths[int(prefix)%len(pagePaths)] + rest, RawQuery: query}).RequestURI()
		if _, err := url.ParseRequestURI(target); err != nil || strings.Contains(target, " ") {
			return // net/http's server answers these 400 itself
		}
		req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, target, nil)
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		switch {
		case w.Code >= 500 && w.Code != http.StatusGatewayTimeout:
			t.Fatalf("GET %s: status %d: %.300s", target, w.Code, w.Body.Bytes())
		case strings.HasPrefix(w.Header().Get("Content-Type"), "text/html"):
			if bad := unsafeMarkup(t, w.Body.Bytes()); len(bad) > 0 {
				t.Fatalf("GET %s: markup that runs script on the page: %q", target, bad)
			}
		}
	})
}

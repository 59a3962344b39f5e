package main

import (
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/commons-p2p/commons/gateway/api"
)

// TestE2EStats drives `commons stats` through the binary: page views and
// downloads made through a daemon's gateway are shown per version, top
// bundles first; /metrics on the API address has the same counts; after a
// clean stop the counts are read from the repo with no daemon; --top
// limits the list.
func TestE2EStats(t *testing.T) {
	t.Parallel()
	r := newRepo(t, "stats")
	d := r.start()
	press := r.publish(demoBundle(t))
	dir := filepath.Join(t.TempDir(), "cargo-bike")
	writeFiles(t, dir, map[string][]byte{
		"commons.toml":    []byte(e2eTOML),
		"instructions.md": []byte("# Build\n\n1. Cut the tubes.\n"),
	})
	bike := r.publish(dir)

	get := func(path string) {
		t.Helper()
		if code, body := httpGet(t, d.gateway+path); code != http.StatusOK {
			t.Fatalf("GET %s: %d %.200s", path, code, body)
		}
	}
	// The press: 2 views, a zip and a file; the bike: 3 views, nothing downloaded.
	get("/bundles/" + press.CID.String() + "/")
	get("/bundles/" + press.CID.String() + "/")
	get("/bundles/" + press.CID.String() + ".zip")
	get("/ipfs/" + press.CID.String() + "/bom.csv?download=true&filename=bom.csv")
	for range 3 {
		get("/bundles/" + bike.CID.String() + "/")
	}

	check := func(st api.Stats, when string) {
		t.Helper()
		if len(st.Bundles) != 2 {
			t.Fatalf("%s: %d bundles in stats, want 2: %+v", when, len(st.Bundles), st)
		}
		p, b := st.Bundles[0], st.Bundles[1]
		if p.Name != "brick-press" || p.Views != 2 || p.Downloads != 2 || len(p.Versions) != 1 ||
			p.Versions[0].Downloads != (api.DownloadCounts{Zip: 1, File: 1}) || !p.Versions[0].CID.Equals(press.CID) {
			t.Errorf("%s: first bundle %+v, want brick-press with 2 views, a zip and a file", when, p)
		}
		if b.Name != "cargo-bike" || b.Views != 3 || b.Downloads != 0 || b.Publisher != r.peerID {
			t.Errorf("%s: second bundle %+v, want cargo-bike with 3 views", when, b)
		}
	}
	check(decode[api.Stats](t, r.ok("stats", "--json")), "through the daemon")

	out := r.ok("stats").stdout
	for _, want := range []string{"BUNDLE", "brick-press", "cargo-bike", press.CID.String(), "version 1"} {
		if !strings.Contains(out, want) {
			t.Errorf("stats output lacks %q:\n%s", want, out)
		}
	}
	if strings.Index(out, "brick-press") > strings.Index(out, "cargo-bike") {
		t.Errorf("the most downloaded bundle is not first:\n%s", out)
	}
	top := decode[api.Stats](t, r.ok("stats", "--json", "--top", "1"))
	if len(top.Bundles) != 1 || top.Bundles[0].Name != "brick-press" {
		t.Errorf("--top 1: %+v", top)
	}
	mustFail(t, r.run("stats", "--top", "-1"), 2, "--top")

	code, body := httpGet(t, d.api+api.MetricsPath)
	if code != http.StatusOK || !strings.Contains(string(body), `commons_bundle_page_views_total{bundle="cargo-bike",publisher="`+r.peerID+`",sequence="1"} 3`) {
		t.Errorf("/metrics: %d, no page views of cargo-bike:\n%.3000s", code, body)
	}

	// The counts were written to the repo: with no daemon they are still there.
	if c := d.stop(); c != 0 {
		t.Fatalf("daemon exit code %d", c)
	}
	check(decode[api.Stats](t, r.ok("stats", "--json")), "from the repo after a stop")

}

package node_test

import (
	"archive/zip"
	"bytes"
	"context"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/html"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/node"
	"github.com/commons-p2p/commons/node/nodetest"
	"github.com/commons-p2p/commons/pkg/folder"
)

// Hostile content: every way a design could try to run script on the
// pages' origin. Each script sets a marker that the browser test looks for.
const (
	hostileTitle = `Evil <script>window.__pwned="title"</script> press`
	hostileHTML  = `<!DOCTYPE html><title>evil</title><script>document.title="pwned";try{opener.__pwned="html"}catch(e){}</script><h1>evil page</h1>`
	hostileSVG   = `<svg xmlns="http://www.w3.org/2000/svg" width="40" height="40"><script>document.title="pwned";try{parent.__pwned="svg"}catch(e){}</script><rect width="40" height="40" fill="red"/></svg>`
	hostileName  = `"><img src=x onerror=window.__pwned=1>.txt`
	hostileMD    = "# Evil instructions\n\nA marker word: xylophone.\n\n" +
		"<script>window.__pwned='md'</script>\n\n<img src=x onerror=\"window.__pwned='img'\">\n\n" +
		"[click me](javascript:window.__pwned='js')\n\n![the SVG](evil.svg)\n\n[the page](evil.html)\n\n" +
		"<a href=\"javascript:window.__pwned='a'\">raw link</a> <iframe src=\"evil.html\"></iframe>\n"
	hostileTOML = `name = "evil-press"
title = 'Evil <script>window.__pwned="title"</script> press'
summary = "<img src=x onerror=window.__pwned='summary'>"
tags = ["<b>bold</b>"]
instructions = "instructions.md"
[licenses]
hardware = "CERN-OHL-S-2.0"
software = "MIT"
documentation = "CC-BY-4.0"
[[authors]]
name = "<script>window.__pwned='author'</script>"
contact = "javascript:window.__pwned='contact'"
`
)

// hostileFolder writes a design folder full of hostile content.
func hostileFolder(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "evil-press")
	nodetest.WriteTree(t, dir, map[string]string{
		"commons.toml":    hostileTOML,
		"instructions.md": hostileMD,
		"evil.html":       hostileHTML,
		"evil.svg":        hostileSVG,
		hostileName:       "a file whose name is markup",
		"bom.csv":         "part,qty,unit cost,currency\n\"<script>window.__pwned='bom'</script>\",1,2.50,EUR\n",
	})
	return dir
}

// demoFolder copies the demo bundle into a temporary folder.
func demoFolder(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "brick-press")
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("..", "testdata", "demo", "brick-press"))); err != nil {
		t.Fatal(err)
	}
	return dir
}

func publishDir(t testing.TB, n api.Service, dir string) api.PublishResult {
	t.Helper()
	fn, _, err := folder.Open(dir, folder.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	res, err := n.Publish(context.Background(), fn, api.PublishOptions{Name: filepath.Base(dir)}, nil)
	if err != nil {
		t.Fatalf("publish %s: %v", dir, err)
	}
	return res
}

// fetch GETs u, with Host host when not empty, without following
// redirects.
func fetch(t testing.TB, u, host string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	client := &http.Client{Timeout: 60 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res, body
}

// unsafeMarkup lists what on a page could run script: script, frame and
// plugin elements, event handler and style attributes, javascript: URLs.
func unsafeMarkup(t *testing.T, body []byte) []string {
	t.Helper()
	doc, err := html.Parse(bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	var bad []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script", "iframe", "object", "embed", "base", "svg", "style":
				bad = append(bad, "<"+n.Data+">")
			}
			for _, a := range n.Attr {
				v := strings.ToLower(strings.TrimSpace(a.Val))
				if strings.HasPrefix(a.Key, "on") || a.Key == "style" || strings.HasPrefix(v, "javascript:") || strings.HasPrefix(v, "data:") {
					bad = append(bad, n.Data+" "+a.Key+"="+a.Val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	return bad
}

// TestPagesHostileBundle publishes a bundle built to attack the pages
// through a real node and reads it through the node's real gateway: no
// script reaches a page, the design's HTML and SVG are served sandboxed on
// the pages' origin and on their own origin through the subdomain gateway,
// and a file name with markup stays text.
func TestPagesHostileBundle(t *testing.T) {
	nw := nodetest.New(t, 1, nodetest.Options{Gateway: true})
	n := nw.Nodes[0]
	res := publishDir(t, n.Node, hostileFolder(t))
	base := n.GatewayURL()
	root := res.CID.String()

	r, body := fetch(t, base+"/bundles/"+root+"/", "")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("bundle page: %d\n%s", r.StatusCode, body)
	}
	csp := r.Header.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'none'", "script-src 'none'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'", "img-src 'self';"} {
		if !strings.Contains(csp, d) {
			t.Errorf("bundle page CSP %q lacks %q", csp, d)
		}
	}
	if r.Header.Get("X-Content-Type-Options") != "nosniff" || r.Header.Get("Referrer-Policy") == "" {
		t.Errorf("bundle page headers %v", r.Header)
	}
	if bad := unsafeMarkup(t, body); len(bad) > 0 {
		t.Errorf("hostile markup reached the bundle page: %q", bad)
	}
	for _, want := range []string{
		"Evil &lt;script&gt;window.__pwned=&#34;title&#34;&lt;/script&gt; press", // title, escaped
		"xylophone", // the instructions rendered
		`<img src="/ipfs/` + root + `/evil.svg" alt="the SVG">`,                     // SVG only as an image
		`href="/ipfs/` + root + `/evil.html"`,                                       // the HTML only as a link to the gateway
		"&#34;&gt;&lt;img src=x onerror=window.__pwned=1&gt;.txt",                   // the file name, as text
		"/ipfs/" + root + "/%22%3E%3Cimg%20src=x%20onerror=window.__pwned=1%3E.txt", // and as a link
		"2.50 EUR",
	} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("bundle page lacks %s", want)
		}
	}

	// The design's active files, on the pages' origin (an IP address):
	// sandboxed, so their scripts do not run there.
	for _, p := range []string{"evil.html", "evil.svg", url.PathEscape(hostileName)} {
		r, body := fetch(t, base+"/ipfs/"+root+"/"+p, "")
		if r.StatusCode != http.StatusOK || len(body) == 0 {
			t.Errorf("%s: status %d", p, r.StatusCode)
		}
		if got := r.Header.Get("Content-Security-Policy"); got != "sandbox" {
			t.Errorf("%s on the pages' origin: Content-Security-Policy %q, want sandbox", p, got)
		}
	}

	// Reached by name, the pages link content to its own origin.
	port := base[strings.LastIndex(base, ":"):]
	host := "localhost" + port
	r, body = fetch(t, base+"/bundles/"+root+"/", host)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("bundle page on %s: %d", host, r.StatusCode)
	}
	own := "http://" + root + ".ipfs." + host + "/evil.html"
	if !bytes.Contains(body, []byte(`href="`+own+`"`)) {
		t.Errorf("on %s the HTML file is not linked on its own origin %s", host, own)
	}
	if bad := unsafeMarkup(t, body); len(bad) > 0 {
		t.Errorf("hostile markup reached the page on %s: %q", host, bad)
	}
	r, body = fetch(t, base+"/evil.html", root+".ipfs."+host)
	if r.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("evil page")) {
		t.Errorf("subdomain gateway: %d %q", r.StatusCode, body)
	}

	// The zip holds the file with the markup name, inside its folder.
	r, body = fetch(t, base+"/bundles/"+root+".zip", "")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("zip: %d %s", r.StatusCode, body)
	}
	zr, err := zip.NewReader(bytes.NewReader(body), int64(len(body)))
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range zr.File {
		names = append(names, f.Name)
	}
	if !strings.Contains(strings.Join(names, "\n"), "evil-press-v1/"+hostileName) || !strings.Contains(strings.Join(names, "\n"), "evil-press-v1/.commons/bundle.cbor") {
		t.Errorf("zip entries %q", names)
	}

	// The search finds it by its instructions, and shows its title as text.
	waitSearch(t, n.Node, "xylophone", root)
	r, body = fetch(t, base+"/search?q=xylophone", "")
	if r.StatusCode != http.StatusOK || !bytes.Contains(body, []byte("/bundles/"+root+"/")) {
		t.Errorf("search page: %d", r.StatusCode)
	}
	if bad := unsafeMarkup(t, body); len(bad) > 0 {
		t.Errorf("hostile markup reached the search page: %q", bad)
	}
}

// waitSearch polls the node's search until query finds the version id.
func waitSearch(t testing.TB, n *node.Node, query, id string) {
	t.Helper()
	nodetest.Eventually(t, 30*time.Second, func() bool {
		hits, err := n.Search(context.Background(), query, 20)
		if err != nil {
			t.Fatalf("search %q: %v", query, err)
		}
		for _, h := range hits {
			if h.ID == id {
				return true
			}
		}
		return false
	}, "the search index to find "+id+" by "+query)
}

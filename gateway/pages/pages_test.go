package pages

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/net/html"

	"github.com/commons-p2p/commons/gateway/api"
)

func newServer(t testing.TB, d Designs) *httptest.Server {
	t.Helper()
	h, err := New(Config{Hostnames: []string{"localhost"}}, d)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

type response struct {
	*http.Response
	body []byte
}

// get requests target from srv with an optional Host and headers.
func get(t testing.TB, srv *httptest.Server, target, host string, hdr ...string) response {
	t.Helper()
	req, err := http.NewRequestWithContext(t.Context(), http.MethodGet, srv.URL+target, nil)
	if err != nil {
		t.Fatal(err)
	}
	if host != "" {
		req.Host = host
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", target, err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{res, body}
}

const wantCSP = "default-src 'none'; script-src 'none'; object-src 'none'; style-src 'self'; img-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

// checkPage checks the headers every page has, and that the page is safe
// HTML: no script, no event handler, no plugin or frame, no style
// attribute, no javascript: or data: URL, whatever the design held.
func checkPage(t *testing.T, r response, status int) *html.Node {
	t.Helper()
	if r.StatusCode != status {
		t.Fatalf("%s: status %d, want %d; body:\n%s", r.Request.URL, r.StatusCode, status, r.body)
	}
	want := map[string]string{
		"Content-Type":               "text/html; charset=utf-8",
		"X-Content-Type-Options":     "nosniff",
		"Referrer-Policy":            "no-referrer",
		"Cache-Control":              "no-cache",
		"Cross-Origin-Opener-Policy": "same-origin",
	}
	for k, v := range want {
		if got := r.Header.Get(k); got != v {
			t.Errorf("%s: %s %q, want %q", r.Request.URL, k, got, v)
		}
	}
	csp := r.Header.Get("Content-Security-Policy")
	for _, d := range []string{"default-src 'none'", "script-src 'none'", "object-src 'none'", "base-uri 'none'", "frame-ancestors 'none'"} {
		if !strings.Contains(csp, d) {
			t.Errorf("%s: Content-Security-Policy %q lacks %q", r.Request.URL, csp, d)
		}
	}
	doc, err := html.Parse(bytes.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode {
			switch n.Data {
			case "script", "iframe", "object", "embed", "base", "frame", "style", "svg", "math":
				t.Errorf("%s: <%s> element on the page", r.Request.URL, n.Data)
			}
			for _, a := range n.Attr {
				v := strings.ToLower(strings.TrimSpace(a.Val))
				switch {
				case strings.HasPrefix(a.Key, "on"):
					t.Errorf("%s: event handler %s=%q on <%s>", r.Request.URL, a.Key, a.Val, n.Data)
				case a.Key == "style":
					t.Errorf("%s: style attribute on <%s>", r.Request.URL, n.Data)
				case (a.Key == "href" || a.Key == "src" || a.Key == "action") && (strings.HasPrefix(v, "javascript:") || strings.HasPrefix(v, "data:") || strings.HasPrefix(v, "vbscript:")):
					t.Errorf("%s: %s=%q on <%s>", r.Request.URL, a.Key, a.Val, n.Data)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(doc)
	if !bytes.Contains(r.body, []byte(`<meta name="viewport" content="width=device-width, initial-scale=1">`)) {
		t.Errorf("%s: no viewport", r.Request.URL)
	}
	if !bytes.Contains(r.body, []byte(`<html lang="en">`)) {
		t.Errorf("%s: no language", r.Request.URL)
	}
	return doc
}

// text returns the text of the page (what a reader sees), tags removed.
func textOf(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return b.String()
}

// attrs returns the values of attribute key on every <tag> element.
func attrs(n *html.Node, tag, key string) []string {
	var out []string
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.ElementNode && n.Data == tag {
			for _, a := range n.Attr {
				if a.Key == key {
					out = append(out, a.Val)
				}
			}
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	walk(n)
	return out
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func TestHome(t *testing.T) {
	f := newFixture(t)
	srv := newServer(t, f.d)
	r := get(t, srv, "/", "")
	doc := checkPage(t, r, http.StatusOK)
	if csp := r.Header.Get("Content-Security-Policy"); csp != wantCSP {
		t.Errorf("CSP on an IP host\n got %q\nwant %q", csp, wantCSP)
	}
	txt := textOf(doc)
	for _, want := range []string{"Our workshop " + hostile, "this node's library", "followed: latest", "Nothing received from this library yet",
		"Brick press " + hostile, "lib summary", "hardware: CERN-OHL-S-2.0", "software: GPL-3.0-or-later", "documentation: none",
		"Open source", "Not open source", "My press", "plain " + hostile, "updated 2026-11-21 12:00 UTC"} {
		if !strings.Contains(txt, want) {
			t.Errorf("home page lacks %q", want)
		}
	}
	hrefs := attrs(doc, "a", "href")
	for _, want := range []string{"/bundles/" + f.v2.String() + "/", "/bundles/" + f.fork.String() + "/", "/ipfs/" + testCID(t, "plain").String() + "/"} {
		if !contains(hrefs, want) {
			t.Errorf("home page has no link to %s: %q", want, hrefs)
		}
	}
	if n := strings.Count(txt, f.v1.String()); n != 0 {
		t.Errorf("direct pin listed among pinned roots")
	}
	if got := attrs(doc, "link", "href"); len(got) != 1 || !strings.HasPrefix(got[0], "/static/style.") {
		t.Errorf("stylesheet links %q", got)
	}
	if got := attrs(doc, "input", "id"); !contains(got, "q") || !contains(attrs(doc, "label", "for"), "q") {
		t.Error("search box without a label")
	}

	// Revalidation: the same page has the same ETag and costs a 304.
	etag := r.Header.Get("ETag")
	if etag == "" {
		t.Fatal("no ETag")
	}
	if r2 := get(t, srv, "/", "", "If-None-Match", etag); r2.StatusCode != http.StatusNotModified || len(r2.body) != 0 {
		t.Errorf("If-None-Match: status %d, %d bytes", r2.StatusCode, len(r2.body))
	}

	t.Run("failing lists", func(t *testing.T) {
		f := newFixture(t)
		f.d.fail = errors.New("store <b>on fire</b>")
		r := get(t, newServer(t, f.d), "/", "")
		doc := checkPage(t, r, http.StatusOK)
		if txt := textOf(doc); !strings.Contains(txt, "cannot be listed: store <b>on fire</b>") {
			t.Errorf("errors not shown in place (escaped):\n%s", txt)
		}
	})
	t.Run("empty node", func(t *testing.T) {
		r := get(t, newServer(t, &fakeDesigns{}), "/", "")
		txt := textOf(checkPage(t, r, http.StatusOK))
		for _, want := range []string{"No libraries yet", "holds no designs yet", "Nothing pinned"} {
			if !strings.Contains(txt, want) {
				t.Errorf("empty home lacks %q", want)
			}
		}
	})
}

func TestSearchPage(t *testing.T) {
	f := newFixture(t)
	srv := newServer(t, f.d)
	r := get(t, srv, "/search?q=mould", "")
	doc := checkPage(t, r, http.StatusOK)
	if !bytes.Contains(r.body, []byte("weld the <mark>mould</mark> &lt;script&gt;")) {
		t.Errorf("snippet not marked and escaped:\n%s", r.body)
	}
	if !contains(attrs(doc, "a", "href"), "/bundles/"+f.v2.String()+"/") {
		t.Error("no link to the hit")
	}
	if got := attrs(doc, "input", "value"); !contains(got, "mould") {
		t.Errorf("search box does not keep the query: %q", got)
	}
	for q, want := range map[string]string{"": "Type words", "--": "nothing to search for", `<script>x</script>`: "Designs matching"} {
		r := get(t, srv, "/search?q="+strings.ReplaceAll(q, " ", "+"), "")
		if txt := textOf(checkPage(t, r, http.StatusOK)); !strings.Contains(txt, want) {
			t.Errorf("q=%q: page lacks %q", q, want)
		}
	}
	checkPage(t, get(t, srv, "/search?q="+strings.Repeat("a", 1001), ""), http.StatusBadRequest)
	f.d.fail = errors.New("index broken")
	checkPage(t, get(t, srv, "/search?q=x", ""), http.StatusInternalServerError)
}

func TestBundlePage(t *testing.T) {
	f := newFixture(t)
	srv := newServer(t, f.d)
	v2 := f.v2.String()
	r := get(t, srv, "/bundles/"+v2+"/", "")
	doc := checkPage(t, r, http.StatusOK)
	txt := textOf(doc)
	for _, want := range []string{
		"Brick press " + hostile, "version 1.1", "Open source", "hardware: CERN-OHL-S-2.0", "documentation: none",
		"Ada " + hostile, "Bo", "javascript:alert(3)", // the bad contact is text, not a link
		"stronger lever " + hostile, "12.1 KiB",
		"Total (USD)", "34.00 USD", "tube " + hostile, "1 of 3 lines have no cost", "30.40 USD", "Steel & Co", "T-1", "colour", "red",
		"frame welded " + hostile, "2026-11-20 10:00 UTC", "0002-notes.txt",
		"#1 · 1.0", "(this version)", "1 added, 0 removed, 2 changed",
		"My press", "An original design",
		`"><img src=x onerror=alert(6)>.txt`,
	} {
		if !strings.Contains(txt, want) {
			t.Errorf("bundle page lacks %q", want)
		}
	}
	// Instructions: headings moved below the page's, raw HTML and the
	// javascript: link gone, relative paths resolved into the bundle on
	// the path gateway (this request came by IP), remote images as links.
	if !bytes.Contains(r.body, []byte("<h3>Build</h3>")) {
		t.Error("instructions heading not shifted to h3")
	}
	for _, bad := range []string{"alert('md')", "alert('img')", "alert('js')", "tracker.example/pixel.png\""} {
		if bytes.Contains(r.body, []byte(bad)) && !strings.Contains(bad, "tracker") {
			t.Errorf("instructions kept %q", bad)
		}
	}
	imgs := attrs(doc, "img", "src")
	for _, want := range []string{"/ipfs/" + v2 + "/images/side.svg", "/ipfs/" + v2 + "/.commons/log/0001-frame.jpg"} {
		if !contains(imgs, want) {
			t.Errorf("no <img src=%s>: %q", want, imgs)
		}
	}
	for _, src := range imgs {
		if strings.Contains(src, "tracker.example") {
			t.Errorf("remote image loaded: %s", src)
		}
	}
	for _, alt := range attrs(doc, "img", "alt") {
		if alt == "" {
			t.Error("image without alt text")
		}
	}
	hrefs := attrs(doc, "a", "href")
	for _, want := range []string{
		"/ipfs/" + v2 + "/cad/frame.scad", "https://tracker.example/pixel.png", "https://example.org/ada", "mailto:bo@example.org",
		"/ipfs/" + v2 + "/%22%3E%3Cimg%20src=x%20onerror=alert%286%29%3E.txt",
		"/ipfs/" + v2 + "/cad/frame.scad?download=true&filename=frame.scad",
		"/bundles/" + v2 + ".zip", "/bundles/" + v2 + ".car", "/bundles/" + f.v1.String() + "/",
		"/diff?old=" + f.v1.String() + "&new=" + v2, "/bundles/" + f.fork.String() + "/", "https://example.org/bolt",
	} {
		if !contains(hrefs, want) {
			t.Errorf("no link to %s", want)
		}
	}
	if got := attrs(doc, "option", "value"); len(got) != 4 {
		t.Errorf("diff form options %q, want the 2 versions twice", got)
	}

	t.Run("subdomain links", func(t *testing.T) {
		host := "localhost" + srv.URL[strings.LastIndex(srv.URL, ":"):]
		r := get(t, srv, "/bundles/"+v2+"/", host)
		doc := checkPage(t, r, http.StatusOK)
		base := "http://" + v2 + ".ipfs." + host + "/"
		if !contains(attrs(doc, "img", "src"), base+"images/side.svg") {
			t.Errorf("images not on the subdomain origin: %q", attrs(doc, "img", "src"))
		}
		if !contains(attrs(doc, "a", "href"), base+"cad/frame.scad") {
			t.Error("files not linked on the subdomain origin")
		}
		want := "img-src 'self' http://*.ipfs." + host + ";"
		if csp := r.Header.Get("Content-Security-Policy"); !strings.Contains(csp, want) {
			t.Errorf("CSP %q lacks %q", csp, want)
		}
	})

	t.Run("old version", func(t *testing.T) {
		r := get(t, srv, "/bundles/"+f.v1.String()+"/", "")
		txt := textOf(checkPage(t, r, http.StatusOK))
		if !strings.Contains(txt, "not the newest version") || !contains(attrs(mustParse(t, r.body), "a", "href"), "/bundles/"+v2+"/") {
			t.Error("old version does not point at the newest")
		}
	})
	t.Run("by name", func(t *testing.T) {
		r := get(t, srv, "/bundles/brick-press/", "")
		if r.StatusCode != http.StatusFound || r.Header.Get("Location") != "/bundles/"+v2+"/" {
			t.Errorf("by name: %d to %q", r.StatusCode, r.Header.Get("Location"))
		}
		if r := get(t, srv, "/bundles/"+v2, ""); r.StatusCode != http.StatusMovedPermanently || r.Header.Get("Location") != "/bundles/"+v2+"/" {
			t.Errorf("without slash: %d to %q", r.StatusCode, r.Header.Get("Location"))
		}
	})
	t.Run("errors", func(t *testing.T) {
		r := get(t, srv, "/bundles/"+testCID(t, "absent").String()+"/", "")
		checkPage(t, r, http.StatusNotFound)
		plain := testCID(t, "plain").String()
		r = get(t, srv, "/bundles/"+plain+"/", "")
		doc := checkPage(t, r, http.StatusBadRequest)
		if !contains(attrs(doc, "a", "href"), "/ipfs/"+plain+"/") {
			t.Error("plain content: no link to the gateway")
		}
		checkPage(t, get(t, srv, "/nowhere", ""), http.StatusNotFound)
	})
}

func mustParse(t *testing.T, b []byte) *html.Node {
	doc, err := html.Parse(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestDiffPage(t *testing.T) {
	f := newFixture(t)
	srv := newServer(t, f.d)
	r := get(t, srv, "/diff?old="+f.v1.String()+"&new="+f.v2.String(), "")
	doc := checkPage(t, r, http.StatusOK)
	txt := textOf(doc)
	for _, want := range []string{"Changes from #1 to #2", "2.0 KiB in 3 blocks", "bom.csv", "changed", hostile, "added",
		`version: "1.0" -> "1.1"`, "+new line " + hostile, "-old line", "paint × 1 l", "tube (quantity): tube × 3 m at 9.5 USD → tube × 3.2 m at 9.5 USD",
		"Before: 32.1 USD", "After: 34.0 USD (lines without a cost: 1)"} {
		if !strings.Contains(txt, want) {
			t.Errorf("diff page lacks %q", want)
		}
	}
	if !bytes.Contains(r.body, []byte(`<span class="add">&#43;new line &lt;script&gt;`)) {
		t.Error("added line not marked")
	}
	checkPage(t, get(t, srv, "/diff?old="+f.v1.String(), ""), http.StatusBadRequest)
	checkPage(t, get(t, srv, "/diff?old=a&new=b", ""), http.StatusNotFound)
}

func TestZip(t *testing.T) {
	f := newFixture(t)
	srv := newServer(t, f.d)
	r := get(t, srv, "/bundles/"+f.v2.String()+".zip", "")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", r.StatusCode, r.body)
	}
	for k, v := range map[string]string{
		"Content-Type":        "application/zip",
		"Content-Disposition": `attachment; filename="brick-press-v2.zip"`,
		"Cache-Control":       "public, max-age=31536000, immutable",
	} {
		if got := r.Header.Get(k); got != v {
			t.Errorf("%s %q, want %q", k, got, v)
		}
	}
	zr, err := zip.NewReader(bytes.NewReader(r.body), int64(len(r.body)))
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, zf := range zr.File {
		if strings.Contains(zf.Name, "..") || strings.HasPrefix(zf.Name, "/") || !strings.HasPrefix(zf.Name, "brick-press-v2/") {
			t.Errorf("unsafe name %q", zf.Name)
		}
		if zf.FileInfo().IsDir() {
			continue
		}
		rc, err := zf.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		got[zf.Name] = string(b)
	}
	base := "/ipfs/" + f.v2.String() + "/"
	for k, v := range f.d.files {
		if rel, ok := strings.CutPrefix(k, base); ok {
			if got["brick-press-v2/"+rel] != string(v) {
				t.Errorf("zip entry %s = %q, want %q", rel, got["brick-press-v2/"+rel], v)
			}
		}
	}

	// A name that would leave the folder is never written.
	f.d.files[base+"../escape.txt"] = []byte("x")
	f.d.files[base+"sub/..\\x"] = []byte("y")
	r = get(t, srv, "/bundles/"+f.v2.String()+".zip", "")
	zr, err = zip.NewReader(bytes.NewReader(r.body), int64(len(r.body)))
	if err != nil {
		t.Fatal(err)
	}
	for _, zf := range zr.File {
		if strings.Contains(zf.Name, "..") {
			t.Errorf("unsafe name %q written", zf.Name)
		}
	}

	checkPage(t, get(t, srv, "/bundles/"+testCID(t, "absent").String()+".zip", ""), http.StatusNotFound)
	checkPage(t, get(t, srv, "/bundles/notacid.zip", ""), http.StatusBadRequest)
}

func TestCAR(t *testing.T) {
	f := newFixture(t)
	srv := newServer(t, f.d)
	r := get(t, srv, "/bundles/"+f.v2.String()+".car", "")
	if r.StatusCode != http.StatusOK || string(r.body) != "CAR bytes" {
		t.Fatalf("status %d body %q", r.StatusCode, r.body)
	}
	if ct, cd := r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"); ct != "application/vnd.ipld.car; version=1" || cd != `attachment; filename="brick-press-v2.car"` {
		t.Errorf("Content-Type %q, Content-Disposition %q", ct, cd)
	}
	f.d.carErr = fmt.Errorf("export: %w", api.ErrNotFound)
	r = get(t, srv, "/bundles/"+f.v2.String()+".car", "")
	checkPage(t, r, http.StatusNotFound)
	if r.Header.Get("Content-Disposition") != "" {
		t.Error("error page sent as an attachment")
	}
}

func TestStylesheet(t *testing.T) {
	f := newFixture(t)
	srv := newServer(t, f.d)
	doc := mustParse(t, get(t, srv, "/", "").body)
	href := attrs(doc, "link", "href")[0]
	r := get(t, srv, href, "")
	if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "text/css; charset=utf-8" ||
		r.Header.Get("Cache-Control") != "public, max-age=31536000, immutable" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
		t.Errorf("stylesheet: %d %v", r.StatusCode, r.Header)
	}
	if len(r.body) > 8<<10 {
		t.Errorf("stylesheet is %d bytes; keep it small", len(r.body))
	}
	if r := get(t, srv, "/static/style.css", ""); r.StatusCode != http.StatusNotFound {
		t.Errorf("unhashed stylesheet name: %d", r.StatusCode)
	}
}

func TestFormatSize(t *testing.T) {
	for _, tt := range []struct {
		n    int64
		want string
	}{
		{-1, "size unknown"}, {0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {1536, "1.5 KiB"}, {5 << 20, "5.0 MiB"}, {1 << 62, "4.0 EiB"},
	} {
		if got := formatSize(tt.n); got != tt.want {
			t.Errorf("formatSize(%d) = %q, want %q", tt.n, got, tt.want)
		}
	}
}

func TestSafeName(t *testing.T) {
	for in, want := range map[string]string{"brick-press-v2": "brick-press-v2", "../../etc": "_.._etc", `a"b\c`: "a_b_c", "": "bundle", "...": "bundle"} {
		if got := safeName(in); got != want {
			t.Errorf("safeName(%q) = %q, want %q", in, got, want)
		}
	}
}

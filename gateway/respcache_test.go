package gateway

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ipfs/go-cid"
)

// TestResponseCacheAnswersAlike: through the real gateway, a directory
// listing or a small file answered again (from the cache) is the first
// answer: status, body and every header but Date, for two hosts and with
// the queries that change a file's headers. A conditional request still
// gets boxo's 304, and once the directory's or the file's block is gone
// the response is no longer served from memory.
func TestResponseCacheAnswersAlike(t *testing.T) {
	f := newFixture(t)
	srv := newTestServer(t, f, nil, Config{}, nil, nil)
	dir := "/ipfs/" + f.dir.String()
	for _, target := range []string{dir + "/", dir + "/sub/", dir + "/readme.txt", dir + "/parts.csv?filename=bom.csv&download=true", dir + "/sub/notes.md"} {
		for _, host := range []string{"", "example.org"} {
			first, body1 := do(t, srv, http.MethodGet, target, nil, host)
			if first.StatusCode != http.StatusOK {
				t.Fatalf("GET %s: %d", target, first.StatusCode)
			}
			again, body2 := do(t, srv, http.MethodGet, target, nil, host)
			if again.StatusCode != first.StatusCode || !bytes.Equal(body1, body2) {
				t.Errorf("GET %s (host %q): %d, %d bytes the first time; %d, %d bytes again", target, host, first.StatusCode, len(body1), again.StatusCode, len(body2))
			}
			first.Header.Del("Date")
			again.Header.Del("Date")
			if a, b := fmt.Sprint(first.Header), fmt.Sprint(again.Header); a != b {
				t.Errorf("GET %s (host %q): headers differ:\nfirst %s\nagain %s", target, host, a, b)
			}
			cond, _ := do(t, srv, http.MethodGet, target, http.Header{"If-None-Match": {first.Header.Get("Etag")}}, host)
			if cond.StatusCode != http.StatusNotModified {
				t.Errorf("GET %s with If-None-Match: %d, want 304", target, cond.StatusCode)
			}
		}
	}
	if res, body := do(t, srv, http.MethodGet, dir+"/readme.txt", nil, ""); !bytes.Equal(body, f.readme) {
		t.Errorf("GET readme.txt again: %d, %q, want %q", res.StatusCode, body, f.readme)
	}

	// The listing of sub/ and the file notes.md are cached; their blocks
	// go away.
	for _, target := range []string{dir + "/sub/", dir + "/sub/notes.md"} {
		res, _ := do(t, srv, http.MethodGet, target, nil, "")
		roots := strings.Split(res.Header.Get("X-Ipfs-Roots"), ",")
		last, err := cid.Decode(roots[len(roots)-1])
		if err != nil {
			t.Fatalf("X-Ipfs-Roots %q: %v", res.Header.Get("X-Ipfs-Roots"), err)
		}
		if err := f.bstore.DeleteBlock(context.Background(), last); err != nil {
			t.Fatal(err)
		}
		if res, body := do(t, srv, http.MethodGet, target, nil, ""); res.StatusCode == http.StatusOK {
			t.Errorf("GET %s after its block was deleted: 200 (%d bytes), served from memory", target, len(body))
		}
	}
}

// TestResponseCacheRules drives the cache with a handler that renders a
// numbered listing or file: what is answered from the cache, what goes to the
// handler, and that the budget holds.
func TestResponseCacheRules(t *testing.T) {
	dir, err := cid.Decode("bafybeihx75nc655rvbyklpegeg3mgyyxgmg4l5rqfdwryxcx3pgbkwneqe")
	if err != nil {
		t.Fatal(err)
	}
	var renders atomic.Int64
	size := 1000
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := renders.Add(1)
		file := func(etag string, length int, body string) {
			w.Header().Set("Etag", etag)
			if length >= 0 {
				w.Header().Set("Content-Length", fmt.Sprint(length))
			}
			fmt.Fprint(w, body)
		}
		body := fmt.Sprintf("file %d", n)
		switch path.Base(r.URL.Path) {
		case "small": // a whole small file: kept
			file(`"`+dir.String()+`"`, len(body), body)
			return
		case "unsized": // no length to check the body against
			file(`"`+dir.String()+`"`, -1, body)
			return
		case "big": // above the file limit (an eighth of the budget here)
			big := body + strings.Repeat("y", size*2)
			file(`"`+dir.String()+`"`, len(big), big)
			return
		case "raw": // a raw block, not the file
			file(`"`+dir.String()+`.raw"`, len(body), body)
			return
		case "short": // cut short of its length
			file(`"`+dir.String()+`"`, len(body)+10, body)
			return
		}
		w.Header().Set("Etag", `"DirIndex-abc_CID-`+dir.String()+`"`)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, "listing %d of %s%s %s", n, r.Host, r.URL.Path, strings.Repeat("x", size))
	})
	stored := true
	c := newResponseCache(8*(size+200), func(context.Context, cid.Cid) bool { return stored })
	h := c.wrap(next)
	get := func(method, path, host string, header http.Header) string {
		t.Helper()
		r := httptest.NewRequest(method, path, nil)
		if host != "" {
			r.Host = host
		}
		for k, v := range header {
			r.Header[k] = v
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, r)
		return w.Body.String()
	}
	root := "/ipfs/" + dir.String()
	first := get(http.MethodGet, root+"/a/", "", nil)
	if again := get(http.MethodGet, root+"/a/", "", nil); again != first {
		t.Errorf("not answered from the cache: %.20q, then %.20q", first, again)
	}
	if n := renders.Load(); n != 1 {
		t.Errorf("%d renders for one listing asked twice", n)
	}
	for _, tc := range []struct {
		what           string
		method, path   string
		host           string
		header         http.Header
		renderedAgain  bool
		cachedAfterOne bool
	}{
		{"another host", http.MethodGet, root + "/a/", "other.example", nil, true, true},
		{"another query", http.MethodGet, root + "/a/?x=1", "", nil, true, true},
		{"another Accept", http.MethodGet, root + "/a/", "", http.Header{"Accept": {"text/plain"}}, true, true},
		{"HEAD", http.MethodHead, root + "/a/", "", nil, true, false},
		{"conditional", http.MethodGet, root + "/a/", "", http.Header{"If-None-Match": {`"x"`}}, true, false},
		{"range", http.MethodGet, root + "/a/", "", http.Header{"Range": {"bytes=0-10"}}, true, false},
		{"ipns", http.MethodGet, "/ipns/example.org/a/", "", nil, true, false},
		{"small file", http.MethodGet, root + "/small", "", nil, true, true},
		{"small file, another query", http.MethodGet, root + "/small?filename=a.csv", "", nil, true, true},
		{"file of unknown length", http.MethodGet, root + "/unsized", "", nil, true, false},
		{"file above the limit", http.MethodGet, root + "/big", "", nil, true, false},
		{"raw block", http.MethodGet, root + "/raw", "", nil, true, false},
		{"file cut short", http.MethodGet, root + "/short", "", nil, true, false},
		{"small file, HEAD", http.MethodHead, root + "/small", "", nil, true, false},
	} {
		before := renders.Load()
		get(tc.method, tc.path, tc.host, tc.header)
		if got := renders.Load() > before; got != tc.renderedAgain {
			t.Errorf("%s: rendered %v, want %v", tc.what, got, tc.renderedAgain)
		}
		before = renders.Load()
		get(tc.method, tc.path, tc.host, tc.header)
		if got := renders.Load() == before; got != tc.cachedAfterOne {
			t.Errorf("%s asked again: from the cache %v, want %v", tc.what, got, tc.cachedAfterOne)
		}
	}

	stored = false
	before := renders.Load()
	get(http.MethodGet, root+"/a/", "", nil)
	if renders.Load() == before {
		t.Error("answered from the cache while the directory is not stored")
	}
	stored = true

	for i := range 50 {
		get(http.MethodGet, fmt.Sprintf("%s/d%d/", root, i), "", nil)
	}
	c.mu.Lock()
	used, n := c.used, len(c.items)
	c.mu.Unlock()
	if used > c.budget || n > 8 {
		t.Errorf("%d listings, %d bytes kept; budget %d bytes", n, used, c.budget)
	}
	// The oldest went first; the newest is still answered from memory.
	before = renders.Load()
	get(http.MethodGet, root+"/d49/", "", nil)
	get(http.MethodGet, root+"/d0/", "", nil)
	if got := renders.Load() - before; got != 1 {
		t.Errorf("%d renders for the newest and the oldest listing, want 1 (the oldest)", got)
	}
}

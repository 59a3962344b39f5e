package gateway

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ipfs/go-cid"
)

// TestListingCacheAnswersAlike: through the real gateway, a directory
// listing answered again (from the cache) is the first answer: status,
// body and every header but Date. A conditional request still gets boxo's
// 304, and once the directory's block is gone the listing is no longer
// served from memory.
func TestListingCacheAnswersAlike(t *testing.T) {
	f := newFixture(t)
	srv := newTestServer(t, f, nil, Config{}, nil, nil)
	for _, target := range []string{"/ipfs/" + f.dir.String() + "/", "/ipfs/" + f.dir.String() + "/sub/"} {
		for _, host := range []string{"", "example.org"} {
			first, body1 := do(t, srv, http.MethodGet, target, nil, host)
			if first.StatusCode != http.StatusOK || !strings.HasPrefix(first.Header.Get("Etag"), `"DirIndex-`) {
				t.Fatalf("GET %s: %d, Etag %q: not a listing", target, first.StatusCode, first.Header.Get("Etag"))
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

	// The listing of sub/ is cached; its directory block goes away.
	sub := "/ipfs/" + f.dir.String() + "/sub/"
	res, _ := do(t, srv, http.MethodGet, sub, nil, "")
	roots := strings.Split(res.Header.Get("X-Ipfs-Roots"), ",")
	subCID, err := cid.Decode(roots[len(roots)-1])
	if err != nil {
		t.Fatalf("X-Ipfs-Roots %q: %v", res.Header.Get("X-Ipfs-Roots"), err)
	}
	if err := f.bstore.DeleteBlock(context.Background(), subCID); err != nil {
		t.Fatal(err)
	}
	if res, body := do(t, srv, http.MethodGet, sub, nil, ""); res.StatusCode == http.StatusOK {
		t.Errorf("GET %s after its block was deleted: 200 (%d bytes), served from memory", sub, len(body))
	}
}

// TestListingCacheRules drives the cache with a handler that renders a
// numbered listing: what is answered from the cache, what goes to the
// handler, and that the budget holds.
func TestListingCacheRules(t *testing.T) {
	dir, err := cid.Decode("bafybeihx75nc655rvbyklpegeg3mgyyxgmg4l5rqfdwryxcx3pgbkwneqe")
	if err != nil {
		t.Fatal(err)
	}
	var renders atomic.Int64
	size := 1000
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := renders.Add(1)
		if strings.HasSuffix(r.URL.Path, "/file") {
			w.Header().Set("Etag", `"`+dir.String()+`"`)
			fmt.Fprintf(w, "file %d", n)
			return
		}
		w.Header().Set("Etag", `"DirIndex-abc_CID-`+dir.String()+`"`)
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(http.StatusOK)
		fmt.Fprintf(w, "listing %d of %s%s %s", n, r.Host, r.URL.Path, strings.Repeat("x", size))
	})
	stored := true
	c := newListingCache(8*(size+200), func(context.Context, cid.Cid) bool { return stored })
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
		{"not a listing", http.MethodGet, root + "/file", "", nil, true, false},
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

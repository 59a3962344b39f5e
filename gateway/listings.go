package gateway

import (
	"container/list"
	"context"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/ipfs/go-cid"
)

// listingCache keeps the HTML directory listings that boxo rendered for
// /ipfs/ paths, and answers the same request again from memory. boxo
// renders a listing through html/template, by reflection, on every
// request: 8.5 ms of CPU for a folder of 100 files, three quarters of it in
// the template, against 0.3 ms for a 4 KiB file. Under /ipfs/ a directory
// is immutable and its listing depends only on the request (host, URI and
// the few headers boxo reads), so it is rendered once and kept, as a
// caching proxy in front of a gateway would keep it. A byte budget bounds
// the memory; the least recently used listing goes first.
//
// Only plain GETs are answered from the cache: conditional and range
// requests, HEAD, and anything under /ipns/ go to boxo every time. A
// listing is answered from the cache only while the directory's block and
// the path's root block are still stored, so content removed by garbage
// collection is not served from memory.
type listingCache struct {
	stored   func(context.Context, cid.Cid) bool
	budget   int // bytes of bodies kept at most
	maxEntry int // the largest body kept

	mu    sync.Mutex
	used  int
	items map[string]*list.Element // of *listing
	order *list.List               // most recently used first
}

// listingCacheBudget is the memory kept for listings: a listing is about
// 3.4 KB an entry, so 337 KB for a folder of 100 files.
const listingCacheBudget = 8 << 20

type listing struct {
	key    string
	roots  []cid.Cid   // the path's root and the directory: both must be stored
	header http.Header // the headers the handler set
	body   []byte
}

func newListingCache(budget int, stored func(context.Context, cid.Cid) bool) *listingCache {
	return &listingCache{
		stored:   stored,
		budget:   budget,
		maxEntry: budget / 8,
		items:    make(map[string]*list.Element),
		order:    list.New(),
	}
}

// wrap answers repeated listing requests to next from the cache.
func (c *listingCache) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		root, ok := listingCacheable(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		key := listingKey(r)
		if l := c.get(r.Context(), key); l != nil {
			h := w.Header()
			for k, v := range l.header {
				h[k] = slices.Clone(v)
			}
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(l.body)
			return
		}
		rec := &listingRecorder{ResponseWriter: w, before: headerKeys(w.Header()), max: c.maxEntry}
		next.ServeHTTP(rec, r)
		if l := rec.listing(key, root); l != nil {
			c.put(l)
		}
	})
}

// listingCacheable reports whether r may be answered from the cache, and
// the root CID of its path.
func listingCacheable(r *http.Request) (cid.Cid, bool) {
	if r.Method != http.MethodGet || !strings.HasPrefix(r.URL.Path, "/ipfs/") {
		return cid.Undef, false
	}
	for _, h := range []string{"Range", "If-None-Match", "If-Match", "If-Modified-Since", "If-Unmodified-Since", "If-Range", "Service-Worker"} {
		if r.Header.Get(h) != "" {
			return cid.Undef, false
		}
	}
	if strings.Contains(r.Header.Get("Cache-Control"), "only-if-cached") {
		return cid.Undef, false
	}
	seg, _, _ := strings.Cut(strings.TrimPrefix(r.URL.Path, "/ipfs/"), "/")
	root, err := cid.Decode(seg)
	if err != nil {
		return cid.Undef, false
	}
	return root, true
}

// listingKey is everything of r that a listing depends on: the host and
// the URI as sent (links are made from them), the path after the hostname
// handler's rewrite, and the headers boxo reads to choose a response or
// make its links.
func listingKey(r *http.Request) string {
	var b strings.Builder
	for _, s := range []string{r.Host, r.RequestURI, r.URL.Path, r.URL.RawQuery,
		r.Header.Get("Accept"), r.Header.Get("X-Forwarded-Host"), r.Header.Get("X-Forwarded-Proto")} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	return b.String()
}

func (c *listingCache) get(ctx context.Context, key string) *listing {
	c.mu.Lock()
	e, ok := c.items[key]
	if !ok {
		c.mu.Unlock()
		return nil
	}
	c.order.MoveToFront(e)
	l := e.Value.(*listing)
	c.mu.Unlock()
	for _, k := range l.roots {
		if !c.stored(ctx, k) {
			c.remove(key)
			return nil
		}
	}
	return l
}

func (c *listingCache) put(l *listing) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[l.key]; ok {
		c.drop(e)
	}
	c.items[l.key] = c.order.PushFront(l)
	c.used += len(l.body)
	for c.used > c.budget {
		c.drop(c.order.Back())
	}
}

func (c *listingCache) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.drop(e)
	}
}

// drop removes e; c.mu is held.
func (c *listingCache) drop(e *list.Element) {
	l := c.order.Remove(e).(*listing)
	delete(c.items, l.key)
	c.used -= len(l.body)
}

// listingRecorder passes a response through and keeps a copy of it.
type listingRecorder struct {
	http.ResponseWriter
	before map[string]bool // header keys set before the handler ran
	max    int

	status int
	header http.Header
	body   []byte
	failed bool // too large, or a write to the client failed
}

func headerKeys(h http.Header) map[string]bool {
	m := make(map[string]bool, len(h))
	for k := range h {
		m[k] = true
	}
	return m
}

// WriteHeader decides whether the response is kept: only a generated
// listing is (boxo sets its ETag before the status); any other response,
// a file above all, passes through without a copy.
func (w *listingRecorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
		h := w.ResponseWriter.Header()
		if status == http.StatusOK && strings.HasPrefix(h.Get("Etag"), `"DirIndex-`) {
			w.header = make(http.Header)
			for k, v := range h {
				if !w.before[k] && k != "Server-Timing" {
					w.header[k] = slices.Clone(v)
				}
			}
		} else {
			w.failed = true
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

func (w *listingRecorder) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	n, err := w.ResponseWriter.Write(p)
	if err != nil || n < len(p) {
		w.failed = true
	}
	if !w.failed {
		if len(w.body)+len(p) > w.max {
			w.failed, w.body = true, nil
		} else {
			w.body = append(w.body, p...)
		}
	}
	return n, err
}

func (w *listingRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *listingRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// listing returns what to keep of the response: a whole generated
// directory listing (boxo's ETag "DirIndex-<assets>_CID-<dir>"), or nil.
func (w *listingRecorder) listing(key string, root cid.Cid) *listing {
	if w.failed || w.status != http.StatusOK || w.header == nil {
		return nil
	}
	etag := w.header.Get("Etag")
	rest, ok := strings.CutPrefix(etag, `"DirIndex-`)
	if !ok {
		return nil
	}
	_, s, ok := strings.Cut(rest, "_CID-")
	if !ok {
		return nil
	}
	dir, err := cid.Decode(strings.TrimSuffix(s, `"`))
	if err != nil {
		return nil
	}
	return &listing{key: key, roots: []cid.Cid{root, dir}, header: w.header, body: w.body}
}

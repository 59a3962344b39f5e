package gateway

import (
	"container/list"
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/ipfs/go-cid"
)

// responseCache keeps the responses boxo made for /ipfs/ paths that are
// costly to make again or asked for most, and answers the same request
// again from memory: HTML directory listings, and small files (a README, a
// BOM, build instructions: what a browser opens first). boxo renders a
// listing through html/template, by reflection, on every request: 8.5 ms
// of CPU for a folder of 100 files, three quarters of it in the template.
// A 4 KiB file costs 0.2 ms, a third of it in the per-request goroutine,
// timers and stack growth of boxo's retrieval timeout and most of the rest
// in resolving the path, reading blocks and writing headers. Under /ipfs/
// a path's content is immutable and the response depends only on the
// request (host, URI and the few headers boxo reads), so it is made once
// and kept, as a caching proxy in front of a gateway would keep it. A byte
// budget bounds the memory; the least recently used response goes first.
//
// Only plain GETs are answered from the cache: conditional and range
// requests, HEAD, and anything under /ipns/ go to boxo every time. A
// response is answered from the cache only while the path's root block
// and the block of what it shows (the directory, the file's root) are
// still stored, so content removed by garbage collection is not served
// from memory: a GC keeps a file's root block exactly when it keeps all of
// the file.
type responseCache struct {
	stored   func(context.Context, cid.Cid) bool
	budget   int // bytes of bodies kept at most
	maxEntry int // the largest listing kept
	maxFile  int // the largest file kept

	mu    sync.Mutex
	used  int
	items map[string]*list.Element // of *cachedResponse
	order *list.List               // most recently used first
}

// responseCacheBudget is the memory kept for responses: a listing is
// about 3.4 KB an entry, so 337 KB for a folder of 100 files.
// responseCacheMaxFile is the largest file kept: 64 KiB holds the
// Markdown and CSV of a bundle, and 128 of them fit in the budget; larger
// files cost little per byte to serve (1 MiB: 1.4 ms of CPU).
const (
	responseCacheBudget  = 8 << 20
	responseCacheMaxFile = 64 << 10
)

type cachedResponse struct {
	key    string
	roots  []cid.Cid   // the path's root and the directory or file: all must be stored
	header http.Header // the headers the handler set
	body   []byte
}

func newResponseCache(budget int, stored func(context.Context, cid.Cid) bool) *responseCache {
	return &responseCache{
		stored:   stored,
		budget:   budget,
		maxEntry: budget / 8,
		maxFile:  min(budget/8, responseCacheMaxFile),
		items:    make(map[string]*list.Element),
		order:    list.New(),
	}
}

// wrap answers repeated requests to next from the cache.
func (c *responseCache) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		root, ok := cacheable(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		key := cacheKey(r)
		if l := c.get(r.Context(), key); l != nil {
			h := w.Header()
			for k, v := range l.header {
				h[k] = slices.Clone(v)
			}
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(l.body)
			return
		}
		rec := &responseRecorder{ResponseWriter: w, before: headerKeys(w.Header()), maxListing: c.maxEntry, maxFile: c.maxFile}
		next.ServeHTTP(rec, r)
		if l := rec.response(key, root); l != nil {
			c.put(l)
		}
	})
}

// cacheable reports whether r may be answered from the cache, and
// the root CID of its path.
func cacheable(r *http.Request) (cid.Cid, bool) {
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

// cacheKey is everything of r that a response depends on: the host and
// the URI as sent (a listing's links are made from them), the path after
// the hostname handler's rewrite, the query (format, filename, download),
// and the headers boxo reads to choose a response or make its links.
func cacheKey(r *http.Request) string {
	var b strings.Builder
	for _, s := range []string{r.Host, r.RequestURI, r.URL.Path, r.URL.RawQuery,
		r.Header.Get("Accept"), r.Header.Get("X-Forwarded-Host"), r.Header.Get("X-Forwarded-Proto")} {
		b.WriteString(s)
		b.WriteByte(0)
	}
	return b.String()
}

func (c *responseCache) get(ctx context.Context, key string) *cachedResponse {
	c.mu.Lock()
	e, ok := c.items[key]
	if !ok {
		c.mu.Unlock()
		return nil
	}
	c.order.MoveToFront(e)
	l := e.Value.(*cachedResponse)
	c.mu.Unlock()
	for _, k := range l.roots {
		if !c.stored(ctx, k) {
			c.remove(key)
			return nil
		}
	}
	return l
}

func (c *responseCache) put(l *cachedResponse) {
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

func (c *responseCache) remove(key string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if e, ok := c.items[key]; ok {
		c.drop(e)
	}
}

// drop removes e; c.mu is held.
func (c *responseCache) drop(e *list.Element) {
	l := c.order.Remove(e).(*cachedResponse)
	delete(c.items, l.key)
	c.used -= len(l.body)
}

// responseRecorder passes a response through and keeps a copy of it.
type responseRecorder struct {
	http.ResponseWriter
	before     map[string]bool // header keys set before the handler ran
	maxListing int
	maxFile    int

	status int
	kept   cid.Cid // what the response shows: the directory or the file
	max    int     // the body's size limit for its kind
	header http.Header
	body   []byte
	failed bool // not kept: another kind of response, too large, or a write to the client failed
}

func headerKeys(h http.Header) map[string]bool {
	m := make(map[string]bool, len(h))
	for k := range h {
		m[k] = true
	}
	return m
}

// WriteHeader decides whether the response is kept, from the headers boxo
// set before the status: a generated listing (ETag
// "DirIndex-<assets>_CID-<dir>") or a whole file of at most maxFile bytes
// (ETag "<cid>", the deserialized file, and its Content-Length). Any other
// response (a raw block, a CAR, a larger file, a redirect) passes through
// without a copy.
func (w *responseRecorder) WriteHeader(status int) {
	if w.status == 0 {
		w.status = status
		w.failed = true
		h := w.ResponseWriter.Header()
		if status == http.StatusOK {
			w.kept, w.max = w.kind(h)
		}
		if w.kept.Defined() {
			w.failed = false
			w.header = make(http.Header)
			for k, v := range h {
				if !w.before[k] && k != "Server-Timing" {
					w.header[k] = slices.Clone(v)
				}
			}
			w.body = make([]byte, 0, min(w.max, 4096))
		}
	}
	w.ResponseWriter.WriteHeader(status)
}

// kind returns the CID a 200 response with headers h shows, and the size
// limit of its body, or cid.Undef when it is not kept.
func (w *responseRecorder) kind(h http.Header) (cid.Cid, int) {
	etag := h.Get("Etag")
	if rest, ok := strings.CutPrefix(etag, `"DirIndex-`); ok {
		_, s, ok := strings.Cut(rest, "_CID-")
		if !ok {
			return cid.Undef, 0
		}
		dir, err := cid.Decode(strings.TrimSuffix(s, `"`))
		if err != nil {
			return cid.Undef, 0
		}
		return dir, w.maxListing
	}
	// A file: a bare quoted CID (a raw block, a CAR or a TAR has a
	// suffix), and a length the body will be checked against.
	s, ok := strings.CutPrefix(etag, `"`)
	if !ok {
		return cid.Undef, 0
	}
	if s, ok = strings.CutSuffix(s, `"`); !ok || strings.ContainsAny(s, `."`) {
		return cid.Undef, 0
	}
	size, err := strconv.Atoi(h.Get("Content-Length"))
	if err != nil || size < 0 || size > w.maxFile || h.Get("Content-Range") != "" || h.Get("Content-Encoding") != "" {
		return cid.Undef, 0
	}
	file, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, 0
	}
	return file, size
}

func (w *responseRecorder) Write(p []byte) (int, error) {
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

func (w *responseRecorder) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *responseRecorder) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// response returns what to keep of the response, or nil: a whole listing,
// or a whole file of the length it announced.
func (w *responseRecorder) response(key string, root cid.Cid) *cachedResponse {
	if w.failed || w.status != http.StatusOK || !w.kept.Defined() {
		return nil
	}
	if cl := w.header.Get("Content-Length"); cl != "" && cl != strconv.Itoa(len(w.body)) {
		return nil // cut short
	}
	return &cachedResponse{key: key, roots: []cid.Cid{root, w.kept}, header: w.header, body: w.body}
}

package gateway

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/ipns"
	"github.com/ipfs/boxo/namesys"
	"github.com/ipfs/boxo/path"
	"github.com/ipfs/go-cid"
	carv2 "github.com/ipld/go-car/v2"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
	"github.com/prometheus/client_golang/prometheus"
)

func TestFileByPath(t *testing.T) {
	f := newFixture(t)
	srv := newTestServer(t, f, nil, Config{}, nil, nil)

	tests := []struct {
		name, target string
		want         []byte
		contentType  string
		xIpfsPath    string
	}{
		{"file in directory", "/ipfs/" + f.dir.String() + "/readme.txt", f.readme, "text/plain; charset=utf-8", "/ipfs/" + f.dir.String() + "/readme.txt"},
		{"file by root CID", "/ipfs/" + f.file.String(), f.fileData, "text/plain; charset=utf-8", "/ipfs/" + f.file.String()},
		{"index.html of directory", "/ipfs/" + f.site.String() + "/", f.indexHTML, "text/html", "/ipfs/" + f.site.String() + "/"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := do(t, srv, http.MethodGet, tt.target, nil, "")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d, body %q", res.StatusCode, body)
			}
			if !bytes.Equal(body, tt.want) {
				t.Errorf("body: got %d bytes %.40q, want %d bytes %.40q", len(body), body, len(tt.want), tt.want)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, tt.contentType) {
				t.Errorf("Content-Type %q, want prefix %q", ct, tt.contentType)
			}
			if got := res.Header.Get("X-Ipfs-Path"); got != tt.xIpfsPath {
				t.Errorf("X-Ipfs-Path %q, want %q", got, tt.xIpfsPath)
			}
			if res.Header.Get("Etag") == "" {
				t.Error("no Etag")
			}

			// The same request with the Etag is not modified.
			res2, body2 := do(t, srv, http.MethodGet, tt.target, http.Header{"If-None-Match": {res.Header.Get("Etag")}}, "")
			if res2.StatusCode != http.StatusNotModified || len(body2) != 0 {
				t.Errorf("If-None-Match: status %d with %d bytes, want 304 and no body", res2.StatusCode, len(body2))
			}

			// HEAD answers the headers without a body.
			res3, body3 := do(t, srv, http.MethodHead, tt.target, nil, "")
			if res3.StatusCode != http.StatusOK || len(body3) != 0 || res3.Header.Get("Etag") != res.Header.Get("Etag") {
				t.Errorf("HEAD: status %d, %d body bytes, Etag %q", res3.StatusCode, len(body3), res3.Header.Get("Etag"))
			}
		})
	}
}

func TestRangeRequest(t *testing.T) {
	f := newFixture(t)
	srv := newTestServer(t, f, nil, Config{}, nil, nil)

	tests := []struct {
		rangeHeader string
		from, to    int // inclusive
	}{
		{"bytes=10-19", 10, 19},
		{"bytes=250-269", 250, 269}, // across a chunk boundary (256)
		{"bytes=2990-", 2990, 2999},
		{"bytes=-5", 2995, 2999},
	}
	for _, tt := range tests {
		t.Run(tt.rangeHeader, func(t *testing.T) {
			res, body := do(t, srv, http.MethodGet, "/ipfs/"+f.file.String(), http.Header{"Range": {tt.rangeHeader}}, "")
			if res.StatusCode != http.StatusPartialContent {
				t.Fatalf("status %d, want 206; body %q", res.StatusCode, body)
			}
			if want := f.fileData[tt.from : tt.to+1]; !bytes.Equal(body, want) {
				t.Errorf("body %q, want %q", body, want)
			}
			wantCR := fmt.Sprintf("bytes %d-%d/%d", tt.from, tt.to, len(f.fileData))
			if got := res.Header.Get("Content-Range"); got != wantCR {
				t.Errorf("Content-Range %q, want %q", got, wantCR)
			}
		})
	}
}

func TestDirectoryListing(t *testing.T) {
	f := newFixture(t)
	srv := newTestServer(t, f, nil, Config{}, nil, nil)

	res, body := do(t, srv, http.MethodGet, "/ipfs/"+f.dir.String()+"/", http.Header{"Accept": {"text/html"}}, "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d, body %q", res.StatusCode, body)
	}
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
		t.Errorf("Content-Type %q, want text/html", ct)
	}
	for _, name := range []string{"readme.txt", "parts.csv", "sub"} {
		if !bytes.Contains(body, []byte(">"+name+"<")) {
			t.Errorf("listing lacks %q", name)
		}
	}

	// Without the trailing slash, boxo redirects to the directory's
	// canonical URL.
	res, _ = do(t, srv, http.MethodGet, "/ipfs/"+f.dir.String(), nil, "")
	if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != "/ipfs/"+f.dir.String()+"/" {
		t.Errorf("no slash: status %d Location %q, want 301 to the slashed path", res.StatusCode, res.Header.Get("Location"))
	}
}

func TestTrustlessRaw(t *testing.T) {
	f := newFixture(t)
	srv := newTestServer(t, f, nil, Config{}, nil, nil)

	for _, c := range []cid.Cid{f.file, f.dir} {
		for name, req := range map[string]struct {
			query  string
			header http.Header
		}{
			"format=raw":    {"?format=raw", nil},
			"Accept header": {"", http.Header{"Accept": {"application/vnd.ipld.raw"}}},
		} {
			t.Run(c.String()+"/"+name, func(t *testing.T) {
				res, body := do(t, srv, http.MethodGet, "/ipfs/"+c.String()+req.query, req.header, "")
				if res.StatusCode != http.StatusOK {
					t.Fatalf("status %d, body %q", res.StatusCode, body)
				}
				if ct := res.Header.Get("Content-Type"); ct != "application/vnd.ipld.raw" {
					t.Errorf("Content-Type %q", ct)
				}
				got, err := c.Prefix().Sum(body)
				if err != nil {
					t.Fatal(err)
				}
				if !got.Equals(c) {
					t.Errorf("body hashes to %s, want %s", got, c)
				}
			})
		}
	}
}

func TestTrustlessCAR(t *testing.T) {
	f := newFixture(t)
	srv := newTestServer(t, f, nil, Config{}, nil, nil)

	tests := []struct {
		name, target string
		header       http.Header
		root         cid.Cid
		want         map[cid.Cid]bool
	}{
		{"format=car directory", "/ipfs/" + f.dir.String() + "?format=car", nil, f.dir, f.reachable(t, f.dir)},
		{"Accept header file", "/ipfs/" + f.file.String(), http.Header{"Accept": {"application/vnd.ipld.car"}}, f.file, f.reachable(t, f.file)},
		{"dag-scope=block", "/ipfs/" + f.file.String() + "?format=car&dag-scope=block", nil, f.file, map[cid.Cid]bool{f.file: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := do(t, srv, http.MethodGet, tt.target, tt.header, "")
			if res.StatusCode != http.StatusOK {
				t.Fatalf("status %d, body %q", res.StatusCode, body)
			}
			if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/vnd.ipld.car") {
				t.Errorf("Content-Type %q", ct)
			}
			br, err := carv2.NewBlockReader(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("read CAR: %v", err)
			}
			if len(br.Roots) != 1 || !br.Roots[0].Equals(tt.root) {
				t.Errorf("roots %v, want [%s]", br.Roots, tt.root)
			}
			got := map[cid.Cid]bool{}
			for {
				blk, err := br.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("next block: %v", err)
				}
				sum, err := blk.Cid().Prefix().Sum(blk.RawData())
				if err != nil {
					t.Fatal(err)
				}
				if !sum.Equals(blk.Cid()) {
					t.Errorf("block %s hashes to %s", blk.Cid(), sum)
				}
				got[blk.Cid()] = true
			}
			if len(got) != len(tt.want) {
				t.Errorf("CAR has %d distinct blocks, want %d", len(got), len(tt.want))
			}
			for c := range tt.want {
				if !got[c] {
					t.Errorf("CAR lacks block %s", c)
				}
			}
		})
	}
}

func TestCORS(t *testing.T) {
	f := newFixture(t)
	srv := newTestServer(t, f, nil, Config{}, nil, nil)
	target := "/ipfs/" + f.dir.String() + "/readme.txt"

	res, _ := do(t, srv, http.MethodGet, target, http.Header{"Origin": {"https://example.org"}}, "")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("GET status %d", res.StatusCode)
	}
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("GET Access-Control-Allow-Origin %q, want *", got)
	}
	if got := strings.Join(res.Header.Values("Access-Control-Expose-Headers"), ","); !strings.Contains(got, "X-Ipfs-Path") || !strings.Contains(got, "Content-Range") {
		t.Errorf("GET Access-Control-Expose-Headers %q lacks X-Ipfs-Path or Content-Range", got)
	}

	res, _ = do(t, srv, http.MethodOptions, target, http.Header{
		"Origin":                         {"https://example.org"},
		"Access-Control-Request-Method":  {"GET"},
		"Access-Control-Request-Headers": {"Range"},
	}, "")
	if res.StatusCode != http.StatusOK {
		t.Errorf("OPTIONS status %d, want 200", res.StatusCode)
	}
	if got := res.Header.Get("Access-Control-Allow-Origin"); got != "*" {
		t.Errorf("OPTIONS Access-Control-Allow-Origin %q, want *", got)
	}
	if got := strings.Join(res.Header.Values("Access-Control-Allow-Methods"), ","); !strings.Contains(got, "GET") {
		t.Errorf("OPTIONS Access-Control-Allow-Methods %q lacks GET", got)
	}
	if got := strings.Join(res.Header.Values("Access-Control-Allow-Headers"), ","); !strings.Contains(got, "Range") {
		t.Errorf("OPTIONS Access-Control-Allow-Headers %q lacks Range", got)
	}
}

func TestReadOnly(t *testing.T) {
	f := newFixture(t)
	srv := newTestServer(t, f, nil, Config{}, nil, nil)
	before := f.keys(t)

	for _, method := range []string{http.MethodPost, http.MethodPut, http.MethodDelete, http.MethodPatch} {
		for _, target := range []string{"/ipfs/", "/ipfs/" + f.dir.String() + "/readme.txt", "/ipns/example.org", "/", "/healthz", "/api/v0/add"} {
			t.Run(method+" "+target, func(t *testing.T) {
				req, err := http.NewRequestWithContext(t.Context(), method, srv.URL+target, strings.NewReader("new content"))
				if err != nil {
					t.Fatal(err)
				}
				res, err := http.DefaultClient.Do(req)
				if err != nil {
					t.Fatal(err)
				}
				res.Body.Close()
				if res.StatusCode != http.StatusMethodNotAllowed {
					t.Errorf("status %d, want 405", res.StatusCode)
				}
				if allow := res.Header.Get("Allow"); !strings.Contains(allow, "GET") || strings.Contains(allow, method) {
					t.Errorf("Allow %q", allow)
				}
			})
		}
	}

	after := f.keys(t)
	if len(after) != len(before) {
		t.Fatalf("blockstore changed: %d blocks before, %d after", len(before), len(after))
	}
	for c := range before {
		if !after[c] {
			t.Errorf("block %s gone", c)
		}
	}
}

func TestRetrievalTimeout(t *testing.T) {
	f := newFixture(t)
	ex := newStallExchange()
	srv := newTestServer(t, f, ex, Config{RetrievalTimeout: 300 * time.Millisecond}, nil, nil)

	for _, target := range []string{
		"/ipfs/" + f.missing.String(),
		"/ipfs/" + f.missing.String() + "?format=raw",
	} {
		res, body := do(t, srv, http.MethodGet, target, nil, "")
		if res.StatusCode != http.StatusGatewayTimeout {
			t.Errorf("%s: status %d, want 504; body %q", target, res.StatusCode, body)
		}
	}
	// Local content is still served through the same exchange.
	res, _ := do(t, srv, http.MethodGet, "/ipfs/"+f.file.String(), nil, "")
	if res.StatusCode != http.StatusOK {
		t.Errorf("local file: status %d", res.StatusCode)
	}
}

func TestMissingOffline(t *testing.T) {
	f := newFixture(t)
	srv := newTestServer(t, f, nil, Config{}, nil, nil)
	res, body := do(t, srv, http.MethodGet, "/ipfs/"+f.missing.String(), nil, "")
	if res.StatusCode != http.StatusNotFound {
		t.Errorf("status %d, want 404; body %q", res.StatusCode, body)
	}
}

func TestMaxConcurrentRequests(t *testing.T) {
	f := newFixture(t)
	ex := newStallExchange()
	// A long retrieval timeout keeps the first request in its slot until
	// the test cancels it.
	srv := newTestServer(t, f, ex, Config{MaxConcurrentRequests: 1, RetrievalTimeout: time.Hour}, nil, nil)

	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/ipfs/"+f.missing.String(), nil)
		if err != nil {
			done <- err
			return
		}
		res, err := http.DefaultClient.Do(req)
		if err == nil {
			res.Body.Close()
		}
		done <- err
	}()
	defer func() {
		cancel()
		<-done
	}()

	// The exchange is asked for the block only once the request holds the
	// only slot.
	select {
	case <-ex.started:
	case <-time.After(30 * time.Second):
		t.Fatal("the first request never reached the exchange")
	}

	res, body := do(t, srv, http.MethodGet, "/ipfs/"+f.file.String(), nil, "")
	if res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("status %d, want 429; body %q", res.StatusCode, body)
	}
	if res.Header.Get("Retry-After") == "" {
		t.Error("429 without Retry-After")
	}
	// The node's own pages are not limited.
	if res, _ := do(t, srv, http.MethodGet, "/healthz", nil, ""); res.StatusCode != http.StatusOK {
		t.Errorf("healthz under load: status %d", res.StatusCode)
	}
}

func TestSubdomainGateway(t *testing.T) {
	f := newFixture(t)
	srv := newTestServer(t, f, nil, Config{}, nil, nil)
	dirB32 := f.dir.String() // CIDv1 in base32, as the fixture builds it
	v0 := cid.NewCidV0(f.dir.Hash()).String()

	t.Run("subdomain serves content", func(t *testing.T) {
		for _, host := range []string{dirB32 + ".ipfs.localhost", dirB32 + ".ipfs.localhost:8080"} {
			res, body := do(t, srv, http.MethodGet, "/readme.txt", nil, host)
			if res.StatusCode != http.StatusOK || !bytes.Equal(body, f.readme) {
				t.Errorf("Host %s: status %d body %q", host, res.StatusCode, body)
			}
		}
		// "/" on a subdomain is the content root, not the home page.
		res, body := do(t, srv, http.MethodGet, "/", nil, f.site.String()+".ipfs.localhost")
		if res.StatusCode != http.StatusOK || !bytes.Equal(body, f.indexHTML) {
			t.Errorf("site root: status %d body %q", res.StatusCode, body)
		}
		// X-Forwarded-Host from a reverse proxy counts as the host (as in
		// boxo): "/" belongs to the content, not to the home page.
		res, body = do(t, srv, http.MethodGet, "/", http.Header{"X-Forwarded-Host": {f.site.String() + ".ipfs.localhost"}}, "")
		if bytes.Contains(body, []byte("commons gateway")) {
			t.Errorf("X-Forwarded-Host: home page served (status %d)", res.StatusCode)
		}
	})

	t.Run("insecure hash on subdomain", func(t *testing.T) {
		md5, err := cid.NewPrefixV1(cid.Raw, mh.MD5).Sum([]byte("weak"))
		if err != nil {
			t.Fatal(err)
		}
		res, body := do(t, srv, http.MethodGet, "/", nil, md5.String()+".ipfs.localhost")
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("status %d, want 400; body %q", res.StatusCode, body)
		}
	})

	t.Run("path on known host redirects to subdomain", func(t *testing.T) {
		tests := []struct{ host, target, location string }{
			{"localhost", "/ipfs/" + dirB32 + "/readme.txt", "http://" + dirB32 + ".ipfs.localhost/readme.txt"},
			{"localhost:8080", "/ipfs/" + dirB32 + "/", "http://" + dirB32 + ".ipfs.localhost:8080/"},
			// CIDv0 becomes CIDv1 base32: DNS labels are case-insensitive.
			{"localhost", "/ipfs/" + v0 + "/parts.csv?format=raw", "http://" + dirB32 + ".ipfs.localhost/parts.csv?format=raw"},
		}
		for _, tt := range tests {
			res, body := do(t, srv, http.MethodGet, tt.target, nil, tt.host)
			if res.StatusCode != http.StatusMovedPermanently || res.Header.Get("Location") != tt.location {
				t.Errorf("Host %s %s: status %d Location %q, want 301 %q; body %q", tt.host, tt.target, res.StatusCode, res.Header.Get("Location"), tt.location, body)
			}
		}
	})

	t.Run("path gateway on other hosts", func(t *testing.T) {
		for _, host := range []string{"", "127.0.0.1:8080", "commons.example"} {
			res, body := do(t, srv, http.MethodGet, "/ipfs/"+dirB32+"/readme.txt", nil, host)
			if res.StatusCode != http.StatusOK || !bytes.Equal(body, f.readme) {
				t.Errorf("Host %q: status %d body %q", host, res.StatusCode, body)
			}
		}
	})

	t.Run("configured hostnames", func(t *testing.T) {
		srv := newTestServer(t, f, nil, Config{Hostnames: []string{"Commons.Example"}}, nil, nil)
		res, body := do(t, srv, http.MethodGet, "/readme.txt", nil, dirB32+".ipfs.commons.example")
		if res.StatusCode != http.StatusOK || !bytes.Equal(body, f.readme) {
			t.Errorf("subdomain: status %d body %q", res.StatusCode, body)
		}
		// localhost is no longer a subdomain gateway: path requests on it
		// are served in place.
		res, _ = do(t, srv, http.MethodGet, "/ipfs/"+dirB32+"/readme.txt", nil, "localhost")
		if res.StatusCode != http.StatusOK {
			t.Errorf("localhost path: status %d, want 200", res.StatusCode)
		}
	})
}

func TestBadRequests(t *testing.T) {
	f := newFixture(t)
	srv := newTestServer(t, f, nil, Config{}, nil, nil)

	md5, err := cid.NewPrefixV1(cid.Raw, mh.MD5).Sum([]byte("weak"))
	if err != nil {
		t.Fatal(err)
	}
	// The directory's block under a codec no decoder is registered for: the
	// blockstore finds it (it is keyed by multihash), boxo cannot decode it.
	gitRaw := cid.NewCidV1(cid.GitRaw, f.dir.Hash())

	tests := []struct {
		name, target string
		status       int
		bodyHas      string
	}{
		{"malformed CID", "/ipfs/not-a-cid", http.StatusBadRequest, "not-a-cid"},
		{"codec without decoder", "/ipfs/" + gitRaw.String(), http.StatusNotImplemented, ErrUnsupportedCodec.Error()},
		{"codec without decoder, path", "/ipfs/" + gitRaw.String() + "/readme.txt", http.StatusNotImplemented, ErrUnsupportedCodec.Error()},
		{"insecure hash", "/ipfs/" + md5.String(), http.StatusBadRequest, "insecure hash"},
		{"insecure hash below", "/ipfs/" + md5.String() + "/a/b", http.StatusBadRequest, "insecure hash"},
		{"malformed CID below", "/ipfs/bafyXYZ/readme.txt", http.StatusBadRequest, "invalid"},
		{"no such file", "/ipfs/" + f.dir.String() + "/nope.txt", http.StatusNotFound, "nope.txt"},
		{"unknown page", "/favicon.ico", http.StatusNotFound, ""},
		{"bad dag-scope", "/ipfs/" + f.file.String() + "?format=car&dag-scope=everything", http.StatusBadRequest, "scope"},
	}
	t.Run("codec without decoder, raw block", func(t *testing.T) {
		res, body := do(t, srv, http.MethodGet, "/ipfs/"+gitRaw.String()+"?format=raw", nil, "")
		if sum, _ := gitRaw.Prefix().Sum(body); res.StatusCode != http.StatusOK || !sum.Equals(gitRaw) {
			t.Errorf("status %d, body hashes to %s", res.StatusCode, sum)
		}
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res, body := do(t, srv, http.MethodGet, tt.target, nil, "")
			if res.StatusCode != tt.status {
				t.Errorf("status %d, want %d; body %q", res.StatusCode, tt.status, body)
			}
			if !strings.Contains(strings.ToLower(string(body)), strings.ToLower(tt.bodyHas)) {
				t.Errorf("body %q lacks %q", body, tt.bodyHas)
			}
		})
	}
}

// fakeNames resolves fixed /ipns/ names.
type fakeNames map[string]path.Path

// Resolve resolves the name (the path's first two segments) and appends
// the rest of the path to the target, as namesys resolvers do.
func (n fakeNames) Resolve(_ context.Context, p path.Path, _ ...namesys.ResolveOption) (namesys.Result, error) {
	segs := p.Segments()
	if len(segs) < 2 {
		return namesys.Result{}, fmt.Errorf("resolve %s: %w", p, namesys.ErrResolveFailed)
	}
	target, ok := n[path.SegmentsToString(segs[:2]...)]
	if !ok {
		return namesys.Result{}, fmt.Errorf("resolve %s: %w", p, namesys.ErrResolveFailed)
	}
	full, err := path.Join(target, segs[2:]...)
	if err != nil {
		return namesys.Result{}, fmt.Errorf("resolve %s: %w", p, err)
	}
	return namesys.Result{Path: full, TTL: time.Minute}, nil
}

func (n fakeNames) ResolveAsync(ctx context.Context, p path.Path, opts ...namesys.ResolveOption) <-chan namesys.AsyncResult {
	res, err := n.Resolve(ctx, p, opts...)
	ch := make(chan namesys.AsyncResult, 1)
	ch <- namesys.AsyncResult{Path: res.Path, TTL: res.TTL, Err: err}
	close(ch)
	return ch
}

func TestIPNS(t *testing.T) {
	f := newFixture(t)
	const key = "k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8"

	t.Run("no name system", func(t *testing.T) {
		srv := newTestServer(t, f, nil, Config{}, nil, nil)
		for _, target := range []string{"/ipns/example.org/", "/ipns/" + key + "/readme.txt", "/ipns/example.org?format=raw"} {
			res, body := do(t, srv, http.MethodGet, target, nil, "")
			if res.StatusCode != http.StatusNotImplemented {
				t.Errorf("%s: status %d, want 501; body %q", target, res.StatusCode, body)
			}
			if !strings.Contains(string(body), ErrNoNameSystem.Error()) {
				t.Errorf("%s: body %q lacks %q", target, body, ErrNoNameSystem)
			}
		}
	})

	t.Run("signed records", func(t *testing.T) {
		for _, names := range []namesys.Resolver{nil, fakeNames{}} {
			srv := newTestServer(t, f, nil, Config{}, names, nil)
			for _, req := range []struct {
				query  string
				header http.Header
			}{
				{"?format=ipns-record", nil},
				{"", http.Header{"Accept": {"application/vnd.ipfs.ipns-record"}}},
			} {
				res, body := do(t, srv, http.MethodGet, "/ipns/"+key+req.query, req.header, "")
				if res.StatusCode != http.StatusNotImplemented || !strings.Contains(string(body), ErrNoIPNSRecords.Error()) {
					t.Errorf("names %T %s %v: status %d body %q, want 501", names, req.query, req.header, res.StatusCode, body)
				}
			}
		}
	})

	t.Run("with a name system", func(t *testing.T) {
		names := fakeNames{"/ipns/design.example": path.FromCid(f.dir)}
		srv := newTestServer(t, f, nil, Config{}, names, nil)
		res, body := do(t, srv, http.MethodGet, "/ipns/design.example/readme.txt", nil, "")
		if res.StatusCode != http.StatusOK || !bytes.Equal(body, f.readme) {
			t.Errorf("status %d body %q", res.StatusCode, body)
		}
		res, body = do(t, srv, http.MethodGet, "/ipns/unknown.example/", nil, "")
		if res.StatusCode < 400 || res.StatusCode == http.StatusOK {
			t.Errorf("unknown name: status %d body %q", res.StatusCode, body)
		}
	})
}

// TestPagesMount: every request that is not for content and not /healthz
// goes to the pages handler; content never does. Path gateway responses
// carry the sandbox policy (they share the pages' origin), subdomain
// responses do not (each has an origin of its own).
func TestPagesMount(t *testing.T) {
	f := newFixture(t)
	pages := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Test-Pages", "yes")
		_, _ = io.WriteString(w, "pages:"+r.URL.Path)
	})
	srv := newTestServer(t, f, nil, Config{}, nil, pages)
	for _, p := range []string{"/", "/search?q=x", "/bundles/abc/", "/anything"} {
		res, body := do(t, srv, http.MethodGet, p, nil, "")
		if res.Header.Get("X-Test-Pages") != "yes" || !strings.HasPrefix(string(body), "pages:") {
			t.Errorf("GET %s: not served by the pages (status %d body %q)", p, res.StatusCode, body)
		}
		if res.Header.Get("Content-Security-Policy") == "sandbox" {
			t.Errorf("GET %s: pages got the path gateway's sandbox policy", p)
		}
	}
	res, body := do(t, srv, http.MethodGet, "/healthz", nil, "")
	if res.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Errorf("healthz: %d %q", res.StatusCode, body)
	}
	res, _ = do(t, srv, http.MethodPost, "/search", nil, "")
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("POST to a page: status %d, want 405", res.StatusCode)
	}

	for _, p := range []string{"/ipfs/" + f.site.String() + "/", "/ipfs/" + f.dir.String() + "/readme.txt", "/ipfs/" + f.missing.String()} {
		res, body := do(t, srv, http.MethodGet, p, nil, "")
		if res.Header.Get("X-Test-Pages") != "" {
			t.Errorf("GET %s: served by the pages", p)
		}
		if got := res.Header.Get("Content-Security-Policy"); got != "sandbox" {
			t.Errorf("GET %s (status %d): Content-Security-Policy %q, want sandbox; body %.80q", p, res.StatusCode, got, body)
		}
	}
	res, body = do(t, srv, http.MethodGet, "/", nil, f.site.String()+".ipfs.localhost")
	if res.StatusCode != http.StatusOK || !bytes.Equal(body, f.indexHTML) {
		t.Errorf("subdomain: status %d body %q", res.StatusCode, body)
	}
	if got := res.Header.Get("Content-Security-Policy"); got != "" {
		t.Errorf("subdomain response has Content-Security-Policy %q", got)
	}

	// With no pages, what is not content is not found.
	bare := newTestServer(t, f, nil, Config{}, nil, nil)
	if res, _ := do(t, bare, http.MethodGet, "/", nil, ""); res.StatusCode != http.StatusNotFound {
		t.Errorf("no pages: GET / status %d, want 404", res.StatusCode)
	}
}

func TestHealthz(t *testing.T) {
	f := newFixture(t)
	srv := newTestServer(t, f, nil, Config{}, nil, nil)
	res, body := do(t, srv, http.MethodGet, "/healthz", nil, "")
	if res.StatusCode != http.StatusOK || string(body) != "ok" {
		t.Errorf("status %d body %q", res.StatusCode, body)
	}
	res, body = do(t, srv, http.MethodHead, "/healthz", nil, "")
	if res.StatusCode != http.StatusOK || len(body) != 0 || !strings.HasPrefix(res.Header.Get("Content-Type"), "text/plain") {
		t.Errorf("HEAD /healthz: status %d, %d body bytes, Content-Type %q", res.StatusCode, len(body), res.Header.Get("Content-Type"))
	}
	res, _ = do(t, srv, http.MethodOptions, "/healthz", nil, "")
	if res.StatusCode != http.StatusNoContent || !strings.Contains(res.Header.Get("Allow"), "GET") {
		t.Errorf("OPTIONS: status %d Allow %q", res.StatusCode, res.Header.Get("Allow"))
	}
}

func TestMetricsRegisterer(t *testing.T) {
	f := newFixture(t)
	reg := prometheus.NewRegistry()
	srv := newTestServer(t, f, nil, Config{Registerer: reg}, nil, nil)
	do(t, srv, http.MethodGet, "/ipfs/"+f.file.String(), nil, "")

	mfs, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(mfs) == 0 {
		t.Fatal("no metrics registered on the given registerer")
	}

	// Nil registerers get private registries: two gateways in one process
	// do not collide, and nothing lands in the global registry.
	before, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if _, err := New(Config{}, blockservice.New(f.bstore, offline.Exchange(f.bstore)), nil, nil); err != nil {
			t.Fatal(err)
		}
	}
	after, err := prometheus.DefaultGatherer.Gather()
	if err != nil {
		t.Fatal(err)
	}
	if len(after) != len(before) {
		t.Errorf("default registry grew from %d to %d metric families", len(before), len(after))
	}
}

func TestConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     Config
		wantErr bool
		check   func(Config) error
	}{
		{"zero gets defaults", Config{}, false, func(c Config) error {
			if c.RetrievalTimeout != DefaultRetrievalTimeout || c.MaxConcurrentRequests != DefaultMaxConcurrentRequests ||
				c.MaxRequestDuration != DefaultMaxRequestDuration || fmt.Sprint(c.Hostnames) != "[localhost]" ||
				c.Registerer == nil || c.Logger == nil || c.Turns < DefaultMinTurns {
				return fmt.Errorf("defaults not applied: %+v", c)
			}
			return nil
		}},
		{"hostnames normalized", Config{Hostnames: []string{" Gateway.Example. ", "localhost"}}, false, func(c Config) error {
			if fmt.Sprint(c.Hostnames) != "[gateway.example localhost]" {
				return fmt.Errorf("hostnames %q", c.Hostnames)
			}
			return nil
		}},
		{"explicit values kept", Config{RetrievalTimeout: time.Second, MaxConcurrentRequests: 7, MaxRequestDuration: time.Minute, Turns: 3}, false, func(c Config) error {
			if c.RetrievalTimeout != time.Second || c.MaxConcurrentRequests != 7 || c.MaxRequestDuration != time.Minute || c.Turns != 3 {
				return fmt.Errorf("values changed: %+v", c)
			}
			return nil
		}},
		{"negative retrieval timeout", Config{RetrievalTimeout: -1}, true, nil},
		{"negative max concurrent", Config{MaxConcurrentRequests: -1}, true, nil},
		{"negative max duration", Config{MaxRequestDuration: -time.Second}, true, nil},
		{"negative turns", Config{Turns: -1}, true, nil},
		{"empty hostname", Config{Hostnames: []string{""}}, true, nil},
		{"hostname with scheme", Config{Hostnames: []string{"http://localhost"}}, true, nil},
		{"hostname with port", Config{Hostnames: []string{"localhost:8080"}}, true, nil},
		{"IP hostname", Config{Hostnames: []string{"127.0.0.1"}}, true, nil},
		{"wildcard hostname", Config{Hostnames: []string{"*.example"}}, true, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.cfg.withDefaults()
			if (err != nil) != tt.wantErr {
				t.Fatalf("err %v, want error %v", err, tt.wantErr)
			}
			if tt.check != nil {
				if err := tt.check(got); err != nil {
					t.Error(err)
				}
			}
		})
	}

	f := newFixture(t)
	if _, err := New(Config{}, nil, nil, nil); err == nil {
		t.Error("New with nil block service: no error")
	}
	if _, err := New(Config{Hostnames: []string{"127.0.0.1"}}, blockservice.New(f.bstore, nil), nil, nil); err == nil {
		t.Error("New with IP hostname: no error")
	}
}

func TestNameSystemAdapter(t *testing.T) {
	p, err := path.NewPath("/ipns/example.org")
	if err != nil {
		t.Fatal(err)
	}
	ns := nameSystem(nil)
	_, err = ns.Resolve(t.Context(), p)
	if !errors.Is(err, ErrNoNameSystem) {
		t.Errorf("Resolve: %v, want ErrNoNameSystem", err)
	}
	for r := range ns.ResolveAsync(t.Context(), p) {
		if !errors.Is(r.Err, ErrNoNameSystem) {
			t.Errorf("ResolveAsync: %v, want ErrNoNameSystem", r.Err)
		}
	}
	if err := ns.Publish(t.Context(), nil, p); !errors.Is(err, errPublishUnsupported) {
		t.Errorf("Publish: %v", err)
	}

	names := fakeNames{}
	if got := nameSystem(names); got.(readOnlyNames).Resolver == nil {
		t.Error("resolver not kept")
	}
}

// fakeRecords serves fixed records by name CID.
type fakeRecords map[string][]byte

func (r fakeRecords) IPNSRecord(_ context.Context, c cid.Cid) ([]byte, error) {
	if b, ok := r[c.String()]; ok {
		return b, nil
	}
	return nil, fmt.Errorf("record %s: %w", c, ErrNoRecord)
}

// TestIPNSRecordResponses: ?format=ipns-record and the matching Accept
// header return the signed record as the trustless gateway spec says: its
// bytes, its content type, an attachment name, a Cache-Control bounded by
// the record's TTL, an Etag that revalidates, and 404 for a name with no
// record.
func TestIPNSRecordResponses(t *testing.T) {
	f := newFixture(t)
	sk, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	name := ipns.NameFromPeer(mustPeer(t, sk))
	rec, err := ipns.NewRecord(sk, path.FromCid(f.dir), 3, time.Now().Add(time.Hour), 5*time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	data, err := ipns.MarshalRecord(rec)
	if err != nil {
		t.Fatal(err)
	}
	srv := newTestServer(t, f, nil, Config{Records: fakeRecords{name.Cid().String(): data}}, nil, nil)

	for _, req := range []struct {
		query  string
		header http.Header
	}{
		{"?format=ipns-record", nil},
		{"", http.Header{"Accept": {"application/vnd.ipfs.ipns-record"}}},
	} {
		target := "/ipns/" + name.String() + req.query
		res, body := do(t, srv, http.MethodGet, target, req.header, "")
		if res.StatusCode != http.StatusOK {
			t.Fatalf("%s %v: status %d body %q", target, req.header, res.StatusCode, body)
		}
		if !bytes.Equal(body, data) {
			t.Errorf("%s: body is not the record", target)
		}
		got, err := ipns.UnmarshalRecord(body)
		if err != nil || ipns.ValidateWithName(got, name) != nil {
			t.Errorf("%s: body does not validate for %s: %v", target, name, err)
		}
		if ct := res.Header.Get("Content-Type"); ct != "application/vnd.ipfs.ipns-record" {
			t.Errorf("%s: Content-Type %q", target, ct)
		}
		if cd := res.Header.Get("Content-Disposition"); !strings.Contains(cd, "attachment") || !strings.Contains(cd, name.String()+".ipns-record") {
			t.Errorf("%s: Content-Disposition %q", target, cd)
		}
		if cc := res.Header.Get("Cache-Control"); cc != "public, max-age=300" {
			t.Errorf("%s: Cache-Control %q, want the record's TTL (public, max-age=300)", target, cc)
		}
		etag := res.Header.Get("Etag")
		if !strings.HasPrefix(etag, `"`) || !strings.HasSuffix(etag, `"`) || len(etag) < 3 {
			t.Fatalf("%s: Etag %q, want a quoted entity tag", target, etag)
		}
		res, body = do(t, srv, http.MethodGet, target, http.Header{"If-None-Match": {etag}, "Accept": req.header.Values("Accept")}, "")
		if res.StatusCode != http.StatusNotModified || len(body) != 0 {
			t.Errorf("%s with If-None-Match: status %d, %d bytes; want 304 and no body", target, res.StatusCode, len(body))
		}
	}

	other, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	unknown := ipns.NameFromPeer(mustPeer(t, other))
	res, body := do(t, srv, http.MethodGet, "/ipns/"+unknown.String()+"?format=ipns-record", nil, "")
	if res.StatusCode != http.StatusNotFound || !strings.Contains(string(body), ErrNoRecord.Error()) {
		t.Errorf("unknown name: status %d body %q, want 404", res.StatusCode, body)
	}
}

// TestProxyTunnel: CONNECT is answered 200 and the requests that follow on
// the same connection reach the gateway itself (the proxy gateway spec);
// nothing is relayed to the host named in CONNECT.
func TestProxyTunnel(t *testing.T) {
	f := newFixture(t)
	srv := newTestServer(t, f, nil, Config{}, nil, nil)
	conn, err := net.Dial("tcp", srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(30 * time.Second))
	br := bufio.NewReader(conn)

	fmt.Fprintf(conn, "CONNECT example.org:80 HTTP/1.1\r\nHost: example.org:80\r\n\r\n")
	res, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != http.StatusOK {
		t.Fatalf("CONNECT: status %d", res.StatusCode)
	}
	fmt.Fprintf(conn, "GET /readme.txt HTTP/1.1\r\nHost: %s.ipfs.localhost\r\n\r\n", f.dir)
	res, err = http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	var body bytes.Buffer
	_, _ = body.ReadFrom(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !bytes.Equal(body.Bytes(), f.readme) {
		t.Errorf("through the tunnel: status %d body %q", res.StatusCode, body.Bytes())
	}
}

func mustPeer(t *testing.T, sk crypto.PrivKey) peer.ID {
	t.Helper()
	id, err := peer.IDFromPrivateKey(sk)
	if err != nil {
		t.Fatal(err)
	}
	return id
}

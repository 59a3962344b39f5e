package gateway

import (
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/exchange/offline"
	"golang.org/x/net/http/httpguts"
)

// FuzzGatewayPath sends arbitrary paths, query strings, Accept headers and
// hosts to the gateway. It must never panic and never fail with a server
// error: the only 5xx answers allowed are 504 (content not retrieved in time)
// and 501 for what this gateway deliberately does not implement: /ipns/
// names on a node without a name system and codecs it cannot decode.
// Download links and IPNS record requests reach a counter and an empty
// record source. The seed corpus
// is in testdata/fuzz/FuzzGatewayPath; it uses the fixture's CIDs.
func FuzzGatewayPath(f *testing.F) {
	fx := newFixture(f)
	// A counter and an (empty) record source, so that download links and
	// record requests reach their code.
	cfg := Config{Counter: &fakeCounter{}, Records: fakeRecords{}}
	h, err := New(cfg, blockservice.New(fx.bstore, offline.Exchange(fx.bstore)), nil, http.NotFoundHandler())
	if err != nil {
		f.Fatal(err)
	}

	dir, file := fx.dir.String(), fx.file.String()
	for _, seed := range []struct{ path, query, accept, host string }{
		{"/", "", "", ""},
		{"/ipfs/" + dir + "/readme.txt", "", "", ""},
		{"/ipfs/" + dir + "/", "format=car&dag-scope=entity&entity-bytes=0:10", "", ""},
		{"/ipfs/" + file, "format=raw", "application/vnd.ipld.raw", ""},
		{"/ipfs/" + file, "", "application/vnd.ipld.car; version=1; order=dfs; dups=y", ""},
		{"/ipfs/" + dir + "/sub/notes.md", "format=tar", "", ""},
		{"/ipfs/" + dir, "format=dag-json", "", ""},
		{"/ipns/example.org/", "", "text/html", ""},
		{"/ipfs/" + fx.missing.String(), "", "", ""},
		{"/readme.txt", "", "", dir + ".ipfs.localhost"},
		{"/ipfs/" + dir + "/readme.txt", "", "", "localhost"},
		{"/ipfs/", "uri=ipfs%3A%2F%2F" + dir, "", ""},
		{"/ipfs/../../etc/passwd", "", "", ""},
		{"/ipfs/" + dir + "/%00", "filename=%0d%0a", "", ""},
		{"/ipfs/" + dir + "/readme.txt", "download=true&filename=readme.txt", "", ""},
		{"/ipns/k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8", "format=ipns-record", "", ""},
	} {
		f.Add(seed.path, seed.query, seed.accept, seed.host)
	}

	f.Fuzz(func(t *testing.T, path, query, accept, host string) {
		// Only requests net/http's server would pass to a handler are
		// interesting; it answers the rest with 400 itself.
		target := (&url.URL{Path: path, RawQuery: query}).RequestURI()
		if _, err := url.ParseRequestURI(target); err != nil || !strings.HasPrefix(target, "/") || strings.Contains(target, " ") ||
			(host != "" && !httpguts.ValidHostHeader(host)) || !httpguts.ValidHeaderFieldValue(accept) {
			return
		}
		req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, target, nil)
		if accept != "" {
			req.Header.Set("Accept", accept)
		}
		if host != "" {
			req.Host = host
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)

		// Error pages for browsers are HTML; the messages inside are escaped.
		code, body := rec.Code, html.UnescapeString(rec.Body.String())
		switch {
		case code < 100 || code > 599:
			t.Fatalf("GET %q?%q Host %q: status %d", path, query, host, code)
		case code == http.StatusGatewayTimeout:
		case code == http.StatusNotImplemented &&
			(strings.Contains(body, ErrNoNameSystem.Error()) || strings.Contains(body, ErrNoIPNSRecords.Error()) ||
				strings.Contains(body, ErrUnsupportedCodec.Error())):
		case code >= 500:
			t.Fatalf("GET %q?%q Accept %q Host %q: status %d: %.300s", path, query, accept, host, code, body)
		}
	})
}

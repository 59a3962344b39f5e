package gateway

import (
	"bytes"
	"net/http"
	"testing"
)

// TestResolvedPathsAnswerAlike: a path answered from the resolution cache
// gets the answer the first, resolved, request got: status, body and the
// headers that name what the path resolved to.
func TestResolvedPathsAnswerAlike(t *testing.T) {
	f := newFixture(t)
	srv := newTestServer(t, f, nil, Config{}, nil, nil)
	for _, tc := range []struct {
		method, target string
		header         http.Header
	}{
		{http.MethodGet, "/ipfs/" + f.dir.String() + "/readme.txt", nil},
		{http.MethodGet, "/ipfs/" + f.dir.String() + "/sub/notes.md", nil},
		{http.MethodGet, "/ipfs/" + f.dir.String() + "/sub/", nil},
		{http.MethodHead, "/ipfs/" + f.dir.String() + "/parts.csv", nil},
		{http.MethodGet, "/ipfs/" + f.dir.String() + "/readme.txt", http.Header{"Range": {"bytes=5-20"}}},
		{http.MethodGet, "/ipfs/" + f.dir.String() + "/sub/notes.md?format=raw", nil},
		{http.MethodGet, "/ipfs/" + f.dir.String() + "/nothing-here", nil},
	} {
		first, body1 := do(t, srv, tc.method, tc.target, tc.header, "")
		for range 2 {
			again, body2 := do(t, srv, tc.method, tc.target, tc.header, "")
			if again.StatusCode != first.StatusCode || !bytes.Equal(body1, body2) {
				t.Errorf("%s %s: %d, %d bytes the first time; %d, %d bytes again", tc.method, tc.target, first.StatusCode, len(body1), again.StatusCode, len(body2))
			}
			for _, h := range []string{"X-Ipfs-Roots", "X-Ipfs-Path", "Etag", "Content-Type", "Content-Range", "Content-Length", "Cache-Control"} {
				if a, b := first.Header.Get(h), again.Header.Get(h); a != b {
					t.Errorf("%s %s: %s %q the first time, %q again", tc.method, tc.target, h, a, b)
				}
			}
		}
		if first.StatusCode == http.StatusOK && first.Header.Get("X-Ipfs-Roots") == "" {
			t.Errorf("%s %s: no X-Ipfs-Roots to compare", tc.method, tc.target)
		}
	}
}

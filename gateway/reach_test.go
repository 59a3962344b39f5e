package gateway

import (
	"bytes"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/ipfs/go-cid"
)

// fakeCounter records the downloads it is told about.
type fakeCounter struct {
	mu  sync.Mutex
	got []string // "<root> <kind>"
}

func (c *fakeCounter) Download(root cid.Cid, kind string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, root.String()+" "+kind)
}

func (c *fakeCounter) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.got...)
}

// TestDownloadCounter: complete GETs of download links are counted once,
// with the root of the path, on the path and the subdomain gateway;
// ranges, revalidations, HEAD, plain links and errors are not.
func TestDownloadCounter(t *testing.T) {
	f := newFixture(t)
	ctr := &fakeCounter{}
	srv := newTestServer(t, f, nil, Config{Counter: ctr}, nil, nil)
	link := "/ipfs/" + f.dir.String() + "/readme.txt?download=true&filename=readme.txt"

	res, body := do(t, srv, http.MethodGet, link, nil, "")
	if res.StatusCode != http.StatusOK || !bytes.Equal(body, f.readme) {
		t.Fatalf("download: status %d body %q", res.StatusCode, body)
	}
	if cd := res.Header.Get("Content-Disposition"); !strings.HasPrefix(cd, "attachment") {
		t.Errorf("download: Content-Disposition %q, want an attachment", cd)
	}
	res, _ = do(t, srv, http.MethodGet, "/readme.txt?download=true", nil, f.dir.String()+".ipfs.localhost")
	if res.StatusCode != http.StatusOK {
		t.Fatalf("subdomain download: status %d", res.StatusCode)
	}
	want := []string{f.dir.String() + " " + DownloadFile, f.dir.String() + " " + DownloadFile}

	notCounted := []struct {
		name, method, target string
		header               http.Header
		status               int
	}{
		{"range", http.MethodGet, link, http.Header{"Range": {"bytes=0-3"}}, http.StatusPartialContent},
		{"revalidation", http.MethodGet, link, http.Header{"If-None-Match": {res.Header.Get("Etag")}}, http.StatusNotModified},
		{"HEAD", http.MethodHead, link, nil, http.StatusOK},
		{"not a download link", http.MethodGet, "/ipfs/" + f.dir.String() + "/readme.txt", nil, http.StatusOK},
		{"a root, not a file in it", http.MethodGet, "/ipfs/" + f.file.String() + "?download=true", nil, http.StatusOK},
		{"missing file", http.MethodGet, "/ipfs/" + f.dir.String() + "/nothing.txt?download=true", nil, http.StatusNotFound},
	}
	for _, tt := range notCounted {
		res, body := do(t, srv, tt.method, tt.target, tt.header, "")
		if res.StatusCode != tt.status {
			t.Errorf("%s: status %d, want %d; body %.80q", tt.name, res.StatusCode, tt.status, body)
		}
	}
	if got := ctr.list(); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("counted %q, want %q", got, want)
	}
}

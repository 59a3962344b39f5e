package pages

import (
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"

	"github.com/ipfs/go-cid"

	"github.com/commons-p2p/commons/gateway/api"
)

// fakeCounter records what it is told, in order.
type fakeCounter struct {
	mu  sync.Mutex
	got []string // "view <root>" or "<kind> <root>"
}

func (c *fakeCounter) View(root cid.Cid) { c.add("view " + root.String()) }
func (c *fakeCounter) Download(root cid.Cid, kind string) {
	c.add(kind + " " + root.String())
}

func (c *fakeCounter) add(s string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.got = append(c.got, s)
}

func (c *fakeCounter) list() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.got)
}

// TestCounter: a bundle page viewed (200, or 304 revalidated) is one view;
// a complete zip or CAR is one download of its kind. Redirects, HEAD,
// error pages and failed downloads count nothing; other pages count
// nothing.
func TestCounter(t *testing.T) {
	f := newFixture(t)
	ctr := &fakeCounter{}
	h, err := New(Config{Hostnames: []string{"localhost"}, Counter: ctr}, f.d)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	v2 := f.v2.String()

	r := get(t, srv, "/bundles/"+v2+"/", "")
	checkPage(t, r, http.StatusOK)
	if r := get(t, srv, "/bundles/"+v2+"/", "", "If-None-Match", r.Header.Get("Etag")); r.StatusCode != http.StatusNotModified {
		t.Fatalf("revalidation: status %d", r.StatusCode)
	}
	if r := get(t, srv, "/bundles/"+v2+".zip", ""); r.StatusCode != http.StatusOK {
		t.Fatalf("zip: status %d", r.StatusCode)
	}
	if r := get(t, srv, "/bundles/"+v2+".car", ""); r.StatusCode != http.StatusOK {
		t.Fatalf("car: status %d", r.StatusCode)
	}
	want := []string{"view " + v2, "view " + v2, DownloadZip + " " + v2, DownloadCAR + " " + v2}

	// None of these count.
	if r := get(t, srv, "/bundles/brick-press/", ""); r.StatusCode != http.StatusFound {
		t.Errorf("by name: status %d, want a redirect", r.StatusCode)
	}
	req, _ := http.NewRequest(http.MethodHead, srv.URL+"/bundles/"+v2+"/", nil)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusOK {
		t.Errorf("HEAD: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	checkPage(t, get(t, srv, "/bundles/"+testCID(t, "absent").String()+"/", ""), http.StatusNotFound)
	checkPage(t, get(t, srv, "/", ""), http.StatusOK)
	f.d.carErr = fmt.Errorf("export: %w", api.ErrNotFound)
	checkPage(t, get(t, srv, "/bundles/"+v2+".car", ""), http.StatusNotFound)
	f.d.carErr = nil
	f.d.carCut = fmt.Errorf("export: %w", api.ErrNotFound) // cut off after the first bytes
	if res, err := http.Get(srv.URL + "/bundles/" + v2 + ".car"); err == nil {
		_, err = io.ReadAll(res.Body)
		res.Body.Close()
		if err == nil {
			t.Error("a CAR cut off reached the client as complete")
		}
	}

	if got := ctr.list(); !slices.Equal(got, want) {
		t.Errorf("counted %q, want %q", got, want)
	}
}

// TestNoCounter: without a Counter the pages serve as before.
func TestNoCounter(t *testing.T) {
	f := newFixture(t)
	srv := newServer(t, f.d)
	checkPage(t, get(t, srv, "/bundles/"+f.v2.String()+"/", ""), http.StatusOK)
	if r := get(t, srv, "/bundles/"+f.v2.String()+".zip", ""); r.StatusCode != http.StatusOK {
		t.Errorf("zip: status %d", r.StatusCode)
	}
}

package api_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/node"
	"github.com/commons-p2p/commons/pkg/config"
	"github.com/commons-p2p/commons/pkg/folder"
	"github.com/commons-p2p/commons/pkg/store"
)

// setup returns an offline node and a client reaching it over HTTP,
// through a handler made with opts.
func setup(t *testing.T, opts ...api.HandlerOption) (*node.Node, *api.Client, *httptest.Server) {
	t.Helper()
	s, _ := config.FromProfile("test")
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	n, err := node.New(context.Background(), node.Config{Settings: s, Identity: key, Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	srv := httptest.NewServer(api.NewHandler(n, nil, opts...))
	t.Cleanup(srv.Close)
	return n, api.NewClient(srv.URL, nil), srv
}

func tree(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "press")
	if err := os.MkdirAll(filepath.Join(dir, "cad"), 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string]string{"instructions.md": "# Build it\n", "cad/frame.scad": "cube(10);\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func TestPublishCatLsExportImportOverHTTP(t *testing.T) {
	ctx := context.Background()
	_, c, _ := setup(t)
	fn, _, err := folder.Open(tree(t), folder.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	res, err := c.Publish(ctx, fn, api.PublishOptions{Name: "press", Plain: true}, nil)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	if res.Name != "press" || !res.CID.Defined() {
		t.Fatalf("publish result %+v", res)
	}
	rc, err := c.Cat(ctx, res.CID.String()+"/cad/frame.scad")
	if err != nil {
		t.Fatal(err)
	}
	b, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(b) != "cube(10);\n" {
		t.Fatalf("cat = %q, %v", b, err)
	}
	es, err := c.Ls(ctx, "/ipfs/"+res.CID.String())
	if err != nil || len(es) != 2 || es[0].Name != "cad" || es[0].Type != "directory" || es[1].Size != int64(len("# Build it\n")) {
		t.Fatalf("ls = %+v, %v", es, err)
	}
	var car bytes.Buffer
	if err := c.Export(ctx, res.CID.String(), &car, nil); err != nil {
		t.Fatalf("export: %v", err)
	}
	// Import into a second node, through its own API.
	_, c2, _ := setup(t)
	ir, err := c2.Import(ctx, bytes.NewReader(car.Bytes()), nil)
	if err != nil {
		t.Fatalf("import: %v", err)
	}
	if len(ir.Roots) != 1 || !ir.Roots[0].Equals(res.CID) {
		t.Fatalf("import roots %v, want %s", ir.Roots, res.CID)
	}
	pins, err := c2.Pins(ctx)
	if err != nil || len(pins) != 1 || !pins[0].CID.Equals(res.CID) {
		t.Fatalf("pins after import = %+v, %v", pins, err)
	}
}

// Errors keep their class across the wire, so the CLI's exit codes work
// the same with and without a daemon.
func TestErrorsKeepTheirClass(t *testing.T) {
	ctx := context.Background()
	n, c, _ := setup(t)
	absent, _ := cid.Decode("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy")
	for _, svc := range []api.Service{n, c} {
		name := "node"
		if svc == api.Service(c) {
			name = "client"
		}
		checks := []struct {
			what string
			err  error
			want error
		}{
			{"cat of a non-CID", func() error { _, err := svc.Cat(ctx, "notacid"); return err }(), api.ErrInvalid},
			{"ls of a bad path", func() error { _, err := svc.Ls(ctx, "/ipfs/xyz"); return err }(), api.ErrInvalid},
			{"unpin of what is not pinned", svc.Unpin(ctx, absent), api.ErrNotPinned},
			{"pin of absent content offline", svc.Pin(ctx, absent, "", nil), api.ErrOffline},
			{"peers offline", func() error { _, err := svc.Peers(ctx); return err }(), api.ErrOffline},
			{"import of garbage", func() error { _, err := svc.Import(ctx, bytes.NewReader([]byte("not a car")), nil); return err }(), api.ErrInvalid},
			{"connect to a non-address", svc.Connect(ctx, "nowhere"), api.ErrOffline},
		}
		for _, ch := range checks {
			if !errors.Is(ch.err, ch.want) {
				t.Errorf("%s: %s: %v; want %v", name, ch.what, ch.err, ch.want)
			}
		}
	}
}

func TestExportErrorBeforeOutputIsAnError(t *testing.T) {
	_, c, _ := setup(t)
	var buf bytes.Buffer
	err := c.Export(context.Background(), "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy", &buf, nil)
	if !errors.Is(err, api.ErrOffline) {
		t.Fatalf("export of absent content offline: %v; want ErrOffline", err)
	}
	if buf.Len() != 0 {
		t.Fatalf("export wrote %d bytes before failing", buf.Len())
	}
}

func TestBrowserOriginsRefused(t *testing.T) {
	_, _, srv := setup(t)
	req, _ := http.NewRequest(http.MethodPost, srv.URL+api.Prefix+"gc", nil)
	req.Header.Set("Origin", "http://evil.example")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden {
		t.Fatalf("request with a foreign Origin: %d; want 403", resp.StatusCode)
	}
	// GET is not an API verb: a plain link or <img> cannot trigger anything.
	resp, err = http.Get(srv.URL + api.Prefix + "gc")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("GET of an API operation: %d; want 405", resp.StatusCode)
	}
}

func TestPublishRejectsBadUpload(t *testing.T) {
	_, _, srv := setup(t)
	resp, err := http.Post(srv.URL+api.Prefix+"publish", "text/plain", bytes.NewReader([]byte("hello")))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Fatalf("publish with a non-multipart body: %d; want 400", resp.StatusCode)
	}
}

// TestPublishRefusedOverHTTP: a bundle the node refuses (no licence) comes
// back as ErrInvalid with the node's message, and the connection stays
// usable.
func TestPublishRefusedOverHTTP(t *testing.T) {
	ctx := context.Background()
	_, c, _ := setup(t)
	for range 3 {
		fn, _, err := folder.Open(tree(t), folder.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		_, err = c.Publish(ctx, fn, api.PublishOptions{Name: "press"}, nil)
		if !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), "licen") {
			t.Fatalf("publish without licences: %v; want ErrInvalid about the licences", err)
		}
	}
	if _, err := c.ID(ctx); err != nil {
		t.Fatalf("the API after refusals: %v", err)
	}
}

// TestTokenRequired: with a token, an operation without it or with another
// one is refused (401, ErrUnauthorized through the client) and changes
// nothing; with it, it runs. /metrics stays open for a local scraper.
func TestTokenRequired(t *testing.T) {
	const token = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	reg := prometheus.NewRegistry()
	n, _, srv := setup(t, api.WithToken(token), api.WithMetrics(reg))
	ctx := context.Background()
	dir := tree(t)

	for _, c := range []*api.Client{api.NewClient(srv.URL, nil), api.NewClient(srv.URL, nil).WithToken("wrong")} {
		fn, _, err := folder.Open(dir, folder.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Publish(ctx, fn, api.PublishOptions{Name: "press", Plain: true}, nil); !errors.Is(err, api.ErrUnauthorized) {
			t.Fatalf("publish without the token: %v; want ErrUnauthorized", err)
		}
		if _, err := c.ID(ctx); !errors.Is(err, api.ErrUnauthorized) {
			t.Fatalf("id without the token: %v; want ErrUnauthorized", err)
		}
	}
	if pins, err := n.Pins(ctx); err != nil || len(pins) != 0 {
		t.Fatalf("after refused publishes the node pins %v (%v); want nothing", pins, err)
	}
	req, _ := http.NewRequest(http.MethodPost, srv.URL+api.Prefix+"gc", nil)
	req.Header.Set("Authorization", "Bearer "+token[:63]) // one character short
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("gc with a truncated token: %d; want 401", resp.StatusCode)
	}

	c := api.NewClient(srv.URL, nil).WithToken(token)
	fn, _, err := folder.Open(dir, folder.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, fn, api.PublishOptions{Name: "press", Plain: true}, nil); err != nil {
		t.Fatalf("publish with the token: %v", err)
	}
	resp, err = http.Get(srv.URL + api.MetricsPath)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics without a token: %d; want 200", resp.StatusCode)
	}
}

// A refusal for lack of disk space keeps its class across the wire (the
// CLI's exit code 9), and is never taken for bad input: here a store whose
// reserve exceeds the disk refuses a publish and a CAR import, through
// the node and through the HTTP API.
func TestNoSpaceKeepsItsClass(t *testing.T) {
	ctx := context.Background()
	s, _ := config.FromProfile("test")
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	// First a CAR to import, from a node with room.
	_, free, _ := setup(t)
	fn, _, err := folder.Open(tree(t), folder.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	res, err := free.Publish(ctx, fn, api.PublishOptions{Name: "press", Plain: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var car bytes.Buffer
	if err := free.Export(ctx, res.CID.String(), &car, nil); err != nil {
		t.Fatal(err)
	}

	st, err := store.Open(filepath.Join(t.TempDir(), "ds"), store.Options{MinFree: 1 << 61})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	n, err := node.New(ctx, node.Config{Settings: s, Identity: key, Offline: true, Store: st})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { n.Close() })
	srv := httptest.NewServer(api.NewHandler(n, nil))
	t.Cleanup(srv.Close)
	c := api.NewClient(srv.URL, nil)
	for _, svc := range []api.Service{n, c} {
		name := "node"
		if svc == api.Service(c) {
			name = "client"
		}
		fn, _, err := folder.Open(tree(t), folder.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		_, perr := svc.Publish(ctx, fn, api.PublishOptions{Name: "press", Plain: true}, nil)
		_, ierr := svc.Import(ctx, bytes.NewReader(car.Bytes()), nil)
		for what, err := range map[string]error{"publish": perr, "import": ierr} {
			if !api.IsNoSpace(err) || errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), "datastore.min_free") {
				t.Errorf("%s: %s: %v; want a no-space error, not invalid input", name, what, err)
			}
		}
	}
	if pins, err := n.Pins(ctx); err != nil || len(pins) != 0 {
		t.Fatalf("pins after the refusals: %+v, %v", pins, err)
	}
	resp, err := http.Post(srv.URL+api.Prefix+"import", "application/vnd.ipld.car", bytes.NewReader(car.Bytes()))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	// A streamed operation reports its error in the stream.
	if !strings.Contains(string(body), `"kind":"no_space"`) {
		t.Fatalf("import over HTTP: %d %s", resp.StatusCode, body)
	}
}

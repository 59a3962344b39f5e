package node_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/node/nodetest"
	"github.com/commons-p2p/commons/pkg/folder"
)

// apiOps are the API's operations (the paths under api.Prefix).
var apiOps = []string{
	"id", "publish", "pin/add", "pin/rm", "pin/ls", "gc", "export", "import", "have",
	"export/libraries", "cat", "ls", "peers", "connect", "bundle/show", "bundle/ls",
	"bundle/history", "bundle/diff", "bundle/fork", "bundle/lineage", "bundle/log",
	"library", "library/ls", "library/include", "follow", "unfollow", "mirror/status",
	"stats", "verify",
}

// recordedRequest is an API request as a client sent it, for the seeds.
type recordedRequest struct {
	op, query, contentType string
	body                   []byte
}

// FuzzAPIRequest sends arbitrary requests (an operation, a query string, a
// content type and a body) to the API of a real node on a real store with
// no network, as the CLI does without a daemon. The API must never panic,
// and bad input must be refused as bad input: every failure has to be a
// classified error (400, 404, 408, 503 or a streamed error with a kind),
// never a 500 or an unclassified error, which would mean an input reached
// a failure the code did not expect. The seeds are the requests the real
// client sends for a session that publishes, inspects, exports, imports,
// pins and collects garbage.
func FuzzAPIRequest(f *testing.F) {
	n, _ := offlineNode(f)
	h := api.NewHandler(n, nil)

	var mu sync.Mutex
	var seeds []recordedRequest
	rec := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		seeds = append(seeds, recordedRequest{strings.TrimPrefix(r.URL.Path, api.Prefix), r.URL.RawQuery, r.Header.Get("Content-Type"), body})
		mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		h.ServeHTTP(w, r)
	})
	srv := httptest.NewServer(rec)
	defer srv.Close()
	c := api.NewClient(srv.URL, srv.Client())
	ctx := context.Background()
	dir := filepath.Join(f.TempDir(), "brick-press")
	nodetest.WriteTree(f, dir, map[string]string{
		"commons.toml":    pressTOML,
		"instructions.md": "# Build\n\n1. Cut the frame.\n",
		"bom.csv":         "part,qty,unit cost,currency\ntube,3,9.50,EUR\n",
	})
	fn, _, err := folder.Open(dir, folder.DefaultOptions())
	if err != nil {
		f.Fatal(err)
	}
	pub, err := c.Publish(ctx, fn, api.PublishOptions{Name: "brick-press"}, nil)
	if err != nil {
		f.Fatal(err)
	}
	root := pub.CID.String()
	var car bytes.Buffer
	steps := []func() error{
		func() error { _, err := c.ID(ctx); return err },
		func() error { _, err := c.Show(ctx, root); return err },
		func() error { _, err := c.Show(ctx, "brick-press"); return err },
		func() error { _, err := c.History(ctx, "brick-press"); return err },
		func() error { _, err := c.Bundles(ctx); return err },
		func() error { _, err := c.Lineage(ctx, root); return err },
		func() error { _, err := c.Diff(ctx, root, root); return err },
		func() error { _, err := c.Ls(ctx, "/ipfs/"+root); return err },
		func() error {
			rc, err := c.Cat(ctx, "/ipfs/"+root+"/instructions.md")
			if err == nil {
				_, err = io.Copy(io.Discard, rc)
				rc.Close()
			}
			return err
		},
		func() error { return c.Export(ctx, root, &car, nil) },
		func() error { _, err := c.Import(ctx, bytes.NewReader(car.Bytes()), nil); return err },
		func() error { _, err := c.Have(ctx); return err },
		func() error { _, err := c.Library(ctx); return err },
		func() error { _, err := c.Libraries(ctx); return err },
		func() error { _, err := c.MirrorStatus(ctx); return err },
		func() error { _, err := c.Stats(ctx); return err },
		func() error { _, err := c.Pins(ctx); return err },
		func() error { return c.Pin(ctx, pub.CID, "press", nil) },
		func() error { _, err := c.Verify(ctx, api.VerifyOptions{}, nil); return err },
		func() error { _, err := c.GC(ctx); return err },
		func() error { _, err := c.Fork(ctx, root, api.ForkOptions{Name: "press-fork"}); return err },
		func() error {
			_, err := c.LogAdd(ctx, "brick-press", api.LogOptions{Text: "Welded the frame."}, nil, nil)
			return err
		},
	}
	for i, step := range steps {
		if err := step(); err != nil {
			f.Fatalf("seed step %d: %v", i, err)
		}
	}
	// Requests the client makes that fail on this node by design.
	_, _ = c.Peers(ctx)
	_ = c.Connect(ctx, "/ip4/127.0.0.1/tcp/1/p2p/12D3KooWDpJ7As7BWAwRMfu1VU2WCqNjvq387JEYKDBj4kx6nXTN")
	_, _ = c.Follow(ctx, "k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8", api.FollowPolicy{})
	_, _ = c.Unfollow(ctx, "nobody")
	_, _ = c.Include(ctx, "brick-press", false)
	_ = c.Unpin(ctx, pub.CID)
	for _, s := range seeds {
		if len(s.body) > 64<<10 {
			continue
		}
		// The bundle's CID differs in every process (each node signs with
		// its own key), and the fuzzer's workers replay the seeds in their
		// own processes: the seeds name it @root.
		f.Add(opIndex(s.op), strings.ReplaceAll(s.query, root, "@root"), s.contentType, s.body)
	}
	f.Add(uint8(0), "arg=%00", "", []byte{})
	f.Add(opIndex("publish"), "opts=%7B%22name%22%3A%22..%2F..%22%7D", "multipart/form-data; boundary=x", []byte("--x\r\nContent-Disposition: form-data; name=\"file\"; filename=\"../../etc\"\r\nContent-Type: application/x-directory\r\n\r\n--x--\r\n"))

	f.Fuzz(func(t *testing.T, op uint8, query, contentType string, body []byte) {
		name := apiOps[int(op)%len(apiOps)]
		query = strings.ReplaceAll(query, "@root", root)
		switch name {
		case "gc", "verify":
			// They read everything stored and are seeded; fuzzing them
			// adds time, not cases.
			if len(query)+len(body) > 0 {
				return
			}
		}
		ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
		defer cancel()
		req := httptest.NewRequestWithContext(ctx, http.MethodPost, api.Prefix+name, bytes.NewReader(body))
		req.URL.RawQuery = query
		if contentType != "" {
			req.Header.Set("Content-Type", contentType)
		}
		w := httptest.NewRecorder()
		h.ServeHTTP(w, req)
		resp := w.Body.Bytes()
		switch {
		case w.Code >= 500 && w.Code != http.StatusServiceUnavailable:
			t.Fatalf("POST %s?%s (%s, %d bytes): status %d: %.400s", name, query, contentType, len(body), w.Code, resp)
		case w.Code >= 400:
			var eb struct{ Error, Kind string }
			if err := json.Unmarshal(resp, &eb); err != nil || eb.Error == "" {
				t.Fatalf("POST %s?%s: status %d without a JSON error: %.400s", name, query, w.Code, resp)
			}
		case w.Header().Get("Content-Type") == "application/x-ndjson":
			sc := bufio.NewScanner(bytes.NewReader(resp))
			sc.Buffer(nil, 1<<20)
			for sc.Scan() {
				var line struct {
					Error *struct{ Error, Kind string } `json:"error"`
				}
				if err := json.Unmarshal(sc.Bytes(), &line); err != nil {
					t.Fatalf("POST %s?%s: a stream line is not JSON: %.200q", name, query, sc.Bytes())
				}
				if line.Error != nil && line.Error.Kind == "" {
					t.Fatalf("POST %s?%s (%s, %d bytes): unclassified error: %s", name, query, contentType, len(body), line.Error.Error)
				}
			}
		}
		if tr := w.Result().Trailer.Get("X-Commons-Error"); tr != "" {
			var eb struct{ Error, Kind string }
			if json.Unmarshal([]byte(tr), &eb) == nil && eb.Kind == "" {
				t.Fatalf("POST %s?%s: unclassified error in the trailer: %s", name, query, eb.Error)
			}
		}
	})
}

func opIndex(op string) uint8 {
	for i, o := range apiOps {
		if o == op {
			return uint8(i)
		}
	}
	return 0
}

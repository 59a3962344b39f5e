package api

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/boxo/files"
	"github.com/ipfs/go-cid"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Prefix is the path under which every API operation lives.
const Prefix = "/api/v1/"

// trailerError carries an error that happens after a byte stream started;
// trailerResult the JSON result of an operation that streams bytes
// (export/libraries).
const (
	trailerError  = "X-Commons-Error"
	trailerResult = "X-Commons-Result"
)

// HandlerOption adds an optional part to the API handler.
type HandlerOption func(*handlerOptions)

type handlerOptions struct {
	metrics prometheus.Gatherer
	token   string
}

// WithMetrics serves the metrics g gathers at GET /metrics, in the
// Prometheus text format (or the format the scraper's Accept header asks
// for). Without it /metrics is not found.
func WithMetrics(g prometheus.Gatherer) HandlerOption {
	return func(o *handlerOptions) { o.metrics = g }
}

// WithToken makes every operation require the header "Authorization:
// Bearer <token>"; a request without it, or with another token, is
// answered 401 and does nothing. GET /metrics, which only reads, stays
// open to a local scraper. An empty token requires nothing (tests that
// serve the handler themselves).
func WithToken(token string) HandlerOption {
	return func(o *handlerOptions) { o.token = token }
}

// MetricsPath is where WithMetrics serves the metrics.
const MetricsPath = "/metrics"

// NewHandler returns the HTTP handler of the API for svc. It must only be
// served on a listener the node's owner controls (loopback by default).
// Requests from browsers are refused: a web page must not be able to drive
// the API through the user's browser (no CORS, and a request carrying an
// Origin header other than the API's own is rejected).
//
// Every operation is a POST to Prefix+op; GET (or any other method) is
// answered 405. The one exception is GET /metrics (see WithMetrics), which
// only reads.
func NewHandler(svc Service, log *slog.Logger, opts ...HandlerOption) http.Handler {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	var o handlerOptions
	for _, opt := range opts {
		opt(&o)
	}
	s := &server{svc: svc, log: log}
	mux := http.NewServeMux()
	if o.metrics != nil {
		// GET patterns also match HEAD; every other method gets 405.
		mux.Handle("GET "+MetricsPath, promhttp.HandlerFor(o.metrics, promhttp.HandlerOpts{
			ErrorLog:      slog.NewLogLogger(log.Handler(), slog.LevelWarn),
			ErrorHandling: promhttp.ContinueOnError,
		}))
	}
	mux.HandleFunc("POST "+Prefix+"id", s.id)
	mux.HandleFunc("POST "+Prefix+"publish", s.publish)
	mux.HandleFunc("POST "+Prefix+"pin/add", s.pinAdd)
	mux.HandleFunc("POST "+Prefix+"pin/rm", s.pinRm)
	mux.HandleFunc("POST "+Prefix+"pin/ls", s.pinLs)
	mux.HandleFunc("POST "+Prefix+"gc", s.gc)
	mux.HandleFunc("POST "+Prefix+"export", s.export)
	mux.HandleFunc("POST "+Prefix+"import", s.importCAR)
	mux.HandleFunc("POST "+Prefix+"have", s.have)
	mux.HandleFunc("POST "+Prefix+"export/libraries", s.exportLibraries)
	mux.HandleFunc("POST "+Prefix+"cat", s.cat)
	mux.HandleFunc("POST "+Prefix+"ls", s.ls)
	mux.HandleFunc("POST "+Prefix+"peers", s.peers)
	mux.HandleFunc("POST "+Prefix+"connect", s.connect)
	mux.HandleFunc("POST "+Prefix+"bundle/show", s.show)
	mux.HandleFunc("POST "+Prefix+"bundle/ls", s.bundles)
	mux.HandleFunc("POST "+Prefix+"bundle/history", s.history)
	mux.HandleFunc("POST "+Prefix+"bundle/diff", s.diff)
	mux.HandleFunc("POST "+Prefix+"bundle/fork", s.fork)
	mux.HandleFunc("POST "+Prefix+"bundle/lineage", s.lineage)
	mux.HandleFunc("POST "+Prefix+"bundle/log", s.logAdd)
	mux.HandleFunc("POST "+Prefix+"library", s.library)
	mux.HandleFunc("POST "+Prefix+"library/ls", s.libraries)
	mux.HandleFunc("POST "+Prefix+"library/include", s.include)
	mux.HandleFunc("POST "+Prefix+"follow", s.follow)
	mux.HandleFunc("POST "+Prefix+"unfollow", s.unfollow)
	mux.HandleFunc("POST "+Prefix+"mirror/status", s.mirrorStatus)
	mux.HandleFunc("POST "+Prefix+"stats", s.stats)
	mux.HandleFunc("POST "+Prefix+"verify", s.verify)
	want := []byte("Bearer " + o.token)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if o := r.Header.Get("Origin"); o != "" && o != "http://"+r.Host {
			writeError(w, http.StatusForbidden, fmt.Errorf("%w: the API does not accept requests from web pages (Origin %q)", ErrInvalid, o))
			return
		}
		if o.token != "" && strings.HasPrefix(r.URL.Path, Prefix) &&
			subtle.ConstantTimeCompare([]byte(r.Header.Get("Authorization")), want) != 1 {
			writeError(w, http.StatusUnauthorized, fmt.Errorf("%w: missing or wrong API token (the commons CLI reads it from the repo's %s file)", ErrUnauthorized, TokenFile))
			return
		}
		mux.ServeHTTP(w, r)
	})
}

type server struct {
	svc Service
	log *slog.Logger
}

// errorBody is the JSON of a failed request.
type errorBody struct {
	Error string `json:"error"`
	Kind  string `json:"kind,omitempty"`
}

func kindOf(err error) (string, int) {
	switch {
	case IsNoSpace(err):
		// First: a refusal for lack of space may have been wrapped by a
		// step that calls everything else invalid input.
		return "no_space", http.StatusInsufficientStorage
	case errors.Is(err, ErrUnauthorized):
		return "unauthorized", http.StatusUnauthorized
	case errors.Is(err, ErrInvalid):
		return "invalid", http.StatusBadRequest
	case errors.Is(err, ErrNotFound):
		return "not_found", http.StatusNotFound
	case errors.Is(err, ErrNotPinned):
		return "not_pinned", http.StatusNotFound
	case errors.Is(err, ErrOffline):
		return "offline", http.StatusServiceUnavailable
	case errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		return "cancelled", http.StatusRequestTimeout
	}
	return "", http.StatusInternalServerError
}

func writeError(w http.ResponseWriter, status int, err error) {
	kind, st := kindOf(err)
	if status == 0 {
		status = st
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(errorBody{Error: err.Error(), Kind: kind})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

func argCID(r *http.Request) (cid.Cid, error) {
	s := r.URL.Query().Get("arg")
	c, err := cid.Decode(s)
	if err != nil {
		return cid.Undef, fmt.Errorf("%w: %q is not a CID: %v", ErrInvalid, s, err)
	}
	return c, nil
}

// drainFor and drainMax bound what is read and dropped of an upload after
// its operation failed.
const (
	drainFor = 10 * time.Second
	drainMax = 1 << 30
)

// streamLine is one line of a streamed response.
type streamLine struct {
	Progress *Progress       `json:"progress,omitempty"`
	Result   json.RawMessage `json:"result,omitempty"`
	Error    *errorBody      `json:"error,omitempty"`
}

// stream runs op, sending its progress as NDJSON lines (at most ~10 a
// second) and then its result or error.
func stream(w http.ResponseWriter, r *http.Request, op func(ctx context.Context, progress func(Progress)) (any, error)) {
	// Progress lines go out while the request body (a folder, a CAR) is
	// still being read; HTTP/1 needs full duplex for that.
	_ = http.NewResponseController(w).EnableFullDuplex()
	w.Header().Set("Content-Type", "application/x-ndjson")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusOK)
	fl, _ := w.(http.Flusher)
	if fl != nil {
		// The status now, so that the client has its answer while it
		// still sends: if the operation then fails, the error line
		// follows on a response it is already reading.
		fl.Flush()
	}
	var mu sync.Mutex
	enc := json.NewEncoder(w)
	var last time.Time
	progress := func(p Progress) {
		mu.Lock()
		defer mu.Unlock()
		if time.Since(last) < 100*time.Millisecond {
			return
		}
		last = time.Now()
		_ = enc.Encode(streamLine{Progress: &p})
		if fl != nil {
			fl.Flush()
		}
	}
	res, err := op(r.Context(), progress)
	mu.Lock()
	defer mu.Unlock()
	if err != nil {
		kind, _ := kindOf(err)
		_ = enc.Encode(streamLine{Error: &errorBody{Error: err.Error(), Kind: kind}})
		if fl != nil {
			fl.Flush()
		}
		// An operation that failed before reading its whole upload (a
		// publish refused for lack of space) leaves the rest unread.
		// Closing the body then resets the connection, and a client
		// still sending sees "connection reset" instead of the error
		// above. So the rest is read and dropped, for a while: a local
		// CLI finishes sending a large folder in seconds.
		rc := http.NewResponseController(w)
		_ = rc.SetReadDeadline(time.Now().Add(drainFor))
		_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, drainMax))
		_ = r.Body.Close()
		return
	}
	// Drain what a successful operation left (net/http would trip over
	// the full-duplex body when it reads the next request), then close.
	_, _ = io.Copy(io.Discard, io.LimitReader(r.Body, 256<<10))
	_ = r.Body.Close()
	b, merr := json.Marshal(res)
	if merr != nil {
		_ = enc.Encode(streamLine{Error: &errorBody{Error: merr.Error()}})
		return
	}
	_ = enc.Encode(streamLine{Result: b})
}

func (s *server) id(w http.ResponseWriter, r *http.Request) {
	info, err := s.svc.ID(r.Context())
	if err != nil {
		writeError(w, 0, err)
		return
	}
	writeJSON(w, info)
}

func (s *server) publish(w http.ResponseWriter, r *http.Request) {
	ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || ct != "multipart/form-data" || params["boundary"] == "" {
		writeError(w, http.StatusBadRequest, fmt.Errorf("%w: publish wants a multipart/form-data body", ErrInvalid))
		return
	}
	var opts PublishOptions
	if err := queryJSON(r, &opts); err != nil {
		writeError(w, 0, err)
		return
	}
	name, node, err := upload(r, params["boundary"])
	if err != nil {
		writeError(w, 0, err)
		return
	}
	if opts.Name == "" {
		opts.Name = name
	}
	stream(w, r, func(ctx context.Context, p func(Progress)) (any, error) {
		return s.svc.Publish(ctx, node, opts, p)
	})
}

// upload reads a multipart folder upload. The client wraps the folder in a
// one-entry directory so that its name travels with it.
func upload(r *http.Request, boundary string) (string, files.Node, error) {
	dir, err := files.NewFileFromPartReader(multipart.NewReader(r.Body, boundary), "multipart/form-data")
	if err != nil {
		return "", nil, fmt.Errorf("%w: read upload: %v", ErrInvalid, err)
	}
	it := dir.Entries()
	if !it.Next() {
		err := it.Err()
		if err == nil {
			err = errors.New("the upload is empty")
		}
		return "", nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	return it.Name(), it.Node(), nil
}

// queryJSON decodes the "opts" query parameter, if any, into v.
func queryJSON(r *http.Request, v any) error {
	o := r.URL.Query().Get("opts")
	if o == "" {
		return nil
	}
	if err := json.Unmarshal([]byte(o), v); err != nil {
		return fmt.Errorf("%w: options: %v", ErrInvalid, err)
	}
	return nil
}

// reply writes v, or err as an error response.
func reply(w http.ResponseWriter, v any, err error) {
	if err != nil {
		writeError(w, 0, err)
		return
	}
	writeJSON(w, v)
}

func (s *server) show(w http.ResponseWriter, r *http.Request) {
	info, err := s.svc.Show(r.Context(), r.URL.Query().Get("arg"))
	reply(w, info, err)
}

func (s *server) bundles(w http.ResponseWriter, r *http.Request) {
	list, err := s.svc.Bundles(r.Context())
	reply(w, list, err)
}

func (s *server) history(w http.ResponseWriter, r *http.Request) {
	h, err := s.svc.History(r.Context(), r.URL.Query().Get("arg"))
	reply(w, h, err)
}

func (s *server) diff(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	d, err := s.svc.Diff(r.Context(), q.Get("old"), q.Get("new"))
	reply(w, d, err)
}

func (s *server) fork(w http.ResponseWriter, r *http.Request) {
	var opts ForkOptions
	if err := queryJSON(r, &opts); err != nil {
		writeError(w, 0, err)
		return
	}
	res, err := s.svc.Fork(r.Context(), r.URL.Query().Get("arg"), opts)
	reply(w, res, err)
}

func (s *server) lineage(w http.ResponseWriter, r *http.Request) {
	l, err := s.svc.Lineage(r.Context(), r.URL.Query().Get("arg"))
	reply(w, l, err)
}

func (s *server) logAdd(w http.ResponseWriter, r *http.Request) {
	var opts LogOptions
	if err := queryJSON(r, &opts); err != nil {
		writeError(w, 0, err)
		return
	}
	var att files.Directory
	if ct, params, err := mime.ParseMediaType(r.Header.Get("Content-Type")); err == nil && ct == "multipart/form-data" {
		_, node, err := upload(r, params["boundary"])
		if err != nil {
			writeError(w, 0, err)
			return
		}
		d, ok := node.(files.Directory)
		if !ok {
			writeError(w, 0, fmt.Errorf("%w: attachments must be sent as a folder", ErrInvalid))
			return
		}
		att = d
	}
	name := r.URL.Query().Get("arg")
	stream(w, r, func(ctx context.Context, p func(Progress)) (any, error) {
		return s.svc.LogAdd(ctx, name, opts, att, p)
	})
}

func (s *server) pinAdd(w http.ResponseWriter, r *http.Request) {
	c, err := argCID(r)
	if err != nil {
		writeError(w, 0, err)
		return
	}
	stream(w, r, func(ctx context.Context, p func(Progress)) (any, error) {
		return struct{}{}, s.svc.Pin(ctx, c, r.URL.Query().Get("name"), p)
	})
}

func (s *server) pinRm(w http.ResponseWriter, r *http.Request) {
	c, err := argCID(r)
	if err != nil {
		writeError(w, 0, err)
		return
	}
	if err := s.svc.Unpin(r.Context(), c); err != nil {
		writeError(w, 0, err)
		return
	}
	writeJSON(w, struct{}{})
}

func (s *server) pinLs(w http.ResponseWriter, r *http.Request) {
	pins, err := s.svc.Pins(r.Context())
	if err != nil {
		writeError(w, 0, err)
		return
	}
	writeJSON(w, pins)
}

func (s *server) gc(w http.ResponseWriter, r *http.Request) {
	res, err := s.svc.GC(r.Context())
	if err != nil {
		writeError(w, 0, err)
		return
	}
	writeJSON(w, res)
}

// trailerWriter delays the response header until the first byte, so that an
// error before any output is a proper error response.
type trailerWriter struct {
	w       http.ResponseWriter
	started bool
	ctype   string
	result  bool // a result trailer follows the bytes
}

func (t *trailerWriter) Write(p []byte) (int, error) {
	if !t.started {
		t.started = true
		t.w.Header().Set("Content-Type", t.ctype)
		if t.result {
			t.w.Header().Set("Trailer", trailerError+", "+trailerResult)
		} else {
			t.w.Header().Set("Trailer", trailerError)
		}
		t.w.WriteHeader(http.StatusOK)
	}
	return t.w.Write(p)
}

func (t *trailerWriter) finish(err error) {
	if err == nil {
		if !t.started {
			t.Write(nil)
		}
		return
	}
	if !t.started {
		writeError(t.w, 0, err)
		return
	}
	kind, _ := kindOf(err)
	b, _ := json.Marshal(errorBody{Error: err.Error(), Kind: kind})
	t.w.Header().Set(trailerError, string(b))
}

func (s *server) export(w http.ResponseWriter, r *http.Request) {
	tw := &trailerWriter{w: w, ctype: "application/vnd.ipld.car; version=1"}
	tw.finish(s.svc.Export(r.Context(), r.URL.Query().Get("arg"), tw, nil))
}

func (s *server) importCAR(w http.ResponseWriter, r *http.Request) {
	var opts ImportOptions
	if err := queryJSON(r, &opts); err != nil {
		writeError(w, 0, err)
		return
	}
	stream(w, r, func(ctx context.Context, p func(Progress)) (any, error) {
		return s.svc.ImportCAR(ctx, r.Body, opts, p)
	})
}

// maxHaveBytes bounds a have-file in a request or reply; the format's own
// limit (package sneakernet) is lower.
const maxHaveBytes = 16 << 20

func (s *server) have(w http.ResponseWriter, r *http.Request) {
	b, err := s.svc.Have(r.Context())
	if err != nil {
		writeError(w, 0, err)
		return
	}
	w.Header().Set("Content-Type", "application/cbor")
	_, _ = w.Write(b)
}

// exportLibraries takes the have-file (if any) as the request body and
// streams the CAR; its result follows in the X-Commons-Result trailer.
func (s *server) exportLibraries(w http.ResponseWriter, r *http.Request) {
	var opts LibraryExportOptions
	if err := queryJSON(r, &opts); err != nil {
		writeError(w, 0, err)
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxHaveBytes+1))
	if err != nil {
		writeError(w, 0, fmt.Errorf("%w: read the have-file: %v", ErrInvalid, err))
		return
	}
	if len(body) > maxHaveBytes {
		writeError(w, 0, fmt.Errorf("%w: the have-file is larger than %d bytes", ErrInvalid, maxHaveBytes))
		return
	}
	if len(body) > 0 {
		opts.Have = body
	}
	tw := &trailerWriter{w: w, ctype: "application/vnd.ipld.car; version=1", result: true}
	res, err := s.svc.ExportLibraries(r.Context(), opts, tw, nil)
	if err == nil {
		if b, merr := json.Marshal(res); merr == nil {
			if !tw.started {
				tw.Write(nil)
			}
			w.Header().Set(trailerResult, string(b))
		}
	}
	tw.finish(err)
}

func (s *server) cat(w http.ResponseWriter, r *http.Request) {
	rc, err := s.svc.Cat(r.Context(), r.URL.Query().Get("arg"))
	if err != nil {
		writeError(w, 0, err)
		return
	}
	defer rc.Close()
	tw := &trailerWriter{w: w, ctype: "application/octet-stream"}
	_, err = io.Copy(tw, rc)
	tw.finish(err)
}

func (s *server) ls(w http.ResponseWriter, r *http.Request) {
	entries, err := s.svc.Ls(r.Context(), r.URL.Query().Get("arg"))
	if err != nil {
		writeError(w, 0, err)
		return
	}
	writeJSON(w, entries)
}

func (s *server) peers(w http.ResponseWriter, r *http.Request) {
	ps, err := s.svc.Peers(r.Context())
	if err != nil {
		writeError(w, 0, err)
		return
	}
	writeJSON(w, ps)
}

func (s *server) connect(w http.ResponseWriter, r *http.Request) {
	if err := s.svc.Connect(r.Context(), r.URL.Query().Get("arg")); err != nil {
		writeError(w, 0, err)
		return
	}
	writeJSON(w, struct{}{})
}

func (s *server) library(w http.ResponseWriter, r *http.Request) {
	info, err := s.svc.Library(r.Context())
	reply(w, info, err)
}

func (s *server) libraries(w http.ResponseWriter, r *http.Request) {
	list, err := s.svc.Libraries(r.Context())
	reply(w, list, err)
}

func (s *server) include(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	info, err := s.svc.Include(r.Context(), q.Get("arg"), q.Get("remove") == "true")
	reply(w, info, err)
}

func (s *server) follow(w http.ResponseWriter, r *http.Request) {
	var p FollowPolicy
	if err := queryJSON(r, &p); err != nil {
		writeError(w, 0, err)
		return
	}
	info, err := s.svc.Follow(r.Context(), r.URL.Query().Get("arg"), p)
	reply(w, info, err)
}

func (s *server) unfollow(w http.ResponseWriter, r *http.Request) {
	res, err := s.svc.Unfollow(r.Context(), r.URL.Query().Get("arg"))
	reply(w, res, err)
}

func (s *server) mirrorStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.svc.MirrorStatus(r.Context())
	reply(w, st, err)
}

func (s *server) stats(w http.ResponseWriter, r *http.Request) {
	st, err := s.svc.Stats(r.Context())
	reply(w, st, err)
}

func (s *server) verify(w http.ResponseWriter, r *http.Request) {
	var opts VerifyOptions
	if err := queryJSON(r, &opts); err != nil {
		writeError(w, 0, err)
		return
	}
	stream(w, r, func(ctx context.Context, p func(Progress)) (any, error) {
		return s.svc.Verify(ctx, opts, p)
	})
}

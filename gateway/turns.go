package gateway

import (
	"bufio"
	"context"
	"errors"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/prometheus/client_golang/prometheus"
)

// turns makes requests for stored content take turns to be prepared: at
// most a fixed number at once are resolving their path and reading blocks
// up to their first byte, and the others wait for a turn. A request gives
// its turn back as soon as it starts answering, so a client that reads its
// download slowly holds none.
//
// Why: every request boxo admits has gateway.retrieval_timeout to send its
// first byte. When more requests arrive than the machine can serve within
// that time (1,000 clients on two busy cores, TestE2EGatewayLoad), they all
// share the CPU, all slow down together, and requests for content the node
// has are answered 504 "no providers found", or cut after their header,
// though nothing is missing. Waiting for a turn happens before boxo's timer
// starts, so an admitted request has its full budget, and overload shows as
// waiting, then as a 429 when the wait is too long: the answer the gateway
// specs give for it.
//
// Requests whose root block is not stored go straight to boxo: they wait on
// the network, not on the machine, and must not take the turns of stored
// content while they do (a CID nobody has holds its request for the whole
// retrieval timeout).
type turns struct {
	slots      chan struct{}
	wait       time.Duration // longest wait for a turn before 429
	maxWaiting int64         // beyond this many waiting, 429 at once
	waiting    atomic.Int64
	stored     func(ctx context.Context, c cid.Cid) bool

	waitingGauge prometheus.Gauge
	refused      prometheus.Counter
}

// turnRetryAfter is the Retry-After of a request that found no turn, in
// seconds: the queue moves in seconds, not in boxo's minute.
const turnRetryAfter = "5"

func newTurns(n int, wait time.Duration, maxWaiting int, stored func(context.Context, cid.Cid) bool, reg prometheus.Registerer) (*turns, error) {
	t := &turns{
		slots:      make(chan struct{}, n),
		wait:       wait,
		maxWaiting: int64(maxWaiting),
		stored:     stored,
		waitingGauge: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "commons_gateway_turn_waiting",
			Help: "Requests for stored content waiting for their turn to be prepared.",
		}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "commons_gateway_turn_refused_total",
			Help: "Requests for stored content answered 429 because no turn came in time.",
		}),
	}
	// A second gateway on the same registry (boxo allows it for its own
	// metrics) shares the first one's collectors.
	var err error
	if t.waitingGauge, err = register(reg, t.waitingGauge); err != nil {
		return nil, err
	}
	if t.refused, err = register(reg, t.refused); err != nil {
		return nil, err
	}
	return t, nil
}

func register[C prometheus.Collector](reg prometheus.Registerer, c C) (C, error) {
	err := reg.Register(c)
	if are, ok := errors.AsType[prometheus.AlreadyRegisteredError](err); ok {
		if existing, ok := are.ExistingCollector.(C); ok {
			return existing, nil
		}
	}
	return c, err
}

// wrap makes the requests next serves take turns.
func (t *turns) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		root, ok := ipfsRoot(r.URL.Path)
		if !ok || !t.stored(r.Context(), root) {
			next.ServeHTTP(w, r)
			return
		}
		if !t.take(r.Context()) {
			if r.Context().Err() == nil {
				t.refused.Inc()
				w.Header().Set("Retry-After", turnRetryAfter)
				w.Header().Set("Cache-Control", "no-store")
				http.Error(w, "Too many requests: the gateway is busy. Please retry after "+turnRetryAfter+" seconds.", http.StatusTooManyRequests)
			}
			return
		}
		tw := &turnWriter{ResponseWriter: w}
		tw.release = sync.OnceFunc(func() { <-t.slots })
		defer tw.release()
		next.ServeHTTP(tw, r)
	})
}

// take waits for a turn, at most t.wait, and reports whether it got one.
func (t *turns) take(ctx context.Context) bool {
	select {
	case t.slots <- struct{}{}:
		return true
	default:
	}
	defer t.waiting.Add(-1)
	if t.waiting.Add(1) > t.maxWaiting {
		return false
	}
	t.waitingGauge.Inc()
	defer t.waitingGauge.Dec()
	timer := time.NewTimer(t.wait)
	defer timer.Stop()
	select {
	case t.slots <- struct{}{}:
		return true
	case <-timer.C:
		return false
	case <-ctx.Done():
		return false
	}
}

// ipfsRoot returns the root CID of an /ipfs/<cid>[/...] path.
func ipfsRoot(p string) (cid.Cid, bool) {
	rest, ok := strings.CutPrefix(p, "/ipfs/")
	if !ok {
		return cid.Undef, false
	}
	root, _, _ := strings.Cut(rest, "/")
	c, err := cid.Decode(root)
	if err != nil {
		return cid.Undef, false
	}
	return c, true
}

// turnWriter gives its request's turn back at the first byte of the answer
// (or its header, or a flush).
type turnWriter struct {
	http.ResponseWriter
	release func()
}

func (w *turnWriter) WriteHeader(code int) {
	if code >= 200 {
		w.release()
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *turnWriter) Write(p []byte) (int, error) {
	w.release()
	return w.ResponseWriter.Write(p)
}

// Flush implements http.Flusher when the wrapped writer does.
func (w *turnWriter) Flush() {
	w.release()
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack implements http.Hijacker when the wrapped writer does: boxo cuts a
// response that stalls after its header by hijacking the connection.
func (w *turnWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	w.release()
	return http.NewResponseController(w.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController reach the wrapped writer.
func (w *turnWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

package gateway

import (
	"context"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// value reads a gauge's or counter's value.
func value(t *testing.T, m prometheus.Metric) float64 {
	t.Helper()
	var d dto.Metric
	if err := m.Write(&d); err != nil {
		t.Fatal(err)
	}
	if d.Gauge != nil {
		return d.Gauge.GetValue()
	}
	return d.Counter.GetValue()
}

// TestTurns runs turns.wrap around a handler the test steps through, in a
// synctest bubble so that the wait for a turn expires in virtual time.
func TestTurns(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		stored, err := cid.NewPrefixV1(cid.Raw, mh.SHA2_256).Sum([]byte("stored"))
		if err != nil {
			t.Fatal(err)
		}
		absent, err := cid.NewPrefixV1(cid.Raw, mh.SHA2_256).Sum([]byte("absent"))
		if err != nil {
			t.Fatal(err)
		}
		const wait = 10 * time.Second
		tn, err := newTurns(1, wait, 1, func(_ context.Context, c cid.Cid) bool { return c.Equals(stored) }, prometheus.NewRegistry())
		if err != nil {
			t.Fatal(err)
		}

		// The handler tells which request entered it, then waits for
		// the test to let it send its header, then to let it end.
		var mu sync.Mutex
		entered := map[string]bool{}
		header, end := map[string]chan struct{}{}, map[string]chan struct{}{}
		for _, id := range []string{"a", "b", "n"} {
			header[id], end[id] = make(chan struct{}), make(chan struct{})
		}
		h := tn.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			id := r.URL.Query().Get("id")
			mu.Lock()
			entered[id] = true
			mu.Unlock()
			<-header[id]
			w.WriteHeader(http.StatusOK)
			<-end[id]
			_, _ = w.Write([]byte(id))
		}))
		serve := func(ctx context.Context, root cid.Cid, id string) (*httptest.ResponseRecorder, chan struct{}) {
			rec := httptest.NewRecorder()
			req := httptest.NewRequestWithContext(ctx, http.MethodGet, "/ipfs/"+root.String()+"/file?id="+id, nil)
			done := make(chan struct{})
			go func() {
				defer close(done)
				h.ServeHTTP(rec, req)
			}()
			synctest.Wait()
			return rec, done
		}
		in := func(id string) bool {
			mu.Lock()
			defer mu.Unlock()
			return entered[id]
		}

		// A takes the only turn; B, for stored content too, waits.
		_, aDone := serve(t.Context(), stored, "a")
		bRec, bDone := serve(t.Context(), stored, "b")
		if !in("a") || in("b") {
			t.Fatalf("entered %v: want a, with b waiting", entered)
		}
		if n := value(t, tn.waitingGauge); n != 1 {
			t.Errorf("waiting gauge %v, want 1", n)
		}
		// Content that is not stored does not wait for a turn.
		_, nDone := serve(t.Context(), absent, "n")
		if !in("n") {
			t.Error("a request for content not stored waited for a turn")
		}
		close(header["n"])
		close(end["n"])
		<-nDone
		// Beyond maxWaiting (1), a request is refused at once.
		cRec, cDone := serve(t.Context(), stored, "c")
		<-cDone
		if cRec.Code != http.StatusTooManyRequests || cRec.Header().Get("Retry-After") != turnRetryAfter {
			t.Errorf("a request beyond the queue: HTTP %d, Retry-After %q; want 429 and %s", cRec.Code, cRec.Header().Get("Retry-After"), turnRetryAfter)
		}

		// A gives its turn back with its header, before its body: B
		// goes in while A is still answering.
		close(header["a"])
		synctest.Wait()
		if !in("b") {
			t.Fatal("b did not get the turn when a sent its header")
		}
		close(end["a"])
		<-aDone

		// B holds the turn. E's client goes away while it waits: it is
		// answered nothing. D waits the full wait, then is refused.
		ctx, cancel := context.WithCancel(t.Context())
		eRec, eDone := serve(ctx, stored, "e")
		if n := value(t, tn.waitingGauge); n != 1 {
			t.Errorf("waiting gauge %v, want 1", n)
		}
		cancel()
		<-eDone
		if eRec.Body.Len() != 0 || eRec.Header().Get("Retry-After") != "" {
			t.Errorf("a request whose client went away got an answer: %q", eRec.Body)
		}
		start := time.Now()
		dRec, dDone := serve(t.Context(), stored, "d")
		<-dDone
		if waited := time.Since(start); dRec.Code != http.StatusTooManyRequests || waited != wait {
			t.Errorf("a request that found no turn: HTTP %d after %s; want 429 after %s", dRec.Code, waited, wait)
		}
		if n := value(t, tn.refused); n != 2 {
			t.Errorf("refused counter %v, want 2", n)
		}
		if n := value(t, tn.waitingGauge); n != 0 {
			t.Errorf("waiting gauge %v, want 0", n)
		}

		close(header["b"])
		close(end["b"])
		<-bDone
		if bRec.Code != http.StatusOK || bRec.Body.String() != "b" {
			t.Errorf("b: HTTP %d %q", bRec.Code, bRec.Body)
		}
		// The turn is free again.
		header["f"], end["f"] = make(chan struct{}), make(chan struct{})
		fRec, fDone := serve(t.Context(), stored, "f")
		if !in("f") {
			t.Fatal("the turn was not given back")
		}
		close(header["f"])
		close(end["f"])
		<-fDone
		if fRec.Code != http.StatusOK {
			t.Errorf("f: HTTP %d", fRec.Code)
		}
	})
}

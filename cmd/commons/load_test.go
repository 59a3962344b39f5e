package main

// The gateway under load and under slow clients, against the real daemon
// on loopback: 1,000 closed-loop clients for 60 s, then 2,000 slowloris
// connections (headers dribbled, responses never read, bodies dribbled)
// while honest clients keep fetching. The daemon's memory, descriptors and
// goroutines are read from /proc and its /metrics throughout.

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	carv2 "github.com/ipld/go-car/v2"
	"github.com/multiformats/go-multihash"

	"github.com/commons-p2p/commons/gateway/api"
)

// The load test's shape. The bounds are generous on purpose: they catch a
// leak or an unbounded queue (memory growing with the connections or the
// requests), not a slow machine.
const (
	loadClients   = 1000
	loadDuration  = 60 * time.Second // after the ramp
	loadRamp      = 5 * time.Second
	loadRampSteps = 50
	// loadRequestTimeout bounds every request of the test: a request that
	// takes longer has hung, which is a failure. It is three times the
	// retrieval timeout, which a request for a missing CID waits in full.
	loadRequestTimeout = 90 * time.Second
	// loadRSSBound is the most resident memory the daemon may use at any
	// sampled moment of the test (idle it uses about 70 MiB, under this
	// load 200–450 MiB).
	loadRSSBound = 1 << 30
	// Back to idle: at most this many descriptors and goroutines above
	// the daemon's idle level, once the clients have gone.
	loadFDSlack        = 30
	loadGoroutineSlack = 150
	settleDeadline     = 60 * time.Second

	slowDribblers   = 1500 // send a request line, then a header byte at a time
	slowBigHeaders  = 300  // of the dribblers: send 32 KiB of header lines first
	slowStalled     = 300  // send whole requests, never read the answers
	slowBodies      = 200  // dribble a request body: half to the gateway, half to the API
	slowTick        = 500 * time.Millisecond
	slowDialers     = 32
	slowPhaseLimit  = 120 * time.Second // the server must have closed every slow connection by then
	honestKeepAlive = 40
	honestNewConn   = 10
	honestAPI       = 2
)

// TestE2EGatewayLoad publishes a bundle on a real daemon and holds 1,000
// concurrent gateway clients, each a closed loop on its own keep-alive
// connection, for 60 s over a mix of what users fetch. Any status but the
// expected one (or a deliberate 429), any transport error and any wrong body
// fails it; the daemon's resident memory must stay under loadRSSBound and
// its descriptors and goroutines must return to their idle level once the
// clients have gone. Then 2,000 slowloris connections are opened while
// honest clients keep fetching: every honest request must complete with the
// right bytes, and the server must close every slow connection by itself
// (header timeout, body timeout, stalled-write timeout) while the test still
// holds its end open.
//
// It does not call t.Parallel: it is the one heavy test of the package and
// its figures mean something only when it has the machine (the parallel
// e2e tests start after it has finished).
func TestE2EGatewayLoad(t *testing.T) {
	checkNofile(t, "test process", os.Getpid(), 2*(loadClients+slowDribblers+slowStalled+slowBodies))

	r := newRepo(t, "load")
	src := filepath.Join(t.TempDir(), "Load Rig")
	big := make([]byte, 1<<20)
	rng := rand.New(rand.NewPCG(7, 11))
	for i := range big {
		big[i] = byte(rng.Uint32())
	}
	small := []byte("# Load rig\n\nA frame that holds a gateway under load.\n\n1. Cut.\n2. Weld.\n")
	writeFiles(t, src, map[string][]byte{
		"commons.toml":    []byte(strings.Replace(e2eTOML, `title = "Cargo bike frame"`, `title = "Load test rig"`, 1)),
		"instructions.md": small,
		"bom.csv":         []byte("part,qty,unit,unit cost,currency,supplier\nsteel tube 28x1.5,6,m,4.20,EUR,Acme\n"),
		"cad/frame.bin":   big,
		"cad/notes.txt":   []byte("cut list\n"),
	})
	// The daemon runs with the default retrieval timeout (30 s), not the
	// test profile's 10 s: the figures are those of a gateway as deployed,
	// and on a machine shared with other work a request may lose more
	// than 10 s to CPU starvation alone.
	r.setConfig("gateway", "retrieval_timeout", "'30s'")
	d := r.start()
	pid := d.cmd.Process.Pid
	checkNofile(t, "daemon", pid, loadClients+slowDribblers+slowStalled+slowBodies+honestKeepAlive+honestNewConn+100)
	root := r.publish(src).CID

	var smallCID cid.Cid
	for _, e := range decode[[]api.Entry](t, r.ok("ls", "--json", root.String())) {
		if e.Name == "instructions.md" {
			smallCID = e.CID
		}
	}
	if smallCID.Prefix().Codec != cid.Raw {
		t.Fatalf("instructions.md is %s, want a single raw block", smallCID)
	}
	carBytes := baselineCAR(t, d.gateway+"/ipfs/"+root.String()+"?format=car", root)

	gw := d.gateway
	rs := root.String()
	targets := []*loadTarget{
		{name: "small file", clients: 200, url: gw + "/ipfs/" + rs + "/instructions.md", status: 200, body: small},
		{name: "1 MiB file", clients: 100, url: gw + "/ipfs/" + rs + "/cad/frame.bin", status: 200, body: big},
		{name: "dir listing", clients: 100, url: gw + "/ipfs/" + rs + "/cad/", status: 200, contains: []string{"frame.bin", "notes.txt"}},
		{name: "bundle page", clients: 150, url: gw + "/bundles/" + rs + "/", status: 200, contains: []string{"Load test rig", "instructions.md"}},
		{name: "CAR", clients: 100, url: gw + "/ipfs/" + rs + "?format=car", status: 200, body: carBytes},
		{name: "raw block", clients: 150, url: gw + "/ipfs/" + smallCID.String() + "?format=raw", status: 200, body: small},
		{name: "HEAD 1 MiB", clients: 100, method: http.MethodHead, url: gw + "/ipfs/" + rs + "/cad/frame.bin", status: 200, length: int64(len(big))},
		// A CID nobody has: the daemon is online but alone, so the
		// request waits gateway.retrieval_timeout and is answered 504;
		// it never hangs.
		{name: "missing CID", clients: 50, missing: true, status: http.StatusGatewayTimeout},
		// The same asked with only-if-cached is answered at once.
		{name: "missing, only-if-cached", clients: 50, missing: true, onlyIfCached: true, status: http.StatusPreconditionFailed},
	}
	total := 0
	for _, tg := range targets {
		total += tg.clients
		tg.digest = sha256.Sum256(tg.body)
	}
	if total != loadClients {
		t.Fatalf("the targets have %d clients, want %d", total, loadClients)
	}

	// The daemon at rest: start its sampler, let it settle, read its level.
	mon := startMonitor(t, pid, d.api)
	idle := mon.settle(t, 0, 0)
	t.Logf("daemon idle: RSS %.1f MiB, %d fds, %d goroutines; fds: %s", inMiB(idle.rss), idle.fds, idle.goroutines, fdKinds(pid))

	t.Run("load", func(t *testing.T) {
		runLoad(t, targets, mon, idle)
	})
	t.Run("slowloris", func(t *testing.T) {
		runSlowloris(t, d, root, small, big, mon, idle)
	})
}

// checkNofile fails the test unless process pid may open at least need
// files (the soft RLIMIT_NOFILE, which Go raises to the hard limit when a
// Go program starts).
func checkNofile(t *testing.T, who string, pid, need int) {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/limits", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if !strings.HasPrefix(l, "Max open files") {
			continue
		}
		f := strings.Fields(strings.TrimPrefix(l, "Max open files"))
		soft, err := strconv.Atoi(f[0])
		if err != nil && f[0] != "unlimited" {
			t.Fatalf("%s: cannot read its open files limit from %q", who, l)
		}
		if f[0] != "unlimited" && soft < need {
			t.Fatalf("%s (pid %d) may open %d files, the test needs %d: raise the hard limit (ulimit -Hn)", who, pid, soft, need)
		}
		t.Logf("%s: open files limit %s (needs %d)", who, f[0], need)
		return
	}
	t.Fatalf("%s: no open files limit in /proc/%d/limits", who, pid)
}

// baselineCAR fetches the CAR once, checks that its root is root and that
// every block hashes to its CID, and returns its bytes: every response under
// load must be the same bytes.
func baselineCAR(t *testing.T, u string, root cid.Cid) []byte {
	t.Helper()
	status, b := httpGet(t, u)
	if status != 200 {
		t.Fatalf("GET %s: HTTP %d", u, status)
	}
	br, err := carv2.NewBlockReader(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("the bundle's CAR: %v", err)
	}
	if len(br.Roots) != 1 || !br.Roots[0].Equals(root) {
		t.Fatalf("the bundle's CAR has roots %v, want %s", br.Roots, root)
	}
	blocks := 0
	for ; blocks < 1_000_000; blocks++ {
		blk, err := br.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("the bundle's CAR, block %d: %v", blocks, err)
		}
		want, err := blk.Cid().Prefix().Sum(blk.RawData())
		if err != nil || !want.Equals(blk.Cid()) {
			t.Fatalf("the bundle's CAR, block %d: %s does not hash to its CID (%v)", blocks, blk.Cid(), err)
		}
	}
	if blocks < 3 {
		t.Fatalf("the bundle's CAR holds %d blocks", blocks)
	}
	return b
}

// loadTarget is one kind of request and what its answer must be.
type loadTarget struct {
	name         string
	clients      int
	method       string // "" is GET
	url          string
	missing      bool // a fresh random CID for every request, instead of url
	onlyIfCached bool
	status       int
	body         []byte // the exact body, if not nil
	digest       [32]byte
	contains     []string // or strings the body must hold
	length       int64    // HEAD: the Content-Length

	mu        sync.Mutex
	latencies []time.Duration // of the answers with the expected status
	codes     map[int]int
	bytes     int64
}

func (tg *loadTarget) record(code int, took time.Duration, n int64) {
	tg.mu.Lock()
	defer tg.mu.Unlock()
	if tg.codes == nil {
		tg.codes = map[int]int{}
	}
	tg.codes[code]++
	tg.bytes += n
	if code == tg.status {
		tg.latencies = append(tg.latencies, took)
	}
}

// request builds the next request of a client.
func (tg *loadTarget) request(ctx context.Context, gw string, rng *rand.Rand) (*http.Request, error) {
	u := tg.url
	if tg.missing {
		var seed [32]byte
		for i := range seed {
			seed[i] = byte(rng.Uint32())
		}
		mh, err := multihash.Sum(seed[:], multihash.SHA2_256, -1)
		if err != nil {
			return nil, err
		}
		u = gw + "/ipfs/" + cid.NewCidV1(cid.Raw, mh).String()
	}
	method := tg.method
	if method == "" {
		method = http.MethodGet
	}
	req, err := http.NewRequestWithContext(ctx, method, u, nil)
	if err != nil {
		return nil, err
	}
	if tg.onlyIfCached {
		req.Header.Set("Cache-Control", "only-if-cached")
	}
	return req, nil
}

// check reads a response's body and says what is wrong with the answer,
// or "" if nothing is. It returns the body bytes read.
func (tg *loadTarget) check(resp *http.Response) (string, int64) {
	h := sha256.New()
	// The body is kept when it is searched, else only its start, for the
	// message of an unexpected answer.
	buf := capWriter{max: 512}
	if tg.contains != nil {
		buf.max = 1 << 20
	}
	n, err := io.Copy(io.MultiWriter(h, &buf), resp.Body)
	switch {
	case err != nil:
		return fmt.Sprintf("reading the body after %d bytes: %v", n, err), n
	case resp.StatusCode == http.StatusTooManyRequests:
		if resp.Header.Get("Retry-After") == "" {
			return "429 without Retry-After", n
		}
		return "", n
	case resp.StatusCode != tg.status:
		return fmt.Sprintf("HTTP %d, want %d: %.200q", resp.StatusCode, tg.status, buf.String()), n
	case tg.status != http.StatusOK:
		return "", n
	case tg.method == http.MethodHead:
		if resp.ContentLength != tg.length || n != 0 {
			return fmt.Sprintf("HEAD: Content-Length %d and %d body bytes, want %d and none", resp.ContentLength, n, tg.length), n
		}
	case tg.body != nil:
		if n != int64(len(tg.body)) || [32]byte(h.Sum(nil)) != tg.digest {
			return fmt.Sprintf("wrong body: %d bytes, want %d", n, len(tg.body)), n
		}
	default:
		for _, s := range tg.contains {
			if !strings.Contains(buf.String(), s) {
				return fmt.Sprintf("the body (%d bytes) does not contain %q", n, s), n
			}
		}
	}
	return "", n
}

// capWriter keeps the first max bytes written to it.
type capWriter struct {
	bytes.Buffer
	max int
}

func (c *capWriter) Write(p []byte) (int, error) {
	if room := c.max - c.Len(); room > 0 {
		c.Buffer.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

// failures collects what went wrong, keeping a few examples of each kind.
type failures struct {
	mu       sync.Mutex
	count    map[string]int
	examples map[string][]string
}

func (f *failures) add(kind, what string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.count == nil {
		f.count, f.examples = map[string]int{}, map[string][]string{}
	}
	f.count[kind]++
	if len(f.examples[kind]) < 5 {
		f.examples[kind] = append(f.examples[kind], what)
	}
}

func (f *failures) report(t *testing.T) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	for kind, n := range f.count {
		t.Errorf("%s: %d failures, e.g.\n  %s", kind, n, strings.Join(f.examples[kind], "\n  "))
	}
}

// countingDialer dials loopback TCP and counts the connections made.
type countingDialer struct {
	d     net.Dialer
	dials atomic.Int64
}

func (c *countingDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	c.dials.Add(1)
	return c.d.DialContext(ctx, network, addr)
}

func runLoad(t *testing.T, targets []*loadTarget, mon *monitor, idle sample) {
	gw := targets[0].url[:strings.Index(targets[0].url, "/ipfs/")]
	var (
		fails      failures
		dialer     countingDialer
		transports []*http.Transport
		wg         sync.WaitGroup
	)
	mon.mark()
	selfCPU := cpuTime(os.Getpid())
	// The clients start in steps over loadRamp, in a seeded random order
	// of their targets, then all of them run for loadDuration. Started all
	// at once, a client on this busy machine could be scheduled to send
	// its first request only after the server's header timeout (10 s) had
	// closed its new connection.
	ctx, cancel := context.WithTimeout(context.Background(), loadRamp+loadDuration)
	defer cancel()
	start := time.Now()
	var clients []func()
	for _, tg := range targets {
		for range tg.clients {
			// One transport per client: each keeps its own connection.
			tr := &http.Transport{
				DialContext:         dialer.DialContext,
				MaxIdleConnsPerHost: 1,
				MaxConnsPerHost:     1,
				DisableCompression:  true,
			}
			transports = append(transports, tr)
			hc := &http.Client{Transport: tr, Timeout: loadRequestTimeout}
			rng := rand.New(rand.NewPCG(uint64(len(clients)), 99))
			clients = append(clients, func() {
				for ctx.Err() == nil {
					req, err := tg.request(ctx, gw, rng)
					if err != nil {
						fails.add(tg.name+": request", err.Error())
						return
					}
					t0 := time.Now()
					resp, err := hc.Do(req)
					if err != nil {
						if ctx.Err() != nil {
							return // the test's end cut it
						}
						fails.add(tg.name+": transport", fmt.Sprintf("%v (%s into the test, after %s)", err, t0.Sub(start).Round(time.Millisecond), time.Since(t0).Round(time.Millisecond)))
						continue
					}
					msg, n := tg.check(resp)
					resp.Body.Close()
					if msg != "" && ctx.Err() != nil && resp.StatusCode == tg.status {
						return // cut while reading the body by the test's end
					}
					tg.record(resp.StatusCode, time.Since(t0), n)
					if msg != "" {
						fails.add(tg.name+": answer", fmt.Sprintf("%s (%s into the test, after %s)", msg, t0.Sub(start).Round(time.Millisecond), time.Since(t0).Round(time.Millisecond)))
					}
				}
			})
		}
	}
	rand.New(rand.NewPCG(5, 5)).Shuffle(len(clients), func(i, j int) { clients[i], clients[j] = clients[j], clients[i] })
	step := len(clients) / loadRampSteps
	tick := time.NewTicker(loadRamp / loadRampSteps)
	for i := 0; i < len(clients); i += step {
		for _, c := range clients[i:min(i+step, len(clients))] {
			wg.Go(c)
		}
		<-tick.C
	}
	tick.Stop()
	wg.Wait()
	elapsed := time.Since(start)
	peak := mon.peakSinceMark()

	var ok, tooMany int
	for _, tg := range targets {
		slices.Sort(tg.latencies)
		ok += tg.codes[tg.status]
		tooMany += tg.codes[http.StatusTooManyRequests]
		t.Logf("%-24s %4d clients  %7.1f req/s  p50 %7s  p99 %7s  %s  %.0f MiB",
			tg.name, tg.clients, float64(len(tg.latencies))/elapsed.Seconds(),
			pct(tg.latencies, 50), pct(tg.latencies, 99), fmtCodes(tg.codes), inMiB(tg.bytes))
	}
	t.Logf("load: %d clients (started over %s) for %s: %d expected answers (%.0f/s), %d 429s, %d connections dialled",
		loadClients, loadRamp, elapsed.Round(time.Millisecond), ok, float64(ok)/elapsed.Seconds(), tooMany, dialer.dials.Load())
	t.Logf("daemon under load: peak RSS %.1f MiB, peak %d fds, peak %d goroutines, %.2f cores on average (the test process: %.2f)",
		inMiB(peak.rss), peak.fds, peak.goroutines, peak.cpu.Seconds(), (cpuTime(os.Getpid())-selfCPU).Seconds()/elapsed.Seconds())
	fails.report(t)
	if ok == 0 {
		t.Errorf("no request was answered as expected")
	}
	if peak.rss > loadRSSBound {
		t.Errorf("the daemon's RSS reached %.1f MiB, more than the bound %.0f MiB", inMiB(peak.rss), inMiB(loadRSSBound))
	}
	if peak.fds < loadClients {
		t.Errorf("the daemon never had %d descriptors open (peak %d): the clients did not hold their connections", loadClients, peak.fds)
	}

	for _, tr := range transports {
		tr.CloseIdleConnections()
	}
	after := mon.settle(t, idle.fds+loadFDSlack, idle.goroutines+loadGoroutineSlack)
	t.Logf("daemon after load: RSS %.1f MiB, %d fds, %d goroutines (idle: %d fds, %d goroutines); fds: %s",
		inMiB(after.rss), after.fds, after.goroutines, idle.fds, idle.goroutines, fdKinds(mon.pid))
}

// slowConn is one attacking connection.
type slowConn struct {
	kind   string
	c      net.Conn
	opened time.Time
	rest   []byte // what it still has to dribble, one byte a tick
	closed atomic.Int64
}

func runSlowloris(t *testing.T, d *daemon, root cid.Cid, small, big []byte, mon *monitor, idle sample) {
	gwAddr := strings.TrimPrefix(d.gateway, "http://")
	apiAddr := strings.TrimPrefix(d.api, "http://")
	rs := root.String()
	mon.mark()

	var honestFails failures
	var honestLat [3][]time.Duration // keep-alive, new connection, API
	var latMu sync.Mutex
	stop := make(chan struct{})
	var hwg sync.WaitGroup
	var honestClients []*http.Client
	honest := func(kind int, hc *http.Client, method, u string, hdr http.Header, want []byte, contains string) {
		honestClients = append(honestClients, hc)
		hwg.Go(func() {
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				req, err := http.NewRequest(method, u, nil)
				if err != nil {
					honestFails.add("honest: request", err.Error())
					return
				}
				for k, v := range hdr {
					req.Header[k] = v
				}
				t0 := time.Now()
				resp, err := hc.Do(req)
				if err != nil {
					honestFails.add("honest: transport", err.Error())
					continue
				}
				b, err := io.ReadAll(resp.Body)
				resp.Body.Close()
				took := time.Since(t0)
				switch {
				case err != nil:
					honestFails.add("honest: body", err.Error())
				case resp.StatusCode != http.StatusOK:
					honestFails.add("honest: status", fmt.Sprintf("%s %s: HTTP %d %.200q", method, u, resp.StatusCode, b))
				case want != nil && !bytes.Equal(b, want):
					honestFails.add("honest: body", fmt.Sprintf("%s: %d bytes, want %d", u, len(b), len(want)))
				case contains != "" && !bytes.Contains(b, []byte(contains)):
					honestFails.add("honest: body", fmt.Sprintf("%s: no %q", u, contains))
				default:
					latMu.Lock()
					honestLat[kind] = append(honestLat[kind], took)
					latMu.Unlock()
				}
			}
		})
	}
	for i := range honestKeepAlive {
		hc := &http.Client{Timeout: loadRequestTimeout, Transport: &http.Transport{MaxConnsPerHost: 1, DisableCompression: true}}
		switch i % 3 {
		case 0:
			honest(0, hc, http.MethodGet, d.gateway+"/ipfs/"+rs+"/instructions.md", nil, small, "")
		case 1:
			honest(0, hc, http.MethodGet, d.gateway+"/ipfs/"+rs+"/cad/frame.bin", nil, big, "")
		default:
			honest(0, hc, http.MethodGet, d.gateway+"/bundles/"+rs+"/", nil, nil, "Load test rig")
		}
	}
	for range honestNewConn {
		hc := &http.Client{Timeout: loadRequestTimeout, Transport: &http.Transport{DisableKeepAlives: true}}
		honest(1, hc, http.MethodGet, d.gateway+"/ipfs/"+rs+"/instructions.md", nil, small, "")
	}
	apiHdr := http.Header{"Authorization": {"Bearer " + readTrimmed(d.repo.file(api.TokenFile))}}
	for range honestAPI {
		hc := &http.Client{Timeout: loadRequestTimeout, Transport: &http.Transport{MaxConnsPerHost: 1}}
		honest(2, hc, http.MethodPost, d.api+api.Prefix+"id", apiHdr, nil, d.repo.peerID)
	}

	// The attack. Each request names an existing file, so a connection
	// that got through would be answered.
	pad := strings.Repeat("X-Pad-"+strings.Repeat("p", 50)+": "+strings.Repeat("v", 200)+"\r\n", 32<<10/260)
	dribble := []byte("X-Slow: " + strings.Repeat("s", 4096) + "\r\n")
	get := func(p string) string {
		return "GET " + p + " HTTP/1.1\r\nHost: " + gwAddr + "\r\nUser-Agent: slowloris\r\n"
	}
	type spec struct {
		kind, addr, first string
		rest              []byte
		rcvbuf            int
	}
	var specs []spec
	for i := range slowDribblers {
		first := get("/ipfs/" + rs + "/instructions.md")
		kind := "header dribble"
		if i < slowBigHeaders {
			first += pad
			kind = "32 KiB header, then dribble"
		}
		specs = append(specs, spec{kind, gwAddr, first, dribble, 0})
	}
	for range slowStalled {
		// Eight pipelined requests for the 1 MiB file, never read, with
		// a small receive window, so the server's writes block at once
		// instead of filling megabytes of buffers.
		req := get("/ipfs/"+rs+"/cad/frame.bin") + "\r\n"
		specs = append(specs, spec{"never reads", gwAddr, strings.Repeat(req, 8), nil, 4096})
	}
	body := bytes.Repeat([]byte("b"), 64<<10)
	for i := range slowBodies {
		if i%2 == 0 {
			first := get("/ipfs/"+rs+"/instructions.md") + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body))
			specs = append(specs, spec{"gateway body dribble", gwAddr, first, body, 0})
		} else {
			first := "POST " + api.Prefix + "publish HTTP/1.1\r\nHost: " + apiAddr +
				"\r\nContent-Type: multipart/form-data; boundary=x\r\n" + fmt.Sprintf("Content-Length: %d\r\n\r\n", len(body))
			specs = append(specs, spec{"API body dribble, no token", apiAddr, first, body, 0})
		}
	}

	var dialFails failures
	var rwg sync.WaitGroup
	dial := func(sp spec) *slowConn {
		dl := net.Dialer{Timeout: 30 * time.Second}
		if sp.rcvbuf > 0 {
			dl.Control = func(_, _ string, rc syscall.RawConn) error {
				var serr error
				err := rc.Control(func(fd uintptr) {
					serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, sp.rcvbuf)
				})
				return errors.Join(err, serr)
			}
		}
		c, err := dl.Dial("tcp", sp.addr)
		if err != nil {
			dialFails.add("slow: dial "+sp.kind, err.Error())
			return nil
		}
		if _, err := io.WriteString(c, sp.first); err != nil {
			dialFails.add("slow: first write "+sp.kind, err.Error())
			c.Close()
			return nil
		}
		sc := &slowConn{kind: sp.kind, c: c, opened: time.Now(), rest: sp.rest}
		// A reader notices the server's close (the never-reading
		// connections are checked through the daemon's descriptors
		// instead).
		if sp.rcvbuf == 0 {
			rwg.Go(func() {
				_, _ = io.Copy(io.Discard, sc.c)
				sc.closed.Store(time.Since(sc.opened).Nanoseconds())
			})
		}
		return sc
	}
	// Dialled by a few goroutines at once: one after the other, on a
	// busy machine, the last would open long after the first had been
	// closed.
	dialStart := time.Now()
	opened := make([]*slowConn, len(specs))
	next := atomic.Int64{}
	var dwg sync.WaitGroup
	for range slowDialers {
		dwg.Go(func() {
			for i := int(next.Add(1) - 1); i < len(specs); i = int(next.Add(1) - 1) {
				opened[i] = dial(specs[i])
			}
		})
	}
	dwg.Wait()
	var conns []*slowConn
	for _, sc := range opened {
		if sc != nil {
			conns = append(conns, sc)
		}
	}
	dialFails.report(t)
	openedAt := time.Now()
	t.Logf("slowloris: %d connections opened in %s", len(conns), openedAt.Sub(dialStart).Round(time.Millisecond))

	// One goroutine dribbles a byte on every connection each tick, for as
	// long as the connection takes it.
	dribbleDone := make(chan struct{})
	go func() {
		defer close(dribbleDone)
		tick := time.NewTicker(slowTick)
		defer tick.Stop()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			for _, sc := range conns {
				if sc.closed.Load() != 0 || i >= len(sc.rest) {
					continue
				}
				_ = sc.c.SetWriteDeadline(time.Now().Add(slowTick))
				_, _ = sc.c.Write(sc.rest[i : i+1])
			}
		}
	}()

	// The server must close every slow connection by itself while this
	// side keeps its end open: the readers see the close, and the daemon's
	// descriptors fall back to their idle level (those of the
	// never-reading connections included).
	allClosed := poll(slowPhaseLimit, nil, func() bool {
		for _, sc := range conns {
			if sc.kind != "never reads" && sc.closed.Load() == 0 {
				return false
			}
		}
		s := mon.last()
		return s.fds <= idle.fds+loadFDSlack+honestKeepAlive+honestNewConn+honestAPI
	})
	phase := time.Since(openedAt)
	peak := mon.peakSinceMark()
	close(stop)
	hwg.Wait()
	<-dribbleDone

	// What the server did to each kind of attack.
	byKind := map[string][]time.Duration{}
	open := map[string]int{}
	for _, sc := range conns {
		if sc.kind == "never reads" {
			continue
		}
		if ns := sc.closed.Load(); ns != 0 {
			byKind[sc.kind] = append(byKind[sc.kind], time.Duration(ns))
		} else {
			open[sc.kind]++
		}
	}
	for kind, ds := range byKind {
		slices.Sort(ds)
		t.Logf("slowloris %-28s %4d closed by the server after %s (min) %s (median) %s (max); %d still open",
			kind, len(ds), ds[0].Round(time.Millisecond), pct(ds, 50).Round(time.Millisecond), ds[len(ds)-1].Round(time.Millisecond), open[kind])
	}
	for i, name := range []string{"keep-alive gateway", "new connection each", "API id"} {
		ls := honestLat[i]
		slices.Sort(ls)
		t.Logf("honest %-20s %5d requests served during the attack, p50 %s p99 %s max %s",
			name, len(ls), pct(ls, 50), pct(ls, 99), pct(ls, 100))
		if len(ls) == 0 {
			t.Errorf("honest %s clients were never served during the attack", name)
		}
	}
	t.Logf("daemon during slowloris (%s): peak RSS %.1f MiB, peak %d fds, peak %d goroutines; now %d fds",
		phase.Round(time.Millisecond), inMiB(peak.rss), peak.fds, peak.goroutines, mon.last().fds)
	honestFails.report(t)
	if !allClosed {
		t.Errorf("after %s the server still holds slow connections: %v open by kind (never-reading ones are counted in the daemon's %d fds, idle %d)",
			slowPhaseLimit, open, mon.last().fds, idle.fds)
	}
	if peak.rss > loadRSSBound {
		t.Errorf("the daemon's RSS reached %.1f MiB, more than the bound %.0f MiB", inMiB(peak.rss), inMiB(loadRSSBound))
	}

	for _, sc := range conns {
		sc.c.Close()
	}
	rwg.Wait()
	for _, hc := range honestClients {
		hc.CloseIdleConnections()
	}
	after := mon.settle(t, idle.fds+loadFDSlack, idle.goroutines+loadGoroutineSlack)
	t.Logf("daemon after slowloris: RSS %.1f MiB, %d fds, %d goroutines; fds: %s", inMiB(after.rss), after.fds, after.goroutines, fdKinds(mon.pid))
}

// sample is the daemon's state at one moment.
type sample struct {
	at         time.Time
	cpu        time.Duration // the daemon's user and system time so far
	rss        int64         // bytes
	fds        int
	goroutines int // from /metrics; 0 if it did not answer within a second
}

// monitor samples the daemon every second until the test ends.
type monitor struct {
	pid int
	api string

	mu      sync.Mutex
	samples []sample
	from    int // index of the first sample since mark
}

func startMonitor(t *testing.T, pid int, apiURL string) *monitor {
	m := &monitor{pid: pid, api: apiURL}
	done := make(chan struct{})
	stopped := make(chan struct{})
	t.Cleanup(func() { close(done); <-stopped })
	m.take()
	go func() {
		defer close(stopped)
		tick := time.NewTicker(time.Second)
		defer tick.Stop()
		for {
			select {
			case <-done:
				return
			case <-tick.C:
				m.take()
			}
		}
	}()
	return m
}

func (m *monitor) take() {
	s := sample{at: time.Now(), cpu: cpuTime(m.pid), rss: vmRSS(m.pid), fds: countFDs(m.pid), goroutines: goroutines(m.api)}
	m.mu.Lock()
	m.samples = append(m.samples, s)
	m.mu.Unlock()
}

// mark starts a new peak window.
func (m *monitor) mark() {
	m.mu.Lock()
	m.from = len(m.samples)
	m.mu.Unlock()
}

func (m *monitor) last() sample {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.samples[len(m.samples)-1]
}

func (m *monitor) peakSinceMark() sample {
	m.mu.Lock()
	defer m.mu.Unlock()
	var p sample
	if w := m.samples[m.from:]; len(w) > 1 {
		// cpu: the cores the daemon used on average over the window.
		p.cpu = time.Duration(float64(w[len(w)-1].cpu-w[0].cpu) / w[len(w)-1].at.Sub(w[0].at).Seconds())
	}
	for _, s := range m.samples[m.from:] {
		p.rss, p.fds, p.goroutines = max(p.rss, s.rss), max(p.fds, s.fds), max(p.goroutines, s.goroutines)
	}
	return p
}

// settle waits until the daemon is at most at maxFDs and maxGoroutines (0:
// until two consecutive samples agree on both, the daemon's idle level)
// and returns that sample.
func (m *monitor) settle(t *testing.T, maxFDs, maxGoroutines int) sample {
	t.Helper()
	var prev, cur sample
	ok := poll(settleDeadline, nil, func() bool {
		prev, cur = cur, sample{rss: vmRSS(m.pid), fds: countFDs(m.pid), goroutines: goroutines(m.api)}
		if cur.goroutines == 0 {
			return false
		}
		if maxFDs == 0 {
			return cur.fds == prev.fds && absDiff(cur.goroutines, prev.goroutines) <= 5
		}
		return cur.fds <= maxFDs && cur.goroutines <= maxGoroutines
	})
	if !ok {
		t.Errorf("the daemon did not settle within %s: %d fds, %d goroutines (want at most %d and %d)",
			settleDeadline, cur.fds, cur.goroutines, maxFDs, maxGoroutines)
	}
	return cur
}

func absDiff(a, b int) int {
	if a > b {
		return a - b
	}
	return b - a
}

func vmRSS(pid int) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

// fdKinds summarises a process's descriptors: sockets, pipes, other
// kernel objects, and files by name.
func fdKinds(pid int) string {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	des, err := os.ReadDir(dir)
	if err != nil {
		return err.Error()
	}
	kinds := map[string]int{}
	for _, de := range des {
		target, err := os.Readlink(filepath.Join(dir, de.Name()))
		if err != nil {
			continue
		}
		kind, _, _ := strings.Cut(target, ":")
		if strings.HasPrefix(target, "/") {
			kind = "file " + filepath.Base(target)
		}
		kinds[kind]++
	}
	var parts []string
	for k, n := range kinds {
		parts = append(parts, fmt.Sprintf("%s×%d", k, n))
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// cpuTime returns the user and system time process pid has used.
func cpuTime(pid int) time.Duration {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// The fields after the command name, which is in parentheses.
	_, rest, _ := strings.Cut(string(b), ") ")
	f := strings.Fields(rest)
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

func countFDs(pid int) int {
	des, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return 0
	}
	return len(des)
}

// goroutines reads go_goroutines from the daemon's /metrics.
func goroutines(apiURL string) int {
	hc := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	resp, err := hc.Get(apiURL + api.MetricsPath)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if v, ok := strings.CutPrefix(sc.Text(), "go_goroutines "); ok {
			n, _ := strconv.ParseFloat(v, 64)
			return int(n)
		}
	}
	return 0
}

func inMiB(b int64) float64 { return float64(b) / (1 << 20) }

// pct returns the p-th percentile of sorted ds.
func pct(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	i := min(len(ds)-1, (len(ds)*p)/100)
	return ds[i].Round(100 * time.Microsecond)
}

func fmtCodes(codes map[int]int) string {
	var ks []int
	for k := range codes {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	var parts []string
	for _, k := range ks {
		parts = append(parts, fmt.Sprintf("%d×%d", codes[k], k))
	}
	return strings.Join(parts, " ")
}

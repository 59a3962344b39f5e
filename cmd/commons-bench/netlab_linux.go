package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/ipfs/go-cid"
	car "github.com/ipld/go-car/v2"
	"github.com/multiformats/go-multihash"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/node/nodetest/kubopeer"
	"github.com/commons-p2p/commons/node/nodetest/linklab"
)

// netlabCase is one configuration measured over the village link.
type netlabCase struct {
	name      string
	impl      string // nameCommons or nameKubo
	transport string // Kubo: "tcp" or "quic" (B dials A's address of it); commons: the product chooses
	tuned     bool   // Kubo: Internal.Bitswap.MaxOutstandingBytesPerPeer = 256 KiB
	peering   bool   // Kubo: B's Peering.Peers names A
	cut       bool
}

// netlabCases are the runs, in the order they run: without a cut, commons
// and Kubo's configurations alternate with nothing between them; then the
// cut runs.
func netlabCases() []netlabCase {
	return []netlabCase{
		{name: "commons defaults", impl: nameCommons},
		{name: "kubo defaults, TCP", impl: nameKubo, transport: "tcp"},
		{name: "kubo defaults, QUIC", impl: nameKubo, transport: "quic"},
		{name: "kubo tuned, TCP", impl: nameKubo, transport: "tcp", tuned: true},
		{name: "commons defaults, 60 s cut", impl: nameCommons, cut: true},
		{name: "kubo defaults, TCP, 60 s cut", impl: nameKubo, transport: "tcp", cut: true},
		{name: "kubo defaults + peering, TCP, 60 s cut", impl: nameKubo, transport: "tcp", peering: true, cut: true},
	}
}

// netlabKuboTuned is the setting NETLAB.md found to let Kubo use the link:
// about one large block in flight instead of 1 MiB.
const netlabKuboTuned = "Internal.Bitswap.MaxOutstandingBytesPerPeer"

// netlabScenario measures commons and Kubo over a userspace link of
// 256 kbit/s, 150 ms and 2% loss each way between two network
// namespaces (node/nodetest/linklab): transfers of a 2.0 MB design folder
// without and with a 60 s cut. It needs root.
func (b *bench) netlabScenario(ctx context.Context) error {
	if os.Geteuid() != 0 {
		return errors.New("the netlab scenario needs root (network namespaces, TUN devices)")
	}
	folder, err := writeVillageFolder(filepath.Join(b.work, "netlab", "village-pump"), b.opt.seed)
	if err != nil {
		return err
	}
	nr := &netlabReport{
		Link: fmt.Sprintf("%d kbit/s, %s and %.0f%% loss each way (linklab, tail-drop queue of 500 ms)", netlabRate/1000, netlabDelay, 100*netlabLoss),
	}
	b.rep.Netlab = nr
	var kubo *kuboImpl
	var commons *commonsImpl
	for _, im := range b.impls {
		switch im := im.(type) {
		case *kuboImpl:
			kubo = im
		case *commonsImpl:
			commons = im
		}
	}
	for _, c := range netlabCases() {
		if c.impl == nameKubo && kubo == nil {
			continue
		}
		start := time.Now()
		b.logf("netlab %-40s starting", c.name)
		var r netlabRun
		var err error
		if c.impl == nameCommons {
			r, err = b.netlabCommons(ctx, commons, c, folder)
		} else {
			r, err = b.netlabKubo(ctx, kubo, c, folder)
		}
		if err != nil {
			if ctx.Err() != nil {
				return fmt.Errorf("%s: %w", c.name, err)
			}
			// One configuration that cannot be set up (a daemon that does
			// not start, peers that never meet) is reported in its row;
			// the others still run.
			r.Note = "NOT MEASURED: " + err.Error()
			b.logf("netlab %-40s %s", c.name, r.Note)
			nr.Runs = append(nr.Runs, r)
			continue
		}
		nr.Runs = append(nr.Runs, r)
		if nr.Payload == "" {
			nr.Payload = fmt.Sprintf("payload: a %s design folder (%d blocks, %d bytes of blocks for commons with its library); ideal time %.1f s",
				humanBytes(r.PayloadBytes), r.Blocks, r.PayloadBytes, float64(r.PayloadBytes*8)/netlabRate)
		}
		b.logf("netlab %-40s %-16s %6.1f s  goodput %5.1f%%  wire/payload %.2f  (run took %s)", c.name,
			map[bool]string{true: "finished", false: "DID NOT FINISH"}[r.Finished], r.Seconds, r.GoodputPct, r.wireRatio(), time.Since(start).Round(time.Second))
	}
	nr.DeltaCAR = b.netlabDeltaCAR(ctx, commons, folder)
	b.netlabSummary(nr.Runs)
	return nil
}

// writeVillageFolder writes the design folder every netlab run transfers:
// about 2.0 MB, two CAD-like binaries of seeded random bytes (which the
// buzhash chunker cuts into blocks of 128-512 KiB), Markdown
// instructions, a BOM, a small image and commons.toml, as NETLAB.md's
// measurement of Kubo used.
func writeVillageFolder(dir string, seed uint64) (string, error) {
	rng := rand.New(rand.NewPCG(seed, 0x76696c6c616765)) // "village"
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := 0; i+8 <= n; i += 8 {
			binary.LittleEndian.PutUint64(b[i:], rng.Uint64())
		}
		return b
	}
	var steps strings.Builder
	steps.WriteString("# Village pump\n\nA hand pump for a 20 m well, built from pipe and plate.\n\n## Build\n\n")
	for i := 1; i <= 40; i++ {
		fmt.Fprintf(&steps, "%d. Cut part %d to length, deburr it and check it against the drawing.\n", i, i)
	}
	files := map[string][]byte{
		"commons.toml": []byte(`name = "village-pump"
title = "Village hand pump"
kind = "product-design"
[licenses]
hardware = "CERN-OHL-W-2.0"
software = "NONE"
documentation = "CC-BY-4.0"
[[authors]]
name = "commons-bench"
`),
		"instructions.md":     []byte(steps.String()),
		"bom.csv":             []byte("part,qty,unit,unit cost,currency,supplier\nsteel pipe 1in,20,m,3.10,EUR,local fab\nplate 6mm,1,pcs,14.00,EUR,local fab\nleather washer,4,pcs,0.50,EUR,farm store\n"),
		"images/overview.png": append([]byte("\x89PNG\r\n\x1a\n"), random(12<<10)...),
		"cad/pump-body.step":  random(1_000_000),
		"cad/handle.stl":      random(950_000),
	}
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return "", err
		}
		if err := writeSynced(p, data); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// netlabSide is one end of the link: a daemon in a namespace, with an
// HTTP client that reaches its loopback API and gateway.
type netlabSide struct {
	lab  *linklab.Lab
	i    int
	ns   string
	hc   *http.Client
	repo string
	d    *daemon
}

func newSide(lab *linklab.Lab, i int, repo string) *netlabSide {
	return &netlabSide{lab: lab, i: i, ns: lab.NS(i), repo: repo,
		hc: &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DialContext: lab.DialContext(i)}}}
}

// in returns argv run inside the side's namespace.
func (s *netlabSide) in(bin string, args ...string) (string, []string) {
	return "ip", append([]string{"netns", "exec", s.ns, bin}, args...)
}

func (s *netlabSide) close() { s.hc.CloseIdleConnections() }

// newLab builds the village link.
func (b *bench) newLab(ctx context.Context) (*linklab.Lab, error) {
	return linklab.New(ctx, linklab.Config{Rate: netlabRate, Delay: netlabDelay, Loss: netlabLoss, Seed: b.opt.seed})
}

// labPair makes a fresh link and a fresh repo on each side of it for im;
// done closes and removes them all.
func (b *bench) labPair(ctx context.Context, im impl) (lab *linklab.Lab, a, bb *netlabSide, done func(), err error) {
	lab, err = b.newLab(ctx)
	if err != nil {
		return nil, nil, nil, nil, err
	}
	a, bb = newSide(lab, 0, b.newRepoDir(im, "netlab-a")), newSide(lab, 1, b.newRepoDir(im, "netlab-b"))
	done = func() {
		b.removeRepo(bb.repo)
		b.removeRepo(a.repo)
		bb.close()
		a.close()
		lab.Close()
	}
	return lab, a, bb, done, nil
}

// netlabCommons runs commons: A publishes the folder, B (whose bootstrap
// peers are A's TCP and QUIC addresses on the link, the lan profile
// otherwise) follows A's library. Nothing is tuned.
func (b *bench) netlabCommons(ctx context.Context, c *commonsImpl, nc netlabCase, folder string) (netlabRun, error) {
	run := netlabRun{Name: nc.name, Impl: nameCommons, Cut: nc.cut, ReceivedB: -1}
	lab, a, bb, done, err := b.labPair(ctx, c)
	if err != nil {
		return run, err
	}
	defer done()
	cli := func(s *netlabSide, args ...string) (cmdResult, error) {
		bin, argv := s.in(c.bin, append([]string{"--repo", s.repo}, args...)...)
		return runCLI(ctx, c.timeout, c.env(), bin, argv...)
	}
	for _, s := range []*netlabSide{a, bb} {
		if _, err := cli(s, "init", "--profile", "lan"); err != nil {
			return run, err
		}
	}
	if err := b.startCommonsIn(ctx, c, a, "commons A"); err != nil {
		return run, err
	}
	defer b.sup.stop(a.d)
	res, err := cli(a, "--json", "publish", folder)
	if err != nil {
		return run, err
	}
	var pub api.PublishResult
	if err := json.Unmarshal(res.Stdout, &pub); err != nil {
		return run, fmt.Errorf("publish: %w", err)
	}
	aAPI := api.NewClient(a.d.apiURL, a.hc).WithToken(readTrimmedFile(filepath.Join(a.repo, api.TokenFile)))
	lib, err := aAPI.Library(ctx)
	if err != nil {
		return run, err
	}
	id, err := aAPI.ID(ctx)
	if err != nil {
		return run, err
	}
	var boot []string
	for _, ad := range id.Addresses {
		if strings.HasPrefix(ad, "/ip4/"+lab.Addr(0).String()+"/") {
			boot = append(boot, ad)
		}
	}
	if len(boot) == 0 {
		return run, fmt.Errorf("A listens on no address of the link: %v", id.Addresses)
	}
	if err := setBootstrap(bb.repo, boot); err != nil {
		return run, err
	}
	if err := b.startCommonsIn(ctx, c, bb, "commons B"); err != nil {
		return run, err
	}
	defer b.sup.stop(bb.d)
	bAPI := api.NewClient(bb.d.apiURL, bb.hc).WithToken(readTrimmedFile(filepath.Join(bb.repo, api.TokenFile)))

	// A follow before B's DHT has a peer finds no record and waits
	// mirror.resolve (10 minutes in the lan profile); start when it has
	// one, as the village test does.
	if err := pollUntil(ctx, 2*time.Minute, func() (bool, error) {
		m, err := scrapeMetrics(ctx, bb.hc, bb.d.apiURL)
		return m["commons_dht_routing_table_peers"] >= 1, err
	}); err != nil {
		return run, fmt.Errorf("B's DHT routing table stayed empty: %w", err)
	}
	blocks, payload, err := dagSize(ctx, a.hc, a.d.gatewayURL, pub.CID.String(), lib.Root.String())
	if err != nil {
		return run, err
	}
	run.Blocks, run.PayloadBytes = len(blocks), payload
	received := func() int64 {
		m, err := scrapeMetrics(ctx, bb.hc, bb.d.apiURL)
		if err != nil {
			return -1
		}
		var n float64
		for k, v := range m {
			if strings.HasPrefix(k, "commons_") && strings.HasSuffix(k, "_received_bytes_total") && !strings.Contains(k, "dup") {
				n += v
			}
		}
		return int64(n)
	}
	recv0 := received()
	t := &netlabTransfer{lab: lab, cut: nc.cut, payload: payload,
		instructions: bb.d.gatewayURL + "/ipfs/" + pub.CID.String() + "/instructions.md", gw: bb.hc}
	err = t.run(ctx, func(ctx context.Context) error {
		_, err := bAPI.Follow(ctx, lib.Name, api.FollowPolicy{Mode: api.PolicyAll})
		return err
	}, func(ctx context.Context) (bool, error) {
		st, err := bAPI.MirrorStatus(ctx)
		if err != nil {
			return false, nil // a slow answer is not the end
		}
		for _, l := range st.Libraries {
			if l.State == api.MirrorCurrent && l.Versions > 0 && l.Pinned == l.Versions {
				return true, nil
			}
		}
		return false, nil
	})
	if err != nil {
		return run, err
	}
	t.fill(&run)
	if recv1 := received(); recv0 >= 0 && recv1 >= 0 {
		run.ReceivedB = recv1 - recv0
	}
	if peers, err := bAPI.Peers(ctx); err == nil {
		var tr []string
		for _, p := range peers {
			if p.PeerID == id.PeerID {
				tr = append(tr, transportOf(p.Address))
			}
		}
		run.Transport = "product's choice: " + strings.Join(slices.Compact(slices.Sorted(slices.Values(tr))), "+")
		if len(tr) == 0 {
			run.Transport = "product's choice: none connected at the end"
		}
	}
	return run, nil
}

// startCommonsIn starts a commons daemon in the side's namespace and
// waits until its API answers online.
func (b *bench) startCommonsIn(ctx context.Context, c *commonsImpl, s *netlabSide, name string) error {
	_ = os.Remove(filepath.Join(s.repo, "api"))
	bin, argv := s.in(c.bin, "--repo", s.repo, "daemon", "--log-level", "warn")
	d, err := b.sup.start(name, s.repo, s.repo+".log", c.env(), bin, argv...)
	if err != nil {
		return err
	}
	probe := func(ctx context.Context) error {
		base := readTrimmedFile(filepath.Join(s.repo, "api"))
		gw := readTrimmedFile(filepath.Join(s.repo, "gateway"))
		if base == "" || gw == "" {
			return errors.New("no api or gateway file yet")
		}
		id, err := api.NewClient(base, s.hc).WithToken(readTrimmedFile(filepath.Join(s.repo, api.TokenFile))).ID(ctx)
		if err != nil {
			return err
		}
		if !id.Online {
			return errors.New("id: not online yet")
		}
		d.apiURL, d.gatewayURL = base, gw
		return nil
	}
	if err := d.waitReady(ctx, startTimeout, probe); err != nil {
		_ = b.sup.stop(d)
		return err
	}
	s.d = d
	return nil
}

// setBootstrap replaces the bootstrap peers (peers = [] after `init
// --profile lan`) in a commons repo's config.
func setBootstrap(repo string, peers []string) error {
	path := filepath.Join(repo, "config.toml")
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	quoted := make([]string, len(peers))
	for i, p := range peers {
		quoted[i] = strconv.Quote(p)
	}
	out := bytes.Replace(data, []byte("\npeers = []"), []byte("\npeers = ["+strings.Join(quoted, ", ")+"]"), 1)
	if bytes.Equal(out, data) {
		return fmt.Errorf("%s: no empty bootstrap peers list to replace", path)
	}
	return os.WriteFile(path, out, 0o644)
}

// netlabKubo runs Kubo: A adds the folder (CIDv1, raw leaves, buzhash),
// B connects to A's address of the case's transport and runs `pin add`.
func (b *bench) netlabKubo(ctx context.Context, k *kuboImpl, nc netlabCase, folder string) (netlabRun, error) {
	run := netlabRun{Name: nc.name, Impl: nameKubo, Cut: nc.cut, ReceivedB: -1, Transport: strings.ToUpper(nc.transport)}
	lab, a, bb, done, err := b.labPair(ctx, k)
	if err != nil {
		return run, err
	}
	defer done()
	config := func(s *netlabSide, extra map[string]any) error {
		if _, err := k.run(ctx, s.repo, "init", "--profile=test", "--empty-repo"); err != nil {
			return err
		}
		ip := lab.Addr(s.i).String()
		extra["Addresses.Swarm"] = []string{"/ip4/" + ip + "/tcp/4001", "/ip4/" + ip + "/udp/4001/quic-v1"}
		if nc.tuned {
			extra[netlabKuboTuned] = 256 << 10
		}
		return kubopeer.Configure(s.repo, extra)
	}
	if err := config(a, map[string]any{}); err != nil {
		return run, err
	}
	root, _, err := k.Add(ctx, a.repo, folder)
	if err != nil {
		return run, err
	}
	if err := b.startKuboIn(ctx, k, a, "kubo A"); err != nil {
		return run, err
	}
	defer b.sup.stop(a.d)
	var aID struct {
		ID        string
		Addresses []string
	}
	if err := postJSON(ctx, a.hc, a.d.apiURL+"/api/v0/id", "", &aID); err != nil {
		return run, err
	}
	tcpAddr := fmt.Sprintf("/ip4/%s/tcp/4001/p2p/%s", lab.Addr(0), aID.ID)
	dial := tcpAddr
	if nc.transport == "quic" {
		dial = fmt.Sprintf("/ip4/%s/udp/4001/quic-v1/p2p/%s", lab.Addr(0), aID.ID)
	}
	extraB := map[string]any{}
	if nc.peering {
		extraB["Peering.Peers"] = []map[string]any{{"ID": aID.ID, "Addrs": []string{strings.TrimSuffix(tcpAddr, "/p2p/"+aID.ID)}}}
	}
	if err := config(bb, extraB); err != nil {
		return run, err
	}
	if err := b.startKuboIn(ctx, k, bb, "kubo B"); err != nil {
		return run, err
	}
	defer b.sup.stop(bb.d)
	kuboCLI := func(ctx context.Context, s *netlabSide, timeout time.Duration, args ...string) (cmdResult, error) {
		bin, argv := s.in(k.bin, args...)
		return runCLI(ctx, timeout, k.env(s.repo), bin, argv...)
	}
	if _, err := kuboCLI(ctx, bb, k.timeout, "swarm", "connect", dial); err != nil {
		return run, err
	}
	blocks, payload, err := dagSize(ctx, a.hc, a.d.gatewayURL, root)
	if err != nil {
		return run, err
	}
	run.Blocks, run.PayloadBytes = len(blocks), payload
	received := func() int64 {
		var st struct{ DataReceived int64 }
		if err := postJSON(ctx, bb.hc, bb.d.apiURL+"/api/v0/stats/bitswap", "", &st); err != nil {
			return -1
		}
		return st.DataReceived
	}
	recv0 := received()
	pinDone := make(chan error, 1)
	t := &netlabTransfer{lab: lab, cut: nc.cut, payload: payload,
		instructions: bb.d.gatewayURL + "/ipfs/" + root + "/instructions.md", gw: bb.hc}
	err = t.run(ctx, func(ctx context.Context) error {
		// pin add has no timeout of its own: the transfer's context ends it.
		go func() {
			_, err := kuboCLI(ctx, bb, 24*time.Hour, "pin", "add", root)
			pinDone <- err
		}()
		return nil
	}, func(context.Context) (bool, error) {
		select {
		case err := <-pinDone:
			pinDone <- err // keep it for a later look
			return err == nil, err
		default:
			return false, nil
		}
	})
	if err != nil {
		return run, err
	}
	t.fill(&run)
	if recv1 := received(); recv0 >= 0 && recv1 >= 0 {
		run.ReceivedB = recv1 - recv0
	}
	if nc.peering {
		run.Transport += " (peering)"
	}
	return run, nil
}

// startKuboIn starts a Kubo daemon in the side's namespace and waits until
// its API answers.
func (b *bench) startKuboIn(ctx context.Context, k *kuboImpl, s *netlabSide, name string) error {
	_ = os.Remove(filepath.Join(s.repo, "api"))
	bin, argv := s.in(k.bin, "daemon")
	d, err := b.sup.start(name, s.repo, s.repo+".log", k.env(s.repo), bin, argv...)
	if err != nil {
		return err
	}
	probe := func(ctx context.Context) error {
		hostport, err := multiaddrHostPort(readTrimmedFile(filepath.Join(s.repo, "api")))
		if err != nil {
			return err
		}
		base := "http://" + hostport
		var id struct{ ID string }
		if err := postJSON(ctx, s.hc, base+"/api/v0/id", "", &id); err != nil {
			return err
		}
		gw, err := kuboGateway(d.logPath)
		if err != nil {
			return err
		}
		d.apiURL, d.gatewayURL = base, gw
		return nil
	}
	if err := d.waitReady(ctx, startTimeout, probe); err != nil {
		_ = b.sup.stop(d)
		return err
	}
	s.d = d
	return nil
}

// netlabTransfer drives one transfer over the link and measures it.
type netlabTransfer struct {
	lab          *linklab.Lab
	cut          bool
	payload      int64
	instructions string       // URL of the instructions on B's gateway
	gw           *http.Client // reaches B's gateway

	start, end, cutAt, upAt time.Time
	finished                bool
	resumedAt               time.Time
	firstInstr              time.Time
	base, last              linklab.Stats
	note                    string
}

// run starts the transfer with begin and polls done until it reports
// true, cutting the link for netlabCut once half the payload has crossed
// it if t.cut. Every wait is bounded; a transfer that does not finish, or
// fails (done's error), is measured as far as it went and noted, not
// returned as an error.
func (t *netlabTransfer) run(ctx context.Context, begin func(context.Context) error, done func(context.Context) (bool, error)) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	instr := make(chan time.Time, 1)
	go pollInstructions(ctx, t.gw, t.instructions, instr)
	t.base = t.lab.Stats()
	t.start = time.Now()
	if err := begin(ctx); err != nil {
		return err
	}
	var failed error // the transfer's own failure: measured, not a bench error
	check := func() (bool, error) {
		ok, err := done(ctx)
		if ok {
			t.finished = true
		}
		if err != nil && ctx.Err() == nil {
			failed = err
			return true, nil
		}
		return ok, err
	}
	finish := func(note string) {
		if failed != nil {
			note = fmt.Sprintf("failed: %v", failed)
		}
		t.end = time.Now()
		t.last = t.lab.Stats()
		t.note = note
		select {
		case t.firstInstr = <-instr:
		default:
		}
	}
	if t.cut {
		half := func() (bool, error) {
			if ok, err := check(); ok || err != nil {
				return ok, err
			}
			return t.lab.Stats().From[0].Delivered.Bytes-t.base.From[0].Delivered.Bytes >= t.payload/2, nil
		}
		if err := pollUntil(ctx, netlabHalfBound, half); err != nil && !errors.Is(err, errBound) {
			return err
		}
		if t.finished || failed != nil {
			finish("finished before half had crossed: no cut")
			return nil
		}
		t.lab.SetUp(false)
		t.cutAt = time.Now()
		if err := sleep(ctx, netlabCut); err != nil {
			return err
		}
		t.lab.SetUp(true)
		t.upAt = time.Now()
		resumed := func() (bool, error) {
			if ok, err := check(); ok || err != nil {
				return ok, err
			}
			_, ok := t.lab.Resumed(0, t.upAt, netlabResumeWindow, netlabResumeFrac)
			return ok, nil
		}
		if err := pollUntil(ctx, netlabResumeBound, resumed); err != nil {
			if errors.Is(err, errBound) {
				finish(fmt.Sprintf("no transfer within %s of the link's return: given up", netlabResumeBound))
				return nil
			}
			return err
		}
		if t.finished || failed != nil {
			finish("")
			return nil
		}
	}
	bound, what := netlabBound, "the start"
	if t.cut {
		bound, what = netlabAfterResumeBound, "the transfer resumed"
	}
	err := pollUntil(ctx, bound, check)
	switch {
	case errors.Is(err, errBound):
		finish(fmt.Sprintf("not finished %s after %s: given up", bound, what))
	case err != nil:
		return err
	default:
		finish("")
	}
	return nil
}

// fill copies the measurements into r.
func (t *netlabTransfer) fill(r *netlabRun) {
	r.Finished = t.finished
	r.Seconds = t.end.Sub(t.start).Seconds()
	ab, ba := t.last.From[0].Sub(t.base.From[0]), t.last.From[1].Sub(t.base.From[1])
	r.WireAB, r.WireBA = ab.Wire.Bytes, ba.Wire.Bytes
	r.Note = t.note
	if t.finished && t.payload > 0 {
		busy := t.end.Sub(t.start)
		if !t.cutAt.IsZero() {
			busy -= t.upAt.Sub(t.cutAt)
		}
		r.GoodputPct = 100 * float64(t.payload*8) / netlabRate / busy.Seconds()
	}
	if !t.cutAt.IsZero() {
		r.CutAfter = t.cutAt.Sub(t.start).Seconds()
		if at, ok := t.lab.Resumed(0, t.upAt, netlabResumeWindow, netlabResumeFrac); ok && (t.finished || at.Before(t.end)) {
			s := at.Sub(t.upAt).Seconds()
			r.ResumeSeconds = &s
		}
	}
	if !t.firstInstr.IsZero() {
		s := t.firstInstr.Sub(t.start).Seconds()
		r.FirstInstructionsSeconds = &s
	}
}

// pollInstructions GETs url with Cache-Control: only-if-cached (a boxo
// gateway answers 412 while the file is not stored locally) every 200 ms
// until it answers 200, and sends the time on found.
func pollInstructions(ctx context.Context, hc *http.Client, url string, found chan<- time.Time) {
	for ctx.Err() == nil {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return
		}
		req.Header.Set("Cache-Control", "only-if-cached")
		if resp, err := hc.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				found <- time.Now()
				return
			}
		}
		if sleep(ctx, 200*time.Millisecond) != nil {
			return
		}
	}
}

// errBound is pollUntil's error when the bound passed.
var errBound = errors.New("bound reached")

// pollUntil calls cond every 200 ms until it reports true (nil), fails
// (its error), bound passes (errBound) or ctx ends.
func pollUntil(ctx context.Context, bound time.Duration, cond func() (bool, error)) error {
	deadline := time.Now().Add(bound)
	for {
		ok, err := cond()
		if err != nil {
			return err
		}
		if ok {
			return nil
		}
		if time.Now().After(deadline) {
			return errBound
		}
		if err := sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
}

// dagSize reads the DAGs under roots as CARs from a gateway and returns
// their distinct blocks (identity CIDs left out: they never cross a
// network) and the sum of their sizes.
func dagSize(ctx context.Context, hc *http.Client, gatewayURL string, roots ...string) (map[cid.Cid]int, int64, error) {
	blocks := map[cid.Cid]int{}
	for _, root := range roots {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, gatewayURL+"/ipfs/"+root+"?format=car&dag-scope=all", nil)
		if err != nil {
			return nil, 0, err
		}
		req.Header.Set("Accept", "application/vnd.ipld.car")
		resp, err := hc.Do(req)
		if err != nil {
			return nil, 0, fmt.Errorf("CAR of %s: %w", root, err)
		}
		err = func() error {
			defer resp.Body.Close()
			if resp.StatusCode != http.StatusOK {
				return fmt.Errorf("CAR of %s: HTTP %d", root, resp.StatusCode)
			}
			br, err := car.NewBlockReader(resp.Body)
			if err != nil {
				return fmt.Errorf("CAR of %s: %w", root, err)
			}
			for {
				blk, err := br.Next()
				if err == io.EOF {
					return nil
				}
				if err != nil {
					return fmt.Errorf("CAR of %s: %w", root, err)
				}
				if blk.Cid().Prefix().MhType != multihash.IDENTITY {
					blocks[blk.Cid()] = len(blk.RawData())
				}
			}
		}()
		if err != nil {
			return nil, 0, err
		}
	}
	var total int64
	for _, n := range blocks {
		total += int64(n)
	}
	return blocks, total, nil
}

// scrapeMetrics reads a commons daemon's /metrics: each metric's value,
// summed over its label sets.
func scrapeMetrics(ctx context.Context, hc *http.Client, apiURL string) (map[string]float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, apiURL+api.MetricsPath, nil)
	if err != nil {
		return nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: HTTP %d", apiURL+api.MetricsPath, resp.StatusCode)
	}
	out := map[string]float64{}
	for line := range strings.SplitSeq(string(body), "\n") {
		f := strings.Fields(line)
		if len(f) != 2 || strings.HasPrefix(line, "#") {
			continue
		}
		name, _, _ := strings.Cut(f[0], "{")
		if v, err := strconv.ParseFloat(f[1], 64); err == nil {
			out[name] += v
		}
	}
	return out, nil
}

// transportOf names the transport of a multiaddr.
func transportOf(addr string) string {
	switch {
	case strings.Contains(addr, "/quic-v1"):
		return "QUIC"
	case strings.Contains(addr, "/tcp/"):
		return "TCP"
	}
	return addr
}

func readTrimmedFile(name string) string {
	b, err := os.ReadFile(name)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}

// netlabDeltaCAR measures a one-version update as a delta CAR (what a
// village that holds version 1 lacks of version 2) against the full CAR
// of version 2, with `commons have` (on the village: what it holds) and
// `commons export --for` (on the publisher: a CAR of only what that list
// lacks), run offline on two repos. If the binary has not got them, or
// they fail, it says so instead of a number.
func (b *bench) netlabDeltaCAR(ctx context.Context, c *commonsImpl, folder string) string {
	const na = "n/a (commons have/export --for not available in this build)"
	if c == nil {
		return na
	}
	if _, err := runCLI(ctx, c.timeout, c.env(), c.bin, "have", "--help"); err != nil {
		return na
	}
	if res, err := runCLI(ctx, c.timeout, c.env(), c.bin, "export", "--help"); err != nil || !bytes.Contains(res.Stdout, []byte("--for")) {
		return na
	}
	fail := func(err error) string { return fmt.Sprintf("n/a (commons have/export --for failed: %v)", err) }
	work := filepath.Join(b.work, "netlab-delta")
	pubRepo, village := filepath.Join(work, "publisher"), filepath.Join(work, "village")
	v := filepath.Join(work, "village-pump")
	if err := os.CopyFS(v, os.DirFS(folder)); err != nil {
		return fail(err)
	}
	if err := c.Init(ctx, pubRepo); err != nil {
		return fail(err)
	}
	if err := c.Init(ctx, village); err != nil {
		return fail(err)
	}
	if _, err := c.Publish(ctx, pubRepo, v); err != nil {
		return fail(err)
	}
	// The village's first install: a full export of the publisher's
	// library, imported with --follow.
	full1 := filepath.Join(work, "v1.car")
	if _, err := c.run(ctx, pubRepo, "export", "--libraries", "-o", full1); err != nil {
		return fail(err)
	}
	if _, err := c.run(ctx, village, "import", "--follow", full1); err != nil {
		return fail(err)
	}
	// Version 2: one edited line of the instructions.
	instr := filepath.Join(v, "instructions.md")
	text, err := os.ReadFile(instr)
	if err != nil {
		return fail(err)
	}
	if err := os.WriteFile(instr, append(text, "41. Paint the pump.\n"...), 0o644); err != nil {
		return fail(err)
	}
	v2, err := c.Publish(ctx, pubRepo, v)
	if err != nil {
		return fail(err)
	}
	have, full2, delta := filepath.Join(work, "have"), filepath.Join(work, "v2.car"), filepath.Join(work, "v2-delta.car")
	if _, err := c.run(ctx, village, "have", "-o", have); err != nil {
		return fail(err)
	}
	if _, err := c.run(ctx, pubRepo, "export", v2, "-o", full2); err != nil {
		return fail(err)
	}
	if _, err := c.run(ctx, pubRepo, "export", "--for", have, "-o", delta); err != nil {
		return fail(err)
	}
	// The delta must bring the village version 2.
	if _, err := c.run(ctx, village, "import", delta); err != nil {
		return fail(err)
	}
	if out, err := c.run(ctx, village, "pin", "ls"); err != nil || !bytes.Contains(out.Stdout, []byte(v2)) {
		return fail(fmt.Errorf("version 2 (%s) is not pinned in the village after the delta import: %v\n%s", v2, err, out.Stdout))
	}
	fs, err1 := os.Stat(full2)
	ds, err2 := os.Stat(delta)
	if err := errors.Join(err1, err2); err != nil {
		return fail(err)
	}
	return fmt.Sprintf("%d bytes delta CAR (records included) vs %d bytes full CAR of version 2 (%.2f%%)", ds.Size(), fs.Size(), 100*float64(ds.Size())/float64(fs.Size()))
}

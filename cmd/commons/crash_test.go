package main

// The crash harness (docs/testing.md, "Crash harness"): the real binary is
// killed with SIGKILL at seeded random points of publish (through the
// daemon and offline), import, fetch (pin add, get), pin/unpin, gc and
// mirroring; after each kill the repo is checked as the crash left it,
// reopened, and the operation redone.
//
// What is random comes from math/rand/v2 sources seeded with one number, so
// a failing run can be replayed: COMMONS_CRASH_SEED and COMMONS_CRASH_ROUNDS
// override the seed and the number of rounds. The seed fixes the sequence
// of operations, how each is run (through the daemon or offline, which
// process dies), the payloads, and each kill's point as a fraction of the
// operation's measured duration (of the bytes it adds, for the mirror);
// real processes vary in speed, so a replay kills at the same fractions,
// not at the same instruction.

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	car "github.com/ipld/go-car/v2"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/pkg/repo"
)

const (
	crashDefaultSeed   = 1
	crashDefaultRounds = 16 // two of each operation: 1 to 2.5 minutes on 2 cores with -race
	crashMirrorWait    = 120 * time.Second
)

// The operations the harness interrupts.
const (
	opPublish        = "publish"         // publish through the daemon
	opPublishOffline = "publish-offline" // publish with no daemon: the CLI holds the repo
	opImport         = "import"          // import a CAR, plain or a sneakernet delta (through the daemon or offline)
	opPinAdd         = "pin-add"         // fetch a DAG another daemon serves and pin it
	opGet            = "get"             // fetch a DAG another daemon serves into a folder
	opPinToggle      = "pin-rm/add"      // unpin what is pinned, or pin again what was unpinned
	opGC             = "gc"              // collect garbage (sometimes while a mirror fetches or an import runs)
	opMirror         = "mirror"          // follow a library while its publisher adds a version
)

var crashOps = []string{opPublish, opPublishOffline, opImport, opPinAdd, opGet, opPinToggle, opGC, opMirror}

// Which process a round kills.
const (
	victimDaemon = "daemon" // the repo's daemon, while a CLI waits on it (or the mirror works)
	victimClient = "client" // the CLI talking to the daemon (the daemon lives on)
	victimCLI    = "cli"    // the CLI that holds the repo (no daemon)
)

// crashRound is what one round did, for the log and the summary.
type crashRound struct {
	n          int
	op         string
	offline    bool
	victim     string
	toClient   bool // drawn for every round: kill the CLI rather than the daemon
	killStart  bool // drawn for every round: kill the first restart too, at startFrac of its start
	startFrac  float64
	killed     bool          // the round's kill has happened
	startKill  time.Duration // when the restart was killed (0: it was not)
	fraction   float64       // kill point as a fraction of est
	est        time.Duration // the operation's estimated duration
	delay      time.Duration // when the kill was due
	ran        time.Duration // how long the operation ran before the kill or its end
	mid        bool          // the kill landed before the operation returned
	reported   bool          // the operation reported success
	note       string
	violations int
}

// crashHarness holds the three repos and the model of what the victim
// repo (B) must hold.
type crashHarness struct {
	t     *testing.T
	seed  uint64
	rng   *rand.Rand // the round plan: operations, modes, victims, kill points
	prng  *rand.Rand // payloads and choices within a round
	work  string
	a     *testRepo // the source: serves fetches, publishes the followed library; never killed
	ad    *daemon
	c     *testRepo // an offline publisher whose bundles and library reach B as CAR files
	b     *testRepo // the victim
	bd    *daemon   // B's daemon; nil while stopped or killed
	pool  string    // a file shared by every bundle (hard links), so versions share blocks
	seq   int
	lib   string // A's library, which B follows
	cur   *crashRound
	round []*crashRound

	// The model.
	known       map[cid.Cid]string  // every CID B may pin → the folder its content must equal
	isBundle    map[cid.Cid]bool    // its folder comes back with .commons/
	compared    map[cid.Cid]bool    // fetched from B and compared at least once
	pinned      map[cid.Cid]bool    // reported pinned on B: must stay listed, complete and intact
	unpinned    map[cid.Cid]bool    // reported unpinned on B: must not be listed
	toggle      []cid.Cid           // fetched CIDs (A serves them) the pin rounds unpin and pin again
	pending     map[string][]string // bundle name → folders of publishes that did not report: a pin of that name must equal one
	heads       map[string]cid.Cid  // B's bundle → the version its last reported publish returned
	dirs        map[string]string   // B's bundle → its newest folder
	cVersion    string              // C's bundle's newest folder
	cLib        string              // C's library, which B follows too (carried by sneakernet only)
	cVersions   []cid.Cid           // C's bundle's versions, oldest first
	mirrorDir   string              // A's bundle's newest folder
	mirrorVs    []cid.Cid           // A's bundle's versions, oldest first
	est         map[string]time.Duration
	partialDirs int // .partial-* folders interrupted gets left (named as partial; counted, not an error)
	partialCARs int // .commons-get-*.car files interrupted gets left

	finalViolations int
}

// TestE2ECrash is the crash harness. It runs in CI with the default seed
// and round count; see docs/testing.md for larger runs.
func TestE2ECrash(t *testing.T) {
	t.Parallel()
	seed, rounds := crashParams(t)
	t.Logf("crash harness: seed %d, %d rounds (replay: COMMONS_CRASH_SEED=%d COMMONS_CRASH_ROUNDS=%d go test -run 'TestE2ECrash$' ./cmd/commons/)",
		seed, rounds, seed, rounds)
	h := newCrashHarness(t, seed)
	defer h.summary()
	var order []string
	for i := 0; i < rounds; i++ {
		if len(order) == 0 {
			// Each cycle runs every operation once, in a seeded order.
			for _, k := range h.rng.Perm(len(crashOps)) {
				order = append(order, crashOps[k])
			}
		}
		op := order[0]
		order = order[1:]
		h.runRound(i+1, op)
	}
	h.cur = nil
	h.finalCheck()
}

func crashParams(t *testing.T) (seed uint64, rounds int) {
	seed, rounds = crashDefaultSeed, crashDefaultRounds
	if s := os.Getenv("COMMONS_CRASH_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatalf("COMMONS_CRASH_SEED=%q: %v", s, err)
		}
		seed = v
	}
	if s := os.Getenv("COMMONS_CRASH_ROUNDS"); s != "" {
		v, err := strconv.Atoi(s)
		if err != nil || v < 1 || v > 100000 {
			t.Fatalf("COMMONS_CRASH_ROUNDS=%q: want a number from 1 to 100000", s)
		}
		rounds = v
	}
	return seed, rounds
}

func newCrashHarness(t *testing.T, seed uint64) *crashHarness {
	h := &crashHarness{
		t: t, seed: seed,
		rng:      rand.New(rand.NewPCG(seed, 0xc4a5)),
		prng:     rand.New(rand.NewPCG(seed, 0x9a71)),
		work:     t.TempDir(),
		known:    map[cid.Cid]string{},
		isBundle: map[cid.Cid]bool{},
		compared: map[cid.Cid]bool{},
		pinned:   map[cid.Cid]bool{},
		unpinned: map[cid.Cid]bool{},
		pending:  map[string][]string{},
		heads:    map[string]cid.Cid{},
		dirs:     map[string]string{},
		// First guesses (measured on a 2-core machine); each run that
		// ends refines them.
		est: map[string]time.Duration{
			opPublish: 300 * time.Millisecond, opPublishOffline: 400 * time.Millisecond,
			opImport: 200 * time.Millisecond, opImport + "/offline": 350 * time.Millisecond,
			opPinAdd: 350 * time.Millisecond, opGet: 300 * time.Millisecond,
			opPinToggle: 60 * time.Millisecond, opPinToggle + "/offline": 150 * time.Millisecond,
			opGC: 80 * time.Millisecond, opGC + "/offline": 200 * time.Millisecond,
			"daemon start": 500 * time.Millisecond,
		},
	}
	if err := os.MkdirAll(filepath.Join(h.work, "out"), 0o755); err != nil {
		t.Fatal(err)
	}
	h.pool = filepath.Join(h.work, "pool", "shared.step")
	h.randomFile(h.pool, 3<<20)
	h.a, h.b, h.c = newRepo(t, "source"), newRepo(t, "victim"), newRepo(t, "sneaker")
	h.ad = h.a.start()
	h.bd = h.b.start()

	// B follows A's library and mirrors its first version.
	h.mirrorDir = h.bundleDir("crash-mirror", "", 1<<20)
	v1 := h.a.publish(h.mirrorDir)
	h.mirrorVs = append(h.mirrorVs, v1.CID)
	h.learn(v1.CID, h.mirrorDir, true)
	h.lib = decode[api.LibraryInfo](t, h.a.ok("library", "--json")).Name
	h.b.ok("connect", tcpAddr(t, h.ad))
	h.b.ok("follow", h.lib)
	if !poll(crashMirrorWait, nil, func() bool { return h.b.pinned(v1.CID) }) {
		t.Fatalf("B did not mirror A's first version:\n%s", h.b.ok("mirror", "status").stdout)
	}
	h.pinned[v1.CID] = true

	// B follows C's library too, which only reaches it as sneakernet
	// CARs: C never runs a daemon. C's first version is carried now.
	c1 := h.sneakerVersion()
	h.cLib = decode[api.LibraryInfo](t, h.c.ok("library", "--json")).Name
	h.b.ok("follow", h.cLib)
	h.b.ok("have", "-o", filepath.Join(h.work, "have-0"))
	h.c.ok("export", "--for", filepath.Join(h.work, "have-0"), "-o", filepath.Join(h.work, "delta-0.car"))
	h.b.ok("import", filepath.Join(h.work, "delta-0.car"))
	h.pinned[c1] = true
	return h
}

// runRound runs one operation on B, kills a process at a random point,
// checks the repo as the crash left it, reopens it, redoes the operation
// and checks the result.
func (h *crashHarness) runRound(n int, op string) {
	began := time.Now()
	r := &crashRound{n: n, op: op, fraction: h.rng.Float64() * 1.15}
	h.cur = r
	h.round = append(h.round, r)
	// Drawn every round, used or not, so the plan does not shift with
	// what earlier rounds found.
	offline, toClient := h.rng.IntN(2) == 0, h.rng.IntN(10) < 3
	r.killStart, r.startFrac = h.rng.IntN(4) == 0, h.rng.Float64()
	switch op {
	case opPublishOffline:
		offline = true
	case opPublish, opPinAdd, opGet, opMirror:
		offline = false
	}
	r.offline, r.toClient = offline, toClient
	switch {
	case offline:
		r.victim = victimCLI
	case toClient && op != opMirror:
		r.victim = victimClient
	default:
		r.victim = victimDaemon
	}
	switch op {
	case opPublish, opPublishOffline:
		h.roundPublish(r)
	case opImport:
		h.roundImport(r)
	case opPinAdd:
		h.roundPinAdd(r)
	case opGet:
		h.roundGet(r)
	case opPinToggle:
		h.roundPinToggle(r)
	case opGC:
		h.roundGC(r)
	case opMirror:
		h.roundMirror(r)
	}
	mode := "daemon"
	if r.offline {
		mode = "offline"
	}
	if r.startKill > 0 {
		r.note += fmt.Sprintf(" [restart killed at %.0f ms]", ms(r.startKill))
	}
	point := fmt.Sprintf("%.2f of %4.0f ms", r.fraction, ms(r.est))
	if r.op == opMirror {
		point = fmt.Sprintf("%.2f of the new bytes", r.fraction)
	}
	h.t.Logf("round %2d %-15s %-7s kill %-6s at %5.0f ms (%s; ran %5.0f ms) %-14s reported=%-5t violations=%d (round %.1f s)%s",
		r.n, r.op, mode, r.victim, ms(r.delay), point, ms(r.ran), midText(r.mid), r.reported, r.violations, time.Since(began).Seconds(), r.note)
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func midText(mid bool) string {
	if mid {
		return "mid-operation"
	}
	return "after it ended"
}

func (h *crashHarness) estKey(op string, offline bool) string {
	if offline && op != opPublishOffline {
		return op + "/offline"
	}
	return op
}

// measured folds a measured duration of a whole operation into its estimate.
func (h *crashHarness) measured(key string, d time.Duration) {
	if e, ok := h.est[key]; ok {
		h.est[key] = (e*6 + d*4) / 10
		return
	}
	h.est[key] = d
}

// violate records a broken invariant: the test fails, the round goes on.
func (h *crashHarness) violate(format string, args ...any) {
	h.t.Helper()
	if h.cur == nil {
		h.finalViolations++
		h.t.Errorf("final check (seed %d): "+format, append([]any{h.seed}, args...)...)
		return
	}
	h.cur.violations++
	h.t.Errorf("round %d, %s (seed %d): "+format, append([]any{h.cur.n, h.cur.op, h.seed}, args...)...)
}

// Mode switches.

func (h *crashHarness) stopDaemon() {
	if h.bd == nil {
		return
	}
	if code := h.bd.stop(); code != 0 {
		h.violate("B's daemon exited with code %d on SIGINT:\n%s", code, h.bd.logTail(20))
	}
	h.bd = nil
}

// startDaemon starts B's daemon on the repo as the crash left it (stale
// api, gateway and listen files included) and connects it to A. A daemon
// that does not come up fails the test: the repo is wedged. In a quarter
// of the rounds the first restart after the kill is killed too, at a
// random point of its start (opening the store, repairing the library,
// planning the mirror), before the one that must come up.
func (h *crashHarness) startDaemon() {
	if h.bd != nil {
		return
	}
	if r := h.cur; r != nil && r.killed && r.killStart && r.startKill == 0 {
		d := h.b.spawnDaemon()
		// The start goes on after the API answers (the library's
		// repair, the mirror's first plan): half as long again.
		r.startKill = max(time.Millisecond, time.Duration(r.startFrac*1.5*float64(h.est["daemon start"])))
		timer := time.NewTimer(r.startKill)
		select {
		case <-timer.C:
		case <-d.done:
			h.violate("B's daemon exited by itself while starting:\n%s", d.logTail(20))
		}
		timer.Stop()
		d.kill()
	}
	start := time.Now()
	h.bd = h.b.start()
	h.measured("daemon start", time.Since(start))
	if r := h.b.run("connect", tcpAddr(h.t, h.ad)); r.code != 0 {
		h.violate("connect to A after the restart:\n%s", r)
	}
}

func (h *crashHarness) setMode(offline bool) {
	if offline {
		h.stopDaemon()
	} else {
		h.startDaemon()
	}
}

// bgCommand is a CLI command running in the background, to be killed.
type bgCommand struct {
	args           []string
	cmd            *exec.Cmd
	stdout, stderr bytes.Buffer
	done           chan struct{}
	started, ended time.Time
	err            error
}

func (h *crashHarness) startB(args ...string) *bgCommand {
	full := append([]string{"--repo", h.b.path}, args...)
	c := &bgCommand{args: full, done: make(chan struct{})}
	c.cmd = exec.Command(commonsBin(h.t), full...)
	c.cmd.Dir = filepath.Dir(h.b.path)
	c.cmd.Env = commandEnv()
	c.cmd.Stdout, c.cmd.Stderr = &c.stdout, &c.stderr
	c.started = time.Now()
	if err := c.cmd.Start(); err != nil {
		h.t.Fatalf("start commons %s: %v", strings.Join(full, " "), err)
	}
	go func() {
		c.err = c.cmd.Wait()
		c.ended = time.Now()
		close(c.done)
	}()
	return c
}

// wait returns what the command did once it has ended.
func (c *bgCommand) wait(t *testing.T) result {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(commandDeadline):
		_ = c.cmd.Process.Kill()
		<-c.done
		t.Fatalf("commons %s did not end within %s", strings.Join(c.args, " "), commandDeadline)
	}
	r := result{args: c.args, stdout: c.stdout.String(), stderr: c.stderr.String()}
	var ee *exec.ExitError
	switch {
	case errors.As(c.err, &ee):
		r.code = ee.ExitCode()
	case c.err != nil:
		t.Fatalf("commons %s: %v", strings.Join(c.args, " "), c.err)
	}
	return r
}

// runKilled runs a command on B and kills the round's victim at the
// round's point of the operation's estimated duration, or when the command
// ends if that is sooner (a daemon is then killed right after it answered).
func (h *crashHarness) runKilled(args ...string) result {
	r := h.cur
	r.est = h.est[h.estKey(r.op, r.offline)]
	r.delay = time.Duration(r.fraction * float64(r.est))
	c := h.startB(args...)
	// The timer is the fault injected, not a wait for a condition.
	timer := time.NewTimer(r.delay)
	defer timer.Stop()
	finished := false
	select {
	case <-c.done:
		finished = true
	case <-timer.C:
	}
	switch r.victim {
	case victimDaemon:
		h.bd.kill()
		h.bd = nil
	default:
		_ = c.cmd.Process.Kill() // a no-op if it has ended
	}
	res := c.wait(h.t)
	r.killed = true
	r.mid = !finished
	r.reported = res.code == 0
	if finished {
		r.ran = c.ended.Sub(c.started)
		if res.code == 0 {
			h.measured(h.estKey(r.op, r.offline), r.ran)
		}
	} else {
		r.ran = r.delay
	}
	return res
}

// redo runs the round's operation again after the crash, in the round's
// mode. Most kills land before the operation ends, so a redo that does
// the whole work again (publish re-imports the folder, gc walks every pin)
// also refines the estimate of its duration.
func (h *crashHarness) redo(args ...string) result {
	start := time.Now()
	r := h.b.run(args...)
	if r.code == 0 && h.cur != nil {
		h.measured(h.estKey(h.cur.op, h.cur.offline), time.Since(start))
	}
	return r
}

// afterKill checks B as the crash left it (offline if its daemon is dead,
// else through the living daemon) and returns its pins. Pins the model
// cannot account for are handed to adopt, which may match them to what
// the round did; left over, they are violations.
func (h *crashHarness) afterKill(adopt func(c cid.Cid, p api.PinInfo) bool) map[cid.Cid]api.PinInfo {
	pins := h.checkPins(adopt)
	h.verify()
	if h.bd == nil {
		h.checkMirrorStatus(pins)
	}
	return pins
}

// checkPins lists B's pins and checks them against the model: what was
// reported pinned is listed, what was reported unpinned is not, and every
// other pin is content the model knows (or adopt accounts for).
func (h *crashHarness) checkPins(adopt func(c cid.Cid, p api.PinInfo) bool) map[cid.Cid]api.PinInfo {
	pins := h.pinList()
	for c := range h.pinned {
		if _, ok := pins[c]; !ok {
			h.violate("%s (%s) was reported pinned and is not listed", c, h.known[c])
		}
	}
	for c := range h.unpinned {
		if _, ok := pins[c]; ok {
			h.violate("%s was reported unpinned and is still listed", c)
		}
	}
	own := 0
	for c, p := range pins {
		if p.Name == "library" {
			own++
		}
		if strings.HasPrefix(p.Name, "library") {
			continue // B's own library and the structure of the followed one
		}
		if _, ok := h.known[c]; ok {
			continue
		}
		if adopt != nil && adopt(c, p) {
			continue
		}
		if h.adoptPending(c, p) {
			continue
		}
		h.violate("pin %s (%q, %s) is nothing the harness made", c, p.Name, p.Type)
	}
	if own > 1 {
		h.violate("B pins %d roots of its own library; an update must unpin the old one", own)
	}
	return pins
}

func (h *crashHarness) pinList() map[cid.Cid]api.PinInfo {
	r := h.b.run("pin", "ls", "--json")
	if r.code != 0 {
		h.violate("pin ls:\n%s", r)
		return nil
	}
	var list []api.PinInfo
	if err := json.Unmarshal([]byte(r.stdout), &list); err != nil {
		h.violate("pin ls printed no JSON: %v\n%s", err, r)
	}
	pins := map[cid.Cid]api.PinInfo{}
	for _, p := range list {
		pins[p.CID] = p
	}
	return pins
}

// adoptPending matches a pin of a bundle name against the folders of
// publishes that were killed before they reported: such a version may be
// absent or present, but if present it must be complete and equal its
// folder.
func (h *crashHarness) adoptPending(c cid.Cid, p api.PinInfo) bool {
	dirs := h.pending[p.Name]
	if len(dirs) == 0 {
		return false
	}
	for _, dir := range dirs {
		if h.matches(c, dir, true) {
			h.learn(c, dir, true)
			h.compared[c] = true
			return true
		}
	}
	return false
}

// verify runs `commons verify`: every block re-hashed, every pinned DAG
// complete.
func (h *crashHarness) verify() api.VerifyResult {
	r := h.b.run("verify", "--json")
	var v api.VerifyResult
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil {
		h.violate("verify printed no JSON (exit %d): %v\n%s", r.code, err, r)
		return v
	}
	if r.code != 0 || !v.OK || len(v.Corrupt) > 0 || len(v.Incomplete) > 0 {
		h.violate("verify found damage (exit %d): corrupt %v, incomplete %+v, %v", r.code, v.Corrupt, v.Incomplete, v.Unrepaired)
	}
	if v.Blocks == 0 || v.Pins == 0 {
		h.violate("verify checked nothing: %+v", v)
	}
	return v
}

// checkMirrorStatus reads `mirror status` offline: for each followed
// library it must not count a version as pinned that B does not pin (and
// verify checks that what is pinned is complete), nor call the library
// current while a version it knows is not pinned.
func (h *crashHarness) checkMirrorStatus(pins map[cid.Cid]api.PinInfo) {
	r := h.b.run("mirror", "status", "--json")
	if r.code != 0 {
		h.violate("mirror status:\n%s", r)
		return
	}
	var st api.MirrorStatus
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		h.violate("mirror status printed no JSON: %v", err)
		return
	}
	for _, want := range []struct {
		name     string
		versions []cid.Cid
	}{{h.lib, h.mirrorVs}, {h.cLib, h.cVersions}} {
		var l *api.MirrorLibrary
		for i := range st.Libraries {
			if st.Libraries[i].Name == want.name {
				l = &st.Libraries[i]
			}
		}
		if l == nil {
			h.violate("mirror status does not list the followed library %s: %+v", want.name, st)
			continue
		}
		have := 0
		for _, v := range want.versions {
			if _, ok := pins[v]; ok {
				have++
			}
		}
		switch {
		case l.Pinned > have:
			h.violate("mirror status counts %d versions of %s pinned; B pins %d", l.Pinned, want.name, have)
		case l.State == api.MirrorCurrent && l.Pinned != l.Versions:
			h.violate("mirror status calls %s current with %d of %d versions pinned", want.name, l.Pinned, l.Versions)
		case l.Pinned < have && want.name == h.lib:
			// Versions C's plain CARs brought are pinned but held by
			// no library until a delta arrives: not worth a note.
			h.cur.note += fmt.Sprintf(" [mirror status counts %d pinned, B pins %d]", l.Pinned, have)
		}
	}
}

// learn records what a CID's content must be.
func (h *crashHarness) learn(c cid.Cid, dir string, bundle bool) {
	h.known[c] = dir
	h.isBundle[c] = bundle
}

// matches fetches c from B into a new folder and reports whether it equals
// dir.
func (h *crashHarness) matches(c cid.Cid, dir string, bundle bool) bool {
	out := h.outDir(c)
	defer os.RemoveAll(out)
	r := h.b.run("get", c.String(), "-o", out)
	if r.code != 0 {
		return false
	}
	return len(diffDirs(dir, out, bundle)) == 0
}

// compare fetches c from B and checks it byte for byte against its folder.
func (h *crashHarness) compare(c cid.Cid) {
	dir, ok := h.known[c]
	if !ok {
		h.violate("compare %s: unknown content", c)
		return
	}
	out := h.outDir(c)
	defer os.RemoveAll(out)
	r := h.b.run("get", c.String(), "-o", out)
	if r.code != 0 {
		h.violate("get %s:\n%s", c, r)
		return
	}
	if d := diffDirs(dir, out, h.isBundle[c]); len(d) > 0 {
		h.violate("%s fetched from B differs from %s: %s", c, dir, strings.Join(d, "; "))
	}
	h.compared[c] = true
}

func (h *crashHarness) outDir(c cid.Cid) string {
	h.seq++
	s := c.String()
	return filepath.Join(h.work, "out", fmt.Sprintf("%d-%s", h.seq, s[len(s)-8:]))
}

// The rounds.

func (h *crashHarness) roundPublish(r *crashRound) {
	h.setMode(r.offline)
	names := []string{"crash-frame", "crash-wheel", "crash-seat"}
	name := names[h.prng.IntN(len(names))]
	dir := h.bundleDir(name, h.dirs[name], 2<<20+h.prng.IntN(10<<20))
	res := h.runKilled("publish", "--json", dir)
	h.pending[name] = append(h.pending[name], dir)
	var first cid.Cid
	if r.reported {
		pr, err := decodeJSON[api.PublishResult](res)
		if err != nil || !pr.CID.Defined() {
			h.violate("publish reported success without a CID: %v\n%s", err, res)
		} else {
			first = pr.CID
			h.learn(first, dir, true)
			h.pinned[first] = true
			h.heads[name] = first
		}
	}
	h.afterKill(nil)
	redo := func() {
		rr := h.redo("publish", "--json", dir)
		pr, err := decodeJSON[api.PublishResult](rr)
		if rr.code != 0 || err != nil || !pr.CID.Defined() {
			h.violate("publish again after the crash:\n%s", rr)
			return
		}
		if first.Defined() && (!pr.CID.Equals(first) || !pr.Unchanged) {
			h.violate("publish again of a reported version gave %s (unchanged %t), not %s", pr.CID, pr.Unchanged, first)
		}
		h.learn(pr.CID, dir, true)
		h.pinned[pr.CID] = true
		h.heads[name] = pr.CID
		if pr.Unchanged {
			r.note += " (redo: unchanged)"
		}
	}
	if r.offline {
		redo()
		h.startDaemon()
	} else {
		h.startDaemon()
		redo()
	}
	h.dirs[name] = dir
	h.pending[name] = nil
	if c := h.heads[name]; c.Defined() {
		h.compare(c)
		h.checkLibraryHead(name, c)
	}
}

// checkLibraryHead waits until B's library lists c as name's newest
// version (a publish updates it at once; one interrupted between its
// commit and the library's update is repaired at the daemon's start).
func (h *crashHarness) checkLibraryHead(name string, c cid.Cid) {
	var got cid.Cid
	ok := poll(30*time.Second, nil, func() bool {
		r := h.b.run("library", "--json")
		if r.code != 0 {
			return false
		}
		info, err := decodeJSON[api.LibraryInfo](r)
		if err != nil {
			return false
		}
		for _, e := range info.Bundles {
			if e.Name == name {
				got = e.Root
			}
		}
		return got.Equals(c)
	})
	if !ok {
		h.violate("B's library lists %s as %s's newest version, want %s", got, name, c)
	}
}

// sneakerVersion has C publish a new version of its bundle offline.
func (h *crashHarness) sneakerVersion() cid.Cid {
	h.cVersion = h.bundleDir("sneaker-bike", h.cVersion, 2<<20+h.prng.IntN(10<<20))
	pr := decode[api.PublishResult](h.t, h.c.ok("publish", "--json", h.cVersion))
	h.learn(pr.CID, h.cVersion, true)
	h.cVersions = append(h.cVersions, pr.CID)
	return pr.CID
}

// sneakerCAR has C publish a new version and export it as a plain CAR of
// that version (what `commons export CID` writes).
func (h *crashHarness) sneakerCAR(n int) (string, cid.Cid) {
	v := h.sneakerVersion()
	car := filepath.Join(h.work, fmt.Sprintf("import-%d.car", n))
	h.c.ok("export", v.String(), "-o", car)
	return car, v
}

// sneakerDelta has C publish a new version, and B write its have-file, and
// C export what B lacks of C's library: a sneakernet delta CAR, whose
// import takes C's library record and pins the versions for it.
func (h *crashHarness) sneakerDelta(n int) (string, cid.Cid) {
	v := h.sneakerVersion()
	have := filepath.Join(h.work, fmt.Sprintf("have-%d", n))
	car := filepath.Join(h.work, fmt.Sprintf("delta-%d.car", n))
	h.b.ok("have", "-o", have)
	h.c.ok("export", "--for", have, "-o", car)
	return car, v
}

// importReported checks what an import that reported success printed.
func (h *crashHarness) importReported(res result, root cid.Cid) {
	ir, err := decodeJSON[api.ImportResult](res)
	if err != nil || len(ir.Roots) != 1 || !ir.Roots[0].Equals(root) {
		h.violate("import reported %v, want root %s: %v", ir.Roots, root, err)
	}
	h.pinned[root] = true
}

// importAgain redoes an import after the crash.
func (h *crashHarness) importAgain(car string, root cid.Cid) {
	run := h.b.run
	if h.cur != nil && h.cur.op == opImport {
		run = h.redo
	}
	rr := run("import", "--json", car)
	ir, err := decodeJSON[api.ImportResult](rr)
	if rr.code != 0 || err != nil || len(ir.Roots) != 1 || !ir.Roots[0].Equals(root) {
		h.violate("import again after the crash:\n%s", rr)
		return
	}
	h.pinned[root] = true
}

func (h *crashHarness) roundImport(r *crashRound) {
	h.setMode(r.offline)
	// A plain CAR of one version, or a sneakernet delta of C's library.
	car, root := "", cid.Undef
	delta := h.prng.IntN(2) == 1
	if delta {
		car, root = h.sneakerDelta(r.n)
		r.note = " sneakernet delta"
	} else {
		car, root = h.sneakerCAR(r.n)
	}
	if res := h.runKilled("import", "--json", car); r.reported {
		if delta {
			h.deltaReported(res, root)
		} else {
			h.importReported(res, root)
		}
	}
	h.afterKill(nil)
	again := func() {
		if delta {
			h.deltaAgain(car)
		} else {
			h.importAgain(car, root)
		}
	}
	if r.offline {
		again()
		h.startDaemon()
	} else {
		h.startDaemon()
		again()
	}
	h.compare(root)
}

// deltaReported checks what a sneakernet import that reported success
// printed: C's library record, and the new version pinned for it.
func (h *crashHarness) deltaReported(res result, v cid.Cid) {
	ir, err := decodeJSON[api.ImportResult](res)
	if err != nil || len(ir.Libraries) != 1 || ir.Libraries[0].Name != h.cLib || !slices.ContainsFunc(ir.Libraries[0].Pinned, v.Equals) {
		h.violate("the sneakernet import reported %+v (%v), want %s pinned for %s", ir.Libraries, err, v, h.cLib)
		return
	}
	for _, c := range h.cVersions {
		h.pinned[c] = true // B follows every version: the delta carried what it lacked
	}
}

// deltaAgain redoes a sneakernet import after the crash: it succeeds, and
// B then pins every version of C's.
func (h *crashHarness) deltaAgain(car string) {
	rr := h.redo("import", "--json", car)
	ir, err := decodeJSON[api.ImportResult](rr)
	if rr.code != 0 || err != nil || len(ir.Libraries) != 1 || ir.Libraries[0].Skipped != "" {
		h.violate("sneakernet import again after the crash:\n%s", rr)
		return
	}
	pins := h.pinList()
	for _, c := range h.cVersions {
		if _, ok := pins[c]; !ok {
			h.violate("after the sneakernet import B does not pin C's version %s", c)
			continue
		}
		h.pinned[c] = true
	}
}

// servedByA has A add a new plain folder and returns its CID and folder.
func (h *crashHarness) servedByA(label string) (cid.Cid, string) {
	dir := h.plainDir(label, 2<<20+h.prng.IntN(12<<20), 10+h.prng.IntN(80))
	pr := decode[api.PublishResult](h.t, h.a.ok("add", "--json", dir))
	h.learn(pr.CID, dir, false)
	return pr.CID, dir
}

func (h *crashHarness) roundPinAdd(r *crashRound) {
	c, _ := h.servedByA(fmt.Sprintf("fetch-%d", r.n))
	h.setMode(false)
	h.runKilled("pin", "add", c.String())
	if r.reported {
		h.pinned[c] = true
	}
	h.afterKill(nil)
	h.startDaemon()
	start := time.Now()
	if rr := h.b.run("pin", "add", c.String()); rr.code != 0 {
		h.violate("pin add again after the crash:\n%s", rr)
	} else {
		h.pinned[c] = true
		if !r.reported && r.fraction < 0.3 {
			h.measured(opPinAdd, time.Since(start)) // little of it was fetched before the kill
		}
	}
	h.toggle = append(h.toggle, c)
	h.compare(c)
}

func (h *crashHarness) roundGet(r *crashRound) {
	c, dir := h.servedByA(fmt.Sprintf("get-%d", r.n))
	h.setMode(false)
	out := h.outDir(c)
	h.runKilled("get", c.String(), "-o", out)
	// The folder is written beside the target and renamed into place: it
	// is there complete or not at all.
	if _, err := os.Lstat(out); err == nil {
		if d := diffDirs(dir, out, false); len(d) > 0 {
			h.violate("get killed %s left %s incomplete: %s", midText(r.mid), out, strings.Join(d, "; "))
		}
	} else if r.reported {
		h.violate("get reported success and wrote no %s", out)
	}
	// What an interrupted get leaves beside the target is named as
	// partial: counted and removed.
	parts, _ := filepath.Glob(filepath.Join(filepath.Dir(out), filepath.Base(out)+".partial-*"))
	cars, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".commons-get-*.car"))
	h.partialDirs += len(parts)
	h.partialCARs += len(cars)
	for _, p := range append(append(parts, cars...), out) {
		os.RemoveAll(p)
	}
	if pins := h.afterKill(nil); pins != nil {
		if _, ok := pins[c]; ok {
			h.violate("get pinned %s", c)
		}
	}
	h.startDaemon()
	start := time.Now()
	h.compare(c) // get again, into a new folder
	if !r.reported && r.fraction < 0.3 {
		h.measured(opGet, time.Since(start))
	}
}

func (h *crashHarness) roundPinToggle(r *crashRound) {
	if len(h.toggle) == 0 {
		// Nothing fetched yet: fetch something to toggle.
		c, _ := h.servedByA(fmt.Sprintf("toggle-%d", r.n))
		h.startDaemon()
		h.b.ok("pin", "add", c.String())
		h.pinned[c] = true
		h.toggle = append(h.toggle, c)
	}
	c := h.toggle[h.prng.IntN(len(h.toggle))]
	unpin := h.pinned[c]
	if !unpin {
		r.offline, r.victim = false, victimDaemon // pinning may fetch: it needs the network
		if r.toClient {
			r.victim = victimClient
		}
	}
	h.setMode(r.offline)
	verb := "add"
	if unpin {
		verb = "rm"
	}
	r.note = " pin " + verb
	h.runKilled("pin", verb, c.String())
	delete(h.pinned, c)
	delete(h.unpinned, c)
	if r.reported {
		if unpin {
			h.unpinned[c] = true
		} else {
			h.pinned[c] = true
		}
	}
	pins := h.afterKill(nil)
	redo := func() {
		rr := h.redo("pin", verb, c.String())
		// An unpin the kill interrupted may have happened or not (a
		// daemon whose client died may even finish it after the check
		// above): again, it succeeds, or says there is no such pin.
		_, listed := pins[c]
		switch {
		case unpin && rr.code == exitNotFound:
			if _, still := h.pinList()[c]; still {
				h.violate("pin rm says %s is not pinned, and pin ls lists it:\n%s", c, rr)
				return
			}
		case unpin && !listed && rr.code == 0:
			h.violate("pin rm of %s, which was not listed, succeeded", c)
		case rr.code != 0:
			h.violate("pin %s again after the crash:\n%s", verb, rr)
			return
		}
		if unpin {
			h.unpinned[c] = true
		} else {
			h.pinned[c] = true
		}
	}
	if r.offline {
		redo()
		h.startDaemon()
	} else {
		h.startDaemon()
		redo()
	}
	if !unpin {
		h.compare(c)
	}
}

func (h *crashHarness) roundGC(r *crashRound) {
	h.setMode(r.offline)
	// Garbage to collect: a folder of many small files, added and unpinned.
	dir := h.plainDir(fmt.Sprintf("garbage-%d", r.n), 256<<10, 200+h.prng.IntN(400))
	g := decode[api.PublishResult](h.t, h.b.ok("add", "--json", dir)).CID
	h.b.ok("pin", "rm", g.String())
	h.unpinned[g] = true
	// Through the daemon, gc sometimes runs while a mirror fetches or an
	// import streams in: it must keep what of them has arrived.
	var v, imported cid.Cid
	var car string
	var imp *bgCommand
	if !r.offline {
		switch h.prng.IntN(3) {
		case 1:
			v = h.publishMirrorVersion().CID
			r.note = " while a mirror fetches"
		case 2:
			car, imported = h.sneakerCAR(r.n)
			imp = h.startB("import", "--json", car)
			r.note = " while an import runs"
		}
	}
	killed := h.bd
	h.runKilled("gc", "--json")
	if imp != nil {
		if res := imp.wait(h.t); res.code == 0 {
			h.importReported(res, imported)
		}
	}
	if v.Defined() && killed != nil && h.bd == nil && mirrorPinnedInLog(killed, v) {
		h.pinned[v] = true // the mirror finished before the kill
	}
	h.afterKill(nil)
	if v.Defined() && h.bd == nil && !h.pinned[v] {
		h.gcKeepsMirror(v)
	}
	redo := func() {
		if rr := h.redo("gc", "--json"); rr.code != 0 {
			h.violate("gc again after the crash:\n%s", rr)
		}
	}
	if r.offline {
		redo()
		h.startDaemon()
	} else {
		h.startDaemon()
		redo()
	}
	// The garbage is gone: B's gateway, asked not to fetch, has no root.
	code := cachedOnly(h.t, h.bd.gateway+"/ipfs/"+g.String()+"/")
	if code == http.StatusOK {
		h.violate("after gc B still serves the unpinned garbage %s from its store", g)
	}
	if v.Defined() {
		h.waitMirrored()
	}
	if imported.Defined() {
		h.importAgain(car, imported)
		h.compare(imported)
	}
}

// cachedOnly asks a gateway for url from its own store alone and returns
// the status (boxo answers 412 for what is not stored).
func cachedOnly(t *testing.T, u string) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Cache-Control", "only-if-cached")
	resp, err := (&http.Client{Timeout: commandDeadline}).Do(req)
	if err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// publishMirrorVersion has A publish a new version of the followed bundle.
func (h *crashHarness) publishMirrorVersion() api.PublishResult {
	h.mirrorDir = h.bundleDir("crash-mirror", h.mirrorDir, 2<<20+h.prng.IntN(10<<20))
	pub := h.a.publish(h.mirrorDir)
	h.mirrorVs = append(h.mirrorVs, pub.CID)
	h.learn(pub.CID, h.mirrorDir, true)
	return pub
}

func (h *crashHarness) roundMirror(r *crashRound) {
	h.setMode(false)
	d := h.bd
	hc := &http.Client{Timeout: 5 * time.Second}
	base := receivedBytes(hc, d.api)
	pub := h.publishMirrorVersion()
	v := pub.CID
	// The fault: B's daemon dies once it has received the round's
	// fraction of the bytes the new version adds (a fraction of 1 or more:
	// once it logged the version pinned). B's /metrics counts the block
	// bytes it receives; it is read every 10 ms, a bounded poll.
	target := int64(r.fraction * float64(pub.NewBytes))
	start := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	deadline := time.After(crashMirrorWait)
	var got int64
wait:
	for {
		if got = receivedBytes(hc, d.api) - base; got >= target || mirrorPinnedInLog(d, v) {
			break
		}
		select {
		case <-tick.C:
		case <-deadline:
			h.violate("B received %d of the %d bytes of %s in %s", got, pub.NewBytes, v, crashMirrorWait)
			break wait
		case <-d.done:
			h.violate("B's daemon exited by itself:\n%s", d.logTail(20))
			break wait
		}
	}
	d.kill()
	h.bd = nil
	r.killed = true
	r.delay = time.Since(start)
	r.ran = r.delay
	r.note = fmt.Sprintf(" killed with %.1f of %.1f MiB received", float64(got)/(1<<20), float64(pub.NewBytes)/(1<<20))
	// The daemon logs a version only once it is pinned and durable.
	r.reported = mirrorPinnedInLog(d, v)
	r.mid = !r.reported
	if r.reported {
		h.pinned[v] = true
	}
	h.afterKill(nil)
	if !r.reported {
		h.gcKeepsMirror(v)
	}
	h.startDaemon()
	h.waitMirrored()
}

// receivedBytes sums a daemon's counters of block bytes received from
// peers (commons_*_received_bytes_total, less the duplicates' subsets): 0
// if /metrics does not answer.
func receivedBytes(hc *http.Client, apiURL string) int64 {
	resp, err := hc.Get(apiURL + "/metrics")
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0
	}
	var total float64
	for _, l := range strings.Split(string(b), "\n") {
		name, value, ok := strings.Cut(l, " ")
		if !ok || !strings.HasPrefix(name, "commons_") || !strings.HasSuffix(name, "_received_bytes_total") || strings.Contains(name, "dup") {
			continue
		}
		if f, err := strconv.ParseFloat(strings.TrimSpace(value), 64); err == nil {
			total += f
		}
	}
	return int64(total)
}

// gcKeepsMirror runs gc offline on B right after its daemon was killed
// while mirroring v, and checks that gc kept every block of v that had
// arrived: the version is still wanted, and the restarted mirror resumes
// from those blocks.
func (h *crashHarness) gcKeepsMirror(v cid.Cid) {
	blocks := carBlocks(h.t, h.ad.gateway, v)
	before := h.storedOf(blocks)
	rr := h.b.run("gc", "--json")
	g, err := decodeJSON[api.GCResult](rr)
	if rr.code != 0 || err != nil {
		h.violate("gc after the kill:\n%s", rr)
		return
	}
	after := h.storedOf(blocks)
	if after < before {
		h.violate("gc after the kill removed %d of the %d blocks of %s that had arrived: the mirror still wants them", before-after, before, v)
	}
	h.cur.note += fmt.Sprintf(" [%d of %d blocks of the new version stored at the kill; gc then removed %d blocks, none of them]", before, len(blocks), g.Removed)
}

// storedOf counts the blocks B's store holds, reading the store directly
// (B's daemon is not running: the repo lock is free).
func (h *crashHarness) storedOf(blocks []cid.Cid) int {
	r, err := repo.Open(h.b.path)
	if err != nil {
		h.t.Fatalf("open B's repo to count blocks: %v", err)
	}
	defer r.Close()
	n := 0
	for _, c := range blocks {
		if ok, err := r.Store.Blockstore().Has(context.Background(), c); err == nil && ok {
			n++
		}
	}
	return n
}

// carBlocks lists the blocks of the DAG under root, as a trustless
// gateway sends them in a CAR.
func carBlocks(t *testing.T, gateway string, root cid.Cid) []cid.Cid {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, gateway+"/ipfs/"+root.String()+"?format=car&dag-scope=all", nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Accept", "application/vnd.ipld.car")
	resp, err := (&http.Client{Timeout: commandDeadline}).Do(req)
	if err != nil {
		t.Fatalf("CAR of %s: %v", root, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("CAR of %s: HTTP %d", root, resp.StatusCode)
	}
	br, err := car.NewBlockReader(resp.Body)
	if err != nil {
		t.Fatalf("CAR of %s: %v", root, err)
	}
	var out []cid.Cid
	for {
		b, err := br.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("CAR of %s: %v", root, err)
		}
		out = append(out, b.Cid())
	}
}

// waitMirrored waits until B pins every version of A's bundle (the mirror
// resumes after a restart) and compares those it had not.
func (h *crashHarness) waitMirrored() {
	var missing []cid.Cid
	ok := poll(crashMirrorWait, nil, func() bool {
		pins := h.pinList()
		missing = missing[:0]
		for _, v := range h.mirrorVs {
			if _, ok := pins[v]; !ok {
				missing = append(missing, v)
			}
		}
		return len(missing) == 0
	})
	if !ok {
		h.violate("the restarted mirror did not pin %v within %s:\n%s\n%s", missing, crashMirrorWait, h.b.run("mirror", "status").stdout, h.bd.logTail(20))
		return
	}
	for _, v := range h.mirrorVs {
		h.pinned[v] = true
		if !h.compared[v] {
			h.compare(v)
		}
	}
}

// mirrorPinnedInLog reports whether a daemon's log says it pinned v.
func mirrorPinnedInLog(d *daemon, v cid.Cid) bool {
	b, err := os.ReadFile(d.logPath)
	if err != nil {
		return false
	}
	for _, l := range strings.Split(string(b), "\n") {
		if strings.Contains(l, `msg="mirror: pinned"`) && strings.Contains(l, "cid="+v.String()) {
			return true
		}
	}
	return false
}

// finalCheck compares every pin of B with its folder, checks what was
// reported, verifies the repo, and checks that B mirrors every version.
func (h *crashHarness) finalCheck() {
	h.startDaemon()
	pins := h.checkPins(nil)
	n := 0
	for c, p := range pins {
		if strings.HasPrefix(p.Name, "library") {
			continue
		}
		if _, ok := h.known[c]; ok {
			h.compare(c)
			n++
		}
	}
	v := h.verify()
	for _, c := range h.cVersions {
		if _, ok := pins[c]; !ok {
			h.violate("B does not pin C's version %s, which it imported", c)
		}
	}
	h.waitMirrored()
	for name, c := range h.heads {
		h.checkLibraryHead(name, c)
	}
	h.t.Logf("final check: %d pins compared byte for byte with their folders; verify: %d blocks (%s), %d pins, ok %t",
		n, v.Blocks, humanBytes(v.Bytes), v.Pins, v.OK)
}

// summary logs the table of the run (also when the test stops early).
func (h *crashHarness) summary() {
	type row struct{ rounds, mid, after, reported, violations int }
	rows := map[string]*row{}
	var total row
	startKills := 0
	for _, r := range h.round {
		if r.startKill > 0 {
			startKills++
		}
		key := r.op
		if r.offline && r.op != opPublishOffline {
			key += " (offline)"
		}
		if r.victim == victimClient {
			key += " (client killed)"
		}
		w := rows[key]
		if w == nil {
			w = &row{}
			rows[key] = w
		}
		for _, x := range []*row{w, &total} {
			x.rounds++
			if r.mid {
				x.mid++
			} else {
				x.after++
			}
			if r.reported {
				x.reported++
			}
			x.violations += r.violations
		}
	}
	var b strings.Builder
	fmt.Fprintf(&b, "crash harness summary: seed %d, %d rounds\n", h.seed, len(h.round))
	fmt.Fprintf(&b, "%-34s %6s %8s %8s %9s %10s\n", "operation", "rounds", "mid-op", "after", "reported", "violations")
	keys := make([]string, 0, len(rows))
	for k := range rows {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		w := rows[k]
		fmt.Fprintf(&b, "%-34s %6d %8d %8d %9d %10d\n", k, w.rounds, w.mid, w.after, w.reported, w.violations)
	}
	fmt.Fprintf(&b, "%-34s %6d %8d %8d %9d %10d\n", "total", total.rounds, total.mid, total.after, total.reported, total.violations)
	fmt.Fprintf(&b, "violations in the final check: %d\n", h.finalViolations)
	fmt.Fprintf(&b, "restarts killed while starting, before the restart that had to come up: %d\n", startKills)
	fmt.Fprintf(&b, "interrupted gets left %d .partial-* folders and %d .commons-get-*.car files beside their targets (no target was written incomplete)", h.partialDirs, h.partialCARs)
	h.t.Log(b.String())
}

// Payloads: seeded random files in several folders.

func (h *crashHarness) randomFile(name string, n int) {
	var seed [32]byte
	binary.LittleEndian.PutUint64(seed[:], h.prng.Uint64())
	binary.LittleEndian.PutUint64(seed[8:], h.prng.Uint64())
	b := make([]byte, n)
	_, _ = rand.NewChaCha8(seed).Read(b)
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		h.t.Fatal(err)
	}
	if err := os.WriteFile(name, b, 0o644); err != nil {
		h.t.Fatal(err)
	}
}

const crashTOML = `name = %q
title = "Crash test design %s"
kind = "product-design"

[licenses]
hardware = "CERN-OHL-W-2.0"
software = "NONE"
documentation = "CC-BY-4.0"

[[authors]]
name = "Workshop Nord"
contact = "nord@example.org"
`

// bundleDir makes a new folder for the next version of a design bundle:
// prev's files as hard links (unchanged), at most the three newest CAD
// parts of prev, a fresh CAD part of fresh bytes, a new folder of notes,
// a new photo, and edited instructions and BOM. prev "" makes a first
// version around the shared pool file.
func (h *crashHarness) bundleDir(name, prev string, fresh int) string {
	h.seq++
	dir := filepath.Join(h.work, "src", fmt.Sprintf("%s-%d", name, h.seq))
	if prev != "" {
		parts, _ := filepath.Glob(filepath.Join(prev, "cad", "part-*.step"))
		slices.Sort(parts)
		drop := map[string]bool{}
		for len(parts) > 3 {
			drop[parts[0]] = true
			parts = parts[1:]
		}
		err := filepath.WalkDir(prev, func(p string, e fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			rel, _ := filepath.Rel(prev, p)
			to := filepath.Join(dir, rel)
			switch {
			case e.IsDir():
				return os.MkdirAll(to, 0o755)
			case drop[p]:
				return nil
			}
			return os.Link(p, to)
		})
		if err != nil {
			h.t.Fatalf("copy %s: %v", prev, err)
		}
	} else {
		if err := os.MkdirAll(filepath.Join(dir, "cad"), 0o755); err != nil {
			h.t.Fatal(err)
		}
		if err := os.Link(h.pool, filepath.Join(dir, "cad", "shared.step")); err != nil {
			h.t.Fatal(err)
		}
	}
	// Files that change are replaced, never written through a hard link.
	replace := func(rel string, data []byte) {
		p := filepath.Join(dir, rel)
		_ = os.Remove(p)
		writeFiles(h.t, dir, map[string][]byte{rel: data})
	}
	replace("commons.toml", []byte(fmt.Sprintf(crashTOML, name, name)))
	replace("instructions.md", []byte(fmt.Sprintf("# %s\n\nVersion %d.\n\n1. Cut.\n2. Weld.\n", name, h.seq)))
	replace("bom.csv", []byte(fmt.Sprintf("part,qty\nsteel tube,%d\nbolt M8,%d\n", 1+h.seq%7, 4+h.seq%11)))
	h.randomFile(filepath.Join(dir, "cad", fmt.Sprintf("part-%06d.step", h.seq)), fresh)
	notes := 5 + h.prng.IntN(40)
	for i := 0; i < notes; i++ {
		h.randomFile(filepath.Join(dir, "docs", fmt.Sprintf("notes-%d", h.seq), fmt.Sprintf("n%03d.txt", i)), 512+h.prng.IntN(16<<10))
	}
	h.randomFile(filepath.Join(dir, "images", fmt.Sprintf("photo-%d.jpg", h.seq)), 64<<10+h.prng.IntN(256<<10))
	return dir
}

// plainDir makes a plain folder (no manifest): one large file, many small
// ones, and a nested folder.
func (h *crashHarness) plainDir(label string, large, small int) string {
	h.seq++
	dir := filepath.Join(h.work, "src", fmt.Sprintf("%s-%d", label, h.seq))
	h.randomFile(filepath.Join(dir, "data", "blob.bin"), large)
	for i := 0; i < small; i++ {
		h.randomFile(filepath.Join(dir, "small", fmt.Sprintf("f%04d.bin", i)), 256+h.prng.IntN(8<<10))
	}
	h.randomFile(filepath.Join(dir, "nested", "a", "b", "deep.bin"), 4<<10)
	return dir
}

// diffDirs lists how got differs from want (files compared byte for byte);
// with bundle set, got's .commons/ folder (the manifest) must exist and is
// not compared. At most ten differences are listed.
func diffDirs(want, got string, bundle bool) []string {
	var out []string
	add := func(s string) {
		if len(out) < 10 {
			out = append(out, s)
		}
	}
	seen := map[string]bool{}
	werr := filepath.WalkDir(want, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		seen[rel] = true
		gp := filepath.Join(got, rel)
		gi, err := os.Lstat(gp)
		switch {
		case err != nil:
			add(rel + ": missing")
		case e.IsDir():
			if !gi.IsDir() {
				add(rel + ": not a folder")
			}
		default:
			wb, err1 := os.ReadFile(p)
			gb, err2 := os.ReadFile(gp)
			if err1 != nil || err2 != nil || !bytes.Equal(wb, gb) {
				add(rel + ": differs")
			}
		}
		return nil
	})
	if werr != nil {
		add("walk " + want + ": " + werr.Error())
	}
	if bundle {
		if _, err := os.Stat(filepath.Join(got, ".commons", "bundle.cbor")); err != nil {
			add(".commons/bundle.cbor: missing")
		}
	}
	gerr := filepath.WalkDir(got, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(got, p)
		if bundle && rel == ".commons" {
			return filepath.SkipDir
		}
		if !seen[rel] {
			add(rel + ": extra")
		}
		return nil
	})
	if gerr != nil {
		add("walk " + got + ": " + gerr.Error())
	}
	return out
}

// decodeJSON parses a command's stdout, without failing the test.
func decodeJSON[T any](r result) (T, error) {
	var v T
	err := json.Unmarshal([]byte(r.stdout), &v)
	return v, err
}

// TestE2EStaleAPIPortTaken: a daemon killed with SIGKILL leaves its api
// file behind, and another repo's daemon may listen on that port since.
// It refuses this repo's token; the CLI must see from the free repo lock
// that the file is stale and open the repo, not fail until someone
// deletes the file by hand.
func TestE2EStaleAPIPortTaken(t *testing.T) {
	t.Parallel()
	b := newRepo(t, "killed")
	bd := b.start()
	pub := b.publish(demoBundle(t))
	bd.kill()
	stale := readTrimmed(b.file("api"))
	u, err := url.Parse(stale)
	if err != nil || u.Port() == "" {
		t.Fatalf("api file after kill -9: %q", stale)
	}
	other := newRepo(t, "neighbour")
	other.setConfig("addresses", "api", fmt.Sprintf("'/ip4/127.0.0.1/tcp/%s'", u.Port()))
	od := other.start()
	if od.api != stale {
		t.Fatalf("the other daemon's API is at %s, not the stale %s", od.api, stale)
	}
	pins := b.contentPins() // offline, through the repo
	if len(pins) != 1 || !pins[0].CID.Equals(pub.CID) {
		t.Errorf("pin ls with the stale api file answered by another daemon: %+v, want %s", pins, pub.CID)
	}
	if b.exists("api") {
		t.Errorf("the offline command left the stale api file")
	}
	// A genuine refusal still says so: B's daemon with another token.
	b.start()
	if !b.pinned(pub.CID) {
		t.Errorf("after the restart %s is not pinned", pub.CID)
	}
	if err := os.WriteFile(b.file(api.TokenFile), []byte(strings.Repeat("0", 64)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	mustFail(t, b.run("pin", "ls"), exitError, "refused")
}

// TestE2EGCKeepsPlannedVersion: a mirror reads a new version's manifest
// when it plans, and fetches the version later (here: behind a large
// version on a slow link, one fetch at a time). The blocks the plan
// stored belong to a mirror in progress: a gc before the fetch, as after
// the daemon stopped or was killed, must keep them. (The crash harness
// found an offline gc after a kill deleting them: the plan fetched them
// without marking the version wanted.) The daemon is stopped, not
// killed, so that what it stored is on disk whatever the timing: a kill
// may lose the last unsynced writes, which need not survive.
func TestE2EGCKeepsPlannedVersion(t *testing.T) {
	t.Parallel()
	a, b := newRepo(t, "publisher"), newRepo(t, "mirror")
	b.setConfig("swarm", "download_rate", `"4Mbit"`)
	b.setConfig("mirror", "concurrency", "1")
	da := a.start()
	work := t.TempDir()
	bundleDir := func(name string, seq, size int) string {
		dir := filepath.Join(work, fmt.Sprintf("%s-%d", name, seq))
		data := make([]byte, size)
		var seed [32]byte
		seed[0], seed[1] = byte(seq), name[0]
		_, _ = rand.NewChaCha8(seed).Read(data)
		writeFiles(t, dir, map[string][]byte{
			"commons.toml":    []byte(fmt.Sprintf(crashTOML, name, name)),
			"instructions.md": []byte(fmt.Sprintf("# %s\n\nVersion %d.\n", name, seq)),
			"bom.csv":         []byte("part,qty\ntube,6\n"),
			"cad/part.step":   data,
		})
		return dir
	}
	t1 := a.publish(bundleDir("tractor", 1, 64<<10))
	p1 := a.publish(bundleDir("pump", 1, 64<<10))
	lib := decode[api.LibraryInfo](t, a.ok("library", "--json")).Name
	db := b.start()
	b.ok("connect", tcpAddr(t, da))
	b.ok("follow", lib)
	if !poll(crashMirrorWait, nil, func() bool { return b.pinned(t1.CID) && b.pinned(p1.CID) }) {
		t.Fatalf("B did not mirror the first versions:\n%s", b.ok("mirror", "status").stdout)
	}
	// A large version, which B fetches at 4 Mbit/s for a minute, then a
	// small one, which waits for it.
	large := a.publish(bundleDir("tractor", 2, 30<<20))
	small := a.publish(bundleDir("pump", 2, 64<<10))
	manifest := small.CID.String() + "/.commons/bundle.cbor"
	if !poll(crashMirrorWait, nil, func() bool {
		return cachedOnly(t, db.gateway+"/ipfs/"+manifest) == http.StatusOK
	}) {
		t.Fatalf("B's mirror did not read the small version's manifest:\n%s", b.ok("mirror", "status").stdout)
	}
	db.stop()
	if b.pinned(large.CID) || b.pinned(small.CID) {
		t.Fatalf("B pinned a version before it stopped; the test means to stop it while both are to be fetched")
	}
	b.ok("cat", manifest)
	b.gc()
	if r := b.run("cat", manifest); r.code != 0 {
		t.Errorf("gc deleted the manifest of %s, which the mirror had read and was to fetch:\n%s", small.CID, r)
	}
	// The restarted mirror, with no limit, completes both.
	b.setConfig("swarm", "download_rate", `"0"`)
	b.start()
	b.ok("connect", tcpAddr(t, da))
	if !poll(crashMirrorWait, nil, func() bool { return b.pinned(large.CID) && b.pinned(small.CID) }) {
		t.Fatalf("the restarted mirror did not complete:\n%s", b.ok("mirror", "status").stdout)
	}
	mustOK(t, b.run("verify"))
}

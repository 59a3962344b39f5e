// Command commons-bench measures commons side by side with Kubo on one
// machine: import throughput of a generated design library, node-to-node
// fetch throughput over loopback (with a raw TCP copy as the physical
// reference), daemon memory when idle and while fetching, the new bytes a
// mirror fetches after a small edit, and gateway load. It drives
// both implementations through their command lines, as a user would,
// interleaves their runs, and prints medians, per-run values and the ratio
// commons/Kubo; -out also writes them as JSON for comparing runs over time.
//
// It is a benchmark, not a test: it asserts nothing about speed. Run it with
// `make bench`; docs/benchmarks.md explains what each number means.
package main

import (
	"context"
	"debug/buildinfo"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// options are the command-line settings.
type options struct {
	size      byteSize
	runs      int
	seed      uint64
	out       string
	keep      bool
	commons   string
	kubo      string
	idle      time.Duration
	timeout   time.Duration
	workdir   string
	scenarios []string

	gwConcurrency int
	gwDuration    time.Duration
	editSize      byteSize

	announceCIDs    []int
	announceTimeout time.Duration
}

// scenario is one group of measurements. Each runs its own -runs
// iterations, interleaving the implementations, and adds its metrics to the
// report.
type scenario struct {
	name string
	what string
	run  func(*bench, context.Context) error
	// library is whether it uses the generated design library (which is
	// only written when a selected scenario does).
	library bool
	// optIn scenarios run only when -scenarios names them.
	optIn bool
}

// scenarios lists every scenario in the order they run.
func scenarios() []scenario {
	return []scenario{
		{name: "import", what: "time `add` / `ipfs add -r` (buzhash; also Kubo's fixed-size chunks) of the library into a fresh repo, no daemon", run: (*bench).importScenario, library: true},
		{name: "fetch", what: "two daemons on loopback: idle RSS, then time `pin add` on B of what A holds; raw TCP reference", run: (*bench).fetchScenario, library: true},
		{name: "edit", what: "a 100-byte overwrite and insertion in the middle of a CAD-like file (-edit-size): new bytes a mirror must fetch", run: (*bench).editScenario},
		{name: "gateway", what: "HTTP load on each daemon's gateway: requests/s and p99 of a bundle page and of 4 KiB and 1 MiB files over /ipfs/", run: (*bench).gatewayScenario},
		{name: "announce", what: "only when named, minutes: time to announce -announce-cids new CIDs (files added to a running daemon) to a DHT of 20 in-process peers", run: (*bench).announceScenario, optIn: true},
		{name: "netlab", what: "root, Linux, about 20 minutes, only when named: a 2.0 MB design folder over a 256 kbit/s, 150 ms, 2% loss link between namespaces, with and without a 60 s cut; each configuration once, whatever -runs", run: (*bench).netlabScenario, optIn: true},
	}
}

func parseOptions(args []string, stderr io.Writer) (options, error) {
	o := options{size: 256 << 20, editSize: 100 << 20}
	fs := flag.NewFlagSet("commons-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	kuboDefault := os.Getenv("COMMONS_KUBO_BIN")
	if kuboDefault == "" {
		kuboDefault = "bin/ipfs-kubo"
	}
	var names, defaults []string
	for _, s := range scenarios() {
		names = append(names, s.name)
		if !s.optIn {
			defaults = append(defaults, s.name)
		}
	}
	fs.Var(&o.size, "size", "size of the generated design library, e.g. 8MiB, 256MiB, 1GiB")
	fs.IntVar(&o.runs, "runs", 3, "runs per measurement; medians are reported")
	fs.Uint64Var(&o.seed, "seed", 1, "seed of the generated library (same seed and size, same bytes)")
	fs.StringVar(&o.out, "out", "", "also write the results as JSON to this file")
	fs.BoolVar(&o.keep, "keep", false, "keep the temporary library, repos and daemon logs")
	fs.StringVar(&o.commons, "commons", "bin/commons", "the commons binary to measure")
	fs.StringVar(&o.kubo, "kubo", kuboDefault, "the Kubo binary to compare with ($COMMONS_KUBO_BIN if set); empty or missing: commons only")
	fs.DurationVar(&o.idle, "idle", 5*time.Second, "how long daemons sit idle after start before their RSS is read")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Minute, "limit for any one command (an import, a fetch)")
	fs.StringVar(&o.workdir, "workdir", "", "where to make the temporary directory (default $TMPDIR)")
	fs.IntVar(&o.gwConcurrency, "gw-concurrency", 16, "gateway scenario: concurrent clients, each sending its next request when the last is answered")
	fs.DurationVar(&o.gwDuration, "gw-duration", 5*time.Second, "gateway scenario: length of each measurement (after a warm-up of a quarter of it, at most 1s)")
	fs.Var(&o.editSize, "edit-size", "edit scenario: size of the edited file")
	announceCIDs := fs.String("announce-cids", "10000,100000", "announce scenario: comma-separated numbers of CIDs to announce")
	fs.DurationVar(&o.announceTimeout, "announce-timeout", 10*time.Minute, "announce scenario: give up waiting for the records after this long")
	only := fs.String("scenarios", strings.Join(defaults, ","), "comma-separated scenarios to run: "+strings.Join(names, ", "))
	fs.Usage = func() {
		fmt.Fprintf(stderr, "usage: commons-bench [flags]\n\nMeasures commons side by side with Kubo (see docs/benchmarks.md). Scenarios:\n")
		for _, s := range scenarios() {
			fmt.Fprintf(stderr, "  %-8s %s\n", s.name, s.what)
		}
		fmt.Fprintf(stderr, "\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if fs.NArg() > 0 {
		return o, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	switch {
	case o.size < 1<<20 || o.size > 1<<40:
		return o, fmt.Errorf("-size %s: want 1MiB to 1TiB", o.size)
	case o.runs < 1 || o.runs > 100:
		return o, fmt.Errorf("-runs %d: want 1 to 100", o.runs)
	case o.idle < 0 || o.idle > 10*time.Minute:
		return o, fmt.Errorf("-idle %s: want 0 to 10m", o.idle)
	case o.timeout <= 0:
		return o, fmt.Errorf("-timeout %s: want a positive duration", o.timeout)
	case o.gwConcurrency < 1 || o.gwConcurrency > 1024:
		return o, fmt.Errorf("-gw-concurrency %d: want 1 to 1024", o.gwConcurrency)
	case o.editSize < 1<<20 || o.editSize > 4<<30:
		return o, fmt.Errorf("-edit-size %s: want 1MiB to 4GiB (it is held in memory)", o.editSize)
	case o.gwDuration < 100*time.Millisecond || o.gwDuration > 10*time.Minute:
		return o, fmt.Errorf("-gw-duration %s: want 100ms to 10m", o.gwDuration)
	}
	counts, err := parseCounts(*announceCIDs)
	if err != nil {
		return o, fmt.Errorf("-announce-cids: %w", err)
	}
	o.announceCIDs = counts
	for s := range strings.SplitSeq(*only, ",") {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		if !slices.Contains(names, s) {
			return o, fmt.Errorf("-scenarios: unknown %q (known: %s)", s, strings.Join(names, ", "))
		}
		o.scenarios = append(o.scenarios, s)
	}
	if len(o.scenarios) == 0 {
		return o, errors.New("-scenarios: none selected")
	}
	return o, nil
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	opt, err := parseOptions(args, stderr)
	if errors.Is(err, flag.ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintf(stderr, "commons-bench: %v\n", err)
		return 2
	}
	b, err := newBench(ctx, opt, stdout, stderr)
	if err != nil {
		fmt.Fprintf(stderr, "commons-bench: %v\n", err)
		return 1
	}
	err = b.run(ctx)
	if cerr := b.close(); err == nil {
		err = cerr
	}
	if err != nil {
		if ctx.Err() != nil {
			err = fmt.Errorf("interrupted: %w", err)
		}
		b.rep.Error = err.Error()
	}
	b.rep.Machine.LoadEnd = loadAvg()
	b.rep.finish()
	b.summarize()
	b.rep.printTable(stdout)
	if opt.out != "" {
		if werr := b.rep.writeJSON(opt.out); werr != nil {
			fmt.Fprintf(stderr, "commons-bench: %v\n", werr)
			return 1
		}
		fmt.Fprintf(stderr, "wrote %s\n", opt.out)
	}
	if err != nil {
		fmt.Fprintf(stderr, "commons-bench: %v\n", err)
		if ctx.Err() != nil {
			return 130
		}
		return 1
	}
	return 0
}

// bench holds one benchmark run: its inputs, the daemons it started and
// the report it fills.
type bench struct {
	opt   options
	log   io.Writer // progress lines
	impls []impl    // commons first, then Kubo if available
	sup   *supervisor
	work  string // temporary directory holding everything
	lib   corpus
	rep   *report
	// sources are, per implementation, a repo holding the library, kept
	// from the import scenario and served by daemon A in the fetch one.
	sources map[string]source
	seq     int // makes repo directory names unique
	// editDiffAgrees is whether `commons diff` gave the edit scenario's
	// count for the first edit ("yes", or the two figures).
	editDiffAgrees string
}

type source struct{ repo, root string }

func newBench(ctx context.Context, opt options, stdout, stderr io.Writer) (*bench, error) {
	hc := &http.Client{Transport: &http.Transport{}}
	commonsBin, err := executable(opt.commons)
	if err != nil {
		return nil, fmt.Errorf("-commons: %w (run `make build`)", err)
	}
	b := &bench{
		opt:     opt,
		log:     stderr,
		impls:   []impl{&commonsImpl{bin: commonsBin, timeout: opt.timeout, hc: hc}},
		sup:     newSupervisor(),
		sources: map[string]source{},
		rep: &report{
			Schema:   reportSchema,
			Date:     time.Now().UTC().Format(time.RFC3339),
			Machine:  machineFacts(),
			Versions: map[string]string{},
			Options: reportOptions{Size: int64(opt.size), Runs: opt.runs, Seed: opt.seed,
				IdleSecs: opt.idle.Seconds(), Scenarios: opt.scenarios, EditSize: int64(opt.editSize)},
		},
	}
	b.rep.GitCommit, b.rep.GitDirty = gitCommit(ctx)
	if opt.kubo == "" {
		b.logf("kubo: no binary given (-kubo); measuring commons only")
		b.rep.note("Kubo not measured: no binary given")
	} else if kuboBin, err := executable(opt.kubo); err != nil {
		b.logf("kubo: %v; measuring commons only (build it with `make kubo`)", err)
		b.rep.note("Kubo not measured: %v", err)
	} else {
		b.impls = append(b.impls, &kuboImpl{bin: kuboBin, timeout: opt.timeout, hc: hc})
	}
	for _, im := range b.impls {
		v, err := im.Version(ctx)
		if err != nil {
			return nil, fmt.Errorf("%s version: %w", im.Name(), err)
		}
		b.rep.Versions[im.Name()] = v
	}
	b.rep.Versions["commons build"] = buildOf(commonsBin)
	return b, nil
}

// buildOf describes how bin was built: the commit it was built from (and
// whether the tree had changes), and the Go version. The repository's HEAD
// may have moved on since, so this is what names the code measured.
func buildOf(bin string) string {
	bi, err := buildinfo.ReadFile(bin)
	if err != nil {
		return "unknown (" + err.Error() + ")"
	}
	rev, dirty := "commit not recorded (-buildvcs=false)", ""
	for _, s := range bi.Settings {
		switch {
		case s.Key == "vcs.revision":
			rev = "commit " + short(s.Value)
		case s.Key == "vcs.modified" && s.Value == "true":
			dirty = " (modified tree)"
		}
	}
	desc := rev + dirty + ", " + bi.GoVersion
	if fi, err := os.Stat(bin); err == nil {
		desc += ", file of " + fi.ModTime().UTC().Format("2006-01-02 15:04 UTC")
	}
	return desc
}

// executable returns path made absolute if it is an executable file.
func executable(path string) (string, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return "", err
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return "", err
	}
	if !fi.Mode().IsRegular() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%s is not an executable file", abs)
	}
	return abs, nil
}

func (b *bench) logf(format string, args ...any) {
	fmt.Fprintf(b.log, format+"\n", args...)
}

// run generates the library and runs the selected scenarios.
func (b *bench) run(ctx context.Context) error {
	var err error
	b.work, err = os.MkdirTemp(b.opt.workdir, "commons-bench-")
	if err != nil {
		return fmt.Errorf("make temporary directory: %w", err)
	}
	if free := freeBytes(b.work); free >= 0 && free < 6*int64(b.opt.size) {
		b.logf("warning: %s has %s free; this run may need about %s", b.work, humanBytes(free), humanBytes(6*int64(b.opt.size)))
	}
	if slices.ContainsFunc(scenarios(), func(s scenario) bool { return s.library && slices.Contains(b.opt.scenarios, s.name) }) {
		b.logf("generating a %s design library (seed %d) in %s", b.opt.size, b.opt.seed, b.work)
		start := time.Now()
		b.lib, err = writeCorpus(ctx, filepath.Join(b.work, "library"), planCorpus(int64(b.opt.size), b.opt.seed), b.opt.seed)
		if err != nil {
			return err
		}
		b.rep.Corpus = b.lib.stats
		b.logf("library: %s in %d files, %d folders (%s)", humanBytes(b.lib.stats.Bytes), b.lib.stats.Files, b.lib.stats.Dirs, time.Since(start).Round(time.Millisecond))
	}
	for _, s := range scenarios() {
		if !slices.Contains(b.opt.scenarios, s.name) {
			continue
		}
		if err := s.run(b, ctx); err != nil {
			return fmt.Errorf("%s: %w", s.name, err)
		}
	}
	return nil
}

// close stops every daemon and removes the temporary directory unless
// -keep.
func (b *bench) close() error {
	var errs []error
	for _, err := range b.sup.stopAll() {
		if err != nil {
			errs = append(errs, err)
		}
	}
	if b.work != "" {
		if b.opt.keep {
			b.logf("kept %s", b.work)
		} else if err := os.RemoveAll(b.work); err != nil {
			errs = append(errs, fmt.Errorf("remove %s: %w", b.work, err))
		}
	}
	return errors.Join(errs...)
}

// order returns the implementations in the order run r uses: rotated each
// run, so no implementation always goes first (warm caches, disk
// writeback of the previous run).
func (b *bench) order(r int) []impl {
	n := len(b.impls)
	out := make([]impl, 0, n)
	for i := range n {
		out = append(out, b.impls[(i+r)%n])
	}
	return out
}

// newRepoDir returns a fresh path for a repo of im; it does not create it.
func (b *bench) newRepoDir(im impl, label string) string {
	b.seq++
	return filepath.Join(b.work, fmt.Sprintf("%s-%s-%d", im.Name(), label, b.seq))
}

// removeRepo deletes a repo that is no longer needed, unless -keep.
func (b *bench) removeRepo(dir string) {
	if b.opt.keep {
		return
	}
	_ = os.RemoveAll(dir)
	_ = os.Remove(dir + ".log")
}

// source returns a repo of im holding the library, importing it (untimed)
// if the import scenario did not run.
func (b *bench) source(ctx context.Context, im impl) (source, error) {
	if s, ok := b.sources[im.Name()]; ok {
		return s, nil
	}
	dir := b.newRepoDir(im, "source")
	if err := im.Init(ctx, dir); err != nil {
		return source{}, err
	}
	root, _, err := im.Add(ctx, dir, b.lib.dir)
	if err != nil {
		return source{}, err
	}
	s := source{dir, root}
	b.sources[im.Name()] = s
	return s, nil
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// mbps is n bytes over d in MB/s (10^6 bytes per second).
func mbps(n int64, d time.Duration) float64 { return float64(n) / 1e6 / d.Seconds() }

// mib is n bytes in MiB.
func mib(n int64) float64 { return float64(n) / (1 << 20) }

// summarize adds the notes that relate metrics to each other or qualify
// them.
func (b *bench) summarize() {
	m := b.rep.Machine
	if busy := 0.5 * float64(m.NumCPU); m.LoadStart > busy || m.LoadEnd > busy {
		b.rep.note("the machine was busy (load average %.2f at start, %.2f at end, %d CPUs): expect noisy numbers", m.LoadStart, m.LoadEnd, m.NumCPU)
	}
	for _, m := range b.rep.Metrics {
		if m.ID != "fetch_mbps" {
			continue
		}
		tcp, ok := m.Median[refTCP]
		if !ok || tcp == 0 {
			continue
		}
		for _, who := range []string{nameCommons, nameKubo} {
			if v, ok := m.Median[who]; ok {
				b.rep.note("%s fetches at %.1f%% of a raw TCP copy over loopback", who, 100*v/tcp)
			}
		}
	}
}

// byteSize is a flag value such as 256MiB, 1GiB, 500MB or 1048576.
type byteSize int64

func (s *byteSize) Set(v string) error {
	v = strings.TrimSpace(v)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"B", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToUpper(v), strings.ToUpper(u.suffix)) {
			v, mult = strings.TrimSpace(v[:len(v)-len(u.suffix)]), u.mult
			break
		}
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil || f < 0 || f*float64(mult) > 1<<50 {
		return fmt.Errorf("want a size such as 8MiB, 256MiB or 1GiB")
	}
	*s = byteSize(f * float64(mult))
	return nil
}

func (s byteSize) String() string {
	n := int64(s)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}} {
		if n >= u.mult && n%u.mult == 0 {
			return fmt.Sprintf("%d%s", n/u.mult, u.suffix)
		}
	}
	return strconv.FormatInt(n, 10)
}

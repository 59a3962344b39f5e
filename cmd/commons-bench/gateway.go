package main

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"
)

// gwSiteVersion names the generated gateway site, as corpusVersion does
// for the library: bump it when the same seed gives other bytes.
const gwSiteVersion = 1

// Sizes of the two files served over /ipfs/, and the folder whose
// directory listing is loaded.
const (
	gwSmall = 4 << 10
	gwLarge = 1 << 20
	// gwDir holds gwDirFiles small Markdown files (part notes).
	gwDir      = "parts"
	gwDirFiles = 100
)

// gwTarget is one URL the gateway scenario loads, on the implementations
// that serve it.
type gwTarget struct {
	id, what string
	// path returns the URL path on im, or "" when im does not serve it.
	path func(im impl) string
	// fresh gives every request a query of its own (?n=<worker>-<count>),
	// which both gateways ignore: no response is answered from a cache
	// (commons keeps small files' responses, gateway/respcache.go), so
	// the figure is the cost of making the response.
	fresh bool
}

// gatewayScenario measures HTTP requests per second and the 99th
// percentile latency of a closed-loop load (-gw-concurrency clients, each
// sending its next request when the last one is answered, for
// -gw-duration after a warm-up) on loopback against each daemon's gateway:
// a bundle page on commons, and a 4 KiB and a 1 MiB file over /ipfs/ on
// commons and on Kubo (the same bytes, the same CID). Both daemons run for
// the whole scenario, idle while the other is measured; every run measures
// every target on each implementation in turn, in the rotating order.
func (b *bench) gatewayScenario(ctx context.Context) error {
	// The files and the listing come from the site with its parts/
	// folder; the bundle page from the site without it, the bundle it has
	// always been, so that its figures stay comparable with earlier runs
	// (Kubo has no bundle page to measure it against).
	dir, err := writeGatewaySite(filepath.Join(b.work, "gateway-site", "plain", "bench-press"), b.opt.seed, true)
	if err != nil {
		return err
	}
	bundleDir, err := writeGatewaySite(filepath.Join(b.work, "gateway-site", "bundle", "bench-press"), b.opt.seed, false)
	if err != nil {
		return err
	}
	roots := map[string]string{} // implementation -> plain root
	var bundleRoot string
	daemons := map[string]*daemon{}
	for _, im := range b.impls {
		repo := b.newRepoDir(im, "gateway")
		if err := im.Init(ctx, repo); err != nil {
			return err
		}
		root, _, err := im.Add(ctx, repo, dir)
		if err != nil {
			return err
		}
		roots[im.Name()] = root
		if c, ok := im.(*commonsImpl); ok {
			if bundleRoot, err = c.Publish(ctx, repo, bundleDir); err != nil {
				return err
			}
		}
		d, err := im.Start(ctx, b.sup, im.Name()+" gateway", repo)
		if err != nil {
			return err
		}
		defer b.sup.stop(d)
		if d.gatewayURL == "" {
			return fmt.Errorf("%s: no gateway address found", im.Name())
		}
		daemons[im.Name()] = d
	}
	if c, k := roots[nameCommons], roots[nameKubo]; c != "" && k != "" && c != k {
		b.rep.note("gateway: commons and Kubo gave different roots for the site (%s, %s); the files are compared by path", c, k)
	}

	file := func(name string) func(impl) string {
		return func(im impl) string { return "/ipfs/" + roots[im.Name()] + "/" + name }
	}
	targets := []gwTarget{
		{"gw_page", "bundle page /bundles/<cid>/", func(im impl) string {
			if im.Name() != nameCommons {
				return "" // the design pages are commons's own
			}
			return "/bundles/" + bundleRoot + "/"
		}, false},
		{"gw_4k", "4 KiB file /ipfs/<cid>/small.bin", file("small.bin"), false},
		{"gw_4k_fresh", "4 KiB file, a new query each request", file("small.bin"), true},
		{"gw_1m", "1 MiB file /ipfs/<cid>/large.bin", file("large.bin"), false},
		{"gw_dir", "directory listing /ipfs/<cid>/" + gwDir + "/", file(gwDir + "/"), false},
	}
	// Each target's response must be what the implementations agree on:
	// read each once, and check the files against the bytes on disk.
	for _, tg := range targets {
		for _, im := range b.impls {
			p := tg.path(im)
			if p == "" {
				continue
			}
			if err := checkTarget(ctx, daemons[im.Name()].gatewayURL+p, dir, tg.id); err != nil {
				return fmt.Errorf("%s %s: %w", im.Name(), tg.what, err)
			}
		}
	}

	for r := range b.opt.runs {
		for _, tg := range targets {
			rps := b.rep.metric(tg.id+"_rps", tg.what+", requests/s", "req/s", "higher")
			p99 := b.rep.metric(tg.id+"_p99_ms", tg.what+", p99 latency", "ms", "lower")
			for _, im := range b.order(r) {
				p := tg.path(im)
				if p == "" {
					continue
				}
				res, err := loadURL(ctx, daemons[im.Name()].gatewayURL+p, tg.fresh, b.opt.gwConcurrency, b.opt.gwDuration)
				if err != nil {
					return fmt.Errorf("run %d, %s, %s: %w", r+1, im.Name(), tg.what, err)
				}
				rps.add(im.Name(), res.rps())
				p99.add(im.Name(), res.p99.Seconds()*1000)
				b.logf("gw     %d/%d %-8s %-34s %8.0f req/s  p50 %6.2f ms  p99 %6.2f ms  (%d requests)", r+1, b.opt.runs, im.Name(), tg.what,
					res.rps(), res.p50.Seconds()*1000, res.p99.Seconds()*1000, res.requests)
				if res.errors > 0 {
					b.rep.note("run %d: %s %s: %d of %d responses were not 200 (first: %s)", r+1, im.Name(), tg.what, res.errors, res.requests+res.errors, res.firstErr)
				}
			}
		}
	}
	b.rep.fact("gateway load", fmt.Sprintf("%d clients, %s per measurement after a %s warm-up, keep-alive, loopback", b.opt.gwConcurrency, b.opt.gwDuration, gwWarmup(b.opt.gwDuration)))
	b.rep.fact("gateway bundle", bundleRoot)
	return nil
}

// writeGatewaySite writes the folder the gateway scenario serves: a small
// design bundle (metadata, instructions, BOM) with a 4 KiB and a 1 MiB
// file of seeded random bytes and, withParts, a folder of gwDirFiles small
// Markdown files.
func writeGatewaySite(dir string, seed uint64, withParts bool) (string, error) {
	key := sha256.Sum256(fmt.Appendf(nil, "commons-bench gateway site %d seed %d", gwSiteVersion, seed))
	rng := rand.New(rand.NewChaCha8(key))
	random := func(n int) []byte {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	var steps strings.Builder
	steps.WriteString("# Build the bench press\n\n")
	for i := range 12 {
		fmt.Fprintf(&steps, "%d. Cut, drill and weld part %d; check it is square before the next step.\n", i+1, i+1)
	}
	var bom strings.Builder
	bom.WriteString("part,quantity,unit cost,currency,supplier\n")
	for i := range 20 {
		fmt.Fprintf(&bom, "part %02d,%d,%d.50,EUR,local fab\n", i+1, i%4+1, i%7+2)
	}
	files := map[string][]byte{
		"commons.toml": []byte(`name = "bench-press"
title = "Bench press"
summary = "A design bundle for measuring gateways"
instructions = "instructions.md"
bom = "bom.csv"
[licenses]
hardware = "CERN-OHL-S-2.0"
software = "NONE"
documentation = "CC-BY-4.0"
[[authors]]
name = "commons-bench"
`),
		"instructions.md": []byte(steps.String()),
		"bom.csv":         []byte(bom.String()),
		"small.bin":       random(gwSmall),
		"large.bin":       random(gwLarge),
	}
	if withParts {
		// A generator of its own, so that the files above keep their bytes.
		key := sha256.Sum256(fmt.Appendf(nil, "commons-bench gateway parts %d seed %d", gwSiteVersion, seed))
		rng := rand.New(rand.NewChaCha8(key))
		for _, name := range gwDirNames() {
			var note strings.Builder
			fmt.Fprintf(&note, "# %s\n\n", strings.TrimSuffix(name, ".md"))
			for range 2 + rng.IntN(10) {
				note.WriteString(sentence(rng, 8+rng.IntN(12)))
				note.WriteString("\n")
			}
			files[gwDir+"/"+name] = []byte(note.String())
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	if withParts {
		if err := os.MkdirAll(filepath.Join(dir, gwDir), 0o755); err != nil {
			return "", err
		}
	}
	for _, name := range slices.Sorted(maps.Keys(files)) {
		if err := writeSynced(filepath.Join(dir, filepath.FromSlash(name)), files[name]); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// checkTarget GETs u once: it must answer 200, and a file must have the
// bytes of the file of that name in dir.
func checkTarget(ctx context.Context, u, dir, id string) error {
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d: %.200s", u, res.StatusCode, body)
	}
	if id == "gw_dir" {
		// An HTML listing that names every file of the folder.
		if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/html") {
			return fmt.Errorf("GET %s: Content-Type %q, want an HTML directory listing", u, ct)
		}
		for _, name := range gwDirNames() {
			if !strings.Contains(string(body), name) {
				return fmt.Errorf("GET %s: the listing (%d bytes) does not name %s", u, len(body), name)
			}
		}
		return nil
	}
	name := map[string]string{"gw_4k": "small.bin", "gw_4k_fresh": "small.bin", "gw_1m": "large.bin"}[id]
	if name == "" {
		return nil
	}
	want, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		return err
	}
	if string(want) != string(body) {
		return fmt.Errorf("GET %s: %d bytes that are not %s", u, len(body), name)
	}
	return nil
}

// gwDirNames returns the names of the files in the listed folder.
func gwDirNames() []string {
	names := make([]string, gwDirFiles)
	for i := range names {
		names[i] = fmt.Sprintf("part-%03d-%s.md", i+1, corpusParts[i%len(corpusParts)])
	}
	return names
}

// loadResult is one closed-loop measurement.
type loadResult struct {
	requests int           // 200 responses completed in the window
	errors   int           // other responses and failed requests
	firstErr string        // the first of those
	window   time.Duration // the measured window
	p50, p99 time.Duration
}

func (r loadResult) rps() float64 { return float64(r.requests) / r.window.Seconds() }

// gwWarmup is the warm-up before a measurement window of d: connections
// opened, caches filled.
func gwWarmup(d time.Duration) time.Duration { return min(d/4, time.Second) }

// loadURL runs conc clients that GET u back to back for a warm-up and then
// for window, on keep-alive connections, reading every body to the end.
// Requests that start in the window and end before it closes are counted;
// their latencies (first byte sent to last byte read) give the
// percentiles. With fresh, every request adds a query of its own to u. It
// fails when no request succeeds.
func loadURL(ctx context.Context, u string, fresh bool, conc int, window time.Duration) (loadResult, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: conc, MaxConnsPerHost: conc, DisableCompression: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 60 * time.Second}
	start := time.Now().Add(gwWarmup(window))
	end := start.Add(window)
	ctx, cancel := context.WithDeadline(ctx, end.Add(30*time.Second))
	defer cancel()

	type worker struct {
		lat    []time.Duration
		errors int
		first  string
	}
	workers := make([]worker, conc)
	var wg sync.WaitGroup
	for i := range workers {
		w := &workers[i]
		wg.Go(func() {
			buf := make([]byte, 64<<10)
			n := 0
			for {
				t0 := time.Now()
				if !t0.Before(end) || ctx.Err() != nil {
					return
				}
				url := u
				if fresh {
					n++
					url = fmt.Sprintf("%s?n=%d-%d", u, i, n)
				}
				err := getOnce(ctx, hc, url, buf)
				t1 := time.Now()
				if t0.Before(start) || t1.After(end) {
					continue // warm-up, or finished after the window
				}
				if err != nil {
					if w.errors == 0 {
						w.first = err.Error()
					}
					w.errors++
					continue
				}
				w.lat = append(w.lat, t1.Sub(t0))
			}
		})
	}
	wg.Wait()
	if err := ctx.Err(); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return loadResult{}, err
	}
	res := loadResult{window: window}
	var all []time.Duration
	for _, w := range workers {
		all = append(all, w.lat...)
		res.errors += w.errors
		if res.firstErr == "" {
			res.firstErr = w.first
		}
	}
	res.requests = len(all)
	if res.requests == 0 {
		return res, fmt.Errorf("GET %s: no request succeeded in %s (%d failed; first: %s)", u, window, res.errors, res.firstErr)
	}
	slices.Sort(all)
	res.p50 = percentile(all, 0.50)
	res.p99 = percentile(all, 0.99)
	return res, nil
}

// percentile returns the q-quantile of sorted durations (nearest rank).
func percentile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.5) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// getOnce GETs u and reads the body to the end into buf (reused).
func getOnce(ctx context.Context, hc *http.Client, u string, buf []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if _, err := io.CopyBuffer(io.Discard, res.Body, buf); err != nil {
		return err
	}
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("HTTP %d", res.StatusCode)
	}
	return nil
}

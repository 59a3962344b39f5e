package main

import (
	"context"
	"fmt"
)

// fetchMetrics are the metrics the fetch scenario fills.
type fetchMetrics struct {
	speed, cpu, idleA, idleB, anonA, anonB, peakA, peakB *metric
}

// fetchScenario runs, per run and implementation, two fresh daemons on
// loopback: A serves the repo holding the library, B starts empty. After
// both have sat idle for -idle their RSS is read; then B connects to A and
// `pin add` of the root on B is timed, which fetches every block over
// bitswap. Each run ends with a raw TCP copy of the library's bytes as the
// physical reference.
func (b *bench) fetchScenario(ctx context.Context) error {
	m := fetchMetrics{
		speed: b.rep.metric("fetch_mbps", "fetch throughput A->B, loopback", "MB/s", "higher"),
		cpu:   b.rep.metric("fetch_cpu_s", "fetch CPU time, A+B (user+sys)", "s", "lower"),
		idleA: b.rep.metric("idle_rss_pinned_mib", "idle RSS, library pinned (A)", "MiB", "lower"),
		idleB: b.rep.metric("idle_rss_empty_mib", "idle RSS, empty repo (B)", "MiB", "lower"),
		// RSS counts the executable's pages mapped in, which the kernel
		// maps in 2 MiB pieces when the page cache holds the file in
		// large folios (after a build, not after a cold read): tens of MiB
		// that move between runs. RssAnon is the process's own memory.
		anonA: b.rep.metric("idle_anon_pinned_mib", "idle RssAnon (own memory), library pinned (A)", "MiB", "lower"),
		anonB: b.rep.metric("idle_anon_empty_mib", "idle RssAnon (own memory), empty repo (B)", "MiB", "lower"),
		peakB: b.rep.metric("peak_rss_fetch_mib", "peak RSS, fetching node (B)", "MiB", "lower"),
		peakA: b.rep.metric("peak_rss_serve_mib", "peak RSS, serving node (A)", "MiB", "lower"),
	}
	for r := range b.opt.runs {
		for _, im := range b.order(r) {
			if err := b.fetchOnce(ctx, im, r, m); err != nil {
				return fmt.Errorf("run %d, %s: %w", r+1, im.Name(), err)
			}
		}
		d, err := tcpCopy(ctx, b.lib.files, b.lib.stats.Bytes, b.opt.timeout)
		if err != nil {
			return fmt.Errorf("run %d: %w", r+1, err)
		}
		v := mbps(b.lib.stats.Bytes, d)
		m.speed.add(refTCP, v)
		b.logf("fetch  %d/%d %-8s %7.2f s  %7.1f MB/s", r+1, b.opt.runs, "raw TCP", d.Seconds(), v)
	}
	return nil
}

func (b *bench) fetchOnce(ctx context.Context, im impl, r int, m fetchMetrics) error {
	src, err := b.source(ctx, im)
	if err != nil {
		return err
	}
	dirB := b.newRepoDir(im, "fetch")
	if err := im.Init(ctx, dirB); err != nil {
		return err
	}
	defer b.removeRepo(dirB)

	a, err := im.Start(ctx, b.sup, im.Name()+" A", src.repo)
	if err != nil {
		return err
	}
	defer b.sup.stop(a)
	bb, err := im.Start(ctx, b.sup, im.Name()+" B", dirB)
	if err != nil {
		return err
	}
	defer b.sup.stop(bb)

	if err := sleep(ctx, b.opt.idle); err != nil {
		return err
	}
	idleA, errA := readMem(a.pid())
	idleB, errB := readMem(bb.pid())
	memOK := errA == nil && errB == nil
	if !memOK && r == 0 {
		b.rep.note("%s: memory not measured: %v", im.Name(), firstErr(errA, errB))
	}

	if err := im.Connect(ctx, bb, a.swarm); err != nil {
		return err
	}
	cpuA0, errA := readCPU(a.pid())
	cpuB0, errB := readCPU(bb.pid())
	res, err := im.Pin(ctx, bb, src.root)
	if err != nil {
		return err
	}
	cpuA1, errA1 := readCPU(a.pid())
	cpuB1, errB1 := readCPU(bb.pid())
	cpuOK := firstErr(errA, errB, errA1, errB1) == nil
	peakA, errA := readMem(a.pid())
	peakB, errB := readMem(bb.pid())
	memOK = memOK && errA == nil && errB == nil

	// Stop B, then A, before the next measurement, and say if one had to be
	// killed: a daemon that does not stop on SIGINT is worth knowing about.
	for _, d := range []*daemon{bb, a} {
		if err := b.sup.stop(d); err != nil {
			b.rep.note("run %d: %v", r+1, err)
		}
	}

	v := mbps(b.lib.stats.Bytes, res.Elapsed)
	m.speed.add(im.Name(), v)
	line := fmt.Sprintf("fetch  %d/%d %-8s %7.2f s  %7.1f MB/s", r+1, b.opt.runs, im.Name(), res.Elapsed.Seconds(), v)
	if cpuOK {
		c := (cpuA1 - cpuA0) + (cpuB1 - cpuB0)
		m.cpu.add(im.Name(), c.Seconds())
		line += fmt.Sprintf("  cpu %6.2f s (A %.2f, B %.2f)", c.Seconds(), (cpuA1 - cpuA0).Seconds(), (cpuB1 - cpuB0).Seconds())
	}
	if memOK {
		m.idleA.add(im.Name(), mib(idleA.RSS))
		m.idleB.add(im.Name(), mib(idleB.RSS))
		m.anonA.add(im.Name(), mib(idleA.Anon))
		m.anonB.add(im.Name(), mib(idleB.Anon))
		m.peakA.add(im.Name(), mib(peakA.Peak))
		m.peakB.add(im.Name(), mib(peakB.Peak))
		line += fmt.Sprintf("  idle RSS A %.0f B %.0f MiB (own %.0f, %.0f), peak A %.0f B %.0f MiB", mib(idleA.RSS), mib(idleB.RSS), mib(idleA.Anon), mib(idleB.Anon), mib(peakA.Peak), mib(peakB.Peak))
	}
	b.logf("%s", line)
	return nil
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// importer is one timed import of the import scenario: an implementation
// with the settings it imports with.
type importer struct {
	label string // for progress lines and facts
	im    impl
	// add imports folder into the repo at dir; nil means im.Add.
	add func(ctx context.Context, dir, folder string) (string, cmdResult, error)
}

// importScenario times the import of the library into a fresh repo with no
// daemon running: `commons add DIR` against `ipfs add -r` with the same
// UnixFS settings (buzhash), and, as a second reference, against Kubo's
// fixed-size chunking (its default, size-262144), which is faster to cut
// but costs far more after an edit (see the edit scenario). The time covers
// the whole command: process start, repo open, chunking, hashing, storing,
// pinning and the final sync.
func (b *bench) importScenario(ctx context.Context) error {
	speed := b.rep.metric("import_mbps", "import throughput", "MB/s", "higher")
	cpu := b.rep.metric("import_cpu_s", "import CPU time (user+sys)", "s", "lower")
	var importers []importer
	for _, im := range b.impls {
		importers = append(importers, importer{label: im.Name(), im: im})
	}
	// The fixed-size import gets metrics of its own: commons's import
	// against it, so the ratio column says whether commons (buzhash) is
	// ahead of Kubo's fastest import too.
	var fixedSpeed, fixedCPU *metric
	for _, im := range b.impls {
		if k, ok := im.(*kuboImpl); ok {
			fixedSpeed = b.rep.metric("import_fixed_mbps", "import throughput vs Kubo fixed-size (size-262144)", "MB/s", "higher")
			fixedCPU = b.rep.metric("import_fixed_cpu_s", "import CPU time vs Kubo fixed-size (size-262144)", "s", "lower")
			importers = append(importers, importer{label: "kubo fixed", im: k,
				add: func(ctx context.Context, dir, folder string) (string, cmdResult, error) {
					return k.AddWith(ctx, dir, folder, kuboFixed...)
				}})
		}
	}
	roots := map[string][]string{} // importer label -> distinct roots seen
	for r := range b.opt.runs {
		// Rotated every run, as b.order does, over all three imports.
		for i := range importers {
			imp := importers[(i+r)%len(importers)]
			im := imp.im
			dir := b.newRepoDir(im, strings.ReplaceAll(imp.label, " ", "-")+"-import")
			if err := im.Init(ctx, dir); err != nil {
				return fmt.Errorf("run %d: %w", r+1, err)
			}
			add := imp.add
			if add == nil {
				add = im.Add
			}
			root, res, err := add(ctx, dir, b.lib.dir)
			if err != nil {
				return fmt.Errorf("run %d: %w", r+1, err)
			}
			v := mbps(b.lib.stats.Bytes, res.Elapsed)
			b.logf("import %d/%d %-10s %7.2f s  %7.1f MB/s  cpu %6.2f s  %s", r+1, b.opt.runs, imp.label, res.Elapsed.Seconds(), v, res.CPU.Seconds(), root)
			if !slices.Contains(roots[imp.label], root) {
				roots[imp.label] = append(roots[imp.label], root)
			}
			if imp.add != nil { // Kubo fixed-size: a reference, not a source
				fixedSpeed.add(nameKubo, v)
				fixedCPU.add(nameKubo, res.CPU.Seconds())
				b.removeRepo(dir)
				continue
			}
			speed.add(im.Name(), v)
			cpu.add(im.Name(), res.CPU.Seconds())
			if im.Name() == nameCommons && fixedSpeed != nil {
				fixedSpeed.add(nameCommons, v)
				fixedCPU.add(nameCommons, res.CPU.Seconds())
			}
			// The newest import becomes the repo daemon A serves in the
			// fetch scenario; older ones are not needed.
			if old, ok := b.sources[im.Name()]; ok {
				b.removeRepo(old.repo)
			}
			b.sources[im.Name()] = source{dir, root}
		}
	}
	for _, imp := range importers {
		rs := roots[imp.label]
		b.rep.fact("root CID, "+imp.label, strings.Join(rs, " "))
		if len(rs) > 1 {
			b.rep.note("%s gave %d different root CIDs for the same folder across runs", imp.label, len(rs))
		}
	}
	if c, k := roots[nameCommons], roots[nameKubo]; len(c) > 0 && len(k) > 0 {
		equal := "no"
		if len(c) == 1 && len(k) == 1 && c[0] == k[0] {
			equal = "yes"
		}
		b.rep.fact("root CIDs equal", equal)
	}
	return nil
}

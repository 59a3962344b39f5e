package main

import (
	"context"
	"fmt"
	"slices"
	"strings"
)

// importScenario times the import of the library into a fresh repo with no
// daemon running: `commons publish DIR` against `ipfs add -r` with the same
// UnixFS settings. The time covers the whole command: process start, repo
// open, chunking, hashing, storing, pinning and the final sync.
func (b *bench) importScenario(ctx context.Context) error {
	speed := b.rep.metric("import_mbps", "import throughput", "MB/s", "higher")
	cpu := b.rep.metric("import_cpu_s", "import CPU time (user+sys)", "s", "lower")
	roots := map[string][]string{} // implementation -> distinct roots seen
	for r := range b.opt.runs {
		for _, im := range b.order(r) {
			dir := b.newRepoDir(im, "import")
			if err := im.Init(ctx, dir); err != nil {
				return fmt.Errorf("run %d: %w", r+1, err)
			}
			root, res, err := im.Add(ctx, dir, b.lib.dir)
			if err != nil {
				return fmt.Errorf("run %d: %w", r+1, err)
			}
			v := mbps(b.lib.stats.Bytes, res.Elapsed)
			speed.add(im.Name(), v)
			cpu.add(im.Name(), res.CPU.Seconds())
			b.logf("import %d/%d %-8s %7.2f s  %7.1f MB/s  cpu %6.2f s  %s", r+1, b.opt.runs, im.Name(), res.Elapsed.Seconds(), v, res.CPU.Seconds(), root)
			if !slices.Contains(roots[im.Name()], root) {
				roots[im.Name()] = append(roots[im.Name()], root)
			}
			// The newest import becomes the repo daemon A serves in the
			// fetch scenario; older ones are not needed.
			if old, ok := b.sources[im.Name()]; ok {
				b.removeRepo(old.repo)
			}
			b.sources[im.Name()] = source{dir, root}
		}
	}
	for _, im := range b.impls {
		rs := roots[im.Name()]
		b.rep.fact("root CID, "+im.Name(), strings.Join(rs, " "))
		if len(rs) > 1 {
			b.rep.note("%s gave %d different root CIDs for the same folder across runs", im.Name(), len(rs))
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

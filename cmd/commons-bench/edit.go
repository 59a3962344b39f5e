package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"

	carv2 "github.com/ipld/go-car/v2"
)

// editLen is how many bytes an edit changes or inserts.
const editLen = 100

// editKind is one way of editing the middle of the file.
type editKind struct {
	id, what string
}

// editKinds are the edits measured, in the order they are imported after
// the original.
var editKinds = []editKind{ // read-only
	{"overwrite", "overwrite 100 bytes"},
	{"insert", "insert 100 bytes"},
}

// editVariant is one way of importing the edited folder: an implementation
// with the settings a user of it gets, reported under key (an
// implementation name, or a reference).
type editVariant struct {
	key string
	im  impl
	// add imports folder into the repo at dir (no daemon) and returns the
	// root a mirror would follow.
	add func(ctx context.Context, dir, folder string) (string, error)
}

// editScenario measures what an edit costs a mirror: a folder holding one
// CAD-like file of -edit-size bytes is imported into a fresh repo, then the
// same folder with 100 bytes in the middle of the file overwritten, then
// with 100 bytes inserted there instead, each into the same repo as a new
// version. For each edit, the new bytes are the sizes of the blocks of the
// new version's DAG that no earlier version's DAG has: what a mirror that
// holds the earlier versions must fetch. The DAGs are read back through
// each implementation's CLI as CAR files (`commons export`, `ipfs dag
// export`) and compared by multihash here.
//
// commons publishes the folder as a bundle (its defaults: buzhash, the
// manifest and the bundle's directories included). Kubo is measured with
// `ipfs add -r` and no flags (what a Kubo user gets: fixed 256 KiB chunks),
// and with buzhash as a reference.
func (b *bench) editScenario(ctx context.Context) error {
	size := int64(b.opt.editSize)
	folders, err := writeEditFolders(filepath.Join(b.work, "edit"), size, b.opt.seed)
	if err != nil {
		return err
	}
	type kindMetrics struct{ bytes, pct, blocks *metric }
	metrics := map[string]kindMetrics{}
	for _, k := range editKinds {
		metrics[k.id] = kindMetrics{
			bytes:  b.rep.metric("edit_"+k.id+"_new_bytes", "edit cost, "+k.what+" mid-file: new bytes", "B", "lower"),
			pct:    b.rep.metric("edit_"+k.id+"_new_pct", "edit cost, "+k.what+" mid-file: new bytes, % of file", "%", "lower"),
			blocks: b.rep.metric("edit_"+k.id+"_new_blocks", "edit cost, "+k.what+" mid-file: new blocks", "blocks", "lower"),
		}
	}
	seen := map[string][]float64{} // key/kind -> distinct new-byte counts
	for r := range b.opt.runs {
		for _, im := range b.order(r) {
			for _, v := range editVariants(im) {
				costs, err := b.editCost(ctx, v, folders)
				if err != nil {
					return fmt.Errorf("run %d, %s: %w", r+1, v.key, err)
				}
				for i, k := range editKinds {
					c := costs[i]
					pct := 100 * float64(c.bytes) / float64(size)
					m := metrics[k.id]
					m.bytes.add(v.key, float64(c.bytes))
					m.pct.add(v.key, pct)
					m.blocks.add(v.key, float64(c.blocks))
					b.logf("edit   %d/%d %-12s %-20s %12d new bytes  %6.2f%%  %5d new blocks", r+1, b.opt.runs, v.key, k.what, c.bytes, pct, c.blocks)
					if s := v.key + "/" + k.id; !slices.Contains(seen[s], float64(c.bytes)) {
						seen[s] = append(seen[s], float64(c.bytes))
					}
				}
			}
		}
	}
	for s, vs := range seen {
		if len(vs) > 1 {
			b.rep.note("edit: %s gave different new-byte counts across runs (%v): the import is not deterministic", s, vs)
		}
	}
	b.rep.fact("edit: `commons diff` agrees (overwrite)", b.editDiffAgrees)
	b.rep.fact("edit file", fmt.Sprintf("%s CAD-like (seed %d), 100 bytes changed or inserted at offset %d", humanBytes(size), b.opt.seed, size/2))
	return nil
}

// editVariants lists how im is measured: commons as it publishes; Kubo
// with its defaults (the implementation's column) and with buzhash (a
// reference).
func editVariants(im impl) []editVariant {
	switch im := im.(type) {
	case *commonsImpl:
		return []editVariant{{key: nameCommons, im: im, add: im.Publish}}
	case *kuboImpl:
		with := func(flags []string) func(context.Context, string, string) (string, error) {
			return func(ctx context.Context, dir, folder string) (string, error) {
				root, _, err := im.AddWith(ctx, dir, folder, flags...)
				return root, err
			}
		}
		return []editVariant{
			{key: nameKubo, im: im, add: with(kuboDefaults)},
			{key: "kubo buzhash", im: im, add: with(kuboBuzhash)},
		}
	}
	return nil
}

// editCostResult is what one edit adds for a mirror.
type editCostResult struct {
	bytes  int64
	blocks int
}

// editCost imports the original and then each edited folder into one fresh
// repo with v, and returns, per editKinds entry, what its DAG has that no
// earlier one has.
func (b *bench) editCost(ctx context.Context, v editVariant, folders []string) ([]editCostResult, error) {
	dir := b.newRepoDir(v.im, "edit")
	defer b.removeRepo(dir)
	if err := v.im.Init(ctx, dir); err != nil {
		return nil, err
	}
	held := map[string]bool{} // multihashes of every earlier version's blocks
	var out []editCostResult
	var roots []string
	for i, folder := range folders {
		root, err := v.add(ctx, dir, folder)
		if err != nil {
			return nil, err
		}
		roots = append(roots, root)
		car := dir + ".car"
		if err := v.im.Export(ctx, dir, root, car); err != nil {
			return nil, err
		}
		blocks, err := carBlockSizes(car)
		_ = os.Remove(car)
		if err != nil {
			return nil, fmt.Errorf("export of %s: %w", root, err)
		}
		var res editCostResult
		for mh, n := range blocks {
			if !held[mh] {
				res.bytes += int64(n)
				res.blocks++
			}
		}
		if i > 0 {
			out = append(out, res)
		}
		if c, ok := v.im.(*commonsImpl); ok && i == 1 {
			// commons computes the same figure itself; the first edit is
			// measured against one version only, so the two must agree.
			n, k, err := c.DiffNewBytes(ctx, dir, roots[0], root)
			if err != nil {
				return nil, err
			}
			agree := "yes"
			if n != res.bytes || k != res.blocks {
				agree = fmt.Sprintf("no: commons diff says %d bytes in %d blocks, the CARs %d in %d", n, k, res.bytes, res.blocks)
			}
			b.editDiffAgrees = agree
		}
		for mh := range blocks {
			held[mh] = true
		}
	}
	return out, nil
}

// carBlockSizes reads a CARv1 or CARv2 file and returns the size of every
// block in it by multihash (as a blockstore keys blocks: the same bytes
// under a CIDv0 and a CIDv1 are one block). The reader checks each block
// against its CID.
func carBlockSizes(path string) (map[string]int, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	br, err := carv2.NewBlockReader(f)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	sizes := map[string]int{}
	for {
		blk, err := br.Next()
		if errors.Is(err, io.EOF) {
			return sizes, nil
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", path, err)
		}
		sizes[string(blk.Cid().Hash())] = len(blk.RawData())
	}
}

// writeEditFolders writes three folders under dir, each a small design
// (commons.toml) with one CAD-like file of size bytes, part.fcstd: the
// original, the original with 100 bytes in the middle overwritten, and the
// original with 100 bytes inserted in the middle. It returns their paths
// in that order (the original, then one per editKinds entry).
func writeEditFolders(dir string, size int64, seed uint64) ([]string, error) {
	orig := make([]byte, size)
	fillFile(orig, fileSpec{rel: "edit/part.fcstd", size: size, kind: kindCAD}, seed)
	mid := size / 2
	patch := make([]byte, editLen)
	for i := range patch {
		patch[i] = orig[mid+int64(i)] ^ 0xA5 // differs from the original in every byte
	}
	contents := map[string][][]byte{
		"original":  {orig},
		"overwrite": {orig[:mid], patch, orig[mid+editLen:]},
		"insert":    {orig[:mid], patch, orig[mid:]},
	}
	manifest := []byte(`name = "edit-cost"
title = "Edit cost"
summary = "One CAD-like file, edited in the middle"
[licenses]
hardware = "CERN-OHL-S-2.0"
software = "NONE"
documentation = "CC-BY-4.0"
[[authors]]
name = "commons-bench"
`)
	names := []string{"original"}
	for _, k := range editKinds {
		names = append(names, k.id)
	}
	var out []string
	for _, name := range names {
		folder := filepath.Join(dir, name, "edit-cost")
		if err := os.MkdirAll(folder, 0o755); err != nil {
			return nil, fmt.Errorf("write edit folders: %w", err)
		}
		if err := writeSynced(filepath.Join(folder, "commons.toml"), manifest); err != nil {
			return nil, fmt.Errorf("write edit folders: %w", err)
		}
		if err := writeSyncedParts(filepath.Join(folder, "part.fcstd"), contents[name]...); err != nil {
			return nil, fmt.Errorf("write edit folders: %w", err)
		}
		out = append(out, folder)
	}
	return out, nil
}

// writeSyncedParts writes the concatenation of parts to path and syncs it.
func writeSyncedParts(path string, parts ...[]byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	for _, p := range parts {
		if _, err := f.Write(p); err != nil {
			f.Close()
			return err
		}
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

package main

import (
	"bytes"
	"crypto/sha256"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

func TestPlanCorpus(t *testing.T) {
	for _, size := range []int64{1 << 20, 8 << 20, 256 << 20, 1 << 30} {
		specs := planCorpus(size, 1)
		var total int64
		kinds := map[fileKind]int{}
		seen := map[string]bool{}
		for _, s := range specs {
			if s.size <= 0 {
				t.Errorf("size %d: %s has size %d", size, s.rel, s.size)
			}
			if seen[s.rel] {
				t.Errorf("size %d: %s planned twice", size, s.rel)
			}
			seen[s.rel] = true
			total += s.size
			kinds[s.kind]++
		}
		if total != size {
			t.Errorf("size %d: planned %d bytes", size, total)
		}
		for _, k := range []fileKind{kindCAD, kindImage, kindMarkdown, kindCSV} {
			if kinds[k] == 0 {
				t.Errorf("size %d: no files of kind %d", size, k)
			}
		}
		if !slices.EqualFunc(specs, planCorpus(size, 1), func(a, b fileSpec) bool { return a == b }) {
			t.Errorf("size %d: plan differs between calls with the same seed", size)
		}
	}
	if slices.Equal(rels(planCorpus(8<<20, 1)), rels(planCorpus(8<<20, 2))) {
		t.Error("seeds 1 and 2 give the same plan")
	}
}

func rels(specs []fileSpec) []string {
	var out []string
	for _, s := range specs {
		out = append(out, s.rel)
	}
	return out
}

// TestWriteCorpusDeterministic checks that the same seed and size give the
// same bytes, which is what makes runs on different days comparable.
func TestWriteCorpusDeterministic(t *testing.T) {
	sum := func(dir string) (corpus, [32]byte) {
		c, err := writeCorpus(t.Context(), dir, planCorpus(2<<20, 7), 7)
		if err != nil {
			t.Fatal(err)
		}
		h := sha256.New()
		for _, f := range c.files {
			b, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			rel, _ := filepath.Rel(dir, f)
			h.Write([]byte(rel))
			h.Write(b)
		}
		return c, [32]byte(h.Sum(nil))
	}
	c1, h1 := sum(filepath.Join(t.TempDir(), "a"))
	c2, h2 := sum(filepath.Join(t.TempDir(), "b"))
	if h1 != h2 {
		t.Error("two libraries from the same seed differ")
	}
	if c1.stats != c2.stats || c1.stats.Bytes != 2<<20 {
		t.Errorf("stats %+v and %+v", c1.stats, c2.stats)
	}
}

// TestFillCADNotTrivial checks the CAD-like data is neither constant nor
// one repeated block: most 64 KiB windows differ from the first.
func TestFillCADNotTrivial(t *testing.T) {
	b := make([]byte, 8<<20)
	fillFile(b, fileSpec{"p/cad/x.stl", int64(len(b)), kindCAD}, 1)
	const w = 64 << 10
	same := 0
	for off := w; off+w <= len(b); off += w {
		if bytes.Equal(b[off:off+w], b[:w]) {
			same++
		}
	}
	if same > len(b)/w/4 {
		t.Errorf("%d of %d windows equal the first", same, len(b)/w)
	}
}

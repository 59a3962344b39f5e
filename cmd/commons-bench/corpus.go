package main

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
)

// corpusVersion names the generator's output. Bump it whenever a change
// makes the same seed and size give different bytes, so results stored
// from different versions are not compared as if alike.
const corpusVersion = 1

// corpusStats describes a generated design library.
type corpusStats struct {
	Version    int    `json:"version"`
	Seed       uint64 `json:"seed"`
	Bytes      int64  `json:"bytes"`
	Files      int    `json:"files"`
	Dirs       int    `json:"dirs"`
	CADFiles   int    `json:"cad_files"`
	CADBytes   int64  `json:"cad_bytes"`
	ImageFiles int    `json:"image_files"`
	ImageBytes int64  `json:"image_bytes"`
	TextFiles  int    `json:"text_files"`
	TextBytes  int64  `json:"text_bytes"`
}

// corpus is a generated design library on disk.
type corpus struct {
	dir   string   // the folder that is published
	files []string // every file, absolute, in generation order
	stats corpusStats
}

type fileKind int

const (
	kindCAD fileKind = iota
	kindImage
	kindMarkdown
	kindCSV
)

// fileSpec is one planned file; its content is derived from the seed and
// rel alone, so adding a file later does not change any other.
type fileSpec struct {
	rel  string
	size int64
	kind fileKind
}

// Projects, parts and words of the generated library. Read-only.
var (
	corpusProjects = []string{"lifetrac-tractor", "ceb-brick-press", "d3d-printer", "microhouse"}
	corpusParts    = []string{
		"chassis", "loader-arm", "hydraulic-manifold", "wheel-hub", "frame-weldment", "gearbox",
		"press-chamber", "hopper", "extruder-carriage", "roof-truss", "wall-panel", "motor-mount",
		"power-cube", "quick-attach", "bucket", "soil-hopper", "bed-frame", "x-axis", "foundation", "window-buck",
	}
	cadExts     = []string{".fcstd", ".stl", ".3mf", ".step"}
	corpusWords = strings.Fields(`the a of to and with bolt weld plate tube steel angle bracket hole drill
		tap thread nut washer M10 M12 hydraulic cylinder hose fitting valve pump motor shaft bearing
		sprocket chain frame square mm inch torque tighten check align clamp jig cut grind fit assemble
		before after then each both side left right top bottom front rear centre mark measure level
		square plumb cure mix soil cement press block stroke pressure bar psi litre flow rate test
		run safety guard wear gloves note revision drawing part assembly module interface standard
		open source hardware build workshop campus field tested failed improved replaced`)
	csvMaterials = []string{"steel S235", "steel S355", "aluminium 6061", "HDPE", "PLA", "PETG", "oak", "rubber", "brass", "nylon"}
	csvSuppliers = []string{"local fab", "McMaster", "Misumi", "scrap yard", "farm store", "printed", "hardware store"}
)

// planCorpus lays out a library of about size bytes: roughly 78% in large
// CAD-like binaries, 16% in image-sized binaries and 6% in small Markdown
// and CSV files. File sizes scale down with size so that small libraries
// (for smoke runs) keep the same mix.
func planCorpus(size int64, seed uint64) []fileSpec {
	rng := rand.New(rand.NewPCG(seed, 0x636f6d6d6f6e73)) // "commons"
	cadBudget := size * 78 / 100
	imgBudget := size * 16 / 100
	textBudget := size - cadBudget - imgBudget
	var specs []fileSpec

	// Large CAD-like files: 8–40 MiB at the default size.
	hi := clamp(size/6, 256<<10, 40<<20)
	lo := hi / 5
	for i := 0; cadBudget > 0; i++ {
		n := min(lo+rng.Int64N(hi-lo+1), cadBudget)
		proj := corpusProjects[i%len(corpusProjects)]
		part := corpusParts[rng.IntN(len(corpusParts))]
		ext := cadExts[rng.IntN(len(cadExts))]
		rel := fmt.Sprintf("%s/cad/%s-r%d-%02d%s", proj, part, 1+rng.IntN(9), i, ext)
		specs = append(specs, fileSpec{rel, n, kindCAD})
		cadBudget -= n
	}

	// Renders and build photos: 100 KiB–2 MiB at the default size.
	ihi := clamp(size/128, 200<<10, 2<<20)
	ilo := min(100<<10, ihi/2)
	for i := 0; imgBudget > 0; i++ {
		n := min(ilo+rng.Int64N(ihi-ilo+1), imgBudget)
		proj := corpusProjects[rng.IntN(len(corpusProjects))]
		var rel string
		if rng.IntN(2) == 0 {
			rel = fmt.Sprintf("%s/renders/%s-%03d.png", proj, corpusParts[rng.IntN(len(corpusParts))], i)
		} else {
			rel = fmt.Sprintf("%s/photos/build-%03d.jpg", proj, i)
		}
		specs = append(specs, fileSpec{rel, n, kindImage})
		imgBudget -= n
	}

	// Small text: build steps, field notes, bills of materials. Mostly a
	// few KiB, some up to ~48 KiB.
	for i := 0; textBudget > 0; i++ {
		f := rng.Float64()
		n := min(256+int64(f*f*f*(48<<10)), textBudget)
		proj := corpusProjects[rng.IntN(len(corpusProjects))]
		var rel string
		var kind fileKind
		switch k := rng.IntN(10); {
		case k < 4:
			rel, kind = fmt.Sprintf("%s/docs/build/step-%04d.md", proj, i), kindMarkdown
		case k < 7:
			rel, kind = fmt.Sprintf("%s/notes/%d/%02d-%02d-log-%04d.md", proj, 2019+rng.IntN(7), 1+rng.IntN(12), 1+rng.IntN(28), i), kindMarkdown
		default:
			rel, kind = fmt.Sprintf("%s/bom/%s-%04d.csv", proj, corpusParts[rng.IntN(len(corpusParts))], i), kindCSV
		}
		specs = append(specs, fileSpec{rel, n, kind})
		textBudget -= n
	}
	return specs
}

func clamp(v, lo, hi int64) int64 { return max(lo, min(v, hi)) }

// writeCorpus writes the planned files under dir and syncs them, so that
// writeback of the generated data does not run during the first
// measurement.
func writeCorpus(ctx context.Context, dir string, specs []fileSpec, seed uint64) (corpus, error) {
	c := corpus{dir: dir, stats: corpusStats{Version: corpusVersion, Seed: seed}}
	dirs := map[string]bool{}
	var buf []byte
	for _, s := range specs {
		if err := ctx.Err(); err != nil {
			return c, err
		}
		path := filepath.Join(dir, filepath.FromSlash(s.rel))
		for d := filepath.Dir(path); d != dir && !dirs[d]; d = filepath.Dir(d) {
			dirs[d] = true
		}
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return c, fmt.Errorf("generate library: %w", err)
		}
		if int64(cap(buf)) < s.size {
			buf = make([]byte, s.size)
		}
		b := buf[:s.size]
		fillFile(b, s, seed)
		if err := writeSynced(path, b); err != nil {
			return c, fmt.Errorf("generate library: %w", err)
		}
		c.files = append(c.files, path)
		st := &c.stats
		st.Files++
		st.Bytes += s.size
		switch s.kind {
		case kindCAD:
			st.CADFiles++
			st.CADBytes += s.size
		case kindImage:
			st.ImageFiles++
			st.ImageBytes += s.size
		default:
			st.TextFiles++
			st.TextBytes += s.size
		}
	}
	c.stats.Dirs = len(dirs)
	return c, nil
}

func writeSynced(path string, b []byte) error { return writeSyncedParts(path, b) }

// fillFile fills b with the content of s, derived from seed and s.rel.
func fillFile(b []byte, s fileSpec, seed uint64) {
	var key [8]byte
	binary.LittleEndian.PutUint64(key[:], seed)
	src := rand.NewChaCha8(sha256.Sum256(append(key[:], s.rel...)))
	rng := rand.New(src)
	switch s.kind {
	case kindCAD:
		fillCAD(b, src, rng)
	case kindImage:
		fillImage(b, src, s.rel)
	case kindMarkdown:
		fillMarkdown(b, rng, s.rel)
	case kindCSV:
		fillCSV(b, rng)
	}
}

// fillCAD writes a CAD-like binary: a mix of high-entropy runs (the
// compressed streams inside .fcstd/.3mf archives), mesh records on a
// coarse grid (compressible about 2:1, as STL is), and repeats of earlier
// regions (a part placed again in an assembly), which buzhash chunking
// finds and stores once, as it would in a real file.
func fillCAD(b []byte, src *rand.ChaCha8, rng *rand.Rand) {
	off := copy(b, "commons-bench CAD-like data; not a real model\n")
	for off < len(b) {
		rest := len(b) - off
		switch k := rng.IntN(100); {
		case k < 15 && off >= 1<<20:
			n := min(rest, 64<<10+rng.IntN(960<<10), off)
			from := rng.IntN(off - n + 1)
			off += copy(b[off:off+n], b[from:from+n])
		case k < 40:
			n := min(rest, 32<<10+rng.IntN(224<<10))
			fillMesh(b[off:off+n], rng)
			off += n
		default:
			n := min(rest, 16<<10+rng.IntN(240<<10))
			_, _ = src.Read(b[off : off+n]) // never fails
			off += n
		}
	}
}

// fillMesh writes binary-STL-like triangle records (normal, three
// vertices, attribute) with coordinates on a 0.5 mm grid.
func fillMesh(b []byte, rng *rand.Rand) {
	var rec [50]byte
	normals := [...]float32{-1, 0, 1}
	for off := 0; off < len(b); {
		for i := range 3 {
			binary.LittleEndian.PutUint32(rec[4*i:], math.Float32bits(normals[rng.IntN(3)]))
		}
		base := [3]float32{float32(rng.IntN(400)) * 0.5, float32(rng.IntN(400)) * 0.5, float32(rng.IntN(100)) * 0.5}
		for v := range 3 {
			for i := range 3 {
				x := base[i] + float32(rng.IntN(8))*0.5
				binary.LittleEndian.PutUint32(rec[12+12*v+4*i:], math.Float32bits(x))
			}
		}
		binary.LittleEndian.PutUint16(rec[48:], 0)
		off += copy(b[off:], rec[:])
	}
}

// fillImage writes an image-sized binary: a format signature, then
// incompressible bytes, as the compressed payload of a PNG or JPEG is.
func fillImage(b []byte, src *rand.ChaCha8, rel string) {
	sig := "\x89PNG\r\n\x1a\n"
	if strings.HasSuffix(rel, ".jpg") {
		sig = "\xff\xd8\xff\xe0\x00\x10JFIF\x00"
	}
	n := copy(b, sig)
	_, _ = src.Read(b[n:])
}

// fillMarkdown writes build instructions or field notes.
func fillMarkdown(b []byte, rng *rand.Rand, rel string) {
	var sb strings.Builder
	sb.Grow(len(b) + 256)
	fmt.Fprintf(&sb, "# %s\n\n", strings.TrimSuffix(filepath.Base(rel), ".md"))
	for sb.Len() < len(b) {
		switch rng.IntN(6) {
		case 0:
			fmt.Fprintf(&sb, "## %s %s\n\n", word(rng), word(rng))
		case 1:
			for range 2 + rng.IntN(5) {
				fmt.Fprintf(&sb, "- %s\n", sentence(rng, 4+rng.IntN(8)))
			}
			sb.WriteByte('\n')
		default:
			for range 2 + rng.IntN(4) {
				sb.WriteString(sentence(rng, 6+rng.IntN(14)))
				sb.WriteString(". ")
			}
			sb.WriteString("\n\n")
		}
	}
	copy(b, sb.String())
}

// fillCSV writes a bill of materials.
func fillCSV(b []byte, rng *rand.Rand) {
	var sb strings.Builder
	sb.Grow(len(b) + 256)
	sb.WriteString("part_no,description,qty,material,supplier,unit_cost_usd\n")
	for i := 1; sb.Len() < len(b); i++ {
		fmt.Fprintf(&sb, "CP-%05d,%s %s,%d,%s,%s,%d.%02d\n", i, word(rng), word(rng), 1+rng.IntN(24),
			csvMaterials[rng.IntN(len(csvMaterials))], csvSuppliers[rng.IntN(len(csvSuppliers))], rng.IntN(400), rng.IntN(100))
	}
	copy(b, sb.String())
}

func word(rng *rand.Rand) string { return corpusWords[rng.IntN(len(corpusWords))] }

func sentence(rng *rand.Rand, n int) string {
	w := make([]string, n)
	for i := range w {
		w[i] = word(rng)
	}
	s := strings.Join(w, " ")
	return strings.ToUpper(s[:1]) + s[1:]
}

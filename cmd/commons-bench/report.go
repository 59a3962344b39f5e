package main

import (
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
)

// reportSchema names the JSON layout. Add fields freely; rename or change
// the meaning of one only with a new schema name, so stored runs stay
// comparable.
const reportSchema = "commons-bench/1"

// Implementation names used as keys of metric samples. Other keys (such as
// refTCP) are references, not implementations.
const (
	nameCommons = "commons"
	nameKubo    = "kubo"
	refTCP      = "raw TCP"
)

// report is everything one bench run measured, as printed and as written
// with -out.
type report struct {
	Schema    string            `json:"schema"`
	Date      string            `json:"date"` // RFC 3339, UTC, when the run started
	GitCommit string            `json:"git_commit,omitempty"`
	GitDirty  bool              `json:"git_dirty,omitempty"`
	Machine   machine           `json:"machine"`
	Versions  map[string]string `json:"versions"` // implementation -> its version line
	Options   reportOptions     `json:"options"`
	Corpus    corpusStats       `json:"corpus"`
	Metrics   []*metric         `json:"metrics"`
	Facts     []fact            `json:"facts,omitempty"`
	Netlab    *netlabReport     `json:"netlab,omitempty"`
	Notes     []string          `json:"notes,omitempty"`
	Error     string            `json:"error,omitempty"` // set when the run stopped early
}

type reportOptions struct {
	Size      int64    `json:"size"`
	Runs      int      `json:"runs"`
	Seed      uint64   `json:"seed"`
	IdleSecs  float64  `json:"idle_seconds"`
	Scenarios []string `json:"scenarios"`
	EditSize  int64    `json:"edit_size,omitempty"`
}

// metric is one measured quantity with its samples per implementation.
type metric struct {
	ID     string `json:"id"` // stable key for comparing runs over time
	Name   string `json:"name"`
	Unit   string `json:"unit"`
	Better string `json:"better"` // "higher" or "lower"
	// Runs holds the samples per implementation (or reference), in run
	// order; Median is computed from them.
	Runs   map[string][]float64 `json:"runs"`
	Median map[string]float64   `json:"median"`
	// Ratio is median commons / median kubo, when both were measured.
	Ratio *float64 `json:"ratio_commons_kubo,omitempty"`
}

// fact is a measured non-numeric result, such as a root CID.
type fact struct {
	Name  string `json:"name"`
	Value string `json:"value"`
}

// metric returns the metric with id, adding it (in first-use order) if new.
func (r *report) metric(id, name, unit, better string) *metric {
	for _, m := range r.Metrics {
		if m.ID == id {
			return m
		}
	}
	m := &metric{ID: id, Name: name, Unit: unit, Better: better, Runs: map[string][]float64{}, Median: map[string]float64{}}
	r.Metrics = append(r.Metrics, m)
	return m
}

func (r *report) fact(name, value string) { r.Facts = append(r.Facts, fact{name, value}) }

func (r *report) note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// add records one sample of who (an implementation or reference).
func (m *metric) add(who string, v float64) { m.Runs[who] = append(m.Runs[who], v) }

// finish computes medians and ratios.
func (r *report) finish() {
	for _, m := range r.Metrics {
		for who, vs := range m.Runs {
			m.Median[who] = median(vs)
		}
		c, okc := m.Median[nameCommons]
		k, okk := m.Median[nameKubo]
		if okc && okk && k != 0 {
			ratio := c / k
			m.Ratio = &ratio
		} else {
			m.Ratio = nil
		}
	}
}

// median returns the median of vs (the mean of the middle two for an even
// count), or NaN for none.
func median(vs []float64) float64 {
	if len(vs) == 0 {
		return math.NaN()
	}
	s := slices.Clone(vs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// printTable writes the human-readable summary.
func (r *report) printTable(w io.Writer) {
	fmt.Fprintf(w, "\ncommons-bench  %s  commit %s%s\n", r.Date, short(r.GitCommit), map[bool]string{true: " (dirty)"}[r.GitDirty])
	fmt.Fprintf(w, "machine        %d CPU (%s), %s RAM, Linux %s, %s, load %.2f -> %.2f\n", r.Machine.NumCPU, r.Machine.CPUModel,
		humanBytes(r.Machine.MemBytes), r.Machine.Kernel, r.Machine.GoVersion, r.Machine.LoadStart, r.Machine.LoadEnd)
	for _, k := range slices.Sorted(maps.Keys(r.Versions)) {
		fmt.Fprintf(w, "%-14s %s\n", k, r.Versions[k])
	}
	if r.Corpus.Files > 0 {
		fmt.Fprintf(w, "library        %s in %d files, %d folders (CAD %d files %s, images %d %s, text %d %s); seed %d\n",
			humanBytes(r.Corpus.Bytes), r.Corpus.Files, r.Corpus.Dirs, r.Corpus.CADFiles, humanBytes(r.Corpus.CADBytes),
			r.Corpus.ImageFiles, humanBytes(r.Corpus.ImageBytes), r.Corpus.TextFiles, humanBytes(r.Corpus.TextBytes), r.Corpus.Seed)
	}
	fmt.Fprintf(w, "runs           %d (medians; per-run values in run order)\n\n", r.Options.Runs)

	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "metric\tunit\tbetter\tcommons\tkubo\tcommons/kubo\treference\truns commons\truns kubo")
	for _, m := range r.Metrics {
		var refs []string
		for _, who := range slices.Sorted(maps.Keys(m.Median)) {
			if who != nameCommons && who != nameKubo {
				refs = append(refs, fmt.Sprintf("%s %s", who, num(m.Median[who])))
			}
		}
		ref := "-"
		if len(refs) > 0 {
			ref = strings.Join(refs, "; ")
		}
		ratio := "-"
		if m.Ratio != nil {
			ratio = fmt.Sprintf("%.2f", *m.Ratio)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", m.Name, m.Unit, m.Better,
			medianOf(m, nameCommons), medianOf(m, nameKubo), ratio, ref, runsOf(m, nameCommons), runsOf(m, nameKubo))
	}
	tw.Flush()
	if len(r.Facts) > 0 {
		fmt.Fprintln(w)
		tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, f := range r.Facts {
			fmt.Fprintf(tw, "%s\t%s\n", f.Name, f.Value)
		}
		tw.Flush()
	}
	if r.Netlab != nil {
		r.Netlab.print(w)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note: %s\n", n)
	}
	if r.Error != "" {
		fmt.Fprintf(w, "\nSTOPPED EARLY: %s\n", r.Error)
	}
}

func medianOf(m *metric, who string) string {
	v, ok := m.Median[who]
	if !ok {
		return "-"
	}
	return num(v)
}

func runsOf(m *metric, who string) string {
	vs := m.Runs[who]
	if len(vs) == 0 {
		return "-"
	}
	s := make([]string, len(vs))
	for i, v := range vs {
		s[i] = num(v)
	}
	return strings.Join(s, " ")
}

// num formats v with three significant digits or more, without exponent.
func num(v float64) string {
	switch a := math.Abs(v); {
	case math.IsNaN(v):
		return "NaN"
	case a >= 100:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case a >= 10:
		return strconv.FormatFloat(v, 'f', 1, 64)
	default:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
}

func short(commit string) string {
	if len(commit) > 12 {
		return commit[:12]
	}
	if commit == "" {
		return "unknown"
	}
	return commit
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// writeJSON writes the report to path, replacing it only once complete.
func (r *report) writeJSON(path string) error {
	b, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, append(b, '\n'), 0o644); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return nil
}

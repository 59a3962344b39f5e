package main

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/commons-p2p/commons/node/nodetest/kubopeer"
)

// TestSmoke runs the whole benchmark on a small library, once, so that the
// harness keeps working; the opt-in announce scenario runs too, with 200
// CIDs. It checks that it completes and that the numbers
// exist and the root CIDs agree; it asserts nothing about speed. It uses
// $COMMONS_BIN and $COMMONS_KUBO_BIN when set (make test sets both), else it
// builds commons and finds or builds Kubo as the interop tests do.
func TestSmoke(t *testing.T) {
	bin := os.Getenv("COMMONS_BIN")
	if bin == "" {
		bin = filepath.Join(t.TempDir(), "commons")
		cmd := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "github.com/commons-p2p/commons/cmd/commons")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("build commons: %v\n%s", err, out)
		}
	}
	kubo, err := kubopeer.Binary(t.Context())
	if err != nil {
		t.Fatalf("kubo: %v", err)
	}
	out := filepath.Join(t.TempDir(), "bench.json")
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"-size", "8MiB", "-edit-size", "4MiB", "-runs", "1", "-idle", "1s", "-gw-duration", "200ms", "-gw-concurrency", "4",
		"-scenarios", "import,fetch,edit,gateway,announce", "-announce-cids", "200", "-announce-timeout", "60s",
		"-commons", bin, "-kubo", kubo, "-workdir", t.TempDir(), "-out", out}, &stdout, &stderr)
	if code != 0 {
		t.Fatalf("exit %d\nstdout:\n%s\nstderr:\n%s", code, &stdout, &stderr)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	var rep report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	impls := []string{nameCommons, nameKubo}
	if f := findFact(rep, "root CIDs equal"); f != "yes" {
		t.Errorf("commons and Kubo disagree on the root CID (root CIDs equal: %q):\n%s", f, &stdout)
	}
	if f := findFact(rep, "edit: `commons diff` agrees (overwrite)"); f != "yes" {
		t.Errorf("the edit scenario's count and commons diff disagree: %q", f)
	}
	want := []string{"import_mbps", "import_cpu_s", "import_fixed_mbps", "import_fixed_cpu_s", "fetch_mbps", "idle_rss_pinned_mib", "peak_rss_fetch_mib",
		"gw_4k_rps", "gw_4k_p99_ms", "gw_4k_fresh_rps", "gw_4k_fresh_p99_ms", "gw_1m_rps", "gw_1m_p99_ms", "gw_dir_rps", "gw_dir_p99_ms"}
	for _, k := range editKinds {
		want = append(want, "edit_"+k.id+"_new_bytes", "edit_"+k.id+"_new_pct", "edit_"+k.id+"_new_blocks")
		// Kubo's buzhash import is the reference of the edit metrics.
		if m := findMetric(rep, "edit_"+k.id+"_new_bytes"); m == nil || !(m.Median["kubo buzhash"] > 0) {
			t.Errorf("metric edit_%s_new_bytes: no value for Kubo with buzhash", k.id)
		}
	}
	want = append(want, "announce_200_secs", "announce_200_cids_per_s")
	// The design pages are commons's own: Kubo has no bundle page.
	for _, id := range []string{"gw_page_rps", "gw_page_p99_ms"} {
		if m := findMetric(rep, id); m == nil || !(m.Median[nameCommons] > 0) {
			t.Errorf("metric %s: no commons value", id)
		}
	}
	for _, id := range want {
		var m *metric
		for _, x := range rep.Metrics {
			if x.ID == id {
				m = x
			}
		}
		if m == nil {
			t.Errorf("metric %s missing", id)
			continue
		}
		for _, who := range impls {
			if v := m.Median[who]; !(v > 0) {
				t.Errorf("metric %s: %s median %v", id, who, v)
			}
		}
	}
}

// findFact returns the value of the fact called name in rep, or "".
func findFact(rep report, name string) string {
	for _, f := range rep.Facts {
		if f.Name == name {
			return f.Value
		}
	}
	return ""
}

// findMetric returns the metric with id in rep, or nil.
func findMetric(rep report, id string) *metric {
	for _, m := range rep.Metrics {
		if m.ID == id {
			return m
		}
	}
	return nil
}

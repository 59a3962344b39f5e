package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestSmoke runs the whole benchmark on a small library, once, so that the
// harness keeps working. It checks that it completes and that the numbers
// exist and the root CIDs agree; it asserts nothing about speed. It needs
// the binaries the Makefile's test target provides ($COMMONS_BIN, and
// $COMMONS_KUBO_BIN for the Kubo side).
func TestSmoke(t *testing.T) {
	if testing.Short() {
		t.Skip("-short")
	}
	bin := os.Getenv("COMMONS_BIN")
	if bin == "" {
		t.Skip("set COMMONS_BIN to a commons binary (make test does)")
	}
	kubo := os.Getenv("COMMONS_KUBO_BIN") // empty: commons only
	out := filepath.Join(t.TempDir(), "bench.json")
	var stdout, stderr bytes.Buffer
	code := run(t.Context(), []string{"-size", "8MiB", "-runs", "1", "-idle", "1s",
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
	impls := []string{nameCommons}
	if kubo != "" {
		impls = append(impls, nameKubo)
		if !strings.Contains(stdout.String(), "root CIDs equal    yes") {
			t.Errorf("commons and Kubo disagree on the root CID:\n%s", &stdout)
		}
	}
	want := []string{"import_mbps", "fetch_mbps", "idle_rss_pinned_mib", "peak_rss_fetch_mib"}
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

package textdiff

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func TestUnified(t *testing.T) {
	seq := func(from, to int, change map[int]string) string {
		var sb strings.Builder
		for i := from; i <= to; i++ {
			if s, ok := change[i]; ok {
				sb.WriteString(s)
				continue
			}
			fmt.Fprintf(&sb, "%d\n", i)
		}
		return sb.String()
	}
	tests := []struct {
		name    string
		a, b    string
		context int
		want    string
	}{
		{"equal", "a\nb\n", "a\nb\n", 3, ""},
		{"both empty", "", "", 3, ""},
		{
			"empty to text", "", "a\nb\n", 3,
			"--- old\n+++ new\n@@ -0,0 +1,2 @@\n+a\n+b\n",
		},
		{
			"text to empty", "a\n", "", 3,
			"--- old\n+++ new\n@@ -1 +0,0 @@\n-a\n",
		},
		{
			"replace with context", seq(1, 9, nil), seq(1, 9, map[int]string{5: "five\n"}), 3,
			"--- old\n+++ new\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n",
		},
		{
			"one line each side", "a\n", "b\n", 3,
			"--- old\n+++ new\n@@ -1 +1 @@\n-a\n+b\n",
		},
		{
			"insert without context", "1\n2\n3\n4\n", "1\n2\n3\nnew\n4\n", 0,
			"--- old\n+++ new\n@@ -3,0 +4 @@\n+new\n",
		},
		{
			"delete without context", "1\n2\n3\n4\n", "1\n2\n4\n", 0,
			"--- old\n+++ new\n@@ -3 +2,0 @@\n-3\n",
		},
		{
			"negative context counts as 0", "1\n2\n3\n", "1\nx\n3\n", -5,
			"--- old\n+++ new\n@@ -2 +2 @@\n-2\n+x\n",
		},
		{
			"hunks 6 lines apart merge", seq(1, 20, nil), seq(1, 20, map[int]string{5: "x\n", 12: "y\n"}), 3,
			"--- old\n+++ new\n@@ -2,14 +2,14 @@\n 2\n 3\n 4\n-5\n+x\n 6\n 7\n 8\n 9\n 10\n 11\n-12\n+y\n 13\n 14\n 15\n",
		},
		{
			"hunks 7 lines apart do not", seq(1, 20, nil), seq(1, 20, map[int]string{5: "x\n", 13: "y\n"}), 3,
			"--- old\n+++ new\n@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+x\n 6\n 7\n 8\n@@ -10,7 +10,7 @@\n 10\n 11\n 12\n-13\n+y\n 14\n 15\n 16\n",
		},
		{
			"old has no final newline", "a\nb", "a\nb\n", 3,
			"--- old\n+++ new\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n+b\n",
		},
		{
			"new has no final newline", "a\nb\n", "a\nc", 3,
			"--- old\n+++ new\n@@ -1,2 +1,2 @@\n a\n-b\n+c\n\\ No newline at end of file\n",
		},
		{
			"unterminated context line", "a\nb\nc", "x\nb\nc", 3,
			"--- old\n+++ new\n@@ -1,3 +1,3 @@\n-a\n+x\n b\n c\n\\ No newline at end of file\n",
		},
		{
			"CRLF", "a\r\nb\r\n", "a\r\nc\r\n", 3,
			"--- old\n+++ new\n@@ -1,2 +1,2 @@\n a\r\n-b\r\n+c\r\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			changed, err := Unified(&out, "old", "new", []byte(tt.a), []byte(tt.b), tt.context)
			if err != nil {
				t.Fatal(err)
			}
			if changed != (tt.a != tt.b) {
				t.Errorf("changed = %v", changed)
			}
			if out.String() != tt.want {
				t.Errorf("got\n%s\nwant\n%s", out.String(), tt.want)
			}
		})
	}
}

func TestUnifiedErrors(t *testing.T) {
	big := bytes.Repeat([]byte("x"), MaxSize+1)
	many := bytes.Repeat([]byte("\n"), MaxLines+1)
	manyUnterminated := append(bytes.Repeat([]byte("\n"), MaxLines), 'x')
	atLimit := bytes.Repeat([]byte("\n"), MaxLines)
	tests := []struct {
		name    string
		a, b    []byte
		changed bool
		want    error  // nil: no error
		subject string // named in the error
	}{
		{"NUL in old", []byte("a\x00b\n"), []byte("a\n"), true, ErrBinary, "old.md"},
		{"invalid UTF-8 in new", []byte("a\n"), []byte("a\xff\n"), true, ErrBinary, "new.md"},
		{"old too large", big, []byte("a\n"), true, ErrTooLarge, "old.md"},
		{"new has too many lines", []byte("a\n"), many, true, ErrTooLarge, "new.md"},
		{"unterminated line counts", []byte("a\n"), manyUnterminated, true, ErrTooLarge, "new.md"},
		{"lines at the limit", []byte("a\n"), atLimit, true, nil, ""},
		{"equal binary is no error", []byte("\x00\xff"), []byte("\x00\xff"), false, nil, ""},
		{"equal and large is no error", big, big, false, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			changed, err := Unified(&out, "old.md", "new.md", tt.a, tt.b, 3)
			if changed != tt.changed {
				t.Errorf("changed = %v, want %v", changed, tt.changed)
			}
			if tt.want == nil {
				if err != nil {
					t.Fatalf("error %v", err)
				}
				return
			}
			if !errors.Is(err, tt.want) {
				t.Fatalf("error %v, want %v", err, tt.want)
			}
			if !strings.Contains(err.Error(), tt.subject) {
				t.Errorf("error %q does not name %s", err, tt.subject)
			}
			if out.Len() != 0 {
				t.Errorf("wrote %q", out.String())
			}
		})
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }

func TestUnifiedWriteError(t *testing.T) {
	sentinel := errors.New("disk full")
	changed, err := Unified(failingWriter{sentinel}, "old", "new", []byte("a\n"), []byte("b\n"), 3)
	if !changed || !errors.Is(err, sentinel) {
		t.Fatalf("Unified = %v, %v; want true and an error wrapping %v", changed, err, sentinel)
	}
}

func TestText(t *testing.T) {
	tests := []struct {
		name string
		data []byte
		want bool
	}{
		{"empty", nil, true},
		{"ASCII", []byte("# Title\n\nSteps:\n"), true},
		{"UTF-8", []byte("Größe: 3 × 4 mm — ✓\n"), true},
		{"CRLF and tabs", []byte("a\tb\r\n"), true},
		{"NUL", []byte("a\x00b"), false},
		{"invalid UTF-8", []byte("caf\xe9\n"), false},
		{"truncated rune", []byte("\xe2\x9c"), false},
		{"NUL after 8 KiB", append(bytes.Repeat([]byte("a"), 8<<10), 0), true},
		{"NUL at the end of 8 KiB", append(bytes.Repeat([]byte("a"), 8<<10-1), 0), false},
		{"invalid UTF-8 after 8 KiB", append(bytes.Repeat([]byte("a"), 8<<10), 0xff), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Text(tt.data); got != tt.want {
				t.Errorf("Text = %v, want %v", got, tt.want)
			}
		})
	}
}

// gnuDiff returns the path of GNU diff, failing the test if there is none:
// comparing with it is part of what this package promises.
func gnuDiff(t *testing.T) string {
	t.Helper()
	path, err := exec.LookPath("diff")
	if err != nil {
		t.Fatalf("GNU diff is needed to check the output format: install diffutils (apt-get install diffutils): %v", err)
	}
	out, err := exec.Command(path, "--version").Output()
	if err != nil || !bytes.Contains(out, []byte("GNU diffutils")) {
		t.Fatalf("%s is not GNU diff (%v): install diffutils (apt-get install diffutils)", path, err)
	}
	return path
}

// markdown returns a document of build instructions with n steps.
func markdown(n int) string {
	var sb strings.Builder
	sb.WriteString("# Bird feeder\n\nBuild instructions.\n\n## Parts\n\n- plywood 6 mm\n- screws\n\n## Steps\n\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&sb, "%d. Cut part %d.\n\n", i, i)
		if i%4 == 0 {
			sb.WriteString("   Sand the edges.\n\n")
		}
	}
	sb.WriteString("## Licence\n\nCERN-OHL-S-2.0\n")
	return sb.String()
}

// TestUnifiedMatchesGNU compares Unified with `diff -U n --label old
// --label new` byte for byte.
func TestUnifiedMatchesGNU(t *testing.T) {
	diff := gnuDiff(t)
	doc := markdown(12)
	r := rand.New(rand.NewPCG(11, 12))
	tests := []struct {
		name    string
		a, b    string
		context int
	}{
		{"edit a step", doc, strings.Replace(doc, "Cut part 7.", "Cut part 7 twice.", 1), 3},
		{"insert at start", doc, "<!-- draft -->\n" + doc, 3},
		{"append at end", doc, doc + "\n## Changelog\n\n- v2\n", 3},
		{"delete a section", doc, strings.Replace(doc, "## Parts\n\n- plywood 6 mm\n- screws\n\n", "", 1), 3},
		{"insert a step among blank lines", doc, strings.Replace(doc, "3. Cut part 3.\n\n", "3. Cut part 3.\n\n3b. Drill.\n\n", 1), 3},
		{"remove a repeated line", doc, strings.Replace(doc, "   Sand the edges.\n\n", "", 1), 3},
		{"several hunks", doc, strings.NewReplacer("Cut part 2.", "Cut 2.", "Cut part 11.", "Cut 11.", "screws", "nails").Replace(doc), 3},
		{"old has no final newline", strings.TrimSuffix(doc, "\n"), doc, 3},
		{"new has no final newline", doc, strings.TrimSuffix(doc, "\n") + " or MIT", 3},
		{"CRLF", strings.ReplaceAll(doc, "\n", "\r\n"), strings.ReplaceAll(strings.Replace(doc, "screws", "glue", 1), "\n", "\r\n"), 3},
		{"CRLF to LF", strings.ReplaceAll(doc, "\n", "\r\n"), doc, 3},
		{"empty to text", "", doc, 3},
		{"text to empty", doc, "", 3},
		{"no context", doc, strings.Replace(doc, "## Steps\n", "## Steps\n\nTools: saw.\n", 1), 0},
		{"one line of context", doc, strings.NewReplacer("Cut part 5.", "x", "Cut part 6.", "y").Replace(doc), 1},
		{"random revision", doc, string(mutate(r, []byte(doc))), 3},
		{"another random revision", doc, string(mutate(r, mutate(r, []byte(doc)))), 5},
	}
	dir := t.TempDir()
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fa := filepath.Join(dir, fmt.Sprintf("%d.old", i))
			fb := filepath.Join(dir, fmt.Sprintf("%d.new", i))
			if err := os.WriteFile(fa, []byte(tt.a), 0o600); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(fb, []byte(tt.b), 0o600); err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(diff, fmt.Sprintf("-U%d", tt.context), "--label", "old", "--label", "new", fa, fb)
			want, err := cmd.Output()
			var exit *exec.ExitError
			if err != nil && !(errors.As(err, &exit) && exit.ExitCode() == 1) {
				t.Fatalf("%v: %v", cmd, err)
			}
			var got bytes.Buffer
			changed, err := Unified(&got, "old", "new", []byte(tt.a), []byte(tt.b), tt.context)
			if err != nil {
				t.Fatal(err)
			}
			if changed != (len(want) > 0) {
				t.Errorf("changed = %v, diff printed %d bytes", changed, len(want))
			}
			if got.String() != string(want) {
				t.Errorf("got\n%s\nGNU diff\n%s", got.String(), want)
			}
		})
	}
}

// TestUnifiedAppliesWithPatch applies the output of Unified with GNU patch
// and checks that it rebuilds the new text, on random revisions of a
// document and on the edge cases of line ends.
func TestUnifiedAppliesWithPatch(t *testing.T) {
	patch, err := exec.LookPath("patch")
	if err != nil {
		t.Fatalf("GNU patch is needed to check that the diffs apply: install it (apt-get install patch): %v", err)
	}
	r := rand.New(rand.NewPCG(13, 14))
	doc := []byte(markdown(20))
	type pair struct{ a, b []byte }
	pairs := []pair{
		{nil, doc},
		{doc, nil},
		{doc, bytes.TrimSuffix(doc, []byte("\n"))},
		{bytes.TrimSuffix(doc, []byte("\n")), doc},
		{bytes.ReplaceAll(doc, []byte("\n"), []byte("\r\n")), doc},
	}
	for range 30 {
		a := mutate(r, doc)
		pairs = append(pairs, pair{a, mutate(r, mutate(r, a))})
	}
	dir := t.TempDir()
	for i, p := range pairs {
		var d bytes.Buffer
		if _, err := Unified(&d, "old", "new", p.a, p.b, r.IntN(5)); err != nil {
			t.Fatal(err)
		}
		fa := filepath.Join(dir, fmt.Sprintf("%d.old", i))
		out := filepath.Join(dir, fmt.Sprintf("%d.out", i))
		if err := os.WriteFile(fa, p.a, 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(patch, "--quiet", "--batch", "-o", out, fa)
		cmd.Stdin = bytes.NewReader(d.Bytes())
		if msg, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("case %d: patch: %v\n%s\ndiff:\n%s", i, err, msg, d.Bytes())
		}
		got, err := os.ReadFile(out)
		if err != nil && !(len(p.b) == 0 && errors.Is(err, os.ErrNotExist)) {
			t.Fatal(err)
		}
		if !bytes.Equal(got, p.b) {
			t.Errorf("case %d: patch made %q, want %q", i, got, p.b)
		}
	}
}

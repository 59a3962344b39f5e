package folder

import (
	"errors"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestValidName(t *testing.T) {
	tests := []struct {
		name   string
		ok     bool
		reason string // part of the message when refused
	}{
		{"frame.stl", true, ""},
		{"Scheibe-ø8.txt", true, ""},
		{"日本語のファイル", true, ""},
		{".hidden", true, ""},
		{"...", true, ""},
		{"a b", true, ""},
		{"a:b", true, ""},
		{strings.Repeat("x", 255), true, ""},
		{strings.Repeat("é", 127), true, ""}, // 254 bytes
		{"", false, "empty"},
		{".", false, "directory"},
		{"..", false, "directory"},
		{"a/b", false, `"/"`},
		{"/abs", false, `"/"`},
		{"../x", false, `"/"`},
		{`a\b`, false, `"\"`},
		{`..\x`, false, `"\"`},
		{"nul\x00", false, "control"},
		{"bell\x07", false, "control"},
		{"line\nbreak", false, "control"},
		{"tab\t", false, "control"},
		{"del\x7f", false, "control"},
		{"c1\u0085", false, "control"},
		{"bad\xff", false, "UTF-8"},
		{strings.Repeat("x", 256), false, "255"},
		{strings.Repeat("é", 128), false, "255"}, // 256 bytes
	}
	for _, tc := range tests {
		err := ValidName(tc.name)
		if tc.ok {
			if err != nil {
				t.Errorf("ValidName(%q) = %v, want nil", tc.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrUnsafeName) {
			t.Errorf("ValidName(%q) = %v, want ErrUnsafeName", tc.name, err)
			continue
		}
		if !strings.Contains(err.Error(), tc.reason) {
			t.Errorf("ValidName(%q) = %q, want it to mention %q", tc.name, err, tc.reason)
		}
		if strings.ContainsFunc(err.Error(), unicode.IsControl) {
			t.Errorf("ValidName(%q) message %q holds a control character", tc.name, err)
		}
	}
}

func TestLinkTargetProblem(t *testing.T) {
	tests := []struct {
		target string
		depth  int
		ok     bool
	}{
		{"frame.stl", 0, true},
		{"parts/frame.stl", 0, true},
		{"./parts//frame.stl", 0, true},
		{".", 0, true},
		{"../frame.stl", 1, true},
		{"../../README.md", 2, true},
		{"..", 1, true},
		{"../..", 2, true},
		{"../x/y/", 1, true},
		{"", 0, false},
		{"/etc/passwd", 5, false},
		{"//etc", 5, false},
		{"..", 0, false},
		{"../frame.stl", 0, false},
		{"../../x", 1, false},
		{"./../x", 0, false},
		{"sub/../x", 3, false},  // ".." after a name: sub may be a symlink
		{"sub/l/..", 3, false},  // cleans to "sub" but the kernel may climb from elsewhere
		{"a/../../x", 5, false}, // idem
		{`..\..\x`, 0, false},
		{"a\x00b", 0, false},
		{"ok/bad\x01", 0, false},
		{strings.Repeat("a/", 2048), 0, false},
	}
	for _, tc := range tests {
		got := linkTargetProblem(tc.target, tc.depth)
		if (got == "") != tc.ok {
			t.Errorf("linkTargetProblem(%q, %d) = %q, want ok=%v", tc.target, tc.depth, got, tc.ok)
		}
	}
}

// FuzzValidName checks that every name ValidName accepts is one path
// element that cannot climb, on either separator convention.
func FuzzValidName(f *testing.F) {
	for _, s := range []string{"frame.stl", "", ".", "..", "../x", "a/b", `a\b`, "a\x00", "\xff", "ø", strings.Repeat("x", 256), " ", "..."} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		err := ValidName(name)
		if err != nil {
			if !errors.Is(err, ErrUnsafeName) {
				t.Fatalf("ValidName(%q) = %v, not ErrUnsafeName", name, err)
			}
			if strings.ContainsFunc(err.Error(), unicode.IsControl) || !utf8.ValidString(err.Error()) {
				t.Fatalf("message %q is not clean", err)
			}
			return
		}
		if name == "" || name == "." || name == ".." || len(name) > MaxNameLen || !utf8.ValidString(name) ||
			strings.ContainsAny(name, `/\`) || strings.ContainsFunc(name, unicode.IsControl) {
			t.Fatalf("ValidName(%q) = nil", name)
		}
		base := "/base/dir"
		if j := path.Join(base, name); path.Dir(j) != base || path.Base(j) != name {
			t.Fatalf("path.Join(%q, %q) = %q, not one element below", base, name, j)
		}
		if j := filepath.Join(filepath.FromSlash(base), name); filepath.Dir(j) != filepath.FromSlash(base) {
			t.Fatalf("filepath.Join(%q, %q) = %q, not one element below", base, name, j)
		}
	})
}

package textdiff

import (
	"io"
	"testing"
)

// FuzzLines diffs two arbitrary byte strings (seeds below; inputs that
// failed are kept in testdata/fuzz/FuzzLines). Lines must not panic and its
// script must turn a into b exactly; for small inputs it must also be
// minimal. Unified must not panic either, must report a change exactly when
// a and b differ, and must fail only on content that is not text.
func FuzzLines(f *testing.F) {
	seeds := [][2]string{
		{"", ""},
		{"", "a\n"},
		{"a\nb\nc\n", "a\nc\nd\n"},
		{"a\nb", "a\nb\n"},
		{"a\r\nb\r\n", "a\nb\n"},
		{"x\nx\nx\n", "x\nx\n"},
		{"\n\n\n", "\n\n"},
		{"a\x00b\n", "a\xffb"},
		{"# T\n\n1. a\n\n2. b\n", "# T\n\n1. a\n\n1b. c\n\n2. b\n"},
	}
	for _, s := range seeds {
		f.Add([]byte(s[0]), []byte(s[1]))
	}
	f.Fuzz(func(t *testing.T, a, b []byte) {
		edits := Lines(a, b)
		checkScript(t, a, b, edits)
		if len(edits) <= 200 {
			ins, del := Stats(edits)
			if d := distance(a, b); ins+del != d {
				t.Fatalf("a=%q b=%q: %d inserted + %d deleted, minimal is %d", a, b, ins, del, d)
			}
		}
		changed, err := Unified(io.Discard, "old", "new", a, b, 3)
		if changed != (string(a) != string(b)) {
			t.Fatalf("a=%q b=%q: changed = %v", a, b, changed)
		}
		if err != nil && (Text(a) && Text(b) || !changed) {
			t.Fatalf("a=%q b=%q: %v", a, b, err)
		}
	})
}

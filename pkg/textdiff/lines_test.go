package textdiff

import (
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
)

// apply rebuilds the new text from the old one and an edit script, checking
// everything Lines promises on the way: each line of a is kept or deleted
// once, in order, with its text; line numbers count from 1 without gaps;
// NoNewline is set exactly on a last line without newline.
func apply(a []byte, edits []Edit) ([]byte, error) {
	old := strings.SplitAfter(string(a), "\n")
	if old[len(old)-1] == "" {
		old = old[:len(old)-1]
	}
	var out strings.Builder
	i, j := 0, 0 // lines of a used, lines of the new text written
	for n, e := range edits {
		switch e.Kind {
		case Equal, Delete:
			if i >= len(old) {
				return nil, fmt.Errorf("edit %d %+v: past the end of a", n, e)
			}
			text, nl := strings.CutSuffix(old[i], "\n")
			if e.Text != text || e.NoNewline == nl || e.OldLine != i+1 {
				return nil, fmt.Errorf("edit %d %+v: line %d of a is %q", n, e, i+1, old[i])
			}
			i++
			if e.Kind == Delete {
				if e.NewLine != 0 {
					return nil, fmt.Errorf("edit %d %+v: delete with a new line number", n, e)
				}
				continue
			}
			if e.NewLine != j+1 {
				return nil, fmt.Errorf("edit %d %+v: want new line %d", n, e, j+1)
			}
			j++
			out.WriteString(old[i-1])
		case Insert:
			if e.OldLine != 0 || e.NewLine != j+1 || strings.Contains(e.Text, "\n") {
				return nil, fmt.Errorf("edit %d %+v: bad insert, want new line %d", n, e, j+1)
			}
			j++
			out.WriteString(e.Text)
			if !e.NoNewline {
				out.WriteByte('\n')
			}
		default:
			return nil, fmt.Errorf("edit %d %+v: bad kind", n, e)
		}
	}
	if i != len(old) {
		return nil, fmt.Errorf("script uses %d of the %d lines of a", i, len(old))
	}
	return []byte(out.String()), nil
}

// checkScript fails t unless edits turn a into b.
func checkScript(t testing.TB, a, b []byte, edits []Edit) {
	t.Helper()
	got, err := apply(a, edits)
	if err != nil {
		t.Fatalf("a=%q b=%q: %v", a, b, err)
	}
	if string(got) != string(b) {
		t.Fatalf("a=%q b=%q: script rebuilds %q", a, b, got)
	}
}

// distance is the number of inserted plus deleted lines of a minimal diff,
// by dynamic programming over the longest common subsequence (distanceIDs);
// a last line without newline stays different from the same line with one.
func distance(a, b []byte) int {
	ids := map[string]int32{}
	seq := func(data []byte) []int32 {
		lines := strings.SplitAfter(string(data), "\n")
		if lines[len(lines)-1] == "" {
			lines = lines[:len(lines)-1]
		}
		out := make([]int32, len(lines))
		for i, l := range lines {
			v, ok := ids[l]
			if !ok {
				v = int32(len(ids))
				ids[l] = v
			}
			out[i] = v
		}
		return out
	}
	return distanceIDs(seq(a), seq(b))
}

// distanceIDs is the number of elements inserted plus deleted by a
// minimal diff of x and y, in O(len(x)*len(y)) time.
func distanceIDs(x, y []int32) int {
	prev := make([]int, len(y)+1)
	cur := make([]int, len(y)+1)
	for i := range x {
		for j := range y {
			switch {
			case x[i] == y[j]:
				cur[j+1] = prev[j] + 1
			case prev[j+1] >= cur[j]:
				cur[j+1] = prev[j+1]
			default:
				cur[j+1] = cur[j]
			}
		}
		prev, cur = cur, prev
	}
	return len(x) + len(y) - 2*prev[len(y)]
}

// compact writes an edit script one string per edit: '=', '+' or '-', the
// text, and `\` when the line has no newline.
func compact(edits []Edit) []string {
	out := make([]string, len(edits))
	for i, e := range edits {
		c := map[Kind]string{Equal: "=", Insert: "+", Delete: "-"}[e.Kind]
		out[i] = c + e.Text
		if e.NoNewline {
			out[i] += `\`
		}
	}
	return out
}

func TestLines(t *testing.T) {
	prefix := strings.Repeat("common line\n", 5000)
	tests := []struct {
		name string
		a, b string
		want []string
	}{
		{"both empty", "", "", []string{}},
		{"equal", "a\nb\n", "a\nb\n", []string{"=a", "=b"}},
		{"empty to text", "", "a\nb\n", []string{"+a", "+b"}},
		{"text to empty", "a\nb\n", "", []string{"-a", "-b"}},
		{"insert at start", "b\nc\n", "a\nb\nc\n", []string{"+a", "=b", "=c"}},
		{"insert in middle", "a\nc\n", "a\nb\nc\n", []string{"=a", "+b", "=c"}},
		{"insert at end", "a\nb\n", "a\nb\nc\n", []string{"=a", "=b", "+c"}},
		{"delete", "a\nb\nc\n", "a\nc\n", []string{"=a", "-b", "=c"}},
		{"replace", "a\nb\nc\n", "a\nB\nc\n", []string{"=a", "-b", "+B", "=c"}},
		{"replace all", "a\nb\n", "c\nd\n", []string{"-a", "-b", "+c", "+d"}},
		{"blank line", "a\n", "a\n\n", []string{"=a", "+"}},
		{"old has no final newline", "a\nb", "a\nb\n", []string{"=a", `-b\`, "+b"}},
		{"new has no final newline", "a\nb\n", "a\nb", []string{"=a", "-b", `+b\`}},
		{"neither has a final newline", "a\nb", "x\nb", []string{"-a", "+x", `=b\`}},
		{"append to unterminated", "a", "a\nb", []string{`-a\`, "+a", `+b\`}},
		{"only a newline", "", "\n", []string{"+"}},
		{"CRLF kept", "a\r\nb\r\n", "a\r\nc\r\n", []string{"=a\r", "-b\r", "+c\r"}},
		{"CRLF to LF", "a\r\nb\n", "a\nb\n", []string{"-a\r", "+a", "=b"}},
		{"lone CR is not a newline", "a\rb\n", "a\rc\n", []string{"-a\rb", "+a\rc"}},
		{"insertion slides to the last place", "a\nb\n", "a\nb\na\nb\n", []string{"=a", "=b", "+a", "+b"}},
		{"deletion slides to the last place", "x\nx\nx\ny\n", "x\nx\ny\n", []string{"=x", "=x", "-x", "=y"}},
		{"deletion meets an insertion", "x\n\n## Parts\n\ny\n", "x\nnew\n\ny\n", []string{"=x", "-", "-## Parts", "+new", "=", "=y"}},
		{
			"large common prefix",
			prefix + "old\n" + prefix, prefix + "new\n" + prefix,
			append(append(repeatEdit("=common line", 5000), "-old", "+new"), repeatEdit("=common line", 5000)...),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			edits := Lines([]byte(tt.a), []byte(tt.b))
			checkScript(t, []byte(tt.a), []byte(tt.b), edits)
			got := compact(edits)
			if strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
				t.Errorf("Lines(%q, %q)\n got %q\nwant %q", tt.a, tt.b, got, tt.want)
			}
			ins, del := Stats(edits)
			if len(edits) > 1000 {
				return // too long for the quadratic reference
			}
			if d := distance([]byte(tt.a), []byte(tt.b)); ins+del != d {
				t.Errorf("%d inserted + %d deleted, minimal is %d", ins, del, d)
			}
		})
	}
}

func repeatEdit(s string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = s
	}
	return out
}

func TestStats(t *testing.T) {
	tests := []struct {
		name     string
		edits    []Edit
		ins, del int
	}{
		{"none", nil, 0, 0},
		{"equal only", []Edit{{Kind: Equal}, {Kind: Equal}}, 0, 0},
		{"mixed", []Edit{{Kind: Delete}, {Kind: Insert}, {Kind: Equal}, {Kind: Insert}}, 2, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ins, del := Stats(tt.edits)
			if ins != tt.ins || del != tt.del {
				t.Errorf("Stats = %d, %d; want %d, %d", ins, del, tt.ins, tt.del)
			}
		})
	}
}

func TestKindString(t *testing.T) {
	tests := []struct {
		k    Kind
		want string
	}{{Equal, "equal"}, {Insert, "insert"}, {Delete, "delete"}, {Kind(7), "Kind(7)"}}
	for _, tt := range tests {
		if got := tt.k.String(); got != tt.want {
			t.Errorf("Kind(%d).String() = %q, want %q", int(tt.k), got, tt.want)
		}
	}
}

// randomText returns up to maxLines lines drawn from a few, so that lines
// repeat and matches are ambiguous, with or without a final newline.
func randomText(r *rand.Rand, maxLines int) []byte {
	words := []string{"a", "b", "c", "", "a\r", "# title", "- item"}
	var sb strings.Builder
	n := r.IntN(maxLines + 1)
	for i := range n {
		sb.WriteString(words[r.IntN(len(words))])
		if i < n-1 || r.IntN(4) > 0 {
			sb.WriteByte('\n')
		}
	}
	return []byte(sb.String())
}

// mutate returns a copy of a with a few lines inserted, deleted or
// replaced, the way a document is revised.
func mutate(r *rand.Rand, a []byte) []byte {
	lines := strings.SplitAfter(string(a), "\n")
	for range r.IntN(6) {
		i := r.IntN(len(lines) + 1)
		word := fmt.Sprintf("line %d\n", r.IntN(5))
		switch r.IntN(3) {
		case 0:
			lines = append(lines[:i], append([]string{word}, lines[i:]...)...)
		case 1:
			if i < len(lines) {
				lines = append(lines[:i], lines[i+1:]...)
			}
		case 2:
			if i < len(lines) {
				lines[i] = word
			}
		}
	}
	return []byte(strings.Join(lines, ""))
}

// TestLinesRandom checks on random pairs that the script rebuilds the new
// text and is minimal.
func TestLinesRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 3000 {
		a := randomText(r, 40)
		var b []byte
		if i%2 == 0 {
			b = randomText(r, 40)
		} else {
			b = mutate(r, a)
		}
		edits := Lines(a, b)
		checkScript(t, a, b, edits)
		ins, del := Stats(edits)
		if d := distance(a, b); ins+del != d {
			t.Fatalf("a=%q b=%q: %d inserted + %d deleted, minimal is %d", a, b, ins, del, d)
		}
	}
}

// checkMarks fails t unless the unchanged lines of a and b, in order, are
// the same: then the marks describe a correct diff.
func checkMarks(t *testing.T, a, b []int32, delA, insB []bool) {
	t.Helper()
	var ka, kb []int32
	for i, v := range a {
		if !delA[i] {
			ka = append(ka, v)
		}
	}
	for i, v := range b {
		if !insB[i] {
			kb = append(kb, v)
		}
	}
	if fmt.Sprint(ka) != fmt.Sprint(kb) {
		t.Fatalf("a=%v b=%v: kept %v and %v", a, b, ka, kb)
	}
}

func randomIDs(r *rand.Rand, n, alphabet int) []int32 {
	s := make([]int32, n)
	for i := range s {
		s[i] = int32(r.IntN(alphabet))
	}
	return s
}

// TestSearchFallbacks runs the search with tiny limits and budgets, so
// that it cuts boxes at non-minimal points and runs out of budget, and
// checks that the result is still a correct diff.
func TestSearchFallbacks(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	tests := []struct {
		name         string
		limit, work  int
		wantCut      bool
		wantExhausts bool
	}{
		{"limit 1", 1, workBudget, true, false},
		{"limit 3", 3, workBudget, true, false},
		{"budget 1", 1 << 20, 1, true, true},
		{"budget 50", 1 << 20, 50, true, true},
		{"limit 2 budget 200", 2, 200, true, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cut, exhausted := false, false
			for range 500 {
				a := randomIDs(r, r.IntN(60), 4)
				b := randomIDs(r, r.IntN(60), 4)
				s := newSearch(a, b, tt.limit, tt.work)
				s.run()
				checkMarks(t, a, b, s.delA, s.insB)
				cut = cut || s.cut
				exhausted = exhausted || s.exhausted
			}
			if cut != tt.wantCut || exhausted != tt.wantExhausts {
				t.Errorf("cut %v, exhausted %v; want %v, %v", cut, exhausted, tt.wantCut, tt.wantExhausts)
			}
		})
	}
}

// TestSearchMinimalWithinBound checks the guarantee of the package
// documentation on inputs near its edge: with D*(n+m) <= 2^21 the search
// neither cuts nor runs out of budget, so the diff is minimal.
func TestSearchMinimalWithinBound(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	periodic := func(n, period, shift int) []int32 {
		s := make([]int32, n)
		for i := range s {
			s[i] = int32((i + shift) % period)
		}
		return s
	}
	tests := []struct {
		name string
		a, b []int32
	}{
		// Random lines over a small alphabet: D is about a third of n+m.
		{"random 2x1100", randomIDs(r, 1100, 4), randomIDs(r, 1100, 4)},
		// Two lines only, long diagonals everywhere.
		{"binary 2x1400", randomIDs(r, 1400, 2), randomIDs(r, 1400, 2)},
		// As different as texts over 8 lines can be, at the limit.
		{"random 2x700", randomIDs(r, 700, 8), randomIDs(r, 700, 8)},
		// Periodic texts out of phase: long snakes on many diagonals.
		{"periodic", periodic(20000, 7, 0), append(periodic(19990, 7, 3), 1, 2)},
		// A long text and a short one.
		{"long and short", randomIDs(r, 1400, 3), randomIDs(r, 100, 3)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newSearch(tt.a, tt.b, MaxSearchD/2, workBudget)
			s.run()
			checkMarks(t, tt.a, tt.b, s.delA, s.insB)
			d := 0
			for _, c := range s.delA {
				if c {
					d++
				}
			}
			for _, c := range s.insB {
				if c {
					d++
				}
			}
			if d*(len(tt.a)+len(tt.b)) > 1<<21 {
				t.Fatalf("test case outside the bound: D=%d, n+m=%d", d, len(tt.a)+len(tt.b))
			}
			if len(tt.a)*len(tt.b) <= 4<<20 {
				if want := distanceIDs(tt.a, tt.b); d != want {
					t.Errorf("D=%d, minimal is %d", d, want)
				}
			}
			if s.cut || s.exhausted {
				t.Errorf("D=%d, n+m=%d: cut %v, exhausted %v (work left %d)", d, len(tt.a)+len(tt.b), s.cut, s.exhausted, s.work)
			}
			t.Logf("D=%d, n+m=%d, work %d of %d", d, len(tt.a)+len(tt.b), workBudget-s.work, workBudget)
		})
	}
}

// TestLinesBound diffs inputs at the size limit of Unified, one of which a
// minimal search could not afford (it runs out of budget), and checks only
// that the results are correct: they must finish, and the test's timeout
// catches them if they do not.
func TestLinesBound(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	const n = MaxLines
	build := func(line func(i int) string) []byte {
		var sb strings.Builder
		for i := range n {
			sb.WriteString(line(i))
			sb.WriteByte('\n')
		}
		return []byte(sb.String())
	}
	tests := []struct {
		name       string
		a, b       []byte
		minChanged int  // the least number of lines inserted and deleted
		unified    bool // also through Unified (a second diff: slow with -race)
	}{
		{
			"totally different",
			build(func(i int) string { return fmt.Sprintf("old line %d", i) }),
			build(func(i int) string { return fmt.Sprintf("new line %d", i) }),
			n, true,
		},
		{
			"random over two lines",
			build(func(int) string { return []string{"a", "b"}[r.IntN(2)] }),
			build(func(int) string { return []string{"a", "b"}[r.IntN(2)] }),
			0, false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			edits := Lines(tt.a, tt.b)
			checkScript(t, tt.a, tt.b, edits)
			if ins, del := Stats(edits); ins < tt.minChanged || del < tt.minChanged {
				t.Errorf("%d inserted, %d deleted; want at least %d each", ins, del, tt.minChanged)
			}
			if !tt.unified {
				return
			}
			var out strings.Builder
			changed, err := Unified(&out, "old", "new", tt.a, tt.b, 3)
			if !changed || err != nil {
				t.Fatalf("Unified = %v, %v", changed, err)
			}
			if out.Len() == 0 {
				t.Fatal("Unified wrote nothing")
			}
		})
	}
}

// BenchmarkLines diffs two revisions of a document of about 3000 lines.
func BenchmarkLines(b *testing.B) {
	r := rand.New(rand.NewPCG(15, 16))
	a := []byte(markdown(1000))
	c := mutate(r, mutate(r, mutate(r, a)))
	b.SetBytes(int64(len(a) + len(c)))
	for b.Loop() {
		Lines(a, c)
	}
}

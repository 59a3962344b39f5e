package textdiff

import (
	"strconv"
	"strings"
)

// Kind says what an Edit does to a line.
type Kind int

// The kinds of Edit.
const (
	// Equal keeps a line that both texts have.
	Equal Kind = iota
	// Insert adds a line of the new text.
	Insert
	// Delete removes a line of the old text.
	Delete
)

// String returns "equal", "insert" or "delete".
func (k Kind) String() string {
	switch k {
	case Equal:
		return "equal"
	case Insert:
		return "insert"
	case Delete:
		return "delete"
	}
	return "Kind(" + strconv.Itoa(int(k)) + ")"
}

// Edit is one line of an edit script: applying the Equal and Insert edits in
// order, skipping the Delete ones, turns the old text into the new one.
type Edit struct {
	// Kind says whether the line is kept, inserted or deleted.
	Kind Kind
	// OldLine is the 1-based number of the line in the old text, 0 for an
	// Insert.
	OldLine int
	// NewLine is the 1-based number of the line in the new text, 0 for a
	// Delete.
	NewLine int
	// Text is the line without its newline; a carriage return before the
	// newline stays in Text.
	Text string
	// NoNewline reports that the line is the last of its text and that
	// text does not end with a newline (for Equal, both texts end so).
	// Without it an edit script could not tell "x" from "x\n", and the
	// new text could not be rebuilt exactly from the old one.
	NoNewline bool
}

// Lines returns a minimal edit script, line by line, that turns a into b:
// every line of a appears once, as Equal or Delete, every line of b once, as
// Equal or Insert, in the order of each text. Within a change, deletions come
// before insertions. A run of changed lines that could sit at several places
// among identical lines is put at the last of them where it meets a change
// of the other text, if any, else at the last of them, as GNU diff does.
//
// Time and memory are bounded whatever a and b hold; past the bounds
// described in the package documentation the script is still correct but may
// not be minimal. Lines has no size limit of its own (Unified has).
func Lines(a, b []byte) []Edit {
	x, y := splitLines(a), splitLines(b)
	xa, ya := lineIDs(x, y)
	s := newSearch(xa, ya, MaxSearchD/2, workBudget)
	s.run()
	slide(xa, s.delA)
	slide(ya, s.insB)
	align(xa, s.delA, s.insB)
	align(ya, s.insB, s.delA)
	return script(x, y, s.delA, s.insB)
}

// Stats counts the inserted and the deleted lines of an edit script.
func Stats(edits []Edit) (inserted, deleted int) {
	for _, e := range edits {
		switch e.Kind {
		case Insert:
			inserted++
		case Delete:
			deleted++
		}
	}
	return inserted, deleted
}

// text is a text cut into lines.
type text struct {
	lines []string // without their newlines
	noEOL bool     // the last line has no newline
}

// splitLines cuts data after each newline. The lines share one copy of
// data.
func splitLines(data []byte) text {
	s := string(data)
	var t text
	t.lines = make([]string, 0, strings.Count(s, "\n")+1)
	for len(s) > 0 {
		i := strings.IndexByte(s, '\n')
		if i < 0 {
			t.lines = append(t.lines, s)
			t.noEOL = true
			break
		}
		t.lines = append(t.lines, s[:i])
		s = s[i+1:]
	}
	return t
}

// lineIDs numbers the distinct lines of x and y, so that the search compares
// integers. A last line without a newline is distinct from the same text
// with one.
func lineIDs(x, y text) (xa, ya []int32) {
	ids := make(map[string]int32, len(x.lines)+len(y.lines))
	bare := make(map[string]int32, 2) // last lines without a newline
	id := func(t text, i int) int32 {
		m := ids
		if t.noEOL && i == len(t.lines)-1 {
			m = bare
		}
		v, ok := m[t.lines[i]]
		if !ok {
			v = int32(len(ids) + len(bare))
			m[t.lines[i]] = v
		}
		return v
	}
	xa = make([]int32, len(x.lines))
	for i := range xa {
		xa[i] = id(x, i)
	}
	ya = make([]int32, len(y.lines))
	for i := range ya {
		ya[i] = id(y, i)
	}
	return xa, ya
}

// slide moves each run of changed lines as far down as it can go while
// keeping the same lines unchanged: a run [s, e) followed by an unchanged
// line equal to its first line can equally be [s+1, e+1). Runs that meet
// merge. Sliding one side leaves its sequence of unchanged lines the same,
// so it stays matched with the other side's.
func slide(ids []int32, changed []bool) {
	n := len(ids)
	for i := 0; i < n; {
		if !changed[i] {
			i++
			continue
		}
		s, e := i, i
		for e < n && changed[e] {
			e++
		}
		for e < n && ids[s] == ids[e] {
			changed[s], changed[e] = false, true
			s++
			e++
			for e < n && changed[e] {
				e++
			}
		}
		i = e
	}
}

// align moves runs of changed lines of one side back up, over lines they
// could also be placed after, when that makes them end where the other side
// has changed lines too: a deletion next to an insertion reads as one
// replacement rather than two changes a line apart. It is the second half
// of what GNU diff does to place changes, and as there a run moves up to the
// nearest such place only, and never merges with the run before.
//
// Runs are matched with the other side through the unchanged lines: the
// k-th unchanged line of each side pair up, and moving a run up by t makes
// the t lines after it unchanged instead of the t lines before it, keeping
// their partners.
func align(ids []int32, changed, other []bool) {
	n, m := len(ids), len(other)
	partner := make([]int, n) // for unchanged lines: the line of the other side
	for i, j := 0, 0; i < n; i++ {
		if changed[i] {
			continue
		}
		for other[j] {
			j++
		}
		partner[i] = j
		j++
	}
	// follows reports whether the other side has a changed line just
	// before its line q (m: the end).
	follows := func(q int) bool { return q > 0 && other[q-1] }
	for i := 0; i < n; {
		if !changed[i] {
			i++
			continue
		}
		s, e := i, i
		for e < n && changed[e] {
			e++
		}
		i = e
		if e == n && follows(m) || e < n && follows(partner[e]) {
			continue
		}
		for t := 1; s-t >= 0 && !changed[s-t] && ids[s-t] == ids[e-t]; t++ {
			if s-t > 0 && changed[s-t-1] {
				break
			}
			if follows(partner[s-t]) {
				copy(partner[e-t:e], partner[s-t:s])
				for x := s; x < e; x++ {
					changed[x] = false
				}
				for x := s - t; x < e-t; x++ {
					changed[x] = true
				}
				break
			}
		}
	}
}

// script turns the changed-line marks into edits, deletions before
// insertions within each change.
func script(x, y text, del, ins []bool) []Edit {
	n, m := len(x.lines), len(y.lines)
	edits := make([]Edit, 0, max(n, m))
	i, j := 0, 0
	for i < n || j < m {
		switch {
		case i < n && del[i]:
			edits = append(edits, Edit{Kind: Delete, OldLine: i + 1, Text: x.lines[i], NoNewline: x.noEOL && i == n-1})
			i++
		case j < m && ins[j]:
			edits = append(edits, Edit{Kind: Insert, NewLine: j + 1, Text: y.lines[j], NoNewline: y.noEOL && j == m-1})
			j++
		default:
			// Both lines are unchanged, hence equal: the search matched
			// them in order.
			edits = append(edits, Edit{Kind: Equal, OldLine: i + 1, NewLine: j + 1, Text: x.lines[i], NoNewline: x.noEOL && i == n-1})
			i++
			j++
		}
	}
	return edits
}

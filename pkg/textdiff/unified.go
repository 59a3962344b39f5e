package textdiff

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"unicode/utf8"
)

// Limits of Unified. A text beyond them is not diffed: the output would be
// too long to read, and computing it would cost more than it is worth.
const (
	// MaxSize is the largest text Unified diffs, in bytes (4 MiB).
	MaxSize = 4 << 20
	// MaxLines is the largest number of lines of a text Unified diffs.
	MaxLines = 100000
)

// Errors of Unified, returned wrapped with the name of the file concerned;
// test for them with errors.Is.
var (
	// ErrBinary means a text is not text (see Text).
	ErrBinary = errors.New("binary content")
	// ErrTooLarge means a text has more than MaxSize bytes or MaxLines
	// lines.
	ErrTooLarge = errors.New("too large for a text diff")
)

// textSniffLen is how much of the data Text searches for NUL bytes, as git
// does.
const textSniffLen = 8 << 10

// Text reports whether data looks like text rather than binary content: it
// is valid UTF-8 and has no NUL byte in its first 8 KiB. Empty data is text.
func Text(data []byte) bool {
	return bytes.IndexByte(data[:min(len(data), textSniffLen)], 0) < 0 && utf8.Valid(data)
}

// Unified writes to w a unified diff of a, named oldName, and b, named
// newName, with context unchanged lines around each change (3 is usual;
// less than 0 counts as 0). The output has the format of `diff -U context
// --label oldName --label newName`, and is usually the same: a
// "--- oldName" and a "+++ newName" line, then hunks headed
// "@@ -l,s +l,s @@", each line prefixed by ' ', '-' or '+', and
// "\ No newline at end of file" after a last line that has none. Names are
// written as they are.
//
// changed reports whether a and b differ. If they do not, Unified writes
// nothing and returns false and nil, even for binary or large content. If
// they do but one of them is not text or is too large, it writes nothing
// and returns true and an error wrapping ErrBinary or ErrTooLarge that names
// the file, so that a caller can still say that the files differ. An error
// from w is returned wrapped, with changed true; w may then have received
// part of the diff.
func Unified(w io.Writer, oldName, newName string, a, b []byte, context int) (changed bool, err error) {
	if bytes.Equal(a, b) {
		return false, nil
	}
	if err := checkText(oldName, a); err != nil {
		return true, err
	}
	if err := checkText(newName, b); err != nil {
		return true, err
	}
	bw := bufio.NewWriter(w)
	writeUnified(bw, oldName, newName, Lines(a, b), max(context, 0))
	if err := bw.Flush(); err != nil {
		return true, fmt.Errorf("diff %s %s: write: %w", oldName, newName, err)
	}
	return true, nil
}

// checkText returns an error if data cannot be diffed as text.
func checkText(name string, data []byte) error {
	if len(data) > MaxSize {
		return fmt.Errorf("diff %s: %d bytes, more than %d: %w", name, len(data), MaxSize, ErrTooLarge)
	}
	if !Text(data) {
		return fmt.Errorf("diff %s: %w", name, ErrBinary)
	}
	lines := bytes.Count(data, []byte{'\n'})
	if len(data) > 0 && data[len(data)-1] != '\n' {
		lines++
	}
	if lines > MaxLines {
		return fmt.Errorf("diff %s: %d lines, more than %d: %w", name, lines, MaxLines, ErrTooLarge)
	}
	return nil
}

// writeUnified writes the headers and the hunks of edits to w; w keeps the
// first write error for the caller to find on Flush.
func writeUnified(w *bufio.Writer, oldName, newName string, edits []Edit, context int) {
	w.WriteString("--- " + oldName + "\n")
	w.WriteString("+++ " + newName + "\n")
	oldBefore, newBefore := 0, 0 // lines of each text before edits[pos]
	pos := 0
	for i := 0; ; {
		// A hunk starts with up to context lines before its first change
		// and grows while the next change is at most 2*context unchanged
		// lines further: two hunks would show all those lines anyway.
		for i < len(edits) && edits[i].Kind == Equal {
			i++
		}
		if i == len(edits) {
			return
		}
		start := max(i-context, 0)
		end := i
		for {
			for end < len(edits) && edits[end].Kind != Equal {
				end++
			}
			next := end
			for next < len(edits) && edits[next].Kind == Equal {
				next++
			}
			if next == len(edits) || next-end > 2*context {
				break
			}
			end = next
		}
		stop := min(end+context, len(edits))

		for ; pos < start; pos++ {
			oldBefore, newBefore = advance(edits[pos], oldBefore, newBefore)
		}
		oldCount, newCount := 0, 0
		for _, e := range edits[start:stop] {
			oldCount, newCount = advance(e, oldCount, newCount)
		}
		w.WriteString("@@ -")
		writeRange(w, oldBefore, oldCount)
		w.WriteString(" +")
		writeRange(w, newBefore, newCount)
		w.WriteString(" @@\n")
		for _, e := range edits[start:stop] {
			switch e.Kind {
			case Equal:
				w.WriteByte(' ')
			case Delete:
				w.WriteByte('-')
			case Insert:
				w.WriteByte('+')
			}
			w.WriteString(e.Text)
			w.WriteByte('\n')
			if e.NoNewline {
				w.WriteString("\\ No newline at end of file\n")
			}
		}
		i = stop
	}
}

// advance counts e's line in the old and the new text.
func advance(e Edit, oldN, newN int) (int, int) {
	switch e.Kind {
	case Equal:
		return oldN + 1, newN + 1
	case Delete:
		return oldN + 1, newN
	default:
		return oldN, newN + 1
	}
}

// writeRange writes the range of a hunk in one text as GNU diff does:
// "l,s" for s lines from line l, "l" alone when s is 1, and for no lines
// "l,0" where l is the line they follow.
func writeRange(w *bufio.Writer, before, count int) {
	switch count {
	case 0:
		w.WriteString(strconv.Itoa(before) + ",0")
	case 1:
		w.WriteString(strconv.Itoa(before + 1))
	default:
		w.WriteString(strconv.Itoa(before+1) + "," + strconv.Itoa(count))
	}
}

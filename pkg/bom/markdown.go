package bom

import (
	"cmp"
	"html"
	"io"
	"slices"
	"strings"
)

// ParseMarkdown reads a BOM from the first pipe table (GitHub Flavored
// Markdown) in a Markdown document; text before and after the table is
// ignored, and so are tables inside fenced or indented code blocks.
//
// A table is a header row and a delimiter row (|---|:--:|) with the same
// number of cells, then the rows up to the first blank line or the first
// line without a "|". Leading and trailing pipes are optional; \| is a pipe
// inside a cell. Cells are reduced to plain text: code spans, emphasis
// around the whole cell and backslash escapes are removed, HTML entities
// decoded, <br> read as a line break, and links [text](url) read as their
// text, except in the link column, where the URL is taken. When a row has
// no link column value, the first link in its part or supplier cell is
// used as Line.Link.
//
// On malformed input the error is a *ParseError wrapping ErrMalformed, in
// which Column is the cell number; over a limit, ErrTooLarge; an error from
// r is returned wrapped.
func ParseMarkdown(name string, r io.Reader) (*BOM, error) {
	data, err := readInput(name, r)
	if err != nil {
		return nil, err
	}
	return parseMarkdown(name, decodeText(data))
}

// splitLines splits text into lines without their line endings.
func splitLines(text string) []string {
	lines := strings.Split(text, "\n")
	for i, l := range lines {
		lines[i] = strings.TrimSuffix(l, "\r")
	}
	return lines
}

// findTable returns the index of the header line of the first table, or -1.
func findTable(lines []string) int {
	fence := "" // the fence that opened the code block we are in, if any
	for i := 0; i+1 < len(lines); i++ {
		line := lines[i]
		indent, body := leadingIndent(line)
		if fence != "" {
			if indent < 4 && strings.HasPrefix(body, fence) && strings.Trim(strings.TrimSpace(body), fence[:1]) == "" {
				fence = ""
			}
			continue
		}
		if indent < 4 {
			if f := fenceOf(body); f != "" {
				fence = f
				continue
			}
		}
		if indent >= 4 || strings.HasPrefix(body, ">") || !hasPipe(line) {
			continue
		}
		next := lines[i+1]
		if ni, _ := leadingIndent(next); ni >= 4 || !hasPipe(next) {
			continue
		}
		if strings.Trim(next, " \t|:-") != "" || !strings.Contains(next, "-") {
			continue // cheap test before splitting
		}
		delims := splitRow(next)
		if !isDelimiterRow(delims) || len(splitRow(line)) != len(delims) {
			continue
		}
		return i
	}
	return -1
}

// leadingIndent returns the width of the indentation of line (a tab counts
// as 4) and the rest of it.
func leadingIndent(line string) (int, string) {
	n := 0
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case ' ':
			n++
		case '\t':
			n += 4 - n%4
		default:
			return n, line[i:]
		}
	}
	return n, ""
}

// fenceOf returns the fence (``` or ~~~, or longer) that body opens, or "".
func fenceOf(body string) string {
	for _, c := range []string{"`", "~"} {
		n := len(body) - len(strings.TrimLeft(body, c))
		if n >= 3 {
			if c == "`" && strings.Contains(body[n:], "`") {
				return "" // an info string may not contain a backtick
			}
			return body[:n]
		}
	}
	return ""
}

// hasPipe reports whether line contains a "|" that is not escaped.
func hasPipe(line string) bool {
	for i := 0; i < len(line); i++ {
		switch line[i] {
		case '\\':
			i++
		case '|':
			return true
		}
	}
	return false
}

// splitRow splits a table row into raw cells, dropping the optional outer
// pipes and turning \| into |. Other backslash escapes are left for
// mdInline. It stops after MaxColumns+1 cells: a longer row is refused
// anyway.
func splitRow(line string) []string {
	s := strings.TrimSpace(line)
	s = strings.TrimPrefix(s, "|")
	var cells []string
	var b strings.Builder
	endsWithPipe := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		endsWithPipe = false
		switch {
		case c == '\\' && i+1 < len(s) && s[i+1] == '|':
			b.WriteByte('|')
			i++
		case c == '\\' && i+1 < len(s):
			b.WriteByte(c)
			b.WriteByte(s[i+1])
			i++
		case c == '|':
			cells = append(cells, b.String())
			if len(cells) > MaxColumns {
				return cells
			}
			b.Reset()
			endsWithPipe = true
		default:
			b.WriteByte(c)
		}
	}
	if !endsWithPipe || len(cells) == 0 {
		cells = append(cells, b.String())
	}
	return cells
}

// isDelimiterRow reports whether cells are those of a delimiter row:
// each one dashes with optional colons at either end.
func isDelimiterRow(cells []string) bool {
	for _, c := range cells {
		c = strings.TrimSpace(c)
		c = strings.TrimPrefix(c, ":")
		c = strings.TrimSuffix(c, ":")
		if c == "" || strings.Trim(c, "-") != "" {
			return false
		}
	}
	return len(cells) > 0
}

func parseMarkdown(name, text string) (*BOM, error) {
	b := &builder{file: name}
	lines := splitLines(text)
	h := findTable(lines)
	if h < 0 {
		return nil, b.errorf(1, 0, "", nil, "no Markdown table found (a header row, then a delimiter row like |---|---|)")
	}
	if err := b.header(mdRow(h+1, lines[h])); err != nil {
		return nil, err
	}
	for i := h + 2; i < len(lines); i++ {
		line := lines[i]
		if strings.TrimSpace(line) == "" || !hasPipe(line) {
			break
		}
		if err := b.add(mdRow(i+1, line)); err != nil {
			return nil, err
		}
	}
	return b.result(), nil
}

// mdRow splits a table line into cells of plain text.
func mdRow(lineNo int, line string) *row {
	raw := splitRow(line)
	r := &row{line: lineNo, cells: make([]string, len(raw)), urls: make([]string, len(raw))}
	for i, c := range raw {
		if len(c) > MaxCellSize {
			r.cells[i] = c // refused by the builder; not worth decoding
			continue
		}
		r.cells[i], r.urls[i] = mdInline(c)
	}
	return r
}

// mdInline reduces the Markdown of one cell to plain text, and returns the
// target of its first link, if any. It runs in about linear time whatever
// the input: bracket pairs, backtick runs and the positions of ')' and '>'
// are indexed in one pass, so nothing is searched for twice.
func mdInline(s string) (text, url string) {
	s = stripEmphasis(strings.TrimSpace(s))
	if !strings.ContainsAny(s, "\\`[<&*_~") {
		return s, "" // nothing to interpret: the common case
	}
	var closing []int32 // closing[i] is the index of the ']' matching '[' at i
	var parens, angles []int
	if strings.ContainsAny(s, "[<") {
		var stack []int
		for i := 0; i < len(s); i++ {
			switch s[i] {
			case '\\':
				i++
			case '[':
				stack = append(stack, i)
			case ']':
				if n := len(stack); n > 0 {
					if closing == nil {
						closing = make([]int32, len(s))
					}
					closing[stack[n-1]] = int32(i)
					stack = stack[:n-1]
				}
			case ')':
				parens = append(parens, i)
			case '>':
				angles = append(angles, i)
			}
		}
	}
	// Strong emphasis and strikethrough markers inside the cell are
	// dropped when they pair up; single * and _ are left alone, as they
	// occur in part names ("M10*60", "rev_b").
	var dropMarks []string
	for _, m := range []string{"**", "__", "~~"} {
		if n := strings.Count(s, m); n >= 2 && n%2 == 0 {
			dropMarks = append(dropMarks, m)
		}
	}
	var jump []int32       // jump[j] is where to resume after the ']' of a link at j
	var runs map[int][]int // backtick run length -> where such runs start
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); {
		if jump != nil && jump[i] > 0 {
			i = int(jump[i])
			continue
		}
		c := s[i]
		if (c == '*' || c == '_' || c == '~') && i+1 < len(s) && slices.Contains(dropMarks, s[i:i+2]) {
			i += 2
			continue
		}
		switch {
		case c == '\\' && i+1 < len(s) && isASCIIPunct(s[i+1]):
			b.WriteByte(s[i+1])
			i += 2
			continue
		case c == '`':
			if runs == nil {
				runs = backtickRuns(s)
			}
			n := len(s[i:]) - len(strings.TrimLeft(s[i:], "`"))
			starts := runs[n]
			if k, _ := slices.BinarySearch(starts, i+1); k < len(starts) {
				j := starts[k] // a run of exactly n backticks closes the span
				content := s[i+n : j]
				if len(content) >= 2 && content[0] == ' ' && content[len(content)-1] == ' ' && strings.Trim(content, " ") != "" {
					content = content[1 : len(content)-1]
				}
				b.WriteString(content)
				i = j + n
				continue
			}
			b.WriteString(s[i : i+n])
			i += n
			continue
		case closing != nil && (c == '[' || c == '!' && i+1 < len(s) && s[i+1] == '['):
			open := i
			if c == '!' {
				open++
			}
			if j := int(closing[open]); j > 0 && j+1 < len(s) && s[j+1] == '(' {
				if k, _ := slices.BinarySearch(parens, j+2); k < len(parens) {
					p := parens[k]
					if c == '[' { // an image's source is not a link for the part
						url = cmp.Or(url, linkDest(s[j+2:p]))
					}
					if jump == nil {
						jump = make([]int32, len(s))
					}
					jump[j] = int32(p + 1)
					i = open + 1
					continue
				}
			}
		case c == '<':
			if k, _ := slices.BinarySearch(angles, i+1); k < len(angles) {
				j := angles[k]
				inner := s[i+1 : j]
				switch {
				case len(inner) <= 8 && isBreakTag(inner):
					b.WriteByte('\n')
					i = j + 1
					continue
				case isAutolink(inner):
					b.WriteString(inner)
					url = cmp.Or(url, inner)
					i = j + 1
					continue
				}
			}
		case c == '&':
			if j := strings.IndexByte(s[i:min(i+32, len(s))], ';'); j > 0 {
				if e := html.UnescapeString(s[i : i+j+1]); e != s[i:i+j+1] {
					b.WriteString(e)
					i += j + 1
					continue
				}
			}
		}
		b.WriteByte(c)
		i++
	}
	return strings.TrimSpace(b.String()), url
}

// linkDest returns the destination of a link from the text between its
// parentheses, without a title: `url "title"` or `<url>`.
func linkDest(s string) string {
	s = strings.TrimSpace(s)
	if strings.HasPrefix(s, "<") {
		if e := strings.IndexByte(s, '>'); e > 0 {
			return s[1:e]
		}
	}
	if f := strings.Fields(s); len(f) > 0 {
		return f[0]
	}
	return ""
}

func isASCIIPunct(c byte) bool {
	return c >= '!' && c <= '/' || c >= ':' && c <= '@' || c >= '[' && c <= '`' || c >= '{' && c <= '~'
}

// backtickRuns indexes the runs of backticks in s by length.
func backtickRuns(s string) map[int][]int {
	runs := make(map[int][]int)
	for i := 0; i < len(s); {
		if s[i] != '`' {
			i++
			continue
		}
		n := len(s[i:]) - len(strings.TrimLeft(s[i:], "`"))
		runs[n] = append(runs[n], i)
		i += n
	}
	return runs
}

func isBreakTag(inner string) bool {
	switch strings.ToLower(strings.ReplaceAll(inner, " ", "")) {
	case "br", "br/":
		return true
	}
	return false
}

// isAutolink reports whether <inner> is an autolink: a scheme, a colon and
// no spaces, or an e-mail address.
func isAutolink(inner string) bool {
	if inner == "" || strings.ContainsAny(inner, " <>\t\n") {
		return false
	}
	scheme, _, ok := strings.Cut(inner, ":")
	if ok && len(scheme) >= 2 {
		for i := 0; i < len(scheme); i++ {
			c := scheme[i]
			if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '.' || c == '-')) {
				return false
			}
		}
		return true
	}
	return strings.Contains(inner, "@")
}

// stripEmphasis removes emphasis markers around the whole cell: **Bolt**.
func stripEmphasis(s string) string {
	for changed := true; changed; {
		changed = false
		for _, m := range []string{"**", "__", "~~", "*", "_"} {
			if len(s) > 2*len(m) && strings.HasPrefix(s, m) && strings.HasSuffix(s, m) {
				s = strings.TrimSpace(s[len(m) : len(s)-len(m)])
				changed = true
				break
			}
		}
	}
	return s
}

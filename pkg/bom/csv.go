package bom

import (
	"encoding/csv"
	"errors"
	"io"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ParseCSV reads a BOM from delimited text: CSV, or the same with
// semicolons (continental Excel) or tabs (TSV). The delimiter is the one
// of comma, semicolon and tab that occurs most often, outside quotes, in
// the header line (ties: tab, then semicolon, then comma); an Excel
// "sep=;" first line names it outright.
//
// Quoting follows RFC 4180: a quoted field may hold delimiters, doubled
// quotes and line breaks; a quote inside an unquoted field is an error.
// The first row that is not blank is the header. A row may have fewer
// fields than the header (the rest are empty) but not more, unless the
// extra fields are empty.
//
// On malformed input the error is a *ParseError wrapping ErrMalformed; over
// a limit, ErrTooLarge; an error from r is returned wrapped.
func ParseCSV(name string, r io.Reader) (*BOM, error) {
	data, err := readInput(name, r)
	if err != nil {
		return nil, err
	}
	return parseDelimited(name, decodeText(data))
}

func parseDelimited(name, text string) (*BOM, error) {
	delim, sepLine := sniffDelimiter(text)
	cr := csv.NewReader(strings.NewReader(text))
	cr.Comma = delim
	cr.FieldsPerRecord = -1
	// With a tab delimiter, trimming leading space would swallow empty
	// fields, since a tab is space.
	cr.TrimLeadingSpace = delim != '\t'
	b := &builder{file: name}
	haveHeader := false
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, b.csvError(text, delim, cr.TrimLeadingSpace, err)
		}
		r := &row{cells: rec, cellLines: make([]int, len(rec))}
		for i := range rec {
			r.cellLines[i], _ = cr.FieldPos(i)
		}
		r.line = r.cellLines[0]
		switch {
		case r.line == sepLine:
			continue
		case !haveHeader:
			if isBlank(rec) {
				continue
			}
			if err := b.header(r); err != nil {
				return nil, err
			}
			haveHeader = true
		default:
			if err := b.add(r); err != nil {
				return nil, err
			}
		}
	}
	if !haveHeader {
		return nil, b.errorf(1, 0, "", nil, "no header row")
	}
	return b.result(), nil
}

func isBlank(cells []string) bool {
	for _, c := range cells {
		if strings.TrimSpace(c) != "" {
			return false
		}
	}
	return true
}

// sniffDelimiter picks the delimiter from the first line that is not
// blank. sepLine is the number of that line when it is an Excel "sep=X"
// line, which is not part of the table; otherwise 0.
func sniffDelimiter(text string) (delim rune, sepLine int) {
	lineNo := 0
	for len(text) > 0 {
		lineNo++
		raw, rest, _ := strings.Cut(text, "\n")
		text = rest
		line := strings.TrimSpace(raw)
		if line == "" {
			continue
		}
		raw = strings.TrimSuffix(raw, "\r")
		if v, ok := strings.CutPrefix(strings.ToLower(raw), "sep="); ok && len(v) == 1 && strings.ContainsAny(v, ",;\t|") {
			return rune(v[0]), lineNo
		}
		counts := map[rune]int{}
		inQuotes := false
		for _, r := range line {
			switch {
			case r == '"':
				inQuotes = !inQuotes
			case !inQuotes && (r == ',' || r == ';' || r == '\t'):
				counts[r]++
			}
		}
		best := rune(0)
		for _, d := range []rune{'\t', ';', ','} {
			if counts[d] > counts[best] {
				best = d
			}
		}
		if best == 0 {
			best = ','
		}
		return best, 0
	}
	return ',', 0
}

// csvError turns an error from encoding/csv into a ParseError whose
// Column is the field number, not the byte offset csv reports.
func (b *builder) csvError(text string, delim rune, trim bool, err error) error {
	var pe *csv.ParseError
	if !errors.As(err, &pe) {
		return b.errorf(1, 0, "", err, "%v", err)
	}
	msg := pe.Err.Error()
	switch {
	case errors.Is(pe.Err, csv.ErrBareQuote):
		msg = `bare " in unquoted field (quote the whole field and double each " inside it)`
	case errors.Is(pe.Err, csv.ErrQuote):
		msg = `extraneous or missing " in quoted field`
	}
	col, open := fieldAt(text, delim, trim, pe.StartLine, pe.Line, pe.Column)
	line := pe.Line
	if errors.Is(pe.Err, csv.ErrQuote) && open >= 0 && atEnd(text, pe.Line, pe.Column) {
		// The reader hit the end of the input inside a quoted field: point
		// at the quote that opened it, not at the end of the file.
		line, _ = slices.BinarySearch(lineStarts(text), open+1)
		msg = `" opens a quoted field that is never closed`
	}
	return b.errorf(line, col, "", pe.Err, "%s", msg)
}

// atEnd reports whether line and byte column col (1-based) are at the end
// of text, ignoring a final line break.
func atEnd(text string, line, col int) bool {
	starts := lineStarts(text)
	if line < 1 || line > len(starts) {
		return true
	}
	return starts[line-1]+col-1 >= len(strings.TrimRight(text, "\r\n"))
}

// fieldAt returns the 1-based number of the field that contains byte
// column col (1-based) of line, for a record starting on startLine, and
// the offset of the quote that opened that field if the position is inside
// quotes (else -1).
func fieldAt(text string, delim rune, trim bool, startLine, line, col int) (field, open int) {
	starts := lineStarts(text)
	if startLine < 1 || startLine > len(starts) || line < startLine || line > len(starts) {
		return 0, -1
	}
	from := starts[startLine-1]
	to := min(starts[line-1]+max(col-1, 0), len(text))
	field, open = 1, -1
	inQuotes, atStart := false, true
	for i := from; i < to; {
		r, n := utf8.DecodeRuneInString(text[i:])
		switch {
		case inQuotes:
			if r == '"' {
				if i+1 < len(text) && text[i+1] == '"' {
					n++
				} else {
					inQuotes = false
				}
			}
		case r == delim:
			field++
			atStart = true
		case atStart && r == '"':
			inQuotes, atStart, open = true, false, i
		case atStart && trim && unicode.IsSpace(r):
		default:
			atStart = false
		}
		i += n
	}
	if !inQuotes {
		open = -1
	}
	return field, open
}

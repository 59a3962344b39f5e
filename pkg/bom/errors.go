package bom

import (
	"errors"
	"fmt"
	"strconv"
)

// Sentinel errors. Every error from Parse, ParseCSV and ParseMarkdown wraps
// exactly one of them, apart from errors reading the io.Reader.
var (
	// ErrMalformed means the input is not a bill of materials this package
	// can read: no table, no part column, a cell that is not what its column
	// requires, broken CSV quoting. The error is a *ParseError saying where.
	ErrMalformed = errors.New("malformed bill of materials")

	// ErrTooLarge means the input exceeds one of the limits MaxSize,
	// MaxLines, MaxColumns, MaxCellSize or MaxExtraCells. When the limit is
	// crossed at a known place the error is a *ParseError.
	ErrTooLarge = errors.New("bill of materials too large")
)

// Limits on what Parse accepts. Bundles come from peers, so a BOM must not
// be able to make a node use unbounded memory or time.
const (
	// MaxSize is the largest input, in bytes.
	MaxSize = 8 << 20
	// MaxLines is the largest number of BOM lines (table rows that are not
	// blank and not a summary row).
	MaxLines = 100000
	// MaxColumns is the largest number of columns in the header, and of
	// fields in any row.
	MaxColumns = 256
	// MaxCellSize is the largest cell, in bytes.
	MaxCellSize = 64 << 10
	// MaxExtraCells is the largest number of non-empty cells in unknown
	// columns, kept in Line.Extra, over the whole BOM. Each costs a map
	// entry, so without this bound 8 MiB of one-letter cells would take
	// hundreds of MiB.
	MaxExtraCells = 500000
)

// ParseError says where and why a BOM could not be read. It wraps
// ErrMalformed, or ErrTooLarge when a limit was crossed, and the underlying
// cause if there is one (ErrSyntax, ErrRange, ErrPrecision for a number), so
// test it with errors.Is and find the place with errors.As.
type ParseError struct {
	// File is the name given to Parse, ParseCSV or ParseMarkdown.
	File string
	// Line is the 1-based line of the input where the problem is.
	Line int
	// Column is the 1-based field (CSV) or cell (Markdown) number, or 0 when
	// the problem concerns a whole row or the whole file.
	Column int
	// Field is the BOM field of that column (FieldQuantity and so on), or ""
	// when the problem is not about one field's value.
	Field string
	// Msg says what is wrong, e.g. `unit cost "abc" is not a number`.
	Msg string
	// Err is the cause: nil, ErrTooLarge, or an error such as ErrSyntax.
	Err error
}

// Error returns "file:line:column: msg", leaving out the column when it is 0
// and the file when it has no name, like a compiler.
func (e *ParseError) Error() string {
	s := strconv.Itoa(e.Line)
	if e.Column > 0 {
		s += ":" + strconv.Itoa(e.Column)
	}
	if e.File != "" {
		s = e.File + ":" + s
	}
	return s + ": " + e.Msg
}

// Unwrap returns ErrMalformed and the cause, or only ErrTooLarge when the
// cause is a crossed limit: a large input is not a malformed one.
func (e *ParseError) Unwrap() []error {
	switch {
	case e.Err == nil:
		return []error{ErrMalformed}
	case errors.Is(e.Err, ErrTooLarge):
		return []error{e.Err}
	}
	return []error{ErrMalformed, e.Err}
}

// tooLarge is the error for an input over MaxSize.
func tooLarge(name string) error {
	return fmt.Errorf("bom: parse %s: input is larger than %d bytes: %w", name, MaxSize, ErrTooLarge)
}

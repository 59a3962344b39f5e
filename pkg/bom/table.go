package bom

import (
	"cmp"
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// builder turns the rows of a table, whatever its syntax, into a BOM. CSV
// and Markdown differ only in how they find rows and split cells.
type builder struct {
	file string
	bom  BOM

	ncols   int
	col     map[string]int // field -> column index
	costCur string         // currency named in the unit cost header
	extras  []extraColumn
	nextra  int                // non-empty cells kept in Extra so far
	totals  map[string]Decimal // running totals, to refuse overflow early
}

type extraColumn struct {
	index int
	key   string
}

// row is one table row as the syntax-specific reader found it.
type row struct {
	// line is the 1-based line where the row starts.
	line int
	// cells are the cell texts, untrimmed.
	cells []string
	// urls holds, for Markdown, the first link target in each cell (or "");
	// nil for CSV.
	urls []string
	// cellLines holds the line where each cell starts, when a row may span
	// lines (CSV); nil means every cell is on line.
	cellLines []int
}

func (r *row) lineOf(i int) int {
	if i < len(r.cellLines) {
		return r.cellLines[i]
	}
	return r.line
}

func (b *builder) errorf(line, col int, field string, cause error, format string, args ...any) *ParseError {
	return &ParseError{File: b.file, Line: line, Column: col, Field: field, Msg: fmt.Sprintf(format, args...), Err: cause}
}

// checkCells refuses cells over MaxCellSize.
func (b *builder) checkCells(r *row) error {
	for i, c := range r.cells {
		if len(c) > MaxCellSize {
			return b.errorf(r.lineOf(i), i+1, "", ErrTooLarge, "cell is larger than %d bytes", MaxCellSize)
		}
	}
	return nil
}

// header reads the header row and decides which column holds which field.
func (b *builder) header(r *row) error {
	if len(r.cells) > MaxColumns {
		return b.errorf(r.line, MaxColumns+1, "", ErrTooLarge, "header has more than %d columns", MaxColumns)
	}
	if err := b.checkCells(r); err != nil {
		return err
	}
	b.ncols = len(r.cells)
	b.col = make(map[string]int)
	b.bom.Columns = make(map[string]string)
	names := make([]string, len(r.cells))
	ranks := make(map[string]int)
	curs := make(map[string]string)
	for i, c := range r.cells {
		names[i] = strings.TrimSpace(c)
		f, rank, cur := classifyHeader(names[i])
		if f == "" {
			continue
		}
		if _, dup := b.col[f]; dup && ranks[f] <= rank {
			continue
		}
		b.col[f], ranks[f], curs[f] = i, rank, cur
	}
	if _, ok := b.col[FieldPart]; !ok {
		pn, ok := b.col[FieldPartNumber]
		if !ok {
			return b.errorf(r.line, 0, FieldPart, nil,
				"header has no part column (name one part, name, description, item or part number)")
		}
		b.col[FieldPart] = pn
	}
	b.costCur = curs[FieldUnitCost]
	used := make(map[int]bool)
	for f, i := range b.col {
		b.bom.Columns[f] = names[i]
		used[i] = true
	}
	keys := make(map[string]bool)
	for i, name := range names {
		if used[i] {
			continue
		}
		base := name
		if base == "" {
			base = "column " + strconv.Itoa(i+1)
		}
		key := base
		for n := 2; keys[key]; n++ {
			key = fmt.Sprintf("%s (%d)", base, n)
		}
		keys[key] = true
		b.extras = append(b.extras, extraColumn{i, key})
	}
	return nil
}

// cell returns the trimmed text of field's column in r, its column index
// (-1 when the BOM has no such column) and its link target.
func (b *builder) cell(r *row, field string) (text string, index int, url string) {
	i, ok := b.col[field]
	if !ok {
		return "", -1, ""
	}
	if i < len(r.cells) {
		text = strings.TrimSpace(r.cells[i])
	}
	if i < len(r.urls) {
		url = r.urls[i]
	}
	return text, i, url
}

// isSummaryWord reports whether a cell reads like the label of a total
// row: "Total", "Subtotal:", "Sum".
func isSummaryWord(s string) bool {
	if len(s) > 32 {
		return false
	}
	f, _ := lookupHeader(normHeader(s))
	return f == FieldTotal
}

// isSummary reports whether r is a total row a spreadsheet added at the
// bottom ("Total, , , 512.40"): its quantity is empty and its part cell is
// either a total label or empty while another cell is one.
func (b *builder) isSummary(r *row) bool {
	if q, _, _ := b.cell(r, FieldQuantity); q != "" {
		return false
	}
	part, pi, _ := b.cell(r, FieldPart)
	if part != "" {
		return isSummaryWord(part)
	}
	for i, c := range r.cells {
		if i != pi && isSummaryWord(c) {
			return true
		}
	}
	return false
}

// numberError turns an error from parseDecimal into a ParseError message.
func (b *builder) numberError(r *row, i int, field, text string, err error) error {
	what := "is not a number"
	switch {
	case errors.Is(err, ErrRange):
		what = "is too large"
	case errors.Is(err, ErrPrecision):
		what = "has more than 4 decimal places"
	}
	return b.errorf(r.lineOf(i), i+1, field, err, "%s %q %s", fieldLabel(field), text, what)
}

// add reads one data row into a Line.
func (b *builder) add(r *row) error {
	if len(r.cells) > MaxColumns {
		return b.errorf(r.line, MaxColumns+1, "", ErrTooLarge, "row has more than %d fields", MaxColumns)
	}
	if err := b.checkCells(r); err != nil {
		return err
	}
	blank := true
	for _, c := range r.cells {
		if strings.TrimSpace(c) != "" {
			blank = false
			break
		}
	}
	if blank {
		return nil
	}
	for i := b.ncols; i < len(r.cells); i++ {
		if strings.TrimSpace(r.cells[i]) != "" {
			n := len(r.cells)
			for n > 0 && strings.TrimSpace(r.cells[n-1]) == "" {
				n--
			}
			return b.errorf(r.lineOf(i), i+1, "", nil, "row has %d fields but the header has %d", n, b.ncols)
		}
	}
	if b.isSummary(r) {
		return nil
	}
	if len(b.bom.Lines) >= MaxLines {
		return b.errorf(r.line, 0, "", ErrTooLarge, "more than %d lines", MaxLines)
	}

	l := Line{Row: r.line, Quantity: DecimalFromInt(1)}
	var pi int
	l.Part, pi, _ = b.cell(r, FieldPart)
	if pn, pni, _ := b.cell(r, FieldPartNumber); pni >= 0 {
		l.PartNumber = pn
		if l.Part == "" {
			l.Part = pn
		}
	}
	if l.Part == "" {
		return b.errorf(r.lineOf(pi), pi+1, FieldPart, nil, "part is empty")
	}
	l.Manufacturer, _, _ = b.cell(r, FieldManufacturer)

	var qtyUnit string
	if text, i, _ := b.cell(r, FieldQuantity); i >= 0 {
		q, u, err := parseQuantity(text)
		if err != nil {
			return b.numberError(r, i, FieldQuantity, text, err)
		}
		if q.Sign() < 0 {
			return b.errorf(r.lineOf(i), i+1, FieldQuantity, nil, "quantity %q is negative", text)
		}
		l.Quantity, qtyUnit = q, u
	}
	l.Unit, _, _ = b.cell(r, FieldUnit)
	if l.Unit == "" {
		l.Unit = qtyUnit
	}

	costText, ci, _ := b.cell(r, FieldUnitCost)
	var costCur string
	if ci >= 0 {
		v, cur, has, err := parseCost(costText)
		if err != nil {
			return b.numberError(r, ci, FieldUnitCost, costText, err)
		}
		if v.Sign() < 0 {
			return b.errorf(r.lineOf(ci), ci+1, FieldUnitCost, nil, "unit cost %q is negative", costText)
		}
		l.UnitCost, l.HasCost, costCur = v, has, cur
	}
	colCur := ""
	if text, i, _ := b.cell(r, FieldCurrency); i >= 0 && !isPlaceholder(text) {
		c, ok := currencyToken(text)
		if !ok {
			return b.errorf(r.lineOf(i), i+1, FieldCurrency, nil, "currency %q is not a currency symbol or ISO 4217 code", text)
		}
		colCur = c
		if b.costCur != "" && c != b.costCur {
			return b.errorf(r.lineOf(i), i+1, FieldCurrency, nil, "currency %q conflicts with %s in the unit cost header", text, b.costCur)
		}
	}
	switch {
	case costCur != "" && colCur != "" && costCur != colCur:
		return b.errorf(r.lineOf(ci), ci+1, FieldUnitCost, nil, "unit cost %q is in %s but the currency column says %s", costText, costCur, colCur)
	case costCur != "" && b.costCur != "" && costCur != b.costCur:
		return b.errorf(r.lineOf(ci), ci+1, FieldUnitCost, nil, "unit cost %q is in %s but the column header says %s", costText, costCur, b.costCur)
	}
	l.Currency = cmp.Or(costCur, colCur, b.costCur)

	if l.HasCost {
		cost, ok := l.Quantity.mul(l.UnitCost)
		if !ok {
			return b.errorf(r.lineOf(ci), ci+1, FieldUnitCost, ErrRange, "cost of %s × %s is too large", l.Quantity, l.UnitCost)
		}
		if b.totals == nil {
			b.totals = make(map[string]Decimal)
		}
		sum, ok := b.totals[l.Currency].add(cost)
		if !ok {
			return b.errorf(r.lineOf(ci), ci+1, FieldUnitCost, ErrRange, "total cost is too large")
		}
		b.totals[l.Currency] = sum
	}

	l.Supplier, _, _ = b.cell(r, FieldSupplier)
	l.Notes, _, _ = b.cell(r, FieldNotes)
	if text, _, url := b.cell(r, FieldLink); url != "" {
		l.Link = url
	} else {
		l.Link = text
	}
	if l.Link == "" {
		// A Markdown BOM often links the part or the supplier instead.
		_, _, partURL := b.cell(r, FieldPart)
		_, _, supURL := b.cell(r, FieldSupplier)
		l.Link = cmp.Or(partURL, supURL)
	}

	for _, x := range b.extras {
		if x.index >= len(r.cells) {
			continue
		}
		if v := strings.TrimSpace(r.cells[x.index]); v != "" {
			if b.nextra++; b.nextra > MaxExtraCells {
				return b.errorf(r.lineOf(x.index), x.index+1, "", ErrTooLarge,
					"more than %d cells in unknown columns", MaxExtraCells)
			}
			if l.Extra == nil {
				l.Extra = make(map[string]string)
			}
			l.Extra[x.key] = v
		}
	}
	b.bom.Lines = append(b.bom.Lines, l)
	return nil
}

// result returns the BOM built so far.
func (b *builder) result() *BOM {
	bom := b.bom
	return &bom
}

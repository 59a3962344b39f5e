package bom

import (
	"slices"
	"strings"
)

// Line is one row of a bill of materials.
type Line struct {
	// Row is the 1-based line of the file where the row starts.
	Row int
	// Part names the part. It is never empty: when the row gives only a part
	// number, Part is the part number.
	Part string
	// PartNumber is the part, article or catalogue number, if given.
	PartNumber string
	// Manufacturer is the maker of the part, if given; the supplier is
	// where to buy it.
	Manufacturer string
	// Quantity is how many are needed, never negative. It is 1 when the
	// BOM has no quantity column or the cell is empty.
	Quantity Decimal
	// Unit is the unit of Quantity ("pcs", "m", "kg"), if given.
	Unit string
	// UnitCost is the cost of one Unit; it means something only when
	// HasCost is true. It is never negative.
	UnitCost Decimal
	// HasCost is false when the row gives no unit cost.
	HasCost bool
	// Currency is the ISO 4217 code of UnitCost, or "" when the BOM does
	// not say. It may be set on a line without a cost when the currency
	// column or header names one.
	Currency string
	// Supplier is where to buy the part.
	Supplier string
	// Link is a URL for the part, as written (not validated).
	Link string
	// Notes is free text.
	Notes string
	// Extra holds the non-empty cells of columns this package does not
	// know, keyed by their header as written; nil when there are none.
	Extra map[string]string
}

// Cost returns Quantity × UnitCost, or 0 when the line has no cost. For a
// line from Parse it is exact to 4 decimal places and cannot overflow.
func (l Line) Cost() Decimal {
	if !l.HasCost {
		return Decimal{}
	}
	return l.Quantity.Mul(l.UnitCost)
}

// BOM is a parsed bill of materials.
type BOM struct {
	// Lines are the rows in file order, without blank and summary rows.
	Lines []Line
	// Columns maps each field found in the header (FieldPart, ...) to the
	// header as written. When the part comes from a part number column,
	// FieldPart and FieldPartNumber name the same header.
	Columns map[string]string
}

// Total is the cost of a BOM in one currency.
type Total struct {
	// Currency is an ISO 4217 code, or "" for lines that name none.
	Currency string
	// Amount is the sum of Line.Cost over the lines with a cost.
	Amount Decimal
	// Lines is the number of lines counted under this currency.
	Lines int
	// Missing is how many of those lines have no cost, so that Amount is
	// known to be incomplete.
	Missing int
}

// Totals returns the cost of b per currency, sorted by currency, with ""
// first; nil for a BOM with no lines. A line without a cost and without a
// currency counts (as Missing) under the BOM's only currency when there is
// exactly one, so that a EUR BOM with a few unpriced lines has one total,
// and under "" otherwise.
func (b *BOM) Totals() []Total {
	if b == nil || len(b.Lines) == 0 {
		return nil
	}
	only, single := "", true
	seen := false
	for _, l := range b.Lines {
		if !l.HasCost && l.Currency == "" {
			continue
		}
		if seen && l.Currency != only {
			single = false
			break
		}
		only, seen = l.Currency, true
	}
	byCur := make(map[string]*Total)
	for _, l := range b.Lines {
		cur := l.Currency
		if !l.HasCost && cur == "" && seen && single {
			cur = only
		}
		t := byCur[cur]
		if t == nil {
			t = &Total{Currency: cur}
			byCur[cur] = t
		}
		t.Lines++
		if l.HasCost {
			t.Amount = t.Amount.Add(l.Cost())
		} else {
			t.Missing++
		}
	}
	out := make([]Total, 0, len(byCur))
	for _, t := range byCur {
		out = append(out, *t)
	}
	slices.SortFunc(out, func(a, b Total) int { return strings.Compare(a.Currency, b.Currency) })
	return out
}

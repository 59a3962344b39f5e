package bom

import (
	"strings"
	"unicode"
)

// Change is a line present in both BOMs whose fields differ.
type Change struct {
	// Key is the identity both lines share (see Line.Key).
	Key string
	// Old and New are the line in the old and the new BOM.
	Old, New Line
	// Fields names each field that differs, in this order: FieldQuantity,
	// FieldUnit, FieldUnitCost, FieldCurrency, FieldSupplier, FieldLink,
	// FieldNotes, FieldPartNumber, FieldManufacturer, FieldPart. A unit cost
	// differs when either line has one and the other has none or another
	// value. Row and Extra are not compared.
	Fields []string
}

// Diff is what changed from one BOM to another.
type Diff struct {
	// Added are lines of the new BOM with no counterpart in the old, in
	// new-BOM order; Removed, lines of the old BOM with none in the new, in
	// old-BOM order.
	Added, Removed []Line
	// Changed are the matched lines that differ, in new-BOM order.
	Changed []Change
	// Before and After are the totals of the old and the new BOM.
	Before, After []Total
}

// Key returns the identity of l used by Compare: its part number if it has
// one, else its part, case-folded with runs of white space made one space.
// So renaming a part that has a part number is a change, while renaming
// one without is a removal and an addition.
func (l Line) Key() string {
	s := l.PartNumber
	if strings.TrimSpace(s) == "" {
		s = l.Part
	}
	s = strings.Join(strings.Fields(s), " ")
	return strings.Map(func(r rune) rune { return unicode.ToLower(unicode.ToUpper(r)) }, s)
}

// Compare returns how after differs from before. Lines are matched by Key;
// when a key occurs more than once, its occurrences are matched in order
// (the second with the second) and the surplus is added or removed. A nil
// BOM is an empty one.
func Compare(before, after *BOM) Diff {
	var old, cur []Line
	if before != nil {
		old = before.Lines
	}
	if after != nil {
		cur = after.Lines
	}
	d := Diff{Before: before.Totals(), After: after.Totals()}
	pending := make(map[string][]int) // key -> unmatched old lines, in order
	for i, l := range old {
		k := l.Key()
		pending[k] = append(pending[k], i)
	}
	matched := make([]bool, len(old))
	for _, n := range cur {
		k := n.Key()
		q := pending[k]
		if len(q) == 0 {
			d.Added = append(d.Added, n)
			continue
		}
		pending[k] = q[1:]
		matched[q[0]] = true
		o := old[q[0]]
		if f := changedFields(o, n); len(f) > 0 {
			d.Changed = append(d.Changed, Change{Key: k, Old: o, New: n, Fields: f})
		}
	}
	for i, l := range old {
		if !matched[i] {
			d.Removed = append(d.Removed, l)
		}
	}
	return d
}

// changedFields lists the fields that differ between o and n.
func changedFields(o, n Line) []string {
	var f []string
	add := func(field string, differs bool) {
		if differs {
			f = append(f, field)
		}
	}
	add(FieldQuantity, o.Quantity != n.Quantity)
	add(FieldUnit, o.Unit != n.Unit)
	add(FieldUnitCost, o.HasCost != n.HasCost || o.HasCost && o.UnitCost != n.UnitCost)
	add(FieldCurrency, o.Currency != n.Currency)
	add(FieldSupplier, o.Supplier != n.Supplier)
	add(FieldLink, o.Link != n.Link)
	add(FieldNotes, o.Notes != n.Notes)
	add(FieldPartNumber, o.PartNumber != n.PartNumber)
	add(FieldManufacturer, o.Manufacturer != n.Manufacturer)
	add(FieldPart, o.Part != n.Part)
	return f
}

// Empty reports whether the two BOMs have the same lines: nothing added,
// removed or changed. Moving rows around leaves a Diff empty.
func (d Diff) Empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0
}

package bom

import (
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxNameWidth caps the width of the part column in Diff.Format, so that
// one long name does not push every line to the right.
const maxNameWidth = 40

// maxValueWidth caps quoted values (notes, links) in Diff.Format.
const maxValueWidth = 40

// Format writes d as a plain text report for people, one line per added
// (+), removed (-) and changed (~) part, then the totals per currency:
//
//	BOM: 1 part added, 1 removed, 2 changed
//	  + Hex bolt M10x60     qty 8  @ 0.35 EUR  supplier Würth
//	  - Hex bolt M10x50     qty 8  @ 0.32 EUR
//	  ~ Steel tube 40x40x3  qty 4 -> 6
//	  ~ Hydraulic cylinder  unit cost 120 -> 135 EUR, supplier "A" -> "B"
//	  total: 512.40 EUR -> 598.20 EUR (+85.80 EUR)
//
// Columns are aligned by character count; there are no colour codes. A
// total line is written for each currency in which either BOM has a cost.
// The only error is one from w, wrapped.
func (d Diff) Format(w io.Writer) error {
	var b strings.Builder
	if d.Empty() {
		b.WriteString("BOM: no changes\n")
	} else {
		fmt.Fprintf(&b, "BOM: %d %s added, %d removed, %d changed\n",
			len(d.Added), plural(len(d.Added), "part", "parts"), len(d.Removed), len(d.Changed))
	}

	// A part is named by its part name; the part number is added only when
	// two lines of the report would otherwise read the same.
	named := slices.Concat(d.Added, d.Removed)
	for _, c := range d.Changed {
		named = append(named, c.New)
	}
	seen := make(map[string]int)
	for _, l := range named {
		seen[clean(l.Part)]++
	}
	displayName := func(l Line) string {
		name := clean(l.Part)
		if pn := clean(l.PartNumber); seen[name] > 1 && pn != "" && pn != name {
			name += " (" + pn + ")"
		}
		return name
	}
	nameW := 0
	for _, l := range named {
		nameW = max(nameW, width(displayName(l)))
	}
	nameW = min(nameW, maxNameWidth)

	type listed struct {
		mark          string
		name, qty, at string
		supplier      string
	}
	var rows []listed
	qtyW, atW := 0, 0
	for _, group := range []struct {
		mark  string
		lines []Line
	}{{"+", d.Added}, {"-", d.Removed}} {
		for _, l := range group.lines {
			r := listed{mark: group.mark, name: displayName(l), qty: "qty " + withUnit(l.Quantity.String(), l.Unit)}
			if l.HasCost {
				r.at = "@ " + money(l.UnitCost.String(), l.Currency)
			}
			if s := clean(l.Supplier); s != "" {
				r.supplier = "supplier " + s
			}
			qtyW, atW = max(qtyW, width(r.qty)), max(atW, width(r.at))
			rows = append(rows, r)
		}
	}
	for _, r := range rows {
		line := "  " + r.mark + " " + pad(r.name, nameW) + "  " + pad(r.qty, qtyW) + "  " + pad(r.at, atW) + "  " + r.supplier
		b.WriteString(strings.TrimRight(line, " ") + "\n")
	}
	for _, c := range d.Changed {
		b.WriteString("  ~ " + pad(displayName(c.New), nameW) + "  " + strings.Join(describe(c), ", ") + "\n")
	}
	writeTotals(&b, d.Before, d.After)

	if _, err := io.WriteString(w, b.String()); err != nil {
		return fmt.Errorf("bom: write diff: %w", err)
	}
	return nil
}

// describe says in words how each changed field of c changed.
func describe(c Change) []string {
	o, n := c.Old, c.New
	var out []string
	costShown := false
	for _, f := range c.Fields {
		switch f {
		case FieldQuantity:
			out = append(out, "qty "+o.Quantity.String()+" -> "+n.Quantity.String())
		case FieldUnitCost, FieldCurrency:
			if costShown {
				continue
			}
			if f == FieldCurrency && !o.HasCost && !n.HasCost {
				out = append(out, quoted("currency", o.Currency, n.Currency))
				continue
			}
			costShown = true
			ov, nv := "none", "none"
			if o.HasCost {
				ov = o.UnitCost.String()
			}
			if n.HasCost {
				nv = n.UnitCost.String()
			}
			switch {
			case o.Currency == n.Currency && n.HasCost:
				out = append(out, "unit cost "+ov+" -> "+money(nv, n.Currency))
			case o.Currency == n.Currency:
				out = append(out, "unit cost "+money(ov, o.Currency)+" -> "+nv)
			default:
				if o.HasCost {
					ov = money(ov, o.Currency)
				}
				if n.HasCost {
					nv = money(nv, n.Currency)
				}
				out = append(out, "unit cost "+ov+" -> "+nv)
			}
		case FieldUnit:
			out = append(out, quoted("unit", o.Unit, n.Unit))
		case FieldSupplier:
			out = append(out, quoted("supplier", o.Supplier, n.Supplier))
		case FieldLink:
			out = append(out, quoted("link", o.Link, n.Link))
		case FieldNotes:
			out = append(out, quoted("notes", o.Notes, n.Notes))
		case FieldPartNumber:
			out = append(out, quoted("part number", o.PartNumber, n.PartNumber))
		case FieldManufacturer:
			out = append(out, quoted("manufacturer", o.Manufacturer, n.Manufacturer))
		case FieldPart:
			out = append(out, quoted("part", o.Part, n.Part))
		}
	}
	return out
}

// writeTotals writes one total line per currency in which either side has
// a cost.
func writeTotals(b *strings.Builder, before, after []Total) {
	find := func(ts []Total, cur string) (Total, bool) {
		for _, t := range ts {
			if t.Currency == cur {
				return t, true
			}
		}
		return Total{Currency: cur}, false
	}
	var curs []string
	for _, t := range slices.Concat(before, after) {
		if t.Lines > t.Missing && !slices.Contains(curs, t.Currency) {
			curs = append(curs, t.Currency)
		}
	}
	slices.Sort(curs)
	for _, cur := range curs {
		o, _ := find(before, cur)
		n, _ := find(after, cur)
		label := "total"
		if cur == "" {
			label = "total (no currency)"
		}
		if o.Amount == n.Amount {
			fmt.Fprintf(b, "  %s: %s (unchanged)", label, money(n.Amount.Fixed(2), cur))
		} else {
			delta := n.Amount.Sub(o.Amount)
			sign := ""
			if delta.Sign() > 0 {
				sign = "+"
			}
			fmt.Fprintf(b, "  %s: %s -> %s (%s%s)", label, money(o.Amount.Fixed(2), cur),
				money(n.Amount.Fixed(2), cur), sign, money(delta.Fixed(2), cur))
		}
		if n.Missing > 0 {
			fmt.Fprintf(b, "; %d %s without a cost", n.Missing, plural(n.Missing, "line", "lines"))
		}
		b.WriteString("\n")
	}
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func money(amount, cur string) string { return withUnit(amount, cur) }

func withUnit(v, unit string) string {
	if unit = clean(unit); unit != "" {
		return v + " " + unit
	}
	return v
}

// clean makes text fit on one line of a report: control characters and
// line breaks become spaces, runs of space one space.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsPrint(r) {
			return r
		}
		return ' '
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// quoted describes the change of a text field: supplier "A" -> "B". Long
// values are cut to maxValueWidth characters, starting shortly before
// where they first differ, so that the change stays visible.
func quoted(label, o, n string) string {
	ro, rn := []rune(o), []rune(n)
	common := 0
	for common < len(ro) && common < len(rn) && ro[common] == rn[common] {
		common++
	}
	start := 0
	if common > maxValueWidth/2 {
		start = common - maxValueWidth/4
	}
	return label + " " + excerpt(ro, start) + " -> " + excerpt(rn, start)
}

// excerpt quotes up to maxValueWidth runes of r from start, marking cuts
// with an ellipsis.
func excerpt(r []rune, start int) string {
	s := ""
	if start > 0 {
		s = "…"
		r = r[min(start, len(r)):]
	}
	if len(r) > maxValueWidth {
		r = append(r[:maxValueWidth-1:maxValueWidth-1], '…')
	}
	return strconv.Quote(s + string(r))
}

func width(s string) int { return utf8.RuneCountInString(s) }

func pad(s string, w int) string {
	if n := width(s); n < w {
		return s + strings.Repeat(" ", w-n)
	}
	return s
}

package bom

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// change is the part of a Change most tests look at.
type change struct {
	Key    string
	Fields []string
}

func TestCompare(t *testing.T) {
	const header = "Part,Part number,Qty,Unit,Unit cost,Currency,Supplier,Link,Notes\n"
	tests := []struct {
		name     string
		old, new string // rows after header
		added    []string
		removed  []string
		changed  []change
	}{
		{
			name: "identical",
			old:  "Bolt,,8,pcs,0.35,EUR,Würth,,\nNut,,8,pcs,0.08,EUR,Würth,,\n",
			new:  "Bolt,,8,pcs,0.35,EUR,Würth,,\nNut,,8,pcs,0.08,EUR,Würth,,\n",
		},
		{
			name: "reordered rows are no change",
			old:  "Bolt,,8,pcs,0.35,EUR,Würth,,\nNut,,8,pcs,0.08,EUR,Würth,,\n",
			new:  "Nut,,8,pcs,0.08,EUR,Würth,,\n\n\nBolt,,8,pcs,0.35,EUR,Würth,,\n",
		},
		{
			name:    "added and removed",
			old:     "Bolt M10x50,,8,,0.32,EUR,,,\nNut,,8,,,,,,\n",
			new:     "Nut,,8,,,,,,\nBolt M10x60,,8,,0.35,EUR,,,\nWasher,,16,,,,,,\n",
			added:   []string{"Bolt M10x60", "Washer"},
			removed: []string{"Bolt M10x50"},
		},
		{
			name: "changed quantity, cost, supplier",
			old:  "Tube,,4,m,20,EUR,A,,\nCylinder,,1,pcs,120,EUR,A,,\nBolt,,8,pcs,0.35,EUR,Würth,,\n",
			new:  "Tube,,6,m,20,EUR,A,,\nCylinder,,1,pcs,135,EUR,B,,\nBolt,,8,pcs,0.35,EUR,Würth,,\n",
			changed: []change{
				{"tube", []string{FieldQuantity}},
				{"cylinder", []string{FieldUnitCost, FieldSupplier}},
			},
		},
		{
			name: "every field",
			old:  "Bolt,B1,8,pcs,0.35,EUR,Würth,http://a,old\n",
			new:  "bolt,b1,9,box,0.36,USD,Hilti,http://b,new\n",
			changed: []change{{"b1", []string{FieldQuantity, FieldUnit, FieldUnitCost, FieldCurrency, FieldSupplier,
				FieldLink, FieldNotes, FieldPartNumber, FieldPart}}},
		},
		{
			name:    "cost appears and disappears",
			old:     "Motor,,1,,,,,,\nPaint,,2,,9.90,EUR,,,\nGauge,,1,,0,EUR,,,\n",
			new:     "Motor,,1,,180,,,,\nPaint,,2,,,EUR,,,\nGauge,,1,,,EUR,,,\n",
			changed: []change{{"motor", []string{FieldUnitCost}}, {"paint", []string{FieldUnitCost}}, {"gauge", []string{FieldUnitCost}}},
		},
		{
			name:    "currency alone",
			old:     "Bolt,,8,,0.35,EUR,,,\n",
			new:     "Bolt,,8,,0.35,USD,,,\n",
			changed: []change{{"bolt", []string{FieldCurrency}}},
		},
		{
			name:    "key ignores case and spacing",
			old:     "Steel  tube 40x40,,4,,,,,,\n",
			new:     "steel tube\t40x40 ,,4,,,,,,\n",
			changed: []change{{"steel tube 40x40", []string{FieldPart}}},
		},
		{
			name:    "key via part number: renamed part is a change",
			old:     "Hex bolt M10x60,DIN933-M10x60,8,,,,,,\n",
			new:     "Bolt M10 x 60 hex,DIN933-M10x60,8,,,,,,\n",
			changed: []change{{"din933-m10x60", []string{FieldPart}}},
		},
		{
			name:    "changed part number is a new part",
			old:     "Hex bolt,DIN933-M10x60,8,,,,,,\n",
			new:     "Hex bolt,DIN933-M10x70,8,,,,,,\n",
			added:   []string{"Hex bolt"},
			removed: []string{"Hex bolt"},
		},
		{
			name:    "part number added is a new key",
			old:     "Hex bolt,,8,,,,,,\n",
			new:     "Hex bolt,DIN933,8,,,,,,\n",
			added:   []string{"Hex bolt"},
			removed: []string{"Hex bolt"},
		},
		{
			name:    "duplicates matched in order",
			old:     "Bolt,,2,,,,,,frame\nBolt,,4,,,,,,press\n",
			new:     "Bolt,,2,,,,,,frame\nBolt,,5,,,,,,press\nBolt,,1,,,,,,spare\n",
			added:   []string{"Bolt"},
			changed: []change{{"bolt", []string{FieldQuantity}}},
		},
		{
			name:    "duplicate removed",
			old:     "Bolt,,2,,,,,,\nNut,,1,,,,,,\nBolt,,4,,,,,,\n",
			new:     "Bolt,,2,,,,,,\nNut,,1,,,,,,\n",
			removed: []string{"Bolt"},
		},
	}
	parts := func(ls []Line) []string {
		var out []string
		for _, l := range ls {
			out = append(out, l.Part)
		}
		return out
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := Compare(parseCSV(t, header+tt.old), parseCSV(t, header+tt.new))
			var changed []change
			for _, c := range d.Changed {
				changed = append(changed, change{c.Key, c.Fields})
			}
			if !reflect.DeepEqual(parts(d.Added), tt.added) || !reflect.DeepEqual(parts(d.Removed), tt.removed) ||
				!reflect.DeepEqual(changed, tt.changed) {
				t.Errorf("added %q removed %q changed %v\nwant added %q removed %q changed %v",
					parts(d.Added), parts(d.Removed), changed, tt.added, tt.removed, tt.changed)
			}
			if empty := tt.added == nil && tt.removed == nil && tt.changed == nil; d.Empty() != empty {
				t.Errorf("Empty() = %v; want %v", d.Empty(), empty)
			}
		})
	}
}

func TestCompareKeepsLines(t *testing.T) {
	old := parseCSV(t, "Part,Qty\nBolt,2\n")
	cur := parseCSV(t, "Part,Qty\n\nBolt,3\n")
	d := Compare(old, cur)
	if len(d.Changed) != 1 || d.Changed[0].Old.Row != 2 || d.Changed[0].New.Row != 3 ||
		d.Changed[0].Old.Quantity.String() != "2" || d.Changed[0].New.Quantity.String() != "3" {
		t.Errorf("Changed = %+v", d.Changed)
	}
}

func TestCompareNil(t *testing.T) {
	b := parseCSV(t, "Part,Qty,Price\nBolt,2,€1\nNut,3,\n")
	tests := []struct {
		name           string
		old, new       *BOM
		added, removed int
		before, after  []Total
	}{
		{"both nil", nil, nil, 0, 0, nil, nil},
		{"old nil", nil, b, 2, 0, nil, b.Totals()},
		{"new nil", b, nil, 0, 2, b.Totals(), nil},
		{"empty BOM", &BOM{}, b, 2, 0, nil, b.Totals()},
	}
	for _, tt := range tests {
		d := Compare(tt.old, tt.new)
		if len(d.Added) != tt.added || len(d.Removed) != tt.removed || len(d.Changed) != 0 ||
			!reflect.DeepEqual(d.Before, tt.before) || !reflect.DeepEqual(d.After, tt.after) {
			t.Errorf("%s: got %+v", tt.name, d)
		}
		var sb strings.Builder
		if err := d.Format(&sb); err != nil {
			t.Errorf("%s: Format: %v", tt.name, err)
		}
	}
}

func TestFormat(t *testing.T) {
	old := parseCSV(t, "Part,Qty,Unit cost,Currency,Supplier\n"+
		"Steel tube 40x40x3,4,20,EUR,\n"+
		"Hydraulic cylinder,1,120,EUR,A\n"+
		"Hex bolt M10x50,8,0.32,EUR,\n")
	cur := parseCSV(t, "Part,Qty,Unit cost,Currency,Supplier\n"+
		"Steel tube 40x40x3,6,20,EUR,\n"+
		"Hydraulic cylinder,1,135,EUR,B\n"+
		"Hex bolt M10x60,8,0.35,EUR,Würth\n")
	const want = `BOM: 1 part added, 1 removed, 2 changed
  + Hex bolt M10x60     qty 8  @ 0.35 EUR  supplier Würth
  - Hex bolt M10x50     qty 8  @ 0.32 EUR
  ~ Steel tube 40x40x3  qty 4 -> 6
  ~ Hydraulic cylinder  unit cost 120 -> 135 EUR, supplier "A" -> "B"
  total: 202.56 EUR -> 257.80 EUR (+55.24 EUR)
`
	checkFormat(t, Compare(old, cur), want)
}

func TestFormatFixtures(t *testing.T) {
	old := parseFile(t, "testdata/brick-press-bom.csv")
	cur := parseFile(t, "testdata/brick-press-bom-v2.csv")
	const want = `BOM: 2 parts added, 1 removed, 4 changed
  + Pressure relief valve 210 bar        qty 1 pcs  @ 32 EUR    supplier Hydraulik Direkt
  + Hex bolt M10x70                      qty 8 pcs  @ 0.38 EUR  supplier Würth
  - Hex bolt M10x60                      qty 8 pcs  @ 0.35 EUR  supplier Würth
  ~ Steel square tube 40x40x3            qty 6 -> 7, notes "… 2 × 0.6 m" -> "… 2 × 0.6 m, 1 × 1 m brace"
  ~ Hydraulic cylinder 63/35 stroke 250  unit cost 120 -> 135 EUR, supplier "Hydraulik Handel GmbH" -> "Hydraulik Direkt"
  ~ Paint (red oxide primer)             notes "Two coats" -> "Two coats; let dry 24 h"
  ~ Electric motor 7.5 kW                unit cost none -> 180 EUR, supplier "" -> "Motoren Schmidt", notes "Sourced second-hand; price varies" -> "Second-hand"
  total: 351.58 EUR -> 583.67 EUR (+232.09 EUR)
`
	checkFormat(t, Compare(old, cur), want)
	// The reverse diff reads the other way round.
	const reverse = `BOM: 1 part added, 2 removed, 4 changed
  + Hex bolt M10x60                      qty 8 pcs  @ 0.35 EUR  supplier Würth
  - Pressure relief valve 210 bar        qty 1 pcs  @ 32 EUR    supplier Hydraulik Direkt
  - Hex bolt M10x70                      qty 8 pcs  @ 0.38 EUR  supplier Würth
  ~ Steel square tube 40x40x3            qty 7 -> 6, notes "… 2 × 0.6 m, 1 × 1 m brace" -> "… 2 × 0.6 m"
  ~ Hydraulic cylinder 63/35 stroke 250  unit cost 135 -> 120 EUR, supplier "Hydraulik Direkt" -> "Hydraulik Handel GmbH"
  ~ Paint (red oxide primer)             notes "Two coats; let dry 24 h" -> "Two coats"
  ~ Electric motor 7.5 kW                unit cost 180 EUR -> none, supplier "Motoren Schmidt" -> "", notes "Second-hand" -> "Sourced second-hand; price varies"
  total: 583.67 EUR -> 351.58 EUR (-232.09 EUR); 1 line without a cost
`
	checkFormat(t, Compare(cur, old), reverse)
}

func TestFormatCases(t *testing.T) {
	tests := []struct {
		name     string
		old, new string
		want     string
	}{
		{
			name: "no changes",
			old:  "Part,Qty,Price\nBolt,2,€1\n",
			new:  "Part,Qty,Price\nBolt,2,€1\n",
			want: "BOM: no changes\n  total: 2.00 EUR (unchanged)\n",
		},
		{
			name: "no costs at all",
			old:  "Part,Qty\nBolt,2\n",
			new:  "Part,Qty\nBolt,3\n",
			want: "BOM: 0 parts added, 0 removed, 1 changed\n  ~ Bolt  qty 2 -> 3\n",
		},
		{
			name: "currency changes",
			old:  "Part,Qty,Price\nBolt,2,€1\nNut,1,\n",
			new:  "Part,Qty,Price,Currency\nBolt,2,1,USD\nNut,1,,GBP\n",
			want: "BOM: 0 parts added, 0 removed, 2 changed\n" +
				"  ~ Bolt  unit cost 1 EUR -> 1 USD\n" +
				"  ~ Nut   currency \"\" -> \"GBP\"\n" +
				"  total: 2.00 EUR -> 0.00 EUR (-2.00 EUR)\n" +
				"  total: 0.00 USD -> 2.00 USD (+2.00 USD)\n",
		},
		{
			name: "no currency, duplicate names, units",
			old:  "Part,MPN,Qty,Price\nBolt,B1,2 pcs,1.5\n",
			new:  "Part,MPN,Qty,Price\nBolt,B2,2.5 m,1.5\n",
			want: "BOM: 1 part added, 1 removed, 0 changed\n" +
				"  + Bolt (B2)  qty 2.5 m  @ 1.5\n" +
				"  - Bolt (B1)  qty 2 pcs  @ 1.5\n" +
				"  total (no currency): 3.00 -> 3.75 (+0.75)\n",
		},
		{
			name: "control characters and long values",
			old:  "Part,Qty,Notes\n\"Bolt\nM10\",1,\"" + strings.Repeat("x", 60) + "\"\n",
			new:  "Part,Qty,Notes\n\"Bolt\nM10\",1,short\n",
			want: "BOM: 0 parts added, 0 removed, 1 changed\n" +
				"  ~ Bolt M10  notes \"" + strings.Repeat("x", 39) + "…\" -> \"short\"\n",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkFormat(t, Compare(parseCSV(t, tt.old), parseCSV(t, tt.new)), tt.want)
		})
	}
}

func checkFormat(t *testing.T, d Diff, want string) {
	t.Helper()
	var sb strings.Builder
	if err := d.Format(&sb); err != nil {
		t.Fatal(err)
	}
	if got := sb.String(); got != want {
		t.Errorf("Format =\n%s\nwant\n%s", got, want)
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestFormatWriteError(t *testing.T) {
	err := Diff{}.Format(failingWriter{})
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("Format to a failing writer: %v", err)
	}
}

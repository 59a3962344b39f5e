package bom

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"unicode/utf8"
)

// addSeeds adds the fixtures in testdata and a few small inputs to f.
func addSeeds(f *testing.F, fixtures []string, inputs ...string) {
	for _, p := range fixtures {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range inputs {
		f.Add([]byte(s))
	}
}

// checkParse holds what every parse must satisfy, whatever the input:
// failures are described ParseErrors (or a size error) wrapping exactly one
// of ErrMalformed and ErrTooLarge; BOMs have lines with a part and
// quantities and costs that are not negative, and totals that did not
// overflow; a BOM compared with itself has no changes.
func checkParse(t *testing.T, b *BOM, err error) {
	if err != nil {
		if errors.Is(err, ErrMalformed) == errors.Is(err, ErrTooLarge) {
			t.Fatalf("error %v wraps neither or both of ErrMalformed and ErrTooLarge", err)
		}
		var pe *ParseError
		if errors.As(err, &pe) && (pe.Line < 1 || pe.Column < 0 || pe.Msg == "") {
			t.Fatalf("ParseError without a place or message: %#v", pe)
		}
		if b != nil {
			t.Fatal("a BOM and an error")
		}
		return
	}
	if _, ok := b.Columns[FieldPart]; !ok {
		t.Fatalf("no part column in %v", b.Columns)
	}
	sums := make(map[string]Decimal)
	lastRow := 0
	for _, l := range b.Lines {
		if l.Part == "" || !utf8.ValidString(l.Part) {
			t.Fatalf("line with part %q: %+v", l.Part, l)
		}
		if l.Quantity.Sign() < 0 || l.UnitCost.Sign() < 0 {
			t.Fatalf("negative quantity or cost: %+v", l)
		}
		if l.Row <= lastRow {
			t.Fatalf("row %d after row %d", l.Row, lastRow)
		}
		lastRow = l.Row
		if l.HasCost {
			c, ok := l.Quantity.mul(l.UnitCost)
			if !ok {
				t.Fatalf("line cost overflows: %+v", l)
			}
			if sums[l.Currency], ok = sums[l.Currency].add(c); !ok {
				t.Fatalf("total in %q overflows", l.Currency)
			}
		}
	}
	for _, tot := range b.Totals() {
		if tot.Amount != sums[tot.Currency] || tot.Missing > tot.Lines {
			t.Fatalf("total %+v; sum of line costs %s", tot, sums[tot.Currency])
		}
	}
	d := Compare(b, b)
	if !d.Empty() {
		t.Fatalf("BOM differs from itself: %+v", d)
	}
	if err := d.Format(io.Discard); err != nil {
		t.Fatal(err)
	}
}

func FuzzParseCSV(f *testing.F) {
	addSeeds(f, []string{"testdata/brick-press-bom.csv", "testdata/brick-press-bom-v2.csv"},
		"",
		"Part,Qty,Unit cost,Currency\nBolt,8,0.35,EUR\n",
		"Name;Qty;Price €\nBolt;1,5;3,50\nTotal;;5,25\n",
		"sep=\t\nPart\tQty\nBolt\t2 pcs\n",
		"Part,Qty\n\"Bolt\nM10\",1\nNut,2 \"x\"\n",
		"\xef\xbb\xbfPart,Qty,Cost\nA,1,$1\nB,2,1 000,50 EUR\n",
		"\xff\xfeP\x00a\x00r\x00t\x00\n\x00",
		"Part,MPN,Qty,Price,Notes\n,X1,1,\u20ac2,\u00e9\n",
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseCSV("fuzz.csv", bytes.NewReader(data))
		checkParse(t, b, err)
		b2, err2 := Parse("fuzz.csv", data)
		if (err == nil) != (err2 == nil) || err != nil && err.Error() != err2.Error() {
			t.Fatalf("ParseCSV and Parse disagree: %v / %v", err, err2)
		}
		if err == nil && len(b.Lines) != len(b2.Lines) {
			t.Fatalf("ParseCSV and Parse disagree: %d / %d lines", len(b.Lines), len(b2.Lines))
		}
	})
}

func FuzzParseMarkdown(f *testing.F) {
	addSeeds(f, []string{"testdata/brick-press-bom.md"},
		"",
		"| Part | Qty |\n|---|---|\n| Bolt | 8 |\n",
		"Part | Qty\n:-- | --:\n`a\\|b` | 1,5\n",
		"```\n| a |\n|---|\n```\n| Part |\n|---|\n| [x](y) **z** <br> &amp; <http://a> |\n",
		"| Part | Price |\n|---|---|\n| [[[a](b)](c)](d) | $1 |\n| ``x` | 2 € |\n",
	)
	f.Fuzz(func(t *testing.T, data []byte) {
		b, err := ParseMarkdown("fuzz.md", bytes.NewReader(data))
		checkParse(t, b, err)
		if _, err2 := Parse("fuzz.md", data); (err == nil) != (err2 == nil) {
			t.Fatalf("ParseMarkdown and Parse disagree: %v / %v", err, err2)
		}
	})
}

// FuzzParseDecimal checks that a number ParseDecimal accepts reads back
// the same from its String form, and that failures wrap a sentinel.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{"1", "1,5", "1,000.50", "1.000,50", ".5", "5.", "-0.0001", "922337203685477.5807", "1 000", "abc"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDecimal(s)
		if err != nil {
			if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrRange) && !errors.Is(err, ErrPrecision) {
				t.Fatalf("ParseDecimal(%q): %v wraps no sentinel", s, err)
			}
			return
		}
		back, err := ParseDecimal(d.String())
		if err != nil || back != d {
			t.Fatalf("ParseDecimal(%q) = %s, which reads back as %s, %v", s, d, back, err)
		}
		if f2, err := ParseDecimal(d.Fixed(4)); err != nil || f2 != d {
			t.Fatalf("Fixed(4) of %s reads back as %s, %v", d, f2, err)
		}
	})
}

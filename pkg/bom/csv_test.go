package bom

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"os"
	"reflect"
	"strings"
	"testing"
	"testing/iotest"
	"unicode/utf16"
)

// parseCSV parses s as delimited text or fails the test.
func parseCSV(t *testing.T, s string) *BOM {
	t.Helper()
	b, err := ParseCSV("BOM.csv", strings.NewReader(s))
	if err != nil {
		t.Fatalf("ParseCSV: %v\ninput:\n%s", err, s)
	}
	return b
}

// summary is the part of a Line most tests look at.
type summary struct {
	Part, Qty, Unit, Cost, Cur string
}

func summarize(b *BOM) []summary {
	var out []summary
	for _, l := range b.Lines {
		s := summary{Part: l.Part, Qty: l.Quantity.String(), Unit: l.Unit, Cur: l.Currency}
		if l.HasCost {
			s.Cost = l.UnitCost.String()
		}
		out = append(out, s)
	}
	return out
}

func TestDelimiters(t *testing.T) {
	want := []summary{
		{Part: "Hex bolt M10x60", Qty: "8", Cost: "0.35"},
		{Part: "Steel tube, 40x40x3", Qty: "4.5", Unit: "m", Cost: "4.85"},
	}
	tests := []struct {
		name string
		in   string
	}{
		{"comma", "Part,Qty,Unit,Price\nHex bolt M10x60,8,,0.35\n\"Steel tube, 40x40x3\",4.5,m,4.85\n"},
		{"comma with spaces", "Part, Qty, Unit, Price\nHex bolt M10x60, 8, , 0.35\n\"Steel tube, 40x40x3\", \"4.5\", m, 4.85\n"},
		{"CRLF", "Part,Qty,Unit,Price\r\nHex bolt M10x60,8,,0.35\r\n\"Steel tube, 40x40x3\",4.5,m,4.85\r\n"},
		{"semicolon, decimal comma", "Part;Qty;Unit;Price\nHex bolt M10x60;8;;0,35\nSteel tube, 40x40x3;4,5;m;4,85\n"},
		{"tab", "Part\tQty\tUnit\tPrice\nHex bolt M10x60\t8\t\t0.35\nSteel tube, 40x40x3\t4.5\tm\t4.85\n"},
		{"tab, empty first unit", "Part\tQty\tUnit\tPrice\nHex bolt M10x60\t8\t\t0.35\nSteel tube, 40x40x3\t4.5\tm\t4.85"},
		{"excel sep line, tab", "sep=\t\r\nPart\tQty\tUnit\tPrice\r\nHex bolt M10x60\t8\t\t0.35\r\nSteel tube, 40x40x3\t4.5\tm\t4.85\r\n"},
		{"excel sep line", "sep=;\nPart;Qty;Unit;Price\nHex bolt M10x60;8;;0,35\nSteel tube, 40x40x3;4,5;m;4,85\n"},
		{"quoted header with delimiters", "\"Part, name\";\"Qty\";Unit;Price\nHex bolt M10x60;8;;0,35\nSteel tube, 40x40x3;4,5;m;4,85\n"},
		{"leading blank lines", "\n\n   \nPart,Qty,Unit,Price\n\nHex bolt M10x60,8,,0.35\n,,,\n\"Steel tube, 40x40x3\",4.5,m,4.85\n\n"},
		{"no final newline", "Part,Qty,Unit,Price\nHex bolt M10x60,8,,0.35\n\"Steel tube, 40x40x3\",4.5,m,4.85"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := parseCSV(t, tt.in)
			if got := summarize(b); !reflect.DeepEqual(got, want) {
				t.Errorf("lines = %+v; want %+v", got, want)
			}
		})
	}
}

func TestSniffDelimiter(t *testing.T) {
	tests := []struct {
		header string
		want   rune
	}{
		{"Part", ','},
		{"Part,Qty", ','},
		{"Part;Qty", ';'},
		{"Part\tQty", '\t'},
		{"Part;Qty,Price;Unit", ';'},
		{"Part,Qty;Price", ';'},        // tie: semicolon over comma
		{"Part\tQty;Price", '\t'},      // tie: tab over semicolon
		{"\"a,b,c\";Qty", ';'},         // quoted commas do not count
		{"\n\n  Part;Qty\na,b,c", ';'}, // first non-blank line
	}
	for _, tt := range tests {
		if got, _ := sniffDelimiter(tt.header); got != tt.want {
			t.Errorf("sniffDelimiter(%q) = %q; want %q", tt.header, got, tt.want)
		}
	}
}

func TestQuotedFields(t *testing.T) {
	in := "Part,Qty,Notes\n" +
		"\"Hydraulic hose 1/2\"\", 1 m\",2,\"Two ends,\ncrimped\"\n" +
		"\"Multi\nline\nname\",1,\n" +
		"Plate,3,\"\"\n"
	b := parseCSV(t, in)
	want := []struct {
		row   int
		part  string
		notes string
	}{
		{2, "Hydraulic hose 1/2\", 1 m", "Two ends,\ncrimped"},
		{4, "Multi\nline\nname", ""},
		{7, "Plate", ""},
	}
	if len(b.Lines) != len(want) {
		t.Fatalf("got %d lines; want %d", len(b.Lines), len(want))
	}
	for i, w := range want {
		l := b.Lines[i]
		if l.Row != w.row || l.Part != w.part || l.Notes != w.notes {
			t.Errorf("line %d = row %d %q %q; want row %d %q %q", i, l.Row, l.Part, l.Notes, w.row, w.part, w.notes)
		}
	}
}

func TestCostCells(t *testing.T) {
	tests := []struct {
		cell string
		cost string // "" when no cost
		cur  string
		err  error
	}{
		{cell: "3.50", cost: "3.5"},
		{cell: "$3.50", cost: "3.5", cur: "USD"},
		{cell: "$ 3.50", cost: "3.5", cur: "USD"},
		{cell: "3.50$", cost: "3.5", cur: "USD"},
		{cell: "US$3.50", cost: "3.5", cur: "USD"},
		{cell: "CA$ 3", cost: "3", cur: "CAD"},
		{cell: "3 C$", cost: "3", cur: "CAD"},
		{cell: "A$3", cost: "3", cur: "AUD"},
		{cell: "R$ 12,90", cost: "12.9", cur: "BRL"},
		{cell: "3,50 €", cost: "3.5", cur: "EUR"},
		{cell: "€3,50", cost: "3.5", cur: "EUR"},
		{cell: "€ 1.234,50", cost: "1234.5", cur: "EUR"},
		{cell: "£12", cost: "12", cur: "GBP"},
		{cell: "₹ 450", cost: "450", cur: "INR"},
		{cell: "12,50 zł", cost: "12.5", cur: "PLN"},
		{cell: "EUR 12", cost: "12", cur: "EUR"},
		{cell: "EUR12", cost: "12", cur: "EUR"},
		{cell: "12 USD", cost: "12", cur: "USD"},
		{cell: "12USD", cost: "12", cur: "USD"},
		{cell: "1,000.00 KES", cost: "1000", cur: "KES"},
		{cell: "CHF 7.20", cost: "7.2", cur: "CHF"},
		{cell: "$3 USD", cost: "3", cur: "USD"},
		{cell: "", cost: ""},
		{cell: "-", cost: ""},
		{cell: "n/a", cost: ""},
		{cell: "TBD", cost: ""},
		{cell: "?", cost: ""},
		{cell: "0", cost: "0"},
		{cell: "-3", cost: "-3"},
		{cell: "-$3", cost: "-3", cur: "USD"},

		{cell: "abc", err: ErrSyntax},
		{cell: "EUR", err: ErrSyntax},
		{cell: "12 eur", err: ErrSyntax}, // codes in cost cells are upper case
		{cell: "12 XYZ", err: ErrSyntax}, // not ISO 4217
		{cell: "12 EURO", err: ErrSyntax},
		{cell: "$3 EUR", err: ErrSyntax},
		{cell: "¥300", err: ErrSyntax}, // yen or yuan: write JPY or CNY
		{cell: "-$-3", err: ErrSyntax},
		{cell: "3.50/pc", err: ErrSyntax},
		{cell: "$0.00001", err: ErrPrecision},
		{cell: "$1e20", err: ErrSyntax},
	}
	for _, tt := range tests {
		v, cur, has, err := parseCost(tt.cell)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("parseCost(%q) = %v %q %v, %v; want %v", tt.cell, v, cur, has, err, tt.err)
			}
			continue
		}
		got := ""
		if has {
			got = v.String()
		}
		if err != nil || got != tt.cost || cur != tt.cur {
			t.Errorf("parseCost(%q) = %q %q, %v; want %q %q", tt.cell, got, cur, err, tt.cost, tt.cur)
		}
	}
}

func TestQuantityCells(t *testing.T) {
	tests := []struct {
		cell, qty, unit string
		err             error
	}{
		{cell: "4", qty: "4"},
		{cell: "", qty: "1"},
		{cell: "-", qty: "1"},
		{cell: "n/a", qty: "1"},
		{cell: "0", qty: "0"},
		{cell: "1,5", qty: "1.5"},
		{cell: "2.5 m", qty: "2.5", unit: "m"},
		{cell: "2.5m", qty: "2.5", unit: "m"},
		{cell: "4 pcs", qty: "4", unit: "pcs"},
		{cell: "1 000 pcs", qty: "1000", unit: "pcs"},
		{cell: "2 m²", qty: "2", unit: "m²"},
		{cell: "4x", qty: "4"},
		{cell: "4 x", qty: "4"},
		{cell: "x4", qty: "4"},
		{cell: "× 4", qty: "4"},
		{cell: "-2", qty: "-2"}, // refused as negative by the builder

		{cell: "abc", err: ErrSyntax},
		{cell: "pcs", err: ErrSyntax},
		{cell: "x", err: ErrSyntax},
		{cell: "1e3", err: ErrSyntax},
		{cell: "5-10", err: ErrSyntax},
		{cell: "~4", err: ErrSyntax},
		{cell: "1.23456", err: ErrPrecision},
		{cell: "99999999999999999", err: ErrRange},
	}
	for _, tt := range tests {
		q, unit, err := parseQuantity(tt.cell)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("parseQuantity(%q) = %v %q, %v; want %v", tt.cell, q, unit, err, tt.err)
			}
			continue
		}
		if err != nil || q.String() != tt.qty || unit != tt.unit {
			t.Errorf("parseQuantity(%q) = %v %q, %v; want %s %q", tt.cell, q, unit, err, tt.qty, tt.unit)
		}
	}
}

func TestCurrencyDetection(t *testing.T) {
	tests := []struct {
		name string
		in   string
		curs []string // Currency of each line
	}{
		{"in cells", "Part,Cost\na,$1\nb,2 €\nc,GBP 3\nd,4\n", []string{"USD", "EUR", "GBP", ""}},
		{"column", "Part,Cost,Currency\na,1,eur\nb,2,$\nc,3,\nd,,USD\n", []string{"EUR", "USD", "", "USD"}},
		{"header", "Part,Unit cost (EUR)\na,1\nb,€2\nc,\n", []string{"EUR", "EUR", "EUR"}},
		{"cell agrees with column", "Part,Cost,Currency\na,€1,EUR\n", []string{"EUR"}},
		{"placeholder currency", "Part,Cost,Currency\na,1,-\n", []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, l := range parseCSV(t, tt.in).Lines {
				got = append(got, l.Currency)
			}
			if !reflect.DeepEqual(got, tt.curs) {
				t.Errorf("currencies = %q; want %q", got, tt.curs)
			}
		})
	}
}

// TestParseErrors checks the place and message of each kind of malformed
// BOM. Line and column must be exact: they are what a person uses to fix
// the file.
func TestParseErrors(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		line   int
		column int
		field  string
		msg    string
		cause  error // also matched with errors.Is, besides ErrMalformed
	}{
		{
			name: "bare quote on line 3",
			in:   "Part,Qty,Price\nBolt,1,0.35\nHose 1/2\",2,18.90\n",
			line: 3, column: 1, msg: `bare " in unquoted field`, cause: csv.ErrBareQuote,
		},
		{
			name: "bare quote in the third field",
			in:   "Part,Qty,Price\nBolt,1,0.35\nHose,2,18\"90\n",
			line: 3, column: 3, msg: `bare " in unquoted field`, cause: csv.ErrBareQuote,
		},
		{
			name: "text after a closing quote",
			in:   "Part;Qty;Price\nBolt;1;0,35\nNut;\"2\"x;0,10\n",
			line: 3, column: 2, msg: `extraneous or missing " in quoted field`, cause: csv.ErrQuote,
		},
		{
			name: "quote never closed",
			in:   "Part,Qty,Notes\nBolt,1,\"grade 8.8\nNut,2,x\n",
			line: 2, column: 3, msg: `" opens a quoted field that is never closed`, cause: csv.ErrQuote,
		},
		{
			name: "quote never closed, no final newline",
			in:   "Part,Qty,Notes\nBolt,1,2\nNut,\"2,x",
			line: 3, column: 2, msg: `" opens a quoted field that is never closed`, cause: csv.ErrQuote,
		},
		{
			name: "space after a closing quote",
			in:   "Part,Qty\nBolt,\"1\" \n",
			line: 2, column: 2, msg: `extraneous or missing " in quoted field`, cause: csv.ErrQuote,
		},
		{
			name: "bare quote after a multi-line field",
			in:   "Part,Qty,Notes\n\"Bolt\nM10\",1,a\"b\n",
			line: 3, column: 3, msg: `bare " in unquoted field`, cause: csv.ErrBareQuote,
		},
		{
			name: "too many fields",
			in:   "Part,Qty,Price\nBolt,1,0.35\nNut,2,0.10,extra\n",
			line: 3, column: 4, msg: "row has 4 fields but the header has 3",
		},
		{
			name: "too many fields after empty ones",
			in:   "Part\tQty\nBolt\t1\t\t\tx\n",
			line: 2, column: 5, msg: "row has 5 fields but the header has 2",
		},
		{
			name: "bad number on line 4 column 4",
			in:   "Part,Part number,Qty,Unit cost\nBolt,B1,1,0.35\nNut,N1,2,0.10\nWasher,W1,16,abc\n",
			line: 4, column: 4, field: FieldUnitCost, msg: `unit cost "abc" is not a number`, cause: ErrSyntax,
		},
		{
			name: "bad number after a multi-line cell",
			in:   "Part,Notes,Qty\nBolt,\"a\nb\",one\n",
			line: 3, column: 3, field: FieldQuantity, msg: `quantity "one" is not a number`, cause: ErrSyntax,
		},
		{
			name: "negative quantity",
			in:   "Part,Qty\nBolt,-2\n",
			line: 2, column: 2, field: FieldQuantity, msg: `quantity "-2" is negative`,
		},
		{
			name: "negative cost",
			in:   "Part,Qty,Cost\nBolt,2,-0.35\n",
			line: 2, column: 3, field: FieldUnitCost, msg: `unit cost "-0.35" is negative`,
		},
		{
			name: "too precise",
			in:   "Part,Qty,Cost\nResistor,100,0.00125\n",
			line: 2, column: 3, field: FieldUnitCost, msg: `unit cost "0.00125" has more than 4 decimal places`, cause: ErrPrecision,
		},
		{
			name: "quantity out of range",
			in:   "Part,Qty\nBolt,1000000000000000\n",
			line: 2, column: 2, field: FieldQuantity, msg: `quantity "1000000000000000" is too large`, cause: ErrRange,
		},
		{
			name: "line cost overflows",
			in:   "Part,Qty,Cost\nBolt,100000000,100000000\n",
			line: 2, column: 3, field: FieldUnitCost, msg: "cost of 100000000 × 100000000 is too large", cause: ErrRange,
		},
		{
			name: "total overflows",
			in:   "Part,Qty,Cost\nA,1,900000000000000\nB,1,900000000000000\n",
			line: 3, column: 3, field: FieldUnitCost, msg: "total cost is too large", cause: ErrRange,
		},
		{
			name: "no part column",
			in:   "Qty,Unit cost\n1,2\n",
			line: 1, field: FieldPart, msg: "header has no part column",
		},
		{
			name: "no part column, header after blank lines",
			in:   "\n\nQty;Unit cost\n1;2\n",
			line: 3, field: FieldPart, msg: "header has no part column",
		},
		{
			name: "empty input",
			in:   "",
			line: 1, msg: "no header row",
		},
		{
			name: "blank input",
			in:   "\n \n,,\n",
			line: 1, msg: "no header row",
		},
		{
			name: "empty part",
			in:   "Part,Qty,Cost\nBolt,1,2\n,3,4\n",
			line: 3, column: 1, field: FieldPart, msg: "part is empty",
		},
		{
			name: "unknown currency",
			in:   "Part,Cost,Currency\nBolt,1,Euro\n",
			line: 2, column: 3, field: FieldCurrency, msg: `currency "Euro" is not a currency symbol or ISO 4217 code`,
		},
		{
			name: "cell currency conflicts with column",
			in:   "Part,Cost,Currency\nBolt,$1,EUR\n",
			line: 2, column: 2, field: FieldUnitCost, msg: `unit cost "$1" is in USD but the currency column says EUR`,
		},
		{
			name: "cell currency conflicts with header",
			in:   "Part,Cost (EUR)\nBolt,$1\n",
			line: 2, column: 2, field: FieldUnitCost, msg: `unit cost "$1" is in USD but the column header says EUR`,
		},
		{
			name: "column currency conflicts with header",
			in:   "Part,Currency,Price €\nBolt,USD,1\n",
			line: 2, column: 2, field: FieldCurrency, msg: `currency "USD" conflicts with EUR in the unit cost header`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCSV("BOM.csv", strings.NewReader(tt.in))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error %v is not a *ParseError", err)
			}
			if !errors.Is(err, ErrMalformed) || errors.Is(err, ErrTooLarge) {
				t.Errorf("error %v does not wrap ErrMalformed alone", err)
			}
			if tt.cause != nil && !errors.Is(err, tt.cause) {
				t.Errorf("error %v does not wrap %v", err, tt.cause)
			}
			if pe.File != "BOM.csv" || pe.Line != tt.line || pe.Column != tt.column || pe.Field != tt.field || !strings.HasPrefix(pe.Msg, tt.msg) {
				t.Errorf("got %s:%d:%d field %q msg %q\nwant BOM.csv:%d:%d field %q msg %q...",
					pe.File, pe.Line, pe.Column, pe.Field, pe.Msg, tt.line, tt.column, tt.field, tt.msg)
			}
			want := fmt.Sprintf("BOM.csv:%d:%d: ", tt.line, tt.column)
			if tt.column == 0 {
				want = fmt.Sprintf("BOM.csv:%d: ", tt.line)
			}
			if !strings.HasPrefix(err.Error(), want+tt.msg) {
				t.Errorf("Error() = %q; want it to start %q", err.Error(), want+tt.msg)
			}
		})
	}
}

func TestParseErrorFormat(t *testing.T) {
	tests := []struct {
		err  ParseError
		want string
	}{
		{ParseError{File: "BOM.csv", Line: 12, Column: 3, Msg: `unit cost "abc" is not a number`}, `BOM.csv:12:3: unit cost "abc" is not a number`},
		{ParseError{File: "BOM.csv", Line: 1, Msg: "no header row"}, "BOM.csv:1: no header row"},
		{ParseError{Line: 4, Column: 2, Msg: "x"}, "4:2: x"},
	}
	for _, tt := range tests {
		if got := tt.err.Error(); got != tt.want {
			t.Errorf("Error() = %q; want %q", got, tt.want)
		}
	}
}

func TestLimits(t *testing.T) {
	header := "Part,Qty\n"
	manyLines := header + strings.Repeat("Bolt,1\n", MaxLines)
	tests := []struct {
		name string
		in   string
		line int // 0: not a ParseError
	}{
		{"over MaxSize", header + strings.Repeat("x", MaxSize), 0},
		{"over MaxLines", manyLines + "Nut,2\n", MaxLines + 2},
		{"cell over MaxCellSize", header + "Bolt,1\nNut," + strings.Repeat("9", MaxCellSize+1) + "\n", 3},
		{"header cell over MaxCellSize", "Part," + strings.Repeat("Q", MaxCellSize+1) + "\n", 1},
		{"over MaxColumns", "Part" + strings.Repeat(",x", MaxColumns) + "\n", 1},
		{"row over MaxColumns", header + "Bolt,1\nNut,2" + strings.Repeat(",", MaxColumns) + "\n", 3},
		{"over MaxExtraCells", "Part,A,B,C,D,E,F,G,H\n" + strings.Repeat("p,a,b,c,d,e,f,g,h\n", MaxExtraCells/8) + "q,,,,,,,,h\n", MaxExtraCells/8 + 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, parse := range []func() (*BOM, error){
				func() (*BOM, error) { return ParseCSV("BOM.csv", strings.NewReader(tt.in)) },
				func() (*BOM, error) { return Parse("BOM.csv", []byte(tt.in)) },
			} {
				_, err := parse()
				if !errors.Is(err, ErrTooLarge) || errors.Is(err, ErrMalformed) {
					t.Fatalf("error %v; want ErrTooLarge and not ErrMalformed", err)
				}
				var pe *ParseError
				if errors.As(err, &pe) != (tt.line > 0) || tt.line > 0 && pe.Line != tt.line {
					t.Fatalf("error %#v; want a ParseError at line %d", err, tt.line)
				}
			}
		})
	}
	// Exactly at the limits is fine.
	if b := parseCSV(t, manyLines); len(b.Lines) != MaxLines {
		t.Errorf("got %d lines; want %d", len(b.Lines), MaxLines)
	}
	if _, err := Parse("BOM.csv", []byte("Part,Qty\nBolt,1\n"+strings.Repeat("\n", MaxSize-16))); err != nil {
		t.Errorf("input of exactly MaxSize: %v", err)
	}
}

func TestReadError(t *testing.T) {
	boom := errors.New("boom")
	_, err := ParseCSV("BOM.csv", iotest.ErrReader(boom))
	if !errors.Is(err, boom) || !strings.Contains(err.Error(), "BOM.csv") {
		t.Fatalf("error %v; want the reader's error, naming the file", err)
	}
}

func TestEncodings(t *testing.T) {
	const text = "Part;Qty;Price\nSchraube Würth;8;0,35 €\n"
	want := []summary{{Part: "Schraube Würth", Qty: "8", Cost: "0.35", Cur: "EUR"}}
	utf16le := func(s string, bigEndian bool) []byte {
		var b bytes.Buffer
		if bigEndian {
			b.Write([]byte{0xFE, 0xFF})
		} else {
			b.Write([]byte{0xFF, 0xFE})
		}
		for _, u := range utf16.Encode([]rune(s)) {
			if bigEndian {
				b.Write([]byte{byte(u >> 8), byte(u)})
			} else {
				b.Write([]byte{byte(u), byte(u >> 8)})
			}
		}
		return b.Bytes()
	}
	tests := []struct {
		name string
		data []byte
	}{
		{"UTF-8", []byte(text)},
		{"UTF-8 with byte-order mark", append([]byte{0xEF, 0xBB, 0xBF}, text...)},
		{"UTF-16LE", utf16le(text, false)},
		{"UTF-16BE", utf16le(text, true)},
		{"Windows-1252", []byte("Part;Qty;Price\nSchraube W\xfcrth;8;0,35 \x80\n")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := Parse("BOM.csv", tt.data)
			if err != nil {
				t.Fatal(err)
			}
			if got := summarize(b); !reflect.DeepEqual(got, want) {
				t.Errorf("lines = %+v; want %+v", got, want)
			}
			if b.Columns[FieldPart] != "Part" {
				t.Errorf("part column %q: byte-order mark not removed", b.Columns[FieldPart])
			}
		})
	}
}

func TestRowsAndExtras(t *testing.T) {
	in := "#,Part,Qty,Weight (kg),Total\n" +
		"1,Bolt,2,0.1,0.70\n" +
		"2,Nut\n" + // short row: the rest is empty
		"3,Washer,16,,\n" +
		",Total,,,0.86\n" + // summary rows are skipped
		"Sum:,,,,0.86\n" +
		",,,,Subtotal\n"
	b := parseCSV(t, in)
	want := []struct {
		part  string
		qty   string
		extra map[string]string
	}{
		{"Bolt", "2", map[string]string{"#": "1", "Weight (kg)": "0.1"}},
		{"Nut", "1", map[string]string{"#": "2"}},
		{"Washer", "16", map[string]string{"#": "3"}},
	}
	if len(b.Lines) != len(want) {
		t.Fatalf("got %d lines %+v; want %d", len(b.Lines), summarize(b), len(want))
	}
	for i, w := range want {
		l := b.Lines[i]
		if l.Part != w.part || l.Quantity.String() != w.qty || !reflect.DeepEqual(l.Extra, w.extra) {
			t.Errorf("line %d = %q qty %s extra %v; want %q %s %v", i, l.Part, l.Quantity, l.Extra, w.part, w.qty, w.extra)
		}
	}
	// A part called "Total" with a quantity is a part.
	if b := parseCSV(t, "Part,Qty\nTotal,1\n"); len(b.Lines) != 1 {
		t.Errorf("a quantified line named Total was skipped")
	}
}

func TestPartNumberFallback(t *testing.T) {
	b := parseCSV(t, "Part,MPN,Qty\nBolt M10,DIN933-M10,2\n,DIN934-M10,2\n")
	got := []string{b.Lines[0].Part, b.Lines[0].PartNumber, b.Lines[1].Part, b.Lines[1].PartNumber}
	want := []string{"Bolt M10", "DIN933-M10", "DIN934-M10", "DIN934-M10"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("parts = %q; want %q", got, want)
	}
}

func TestUnitFromQuantity(t *testing.T) {
	b := parseCSV(t, "Part,Qty,Unit\nTube,2.5 m,\nWire,3 m,coil\nBolt,4,\n")
	var got []string
	for _, l := range b.Lines {
		got = append(got, l.Quantity.String()+" "+l.Unit)
	}
	want := []string{"2.5 m", "3 coil", "4 "}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("quantities = %q; want %q", got, want)
	}
}

func TestEmptyBOM(t *testing.T) {
	for _, in := range []string{"Part,Qty,Cost\n", "Part,Qty,Cost", "Part\n\n\n"} {
		b := parseCSV(t, in)
		if len(b.Lines) != 0 || b.Columns[FieldPart] != "Part" || b.Totals() != nil {
			t.Errorf("%q: got %+v", in, b)
		}
	}
}

func TestBrickPressCSV(t *testing.T) {
	b := parseFile(t, "testdata/brick-press-bom.csv")
	wantCols := map[string]string{
		FieldPart: "Part", FieldPartNumber: "Part number", FieldQuantity: "Qty", FieldUnit: "Unit",
		FieldUnitCost: "Unit cost (EUR)", FieldSupplier: "Supplier", FieldLink: "Link", FieldNotes: "Notes",
		FieldTotal: "Line total",
	}
	if !reflect.DeepEqual(b.Columns, wantCols) {
		t.Errorf("Columns = %v; want %v", b.Columns, wantCols)
	}
	if len(b.Lines) != 11 {
		t.Fatalf("got %d lines; want 11 (blank and total rows skipped)", len(b.Lines))
	}
	hose := b.Lines[4]
	if hose.Part != `Hydraulic hose 1/2", 1 m` || hose.UnitCost.String() != "18.9" || hose.Currency != "EUR" || hose.Row != 6 {
		t.Errorf("hose line = %+v", hose)
	}
	bolt := b.Lines[6]
	if bolt.Notes != "Grade 8.8,\nzinc plated" || bolt.Supplier != "Würth" || bolt.Cost().String() != "2.8" || bolt.Row != 8 {
		t.Errorf("bolt line = %+v", bolt)
	}
	if nut := b.Lines[7]; nut.Row != 10 {
		t.Errorf("line after a two-line row: row %d; want 10", nut.Row)
	}
	tube := b.Lines[0]
	if tube.Extra["Weight (kg)"] != "21.0" || tube.Link != "https://example.org/stahl/shs-40-3" {
		t.Errorf("tube line = %+v", tube)
	}
	want := []Total{{Currency: "EUR", Amount: dec(t, "351.58"), Lines: 11, Missing: 1}}
	if got := b.Totals(); !reflect.DeepEqual(got, want) {
		t.Errorf("Totals = %+v; want %+v", got, want)
	}
}

// parseFile parses a fixture with Parse.
func parseFile(t *testing.T, path string) *BOM {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b, err := Parse(path, data)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

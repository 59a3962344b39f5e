package bom

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func parseMD(t *testing.T, s string) *BOM {
	t.Helper()
	b, err := ParseMarkdown("README.md", strings.NewReader(s))
	if err != nil {
		t.Fatalf("ParseMarkdown: %v\ninput:\n%s", err, s)
	}
	return b
}

func TestMarkdownTables(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want []summary
	}{
		{
			name: "plain",
			in:   "| Part | Qty |\n|------|-----|\n| Bolt | 8 |\n| Nut | 8 |\n",
			want: []summary{{Part: "Bolt", Qty: "8"}, {Part: "Nut", Qty: "8"}},
		},
		{
			name: "alignment row",
			in:   "| Part | Qty | Price |\n|:---|--:|:-:|\n| Bolt | 8 | $0.35 |\n",
			want: []summary{{Part: "Bolt", Qty: "8", Cost: "0.35", Cur: "USD"}},
		},
		{
			name: "no outer pipes",
			in:   "Part | Qty\n--- | ---\nBolt | 8\n",
			want: []summary{{Part: "Bolt", Qty: "8"}},
		},
		{
			name: "single column",
			in:   "| Part |\n| --- |\n| Bolt |\n",
			want: []summary{{Part: "Bolt", Qty: "1"}},
		},
		{
			name: "escaped pipes",
			in:   "| Part | Qty |\n|---|---|\n| Cable 2\\|4 mm | 3 |\n| `a\\|b` | 1 |\n",
			want: []summary{{Part: "Cable 2|4 mm", Qty: "3"}, {Part: "a|b", Qty: "1"}},
		},
		{
			name: "inline code and emphasis",
			in:   "| Part | Qty |\n|---|---|\n| `M10x60` | 8 |\n| **Hex** bolt | 2 |\n| *Nut* | 1 |\n| Bolt M10*60 | 1 |\n| ``a`b`` | 1 |\n",
			want: []summary{{Part: "M10x60", Qty: "8"}, {Part: "Hex bolt", Qty: "2"}, {Part: "Nut", Qty: "1"}, {Part: "Bolt M10*60", Qty: "1"}, {Part: "a`b", Qty: "1"}},
		},
		{
			name: "table after text, text after table",
			in: "# Brick press\n\nSome text | with a pipe.\n\n| Part | Qty |\n|---|---|\n| Bolt | 8 |\nNot a row\n\n" +
				"| Part | Qty |\n|---|---|\n| Second table | 1 |\n",
			want: []summary{{Part: "Bolt", Qty: "8"}},
		},
		{
			name: "table ends at a blank line",
			in:   "| Part | Qty |\n|---|---|\n| Bolt | 8 |\n\n| Nut | 8 |\n",
			want: []summary{{Part: "Bolt", Qty: "8"}},
		},
		{
			name: "tables in code blocks are skipped",
			in: "```\n| Part | Qty |\n|---|---|\n| Fake | 1 |\n```  \n\n~~~~md\n| Part |\n|---|\n~~~\n| Part |\n|---|\n~~~~~\n\n" +
				"    | Part | Qty |\n    |---|---|\n\n| Part | Qty |\n|---|---|\n| Real | 2 |\n",
			want: []summary{{Part: "Real", Qty: "2"}},
		},
		{
			name: "short and blank rows",
			in:   "| Part | Qty | Notes |\n|---|---|---|\n| Bolt |\n| | | |\n| Nut | 2 | |\n",
			want: []summary{{Part: "Bolt", Qty: "1"}, {Part: "Nut", Qty: "2"}},
		},
		{
			name: "entities",
			in:   "| Part | Qty |\n|---|---|\n| Nuts &amp; bolts | 1 |\n| AT&T cable | 1 |\n| pipe &#124; | 1 |\n",
			want: []summary{{Part: "Nuts & bolts", Qty: "1"}, {Part: "AT&T cable", Qty: "1"}, {Part: "pipe |", Qty: "1"}},
		},
		{
			name: "header with markup",
			in:   "| **Part** | `Qty` |\n|---|---|\n| Bolt | 2 |\n",
			want: []summary{{Part: "Bolt", Qty: "2"}},
		},
		{
			name: "header only",
			in:   "| Part | Qty |\n|---|---|\n",
			want: nil,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := summarize(parseMD(t, tt.in)); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("lines = %+v; want %+v", got, tt.want)
			}
		})
	}
}

func TestMarkdownInline(t *testing.T) {
	tests := []struct {
		in, text, url string
	}{
		{"plain", "plain", ""},
		{"  padded  ", "padded", ""},
		{"`code`", "code", ""},
		{"`` a ` b ``", "a ` b", ""},
		{"` `", "", ""}, // cells are trimmed
		{"`unclosed", "`unclosed", ""},
		{"\\*not emphasis\\*", "*not emphasis*", ""},
		{"a\\b", "a\\b", ""},
		{"**bold**", "bold", ""},
		{"__bold__", "bold", ""},
		{"_M10_", "M10", ""},
		{"~~old~~ new", "old new", ""},
		{"[Würth](https://example.org/w)", "Würth", "https://example.org/w"},
		{"[Würth](<https://example.org/a b> \"title\")", "Würth", "https://example.org/a b"},
		{"[a](x) and [b](y)", "a and b", "x"},
		{"![photo](img.png) Bolt", "photo Bolt", ""},
		{"[not a link]", "[not a link]", ""},
		{"[x](unclosed", "[x](unclosed", ""},
		{"<https://example.org>", "https://example.org", "https://example.org"},
		{"<sales@example.org>", "sales@example.org", "sales@example.org"},
		{"a<br>b", "a\nb", ""},
		{"a<BR />b", "a\nb", ""},
		{"x < y > z", "x < y > z", ""},
		{"&lt;M10&gt;", "<M10>", ""},
		{"&unknown;", "&unknown;", ""},
	}
	for _, tt := range tests {
		text, url := mdInline(tt.in)
		if text != tt.text || url != tt.url {
			t.Errorf("mdInline(%q) = %q, %q; want %q, %q", tt.in, text, url, tt.text, tt.url)
		}
	}
}

func TestMarkdownLinks(t *testing.T) {
	in := "| Part | Supplier | Link |\n|---|---|---|\n" +
		"| Bolt | Würth | [shop](https://example.org/bolt) |\n" +
		"| [Nut](https://example.org/nut) | Würth | |\n" +
		"| Washer | [Würth](https://example.org/w) | |\n" +
		"| Plate | Meier | https://example.org/plate |\n"
	var got []string
	for _, l := range parseMD(t, in).Lines {
		got = append(got, l.Part+" "+l.Supplier+" "+l.Link)
	}
	want := []string{
		"Bolt Würth https://example.org/bolt",
		"Nut Würth https://example.org/nut",
		"Washer Würth https://example.org/w",
		"Plate Meier https://example.org/plate",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("lines = %q; want %q", got, want)
	}
}

func TestMarkdownErrors(t *testing.T) {
	tests := []struct {
		name         string
		in           string
		line, column int
		msg          string
	}{
		{"no table", "# BOM\n\nNothing here | yet.\n", 1, 0, "no Markdown table found"},
		{"empty", "", 1, 0, "no Markdown table found"},
		{"delimiter row of another width", "| Part | Qty |\n|---|\n| Bolt | 1 |\n", 1, 0, "no Markdown table found"},
		{"no part column", "Intro\n\n| Qty | Price |\n|---|---|\n| 1 | 2 |\n", 3, 0, "header has no part column"},
		{"bad number", "# BOM\n\n| Part | Qty | Price |\n|---|--:|--:|\n| Bolt | 8 | 0.35 |\n| Nut | 8 | abc |\n", 6, 3, `unit cost "abc" is not a number`},
		{"pipe in code span splits the cell", "| Part | Notes |\n|---|---|\n| Bolt | use `a|b` |\n", 3, 3, "row has 3 fields but the header has 2"},
		{"empty part", "| Part | Qty |\n|---|---|\n| | 2 |\n", 3, 1, "part is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseMarkdown("README.md", strings.NewReader(tt.in))
			var pe *ParseError
			if !errors.As(err, &pe) || !errors.Is(err, ErrMalformed) {
				t.Fatalf("error %v is not a *ParseError wrapping ErrMalformed", err)
			}
			if pe.Line != tt.line || pe.Column != tt.column || !strings.HasPrefix(pe.Msg, tt.msg) {
				t.Errorf("got %v; want README.md:%d:%d: %s", err, tt.line, tt.column, tt.msg)
			}
		})
	}
	for name, in := range map[string]string{
		"cell over MaxCellSize":  "| Part |\n|---|\n| " + strings.Repeat("x", MaxCellSize+1) + " |\n",
		"row over MaxColumns":    "| Part |\n|---|\n| a " + strings.Repeat("|", MaxColumns+5) + "\n",
		"header over MaxColumns": strings.Repeat("| a ", MaxColumns+1) + "|\n" + strings.Repeat("|---", MaxColumns+1) + "|\n",
	} {
		_, err := ParseMarkdown("README.md", strings.NewReader(in))
		var pe *ParseError
		if !errors.Is(err, ErrTooLarge) || !errors.As(err, &pe) {
			t.Errorf("%s: %v; want a ParseError wrapping ErrTooLarge", name, err)
		}
	}
}

func TestBrickPressMarkdown(t *testing.T) {
	b := parseFile(t, "testdata/brick-press-bom.md")
	want := []Line{
		{Row: 21, Part: "Steel square tube 40x40x3", PartNumber: "S235-SHS-40-3", Quantity: dec(t, "6"), Unit: "m",
			UnitCost: dec(t, "4.85"), HasCost: true, Currency: "EUR", Supplier: "Stahlhandel Meier",
			Link: "https://example.org/stahl", Notes: "Frame | press box"},
		{Row: 22, Part: "Hydraulic cylinder 63/35", PartNumber: "HC-63-35-250", Quantity: dec(t, "1"), Unit: "pcs",
			UnitCost: dec(t, "120"), HasCost: true, Currency: "EUR", Supplier: "Hydraulik Handel GmbH",
			Notes: "Double acting, 210\u00a0bar"},
		{Row: 23, Part: "Hex bolt M10x60", PartNumber: "DIN933-M10x60", Quantity: dec(t, "8"), Unit: "pcs",
			UnitCost: dec(t, "0.35"), HasCost: true, Currency: "EUR", Supplier: "Würth", Notes: "Grade 8.8\nzinc plated"},
		{Row: 24, Part: "Paint (red oxide primer)", Quantity: dec(t, "2"), Unit: "l", UnitCost: dec(t, "9.9"), HasCost: true,
			Currency: "EUR", Supplier: "https://example.org/paint", Link: "https://example.org/paint", Notes: "Thin 1|10"},
		{Row: 25, Part: "Electric motor 7.5 kW", Quantity: dec(t, "1"), Notes: "price varies"},
	}
	if !reflect.DeepEqual(b.Lines, want) {
		for i := range max(len(b.Lines), len(want)) {
			var g, w Line
			if i < len(b.Lines) {
				g = b.Lines[i]
			}
			if i < len(want) {
				w = want[i]
			}
			if !reflect.DeepEqual(g, w) {
				t.Errorf("line %d:\n got %+v\nwant %+v", i, g, w)
			}
		}
	}
	wantTotals := []Total{{Currency: "EUR", Amount: dec(t, "171.70"), Lines: 5, Missing: 1}}
	if got := b.Totals(); !reflect.DeepEqual(got, wantTotals) {
		t.Errorf("Totals = %+v; want %+v", got, wantTotals)
	}
}

func TestParseChoosesSyntax(t *testing.T) {
	md := "Intro\n\n| Part | Qty |\n|---|---|\n| Bolt | 2 |\n"
	csvText := "Part;Qty\nBolt;2\n"
	tests := []struct {
		name, data string
		want       []summary
		fails      bool
	}{
		{"BOM.md", md, []summary{{Part: "Bolt", Qty: "2"}}, false},
		{"docs/BOM.MARKDOWN", md, []summary{{Part: "Bolt", Qty: "2"}}, false},
		{"BOM.csv", csvText, []summary{{Part: "Bolt", Qty: "2"}}, false},
		{`C:\bundle\BOM.TSV`, "Part\tQty\nBolt\t2\n", []summary{{Part: "Bolt", Qty: "2"}}, false},
		{"BOM.txt", csvText, []summary{{Part: "Bolt", Qty: "2"}}, false},
		{"BOM", md, []summary{{Part: "Bolt", Qty: "2"}}, false},
		{"BOM", csvText, []summary{{Part: "Bolt", Qty: "2"}}, false},
		{"BOM.md", csvText, nil, true}, // a .md file must hold a table
		{"BOM.csv", md, nil, true},     // "Intro" is read as a header
	}
	for _, tt := range tests {
		b, err := Parse(tt.name, []byte(tt.data))
		if tt.fails {
			if !errors.Is(err, ErrMalformed) {
				t.Errorf("Parse(%q): %v; want ErrMalformed", tt.name, err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.name, err)
			continue
		}
		if got := summarize(b); !reflect.DeepEqual(got, tt.want) {
			t.Errorf("Parse(%q) = %+v; want %+v", tt.name, got, tt.want)
		}
	}
}

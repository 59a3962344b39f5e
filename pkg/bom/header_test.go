package bom

import (
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"reflect"
	"strconv"
	"strings"
	"testing"
)

func TestClassifyHeader(t *testing.T) {
	tests := []struct {
		header string
		field  string
		cur    string
	}{
		{"Part", FieldPart, ""},
		{"PART", FieldPart, ""},
		{"  part  ", FieldPart, ""},
		{"Part Name", FieldPart, ""},
		{"part_name", FieldPart, ""},
		{"Part-Name", FieldPart, ""},
		{"Name", FieldPart, ""},
		{"Item", FieldPart, ""},
		{"Component", FieldPart, ""},
		{"Description", FieldPart, ""},
		{"Designation", FieldPart, ""},
		{"Part (name)", FieldPart, ""},
		{"Part number", FieldPartNumber, ""},
		{"Part No.", FieldPartNumber, ""},
		{"Part #", FieldPartNumber, ""},
		{"P/N", FieldPartNumber, ""},
		{"MPN", FieldPartNumber, ""},
		{"SKU", FieldPartNumber, ""},
		{"Mfr. Part Number", FieldPartNumber, ""},
		{"Manufacturer", FieldManufacturer, ""},
		{"MFR", FieldManufacturer, ""},
		{"Qty", FieldQuantity, ""},
		{"QTY.", FieldQuantity, ""},
		{"Quantity", FieldQuantity, ""},
		{"Amount", FieldQuantity, ""},
		{"Count", FieldQuantity, ""},
		{"pcs", FieldQuantity, ""},
		{"Number", FieldQuantity, ""},
		{"Qty (pcs)", FieldQuantity, ""},
		{"Quantity [pieces]", FieldQuantity, ""},
		{"Unit", FieldUnit, ""},
		{"UoM", FieldUnit, ""},
		{"Units", FieldUnit, ""},
		{"Unit cost", FieldUnitCost, ""},
		{"unit_cost", FieldUnitCost, ""},
		{"UnitCost", FieldUnitCost, ""},
		{"Unit Price", FieldUnitCost, ""},
		{"Price", FieldUnitCost, ""},
		{"Cost", FieldUnitCost, ""},
		{"Cost each", FieldUnitCost, ""},
		{"Price each", FieldUnitCost, ""},
		{"Each", FieldUnitCost, ""},
		{"Price/unit", FieldUnitCost, ""},
		{"Unit cost (EUR)", FieldUnitCost, "EUR"},
		{"Unit cost [usd]", FieldUnitCost, "USD"},
		{"Price €", FieldUnitCost, "EUR"},
		{"Price(€)", FieldUnitCost, "EUR"},
		{"€ each", FieldUnitCost, "EUR"},
		{"Cost in GBP", FieldUnitCost, "GBP"},
		{"EUR price", FieldUnitCost, "EUR"},
		{"Price US$", FieldUnitCost, "USD"},
		{"Price ₹", FieldUnitCost, "INR"},
		{"Currency", FieldCurrency, ""},
		{"Cur.", FieldCurrency, ""},
		{"Supplier", FieldSupplier, ""},
		{"Vendor", FieldSupplier, ""},
		{"Source", FieldSupplier, ""},
		{"Where to buy", FieldSupplier, ""},
		{"Link", FieldLink, ""},
		{"URL", FieldLink, ""},
		{"href", FieldLink, ""},
		{"Website", FieldLink, ""},
		{"Notes", FieldNotes, ""},
		{"Comment", FieldNotes, ""},
		{"Remarks", FieldNotes, ""},
		{"Total", FieldTotal, ""},
		{"Line total", FieldTotal, ""},
		{"Extended cost", FieldTotal, ""},
		{"Total (EUR)", FieldTotal, "EUR"},
		{"Subtotal", FieldTotal, ""},

		{"#", "", ""},
		{"No.", "", ""},
		{"Item no", "", ""},
		{"Weight (kg)", "", ""},
		{"Designator", "", ""},
		{"", "", ""},
		{"Unit weight", "", ""},
		{"Price list", "", ""},
	}
	for _, tt := range tests {
		f, _, cur := classifyHeader(tt.header)
		if f != tt.field || cur != tt.cur {
			t.Errorf("classifyHeader(%q) = %q, %q; want %q, %q", tt.header, f, cur, tt.field, tt.cur)
		}
	}
}

// TestHeaderChoice checks which column wins when several name one field.
func TestHeaderChoice(t *testing.T) {
	tests := []struct {
		name    string
		header  string
		columns map[string]string
		extra   []string // headers kept in Extra
	}{
		{
			name:    "description beats item",
			header:  "Item,Description,Qty",
			columns: map[string]string{FieldPart: "Description", FieldQuantity: "Qty"},
			extra:   []string{"Item"},
		},
		{
			name:    "part beats name and description",
			header:  "Description,Name,Part",
			columns: map[string]string{FieldPart: "Part"},
			extra:   []string{"Description", "Name"},
		},
		{
			name:    "unit price beats price",
			header:  "Part,Price,Unit price",
			columns: map[string]string{FieldPart: "Part", FieldUnitCost: "Unit price"},
			extra:   []string{"Price"},
		},
		{
			name:    "leftmost on a tie",
			header:  "Part,Qty,Quantity",
			columns: map[string]string{FieldPart: "Part", FieldQuantity: "Qty"},
			extra:   []string{"Quantity"},
		},
		{
			name:    "part number is its own field",
			header:  "Part,Part number,Manufacturer,Supplier",
			columns: map[string]string{FieldPart: "Part", FieldPartNumber: "Part number", FieldManufacturer: "Manufacturer", FieldSupplier: "Supplier"},
		},
		{
			name:    "part number names the part when there is no name",
			header:  "MPN,Qty",
			columns: map[string]string{FieldPart: "MPN", FieldPartNumber: "MPN", FieldQuantity: "Qty"},
		},
		{
			name:    "unknown and duplicate headers",
			header:  "Part,Weight,Weight,,Total",
			columns: map[string]string{FieldPart: "Part", FieldTotal: "Total"},
			extra:   []string{"Weight", "Weight (2)", "column 4"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := &builder{file: "t.csv"}
			if err := b.header(&row{line: 1, cells: strings.Split(tt.header, ",")}); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(b.bom.Columns, tt.columns) {
				t.Errorf("Columns = %v; want %v", b.bom.Columns, tt.columns)
			}
			var extra []string
			for _, x := range b.extras {
				extra = append(extra, x.key)
			}
			if !reflect.DeepEqual(extra, tt.extra) {
				t.Errorf("extra columns = %q; want %q", extra, tt.extra)
			}
		})
	}
}

// docTable reads the synonym table of the package comment: field -> the
// header names listed for it, in order.
func docTable(t *testing.T) (map[string][]string, []string) {
	src, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	table := make(map[string][]string)
	var order []string
	field := ""
	for _, line := range strings.Split(string(src), "\n") {
		rest, ok := strings.CutPrefix(line, "//\t|")
		if !ok || strings.HasPrefix(rest, "---") || strings.HasPrefix(rest, " Field") {
			continue
		}
		cells := strings.Split(rest, "|")
		if len(cells) < 2 {
			t.Fatalf("doc table line %q has no cells", line)
		}
		if f := strings.TrimSpace(cells[0]); f != "" {
			field = strings.TrimSuffix(f, " (ignored)")
			order = append(order, field)
		}
		for _, name := range strings.Split(cells[1], ",") {
			if name = strings.TrimSpace(name); name != "" {
				table[field] = append(table[field], name)
			}
		}
	}
	if len(order) == 0 {
		t.Fatal("no synonym table found in doc.go")
	}
	return table, order
}

// TestDocTableMatchesLookup keeps the synonym table in the package comment,
// which the docs quote, in step with lookupHeader: every name listed must
// map to its field, in non-decreasing rank, and every name lookupHeader
// knows must be listed.
func TestDocTableMatchesLookup(t *testing.T) {
	table, order := docTable(t)
	want := []string{FieldPart, FieldPartNumber, FieldManufacturer, FieldQuantity, FieldUnit, FieldUnitCost,
		FieldCurrency, FieldSupplier, FieldLink, FieldNotes, FieldTotal}
	if !reflect.DeepEqual(order, want) {
		t.Errorf("doc table fields = %q; want %q", order, want)
	}
	listed := make(map[string]string) // normalised name -> field
	for field, names := range table {
		rank := 0
		for _, name := range names {
			f, r, _ := classifyHeader(name)
			if f != field {
				t.Errorf("doc lists %q under %s, but it maps to %q", name, field, f)
			}
			if r < rank {
				t.Errorf("doc lists %q (rank %d) after a name of rank %d: list names in order of precedence", name, r, rank)
			}
			rank = r
			listed[normHeader(name)] = field
		}
	}

	// Every string in a case of lookupHeader's switch must be listed.
	fset := token.NewFileSet()
	file, err := parser.ParseFile(fset, "header.go", nil, 0)
	if err != nil {
		t.Fatal(err)
	}
	cases := 0
	ast.Inspect(file, func(n ast.Node) bool {
		fn, ok := n.(*ast.FuncDecl)
		if !ok || fn.Name.Name != "lookupHeader" {
			return true
		}
		ast.Inspect(fn, func(n ast.Node) bool {
			cc, ok := n.(*ast.CaseClause)
			if !ok {
				return true
			}
			for _, e := range cc.List {
				lit, ok := e.(*ast.BasicLit)
				if !ok {
					continue
				}
				name, _ := strconv.Unquote(lit.Value)
				cases++
				f, _ := lookupHeader(name)
				if listed[name] != f {
					t.Errorf("lookupHeader knows %q (%s) but the doc table does not list it there", name, f)
				}
			}
			return true
		})
		return false
	})
	if cases < 50 {
		t.Fatalf("found only %d cases in lookupHeader; is the test reading the right function?", cases)
	}
}

package bom

import (
	"strings"
	"unicode"
)

// Field names: the keys of BOM.Columns, the names in Change.Fields and
// ParseError.Field.
const (
	FieldPart         = "part"
	FieldPartNumber   = "part_number"
	FieldManufacturer = "manufacturer"
	FieldQuantity     = "quantity"
	FieldUnit         = "unit"
	FieldUnitCost     = "unit_cost"
	FieldCurrency     = "currency"
	FieldSupplier     = "supplier"
	FieldLink         = "link"
	FieldNotes        = "notes"
	// FieldTotal is a line-total column: recognised so that it is not kept
	// in Line.Extra, but its values are ignored (Line.Cost computes them).
	FieldTotal = "total"
)

// fieldLabel is how a field is named in messages.
func fieldLabel(f string) string { return strings.ReplaceAll(f, "_", " ") }

// maxHeaderLen is the longest header that may name a field; longer ones
// are unknown columns, not worth normalising.
const maxHeaderLen = 100

// normHeader reduces a header to the form the synonym table is written in:
// lower case letters and digits only, with "#" read as "no" ("Part #" is
// "partno").
func normHeader(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == '#':
			b.WriteString("no")
		case unicode.IsLetter(r) || unicode.IsDigit(r):
			b.WriteRune(r)
		}
	}
	return b.String()
}

// lookupHeader maps a normalised header to its field and its rank among the
// field's synonyms: when several columns name one field, the lowest rank
// wins (then the leftmost). The order matters most for the part: in
// "Item, Description, Qty" the item column is usually a row number, so
// description ranks first. Keep this table and the one in doc.go in step;
// TestDocTableMatchesLookup checks it.
func lookupHeader(n string) (field string, rank int) {
	switch n {
	case "part":
		return FieldPart, 0
	case "partname":
		return FieldPart, 1
	case "name":
		return FieldPart, 2
	case "itemname":
		return FieldPart, 3
	case "component":
		return FieldPart, 4
	case "designation":
		return FieldPart, 5
	case "description":
		return FieldPart, 6
	case "item":
		return FieldPart, 7
	case "article":
		return FieldPart, 8

	case "partnumber", "partno", "partnum", "partnr":
		return FieldPartNumber, 0
	case "pn", "mpn", "sku":
		return FieldPartNumber, 1
	case "manufacturerpartnumber", "mfrpartnumber", "mfrpartno", "mfrpn", "mfgpartnumber", "mfgpn":
		return FieldPartNumber, 2
	case "ordernumber", "orderno", "ordercode", "articlenumber", "articleno", "artno", "catalognumber", "catalogno", "cataloguenumber":
		return FieldPartNumber, 3

	case "manufacturer", "mfr", "mfg", "maker", "brand", "make":
		return FieldManufacturer, 0

	case "quantity", "qty":
		return FieldQuantity, 0
	case "amount", "count", "pcs", "pieces", "number", "quant", "qnty":
		return FieldQuantity, 1

	case "unit", "units", "uom", "unitofmeasure", "unitofmeasurement":
		return FieldUnit, 0

	case "unitcost", "unitprice":
		return FieldUnitCost, 0
	case "costeach", "priceeach", "costperunit", "priceperunit", "costunit", "priceunit",
		"costperpiece", "priceperpiece", "costpc", "pricepc", "costpcs", "pricepcs", "each":
		return FieldUnitCost, 1
	case "price", "cost", "rate":
		return FieldUnitCost, 2

	case "currency", "cur", "curr", "ccy":
		return FieldCurrency, 0

	case "supplier", "vendor", "source", "wheretobuy", "distributor", "seller", "shop", "store", "buyfrom", "purchasefrom", "sourcing":
		return FieldSupplier, 0

	case "link", "url", "href", "website", "web", "weblink", "productlink", "producturl", "supplierlink", "supplierurl", "buylink", "purchaselink":
		return FieldLink, 0

	case "notes", "note", "comment", "comments", "remarks", "remark":
		return FieldNotes, 0

	case "total", "linetotal", "totalcost", "totalprice", "totalamount", "amounttotal", "extendedcost", "extendedprice",
		"extcost", "extprice", "linecost", "lineprice", "subtotal", "sum", "grandtotal":
		return FieldTotal, 0
	}
	return "", 0
}

// classifyHeader maps a header as written to a field. A currency named in a
// cost or total header ("Unit cost (EUR)", "Price €", "Cost in USD") is
// returned as cur; a parenthesised or bracketed qualifier is otherwise
// ignored when the header does not match without it ("Qty (pcs)").
func classifyHeader(h string) (field string, rank int, cur string) {
	if len(h) > maxHeaderLen {
		return "", 0, ""
	}
	if base, c, ok := cutHeaderCurrency(h); ok {
		if f, r := lookupHeader(normHeader(base)); f == FieldUnitCost || f == FieldTotal {
			return f, r, c
		}
	}
	if f, r := lookupHeader(normHeader(h)); f != "" {
		return f, r, ""
	}
	if base, _, ok := cutBracket(h); ok {
		if f, r := lookupHeader(normHeader(base)); f != "" {
			return f, r, ""
		}
	}
	return "", 0, ""
}

// cutBracket splits "Qty (pcs)" into "Qty" and "pcs".
func cutBracket(h string) (base, inner string, ok bool) {
	h = strings.TrimSpace(h)
	var open byte
	switch {
	case strings.HasSuffix(h, ")"):
		open = '('
	case strings.HasSuffix(h, "]"):
		open = '['
	default:
		return "", "", false
	}
	i := strings.LastIndexByte(h, open)
	if i <= 0 {
		return "", "", false
	}
	return strings.TrimSpace(h[:i]), strings.TrimSpace(h[i+1 : len(h)-1]), true
}

// cutHeaderCurrency finds a currency in a header: in a trailing bracket, as
// a trailing or leading symbol, or as a trailing or leading ISO code word.
func cutHeaderCurrency(h string) (base, cur string, ok bool) {
	h = strings.TrimSpace(h)
	if b, inner, found := cutBracket(h); found {
		if c, isCur := currencyToken(inner); isCur {
			return trimIn(b), c, true
		}
		return "", "", false
	}
	if c, rest, found := cutCurrencyPrefix(h); found && rest != "" {
		return rest, c, true
	}
	if c, rest, found := cutCurrencySuffix(h); found && rest != "" {
		return trimIn(rest), c, true
	}
	return "", "", false
}

// trimIn drops a trailing " in" ("Cost in" of "Cost in EUR").
func trimIn(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > 3 && strings.EqualFold(s[len(s)-3:], " in") {
		return strings.TrimSpace(s[:len(s)-3])
	}
	return s
}

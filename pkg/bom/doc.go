// Package bom reads the bill of materials (BOM) of an open-hardware design
// from a CSV, TSV or Markdown file, totals its cost per currency and
// compares two versions of it.
//
// # Input
//
// Parse picks the syntax from the file name; ParseCSV and ParseMarkdown
// read one syntax each. Delimited text may use commas, semicolons or tabs;
// the delimiter is sniffed from the header line. A Markdown BOM is the first
// pipe table of the document. The input may be UTF-8 (a leading byte-order
// mark is dropped) or UTF-16 with a byte-order mark; input that is not
// valid UTF-8 is read as Windows-1252, which is what spreadsheets on
// Windows write.
//
// The first row that is not blank is the header. Blank rows are skipped,
// and so are the summary rows spreadsheets add at the bottom: a row with no
// quantity whose part cell is "Total", "Subtotal" or "Sum" (or is empty
// while another cell is).
//
// # Columns
//
// Header names are matched loosely: case, spaces, underscores and
// punctuation are ignored ("Unit_Cost", "unit cost" and "UNIT-COST" are the
// same), "#" reads as "no" ("Part #" is "part no"), and a bracketed
// qualifier is dropped when the name does not match with it ("Qty (pcs)").
// A currency in a cost header ("Unit cost (EUR)", "Price €", "Cost in
// USD") applies to every cost in the column. The names, by field:
//
//	| Field          | Header names                                                                                   |
//	|----------------|------------------------------------------------------------------------------------------------|
//	| part           | part, part name, name, item name, component, designation, description, item, article           |
//	| part_number    | part number, part no, part #, part num, part nr, P/N, MPN, SKU, manufacturer part number,      |
//	|                | mfr part number, mfr part no, mfr P/N, mfg part number, mfg P/N, order number, order no,       |
//	|                | order code, article number, article no, art no, catalog number, catalog no, catalogue number   |
//	| manufacturer   | manufacturer, mfr, mfg, maker, brand, make                                                     |
//	| quantity       | quantity, qty, amount, count, pcs, pieces, number, quant, qnty                                 |
//	| unit           | unit, units, UoM, unit of measure, unit of measurement                                         |
//	| unit_cost      | unit cost, unit price, cost each, price each, cost per unit, price per unit, cost/unit,        |
//	|                | price/unit, cost per piece, price per piece, cost/pc, price/pc, cost/pcs, price/pcs, each,     |
//	|                | price, cost, rate                                                                              |
//	| currency       | currency, cur, curr, ccy                                                                       |
//	| supplier       | supplier, vendor, source, where to buy, distributor, seller, shop, store, buy from,            |
//	|                | purchase from, sourcing                                                                        |
//	| link           | link, URL, href, website, web, web link, product link, product URL, supplier link,             |
//	|                | supplier URL, buy link, purchase link                                                          |
//	| notes          | notes, note, comment, comments, remarks, remark                                                |
//	| total (ignored)| total, line total, total cost, total price, total amount, amount total, extended cost,         |
//	|                | extended price, ext cost, ext price, line cost, line price, subtotal, sum, grand total         |
//
// Only a part column is required. "Manufacturer" is who makes the part,
// "supplier" where to buy it, so they are separate fields; a part number is
// always its own field, and when the table has no part name column the
// part number column names the part too. When several columns name one
// field, the one whose name comes earlier in the list above wins ("Part"
// over "Description", "Unit price" over "Price"), then the leftmost; the
// others are kept in Line.Extra like unknown columns. Line totals are
// recognised and ignored: Line.Cost computes them.
//
// # Values
//
// A quantity is a number, optionally followed by a unit ("2.5 m", "4 pcs")
// and with a multiplication sign ("4x", "× 4"). It is 1 when the BOM has no
// quantity column, and also when the cell is empty or a placeholder ("-",
// "?", "n/a", "TBD"): people leave the quantity of single items blank. A
// negative quantity is an error; zero is allowed (a part listed but not
// fitted). A unit after the number is used when the unit column is absent
// or empty; otherwise the unit column wins.
//
// A unit cost is a number with an optional currency before or after it:
// "$3.50", "3,50 €", "EUR 12", "12 USD". The symbols $ (USD), € (EUR),
// £ (GBP), ₹ (INR), ₽ (RUB), ₩ (KRW), zł (PLN), Kč (CZK), US$, CA$ or C$,
// AU$ or A$, NZ$, HK$, MX$, S$ (SGD) and R$ (BRL) are recognised; other
// currencies by their ISO 4217 code, which in a cost cell must be upper
// case. An empty or placeholder cell means no cost (Line.HasCost is
// false); a negative cost is an error. The currency column takes a symbol
// or a code in any case. The cost cell, the currency column and the cost
// header may each name the currency, and must agree when they do.
//
// Numbers are exact (Decimal, four places), read by ParseDecimal: "1,5" and
// "3,50" are 1.5 and 3.5, "1,000" is one thousand, "1.000" is one, and
// "1,000.50", "1.000,50" and "1 000,50" are all 1000.5.
//
// # Errors and limits
//
// A BOM that cannot be read gives a *ParseError, whose message names the
// place like a compiler does, `BOM.csv:12:3: unit cost "abc" is not a
// number`, and which wraps ErrMalformed. Input over MaxSize bytes, with
// more than MaxLines lines or MaxColumns columns, a cell over MaxCellSize or
// more than MaxExtraCells cells in unknown columns gives an error wrapping
// ErrTooLarge instead. BOMs arrive from peers, so these limits bound the
// memory and time one can cost: parsing takes time linear in the input.
//
// # Comparing
//
// Compare matches the lines of two BOMs by part number, or by part name
// when there is none (see Line.Key), and reports the lines added, removed
// and changed, field by field; Diff.Format writes that as a report.
package bom

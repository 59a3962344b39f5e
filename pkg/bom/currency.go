package bom

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// isoCodes lists the ISO 4217 currency codes (current ones and a few
// recently withdrawn that old BOMs may still use), space separated.
const isoCodes = " AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BHD BIF BMD BND BOB BRL BSD BTN BWP BYN BZD" +
	" CAD CDF CHF CLP CNY COP CRC CUC CUP CVE CZK DJF DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GNF GTQ GYD" +
	" HKD HNL HRK HTG HUF IDR ILS INR IQD IRR ISK JMD JOD JPY KES KGS KHR KMF KPW KRW KWD KYD KZT LAK LBP LKR LRD LSL LYD" +
	" MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR MZN NAD NGN NIO NOK NPR NZD OMR PAB PEN PGK PHP PKR PLN PYG QAR" +
	" RON RSD RUB RWF SAR SBD SCR SDG SEK SGD SHP SLE SLL SOS SRD SSP STN SVC SYP SZL THB TJS TMT TND TOP TRY TTD TWD TZS" +
	" UAH UGX USD UYU UZS VED VES VND VUV WST XAF XCD XCG XOF XPF YER ZAR ZMW ZWG ZWL "

// currencySymbol is a symbol and the code it stands for.
type currencySymbol struct{ sym, code string }

// currencySymbols returns the symbols recognised in costs and headers,
// longest first so that "US$" is tried before "$". Symbols shared by
// several currencies (¥, kr, R, Rs) are left out: write the code.
func currencySymbols() [18]currencySymbol {
	return [...]currencySymbol{
		{"US$", "USD"}, {"CA$", "CAD"}, {"AU$", "AUD"}, {"NZ$", "NZD"}, {"HK$", "HKD"}, {"MX$", "MXN"},
		{"C$", "CAD"}, {"A$", "AUD"}, {"S$", "SGD"}, {"R$", "BRL"}, {"zł", "PLN"}, {"Kč", "CZK"},
		{"$", "USD"}, {"€", "EUR"}, {"£", "GBP"}, {"₹", "INR"}, {"₽", "RUB"}, {"₩", "KRW"},
	}
}

// isoCode returns s upper-cased if it is an ISO 4217 code. With anyCase
// false the code must already be upper case: in a cost cell, "12 top" is
// more likely a typing slip than 12 Tongan paʻanga.
func isoCode(s string, anyCase bool) (string, bool) {
	if len(s) != 3 {
		return "", false
	}
	u := strings.ToUpper(s)
	if !anyCase && u != s {
		return "", false
	}
	for i := 0; i < 3; i++ {
		if u[i] < 'A' || u[i] > 'Z' {
			return "", false
		}
	}
	return u, strings.Contains(isoCodes, " "+u+" ")
}

// currencyToken reads a whole token as a currency: a symbol or an ISO code
// in any case. It is used for currency cells and bracketed header
// qualifiers, where nothing else is expected.
func currencyToken(s string) (string, bool) {
	s = strings.TrimSpace(s)
	for _, cs := range currencySymbols() {
		if s == cs.sym {
			return cs.code, true
		}
	}
	return isoCode(s, true)
}

// cutCurrencyPrefix removes a leading currency symbol, or an upper-case ISO
// code followed by something that is not a letter: "$3.50", "EUR 12".
func cutCurrencyPrefix(s string) (code, rest string, ok bool) {
	for _, cs := range currencySymbols() {
		if strings.HasPrefix(s, cs.sym) {
			return cs.code, strings.TrimSpace(s[len(cs.sym):]), true
		}
	}
	if len(s) > 3 {
		if c, isCode := isoCode(s[:3], false); isCode {
			if r, _ := utf8.DecodeRuneInString(s[3:]); !unicode.IsLetter(r) {
				return c, strings.TrimSpace(s[3:]), true
			}
		}
	}
	return "", s, false
}

// cutCurrencySuffix removes a trailing currency symbol or upper-case ISO
// code: "3,50 €", "12 USD".
func cutCurrencySuffix(s string) (code, rest string, ok bool) {
	for _, cs := range currencySymbols() {
		if strings.HasSuffix(s, cs.sym) {
			return cs.code, strings.TrimSpace(s[:len(s)-len(cs.sym)]), true
		}
	}
	if len(s) > 3 {
		if c, isCode := isoCode(s[len(s)-3:], false); isCode {
			if r, _ := utf8.DecodeLastRuneInString(s[:len(s)-3]); !unicode.IsLetter(r) {
				return c, strings.TrimSpace(s[:len(s)-3]), true
			}
		}
	}
	return "", s, false
}

// isPlaceholder reports whether a cell says "no value": a dash, a question
// mark, n/a, TBD.
func isPlaceholder(s string) bool {
	switch strings.ToLower(s) {
	case "", "-", "--", "–", "—", "?", "n/a", "na", "tbd", "tba":
		return true
	}
	return false
}

// parseCost reads a unit cost cell, with an optional currency symbol or
// code before or after the number. has is false for an empty or
// placeholder cell.
func parseCost(s string) (v Decimal, cur string, has bool, err error) {
	s = strings.TrimSpace(s)
	if isPlaceholder(s) {
		return Decimal{}, "", false, nil
	}
	sign := ""
	if rest, found := strings.CutPrefix(s, "-"); found {
		sign, s = "-", strings.TrimSpace(rest)
	} else if rest, found := strings.CutPrefix(s, "\u2212"); found {
		sign, s = "-", strings.TrimSpace(rest)
	}
	pre, s, _ := cutCurrencyPrefix(s)
	suf, s, _ := cutCurrencySuffix(s)
	if pre != "" && suf != "" && pre != suf {
		return Decimal{}, "", false, ErrSyntax
	}
	cur = pre + suf
	if pre != "" && suf != "" {
		cur = pre
	}
	if sign != "" && (strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+")) {
		return Decimal{}, "", false, ErrSyntax
	}
	v, err = parseDecimal(sign + s)
	if err != nil {
		return Decimal{}, "", false, err
	}
	return v, cur, true, nil
}

// parseQuantity reads a quantity cell: a number, optionally with a unit
// after it ("2.5 m", "4 pcs") and a multiplication sign before or after it
// ("4x", "× 4"). An empty or placeholder cell is 1.
func parseQuantity(s string) (q Decimal, unit string, err error) {
	s = strings.TrimSpace(s)
	if isPlaceholder(s) {
		return DecimalFromInt(1), "", nil
	}
	for _, x := range []string{"x", "X", "×"} {
		if rest, ok := strings.CutPrefix(s, x); ok {
			if r, _ := utf8.DecodeRuneInString(strings.TrimSpace(rest)); r >= '0' && r <= '9' {
				s = strings.TrimSpace(rest)
				break
			}
		}
		if rest, ok := strings.CutSuffix(s, x); ok {
			if r, _ := utf8.DecodeLastRuneInString(rest); r >= '0' && r <= '9' || r == ' ' {
				s = strings.TrimSpace(rest)
				break
			}
		}
	}
	i := strings.IndexFunc(s, func(r rune) bool {
		return !(r >= '0' && r <= '9' || r == '.' || r == ',' || r == '+' || r == '-' || r == '\u2212' || isGroupMark(r))
	})
	num := s
	if i >= 0 {
		num, unit = strings.TrimSpace(s[:i]), strings.TrimSpace(s[i:])
		first, n := utf8.DecodeRuneInString(unit)
		if !unicode.IsLetter(first) {
			return Decimal{}, "", ErrSyntax
		}
		// "1e3" is a number in scientific notation, not 1 of unit "e3".
		if next, _ := utf8.DecodeRuneInString(unit[n:]); (first == 'e' || first == 'E') && (next >= '0' && next <= '9' || next == '+' || next == '-') {
			return Decimal{}, "", ErrSyntax
		}
	}
	q, err = parseDecimal(num)
	if err != nil {
		return Decimal{}, "", err
	}
	return q, unit, nil
}

package bom

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"strings"
	"unicode/utf8"
)

// Places is the number of decimal places a Decimal holds.
const Places = 4

// scale is 10^Places: a Decimal's int64 counts 1/scale units.
const scale = 10000

// Errors returned by ParseDecimal, each wrapped with the text that failed.
var (
	// ErrSyntax means the text is not a number in any accepted form.
	ErrSyntax = errors.New("not a number")
	// ErrRange means the number is too large in magnitude for a Decimal.
	ErrRange = errors.New("number out of range")
	// ErrPrecision means the number has non-zero digits beyond the fourth
	// decimal place. Decimal never rounds what it reads, so that totals
	// computed here agree with the file.
	ErrPrecision = errors.New("more than 4 decimal places")
)

// Decimal is an exact fixed-point number with four decimal places, used for
// quantities and money. The zero value is 0. Its range is symmetric:
// ±922337203685477.5807. Floats are never involved, so sums of costs are
// exact.
type Decimal struct {
	units int64 // value × 10^4
}

// The bounds at which Add, Sub and Mul saturate.
func maxDecimal() Decimal { return Decimal{math.MaxInt64} }
func minDecimal() Decimal { return Decimal{-math.MaxInt64} }

// DecimalFromInt returns n as a Decimal, saturating when n has more than 15
// digits.
func DecimalFromInt(n int64) Decimal {
	const limit = math.MaxInt64 / scale
	switch {
	case n > limit:
		return maxDecimal()
	case n < -limit:
		return minDecimal()
	}
	return Decimal{n * scale}
}

// ParseDecimal reads a decimal number written the way people write them in
// spreadsheets, in English or continental style:
//
//   - an optional sign (+, - or U+2212 minus), then digits with at most one
//     decimal separator: "1", "-2", "1.5", ".5", "5.";
//   - a dot is a decimal point unless the number has several dots
//     ("1.000.000"), or also has a comma after it ("1.000,50");
//   - when both a dot and a comma appear, the last one is the decimal
//     separator and the other groups thousands: "1,000.50", "1.000,50";
//   - a single comma is a decimal comma ("1,5", "3,50", "0,125",
//     "1234,567"), except that a comma with exactly three digits after it
//     and one to three digits before it, the first not 0, groups thousands:
//     "1,000" is one thousand and "12,345" is 12345. Several commas group
//     thousands: "1,000,000";
//   - a space, no-break space, narrow no-break space or apostrophe may group
//     thousands too: "1 000,50", "1'000.50";
//   - grouping must be regular: one to three digits, then groups of exactly
//     three, all before the decimal separator and all with the same mark.
//
// Digits beyond the fourth decimal place must be zeros (ErrPrecision
// otherwise); magnitudes of 10^15 or more give ErrRange; anything else that
// is not a number gives ErrSyntax. Each error is wrapped with the text.
func ParseDecimal(s string) (Decimal, error) {
	d, err := parseDecimal(strings.TrimSpace(s))
	if err != nil {
		return Decimal{}, fmt.Errorf("parse decimal %q: %w", s, err)
	}
	return d, nil
}

// isGroupMark reports whether r may separate groups of thousands (besides
// the dot and the comma, whose role depends on context).
func isGroupMark(r rune) bool {
	switch r {
	case ' ', '\u00a0', '\u202f', '\'', '\u2019':
		return true
	}
	return false
}

func parseDecimal(s string) (Decimal, error) {
	neg := false
	switch {
	case strings.HasPrefix(s, "-"):
		neg, s = true, s[1:]
	case strings.HasPrefix(s, "\u2212"):
		neg, s = true, s[len("\u2212"):]
	case strings.HasPrefix(s, "+"):
		s = s[1:]
	}
	if s == "" {
		return Decimal{}, ErrSyntax
	}
	dots, commas := 0, 0
	lastDot, lastComma := -1, -1
	for i, r := range s {
		switch {
		case r >= '0' && r <= '9':
		case r == '.':
			dots++
			lastDot = i
		case r == ',':
			commas++
			lastComma = i
		case isGroupMark(r):
		default:
			return Decimal{}, ErrSyntax
		}
	}
	sep := -1 // byte index of the decimal separator, if any
	switch {
	case dots > 0 && commas > 0:
		if lastDot > lastComma {
			if dots > 1 {
				return Decimal{}, ErrSyntax
			}
			sep = lastDot
		} else {
			if commas > 1 {
				return Decimal{}, ErrSyntax
			}
			sep = lastComma
		}
	case dots == 1:
		sep = lastDot
	case commas == 1 && !groupsThousands(s, lastComma):
		sep = lastComma
	}
	intPart, frac := s, ""
	if sep >= 0 {
		intPart, frac = s[:sep], s[sep+1:]
	}
	for i := 0; i < len(frac); i++ {
		if frac[i] < '0' || frac[i] > '9' {
			return Decimal{}, ErrSyntax
		}
	}
	digits, ok := ungroup(intPart)
	if !ok || digits == "" && frac == "" {
		return Decimal{}, ErrSyntax
	}
	for len(frac) > Places {
		if frac[len(frac)-1] != '0' {
			return Decimal{}, ErrPrecision
		}
		frac = frac[:len(frac)-1]
	}
	const limit = math.MaxInt64 / scale
	var whole int64
	for i := 0; i < len(digits); i++ {
		whole = whole*10 + int64(digits[i]-'0')
		if whole > limit {
			return Decimal{}, ErrRange
		}
	}
	var f int64
	for i := 0; i < Places; i++ {
		f *= 10
		if i < len(frac) {
			f += int64(frac[i] - '0')
		}
	}
	if whole*scale > math.MaxInt64-f {
		return Decimal{}, ErrRange
	}
	u := whole*scale + f
	if neg {
		u = -u
	}
	return Decimal{u}, nil
}

// groupsThousands reports whether the lone comma at index i of s groups
// thousands ("1,000", "12,345") rather than being a decimal comma.
func groupsThousands(s string, i int) bool {
	before, after := s[:i], s[i+1:]
	if len(after) != 3 || len(before) < 1 || len(before) > 3 || before[0] == '0' {
		return false
	}
	for _, part := range []string{before, after} {
		for j := 0; j < len(part); j++ {
			if part[j] < '0' || part[j] > '9' {
				return false
			}
		}
	}
	return true
}

// ungroup removes regular thousands grouping from the integer part of a
// number and returns its digits.
func ungroup(s string) (string, bool) {
	var mark rune
	var groups []string
	start := 0
	for i, r := range s {
		if r >= '0' && r <= '9' {
			continue
		}
		if mark != 0 && r != mark {
			return "", false
		}
		mark = r
		groups = append(groups, s[start:i])
		start = i + utf8.RuneLen(r)
	}
	if mark == 0 {
		return s, true
	}
	groups = append(groups, s[start:])
	if n := len(groups[0]); n < 1 || n > 3 {
		return "", false
	}
	for _, g := range groups[1:] {
		if len(g) != 3 {
			return "", false
		}
	}
	return strings.Join(groups, ""), true
}

// String returns d in plain notation with a dot and no grouping, without
// trailing zeros after the point: "3.5", "120", "-0.0125".
func (d Decimal) String() string {
	return d.Fixed(0)
}

// Fixed returns d like String but with at least places digits after the
// point (at most 4): Fixed(2) of 512.4 is "512.40", of 0.1234 "0.1234".
func (d Decimal) Fixed(places int) string {
	places = max(0, min(places, Places))
	u := d.units
	var b strings.Builder
	if u < 0 {
		b.WriteByte('-')
		u = -u
	}
	fmt.Fprintf(&b, "%d", u/scale)
	frac := fmt.Sprintf("%04d", u%scale)
	for len(frac) > places && frac[len(frac)-1] == '0' {
		frac = frac[:len(frac)-1]
	}
	if frac != "" {
		b.WriteByte('.')
		b.WriteString(frac)
	}
	return b.String()
}

// Sign returns -1, 0 or +1.
func (d Decimal) Sign() int {
	switch {
	case d.units < 0:
		return -1
	case d.units > 0:
		return 1
	}
	return 0
}

// IsZero reports whether d is 0.
func (d Decimal) IsZero() bool { return d.units == 0 }

// Cmp compares d and e and returns -1, 0 or +1.
func (d Decimal) Cmp(e Decimal) int {
	switch {
	case d.units < e.units:
		return -1
	case d.units > e.units:
		return 1
	}
	return 0
}

// Neg returns -d.
func (d Decimal) Neg() Decimal { return Decimal{-d.units} }

// Add returns d+e, saturating at ±922337203685477.5807. Nothing parsed
// by this package saturates: Parse refuses a BOM whose line costs or
// totals would not fit.
func (d Decimal) Add(e Decimal) Decimal {
	s, ok := d.add(e)
	if !ok {
		if e.units > 0 {
			return maxDecimal()
		}
		return minDecimal()
	}
	return s
}

// Sub returns d-e, saturating like Add.
func (d Decimal) Sub(e Decimal) Decimal { return d.Add(e.Neg()) }

// Mul returns d×e rounded half away from zero to four decimal places,
// saturating like Add.
func (d Decimal) Mul(e Decimal) Decimal {
	p, ok := d.mul(e)
	if !ok {
		if (d.units < 0) != (e.units < 0) {
			return minDecimal()
		}
		return maxDecimal()
	}
	return p
}

// add is Add reporting overflow instead of saturating.
func (d Decimal) add(e Decimal) (Decimal, bool) {
	s := d.units + e.units
	if (e.units > 0 && s < d.units) || (e.units < 0 && s > d.units) || s == math.MinInt64 {
		return Decimal{}, false
	}
	return Decimal{s}, true
}

// mul is Mul reporting overflow instead of saturating.
func (d Decimal) mul(e Decimal) (Decimal, bool) {
	a, b := d.units, e.units
	neg := (a < 0) != (b < 0)
	ua, ub := absU(a), absU(b)
	hi, lo := bits.Mul64(ua, ub)
	if hi >= scale {
		return Decimal{}, false
	}
	q, r := bits.Div64(hi, lo, scale)
	if r*2 >= scale {
		q++
	}
	if q > math.MaxInt64 {
		return Decimal{}, false
	}
	p := int64(q)
	if neg {
		p = -p
	}
	return Decimal{p}, true
}

func absU(x int64) uint64 {
	if x < 0 {
		return uint64(-x)
	}
	return uint64(x)
}

// MarshalText returns d.String(), so a Decimal is a JSON string with no
// loss of precision.
func (d Decimal) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText parses text with ParseDecimal.
func (d *Decimal) UnmarshalText(text []byte) error {
	v, err := ParseDecimal(string(text))
	if err != nil {
		return err
	}
	*d = v
	return nil
}

package bom

import (
	"encoding/json"
	"errors"
	"testing"
)

// dec parses s or fails the test.
func dec(t testing.TB, s string) Decimal {
	t.Helper()
	d, err := ParseDecimal(s)
	if err != nil {
		t.Fatalf("ParseDecimal(%q): %v", s, err)
	}
	return d
}

func TestParseDecimal(t *testing.T) {
	tests := []struct {
		in   string
		want string // String() of the result
		err  error
	}{
		{in: "1", want: "1"},
		{in: "0", want: "0"},
		{in: "-0", want: "0"},
		{in: "+2", want: "2"},
		{in: "-2", want: "-2"},
		{in: "\u22122.5", want: "-2.5"},
		{in: "  1.5  ", want: "1.5"},
		{in: "1.5", want: "1.5"},
		{in: "1,5", want: "1.5"},
		{in: "3,50", want: "3.5"},
		{in: "0,125", want: "0.125"},
		{in: "0,500", want: "0.5"},
		{in: "1234,567", want: "1234.567"},
		{in: "1,2345", want: "1.2345"},
		{in: "1,000", want: "1000"},
		{in: "12,345", want: "12345"},
		{in: "1.000", want: "1"},
		{in: "1,000,000", want: "1000000"},
		{in: "1.000.000", want: "1000000"},
		{in: "1,000.50", want: "1000.5"},
		{in: "1.000,50", want: "1000.5"},
		{in: "1,234,567.8", want: "1234567.8"},
		{in: "1 000,50", want: "1000.5"},
		{in: "1\u00a0000", want: "1000"},
		{in: "1'000.50", want: "1000.5"},
		{in: ".5", want: "0.5"},
		{in: ",5", want: "0.5"},
		{in: "5.", want: "5"},
		{in: "5,", want: "5"},
		{in: "007", want: "7"},
		{in: "0.0001", want: "0.0001"},
		{in: "1.50000", want: "1.5"},
		{in: "922337203685477.5807", want: "922337203685477.5807"},
		{in: "-922337203685477.5807", want: "-922337203685477.5807"},

		{in: "922337203685477.5808", err: ErrRange},
		{in: "-922337203685477.5808", err: ErrRange},
		{in: "1000000000000000", err: ErrRange},
		{in: "99999999999999999999999", err: ErrRange},
		{in: "0.00001", err: ErrPrecision},
		{in: "1,23456", err: ErrPrecision},
		{in: "abc", err: ErrSyntax},
		{in: "", err: ErrSyntax},
		{in: " ", err: ErrSyntax},
		{in: ".", err: ErrSyntax},
		{in: ",", err: ErrSyntax},
		{in: "-", err: ErrSyntax},
		{in: "--1", err: ErrSyntax},
		{in: "+-1", err: ErrSyntax},
		{in: "1-", err: ErrSyntax},
		{in: "1.2.3", err: ErrSyntax},
		{in: "1.5.000", err: ErrSyntax},
		{in: "1,50,0", err: ErrSyntax},
		{in: "1,000.000,5", err: ErrSyntax},
		{in: "1.000,000.5", err: ErrSyntax},
		{in: "1,0000.5", err: ErrSyntax},
		{in: "1000,000.5", err: ErrSyntax},
		{in: "1,000 000", err: ErrSyntax},
		{in: "1 5", err: ErrSyntax},
		{in: "1.5 ", want: "1.5"},
		{in: "1e3", err: ErrSyntax},
		{in: "0x10", err: ErrSyntax},
		{in: "NaN", err: ErrSyntax},
		{in: "Inf", err: ErrSyntax},
		{in: "١٢", err: ErrSyntax}, // Arabic-Indic digits are not read
	}
	for _, tt := range tests {
		got, err := ParseDecimal(tt.in)
		if tt.err != nil {
			if !errors.Is(err, tt.err) {
				t.Errorf("ParseDecimal(%q) = %v, %v; want error %v", tt.in, got, err, tt.err)
			}
			continue
		}
		if err != nil || got.String() != tt.want {
			t.Errorf("ParseDecimal(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestDecimalString(t *testing.T) {
	tests := []struct {
		in            string
		str, fixed2   string
		fixed0, fixed string // Fixed(0), Fixed(4)
	}{
		{"0", "0", "0.00", "0", "0.0000"},
		{"512.4", "512.4", "512.40", "512.4", "512.4000"},
		{"-0.0125", "-0.0125", "-0.0125", "-0.0125", "-0.0125"},
		{"120", "120", "120.00", "120", "120.0000"},
		{"3.5", "3.5", "3.50", "3.5", "3.5000"},
	}
	for _, tt := range tests {
		d := dec(t, tt.in)
		if d.String() != tt.str || d.Fixed(2) != tt.fixed2 || d.Fixed(0) != tt.fixed0 || d.Fixed(4) != tt.fixed {
			t.Errorf("%s: String %q Fixed(2) %q Fixed(0) %q Fixed(4) %q", tt.in, d, d.Fixed(2), d.Fixed(0), d.Fixed(4))
		}
	}
	if got := dec(t, "1.5").Fixed(9); got != "1.5000" {
		t.Errorf("Fixed(9) = %q; want at most 4 places", got)
	}
}

func TestDecimalArithmetic(t *testing.T) {
	tests := []struct {
		op   string
		a, b string
		want string
	}{
		{"add", "0.1", "0.2", "0.3"},
		{"add", "512.40", "85.80", "598.2"},
		{"add", "-1", "0.25", "-0.75"},
		{"add", "922337203685477", "1", "922337203685477.5807"}, // saturates
		{"add", "-922337203685477", "-1", "-922337203685477.5807"},
		{"sub", "598.20", "512.40", "85.8"},
		{"sub", "1", "3", "-2"},
		{"mul", "8", "0.35", "2.8"},
		{"mul", "6", "4.85", "29.1"},
		{"mul", "0.0001", "0.5", "0.0001"}, // 0.00005 rounds half away from zero
		{"mul", "0.0001", "0.4", "0"},
		{"mul", "-0.0001", "0.5", "-0.0001"},
		{"mul", "0.3333", "3", "0.9999"},
		{"mul", "1.2345", "1.2345", "1.524"}, // 1.52399025
		{"mul", "2.5", "-4", "-10"},
		{"mul", "100000000", "100000000", "922337203685477.5807"},
		{"mul", "-100000000", "100000000", "-922337203685477.5807"},
		{"mul", "922337203685477.5807", "1", "922337203685477.5807"},
		{"mul", "0", "922337203685477", "0"},
	}
	for _, tt := range tests {
		a, b := dec(t, tt.a), dec(t, tt.b)
		var got Decimal
		switch tt.op {
		case "add":
			got = a.Add(b)
		case "sub":
			got = a.Sub(b)
		case "mul":
			got = a.Mul(b)
		}
		if got.String() != tt.want {
			t.Errorf("%s %s %s = %s; want %s", tt.a, tt.op, tt.b, got, tt.want)
		}
	}
}

func TestDecimalCompare(t *testing.T) {
	a, b := dec(t, "1.5"), dec(t, "1,50")
	if a != b || a.Cmp(b) != 0 {
		t.Errorf("1.5 and 1,50 differ: %v %v", a, b)
	}
	if dec(t, "2").Cmp(a) != 1 || a.Cmp(dec(t, "2")) != -1 {
		t.Error("Cmp order wrong")
	}
	if !(Decimal{}).IsZero() || a.IsZero() || a.Sign() != 1 || a.Neg().Sign() != -1 || (Decimal{}).Sign() != 0 {
		t.Error("IsZero/Sign wrong")
	}
	if got := DecimalFromInt(42); got.String() != "42" {
		t.Errorf("DecimalFromInt(42) = %s", got)
	}
	if got := DecimalFromInt(1 << 62); got.String() != "922337203685477.5807" {
		t.Errorf("DecimalFromInt(2^62) = %s; want saturation", got)
	}
}

func TestDecimalJSON(t *testing.T) {
	in := struct{ Cost Decimal }{dec(t, "1234.5")}
	b, err := json.Marshal(in)
	if err != nil || string(b) != `{"Cost":"1234.5"}` {
		t.Fatalf("Marshal = %s, %v", b, err)
	}
	var out struct{ Cost Decimal }
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Fatalf("Unmarshal = %+v, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"Cost":"x"}`), &out); !errors.Is(err, ErrSyntax) {
		t.Fatalf("Unmarshal of a non-number: %v; want ErrSyntax", err)
	}
}

package main

import (
	"math"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, tc := range []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
		{[]float64{5, 5, 1}, 5},
	} {
		if got := median(tc.in); got != tc.want {
			t.Errorf("median(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if !math.IsNaN(median(nil)) {
		t.Error("median(nil) is not NaN")
	}
}

func TestByteSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64
		str  string
	}{
		{"256MiB", 256 << 20, "256MiB"},
		{"8mib", 8 << 20, "8MiB"},
		{"1GiB", 1 << 30, "1GiB"},
		{"1.5GiB", 3 << 29, "1536MiB"},
		{"500MB", 500e6, "500000000"},
		{"64K", 64 << 10, "64KiB"},
		{"1048576", 1 << 20, "1MiB"},
	} {
		var s byteSize
		if err := s.Set(tc.in); err != nil {
			t.Errorf("Set(%q): %v", tc.in, err)
			continue
		}
		if int64(s) != tc.want || s.String() != tc.str {
			t.Errorf("Set(%q) = %d %q, want %d %q", tc.in, int64(s), s, tc.want, tc.str)
		}
	}
	for _, bad := range []string{"", "MiB", "-1MiB", "lots", "1 PiB"} {
		var s byteSize
		if err := s.Set(bad); err == nil {
			t.Errorf("Set(%q) = %d, want an error", bad, int64(s))
		}
	}
}

func TestReportRatio(t *testing.T) {
	r := &report{}
	m := r.metric("x", "x", "MB/s", "higher")
	for _, v := range []float64{10, 30, 20} {
		m.add(nameCommons, v)
	}
	for _, v := range []float64{40, 40} {
		m.add(nameKubo, v)
	}
	m.add(refTCP, 1000)
	r.finish()
	if m.Ratio == nil || *m.Ratio != 0.5 {
		t.Fatalf("ratio %v, want 0.5", m.Ratio)
	}
	if r.metric("x", "", "", "") != m {
		t.Error("metric with the same id was added twice")
	}
}

package config

import (
	"strings"
	"testing"
)

func TestSizeBytes(t *testing.T) {
	tests := []struct {
		in   Size
		want int64
	}{
		{"", 0},
		{"0", 0},
		{"0MiB", 0},
		{"1048576", 1 << 20},
		{"256MiB", 256 << 20},
		{"64 MiB", 64 << 20},
		{"1.5GiB", 3 << 29},
		{"500MB", 500_000_000},
		{"2TB", 2_000_000_000_000},
		{"4KiB", 4096},
		{"10B", 10},
	}
	for _, tc := range tests {
		got, err := tc.in.Bytes()
		if err != nil || got != tc.want {
			t.Errorf("Size(%q).Bytes() = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestSizeRefusals(t *testing.T) {
	tests := []struct {
		in      Size
		wantMsg string
	}{
		{"lots", "such as 256MiB"},
		{"-1MiB", "such as 256MiB"},
		{"1Mb", "unknown unit"},
		{"1 mib", "unknown unit"},
		{"1.2.3MB", "such as 256MiB"},
		{"99999999999999TiB", "more than any disk"},
	}
	for _, tc := range tests {
		got, err := tc.in.Bytes()
		if err == nil {
			t.Errorf("Size(%q).Bytes() = %d; want an error", tc.in, got)
			continue
		}
		if !strings.Contains(err.Error(), tc.wantMsg) {
			t.Errorf("Size(%q): error %q does not say %q", tc.in, err, tc.wantMsg)
		}
	}
}

func TestDatastoreSizesValidated(t *testing.T) {
	if _, err := Parse([]byte("[datastore]\nmin_free = \"1Gb\"\n")); err == nil || !strings.Contains(err.Error(), "datastore.min_free") {
		t.Fatalf("a bad min_free: %v", err)
	}
	if _, err := Parse([]byte("[datastore]\nballast = \"big\"\n")); err == nil || !strings.Contains(err.Error(), "datastore.ballast") {
		t.Fatalf("a bad ballast: %v", err)
	}
	c, err := Parse([]byte("[datastore]\nmin_free = \"1GiB\"\nballast = \"0\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := c.Datastore.MinFree.Bytes(); n != 1<<30 {
		t.Fatalf("min_free = %d", n)
	}
	d := Default()
	if n, _ := d.Datastore.MinFree.Bytes(); n != 256<<20 {
		t.Errorf("default min_free = %d, want 256 MiB", n)
	}
	if n, _ := d.Datastore.Ballast.Bytes(); n != 64<<20 {
		t.Errorf("default ballast = %d, want 64 MiB", n)
	}
}

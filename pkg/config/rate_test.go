package config

import (
	"strings"
	"testing"
)

func TestRateBytesPerSecond(t *testing.T) {
	tests := []struct {
		in   Rate
		want int64
	}{
		{"", 0},
		{"0", 0},
		{"0kbit", 0},
		{"256kbit", 32_000},
		{"2Mbit", 250_000},
		{"2mbit", 250_000},
		{"1Gbit", 125_000_000},
		{"64KiB", 65_536},
		{"1MB", 1_000_000},
		{"1.5MiB", 1_572_864},
		{"2Mbit/s", 250_000},
		{" 2 Mbit ", 250_000},
		{"16kbit", MinRate},
		{"2000B", MinRate},
	}
	for _, tc := range tests {
		got, err := tc.in.BytesPerSecond()
		if err != nil || got != tc.want {
			t.Errorf("Rate(%q).BytesPerSecond() = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestRateRefusals(t *testing.T) {
	tests := []struct {
		in      Rate
		wantMsg string
	}{
		{"fast", "such as 256kbit"},
		{"1000", "no unit"},
		{"-1MB", "such as 256kbit"},
		{"1Mb", "bits or bytes"},
		{"1mbps", "bits or bytes"},
		{"1MBps", "bits or bytes"},
		{"3 parsecs", "unknown unit"},
		{"1.2.3MB", "such as 256kbit"},
		{"1e3MB", "unknown unit"},
		{"1bit", "less than a byte"},
		{"99999999999999999999GiB", "more than any link"},
	}
	for _, tc := range tests {
		got, err := tc.in.BytesPerSecond()
		if err == nil {
			t.Errorf("Rate(%q).BytesPerSecond() = %d; want an error", tc.in, got)
			continue
		}
		if !strings.Contains(err.Error(), tc.wantMsg) {
			t.Errorf("Rate(%q): error %q does not say %q", tc.in, err, tc.wantMsg)
		}
	}
}

// TestRatesKeptAsWritten: a file's rates are read and written back as
// their author wrote them, and each error names its key.
func TestRatesKeptAsWritten(t *testing.T) {
	c, err := Parse([]byte("[swarm]\nupload_rate = \"2Mbit\"\npeer_download_rate = \"64KiB\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Swarm.UploadRate != "2Mbit" || c.Swarm.PeerDownloadRate != "64KiB" || c.Swarm.DownloadRate != "0" {
		t.Fatalf("parsed %+v", c.Swarm)
	}
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "upload_rate = '2Mbit'") {
		t.Errorf("marshalled config does not keep upload_rate as written:\n%s", b)
	}
	c.Swarm.UploadRate, c.Swarm.PeerUploadRate = "2 kilobits", "8kbit"
	err = c.Validate()
	for _, key := range []string{"swarm.upload_rate", "swarm.peer_upload_rate"} {
		if err == nil || !strings.Contains(err.Error(), key) {
			t.Errorf("Validate: %v; want an error naming %s", err, key)
		}
	}
}

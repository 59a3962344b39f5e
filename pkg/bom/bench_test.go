package bom

import (
	"os"
	"testing"
)

func benchmarkParse(b *testing.B, path string) {
	data, err := os.ReadFile(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		if _, err := Parse(path, data); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseCSV(b *testing.B)      { benchmarkParse(b, "testdata/brick-press-bom.csv") }
func BenchmarkParseMarkdown(b *testing.B) { benchmarkParse(b, "testdata/brick-press-bom.md") }

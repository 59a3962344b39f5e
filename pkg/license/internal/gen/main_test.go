package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestGenerate compares the output for a small licence list with
// testdata/spdx_gen.golden (rewrite it with UPDATE_GOLDEN=1), and checks that
// generating twice gives the same bytes.
func TestGenerate(t *testing.T) {
	in, err := os.ReadFile(filepath.Join("testdata", "spdx.json"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := generate(in, "spdx-license-list@0.0.0", "license")
	if err != nil {
		t.Fatal(err)
	}
	again, err := generate(in, "spdx-license-list@0.0.0", "license")
	if err != nil || !bytes.Equal(got, again) {
		t.Fatalf("second run differs (%v)", err)
	}
	golden := filepath.Join("testdata", "spdx_gen.golden")
	if os.Getenv("UPDATE_GOLDEN") != "" {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("generated:\n%s\nwant:\n%s", got, want)
	}
	if !strings.HasPrefix(string(got), "// Code generated ") || !strings.Contains(string(got), " DO NOT EDIT.\n") {
		t.Error("no generated-code header")
	}
}

func TestGenerateRefuses(t *testing.T) {
	for _, in := range []string{
		``,
		`[]`,
		`{}`,
		`{"MIT": {"name": "", "osiApproved": true}}`,
		`{"MIT OR ISC": {"name": "x", "osiApproved": true}}`,
		`{"MIT": {"name": "MIT License", "osiApproved": "yes"}}`,
	} {
		if _, err := generate([]byte(in), "x", "license"); err == nil {
			t.Errorf("generate(%s) succeeded", in)
		}
	}
}

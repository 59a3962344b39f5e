package metadata

import (
	"errors"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	good := `name = "brick-press"
title = "Press"
kind = "product-design"
tags = ["a", "b"]
bom = "bom.csv"
derived_from = ["bafy"]
[licenses]
hardware = "CERN-OHL-S-2.0"
[[authors]]
name = "Ada"
contact = "ada@example.org"
`
	m, err := Parse([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "brick-press" || m.Licenses.Hardware != "CERN-OHL-S-2.0" || len(m.Authors) != 1 || m.Authors[0].Contact != "ada@example.org" || len(m.Tags) != 2 {
		t.Fatalf("parsed %+v", m)
	}
	enc, err := Encode(m)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := Parse(enc); err != nil || again.Name != m.Name || again.Authors[0] != m.Authors[0] {
		t.Fatalf("encode/parse round trip: %+v %v", again, err)
	}
	for name, c := range map[string]struct{ in, want string }{
		"unknown key":      {"titel = \"x\"\n", `commons.toml:1: invalid bundle metadata: unknown key "titel"`},
		"unknown nested":   {"[licenses]\nhw = \"MIT\"\n", `unknown key "licenses.hw"`},
		"bad syntax":       {"name = \"a\nb\"\n", "commons.toml:1:"},
		"wrong type":       {"tags = \"a\"\n", "commons.toml:1"},
		"author with none": {"[[authors]]\ncontact = \"x\"\n", "author 1 has no name"},
		"too big":          {strings.Repeat("#", MaxSize+1), "more than"},
	} {
		_, err := Parse([]byte(c.in))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want ErrInvalid containing %q", name, err, c.want)
		}
	}
}

func TestMerge(t *testing.T) {
	base := Metadata{Name: "a", Title: "A", Tags: []string{"x"}, Licenses: Licenses{Hardware: "MIT", Software: "MIT"}}
	over := Metadata{Title: "B", Licenses: Licenses{Software: "GPL-3.0-only"}}
	m := base.Merge(over)
	if m.Name != "a" || m.Title != "B" || m.Licenses.Hardware != "MIT" || m.Licenses.Software != "GPL-3.0-only" || len(m.Tags) != 1 {
		t.Fatalf("merged %+v", m)
	}
}

func TestParseAuthor(t *testing.T) {
	for in, want := range map[string]Author{
		"Ada":                       {Name: "Ada"},
		"Ada Lovelace <ada@x.org>":  {Name: "Ada Lovelace", Contact: "ada@x.org"},
		" Bo <https://bo.example> ": {Name: "Bo", Contact: "https://bo.example"},
	} {
		got, err := ParseAuthor(in)
		if err != nil || got != want {
			t.Errorf("ParseAuthor(%q) = %+v, %v", in, got, err)
		}
		if again, _ := ParseAuthor(got.String()); again != got {
			t.Errorf("String round trip of %+v gave %+v", got, again)
		}
	}
	for _, in := range []string{"", "<a@b>", "Ada <a@b"} {
		if _, err := ParseAuthor(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("ParseAuthor(%q): %v, want ErrInvalid", in, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte("name = \"a\"\n[licenses]\nhardware = \"MIT\"\n[[authors]]\nname = \"x\"\n"))
	f.Add([]byte("tags = [1, 2]"))
	f.Add([]byte("[[authors]]\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := Parse(b)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error %v does not wrap ErrInvalid", err)
			}
			return
		}
		for _, a := range m.Authors {
			if strings.TrimSpace(a.Name) == "" {
				t.Fatalf("an author without a name was accepted")
			}
		}
	})
}

package search

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		in, want string
		err      error
	}{
		{in: "brick", want: `("brick")`},
		{in: "  brick   press ", want: `("brick" AND "press")`},
		{in: `"brick press"`, want: `("brick press")`},
		{in: "press*", want: `("press" *)`},
		{in: "brick -steel", want: `("brick") NOT "steel"`},
		{in: "title:press", want: `(title : "press")`},
		{in: "tag:earth", want: `(tags : "earth")`},
		{in: "Title:press", want: `(title : "press")`},
		{in: "colour:red", want: `("colour:red")`},
		{in: "brick OR earth", want: `("brick" OR "earth")`},
		{in: "OR brick OR OR", want: `("brick")`},
		{in: `say "hi`, want: `("say" AND "hi")`},
		{in: `a"b`, want: `("a" AND "b")`},
		{in: `quote""inside`, want: `("quote" AND "inside")`},
		{in: `-"x y" z`, want: `("z") NOT "x y"`},
		{in: "M12x80 50×50", want: `("M12x80" AND "50×50")`},
		{in: "", err: ErrEmptyQuery},
		{in: "  --- ... ", err: ErrEmptyQuery},
		{in: "-steel", err: ErrEmptyQuery},
		{in: "OR", err: ErrEmptyQuery},
		{in: "*", err: ErrEmptyQuery},
	} {
		got, err := Parse(tc.in)
		if !errors.Is(err, tc.err) || got != tc.want {
			t.Errorf("Parse(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

func demoDocs() []Doc {
	return []Doc{
		{ID: "v1", Name: "brick-press", Title: "Compressed earth brick press", Summary: "A manual lever press.", Tags: []string{"construction", "earth"},
			Publisher: "12D3KooWA", Instructions: "# Building\nWeld the mould box from 6 mm plates.", Version: "1.0", Sequence: 1, Open: true},
		{ID: "v2", Name: "brick-press", Title: "Compressed earth brick press", Summary: "A manual lever press, stronger.", Tags: []string{"construction", "earth"},
			Publisher: "12D3KooWA", Instructions: "# Building\nWeld the mould box from 8 mm plates.", Version: "1.1", Sequence: 2, Open: true},
		{ID: "t1", Name: "tractor", Title: "Open tractor", Summary: "A small tractor for market gardens.", Tags: []string{"farming"},
			Publisher: "12D3KooWB", Instructions: "Bolt the engine to the frame. No mould here.", Sequence: 1, Open: false},
	}
}

func addAll(t *testing.T, x *Index, docs []Doc) {
	t.Helper()
	for _, d := range docs {
		if err := x.Add(context.Background(), d); err != nil {
			t.Fatal(err)
		}
	}
}

func ids(hits []Hit) string {
	var s []string
	for _, h := range hits {
		s = append(s, h.ID)
	}
	return strings.Join(s, ",")
}

func TestSearch(t *testing.T) {
	ctx := context.Background()
	x, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	addAll(t, x, demoDocs())

	for _, tc := range []struct{ q, want string }{
		{"tractor", "t1"},
		{"mould", "t1,v2,v1"}, // heads first (by relevance), the old version last
		{"8 mm", "v2"},
		{"tag:farming", "t1"},
		{"title:mould", ""},
		{"instructions:engine", "t1"},
		{"BRICK", "v2,v1"},
		{"brick -stronger", "v1"},
		{"tract*", "t1"},
		{"publisher:12D3KooWB", "t1"},
		{"constructión", "v2,v1"}, // accents are ignored
		{"nothing-matches-this", ""},
	} {
		hits, err := x.Search(ctx, tc.q, 10)
		if err != nil {
			t.Errorf("Search(%q): %v", tc.q, err)
			continue
		}
		if got := ids(hits); got != tc.want {
			t.Errorf("Search(%q) = %q, want %q", tc.q, got, tc.want)
		}
	}

	hits, err := x.Search(ctx, "mould", 10)
	if err != nil {
		t.Fatal(err)
	}
	if !hits[0].Head || !hits[1].Head || hits[2].Head || hits[2].ID != "v1" {
		t.Errorf("head flags wrong: %+v", hits)
	}
	var matched []string
	for _, f := range hits[1].Snippet {
		if f.Match {
			matched = append(matched, f.Text)
		}
	}
	if strings.Join(matched, ",") != "mould" {
		t.Errorf("snippet of v2 marks %q, want mould: %+v", matched, hits[0].Snippet)
	}
	if h := hits[1]; h.Title != "Compressed earth brick press" || h.Version != "1.1" || h.Sequence != 2 || !h.Open || strings.Join(h.Tags, ",") != "construction,earth" {
		t.Errorf("hit fields wrong: %+v", h)
	}

	if _, err := x.Search(ctx, " -- ", 10); !errors.Is(err, ErrEmptyQuery) {
		t.Errorf("empty query: %v, want ErrEmptyQuery", err)
	}
	if hits, err := x.Search(ctx, "earth", 1); err != nil || len(hits) != 1 {
		t.Errorf("limit 1: %d hits, %v", len(hits), err)
	}
}

// TestAddIdempotent: adding a version again replaces it, never duplicates,
// and a Partial doc is reported missing by Has until it is complete.
func TestAddIdempotent(t *testing.T) {
	ctx := context.Background()
	x, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	d := demoDocs()[2]
	d.Partial = true
	d.Instructions = ""
	addAll(t, x, []Doc{d, d})
	if n, _ := x.Len(ctx); n != 1 {
		t.Fatalf("Len = %d after adding one doc twice, want 1", n)
	}
	if has, err := x.Has(ctx, "t1"); err != nil || has {
		t.Errorf("Has(partial) = %v, %v; want false", has, err)
	}
	if hits, _ := x.Search(ctx, "engine", 10); len(hits) != 0 {
		t.Errorf("partial doc matched its missing instructions")
	}
	addAll(t, x, demoDocs()[2:])
	if has, err := x.Has(ctx, "t1"); err != nil || !has {
		t.Errorf("Has(complete) = %v, %v; want true", has, err)
	}
	if hits, _ := x.Search(ctx, "engine", 10); ids(hits) != "t1" {
		t.Errorf("re-added doc not found by its instructions: %q", ids(hits))
	}
	if n, _ := x.Len(ctx); n != 1 {
		t.Errorf("Len = %d, want 1", n)
	}
	if has, _ := x.Has(ctx, "absent"); has {
		t.Error("Has(absent) = true")
	}
}

// TestPersist: an index on disk keeps its documents across Close and Open.
func TestPersist(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "search")
	x, err := Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	addAll(t, x, demoDocs())
	if err := x.Close(); err != nil {
		t.Fatal(err)
	}
	x, err = Open(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	hits, err := x.Search(ctx, "tractor", 10)
	if err != nil || ids(hits) != "t1" {
		t.Fatalf("after reopen: %q, %v", ids(hits), err)
	}
	if has, _ := x.Has(ctx, "v1"); !has {
		t.Error("v1 lost across reopen")
	}
}

// TestHostileText: snippet markers inside a document cannot forge a match,
// and invalid UTF-8 is indexed without error.
func TestHostileText(t *testing.T) {
	ctx := context.Background()
	x, err := Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer x.Close()
	addAll(t, x, []Doc{{ID: "h", Name: "evil", Title: "x" + markOpen + "<script>" + markClose + " needle \xff\xfe",
		Summary: strings.Repeat("long ", MaxField), Instructions: strings.Repeat("y", MaxInstructions+10) + " needle"}})
	hits, err := x.Search(ctx, "needle", 10)
	if err != nil || len(hits) != 1 {
		t.Fatalf("%d hits, %v", len(hits), err)
	}
	for _, f := range hits[0].Snippet {
		if f.Match && f.Text != "needle" {
			t.Errorf("forged match %q", f.Text)
		}
	}
	if strings.Contains(hits[0].Title, markOpen) {
		t.Error("marker kept in the title")
	}
}

func TestFragments(t *testing.T) {
	got := fragments("a " + markOpen + "b" + markClose + " c " + markOpen + "d")
	want := []Fragment{{Text: "a "}, {Text: "b", Match: true}, {Text: " c "}, {Text: "d", Match: true}}
	if len(got) != len(want) {
		t.Fatalf("%+v", got)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("fragment %d = %+v, want %+v", i, got[i], want[i])
		}
	}
}

// FuzzParse: whatever a person types, Parse either says there is nothing
// to search or gives an expression SQLite accepts.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"brick", `"a b" -c d*`, "title:x OR tag:y", `""`, `"*"`, "-", "a:b:c", "NEAR(a b)", "a AND b", "x^y", "{a b}:c", "\ue000", "title:"} {
		f.Add(s)
	}
	x, err := Open("")
	if err != nil {
		f.Fatal(err)
	}
	defer x.Close()
	for _, d := range demoDocs() {
		if err := x.Add(context.Background(), d); err != nil {
			f.Fatal(err)
		}
	}
	f.Fuzz(func(t *testing.T, q string) {
		expr, err := Parse(q)
		if errors.Is(err, ErrEmptyQuery) {
			return
		}
		if err != nil {
			t.Fatalf("Parse(%q): %v", q, err)
		}
		if _, err := x.Search(context.Background(), q, 5); err != nil {
			t.Fatalf("Parse(%q) = %s, which SQLite refuses: %v", q, expr, err)
		}
	})
}

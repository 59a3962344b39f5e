package search

import (
	"strings"
	"unicode"
)

// maxTerms bounds how many terms of a query are used; the rest are
// ignored, so that a pasted page of text cannot make a query expensive.
const maxTerms = 32

// fields maps the field names a query may use ("title:press") to the
// index's columns.
var fields = map[string]string{
	"name":         "name",
	"title":        "title",
	"tag":          "tags",
	"tags":         "tags",
	"summary":      "summary",
	"instructions": "instructions",
	"publisher":    "publisher",
}

// term is one parsed element of a query.
type term struct {
	text   string // the words, without quotes
	field  string // column, or "" for all
	prefix bool   // word* : matches words starting with text
	not    bool   // -word : excludes documents with it
	or     bool   // the OR operator (text is empty)
}

// Parse turns what a person typed into an FTS5 query expression that SQLite
// always accepts. The language:
//
//	brick press       both words, anywhere (in any form: case and accents are ignored)
//	"brick press"     the phrase
//	press*            words starting with press
//	-steel            not containing steel (needs at least one other word)
//	title:press       press in the title; fields are name, title, tag(s),
//	                  summary, instructions, publisher
//	brick OR earth    either
//
// Anything else (punctuation, unbalanced quotes, unknown fields) is read
// as plain words. A query with no word to search for gives ErrEmptyQuery.
func Parse(q string) (string, error) {
	terms := lex(q)
	var pos, neg []string
	lastOr := true // no OR at the start
	for _, t := range terms {
		if t.or {
			if !lastOr {
				pos = append(pos, "OR")
				lastOr = true
			}
			continue
		}
		e := `"` + strings.ReplaceAll(t.text, `"`, `""`) + `"`
		if t.prefix {
			e += " *"
		}
		if t.field != "" {
			e = t.field + " : " + e
		}
		if t.not {
			neg = append(neg, e)
			continue
		}
		pos = append(pos, e)
		lastOr = false
	}
	if len(pos) > 0 && pos[len(pos)-1] == "OR" {
		pos = pos[:len(pos)-1]
	}
	if len(pos) == 0 {
		return "", ErrEmptyQuery
	}
	var b strings.Builder
	b.WriteString("(")
	for i, p := range pos {
		if i > 0 {
			if p == "OR" || pos[i-1] == "OR" {
				b.WriteString(" ")
			} else {
				b.WriteString(" AND ")
			}
		}
		b.WriteString(p)
	}
	b.WriteString(")")
	for _, n := range neg {
		b.WriteString(" NOT ")
		b.WriteString(n)
	}
	return b.String(), nil
}

// lex splits q into terms, keeping only those with something to search.
func lex(q string) []term {
	var out []term
	// Control characters (NUL ends SQLite's reading of the string) are
	// spaces.
	rs := []rune(strings.ToValidUTF8(q, " "))
	for i, r := range rs {
		if unicode.IsControl(r) {
			rs[i] = ' '
		}
	}
	for i := 0; i < len(rs) && len(out) < maxTerms; {
		if unicode.IsSpace(rs[i]) {
			i++
			continue
		}
		var t term
		if rs[i] == '-' && i+1 < len(rs) && !unicode.IsSpace(rs[i+1]) {
			t.not = true
			i++
		}
		// field:
		if j := fieldEnd(rs, i); j > i {
			if col, ok := fields[strings.ToLower(string(rs[i:j]))]; ok && j+1 < len(rs) && !unicode.IsSpace(rs[j+1]) {
				t.field = col
				i = j + 1
			}
		}
		if rs[i] == '"' {
			end := i + 1
			for end < len(rs) && rs[end] != '"' {
				end++
			}
			t.text = string(rs[i+1 : end])
			i = end + 1
		} else {
			end := i
			for end < len(rs) && !unicode.IsSpace(rs[end]) && rs[end] != '"' {
				end++
			}
			t.text = string(rs[i:end])
			i = end
			if !t.not && t.field == "" && t.text == "OR" {
				out = append(out, term{or: true})
				continue
			}
		}
		if i < len(rs) && rs[i] == '*' {
			t.prefix = true
			i++
		}
		if strings.HasSuffix(t.text, "*") {
			t.prefix = true
		}
		t.text = strings.TrimRight(t.text, "*")
		if hasWord(t.text) {
			out = append(out, t)
		}
	}
	return out
}

// fieldEnd returns the index of the ':' ending a field name at i, or i.
func fieldEnd(rs []rune, i int) int {
	for j := i; j < len(rs) && j-i <= len("instructions"); j++ {
		switch {
		case rs[j] == ':':
			return j
		case rs[j] < 'A' || rs[j] > 'z' || !unicode.IsLetter(rs[j]):
			return i
		}
	}
	return i
}

// hasWord reports whether s holds a letter or digit, which the index's
// tokenizer makes a word of; a term without one would match nothing.
func hasWord(s string) bool {
	for _, r := range s {
		if unicode.IsLetter(r) || unicode.IsNumber(r) {
			return true
		}
	}
	return false
}

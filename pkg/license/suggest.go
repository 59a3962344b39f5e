package license

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode"
)

// Suggestions for unknown identifiers. People write licences the way
// they say them: "GPLv3", "Apache 2.0", "CC-BY 4.0", "CC0", "MIT License".
// Each identifier, and what the user wrote, is reduced to a key: lower
// case, split into runs of letters and of digits, without punctuation,
// without the words "v", "version" and "license", and without ".0"
// version parts ("GPL-3.0" and "GPLv3" both become gpl3). A suggestion is
// only ever shown, never applied: which licence a design is under is the
// licensor's statement, and "GPLv3" does not say whether later versions
// are allowed.

// keyedID is an SPDX identifier (current or deprecated) and its key.
type keyedID struct {
	id    string
	parts []string
	key   string // parts joined
}

// suggestIndex is built once from go-spdx's lists and never modified.
var suggestIndex = sync.OnceValue(func() []keyedID {
	ids := spdxIDs()
	var out []keyedID
	for _, m := range []map[string]string{ids.active, ids.deprecated} {
		for _, id := range m {
			parts := keyParts(id)
			out = append(out, keyedID{id: id, parts: parts, key: strings.Join(parts, "")})
		}
	}
	slices.SortFunc(out, func(a, b keyedID) int { return strings.Compare(a.id, b.id) })
	return out
})

// keyParts reduces a licence name or identifier to the parts of its key.
func keyParts(s string) []string {
	s = strings.ToLower(strings.ReplaceAll(s, "+", " or later "))
	var parts []string
	var cur []rune
	curDigit := false
	flush := func() {
		if len(cur) > 0 {
			parts = append(parts, string(cur))
			cur = cur[:0]
		}
	}
	for _, r := range s {
		letter, digit := unicode.IsLetter(r), unicode.IsDigit(r)
		if !letter && !digit {
			flush()
			continue
		}
		if len(cur) > 0 && digit != curDigit {
			flush()
		}
		cur = append(cur, r)
		curDigit = digit
	}
	flush()
	out := parts[:0]
	for i, p := range parts {
		switch p {
		case "v", "ver", "version", "license", "licence", "licenses", "licences":
			continue
		}
		// "gplv" before "3": the v of GPLv3.
		if len(p) > 1 && strings.HasSuffix(p, "v") && !isDigits(p) && i+1 < len(parts) && isDigits(parts[i+1]) {
			p = strings.TrimSuffix(p, "v")
		}
		// The 0 of 3.0, 1.0.0.
		if strings.Trim(p, "0") == "" && len(out) > 0 && isDigits(out[len(out)-1]) {
			continue
		}
		out = append(out, p)
	}
	return out
}

func isDigits(s string) bool {
	return s != "" && strings.TrimFunc(s, unicode.IsDigit) == ""
}

// unknownReason explains that words[i] is not an SPDX identifier and
// suggests one when there is an obvious candidate.
func unknownReason(words []string, i int) string {
	w := words[i]
	var msg string
	if _, ok := lookupTable(w); ok {
		msg = fmt.Sprintf("%s is newer than the SPDX licence list this build knows", quoteExpression(w))
	} else {
		msg = fmt.Sprintf("%s is not on the SPDX licence list", quoteExpression(w))
	}
	s, span := suggest(words, i)
	switch {
	case s == "":
	case len(span) == 1:
		msg += "; did you mean " + s + "?"
	default:
		msg += fmt.Sprintf("; did you mean %s (for %s)?", s, quoteExpression(strings.Join(span, " ")))
	}
	return msg
}

// suggest returns the identifier (or choice of identifiers) that words[i]
// most likely meant, and the words that led to it; "" if none is obvious.
// It tries the runs of up to four words around words[i] (not across
// operators or parentheses), longest first, for a key that matches
// exactly, then words[i] alone as a family without a version ("CC0",
// "Apache"), taking the latest version.
func suggest(words []string, i int) (string, []string) {
	lo, hi := i, i+1
	for lo > 0 && lo > i-3 && plainWord(words[lo-1]) {
		lo--
	}
	for hi < len(words) && hi < i+4 && plainWord(words[hi]) {
		hi++
	}
	index := suggestIndex()
	for n := min(hi-lo, 4); n >= 1; n-- {
		for start := max(lo, i-n+1); start <= i && start+n <= hi; start++ {
			span := words[start : start+n]
			key := strings.Join(keyParts(strings.Join(span, " ")), "")
			if key == "" {
				continue
			}
			var found []string
			for _, k := range index {
				if k.key == key {
					found = append(found, k.id)
				}
			}
			if s := describe(found); s != "" {
				return s, span
			}
		}
	}
	parts := keyParts(words[i])
	if len(parts) == 0 {
		return "", nil
	}
	var best *keyedID
	for j := range index {
		k := &index[j]
		if len(k.parts) <= len(parts) || !slices.Equal(k.parts[:len(parts)], parts) {
			continue
		}
		rest := k.parts[len(parts):]
		if !slices.ContainsFunc(rest, func(p string) bool { return !isDigits(p) }) &&
			(best == nil || compareVersions(rest, best.parts[len(parts):]) > 0) {
			best = k
		}
	}
	if best == nil {
		return "", nil
	}
	return describe([]string{best.id}), words[i : i+1]
}

// plainWord reports whether w can be part of a licence name, as opposed
// to an operator or parenthesis.
func plainWord(w string) bool {
	switch strings.ToUpper(w) {
	case "(", ")", "AND", "OR", "WITH":
		return false
	}
	return true
}

// compareVersions compares runs of digits part by part, numerically.
func compareVersions(a, b []string) int {
	for k := 0; k < len(a) && k < len(b); k++ {
		x, _ := strconv.Atoi(a[k])
		y, _ := strconv.Atoi(b[k])
		if x != y {
			return x - y
		}
	}
	return len(a) - len(b)
}

// describe says what to write for the identifiers found: a current one as
// is, a deprecated one as its replacement, or, for the bare GNU ones
// (GPL-3.0), the choice of -only and -or-later, since someone who wrote
// "GPLv3" has not said which. "" if there are none or more than three.
func describe(found []string) string {
	ids := spdxIDs()
	var out []string
	add := func(s string) {
		if !slices.Contains(out, s) {
			out = append(out, s)
		}
	}
	for _, id := range found {
		if _, dep := ids.deprecated[strings.ToLower(id)]; !dep {
			add(id)
			continue
		}
		if repl, ok := deprecatedReplacement[id]; ok {
			if base, only := strings.CutSuffix(repl, "-only"); only && ids.active[strings.ToLower(base+"-or-later")] != "" {
				add(repl + " or " + base + "-or-later")
			} else {
				add(repl)
			}
			continue
		}
		for _, c := range deprecatedChoices[id] {
			add(c)
		}
	}
	if len(out) == 0 || len(out) > 3 {
		return ""
	}
	return strings.Join(out, " or ")
}

package license

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/github/go-spdx/v2/spdxexp"
)

// Parsing. go-spdx decides which identifiers exist and, in the end,
// whether an expression is valid (spdxexp.ValidateLicenses on the
// canonical spelling). It does not expose its parse tree, and its parser
// is stricter than SPDX in some places and looser in others, so this file
// has a small parser of its own that
//   - splits words on white space, not only on spaces (go-spdx rejects tabs
//     and newlines) and never inside a word (go-spdx reads "MIT ANDISC" as
//     MIT AND ISC, because it matches operators as prefixes);
//   - accepts the operators in any case (go-spdx only takes AND, OR, WITH;
//     SPDX allows all-lower-case too) and writes them in upper case;
//   - tells an unknown identifier (ErrUnknown) from bad grammar
//     (ErrMalformed), which go-spdx reports as one kind of error;
//   - keeps the AND/OR tree, which openness is judged on (see open.go).
// It follows go-spdx where go-spdx is stricter than the SPDX grammar, so
// that everything this parser accepts go-spdx accepts too: no "+" or WITH
// after a LicenseRef. FuzzParser checks that the two agree.

const (
	// maxCanonicalLen bounds the canonical spelling of an expression.
	// Real ones are a few dozen bytes; the bound keeps a hostile manifest
	// from costing more than a little parsing. It applies to the canonical
	// form so that Check(Normalize(x)) and Check(x) always agree.
	maxCanonicalLen = 1024
	// maxInputLen bounds the raw input, which may be padded with white
	// space; only the first check, before any work.
	maxInputLen = 64 << 10
)

type tokKind uint8

const (
	tLParen tokKind = iota
	tRParen
	tAnd
	tOr
	tWith
	tLicense   // text is an SPDX licence id; plus may be set
	tRef       // text is LicenseRef-x or DocumentRef-x:LicenseRef-y
	tException // text is an SPDX exception id; only right after WITH
)

// token is one resolved word of an expression, in canonical spelling.
type token struct {
	kind tokKind
	text string
	plus bool
}

func (t token) String() string {
	switch t.kind {
	case tLParen:
		return "("
	case tRParen:
		return ")"
	case tAnd:
		return "AND"
	case tOr:
		return "OR"
	case tWith:
		return "WITH"
	}
	if t.plus {
		return t.text + "+"
	}
	return t.text
}

// term is one licence of an expression: a licence id, optionally with
// "+" and an exception, or a LicenseRef.
type term struct {
	id        string
	plus      bool
	exception string
	ref       string
}

// String spells the term as it appears in the canonical expression.
func (t term) String() string {
	if t.ref != "" {
		return t.ref
	}
	s := t.id
	if t.plus {
		s += "+"
	}
	if t.exception != "" {
		s += " WITH " + t.exception
	}
	return s
}

// node is the AND/OR tree of an expression. A leaf has op 0 and a term.
type node struct {
	op   tokKind // tAnd, tOr, or 0 for a leaf
	kids []*node
	term term
}

// parsed is a valid expression.
type parsed struct {
	canonical string
	none      bool  // the expression is NONE: no such part
	root      *node // nil if none
}

// problem is why an expression is refused before openness is considered.
type problem struct {
	sentinel error // ErrMissing, ErrUnknown or ErrMalformed
	reason   string
}

func missing(format string, a ...any) *problem {
	return &problem{ErrMissing, fmt.Sprintf(format, a...)}
}

func unknown(format string, a ...any) *problem {
	return &problem{ErrUnknown, fmt.Sprintf(format, a...)}
}

func malformed(format string, a ...any) *problem {
	return &problem{ErrMalformed, fmt.Sprintf(format, a...)}
}

// parseExpression resolves, parses and validates expr.
func parseExpression(expr string) (*parsed, *problem) {
	if len(expr) > maxInputLen {
		return nil, malformed("it is %d bytes long; an SPDX expression here is at most %d", len(expr), maxCanonicalLen)
	}
	trimmed := strings.TrimFunc(expr, unicode.IsSpace)
	switch {
	case trimmed == "":
		return nil, missing("give an SPDX licence expression, or NONE if the design has no such part")
	case strings.EqualFold(trimmed, "NOASSERTION"):
		return nil, missing("NOASSERTION says nobody has determined the licence; give an SPDX licence expression, or NONE if the design has no such part")
	case strings.EqualFold(trimmed, "NONE"):
		return &parsed{canonical: "NONE", none: true}, nil
	}
	words := splitWords(trimmed)
	toks, prob := resolve(words)
	if prob != nil {
		return nil, prob
	}
	canonical := render(toks)
	if len(canonical) > maxCanonicalLen {
		return nil, malformed("it is %d bytes long; an SPDX expression here is at most %d", len(canonical), maxCanonicalLen)
	}
	p := &parser{toks: toks}
	root, prob := p.parse()
	if prob != nil {
		return nil, prob
	}
	// go-spdx has the last word on validity. Its parser only parses here
	// (ValidateLicenses does not expand the expression), so this is cheap.
	if !validate(canonical) {
		return nil, malformed("%s is not a valid SPDX expression", quoteExpression(canonical))
	}
	return &parsed{canonical: canonical, root: root}, nil
}

// validate asks go-spdx whether expr is a valid SPDX expression. go-spdx
// v2.3.3 dereferences a nil token, and panics, on expressions that end
// where its parser expects more, such as "(" or "MIT WITH"; our parser
// refuses those first, and this turns any other such panic into "no".
func validate(expr string) (ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	ok, _ = spdxexp.ValidateLicenses([]string{expr})
	return ok
}

// splitWords splits an expression into parentheses and the runs of other
// characters between white space and parentheses.
func splitWords(s string) []string {
	var words []string
	start := -1
	flush := func(end int) {
		if start >= 0 {
			words = append(words, s[start:end])
			start = -1
		}
	}
	for i, r := range s {
		switch {
		case r == '(' || r == ')':
			flush(i)
			words = append(words, string(r))
		case unicode.IsSpace(r):
			flush(i)
		case start < 0:
			start = i
		}
	}
	flush(len(s))
	return words
}

// render writes tokens in canonical spacing: one space between words,
// none inside parentheses.
func render(toks []token) string {
	var b strings.Builder
	for i, t := range toks {
		if i > 0 && t.kind != tRParen && toks[i-1].kind != tLParen {
			b.WriteByte(' ')
		}
		b.WriteString(t.String())
	}
	return b.String()
}

// resolve turns words into tokens in canonical spelling, looking every
// identifier up in go-spdx's lists.
func resolve(words []string) ([]token, *problem) {
	ids := spdxIDs()
	toks := make([]token, 0, len(words))
	for i, w := range words {
		switch {
		case w == "(":
			toks = append(toks, token{kind: tLParen})
			continue
		case w == ")":
			toks = append(toks, token{kind: tRParen})
			continue
		case strings.EqualFold(w, "AND"):
			toks = append(toks, token{kind: tAnd})
			continue
		case strings.EqualFold(w, "OR"):
			toks = append(toks, token{kind: tOr})
			continue
		case strings.EqualFold(w, "WITH"):
			toks = append(toks, token{kind: tWith})
			continue
		}
		if len(toks) > 0 && toks[len(toks)-1].kind == tWith {
			if strings.HasSuffix(w, "+") {
				return nil, malformed("%s: '+' can follow a licence but not a licence exception", quoteExpression(w))
			}
			if exc, ok := ids.exceptions[strings.ToLower(w)]; ok {
				toks = append(toks, token{kind: tException, text: exc})
				continue
			}
			if lic, ok := ids.active[strings.ToLower(w)]; ok {
				return nil, malformed("%s is a licence, not a licence exception; WITH takes an exception such as Classpath-exception-2.0", lic)
			}
			return nil, unknown("%s is not a licence exception on the SPDX list", quoteExpression(w))
		}
		more, prob := resolveLicense(words, i)
		if prob != nil {
			return nil, prob
		}
		toks = append(toks, more...)
	}
	return toks, nil
}

// resolveLicense resolves words[i], which stands where a licence is
// expected. It returns one token, or several for a deprecated identifier
// that SPDX replaced by an expression.
func resolveLicense(words []string, i int) ([]token, *problem) {
	ids := spdxIDs()
	w := words[i]
	base, plus := strings.CutSuffix(w, "+")
	switch {
	case base == "":
		return nil, malformed("'+' must follow a licence identifier directly, without a space")
	case strings.HasSuffix(base, "+"):
		return nil, malformed("%s has more than one '+'", quoteExpression(w))
	case strings.EqualFold(base, "NONE") || strings.EqualFold(base, "NOASSERTION"):
		return nil, malformed("%s can only stand alone, as the whole expression", strings.ToUpper(base))
	case strings.EqualFold(base, "proprietary") || base == "UNLICENSED":
		// Not SPDX, but what people write for "all rights reserved" (npm's
		// UNLICENSED is that too, not the Unlicense). Spelled as the
		// LicenseRef it is, so that it is refused as not open rather than
		// as unknown, and stays refusable after Normalize.
		if plus {
			return nil, malformed("%s: '+' cannot follow %s", quoteExpression(w), base)
		}
		return []token{{kind: tRef, text: "LicenseRef-" + base}}, nil
	case hasPrefixFold(base, "DocumentRef-") || hasPrefixFold(base, "LicenseRef-"):
		ref, prob := resolveRef(base)
		if prob != nil {
			return nil, prob
		}
		if plus {
			return nil, malformed("%s: '+' cannot follow a LicenseRef", quoteExpression(w))
		}
		return []token{{kind: tRef, text: ref}}, nil
	}

	lower := strings.ToLower(base)
	var id string
	var found bool
	switch {
	case plus && ids.active[lower+"-or-later"] != "":
		// GPL-2.0+ is GPL-2.0-or-later where that identifier exists.
		id, plus, found = ids.active[lower+"-or-later"], false, true
	case ids.active[lower] != "":
		id, found = ids.active[lower], true
	case strings.HasSuffix(lower, "-only") && ids.active[strings.TrimSuffix(lower, "-only")] != "":
		// go-spdx reads MIT-only as MIT; so do we, and write MIT.
		id, found = ids.active[strings.TrimSuffix(lower, "-only")], true
	case strings.HasSuffix(lower, "-or-later") && ids.active[strings.TrimSuffix(lower, "-or-later")] != "":
		// Likewise MIT-or-later is MIT+.
		id, plus, found = ids.active[strings.TrimSuffix(lower, "-or-later")], true, true
	}
	if found {
		switch {
		case strings.HasSuffix(id, "-or-later"):
			plus = false // GPL-2.0-or-later+ says the same thing twice
		case plus && strings.HasSuffix(id, "-only"):
			return nil, malformed("%s: '+' (or later) contradicts -only", quoteExpression(w))
		}
		return []token{{kind: tLicense, text: id, plus: plus}}, nil
	}

	if dep, ok := ids.deprecated[lower]; ok {
		return resolveDeprecated(w, dep, plus)
	}
	if exc, ok := ids.exceptions[lower]; ok {
		if exc == "SHL-2.0" || exc == "SHL-2.1" {
			return nil, malformed("%s (Solderpad Hardware Licence) is an SPDX licence exception to Apache-2.0: write Apache-2.0 WITH %s", exc, exc)
		}
		return nil, malformed("%s is a licence exception: it can only follow WITH, as in GPL-2.0-or-later WITH %s", exc, exc)
	}
	return nil, unknown("%s", unknownReason(words, i))
}

// resolveDeprecated resolves the deprecated identifier dep, written w.
func resolveDeprecated(w, dep string, plus bool) ([]token, *problem) {
	repl, ok := deprecatedReplacement[dep]
	if !ok {
		choices := deprecatedChoices[dep]
		if len(choices) == 0 {
			return nil, unknown("%s is a deprecated SPDX identifier with no single replacement; name the licences it stands for", dep)
		}
		return nil, unknown("%s is a deprecated SPDX identifier; write %s", dep, strings.Join(choices, " or "))
	}
	words := splitWords(repl)
	if plus {
		if len(words) != 1 {
			return nil, malformed("%s: '+' cannot follow %s, which stands for %s", quoteExpression(w), dep, repl)
		}
		words[0] += "+"
	}
	// The replacements are current identifiers, so this cannot recurse
	// further; TestDeprecated checks every one resolves.
	return resolve(words)
}

// resolveRef checks and canonicalises a LicenseRef, with or without a
// DocumentRef.
func resolveRef(w string) (string, *problem) {
	doc, lic, hasDoc := strings.Cut(w, ":")
	if !hasDoc {
		doc, lic = "", w
	}
	if hasDoc {
		if !hasPrefixFold(doc, "DocumentRef-") || !isIDString(doc[len("DocumentRef-"):]) {
			return "", malformed("%s: a DocumentRef is DocumentRef-<id>:LicenseRef-<id>, with letters, digits, '.' and '-' in the ids", quoteExpression(w))
		}
		doc = "DocumentRef-" + doc[len("DocumentRef-"):] + ":"
	}
	if !hasPrefixFold(lic, "LicenseRef-") || !isIDString(lic[len("LicenseRef-"):]) {
		return "", malformed("%s: a LicenseRef is LicenseRef-<id>, with letters, digits, '.' and '-' in the id", quoteExpression(w))
	}
	return doc + "LicenseRef-" + lic[len("LicenseRef-"):], nil
}

// isIDString reports whether s is an SPDX idstring.
func isIDString(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-') {
			return false
		}
	}
	return true
}

func hasPrefixFold(s, prefix string) bool {
	return len(s) >= len(prefix) && strings.EqualFold(s[:len(prefix)], prefix)
}

// parser builds the AND/OR tree. AND binds tighter than OR; WITH and "+"
// bind to a single licence; parentheses group.
type parser struct {
	toks  []token
	pos   int
	depth int
}

func (p *parser) peek() (token, bool) {
	if p.pos < len(p.toks) {
		return p.toks[p.pos], true
	}
	return token{}, false
}

func (p *parser) parse() (*node, *problem) {
	n, prob := p.or()
	if prob != nil {
		return nil, prob
	}
	if t, ok := p.peek(); ok {
		switch t.kind {
		case tRParen:
			return nil, malformed("')' without a matching '('")
		case tWith:
			return nil, malformed("WITH can only follow a single licence, as in GPL-2.0-or-later WITH Classpath-exception-2.0")
		case tLParen:
			return nil, malformed("'(' follows a licence without AND or OR between them")
		default:
			return nil, malformed("%s follows another licence without AND or OR between them", t)
		}
	}
	return n, nil
}

func (p *parser) or() (*node, *problem) {
	return p.binary(tOr, p.and)
}

func (p *parser) and() (*node, *problem) {
	return p.binary(tAnd, p.atom)
}

// binary parses operands separated by op into one n-ary node.
func (p *parser) binary(op tokKind, operand func() (*node, *problem)) (*node, *problem) {
	first, prob := operand()
	if prob != nil {
		return nil, prob
	}
	kids := []*node{first}
	for {
		t, ok := p.peek()
		if !ok || t.kind != op {
			break
		}
		p.pos++
		next, prob := operand()
		if prob != nil {
			return nil, prob
		}
		kids = append(kids, next)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return &node{op: op, kids: kids}, nil
}

func (p *parser) atom() (*node, *problem) {
	t, ok := p.peek()
	if !ok {
		if p.pos == 0 {
			return nil, malformed("no licence in it")
		}
		return nil, malformed("it ends after %s, where a licence should follow", p.toks[p.pos-1])
	}
	switch t.kind {
	case tLParen:
		p.pos++
		p.depth++
		n, prob := p.or()
		if prob != nil {
			return nil, prob
		}
		p.depth--
		if t, ok := p.peek(); !ok || t.kind != tRParen {
			return nil, malformed("'(' without a matching ')'")
		}
		p.pos++
		return n, nil
	case tLicense:
		p.pos++
		lt := term{id: t.text, plus: t.plus}
		if w, ok := p.peek(); ok && w.kind == tWith {
			p.pos++
			e, ok := p.peek()
			if !ok || e.kind != tException {
				return nil, malformed("WITH must be followed by a licence exception such as Classpath-exception-2.0")
			}
			p.pos++
			lt.exception = e.text
		}
		return &node{term: lt}, nil
	case tRef:
		p.pos++
		if w, ok := p.peek(); ok && w.kind == tWith {
			// SPDX allows it, go-spdx does not (and has the last word).
			return nil, malformed("WITH cannot follow %s; only an SPDX licence can take an exception", t.text)
		}
		return &node{term: term{ref: t.text}}, nil
	case tRParen:
		if p.pos > 0 && p.toks[p.pos-1].kind == tLParen {
			return nil, malformed("empty parentheses")
		}
		if p.depth == 0 {
			return nil, malformed("')' without a matching '('")
		}
		return nil, malformed("')' where a licence should be")
	case tWith:
		return nil, malformed("WITH must follow a licence")
	default: // tAnd, tOr; tException cannot occur outside WITH
		if p.pos == 0 {
			return nil, malformed("it starts with %s", t)
		}
		return nil, malformed("%s where a licence should be", t)
	}
}

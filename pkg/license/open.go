package license

import (
	"fmt"
	"strings"
	"sync"

	"github.com/github/go-spdx/v2/spdxexp"
	"github.com/github/go-spdx/v2/spdxexp/spdxlicenses"
)

// Openness. An expression is open for a role if some choice among its OR
// alternatives needs only licences that are open for the role: the tree
// is evaluated here, AND as "all", OR as "any", and spdxexp.Satisfies is
// asked about one licence at a time. Satisfies is not given the whole
// expression, because in go-spdx v2.3.3:
//
//   - it expands the expression into every combination of its OR
//     alternatives before comparing, which is exponential: 14 groups of
//     "(MIT OR ISC) AND" take 0.6 s, and a manifest is user input;
//   - that expansion is wrong for nested expressions, in both directions.
//     "JSON OR ((JSON OR MIT) AND ISC)" is refused against [MIT ISC]
//     (expandOrTerm keeps only the first alternative of an AND inside an
//     OR), and "JSON OR (((ISC AND (0BSD AND ISC)) AND MIT) AND
//     (CC-BY-NC-4.0 OR ((ISC OR 0BSD) AND CC-BY-ND-4.0)))" is accepted
//     against [MIT ISC 0BSD Zlib] though every choice needs CC-BY-NC-4.0
//     or CC-BY-ND-4.0 (slices sharing a backing array in appendTerms);
//   - a licence WITH an exception only satisfies a list entry with the
//     same exception, so "GPL-2.0-only WITH Classpath-exception-2.0" is
//     refused against [GPL-2.0-only]. An SPDX exception only grants extra
//     permissions, so the exception is dropped before asking.
//
// For one licence, Satisfies is right, and what it adds over a set lookup
// is "+": CC-BY-2.0+ is open for hardware because CC-BY-4.0 is. The list
// it is given is cut down to the licences it could possibly match (the
// licence itself and its go-spdx version group), which gives the same
// answer as the whole list at a thousandth of the cost (parsing the list
// dominates); TestSatisfiesCandidates checks that.

// kind classifies one licence for one role.
type kind uint8

const (
	kindOpen kind = iota
	kindProprietary
	kindNonCommercial
	kindNoDerivatives
	kindInvariants
	kindNotListed
)

// blocker is a licence that keeps an expression from being open.
type blocker struct {
	term term
	kind kind
}

// result is the verdict on a valid expression.
type result struct {
	canonical string
	none      bool
	open      bool
	reason    string // why not, when !open
}

// analyse parses expr and judges it for role. It returns an *Error for a
// missing, unknown or malformed expression; a non-open one is a result.
func analyse(role Role, expr string) (result, *Error) {
	p, prob := parseExpression(expr)
	if prob != nil {
		return result{}, &Error{Role: role, Expression: expr, Err: prob.sentinel, Reason: prob.reason}
	}
	if p.none {
		return result{canonical: p.canonical, none: true, open: true}, nil
	}
	open, blockers := evaluate(role, p.root)
	res := result{canonical: p.canonical, open: open}
	if !open {
		res.reason = explain(role, p.root, blockers)
	}
	return res, nil
}

// evaluate reports whether n is open for role and, if not, the licences
// that keep it from being open (each once, in order of appearance).
func evaluate(role Role, n *node) (bool, []blocker) {
	switch n.op {
	case tAnd, tOr:
		var blockers []blocker
		open := n.op == tAnd
		for _, kid := range n.kids {
			ok, bs := evaluate(role, kid)
			if n.op == tAnd {
				open = open && ok
			} else {
				open = open || ok
			}
			if !ok {
				blockers = appendBlockers(blockers, bs)
			}
		}
		if open {
			return true, nil
		}
		return false, blockers
	}
	k := classify(role, n.term)
	if k == kindOpen {
		return true, nil
	}
	return false, []blocker{{n.term, k}}
}

func appendBlockers(to, from []blocker) []blocker {
	for _, b := range from {
		dup := false
		for _, t := range to {
			if t.term == b.term {
				dup = true
				break
			}
		}
		if !dup {
			to = append(to, b)
		}
	}
	return to
}

// classify says whether one licence is open for role, and if not why.
func classify(role Role, t term) kind {
	switch {
	case t.ref != "":
		return kindProprietary
	case isNonCommercial(t.id):
		return kindNonCommercial
	case isNoDerivatives(t.id):
		return kindNoDerivatives
	case isGFDLInvariants(t.id):
		return kindInvariants
	case satisfies(role, t):
		return kindOpen
	}
	return kindNotListed
}

// satisfies asks spdxexp.Satisfies whether the licence t, without its
// exception, is on role's open list.
func satisfies(role Role, t term) bool {
	lists := openLists()
	if !t.plus && lists.set[role][t.id] {
		return true // what Satisfies would say, without parsing anything
	}
	candidates := satisfiesCandidates(role, t.id)
	if len(candidates) == 0 {
		return false
	}
	lic := t.id
	if t.plus {
		lic += "+"
	}
	ok, err := spdxexp.Satisfies(lic, candidates)
	// An error means go-spdx cannot parse its own identifiers; refusing is
	// the safe answer, and TestOpenListsParse keeps it from happening.
	return err == nil && ok
}

// satisfiesCandidates returns the entries of role's open list that
// Satisfies could match with id: id itself and the licences of its
// version group. Satisfies only ever compares a licence with a list entry
// that is the same licence or in the same group of go-spdx's
// spdxlicenses.LicenseRanges (looked up after removing -or-later).
func satisfiesCandidates(role Role, id string) []string {
	lists := openLists()
	var out []string
	if lists.set[role][id] {
		out = append(out, id)
	}
	g, ok := licenseGroups()[strings.TrimSuffix(id, "-or-later")]
	if !ok {
		return out
	}
	for _, c := range lists.list[role] {
		if c == id {
			continue
		}
		if cg, ok := licenseGroups()[strings.TrimSuffix(c, "-or-later")]; ok && cg == g {
			out = append(out, c)
		}
	}
	return out
}

// licenseGroups maps each licence in go-spdx's version ranges to the
// index of its group. Built once, never modified.
var licenseGroups = sync.OnceValue(func() map[string]int {
	m := map[string]int{}
	for g, group := range spdxlicenses.LicenseRanges() {
		for _, versions := range group {
			for _, id := range versions {
				m[id] = g
			}
		}
	}
	return m
})

// definition names the definition of openness that applies to role.
func definition(role Role) string {
	if role == Software {
		return "the Open Source Definition"
	}
	return "the Open Source Hardware Definition"
}

// explain writes the one-line reason why the expression rooted at root is
// not open for role, ending with what to use instead.
func explain(role Role, root *node, blockers []blocker) string {
	alone := root.op == 0
	var whys []string
	for _, b := range blockers {
		whys = append(whys, why(role, b, alone))
	}
	reason := strings.Join(whys, "; ")
	if root.op == tOr {
		reason = "none of its alternatives is open: " + reason
	}
	return reason + "; use e.g. " + alternative(role, blockers[0])
}

// why explains one blocking licence. alone says whether it is the whole
// expression, in which case the message already quotes it.
func why(role Role, b blocker, alone bool) string {
	id := b.term.String()
	name := b.term.id
	switch b.kind {
	case kindProprietary:
		s := "proprietary / custom licence, not on the SPDX list of open licences"
		if strings.EqualFold(b.term.ref, "LicenseRef-UNLICENSED") {
			s += " (UNLICENSED means no licence is granted; the public-domain dedication is spelled Unlicense)"
		}
		if !alone {
			s = id + " is a " + s
		}
		return s
	case kindNonCommercial:
		if ncID.MatchString(name) {
			if alone {
				return "NonCommercial (-NC) licences forbid commercial use, which " + definition(role) + " requires"
			}
			return id + " is NonCommercial (-NC): it forbids commercial use, which " + definition(role) + " requires"
		}
		return fmt.Sprintf("%s (%s) forbids commercial use, which %s requires", id, spdxTable[name].Name, definition(role))
	case kindNoDerivatives:
		if ndID.MatchString(name) {
			if alone {
				return "NoDerivatives (-ND) licences forbid distributing modified versions, which " + definition(role) + " requires"
			}
			return id + " is NoDerivatives (-ND): it forbids distributing modified versions, which " + definition(role) + " requires"
		}
		return fmt.Sprintf("%s (%s) forbids distributing modified versions, which %s requires", id, spdxTable[name].Name, definition(role))
	case kindInvariants:
		return id + " declares GNU FDL Invariant Sections, which can be neither modified nor removed, and " + definition(role) + " requires that modified versions may be distributed"
	}
	switch role {
	case Software:
		s := id + " is not OSI-approved, and only OSI-approved licences and the public-domain dedications CC0-1.0 and Unlicense are open for software"
		if strings.HasPrefix(name, "CC-BY") {
			s += " (Creative Commons advises against its licences for software)"
		}
		return s
	case Hardware:
		return id + " is not an open-hardware licence (CERN-OHL, TAPR-OHL, Solderpad), a CC-BY or CC-BY-SA licence of version 3.0 or later, CC0-1.0 or an OSI-approved licence"
	default:
		return id + " is not a CC-BY, CC-BY-SA, CC0-1.0, GNU FDL (without Invariant Sections), open-hardware or OSI-approved licence"
	}
}

// alternative suggests open licences for role in the spirit of the first
// blocking licence: share-alike if it was.
func alternative(role Role, b blocker) string {
	shareAlike := strings.Contains(b.term.id, "-SA-") || strings.HasPrefix(b.term.id, "GFDL-")
	switch {
	case b.kind == kindInvariants && role == Documentation:
		return "GFDL-1.3-no-invariants-or-later or CC-BY-SA-4.0"
	case role == Hardware && shareAlike:
		return "CERN-OHL-S-2.0 or CC-BY-SA-4.0"
	case role == Hardware:
		return "CERN-OHL-P-2.0 or CC-BY-4.0"
	case role == Software && shareAlike:
		return "GPL-3.0-or-later or MPL-2.0"
	case role == Software:
		return "MIT or Apache-2.0"
	case shareAlike:
		return "CC-BY-SA-4.0"
	default:
		return "CC-BY-4.0 or CC0-1.0"
	}
}

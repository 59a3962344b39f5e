package license

import (
	"errors"
	"fmt"
	"strconv"
	"unicode/utf8"
)

// Role is the part of a design a licence applies to.
type Role string

// The three roles of the OSHWA licence triple.
const (
	Hardware      Role = "hardware"
	Software      Role = "software"
	Documentation Role = "documentation"
)

// Roles returns the three roles in the order bundles list them: hardware,
// software, documentation.
func Roles() []Role { return []Role{Hardware, Software, Documentation} }

func (r Role) valid() bool {
	return r == Hardware || r == Software || r == Documentation
}

// The reasons a licence is refused. Every error from Check, CheckTriple
// and Normalize wraps exactly one of them (CheckTriple may join several
// such errors); test with errors.Is.
var (
	// ErrMissing: the expression is empty or NOASSERTION, or every part of
	// a triple is NONE.
	ErrMissing = errors.New("licence missing")
	// ErrUnknown: an identifier is not on the SPDX licence list known to
	// this build, or is a deprecated one that SPDX replaced by a choice
	// the publisher has to make.
	ErrUnknown = errors.New("unknown licence identifier")
	// ErrMalformed: the expression breaks the SPDX expression grammar.
	ErrMalformed = errors.New("malformed licence expression")
	// ErrNotOpen: the expression is valid but not open for the role.
	ErrNotOpen = errors.New("licence is not open")
	// ErrRole: Check was given a role other than Hardware, Software or
	// Documentation. This is a bug in the caller, not in the bundle.
	ErrRole = errors.New("unknown licence role")
)

// Error is a refused licence. Its message is one line naming the role and
// the expression, e.g.
//
//	hardware licence "CC-BY-NC-SA-4.0" is not open: NonCommercial (-NC) licences forbid commercial use, which the Open Source Hardware Definition requires; use e.g. CERN-OHL-S-2.0 or CC-BY-SA-4.0
type Error struct {
	// Role is the part concerned; "" for Normalize, which has no role, and
	// for a triple whose parts are all NONE.
	Role Role
	// Expression is the expression as given.
	Expression string
	// Err is ErrMissing, ErrUnknown, ErrMalformed or ErrNotOpen.
	Err error
	// Reason is one line saying why, usually ending with what to use
	// instead. It is what RoleReport.Reason holds.
	Reason string
}

// Error returns the one-line message described on the type.
func (e *Error) Error() string {
	subject := "licence"
	if e.Role != "" {
		subject = string(e.Role) + " licence"
	}
	if e.Expression != "" {
		subject += " " + quoteExpression(e.Expression)
	}
	var verb string
	switch e.Err {
	case ErrMissing:
		verb = "is missing"
	case ErrUnknown:
		verb = "is not recognised"
	case ErrMalformed:
		verb = "is malformed"
	case ErrNotOpen:
		verb = "is not open"
	default:
		verb = "is refused"
	}
	return subject + " " + verb + ": " + e.Reason
}

// maxQuoted is the longest expression an error message quotes in full.
const maxQuoted = 200

// quoteExpression quotes expr for a message, cutting it short if it is
// longer than any real licence expression, so that a hostile manifest
// cannot make a message of 64 KiB.
func quoteExpression(expr string) string {
	if len(expr) <= maxQuoted {
		return strconv.Quote(expr)
	}
	cut := maxQuoted - 50
	for cut > 0 && !utf8.RuneStart(expr[cut]) {
		cut--
	}
	return strconv.Quote(expr[:cut]) + "... (" + strconv.Itoa(len(expr)) + " bytes)"
}

// Unwrap returns the sentinel, so that errors.Is(err, ErrNotOpen) works.
func (e *Error) Unwrap() error { return e.Err }

// Check checks the SPDX expression expr for one role. It returns nil if
// the expression is open for the role, or NONE (the design has no such
// part). Otherwise it returns an *Error wrapping ErrMissing (empty or
// NOASSERTION), ErrUnknown, ErrMalformed, or ErrNotOpen. Spellings that
// Normalize can fix ("mit", "GPL-3.0", "GPL-2.0+", "mit or isc") are
// accepted; store Normalize's output rather than expr.
func Check(role Role, expr string) error {
	if !role.valid() {
		return fmt.Errorf("check licence %q: %w %q", expr, ErrRole, role)
	}
	res, err := analyse(role, expr)
	if err != nil {
		return err
	}
	if !res.open {
		return &Error{Role: role, Expression: expr, Err: ErrNotOpen, Reason: res.reason}
	}
	return nil
}

// Normalize returns the canonical spelling of expr: identifiers in the
// case the SPDX list uses ("mit" becomes "MIT"), operators in upper case
// and single spaces, "+" written as -or-later where SPDX has that
// identifier ("GPL-3.0+" becomes "GPL-3.0-or-later"), deprecated
// identifiers replaced where SPDX names one replacement ("GPL-3.0"
// becomes "GPL-3.0-only"), and the words proprietary and UNLICENSED
// written as LicenseRef-proprietary and LicenseRef-UNLICENSED. Parentheses
// are kept as written. It says nothing about openness; its errors are
// *Error values wrapping ErrMissing, ErrUnknown or ErrMalformed.
// Normalize(Normalize(x)) == Normalize(x).
func Normalize(expr string) (string, error) {
	p, err := parseExpression(expr)
	if err != nil {
		return "", &Error{Expression: expr, Err: err.sentinel, Reason: err.reason}
	}
	return p.canonical, nil
}

// Name returns the full name of the SPDX licence id ("MIT License" for
// "MIT"), matching id case-insensitively, or "" if the licence list this
// package was generated from does not have it. id is one identifier, not
// an expression.
func Name(id string) string {
	e, ok := lookupTable(id)
	if !ok {
		return ""
	}
	return e.Name
}

// OSIApproved reports whether the Open Source Initiative approved the
// SPDX licence id, matching id case-insensitively; false if unknown. id is
// one identifier, not an expression.
func OSIApproved(id string) bool {
	e, ok := lookupTable(id)
	return ok && e.OSIApproved
}

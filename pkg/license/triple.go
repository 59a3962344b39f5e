package license

import "errors"

// Triple is the licence of each part of a design, as SPDX expressions.
// NONE means the design has no such part.
type Triple struct {
	Hardware, Software, Documentation string
}

// Get returns the expression for role, "" for an unknown role.
func (t Triple) Get(role Role) string {
	switch role {
	case Hardware:
		return t.Hardware
	case Software:
		return t.Software
	case Documentation:
		return t.Documentation
	}
	return ""
}

// Report says, per role, whether the licence is open and why not.
type Report struct {
	// Open is true if every role's licence is open or NONE, not all three
	// are NONE, and nothing was refused.
	Open bool
	// Roles has one entry per role, in the order of Roles().
	Roles []RoleReport
}

// RoleReport is the verdict on one role's licence.
type RoleReport struct {
	Role Role
	// Expression is the expression as given.
	Expression string
	// Normalized is its canonical spelling (see Normalize), the one to
	// store; "" if the expression was refused as missing, unknown or
	// malformed.
	Normalized string
	// Open is true if the licence is open for the role, or NONE.
	Open bool
	// Reason says why not, in one line, when Open is false.
	Reason string
}

// CheckTriple checks the licence of each part of a design.
//
// With allowNonOpen false, any problem is an error: errors.Join of one
// *Error per refused role (its message one line each), each wrapping
// ErrMissing, ErrUnknown, ErrMalformed or ErrNotOpen. With allowNonOpen
// true, as on a private network, non-open licences are only reported
// (Report.Open and that role's Open false, with the reason) and are no
// error; missing, unknown and malformed ones still are. Either way a
// triple whose three parts are all NONE is refused with ErrMissing: a
// design needs at least one licensed part. The Report is complete even
// when there is an error.
func CheckTriple(t Triple, allowNonOpen bool) (Report, error) {
	rep := Report{Open: true}
	var errs []error
	nones := 0
	for _, role := range Roles() {
		expr := t.Get(role)
		rr := RoleReport{Role: role, Expression: expr}
		res, err := analyse(role, expr)
		switch {
		case err != nil:
			rr.Reason = err.Reason
			errs = append(errs, err)
		case res.none:
			rr.Normalized, rr.Open = res.canonical, true
			nones++
		default:
			rr.Normalized, rr.Open, rr.Reason = res.canonical, res.open, res.reason
			if !res.open && !allowNonOpen {
				errs = append(errs, &Error{Role: role, Expression: expr, Err: ErrNotOpen, Reason: res.reason})
			}
		}
		rep.Open = rep.Open && rr.Open
		rep.Roles = append(rep.Roles, rr)
	}
	if nones == len(rep.Roles) {
		rep.Open = false
		errs = append(errs, &Error{Err: ErrMissing, Reason: "hardware, software and documentation are all NONE; a design needs at least one licensed part"})
	}
	return rep, errors.Join(errs...)
}

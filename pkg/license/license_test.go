package license

import (
	"errors"
	"strings"
	"testing"
)

// sentinels are the errors every refusal wraps exactly one of.
var sentinels = []error{ErrMissing, ErrUnknown, ErrMalformed, ErrNotOpen}

// sentinelOf returns the sentinel err wraps, nil for nil, and fails the
// test if err wraps none or several.
func sentinelOf(t testing.TB, err error) error {
	t.Helper()
	if err == nil {
		return nil
	}
	var found error
	for _, s := range sentinels {
		if errors.Is(err, s) {
			if found != nil {
				t.Fatalf("%v wraps both %v and %v", err, found, s)
			}
			found = s
		}
	}
	if found == nil {
		t.Fatalf("%v wraps none of the sentinels", err)
	}
	return found
}

// open, and the sentinel expected for each role, in the order hardware,
// software, documentation.
type verdicts [3]error

var all = func(err error) verdicts { return verdicts{err, err, err} }

func TestCheck(t *testing.T) {
	tests := []struct {
		expr string
		want verdicts
	}{
		// Open everywhere.
		{"MIT", all(nil)},
		{"Apache-2.0", all(nil)},
		{"GPL-3.0-or-later", all(nil)},
		{"GPL-2.0-only", all(nil)},
		{"BSD-3-Clause", all(nil)},
		{"MPL-2.0", all(nil)},
		{"CC0-1.0", all(nil)},
		{"Unlicense", all(nil)},
		// CERN-OHL v2 is OSI-approved, so open for software too.
		{"CERN-OHL-S-2.0", all(nil)},
		{"CERN-OHL-W-2.0", all(nil)},
		{"CERN-OHL-P-2.0", all(nil)},
		// Open-hardware licences that OSI did not approve.
		{"CERN-OHL-1.2", verdicts{nil, ErrNotOpen, nil}},
		{"TAPR-OHL-1.0", verdicts{nil, ErrNotOpen, nil}},
		{"SHL-0.51", verdicts{nil, ErrNotOpen, nil}},
		{"Apache-2.0 WITH SHL-2.1", all(nil)},
		// Creative Commons: not for software; hardware from 3.0.
		{"CC-BY-4.0", verdicts{nil, ErrNotOpen, nil}},
		{"CC-BY-SA-4.0", verdicts{nil, ErrNotOpen, nil}},
		{"CC-BY-3.0", verdicts{nil, ErrNotOpen, nil}},
		{"CC-BY-SA-3.0-DE", verdicts{nil, ErrNotOpen, nil}},
		{"CC-BY-3.0-IGO", verdicts{nil, ErrNotOpen, nil}},
		{"CC-BY-2.5", verdicts{ErrNotOpen, ErrNotOpen, nil}},
		{"CC-BY-SA-2.1-JP", verdicts{ErrNotOpen, ErrNotOpen, nil}},
		{"CC-BY-2.0+", verdicts{nil, ErrNotOpen, nil}}, // 2.0 or later includes 4.0
		{"CC-BY-SA-1.0+", verdicts{nil, ErrNotOpen, nil}},
		// NonCommercial and NoDerivatives: never.
		{"CC-BY-NC-4.0", all(ErrNotOpen)},
		{"CC-BY-ND-4.0", all(ErrNotOpen)},
		{"CC-BY-NC-SA-4.0", all(ErrNotOpen)},
		{"CC-BY-NC-ND-3.0-IGO", all(ErrNotOpen)},
		{"CC-BY-NC-3.0+", all(ErrNotOpen)},
		{"NCGL-UK-2.0", all(ErrNotOpen)},
		{"PolyForm-Noncommercial-1.0.0", all(ErrNotOpen)},
		// GNU FDL: documentation only, not with Invariant Sections.
		{"GFDL-1.3-or-later", verdicts{ErrNotOpen, ErrNotOpen, nil}},
		{"GFDL-1.3-no-invariants-only", verdicts{ErrNotOpen, ErrNotOpen, nil}},
		{"GFDL-1.3-invariants-or-later", all(ErrNotOpen)},
		{"GFDL-1.1-invariants-only", all(ErrNotOpen)},
		// Not open, and on no list.
		{"JSON", all(ErrNotOpen)},
		{"BUSL-1.1", all(ErrNotOpen)},
		{"SSPL-1.0", all(ErrNotOpen)},
		// Proprietary and custom.
		{"proprietary", all(ErrNotOpen)},
		{"Proprietary", all(ErrNotOpen)},
		{"UNLICENSED", all(ErrNotOpen)},
		{"LicenseRef-foo", all(ErrNotOpen)},
		{"licenseref-foo", all(ErrNotOpen)},
		{"DocumentRef-spec:LicenseRef-foo", all(ErrNotOpen)},
		// Missing; NONE is fine for one role.
		{"", all(ErrMissing)},
		{"   ", all(ErrMissing)},
		{"NOASSERTION", all(ErrMissing)},
		{"NONE", all(nil)},
		{"none", all(nil)},
		// Expressions.
		{"MIT OR CC-BY-NC-4.0", all(nil)},
		{"CC-BY-NC-4.0 OR MIT", all(nil)},
		{"MIT AND CC-BY-NC-4.0", all(ErrNotOpen)},
		{"MIT AND ISC", all(nil)},
		{"(MIT OR CC-BY-NC-4.0) AND (ISC OR proprietary)", all(nil)},
		{"(MIT OR CC-BY-NC-4.0) AND proprietary", all(ErrNotOpen)},
		{"CC-BY-NC-4.0 OR CC-BY-ND-4.0", all(ErrNotOpen)},
		{"MIT OR LicenseRef-foo", all(nil)},
		{"CC-BY-SA-4.0 OR GPL-3.0-or-later", all(nil)},
		{"CERN-OHL-S-2.0 AND CC-BY-SA-4.0", verdicts{nil, ErrNotOpen, nil}},
		{"GPL-2.0-only WITH Classpath-exception-2.0", all(nil)},
		{"GPL-2.0-or-later WITH Classpath-exception-2.0 OR MIT", all(nil)},
		{"CC-BY-NC-4.0 WITH Classpath-exception-2.0", all(ErrNotOpen)},
		// Spellings Normalize fixes.
		{"mit", all(nil)},
		{"apache-2.0", all(nil)},
		{"mit or isc", all(nil)},
		{"MIT\tOR\nISC", all(nil)},
		{"GPL-3.0", all(nil)},
		{"GPL-3.0+", all(nil)},
		{"GPL-2.0+", all(nil)},
		{"LGPL-2.1", all(nil)},
		{"gpl-3.0-or-later", all(nil)},
		{"eCos-2.0", all(nil)},
		{"StandardML-NJ", all(ErrNotOpen)},
		{"MIT-only", all(nil)},
		{"MIT+", all(nil)},
		// Unknown.
		{"garbage", all(ErrUnknown)},
		{"FOO-1.0", all(ErrUnknown)},
		{"GPLv3", all(ErrUnknown)},
		{"Apache 2.0", all(ErrUnknown)},
		{"CC-BY 4.0", all(ErrUnknown)},
		{"MIT OR FOO-1.0", all(ErrUnknown)},
		{"MIT WITH Foo-exception", all(ErrUnknown)},
		{"GPL-2.0-with-classpath-exception", all(ErrUnknown)},
		{"Net-SNMP", all(ErrUnknown)},
		{"MIT ANDISC", all(ErrUnknown)}, // go-spdx reads this as MIT AND ISC
		{"MIT/Apache-2.0", all(ErrUnknown)},
		{"\xff\xfe", all(ErrUnknown)},
		// Malformed.
		{"(MIT", all(ErrMalformed)},
		{"MIT)", all(ErrMalformed)},
		{"()", all(ErrMalformed)},
		{"MIT AND", all(ErrMalformed)},
		{"AND MIT", all(ErrMalformed)},
		{"MIT OR OR ISC", all(ErrMalformed)},
		{"MIT ISC", all(ErrMalformed)},
		{"MIT WITH", all(ErrMalformed)},
		{"WITH Classpath-exception-2.0", all(ErrMalformed)},
		{"MIT WITH GPL-2.0-only", all(ErrMalformed)},
		{"(MIT) WITH Classpath-exception-2.0", all(ErrMalformed)},
		{"Classpath-exception-2.0", all(ErrMalformed)},
		{"SHL-2.1", all(ErrMalformed)},
		{"MIT +", all(ErrMalformed)},
		{"MIT++", all(ErrMalformed)},
		{"GPL-2.0-only+", all(ErrMalformed)},
		{"LicenseRef-foo+", all(ErrMalformed)},
		{"LicenseRef-", all(ErrMalformed)},
		{"LicenseRef-a_b", all(ErrMalformed)},
		{"LicenseRef-foo WITH Classpath-exception-2.0", all(ErrMalformed)},
		{"DocumentRef-x", all(ErrMalformed)},
		{"MIT OR NONE", all(ErrMalformed)},
		{"NOASSERTION AND MIT", all(ErrMalformed)},
		{"eCos-2.0+", all(ErrMalformed)},
		{strings.Repeat("MIT OR ", 200) + "MIT", all(ErrMalformed)},
	}
	for _, tt := range tests {
		for i, role := range Roles() {
			err := Check(role, tt.expr)
			if got := sentinelOf(t, err); got != tt.want[i] {
				t.Errorf("Check(%s, %q) = %v, want %v", role, tt.expr, err, tt.want[i])
				continue
			}
			if err != nil {
				checkMessage(t, err, role, tt.expr)
			}
		}
	}
}

// checkMessage checks that a refusal is one line naming role and expr.
func checkMessage(t *testing.T, err error, role Role, expr string) {
	t.Helper()
	msg := err.Error()
	if strings.ContainsAny(msg, "\n\r") {
		t.Errorf("Check(%s, %q): message is not one line: %q", role, expr, msg)
	}
	if !strings.HasPrefix(msg, string(role)+" licence") {
		t.Errorf("Check(%s, %q): message does not start with the role: %q", role, expr, msg)
	}
	if strings.TrimSpace(expr) != "" && !strings.Contains(msg, quoteExpression(expr)) {
		t.Errorf("Check(%s, %q): message does not quote the expression: %q", role, expr, msg)
	}
	var e *Error
	if !errors.As(err, &e) || e.Role != role || e.Expression != expr || e.Reason == "" {
		t.Errorf("Check(%s, %q): not a complete *Error: %#v", role, expr, err)
	}
}

func TestCheckMessages(t *testing.T) {
	tests := []struct {
		role Role
		expr string
		want []string // substrings of the message
	}{
		{Hardware, "CC-BY-NC-SA-4.0", []string{`hardware licence "CC-BY-NC-SA-4.0" is not open: NonCommercial (-NC) licences forbid commercial use, which the Open Source Hardware Definition requires; use e.g. CERN-OHL-S-2.0 or CC-BY-SA-4.0`}},
		{Software, "CC-BY-ND-4.0", []string{"NoDerivatives (-ND)", "Open Source Definition", "use e.g. MIT or Apache-2.0"}},
		{Software, "CC-BY-4.0", []string{"not OSI-approved", "use e.g."}},
		{Documentation, "MIT AND CC-BY-NC-4.0", []string{"CC-BY-NC-4.0 is NonCommercial (-NC)"}},
		{Documentation, "CC-BY-NC-4.0 OR CC-BY-ND-4.0", []string{"none of its alternatives is open", "CC-BY-NC-4.0 is NonCommercial", "CC-BY-ND-4.0 is NoDerivatives"}},
		{Hardware, "proprietary", []string{`hardware licence "proprietary" is not open: proprietary / custom licence, not on the SPDX list of open licences; use e.g.`}},
		{Software, "LicenseRef-foo", []string{"proprietary / custom licence, not on the SPDX list of open licences"}},
		{Software, "UNLICENSED", []string{"spelled Unlicense"}},
		{Documentation, "GFDL-1.3-invariants-only", []string{"Invariant Sections", "GFDL-1.3-no-invariants-or-later"}},
		{Hardware, "CC-BY-2.0", []string{"version 3.0 or later"}},
		{Hardware, "", []string{"hardware licence is missing", "NONE"}},
		{Software, "NOASSERTION", []string{`software licence "NOASSERTION" is missing`}},
		{Hardware, "FOO-1.0", []string{`hardware licence "FOO-1.0" is not recognised: "FOO-1.0" is not on the SPDX licence list`}},
		{Software, "GPLv3", []string{"did you mean GPL-3.0-only or GPL-3.0-or-later?"}},
		{Software, "GPLv2+", []string{"did you mean GPL-2.0-or-later?"}},
		{Software, "Apache 2.0", []string{`did you mean Apache-2.0 (for "Apache 2.0")?`}},
		{Documentation, "CC-BY 4.0", []string{`did you mean CC-BY-4.0 (for "CC-BY 4.0")?`}},
		{Documentation, "CC BY-SA 4.0", []string{`did you mean CC-BY-SA-4.0 (for "CC BY-SA 4.0")?`}},
		{Documentation, "CC0", []string{"did you mean CC0-1.0?"}},
		{Software, "MIT License", []string{`did you mean MIT (for "MIT License")?`}},
		{Software, "MIT OR Apache License 2.0", []string{`did you mean Apache-2.0 (for "Apache License 2.0")?`}},
		{Software, "OSC-1.0", []string{"newer than the SPDX licence list this build knows"}},
		{Software, "GPL-2.0-with-classpath-exception", []string{"deprecated", "GPL-2.0-only WITH Classpath-exception-2.0 or GPL-2.0-or-later WITH Classpath-exception-2.0"}},
		{Hardware, "SHL-2.1", []string{"Apache-2.0 WITH SHL-2.1"}},
		{Software, "(MIT", []string{`software licence "(MIT" is malformed: '(' without a matching ')'`}},
		{Software, "MIT AND", []string{"malformed", "ends after AND"}},
		{Software, "MIT WITH GPL-2.0-only", []string{"not a licence exception"}},
		{Software, "MIT\nAND CC-BY-NC-4.0", []string{`"MIT\nAND CC-BY-NC-4.0" is not open`}},
	}
	for _, tt := range tests {
		err := Check(tt.role, tt.expr)
		if err == nil {
			t.Errorf("Check(%s, %q) = nil", tt.role, tt.expr)
			continue
		}
		checkMessage(t, err, tt.role, tt.expr)
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("Check(%s, %q) = %q, want it to contain %q", tt.role, tt.expr, err, w)
			}
		}
	}
}

func TestCheckRole(t *testing.T) {
	err := Check("firmware", "MIT")
	if !errors.Is(err, ErrRole) {
		t.Fatalf("Check(firmware) = %v, want ErrRole", err)
	}
	for _, s := range sentinels {
		if errors.Is(err, s) {
			t.Errorf("Check(firmware) wraps %v", s)
		}
	}
}

func TestNormalize(t *testing.T) {
	tests := []struct {
		in      string
		want    string
		wantErr error
	}{
		{"MIT", "MIT", nil},
		{"mit", "MIT", nil},
		{"  mit  ", "MIT", nil},
		{"Apache-2.0", "Apache-2.0", nil},
		{"cern-ohl-s-2.0", "CERN-OHL-S-2.0", nil},
		{"GPL-3.0", "GPL-3.0-only", nil},
		{"GPL-3.0+", "GPL-3.0-or-later", nil},
		{"gpl-2.0+", "GPL-2.0-or-later", nil},
		{"GPL-2.0-or-later+", "GPL-2.0-or-later", nil},
		{"LGPL-2.1+", "LGPL-2.1-or-later", nil},
		{"AGPL-3.0", "AGPL-3.0-only", nil},
		{"GFDL-1.3", "GFDL-1.3-only", nil},
		{"GFDL-1.3+", "GFDL-1.3-or-later", nil},
		{"StandardML-NJ", "SMLNJ", nil},
		{"Nunit", "zlib-acknowledgement", nil},
		{"BSD-2-Clause-NetBSD", "BSD-2-Clause", nil},
		{"wxWindows", "GPL-2.0-or-later WITH WxWindows-exception-3.1", nil},
		{"wxwindows OR MIT", "GPL-2.0-or-later WITH WxWindows-exception-3.1 OR MIT", nil},
		{"MIT-only", "MIT", nil},
		{"MIT-or-later", "MIT+", nil},
		{"MIT+", "MIT+", nil},
		{"CC-BY-3.0+", "CC-BY-3.0+", nil},
		{"mit or isc and apache-2.0", "MIT OR ISC AND Apache-2.0", nil},
		{"( mit OR isc )  AND\tapache-2.0", "(MIT OR ISC) AND Apache-2.0", nil},
		{"((MIT))", "((MIT))", nil},
		{"gpl-2.0-only with classpath-exception-2.0", "GPL-2.0-only WITH Classpath-exception-2.0", nil},
		{"proprietary", "LicenseRef-proprietary", nil},
		{"UNLICENSED", "LicenseRef-UNLICENSED", nil},
		{"licenseref-My.Licence-1", "LicenseRef-My.Licence-1", nil},
		{"documentref-spec:licenseref-x", "DocumentRef-spec:LicenseRef-x", nil},
		{"NONE", "NONE", nil},
		{"none", "NONE", nil},
		{"", "", ErrMissing},
		{"NOASSERTION", "", ErrMissing},
		{"FOO-1.0", "", ErrUnknown},
		{"GPLv3", "", ErrUnknown},
		{"GPL-3.0-with-GCC-exception", "", ErrUnknown},
		{"(MIT", "", ErrMalformed},
		{"MIT AND", "", ErrMalformed},
		{"MIT OR NONE", "", ErrMalformed},
	}
	for _, tt := range tests {
		got, err := Normalize(tt.in)
		if gotErr := sentinelOf(t, err); gotErr != tt.wantErr || got != tt.want {
			t.Errorf("Normalize(%q) = %q, %v; want %q, %v", tt.in, got, err, tt.want, tt.wantErr)
			continue
		}
		if err != nil {
			var e *Error
			if !errors.As(err, &e) || e.Role != "" || e.Expression != tt.in || strings.ContainsAny(err.Error(), "\n\r") {
				t.Errorf("Normalize(%q): bad error %#v", tt.in, err)
			}
			continue
		}
		if again, err := Normalize(got); again != got || err != nil {
			t.Errorf("Normalize(%q) = %q, %v; not idempotent", got, again, err)
		}
	}
}

func TestNameAndOSIApproved(t *testing.T) {
	tests := []struct {
		id   string
		name string
		osi  bool
	}{
		{"MIT", "MIT License", true},
		{"mit", "MIT License", true},
		{"Apache-2.0", "Apache License 2.0", true},
		{"GPL-3.0-or-later", "GNU General Public License v3.0 or later", true},
		{"CERN-OHL-S-2.0", "CERN Open Hardware Licence Version 2 - Strongly Reciprocal", true},
		{"CERN-OHL-1.2", "CERN Open Hardware Licence v1.2", false},
		{"CC-BY-4.0", "Creative Commons Attribution 4.0 International", false},
		{"CC0-1.0", "Creative Commons Zero v1.0 Universal", false},
		{"Unlicense", "The Unlicense", true},
		{"GPL-3.0", "GNU General Public License v3.0 only", true},
		{"FOO-1.0", "", false},
		{"", "", false},
		{"MIT OR ISC", "", false},
		{"Classpath-exception-2.0", "", false},
	}
	for _, tt := range tests {
		if got := Name(tt.id); got != tt.name {
			t.Errorf("Name(%q) = %q, want %q", tt.id, got, tt.name)
		}
		if got := OSIApproved(tt.id); got != tt.osi {
			t.Errorf("OSIApproved(%q) = %v, want %v", tt.id, got, tt.osi)
		}
	}
}

func TestLongExpressionMessage(t *testing.T) {
	expr := strings.Repeat("FOO ", 1000)
	err := Check(Software, expr)
	if sentinelOf(t, err) != ErrUnknown {
		t.Fatalf("Check = %v", err)
	}
	if msg := err.Error(); len(msg) > 400 || !strings.Contains(msg, "... (4000 bytes)") {
		t.Errorf("message for a 4000-byte expression: %q", msg)
	}
	var e *Error
	if !errors.As(err, &e) || e.Expression != expr {
		t.Error("Error.Expression does not hold the whole expression")
	}
}

package license

import (
	"strings"
	"testing"

	"github.com/github/go-spdx/v2/spdxexp"
)

// TestGoSPDXSatisfies pins down the go-spdx v2.3.3 behaviour this package
// relies on or works around (see open.go). If go-spdx changes, the
// assertions on what it does fail and the workarounds can be revisited;
// the assertions on Check must hold either way.
func TestGoSPDXSatisfies(t *testing.T) {
	sat := func(expr string, list ...string) bool {
		t.Helper()
		ok, err := spdxexp.Satisfies(expr, list)
		if err != nil {
			t.Fatalf("Satisfies(%q, %v): %v", expr, list, err)
		}
		return ok
	}

	// Relied on, for single licences.
	relied := []struct {
		expr string
		list []string
		want bool
	}{
		{"MIT", []string{"MIT"}, true},
		{"mit", []string{"MIT"}, true},
		{"MIT+", []string{"MIT"}, true},
		{"CC-BY-2.0+", []string{"CC-BY-4.0"}, true},
		{"CC-BY-4.0", []string{"CC-BY-2.0"}, false},
		{"GPL-2.0+", []string{"GPL-3.0-only"}, true},
		{"GPL-2.0-only", []string{"GPL-3.0-only"}, false},
		{"LGPL-2.1+", []string{"GPL-3.0-only"}, false},
		{"CC-BY-NC-3.0+", []string{"CC-BY-4.0"}, false},
		{"GFDL-1.1+", []string{"GFDL-1.3-invariants-only"}, false},
	}
	for _, r := range relied {
		if got := sat(r.expr, r.list...); got != r.want {
			t.Errorf("Satisfies(%q, %v) = %v, want %v", r.expr, r.list, got, r.want)
		}
	}

	// Worked around: an exception must match exactly, so it is dropped
	// before asking.
	if sat("GPL-2.0-only WITH Classpath-exception-2.0", "GPL-2.0-only") {
		t.Log("go-spdx now lets a licence WITH an exception satisfy the bare licence")
	}
	if err := Check(Software, "GPL-2.0-only WITH Classpath-exception-2.0"); err != nil {
		t.Error(err)
	}

	// Worked around: whole expressions are expanded wrongly, both ways.
	// The tree is evaluated here instead.
	wrongs := []struct {
		expr string
		list []string
		want bool
	}{
		{"JSON OR ((JSON OR MIT) AND ISC)", []string{"MIT", "ISC"}, true},
		{"CC-BY-NC-4.0 OR ((CC-BY-ND-4.0 OR MIT) AND ISC)", []string{"MIT", "ISC"}, true},
		{"JSON OR (((ISC AND (0BSD AND ISC)) AND MIT) AND (CC-BY-NC-4.0 OR ((ISC OR 0BSD) AND CC-BY-ND-4.0)))", []string{"MIT", "ISC", "0BSD", "Zlib"}, false},
	}
	for _, w := range wrongs {
		if got := sat(w.expr, w.list...); got == w.want {
			t.Logf("go-spdx now gets %q right", w.expr)
		}
		// JSON is not open for software; the rest are OSI-approved or NC/ND.
		err := Check(Software, w.expr)
		if (err == nil) != w.want {
			t.Errorf("Check(software, %q) = %v, want open %v", w.expr, err, w.want)
		}
	}

	// Worked around: expansion is exponential, so whole expressions never
	// reach Satisfies. This one has 2^40 combinations.
	big := strings.Repeat("(JSON OR MIT) AND ", 40) + "ISC"
	if err := Check(Software, big); err != nil {
		t.Errorf("Check(software, 40 ORs): %v", err)
	}
}

// TestGoSPDXParse pins down where go-spdx's parser differs from ours, and
// that ours never accepts what go-spdx rejects.
func TestGoSPDXParse(t *testing.T) {
	tests := []struct {
		expr     string
		goSPDX   bool  // what ValidateLicenses says
		ourCheck error // what Check(Software) says
	}{
		{"MIT ANDISC", true, ErrUnknown},                                   // go-spdx matches operators as prefixes
		{"MIT or ISC", false, nil},                                         // go-spdx only takes upper-case operators
		{"MIT\tOR ISC", false, nil},                                        // nor white space other than spaces
		{"GPL-2.0-only+", true, ErrMalformed},                              // a contradiction go-spdx lets through
		{"MIT-only", true, nil},                                            // go-spdx reads it as MIT; so do we
		{"LicenseRef-x WITH Classpath-exception-2.0", false, ErrMalformed}, // SPDX allows it, go-spdx does not
		{"SHL-2.1", false, ErrMalformed},                                   // an exception, not a licence
		{"NONE", false, nil},                                               // SPDX's own special value
		{"proprietary", false, ErrNotOpen},
	}
	for _, tt := range tests {
		if ok, _ := spdxexp.ValidateLicenses([]string{tt.expr}); ok != tt.goSPDX {
			t.Errorf("ValidateLicenses(%q) = %v, want %v", tt.expr, ok, tt.goSPDX)
		}
		if got := sentinelOf(t, Check(Software, tt.expr)); got != tt.ourCheck {
			t.Errorf("Check(software, %q) = %v, want %v", tt.expr, got, tt.ourCheck)
		}
	}
}

// TestGoSPDXPanics: go-spdx v2.3.3 panics on some unfinished expressions.
// validate recovers, and Check never gets that far with them.
func TestGoSPDXPanics(t *testing.T) {
	for _, expr := range []string{"(", "MIT AND (", "MIT WITH"} {
		func() {
			defer func() {
				if recover() == nil {
					t.Logf("go-spdx no longer panics on %q", expr)
				}
			}()
			spdxexp.ValidateLicenses([]string{expr})
		}()
		if validate(expr) {
			t.Errorf("validate(%q) = true", expr)
		}
		if err := Check(Software, expr); sentinelOf(t, err) != ErrMalformed {
			t.Errorf("Check(software, %q) = %v, want malformed", expr, err)
		}
	}
}

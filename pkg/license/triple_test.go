package license

import (
	"errors"
	"slices"
	"strings"
	"testing"
)

func TestCheckTriple(t *testing.T) {
	tests := []struct {
		name   string
		triple Triple
		// wantErrs are the sentinels of the joined errors, for
		// allowNonOpen false and true.
		strict, lenient []error
		open            bool     // Report.Open, either way
		roleOpen        [3]bool  // RoleReport.Open per role
		normalized      []string // RoleReport.Normalized per role
	}{
		{
			name:       "open",
			triple:     Triple{"CERN-OHL-S-2.0", "GPL-3.0-or-later", "CC-BY-SA-4.0"},
			open:       true,
			roleOpen:   [3]bool{true, true, true},
			normalized: []string{"CERN-OHL-S-2.0", "GPL-3.0-or-later", "CC-BY-SA-4.0"},
		},
		{
			name:       "fixable spelling",
			triple:     Triple{"cern-ohl-s-2.0", "GPL-3.0+", "cc-by-sa-4.0"},
			open:       true,
			roleOpen:   [3]bool{true, true, true},
			normalized: []string{"CERN-OHL-S-2.0", "GPL-3.0-or-later", "CC-BY-SA-4.0"},
		},
		{
			name:       "no software",
			triple:     Triple{"CERN-OHL-P-2.0", "NONE", "CC-BY-4.0"},
			open:       true,
			roleOpen:   [3]bool{true, true, true},
			normalized: []string{"CERN-OHL-P-2.0", "NONE", "CC-BY-4.0"},
		},
		{
			name:       "non-open hardware",
			triple:     Triple{"CC-BY-NC-SA-4.0", "MIT", "CC-BY-4.0"},
			strict:     []error{ErrNotOpen},
			roleOpen:   [3]bool{false, true, true},
			normalized: []string{"CC-BY-NC-SA-4.0", "MIT", "CC-BY-4.0"},
		},
		{
			name:       "two non-open",
			triple:     Triple{"proprietary", "CC-BY-4.0", "CC-BY-4.0"},
			strict:     []error{ErrNotOpen, ErrNotOpen},
			roleOpen:   [3]bool{false, false, true},
			normalized: []string{"LicenseRef-proprietary", "CC-BY-4.0", "CC-BY-4.0"},
		},
		{
			name:       "missing is an error even when non-open is allowed",
			triple:     Triple{"CC-BY-NC-4.0", "", "CC-BY-4.0"},
			strict:     []error{ErrNotOpen, ErrMissing},
			lenient:    []error{ErrMissing},
			roleOpen:   [3]bool{false, false, true},
			normalized: []string{"CC-BY-NC-4.0", "", "CC-BY-4.0"},
		},
		{
			name:       "unknown and malformed",
			triple:     Triple{"FOO-1.0", "(MIT", "NOASSERTION"},
			strict:     []error{ErrUnknown, ErrMalformed, ErrMissing},
			lenient:    []error{ErrUnknown, ErrMalformed, ErrMissing},
			normalized: []string{"", "", ""},
		},
		{
			name:       "all NONE",
			triple:     Triple{"NONE", "NONE", "none"},
			strict:     []error{ErrMissing},
			lenient:    []error{ErrMissing},
			roleOpen:   [3]bool{true, true, true},
			normalized: []string{"NONE", "NONE", "NONE"},
		},
	}
	for _, tt := range tests {
		for _, allow := range []bool{false, true} {
			want := tt.strict
			if allow {
				want = tt.lenient
			}
			rep, err := CheckTriple(tt.triple, allow)
			var got []error
			if err != nil {
				joined, ok := err.(interface{ Unwrap() []error })
				if !ok {
					t.Fatalf("%s: error %v is not an errors.Join", tt.name, err)
				}
				for _, e := range joined.Unwrap() {
					got = append(got, sentinelOf(t, e))
					if strings.ContainsAny(e.Error(), "\n\r") {
						t.Errorf("%s: message is not one line: %q", tt.name, e)
					}
				}
			}
			if !slices.Equal(got, want) {
				t.Errorf("%s, allowNonOpen %v: errors %v (%v), want %v", tt.name, allow, got, err, want)
			}
			if rep.Open != tt.open {
				t.Errorf("%s, allowNonOpen %v: Report.Open = %v", tt.name, allow, rep.Open)
			}
			if len(rep.Roles) != 3 {
				t.Fatalf("%s: %d role reports", tt.name, len(rep.Roles))
			}
			for i, rr := range rep.Roles {
				role := Roles()[i]
				if rr.Role != role || rr.Expression != tt.triple.Get(role) {
					t.Errorf("%s: report %d is %+v", tt.name, i, rr)
				}
				if rr.Open != tt.roleOpen[i] || rr.Normalized != tt.normalized[i] {
					t.Errorf("%s: %s report %+v, want Open %v, Normalized %q", tt.name, role, rr, tt.roleOpen[i], tt.normalized[i])
				}
				if rr.Open != (rr.Reason == "") {
					t.Errorf("%s: %s report %+v: Reason must be set exactly when not open", tt.name, role, rr)
				}
			}
		}
	}
}

func TestCheckTripleMessages(t *testing.T) {
	_, err := CheckTriple(Triple{"CC-BY-NC-SA-4.0", "MIT", "LicenseRef-manual"}, false)
	lines := strings.Split(err.Error(), "\n")
	want := []string{
		`hardware licence "CC-BY-NC-SA-4.0" is not open: NonCommercial (-NC) licences forbid commercial use, which the Open Source Hardware Definition requires; use e.g. CERN-OHL-S-2.0 or CC-BY-SA-4.0`,
		`documentation licence "LicenseRef-manual" is not open: proprietary / custom licence, not on the SPDX list of open licences; use e.g. CC-BY-4.0 or CC0-1.0`,
	}
	if !slices.Equal(lines, want) {
		t.Errorf("CheckTriple error:\n%s\nwant:\n%s", err, strings.Join(want, "\n"))
	}

	rep, err := CheckTriple(Triple{"CC-BY-NC-SA-4.0", "MIT", "CC-BY-4.0"}, true)
	if err != nil || rep.Open || rep.Roles[0].Open || !strings.Contains(rep.Roles[0].Reason, "NonCommercial") {
		t.Errorf("allowNonOpen: %+v, %v", rep, err)
	}

	_, err = CheckTriple(Triple{"NONE", "NONE", "NONE"}, true)
	if !errors.Is(err, ErrMissing) || !strings.Contains(err.Error(), "a design needs at least one licensed part") {
		t.Errorf("all NONE: %v", err)
	}
}

func TestTripleGet(t *testing.T) {
	tr := Triple{Hardware: "h", Software: "s", Documentation: "d"}
	for role, want := range map[Role]string{Hardware: "h", Software: "s", Documentation: "d", "firmware": ""} {
		if got := tr.Get(role); got != want {
			t.Errorf("Get(%s) = %q, want %q", role, got, want)
		}
	}
}

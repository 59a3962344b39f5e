package license

import (
	"slices"
	"strings"
	"testing"

	"github.com/github/go-spdx/v2/spdxexp"
)

func TestOpenLists(t *testing.T) {
	tests := []struct {
		role   Role
		in     []string
		notIn  []string
		minLen int
	}{
		{
			role: Hardware,
			in: []string{
				"CERN-OHL-1.1", "CERN-OHL-1.2", "CERN-OHL-P-2.0", "CERN-OHL-W-2.0", "CERN-OHL-S-2.0",
				"TAPR-OHL-1.0", "SHL-0.5", "SHL-0.51",
				"CC-BY-3.0", "CC-BY-4.0", "CC-BY-SA-3.0", "CC-BY-SA-4.0", "CC-BY-3.0-DE", "CC-BY-SA-3.0-IGO",
				"CC0-1.0", "MIT", "GPL-3.0-or-later", "Apache-2.0",
			},
			notIn: []string{"CC-BY-2.5", "CC-BY-SA-2.0", "CC-BY-SA-2.1-JP", "GFDL-1.3-only", "JSON", "GPL-3.0"},
		},
		{
			role:  Software,
			in:    []string{"MIT", "Apache-2.0", "GPL-2.0-only", "CC0-1.0", "Unlicense", "0BSD", "CERN-OHL-S-2.0"},
			notIn: []string{"CC-BY-4.0", "CC-BY-SA-4.0", "CERN-OHL-1.2", "TAPR-OHL-1.0", "GFDL-1.3-only", "JSON", "GPL-2.0"},
		},
		{
			role: Documentation,
			in: []string{
				"CC-BY-1.0", "CC-BY-2.5", "CC-BY-4.0", "CC-BY-SA-2.1-JP", "CC-BY-SA-4.0", "CC0-1.0",
				"GFDL-1.1-only", "GFDL-1.3-or-later", "GFDL-1.3-no-invariants-only", "GFDL-1.2-no-invariants-or-later",
				"CERN-OHL-1.2", "TAPR-OHL-1.0", "MIT", "GPL-3.0-or-later",
			},
			notIn: []string{"GFDL-1.3-invariants-only", "GFDL-1.1-invariants-or-later", "GFDL-1.3", "JSON"},
		},
	}
	ids := spdxIDs()
	for _, tt := range tests {
		list := OpenList(tt.role)
		if !slices.IsSorted(list) {
			t.Errorf("%s list is not sorted", tt.role)
		}
		for _, id := range tt.in {
			if !slices.Contains(list, id) {
				t.Errorf("%s list lacks %s", tt.role, id)
			}
		}
		for _, id := range tt.notIn {
			if slices.Contains(list, id) {
				t.Errorf("%s list has %s", tt.role, id)
			}
		}
		for _, id := range list {
			if ids.active[strings.ToLower(id)] != id {
				t.Errorf("%s list has %s, which go-spdx does not know as a current licence", tt.role, id)
			}
			if isNonCommercial(id) || isNoDerivatives(id) || isGFDLInvariants(id) {
				t.Errorf("%s list has %s", tt.role, id)
			}
			if strings.Contains(id, "-NC") || strings.Contains(id, "-ND") {
				t.Errorf("%s list has %s", tt.role, id)
			}
		}
	}
	if OpenList("firmware") != nil {
		t.Error("OpenList(firmware) is not nil")
	}
	l := OpenList(Software)
	l[0] = "mutated"
	if OpenList(Software)[0] == "mutated" {
		t.Error("OpenList returns the package's own slice")
	}
}

// TestOpenListsParse makes sure go-spdx can parse every entry it is given
// as a list to satisfy: Satisfies refuses the whole list otherwise.
func TestOpenListsParse(t *testing.T) {
	for _, role := range Roles() {
		if ok, bad := spdxexp.ValidateLicenses(OpenList(role)); !ok {
			t.Errorf("%s list: go-spdx cannot parse %v", role, bad)
		}
	}
}

// TestNonCommercialNoDerivatives refuses every NC and ND licence on the
// SPDX list, with or without "+", for every role, with the right reason.
func TestNonCommercialNoDerivatives(t *testing.T) {
	n := 0
	for _, id := range spdxIDs().active {
		nc, nd := isNonCommercial(id), isNoDerivatives(id)
		if !nc && !nd {
			continue
		}
		n++
		for _, role := range Roles() {
			for _, expr := range []string{id, id + "+", "MIT AND " + id} {
				err := Check(role, expr)
				if sentinelOf(t, err) != ErrNotOpen {
					t.Errorf("Check(%s, %q) = %v, want not open", role, expr, err)
					continue
				}
				if !strings.Contains(err.Error(), "forbid") {
					t.Errorf("Check(%s, %q) = %v: reason is not NC/ND", role, expr, err)
				}
			}
		}
	}
	if n < 25 {
		t.Errorf("only %d NonCommercial/NoDerivatives licences found", n)
	}
}

// TestSatisfiesCandidates checks that asking Satisfies about one licence
// against the cut-down list of candidates gives the same answer as asking
// it against the whole open list, with and without "+", for the licence
// families where go-spdx's version ranges come into play (CC-BY, GPL,
// GFDL, ...) and a few that have none. Satisfies parses the whole list on
// every call (about 10 ms), so this is a sample, smaller still with
// -short.
func TestSatisfiesCandidates(t *testing.T) {
	families := []string{"CC-BY-", "GPL-", "LGPL-", "AGPL-", "GFDL-1.3", "Apache-", "MPL-", "CERN-OHL-", "EUPL-"}
	roles := Roles()
	if testing.Short() {
		families = []string{"CC-BY-SA-", "GPL-"}
		roles = []Role{Hardware}
	}
	ids := []string{"MIT", "JSON", "TAPR-OHL-1.0", "CC0-1.0"}
	for id := range licenseGroups() {
		for _, f := range families {
			// NC and ND licences are refused before Satisfies is asked.
			if strings.HasPrefix(id, f) && spdxIDs().active[strings.ToLower(id)] == id && !isNonCommercial(id) && !isNoDerivatives(id) {
				ids = append(ids, id)
			}
		}
	}
	slices.Sort(ids)
	for _, role := range roles {
		full := OpenList(role)
		for _, id := range ids {
			for _, plus := range []bool{false, true} {
				lic := id
				if plus {
					if strings.HasSuffix(id, "-or-later") || strings.HasSuffix(id, "-only") {
						continue
					}
					lic += "+"
				}
				want, err := spdxexp.Satisfies(lic, full)
				if err != nil {
					t.Fatalf("Satisfies(%q, %s list): %v", lic, role, err)
				}
				if got := satisfies(role, term{id: id, plus: plus}); got != want {
					t.Errorf("%s: %s: satisfies = %v, Satisfies with the whole list = %v", role, lic, got, want)
				}
			}
		}
	}
}

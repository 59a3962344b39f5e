package license

import (
	"slices"
	"strings"
	"testing"

	"github.com/github/go-spdx/v2/spdxexp"
	"github.com/github/go-spdx/v2/spdxexp/spdxlicenses"
)

// newerThanGoSPDX are OSI-approved licences in spdx-license-list 6.12.0
// that go-spdx v2.3.3's copy of the SPDX list predates. Check refuses
// them as unknown until go-spdx learns them; when it does, this test
// says so and they can leave this list.
var newerThanGoSPDX = []string{"ALGLIB-Documentation", "OSC-1.0", "WordNet"}

// TestTable checks the generated table against go-spdx's identifier lists.
func TestTable(t *testing.T) {
	if spdxSource != "spdx-license-list@6.12.0" {
		t.Errorf("spdxSource = %q", spdxSource)
	}
	ids := spdxIDs()
	osi := 0
	for id, e := range spdxTable {
		if e.Name == "" {
			t.Errorf("%s has no name", id)
		}
		if strings.TrimSpace(e.Name) != e.Name || strings.ContainsAny(e.Name, "\n\r") {
			t.Errorf("%s: name %q is not one clean line", id, e.Name)
		}
		if !e.OSIApproved {
			continue
		}
		osi++
		lower := strings.ToLower(id)
		known := ids.active[lower] == id || ids.deprecated[lower] == id
		newer := slices.Contains(newerThanGoSPDX, id)
		switch {
		case known && newer:
			t.Errorf("go-spdx now knows %s: take it off newerThanGoSPDX", id)
		case !known && !newer:
			t.Errorf("OSI-approved %s is not an SPDX id go-spdx knows", id)
		case known:
			if ok, _ := spdxexp.ValidateLicenses([]string{id}); !ok {
				t.Errorf("go-spdx does not validate OSI-approved %s", id)
			}
		}
	}
	if osi < 100 || osi > len(spdxTable)/2 {
		t.Errorf("%d of %d licences are OSI-approved; the table looks wrong", osi, len(spdxTable))
	}
	if len(spdxTable) < 600 {
		t.Errorf("only %d licences in the table", len(spdxTable))
	}
	// Every licence go-spdx knows has a name: the npm list is newer.
	for _, list := range [][]string{spdxlicenses.GetLicenses(), spdxlicenses.GetDeprecated()} {
		for _, id := range list {
			if _, ok := spdxTable[id]; !ok {
				t.Errorf("go-spdx knows %s, the table does not", id)
			}
		}
	}
}

// TestDeprecated checks the handling of every deprecated identifier
// go-spdx knows: Normalize replaces it with current identifiers, or
// Check refuses it as unknown, saying it is deprecated and what to write.
func TestDeprecated(t *testing.T) {
	ids := spdxIDs()
	for id := range deprecatedReplacement {
		if ids.deprecated[strings.ToLower(id)] != id {
			t.Errorf("deprecatedReplacement has %s, which go-spdx does not list as deprecated", id)
		}
		if _, ok := deprecatedChoices[id]; ok {
			t.Errorf("%s is both replaced and a choice", id)
		}
	}
	for id := range deprecatedChoices {
		if ids.deprecated[strings.ToLower(id)] != id {
			t.Errorf("deprecatedChoices has %s, which go-spdx does not list as deprecated", id)
		}
	}
	for _, id := range spdxlicenses.GetDeprecated() {
		got, err := Normalize(id)
		if err != nil {
			if sentinelOf(t, err) != ErrUnknown || !strings.Contains(err.Error(), "deprecated") {
				t.Errorf("Normalize(%q) = %v, want unknown and deprecated", id, err)
			}
			for _, choice := range deprecatedChoices[id] {
				if n, err := Normalize(choice); err != nil || n != choice {
					t.Errorf("%s: choice %q normalizes to %q, %v", id, choice, n, err)
				}
			}
			continue
		}
		for _, w := range splitWords(got) {
			lw := strings.ToLower(strings.TrimSuffix(w, "+"))
			if ids.deprecated[lw] != "" {
				t.Errorf("Normalize(%q) = %q, still deprecated", id, got)
			}
		}
		if want, ok := deprecatedReplacement[strings.TrimSuffix(id, "+")]; ok && !strings.HasSuffix(id, "+") && got != want {
			t.Errorf("Normalize(%q) = %q, want %q", id, got, want)
		}
		if strings.HasSuffix(id, "+") && !strings.HasSuffix(got, "-or-later") {
			t.Errorf("Normalize(%q) = %q, want an -or-later identifier", id, got)
		}
	}
}

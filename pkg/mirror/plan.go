package mirror

import (
	"cmp"
	"slices"

	"github.com/ipfs/go-cid"
)

// Version is one bundle version a library offers a mirror.
type Version struct {
	Root     cid.Cid
	Bundle   string
	Sequence int64
	// Size is the version's file size in bytes, as its manifest says.
	Size int64
	// Updated is when the version was signed (RFC 3339; compared as text,
	// which orders RFC 3339 UTC times).
	Updated string
	// Depth is 0 for a bundle's newest version (the library's entry), 1
	// for its parent, and so on.
	Depth int
}

// Plan returns the versions p keeps, in the order to fetch them, and the
// versions it leaves out. The order puts every bundle's newest version
// first (most recently updated first, so a new version reaches followers
// before the backlog), then older versions nearest their head first.
// Latest keeps depth 0 only; Quota keeps versions in that order while
// their sizes fit, skipping one that does not and trying the rest; All
// keeps everything. A version listed twice (two bundles sharing one) is
// planned once.
func Plan(p Policy, versions []Version) (keep, skip []Version) {
	vs := slices.Clone(versions)
	slices.SortStableFunc(vs, func(a, b Version) int {
		if c := cmp.Compare(a.Depth, b.Depth); c != 0 {
			return c
		}
		if c := cmp.Compare(b.Updated, a.Updated); c != 0 {
			return c
		}
		return cmp.Compare(a.Bundle, b.Bundle)
	})
	seen := cid.NewSet()
	var used int64
	for _, v := range vs {
		if !seen.Visit(v.Root) {
			continue
		}
		switch {
		case p.Mode == Latest && v.Depth > 0:
			skip = append(skip, v)
		case p.Mode == Quota && used+v.Size > p.Quota:
			skip = append(skip, v)
		default:
			used += v.Size
			keep = append(keep, v)
		}
	}
	return keep, skip
}

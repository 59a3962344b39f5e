package license

// What to do with the deprecated SPDX identifiers that go-spdx still
// accepts. The SPDX licence-list XML names each one's successors
// (<obsoletedBy>) or explains the deprecation in its notes; this file
// follows it.
//
// Where SPDX names one successor, or the old identifier had one meaning,
// Normalize substitutes it and Check accepts the old spelling. In
// particular the bare GNU identifiers (GPL-2.0, LGPL-2.1, GFDL-1.3, ...)
// meant that version only, because "or later" was spelled with "+"
// (GPL-2.0+) until SPDX 3.0 renamed both forms; SPDX now lists -only and
// -or-later as successors so that new text chooses explicitly, but the
// old identifier's meaning was -only. The "+" forms are not listed here:
// "GPL-2.0+" is GPL-2.0 with "+", which Normalize spells GPL-2.0-or-later.
//
// Where SPDX names a choice that the old identifier did not settle (the
// GPL-x-with-...-exception family: "GPL-2.0 WITH ..." or "GPL-2.0-or-later
// WITH ..."), or no successor, guessing would put words in the licensor's
// mouth, so Check refuses with ErrUnknown and lists the choices.

// deprecatedReplacement maps a deprecated identifier to the expression
// that replaces it.
var deprecatedReplacement = map[string]string{
	"AGPL-1.0": "AGPL-1.0-only",
	"AGPL-3.0": "AGPL-3.0-only",
	"GFDL-1.1": "GFDL-1.1-only",
	"GFDL-1.2": "GFDL-1.2-only",
	"GFDL-1.3": "GFDL-1.3-only",
	"GPL-1.0":  "GPL-1.0-only",
	"GPL-2.0":  "GPL-2.0-only",
	"GPL-3.0":  "GPL-3.0-only",
	"LGPL-2.0": "LGPL-2.0-only",
	"LGPL-2.1": "LGPL-2.1-only",
	"LGPL-3.0": "LGPL-3.0-only",

	// "a match to BSD-2-Clause" (SPDX notes, list 3.9).
	"BSD-2-Clause-NetBSD": "BSD-2-Clause",
	// "BSD-2-Clause-Views has been added, as a more generalized version"
	// (SPDX notes, list 3.10).
	"BSD-2-Clause-FreeBSD": "BSD-2-Clause-Views",
	// "bzip2-1.0.6, which is now equivalent" (SPDX notes, list 3.16).
	"bzip2-1.0.5": "bzip2-1.0.6",
	// One <obsoletedBy> each.
	"Nunit":         "zlib-acknowledgement",
	"StandardML-NJ": "SMLNJ",
	"eCos-2.0":      "GPL-2.0-or-later WITH eCos-exception-2.0",
	"wxWindows":     "GPL-2.0-or-later WITH WxWindows-exception-3.1",
}

// deprecatedChoices maps the deprecated identifiers Normalize does not
// replace to the successors SPDX lists, for the error message. The
// GPL-2.0 that SPDX writes in them is spelled GPL-2.0-only here, which is
// what it means today.
var deprecatedChoices = map[string][]string{
	"GPL-2.0-with-GCC-exception":       {"GPL-2.0-only WITH GCC-exception-2.0", "GPL-2.0-or-later WITH GCC-exception-2.0"},
	"GPL-2.0-with-autoconf-exception":  {"GPL-2.0-only WITH Autoconf-exception-2.0", "GPL-2.0-or-later WITH Autoconf-exception-2.0"},
	"GPL-2.0-with-bison-exception":     {"GPL-2.0-only WITH Bison-exception-2.2", "GPL-2.0-or-later WITH Bison-exception-2.2"},
	"GPL-2.0-with-classpath-exception": {"GPL-2.0-only WITH Classpath-exception-2.0", "GPL-2.0-or-later WITH Classpath-exception-2.0"},
	"GPL-2.0-with-font-exception":      {"GPL-2.0-only WITH Font-exception-2.0", "GPL-2.0-or-later WITH Font-exception-2.0"},
	"GPL-3.0-with-GCC-exception":       {"GPL-3.0-only WITH GCC-exception-3.1", "GPL-3.0-or-later WITH GCC-exception-3.1"},
	"GPL-3.0-with-autoconf-exception":  {"GPL-3.0-only WITH Autoconf-exception-3.0", "GPL-3.0-or-later WITH Autoconf-exception-3.0"},
	// Stood for the stack of licences Net-SNMP used, which has since
	// grown; SPDX asks for the individual licences instead.
	"Net-SNMP": nil,
}

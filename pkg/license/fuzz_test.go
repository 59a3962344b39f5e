package license

import (
	"strings"
	"testing"
	"unicode"

	"github.com/github/go-spdx/v2/spdxexp"
)

// FuzzCheck feeds arbitrary expressions, which come from manifests that
// users write, to Check and Normalize. Neither may panic; every refusal
// wraps exactly one of the four sentinels and is one line naming the role
// and the expression; Normalize is idempotent and agrees with Check
// (Check(Normalize(x)) has the verdict of Check(x), and whatever
// Normalize refuses Check refuses for the same reason); and our parser
// accepts a canonical expression exactly when go-spdx does.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"MIT", "mit", "Apache-2.0", "GPL-3.0-or-later", "GPL-3.0", "GPL-2.0+", "CERN-OHL-S-2.0",
		"CC-BY-4.0", "CC-BY-NC-4.0", "CC-BY-ND-4.0", "CC-BY-NC-SA-4.0", "CC-BY-2.0+",
		"proprietary", "UNLICENSED", "LicenseRef-foo", "DocumentRef-a:LicenseRef-b", "",
		"NOASSERTION", "NONE", "MIT OR CC-BY-NC-4.0", "MIT AND CC-BY-NC-4.0",
		"GPL-2.0-only WITH Classpath-exception-2.0", "(MIT", "MIT AND", "garbage", "FOO-1.0",
		"GPLv3", "Apache 2.0", "CC-BY 4.0", "MIT License", "eCos-2.0", "wxWindows+",
		"(mit or isc) and (apache-2.0 OR cc0-1.0)", "MIT ANDISC", "SHL-2.1",
		"GFDL-1.3-invariants-only", "GPL-2.0-only+", "MIT WITH GPL-2.0-only", "((MIT))", "()",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, x string) {
		n, nerr := Normalize(x)
		nsent := sentinelOf(t, nerr)
		if nsent == ErrNotOpen {
			t.Fatalf("Normalize(%q) judged openness: %v", x, nerr)
		}
		for _, role := range Roles() {
			err := Check(role, x)
			sent := sentinelOf(t, err)
			if err != nil {
				msg := err.Error()
				if strings.ContainsAny(msg, "\n\r") {
					t.Fatalf("Check(%s, %q): message is not one line: %q", role, x, msg)
				}
				if !strings.HasPrefix(msg, string(role)+" licence") {
					t.Fatalf("Check(%s, %q): message does not name the role: %q", role, x, msg)
				}
				if strings.TrimFunc(x, unicode.IsSpace) != "" && !strings.Contains(msg, quoteExpression(x)) {
					t.Fatalf("Check(%s, %q): message does not quote the expression: %q", role, x, msg)
				}
			}
			if nerr != nil {
				if sent != nsent {
					t.Fatalf("Normalize(%q) = %v but Check(%s) = %v", x, nerr, role, err)
				}
				continue
			}
			if got := sentinelOf(t, Check(role, n)); got != sent {
				t.Fatalf("Check(%s, %q) = %v but Check(%s, Normalize = %q) = %v", role, x, err, role, n, got)
			}
		}
		if nerr != nil {
			return
		}
		if again, err := Normalize(n); again != n || err != nil {
			t.Fatalf("Normalize(%q) = %q; Normalize of that = %q, %v", x, n, again, err)
		}
		if n != "NONE" {
			if ok, _ := spdxexp.ValidateLicenses([]string{n}); !ok {
				t.Fatalf("Normalize(%q) = %q, which go-spdx rejects", x, n)
			}
		}
	})
}

// FuzzParser compares our parser with go-spdx's on canonical spellings:
// once the words are resolved, the two grammars must agree. (It found that
// go-spdx panics on "(": see validate.)
func FuzzParser(f *testing.F) {
	for _, s := range []string{
		"MIT", "MIT OR ISC AND Apache-2.0", "(MIT OR ISC) AND (Apache-2.0)", "MIT AND", "(MIT",
		"MIT)", "()", "MIT ISC", "MIT WITH Classpath-exception-2.0", "(MIT) WITH Classpath-exception-2.0",
		"LicenseRef-x WITH Classpath-exception-2.0", "MIT+ WITH Classpath-exception-2.0", "WITH",
		"AND MIT", "MIT OR OR ISC", "((MIT)) AND ((ISC OR (0BSD)))", "DocumentRef-a:LicenseRef-b OR MIT",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, x string) {
		if len(x) > maxInputLen {
			return
		}
		toks, prob := resolve(splitWords(x))
		if prob != nil {
			return
		}
		canonical := render(toks)
		if len(canonical) > maxCanonicalLen || canonical == "" {
			return
		}
		_, prob = (&parser{toks: toks}).parse()
		ours := prob == nil
		theirs := validate(canonical)
		if ours != theirs {
			t.Fatalf("%q: our parser says %v (%v), go-spdx says %v", canonical, ours, prob, theirs)
		}
	})
}

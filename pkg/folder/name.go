package folder

import (
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLen is the longest entry name, in bytes, that ValidName accepts:
// the limit of common file systems (ext4, APFS, NTFS in UTF-16 units).
const MaxNameLen = 255

// maxLinkTargetLen is the longest symlink target accepted (PATH_MAX - 1).
const maxLinkTargetLen = 4095

// ValidName reports whether name is safe as a single path element on any
// machine that may write it: it must not be "", "." or ".."; must not
// contain "/" or "\"; must not contain NUL or any other control character
// (C0, DEL, C1); must be valid UTF-8; and must be at most MaxNameLen bytes.
// The error wraps ErrUnsafeName and says which rule the name breaks.
func ValidName(name string) error {
	reason := nameProblem(name)
	if reason == "" {
		return nil
	}
	return fmt.Errorf("name %s %s: %w", quoteName(name), reason, ErrUnsafeName)
}

// nameProblem returns why name is unsafe, or "" if it is safe.
func nameProblem(name string) string {
	switch name {
	case "":
		return "is empty"
	case ".", "..":
		return "refers to a directory, not an entry"
	}
	if len(name) > MaxNameLen {
		return fmt.Sprintf("is longer than %d bytes", MaxNameLen)
	}
	if !utf8.ValidString(name) {
		return "is not valid UTF-8"
	}
	for _, r := range name {
		switch {
		case r == '/':
			return `contains "/"`
		case r == '\\':
			return `contains "\"`
		case unicode.IsControl(r):
			return "contains a control character"
		}
	}
	return ""
}

// quoteName returns name as is when it prints cleanly, else Go-quoted, so
// that hostile names cannot play tricks on a terminal.
func quoteName(name string) string {
	if name != "" && utf8.ValidString(name) && strings.IndexFunc(name, func(r rune) bool {
		return !unicode.IsPrint(r) || r == '"'
	}) < 0 {
		return `"` + name + `"`
	}
	return strconv.Quote(name)
}

// displayPath returns a slash-separated relative path for messages, quoted
// only if it would not print cleanly.
func displayPath(p string) string {
	if p == "" {
		return "."
	}
	if utf8.ValidString(p) && strings.IndexFunc(p, func(r rune) bool { return !unicode.IsPrint(r) }) < 0 {
		return p
	}
	return strconv.Quote(p)
}

// joinRel joins a slash-separated relative directory and a name.
func joinRel(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// linkTargetProblem checks the text of a symlink that lives in a directory
// depth levels below the root (0 for a link directly in the root). It returns
// why the target is refused, or "" if it is a plain relative path that stays
// inside the root when resolved from the link's directory.
//
// The rule is stricter than lexical cleaning: ".." may appear only at the
// start. "sub/l/.." cleans to "sub", but if sub/l is itself a symlink the
// kernel resolves ".." from wherever l points, which could be outside; a
// target that only climbs real directories first and then descends cannot
// escape, provided every symlink it passes through obeys the same rule.
func linkTargetProblem(target string, depth int) string {
	switch {
	case target == "":
		return "has an empty target"
	case len(target) > maxLinkTargetLen:
		return "has a target that is too long"
	case strings.HasPrefix(target, "/"):
		return "points outside the folder (absolute target)"
	}
	ups, named := 0, false
	for _, el := range strings.Split(target, "/") {
		switch el {
		case "", ".":
			continue
		case "..":
			if named {
				return `goes into a directory and back out with ".."; use a plain relative target`
			}
			ups++
			if ups > depth {
				return "points outside the folder"
			}
		default:
			if reason := nameProblem(el); reason != "" {
				return "has a target with an unsafe name: " + quoteName(el) + " " + reason
			}
			named = true
		}
	}
	return ""
}

package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Size is an amount of disk space as written in the file: a number and a
// unit, such as "256MiB", "1GB" or "0", or a plain number of bytes. It is
// kept as written, as Rate is, so a file read and written again says what
// its author wrote.
type Size string

// sizeUnits are the units a size may have, in bytes: SI (kB, MB, ...) and
// binary (KiB, MiB, ...) as their names say. Sizes are bytes only, so no
// unit is ambiguous, but "Mb" and the like are refused: they read as bits.
var sizeUnits = map[string]float64{
	"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12,
	"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30, "TiB": 1 << 40,
}

var errSizeSyntax = errors.New("want a number of bytes, or a number and a unit such as 256MiB, 1GiB or 500MB")

// Bytes returns s in bytes; "" is 0.
func (s Size) Bytes() (int64, error) {
	t := strings.TrimSpace(string(s))
	if t == "" {
		return 0, nil
	}
	i := strings.IndexFunc(t, func(c rune) bool { return (c < '0' || c > '9') && c != '.' })
	if i < 0 {
		i = len(t)
	}
	num, unit := t[:i], strings.TrimSpace(t[i:])
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, errSizeSyntax
	}
	per := 1.0
	if unit != "" {
		var ok bool
		if per, ok = sizeUnits[unit]; !ok {
			return 0, fmt.Errorf("unknown unit %q: %w", unit, errSizeSyntax)
		}
	}
	b := math.Round(v * per)
	if b > 1<<62 {
		return 0, fmt.Errorf("%s is more than any disk holds", t)
	}
	return int64(b), nil
}

// sizeErrors returns a complaint, naming the key, for each size of d that
// does not parse.
func (d Datastore) sizeErrors() []error {
	var errs []error
	for _, s := range []struct {
		key  string
		size Size
	}{
		{"datastore.min_free", d.MinFree},
		{"datastore.ballast", d.Ballast},
	} {
		if _, err := s.size.Bytes(); err != nil {
			errs = append(errs, fmt.Errorf("%s = %q: %w", s.key, s.size, err))
		}
	}
	return errs
}

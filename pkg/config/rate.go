package config

import (
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Rate is a transfer rate as written in the file: a number and a unit,
// per second, such as "256kbit", "2Mbit", "64KiB" or "1MB" ("/s" may
// follow). "0" or "" is no limit. It is kept as written, so a file that
// is read and written again says what its author wrote.
type Rate string

// MinRate is the least limit a rate may set, in bytes per second: 16
// kbit/s, where a 512 KiB block takes over four minutes. The bulk path
// (CAR streams) works at any rate. Bitswap, which the node uses with peers
// that do not serve the bulk path (most Kubo nodes), gives a message 2 s
// plus the time it takes at 100 kbit/s before it resets the stream, so a
// limit below 100 kbit/s starves it of large blocks: operations.md says
// so.
const MinRate = 16_000 / 8

// rateUnits are the units a rate may have, in bytes. Bits are SI
// (a kbit is 1000 bits), as link speeds are quoted; bytes are SI or
// binary as their names say.
var rateUnits = map[string]float64{
	"bit": 1.0 / 8, "kbit": 1e3 / 8, "Kbit": 1e3 / 8, "mbit": 1e6 / 8, "Mbit": 1e6 / 8, "gbit": 1e9 / 8, "Gbit": 1e9 / 8,
	"B": 1, "kB": 1e3, "KB": 1e3, "MB": 1e6, "GB": 1e9,
	"KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30,
}

// errRateSyntax is the complaint about a rate that does not parse.
var errRateSyntax = errors.New("want a number and a unit per second, such as 256kbit, 2Mbit, 64KiB or 1MB, or 0 for no limit")

// BytesPerSecond returns r in bytes per second; 0 is no limit.
func (r Rate) BytesPerSecond() (int64, error) {
	s := strings.TrimSpace(string(r))
	s = strings.TrimSpace(strings.TrimSuffix(s, "/s"))
	if s == "" {
		return 0, nil
	}
	i := strings.IndexFunc(s, func(c rune) bool { return (c < '0' || c > '9') && c != '.' })
	if i < 0 {
		i = len(s)
	}
	num, unit := s[:i], strings.TrimSpace(s[i:])
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || num == "" {
		return 0, errRateSyntax
	}
	if v == 0 {
		return 0, nil
	}
	if unit == "" {
		return 0, fmt.Errorf("no unit (is it bits or bytes?): %w", errRateSyntax)
	}
	per, ok := rateUnits[unit]
	if !ok {
		switch strings.ToLower(unit) {
		case "b", "kb", "mb", "gb", "bps", "kbps", "mbps", "gbps":
			return 0, fmt.Errorf("unit %q could be bits or bytes: write kbit, Mbit, ... for bits, kB, MB, KiB, MiB, ... for bytes", unit)
		}
		return 0, fmt.Errorf("unknown unit %q: %w", unit, errRateSyntax)
	}
	b := math.Round(v * per)
	if b > math.MaxInt64/2 {
		return 0, fmt.Errorf("%s is more than any link carries", s)
	}
	if b < 1 {
		return 0, fmt.Errorf("%s is less than a byte per second; write 0 for no limit", s)
	}
	return int64(b), nil
}

// rateErrors returns a complaint, naming the key, for each rate of s that
// does not parse or is below MinRate.
func (s Swarm) rateErrors() []error {
	var errs []error
	for _, r := range []struct {
		key  string
		rate Rate
	}{
		{"swarm.upload_rate", s.UploadRate},
		{"swarm.download_rate", s.DownloadRate},
		{"swarm.peer_upload_rate", s.PeerUploadRate},
		{"swarm.peer_download_rate", s.PeerDownloadRate},
	} {
		bps, err := r.rate.BytesPerSecond()
		switch {
		case err != nil:
			errs = append(errs, fmt.Errorf("%s = %q: %w", r.key, r.rate, err))
		case bps > 0 && bps < MinRate:
			errs = append(errs, fmt.Errorf("%s = %q: want 0 (no limit) or at least 16kbit", r.key, r.rate))
		}
	}
	return errs
}

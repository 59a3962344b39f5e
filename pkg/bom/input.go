package bom

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// readInput reads all of r, refusing more than MaxSize bytes.
func readInput(name string, r io.Reader) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxSize+1))
	if err != nil {
		return nil, fmt.Errorf("bom: read %s: %w", name, err)
	}
	if len(data) > MaxSize {
		return nil, tooLarge(name)
	}
	return data, nil
}

// decodeText turns the bytes of a BOM into text. Spreadsheets write BOMs in
// more than one encoding, so:
//   - a UTF-8 byte-order mark is dropped;
//   - UTF-16 with a byte-order mark (Excel's "Unicode text") is decoded;
//   - bytes that are not valid UTF-8 are read as Windows-1252, what Excel
//     on Windows writes for "CSV" in Western Europe ("3,50 €" as 0x80).
//
// Line breaks are kept where they were, so line numbers still match.
func decodeText(data []byte) string {
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		data = data[3:]
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}):
		return decodeUTF16(data[2:], false)
	case bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		return decodeUTF16(data[2:], true)
	}
	if utf8.Valid(data) {
		return string(data)
	}
	var b strings.Builder
	b.Grow(len(data) + len(data)/8)
	for _, c := range data {
		b.WriteRune(cp1252(c))
	}
	return b.String()
}

func decodeUTF16(data []byte, bigEndian bool) string {
	u := make([]uint16, len(data)/2)
	for i := range u {
		if bigEndian {
			u[i] = uint16(data[2*i])<<8 | uint16(data[2*i+1])
		} else {
			u[i] = uint16(data[2*i+1])<<8 | uint16(data[2*i])
		}
	}
	s := string(utf16.Decode(u))
	if len(data)%2 != 0 {
		s += string(utf8.RuneError)
	}
	return s
}

// cp1252 maps a Windows-1252 byte to its rune. It is Latin-1 except for
// 0x80-0x9F, which hold the euro sign, curly quotes and dashes; the five
// unassigned bytes there map to U+FFFD.
func cp1252(c byte) rune {
	if c < 0x80 || c >= 0xA0 {
		return rune(c)
	}
	high := [32]rune{
		'€', '\uFFFD', '‚', 'ƒ', '„', '…', '†', '‡', 'ˆ', '‰', 'Š', '‹', 'Œ', '\uFFFD', 'Ž', '\uFFFD',
		'\uFFFD', '‘', '’', '“', '”', '•', '–', '—', '˜', '™', 'š', '›', 'œ', '\uFFFD', 'ž', 'Ÿ',
	}
	return high[c-0x80]
}

// lineStarts returns the byte offset at which each line of s starts:
// lineStarts(s)[n-1] is where line n begins.
func lineStarts(s string) []int {
	starts := []int{0}
	for i := 0; i < len(s); i++ {
		if s[i] == '\n' {
			starts = append(starts, i+1)
		}
	}
	return starts
}

package bom

import (
	"path"
	"strings"
)

// Parse reads a BOM from data, choosing the syntax by the extension of
// name: .csv, .tsv, .tab and .txt are delimited text (see ParseCSV); .md,
// .markdown and .mdown are Markdown (see ParseMarkdown). For any other
// name, data holding a Markdown pipe table is read as Markdown and anything
// else as delimited text. name also prefixes error positions, so pass the
// file's name as the user knows it ("BOM.csv").
//
// The error is a *ParseError wrapping ErrMalformed when data is not a BOM.
// When data is over a limit it wraps ErrTooLarge instead, and is a
// *ParseError unless the whole input is over MaxSize.
func Parse(name string, data []byte) (*BOM, error) {
	if len(data) > MaxSize {
		return nil, tooLarge(name)
	}
	text := decodeText(data)
	switch strings.ToLower(path.Ext(strings.ReplaceAll(name, `\`, "/"))) {
	case ".csv", ".tsv", ".tab", ".txt":
		return parseDelimited(name, text)
	case ".md", ".markdown", ".mdown", ".mkd":
		return parseMarkdown(name, text)
	}
	if findTable(splitLines(text)) >= 0 {
		return parseMarkdown(name, text)
	}
	return parseDelimited(name, text)
}

// Package metadata is the commons.toml file a publisher keeps at the top of
// a design folder: what the tool cannot guess about a design (its title,
// licences, authors...). `commons publish` reads it, lets flags override it,
// asks for what is still missing when run on a terminal, and writes the
// result into the signed manifest (pkg/bundle). The file itself is
// published with the design, so a fork starts from it.
//
// Every key is optional in the file; docs/bundle.md lists them. Unknown
// keys are refused, naming the key and its line, so a typo is not silently
// ignored.
package metadata

import (
	"errors"
	"fmt"
	"strings"

	toml "github.com/pelletier/go-toml/v2"
)

// FileName is the metadata file's name at the top of a design folder.
const FileName = "commons.toml"

// MaxSize is the largest metadata file read.
const MaxSize = 256 << 10

// ErrInvalid is wrapped by every error about a metadata file or value.
var ErrInvalid = errors.New("invalid bundle metadata")

// Metadata describes a bundle as its publisher states it. Empty fields are
// unset: a new version inherits them from its parent, a first version gets
// the defaults (kind product-design) or is refused (licences).
type Metadata struct {
	Name         string   `toml:"name,omitempty" json:"name,omitempty"`
	Title        string   `toml:"title,omitempty" json:"title,omitempty"`
	Summary      string   `toml:"summary,omitempty" json:"summary,omitempty"`
	Version      string   `toml:"version,omitempty" json:"version,omitempty"`
	Kind         string   `toml:"kind,omitempty" json:"kind,omitempty"`
	Tags         []string `toml:"tags,omitempty" json:"tags,omitempty"`
	Licenses     Licenses `toml:"licenses,omitempty" json:"licenses"`
	Authors      []Author `toml:"authors,omitempty" json:"authors,omitempty"`
	BOM          string   `toml:"bom,omitempty" json:"bom,omitempty"`
	Instructions string   `toml:"instructions,omitempty" json:"instructions,omitempty"`
	DerivedFrom  []string `toml:"derived_from,omitempty" json:"derived_from,omitempty"`
	// Message says what changed in this version. It is given per publish
	// (flag or prompt), not kept in the file.
	Message string `toml:"-" json:"message,omitempty"`
}

// Licenses are SPDX expressions per part of the design.
type Licenses struct {
	Hardware      string `toml:"hardware,omitempty" json:"hardware,omitempty"`
	Software      string `toml:"software,omitempty" json:"software,omitempty"`
	Documentation string `toml:"documentation,omitempty" json:"documentation,omitempty"`
}

// Author is a person or group credited for the design.
type Author struct {
	Name    string `toml:"name" json:"name"`
	Contact string `toml:"contact,omitempty" json:"contact,omitempty"`
}

const knownKeys = "known keys: name, title, summary, version, kind, tags, licenses.hardware, licenses.software, licenses.documentation, authors, bom, instructions, derived_from"

// Parse reads a commons.toml. Errors wrap ErrInvalid and give the line.
func Parse(data []byte) (Metadata, error) {
	var m Metadata
	if len(data) > MaxSize {
		return m, fmt.Errorf("%s: %w: %d bytes, more than %d", FileName, ErrInvalid, len(data), MaxSize)
	}
	dec := toml.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil {
		var de *toml.DecodeError
		var se *toml.StrictMissingError
		switch {
		case errors.As(err, &de):
			row, col := de.Position()
			if strings.Contains(de.Error(), "unknown field") {
				return Metadata{}, fmt.Errorf("%s:%d: %w: unknown key %q (%s)", FileName, row, ErrInvalid, strings.Join(de.Key(), "."), knownKeys)
			}
			return Metadata{}, fmt.Errorf("%s:%d:%d: %w: %s", FileName, row, col, ErrInvalid, strings.TrimPrefix(de.Error(), "toml: "))
		case errors.As(err, &se):
			var keys []string
			line := 0
			for _, e := range se.Errors {
				keys = append(keys, strings.Join(e.Key(), "."))
				if r, _ := e.Position(); line == 0 {
					line = r
				}
			}
			return Metadata{}, fmt.Errorf("%s:%d: %w: unknown key %s (%s)", FileName, line, ErrInvalid, strings.Join(keys, ", "), knownKeys)
		}
		return Metadata{}, fmt.Errorf("%s: %w: %v", FileName, ErrInvalid, err)
	}
	for i, a := range m.Authors {
		if strings.TrimSpace(a.Name) == "" {
			return Metadata{}, fmt.Errorf("%s: %w: author %d has no name", FileName, ErrInvalid, i+1)
		}
	}
	return m, nil
}

// Merge returns m with every field set in over replacing m's.
func (m Metadata) Merge(over Metadata) Metadata {
	str := func(dst *string, v string) {
		if v != "" {
			*dst = v
		}
	}
	str(&m.Name, over.Name)
	str(&m.Title, over.Title)
	str(&m.Summary, over.Summary)
	str(&m.Version, over.Version)
	str(&m.Kind, over.Kind)
	str(&m.Licenses.Hardware, over.Licenses.Hardware)
	str(&m.Licenses.Software, over.Licenses.Software)
	str(&m.Licenses.Documentation, over.Licenses.Documentation)
	str(&m.BOM, over.BOM)
	str(&m.Instructions, over.Instructions)
	str(&m.Message, over.Message)
	if len(over.Tags) > 0 {
		m.Tags = over.Tags
	}
	if len(over.Authors) > 0 {
		m.Authors = over.Authors
	}
	if len(over.DerivedFrom) > 0 {
		m.DerivedFrom = over.DerivedFrom
	}
	return m
}

// ParseAuthor reads "Name <contact>" or "Name" (as git writes authors).
func ParseAuthor(s string) (Author, error) {
	s = strings.TrimSpace(s)
	a := Author{Name: s}
	if i := strings.IndexByte(s, '<'); i >= 0 {
		if !strings.HasSuffix(s, ">") {
			return Author{}, fmt.Errorf("%w: author %q: write Name <contact>", ErrInvalid, s)
		}
		a = Author{Name: strings.TrimSpace(s[:i]), Contact: strings.TrimSpace(s[i+1 : len(s)-1])}
	}
	if a.Name == "" {
		return Author{}, fmt.Errorf("%w: author %q has no name", ErrInvalid, s)
	}
	return a, nil
}

// String writes an author as ParseAuthor reads it.
func (a Author) String() string {
	if a.Contact == "" {
		return a.Name
	}
	return a.Name + " <" + a.Contact + ">"
}

// Encode writes m as a commons.toml.
func Encode(m Metadata) ([]byte, error) {
	b, err := toml.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", FileName, err)
	}
	return b, nil
}

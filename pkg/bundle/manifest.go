// Package bundle makes a folder of design files into a design bundle: a
// signed, versioned, licensed manifest (the IPLD schema in proto/) stored
// inside an ordinary UnixFS directory, so that every IPFS gateway can open
// the design's files by path from the bundle's CID.
//
// Terminology (docs/bundle.md has the full picture):
//   - files: the UnixFS directory of the design's own files (F).
//   - manifest: the dag-cbor SignedManifest describing one version.
//   - bundle root: the UnixFS directory holding F's entries plus .commons/,
//     where .commons/bundle.cbor is the manifest and .commons/log/ holds the
//     in-process log's attachments. Its CID is "the bundle" (a version).
//
// Load verifies a bundle root completely: the manifest decodes canonically,
// its signature verifies with the publisher key it names (and the key the
// caller expects, if any), and the root holds exactly the files the
// manifest signs plus the metadata folder. Anything else is refused.
package bundle

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/codec/dagjson"
	"github.com/ipld/go-ipld-prime/datamodel"
	"github.com/ipld/go-ipld-prime/node/bindnode"
	"github.com/ipld/go-ipld-prime/schema"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"

	"github.com/commons-p2p/commons/proto"
)

// Schema is the manifest schema version this package reads and writes.
const Schema = "commons/bundle/1"

// Limits on a manifest. A manifest is one block; these keep it well inside
// the 2 MiB a bitswap peer accepts and keep hostile manifests cheap.
const (
	MaxManifestSize = 1 << 20
	MaxNameLen      = 64
	MaxTitleLen     = 200
	MaxSummaryLen   = 4000
	MaxVersionLen   = 64
	MaxTags         = 32
	MaxTagLen       = 64
	MaxAuthors      = 100
	MaxParents      = 16
	MaxDerivedFrom  = 64
	MaxLogEntries   = 10000
	MaxLogText      = 64 << 10
	MaxAttachments  = 64
	MaxMessageLen   = 4000
	maxFieldLen     = 1024 // licences, author names and contacts, paths
)

// Sentinel errors, for errors.Is.
var (
	// ErrNotBundle: the root is a plain UnixFS folder or file (no
	// .commons/bundle.cbor). Not an attack: callers treat it as plain content.
	ErrNotBundle = errors.New("not a design bundle")
	// ErrInvalidManifest: the manifest does not decode, is not canonical
	// dag-cbor, breaks a limit, or does not match the root that holds it.
	ErrInvalidManifest = errors.New("invalid bundle manifest")
	// ErrBadSignature: the signature does not verify with the publisher key.
	ErrBadSignature = errors.New("signature does not verify")
	// ErrWrongPublisher: the bundle is validly signed, by another key than
	// the one expected (a version of someone else's bundle, or a parent
	// signed by a different publisher).
	ErrWrongPublisher = errors.New("signed by an unexpected key")
	// ErrStale: an older version offered as newer than the one known.
	ErrStale = errors.New("older than the version already known")
)

// Kind says what a bundle is. A replicable enterprise needs all of these,
// not only the CAD.
type Kind string

// The kinds, as written in manifests and commons.toml.
const (
	KindProductDesign         Kind = "product-design"
	KindProductionEngineering Kind = "production-engineering"
	KindSupplyChain           Kind = "supply-chain"
	KindQualityControl        Kind = "quality-control"
	KindTraining              Kind = "training"
	KindOperationsManual      Kind = "operations-manual"
)

// Kinds lists every kind with the schema's member name.
var kinds = []struct {
	kind   Kind
	member string
	about  string
}{
	{KindProductDesign, "ProductDesign", "CAD, drawings and specifications of a product"},
	{KindProductionEngineering, "ProductionEngineering", "how to make it: jigs, tooling, processes"},
	{KindSupplyChain, "SupplyChain", "sourcing of parts and materials"},
	{KindQualityControl, "QualityControl", "quality control procedures"},
	{KindTraining, "Training", "training material"},
	{KindOperationsManual, "OperationsManual", "enterprise or operations manual"},
}

// Kinds returns every valid kind and what it is for, in order.
func Kinds() [][2]string {
	out := make([][2]string, len(kinds))
	for i, k := range kinds {
		out[i] = [2]string{string(k.kind), k.about}
	}
	return out
}

// ParseKind returns the kind written s (case-insensitive; "" means
// product-design).
func ParseKind(s string) (Kind, error) {
	s = strings.ToLower(strings.TrimSpace(s))
	if s == "" {
		return KindProductDesign, nil
	}
	for _, k := range kinds {
		if string(k.kind) == s {
			return k.kind, nil
		}
	}
	var names []string
	for _, k := range kinds {
		names = append(names, string(k.kind))
	}
	return "", fmt.Errorf("kind %q is not one of %s", s, strings.Join(names, ", "))
}

// Licenses holds the SPDX expression for each part of a design.
type Licenses struct {
	Hardware      string
	Software      string
	Documentation string
}

// Author is a person or group credited for the design.
type Author struct {
	Name    string
	Contact string
}

// FileRef names a file in the bundle by path and CID.
type FileRef struct {
	Path string
	Link cid.Cid
}

// LogEntry is one dated note of the in-process log.
type LogEntry struct {
	Time        string
	Author      string
	Text        string
	Attachments []FileRef
}

// Manifest describes one version of a bundle. Field meanings are in
// proto/bundle.ipldsch; bindnode binds these types to the schema by field
// name and order, so the two change together.
type Manifest struct {
	Schema       string
	Name         string
	Title        string
	Summary      string
	Version      string
	Sequence     int64
	Kind         Kind
	Tags         []string
	Licenses     Licenses
	OpenSource   bool
	Authors      []Author
	Files        cid.Cid
	Size         int64
	Bom          *FileRef // the bill of materials; the schema names the field "bom", which bindnode maps to Bom
	Instructions *FileRef
	Parents      []cid.Cid
	DerivedFrom  []cid.Cid
	Log          []LogEntry
	Message      string
	Created      string
	Publisher    []byte
}

// SignedManifest is a manifest and its publisher's signature.
type SignedManifest struct {
	Manifest  Manifest
	Signature []byte
}

// ts is the loaded schema; loading it is pure, so it is computed once.
var ts = sync.OnceValue(func() *schema.TypeSystem {
	t, err := ipld.LoadSchemaBytes(proto.BundleSchema)
	if err != nil {
		panic(fmt.Sprintf("bundle: proto/bundle.ipldsch does not load: %v", err))
	}
	return t
})

// wire returns a copy of s for bindnode, which binds the Go types to the
// schema field by field and holds an enum as its member name: only Kind
// differs ("ProductDesign" for "product-design").
func (s *SignedManifest) wire() (*SignedManifest, error) {
	for _, k := range kinds {
		if k.kind == s.Manifest.Kind {
			w := *s
			w.Manifest.Kind = Kind(k.member)
			return &w, nil
		}
	}
	return nil, fmt.Errorf("%w: unknown kind %q", ErrInvalidManifest, s.Manifest.Kind)
}

// unwire turns a decoded wire copy back: member name to kind.
func (s *SignedManifest) unwire() {
	for _, k := range kinds {
		if k.member == string(s.Manifest.Kind) {
			s.Manifest.Kind = k.kind
			return
		}
	}
}

// encode writes the representation of v (a wire copy, or its manifest)
// with enc.
func encode(v any, typ string, enc func(datamodel.Node, io.Writer) error) ([]byte, error) {
	var buf bytes.Buffer
	if err := enc(bindnode.Wrap(v, ts().TypeByName(typ)).Representation(), &buf); err != nil {
		return nil, fmt.Errorf("%w: encode: %v", ErrInvalidManifest, err)
	}
	return buf.Bytes(), nil
}

// encodeManifest returns the canonical dag-cbor of m alone: the bytes the
// signature covers.
func encodeManifest(m *Manifest) ([]byte, error) {
	w, err := (&SignedManifest{Manifest: *m}).wire()
	if err != nil {
		return nil, err
	}
	return encode(&w.Manifest, "Manifest", dagcbor.Encode)
}

// Encode returns the canonical dag-cbor block of s.
func (s *SignedManifest) Encode() ([]byte, error) {
	w, err := s.wire()
	if err != nil {
		return nil, err
	}
	b, err := encode(w, "SignedManifest", dagcbor.Encode)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxManifestSize {
		return nil, fmt.Errorf("%w: %d bytes, more than the %d a manifest may have (a very long log?)", ErrInvalidManifest, len(b), MaxManifestSize)
	}
	return b, nil
}

// JSON returns s as dag-json, for people and scripts.
func (s *SignedManifest) JSON() ([]byte, error) {
	w, err := s.wire()
	if err != nil {
		return nil, err
	}
	return encode(w, "SignedManifest", dagjson.Encode)
}

// CID returns the dag-cbor CID of a manifest block.
func CID(block []byte) cid.Cid {
	sum, _ := mh.Sum(block, mh.SHA2_256, -1)
	return cid.NewCidV1(cid.DagCBOR, sum)
}

// Decode parses a manifest block. It refuses (ErrInvalidManifest) blocks
// over MaxManifestSize, anything that does not fit the schema, encodings
// that are not canonical (so one manifest has exactly one CID), and
// manifests that break Validate. It does not check the signature.
func Decode(block []byte) (*SignedManifest, error) {
	if len(block) > MaxManifestSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrInvalidManifest, len(block), MaxManifestSize)
	}
	nb := bindnode.Prototype((*SignedManifest)(nil), ts().TypeByName("SignedManifest")).Representation().NewBuilder()
	if err := dagcbor.Decode(nb, bytes.NewReader(block)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalidManifest, err)
	}
	s := bindnode.Unwrap(nb.Build()).(*SignedManifest)
	s.unwire()
	again, err := s.Encode()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(again, block) {
		return nil, fmt.Errorf("%w: not canonical dag-cbor", ErrInvalidManifest)
	}
	if err := s.Manifest.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

var nameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)

// ValidName reports whether name may name a bundle: 1 to 64 lower-case
// letters, digits, '.', '_' and '-', starting with a letter or digit.
// Names appear in paths and URLs, so they are kept plain.
func ValidName(name string) error {
	if len(name) == 0 || len(name) > MaxNameLen || !nameRE.MatchString(name) {
		return fmt.Errorf("%w: bundle name %q: use 1 to %d lower-case letters, digits, '.', '_' or '-', starting with a letter or digit", ErrInvalidManifest, name, MaxNameLen)
	}
	return nil
}

// Validate checks everything about m that does not need other blocks.
func (m *Manifest) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidManifest, fmt.Sprintf(format, args...))
	}
	if m.Schema != Schema {
		return bad("schema %q is not %q (a newer commons may read it)", m.Schema, Schema)
	}
	if err := ValidName(m.Name); err != nil {
		return err
	}
	text := []struct {
		field string
		v     string
		max   int
	}{
		{"title", m.Title, MaxTitleLen}, {"summary", m.Summary, MaxSummaryLen}, {"version", m.Version, MaxVersionLen},
		{"message", m.Message, MaxMessageLen}, {"licenses.hardware", m.Licenses.Hardware, maxFieldLen},
		{"licenses.software", m.Licenses.Software, maxFieldLen}, {"licenses.documentation", m.Licenses.Documentation, maxFieldLen},
	}
	for _, t := range text {
		if len(t.v) > t.max || !utf8.ValidString(t.v) {
			return bad("%s: longer than %d bytes or not UTF-8", t.field, t.max)
		}
	}
	if m.Sequence < 1 {
		return bad("sequence %d: versions count from 1", m.Sequence)
	}
	if _, err := (&SignedManifest{Manifest: *m}).wire(); err != nil {
		return err
	}
	if len(m.Tags) > MaxTags {
		return bad("%d tags, more than %d", len(m.Tags), MaxTags)
	}
	for _, t := range m.Tags {
		if t == "" || len(t) > MaxTagLen || !utf8.ValidString(t) {
			return bad("tag %q: empty, longer than %d bytes or not UTF-8", t, MaxTagLen)
		}
	}
	if len(m.Authors) > MaxAuthors {
		return bad("%d authors, more than %d", len(m.Authors), MaxAuthors)
	}
	for _, a := range m.Authors {
		if a.Name == "" || len(a.Name) > maxFieldLen || len(a.Contact) > maxFieldLen {
			return bad("author %q: a name is needed, up to %d bytes", a.Name, maxFieldLen)
		}
	}
	if !m.Files.Defined() {
		return bad("no files link")
	}
	if m.Size < 0 {
		return bad("size %d", m.Size)
	}
	for _, r := range []*FileRef{m.Bom, m.Instructions} {
		if r != nil {
			if err := validPath(r.Path); err != nil {
				return bad("%v", err)
			}
		}
	}
	if len(m.Parents) > MaxParents {
		return bad("%d parents, more than %d", len(m.Parents), MaxParents)
	}
	if len(m.DerivedFrom) > MaxDerivedFrom {
		return bad("derived from %d bundles, more than %d", len(m.DerivedFrom), MaxDerivedFrom)
	}
	if m.Sequence == 1 && len(m.Parents) > 0 {
		return bad("a first version (sequence 1) has no parents")
	}
	if m.Sequence > 1 && len(m.Parents) == 0 {
		return bad("version %d names no parent", m.Sequence)
	}
	if len(m.Log) > MaxLogEntries {
		return bad("%d log entries, more than %d", len(m.Log), MaxLogEntries)
	}
	for i, e := range m.Log {
		if _, err := time.Parse(time.RFC3339, e.Time); err != nil {
			return bad("log entry %d: time %q is not RFC 3339", i+1, e.Time)
		}
		if len(e.Text) > MaxLogText || !utf8.ValidString(e.Text) || len(e.Author) > maxFieldLen {
			return bad("log entry %d: text longer than %d bytes or not UTF-8", i+1, MaxLogText)
		}
		if len(e.Attachments) > MaxAttachments {
			return bad("log entry %d: %d attachments, more than %d", i+1, len(e.Attachments), MaxAttachments)
		}
		for _, a := range e.Attachments {
			if !strings.HasPrefix(a.Path, LogDir+"/") || strings.Count(a.Path, "/") != 2 {
				return bad("log entry %d: attachment path %q is not in %s/", i+1, a.Path, LogDir)
			}
			if err := validPath(a.Path); err != nil {
				return bad("log entry %d: %v", i+1, err)
			}
		}
	}
	if _, err := time.Parse(time.RFC3339, m.Created); err != nil {
		return bad("created %q is not RFC 3339", m.Created)
	}
	if _, err := m.PublisherKey(); err != nil {
		return err
	}
	return nil
}

// validPath checks a slash-separated relative path.
func validPath(p string) error {
	if p == "" || len(p) > maxFieldLen || !utf8.ValidString(p) || strings.HasPrefix(p, "/") {
		return fmt.Errorf("path %q: empty, absolute, too long or not UTF-8", p)
	}
	for _, el := range strings.Split(p, "/") {
		if el == "" || el == "." || el == ".." || strings.ContainsAny(el, "\x00\\") {
			return fmt.Errorf("path %q: element %q is not allowed", p, el)
		}
	}
	return nil
}

// PublisherKey returns the publisher's public key; only ed25519 is taken.
func (m *Manifest) PublisherKey() (crypto.PubKey, error) {
	k, err := crypto.UnmarshalPublicKey(m.Publisher)
	if err != nil {
		return nil, fmt.Errorf("%w: publisher key: %v", ErrInvalidManifest, err)
	}
	if k.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("%w: publisher key is %s, commons signs with ed25519", ErrInvalidManifest, k.Type())
	}
	return k, nil
}

// PublisherID returns the publisher as a peer ID string ("12D3KooW..."),
// which is how commons names keys to people; "?" if the key is unusable.
func (m *Manifest) PublisherID() string {
	k, err := m.PublisherKey()
	if err != nil {
		return "?"
	}
	id, err := peer.IDFromPublicKey(k)
	if err != nil {
		return "?"
	}
	return id.String()
}

// NameFromFolder turns a folder's name into a bundle name: lower case, with
// every run of other characters made one '-'. It may return "" (then a
// name must be given).
func NameFromFolder(s string) string {
	var b strings.Builder
	dash := false
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '.', r == '_':
			b.WriteRune(r)
			dash = false
		default:
			if !dash && b.Len() > 0 {
				b.WriteByte('-')
				dash = true
			}
		}
	}
	out := strings.Trim(b.String(), "-.")
	if len(out) > MaxNameLen {
		out = strings.Trim(out[:MaxNameLen], "-.")
	}
	return out
}

// SameContent reports whether a and b describe the same version content:
// equal in everything but sequence, parents, creation time and message.
// Publishing a folder and metadata that did not change makes no version.
func SameContent(a, b *Manifest) bool {
	x, y := *a, *b
	x.Sequence, x.Parents, x.Created, x.Message = 0, nil, "", ""
	y.Sequence, y.Parents, y.Created, y.Message = 0, nil, "", ""
	ea, err1 := encodeManifest(&x)
	eb, err2 := encodeManifest(&y)
	return err1 == nil && err2 == nil && bytes.Equal(ea, eb)
}

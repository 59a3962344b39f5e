// Package library is a publisher's signed index of design bundles: the
// record (the IPLD schema in proto/library.ipldsch), its signature, the
// UnixFS layout that makes /ipns/<name>/<bundle>/ browsable in any IPFS
// gateway, and the names under which libraries are published.
//
// Terminology (docs/protocol.md has the full picture):
//   - library name: the IPNS name of the publisher's key ("k51…").
//   - record: the SignedLibrary, one dag-cbor block; "the library" at one
//     sequence number.
//   - library root: the UnixFS directory holding one entry per bundle
//     (name -> that bundle's newest version root) plus .commons/library.cbor,
//     the record. The IPNS record of the library name points at it.
//
// Load verifies a library root completely: the record decodes canonically,
// its signature verifies with the key the caller expects (the name's), and
// the root's entries are exactly the bundles the record lists.
package library

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ipfs/boxo/ipns"
	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime"
	"github.com/ipld/go-ipld-prime/codec"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/codec/dagjson"
	"github.com/ipld/go-ipld-prime/node/bindnode"
	"github.com/ipld/go-ipld-prime/schema"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"

	"github.com/commons-p2p/commons/pkg/bundle"
	"github.com/commons-p2p/commons/proto"
)

// Schema is the record schema version this package reads and writes.
const Schema = "commons/library/1"

// Limits on a record. A record is one block, inside the 2 MiB a bitswap
// peer accepts; at about 200 bytes an entry, 1 MiB holds some 5,000
// bundles. A publisher with more splits them into libraries it includes.
const (
	MaxRecordSize = 1 << 20
	MaxTitleLen   = 200
	MaxIncludes   = 256
)

// Sentinel errors, for errors.Is.
var (
	// ErrNotLibrary: the root has no .commons/library.cbor.
	ErrNotLibrary = errors.New("not a library")
	// ErrInvalid: the record does not decode, is not canonical, breaks a
	// limit, or does not match the root that holds it.
	ErrInvalid = errors.New("invalid library record")
	// ErrBadSignature: the signature does not verify with the key the
	// record names.
	ErrBadSignature = errors.New("library signature does not verify")
	// ErrWrongPublisher: validly signed, by another key than the one the
	// library name stands for.
	ErrWrongPublisher = errors.New("library signed by an unexpected key")
	// ErrBadName: not a library name.
	ErrBadName = errors.New("not a library name")
)

// Entry is one bundle of a library: its newest version.
type Entry struct {
	Name       string
	Root       cid.Cid
	Sequence   int64
	Size       int64
	Title      string
	OpenSource bool
	Updated    string
}

// Library is the record's content: what the signature covers.
type Library struct {
	Schema    string
	Title     string
	Sequence  int64
	Created   string
	Publisher []byte
	Bundles   []Entry
	Includes  []string
}

// SignedLibrary is a library record with its signature.
type SignedLibrary struct {
	Library   Library
	Signature []byte
}

var ts = sync.OnceValue(func() *schema.TypeSystem {
	t, err := ipld.LoadSchemaBytes(proto.LibrarySchema)
	if err != nil {
		panic(fmt.Sprintf("library: proto/library.ipldsch does not load: %v", err))
	}
	return t
})

func encode(v any, typ string, enc codec.Encoder) ([]byte, error) {
	var buf bytes.Buffer
	if err := enc(bindnode.Wrap(v, ts().TypeByName(typ)).Representation(), &buf); err != nil {
		return nil, fmt.Errorf("%w: encode: %v", ErrInvalid, err)
	}
	return buf.Bytes(), nil
}

// Encode returns the canonical dag-cbor block of s.
func (s *SignedLibrary) Encode() ([]byte, error) {
	b, err := encode(s, "SignedLibrary", dagcbor.Encode)
	if err != nil {
		return nil, err
	}
	if len(b) > MaxRecordSize {
		return nil, fmt.Errorf("%w: %d bytes, more than the %d a record may have: split the library into libraries it includes", ErrInvalid, len(b), MaxRecordSize)
	}
	return b, nil
}

// JSON returns s as dag-json, for people and scripts.
func (s *SignedLibrary) JSON() ([]byte, error) { return encode(s, "SignedLibrary", dagjson.Encode) }

// CID returns the dag-cbor CID of a record block.
func CID(block []byte) cid.Cid {
	sum, _ := mh.Sum(block, mh.SHA2_256, -1)
	return cid.NewCidV1(cid.DagCBOR, sum)
}

// Decode parses a record block. It refuses (ErrInvalid) blocks over
// MaxRecordSize, anything that does not fit the schema, encodings that are
// not canonical (so one record has exactly one CID), and records that
// break Validate. It does not check the signature.
func Decode(block []byte) (*SignedLibrary, error) {
	if len(block) > MaxRecordSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrInvalid, len(block), MaxRecordSize)
	}
	nb := bindnode.Prototype((*SignedLibrary)(nil), ts().TypeByName("SignedLibrary")).Representation().NewBuilder()
	if err := dagcbor.Decode(nb, bytes.NewReader(block)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	s := bindnode.Unwrap(nb.Build()).(*SignedLibrary)
	again, err := s.Encode()
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(again, block) {
		return nil, fmt.Errorf("%w: not canonical dag-cbor", ErrInvalid)
	}
	if err := s.Library.Validate(); err != nil {
		return nil, err
	}
	return s, nil
}

// Validate checks everything about l that needs no other block.
func (l *Library) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	if l.Schema != Schema {
		return bad("schema %q is not %q (a newer commons may read it)", l.Schema, Schema)
	}
	if len(l.Title) > MaxTitleLen || !utf8.ValidString(l.Title) {
		return bad("title: longer than %d bytes or not UTF-8", MaxTitleLen)
	}
	if l.Sequence < 1 {
		return bad("sequence %d: records count from 1", l.Sequence)
	}
	if _, err := time.Parse(time.RFC3339, l.Created); err != nil {
		return bad("created %q is not RFC 3339", l.Created)
	}
	if _, err := l.PublisherKey(); err != nil {
		return err
	}
	for i, e := range l.Bundles {
		if err := bundle.ValidName(e.Name); err != nil {
			return bad("entry %d: %v", i+1, err)
		}
		if i > 0 && l.Bundles[i-1].Name >= e.Name {
			return bad("entries are not sorted by name, or %q appears twice", e.Name)
		}
		if !e.Root.Defined() || e.Root.Type() != cid.DagProtobuf {
			return bad("entry %q: root %s is not a UnixFS folder", e.Name, e.Root)
		}
		if e.Sequence < 1 || e.Size < 0 {
			return bad("entry %q: sequence %d, size %d", e.Name, e.Sequence, e.Size)
		}
		if len(e.Title) > bundle.MaxTitleLen || !utf8.ValidString(e.Title) {
			return bad("entry %q: title longer than %d bytes or not UTF-8", e.Name, bundle.MaxTitleLen)
		}
		if _, err := time.Parse(time.RFC3339, e.Updated); err != nil {
			return bad("entry %q: updated %q is not RFC 3339", e.Name, e.Updated)
		}
	}
	if len(l.Includes) > MaxIncludes {
		return bad("%d includes, more than %d", len(l.Includes), MaxIncludes)
	}
	for i, inc := range l.Includes {
		n, err := ParseName(inc)
		if err != nil || n.String() != inc {
			return bad("include %q is not a library name in its canonical form (k51…)", inc)
		}
		if i > 0 && l.Includes[i-1] >= inc {
			return bad("includes are not sorted, or %q appears twice", inc)
		}
	}
	return nil
}

// PublisherKey returns the publisher's public key; only ed25519 is taken.
func (l *Library) PublisherKey() (crypto.PubKey, error) {
	k, err := crypto.UnmarshalPublicKey(l.Publisher)
	if err != nil {
		return nil, fmt.Errorf("%w: publisher key: %v", ErrInvalid, err)
	}
	if k.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("%w: publisher key is %s, commons signs with ed25519", ErrInvalid, k.Type())
	}
	return k, nil
}

// Name returns the library's name: the IPNS name of its publisher key.
func (l *Library) Name() (ipns.Name, error) {
	k, err := l.PublisherKey()
	if err != nil {
		return ipns.Name{}, err
	}
	id, err := peer.IDFromPublicKey(k)
	if err != nil {
		return ipns.Name{}, fmt.Errorf("%w: publisher key: %v", ErrInvalid, err)
	}
	return ipns.NameFromPeer(id), nil
}

// Entry returns the entry for a bundle name.
func (l *Library) Entry(name string) (Entry, bool) {
	i, ok := slices.BinarySearchFunc(l.Bundles, name, func(e Entry, n string) int { return strings.Compare(e.Name, n) })
	if !ok {
		return Entry{}, false
	}
	return l.Bundles[i], true
}

// With returns a copy of l with e put in place of the entry of its name
// (or added, keeping the order).
func (l Library) With(e Entry) Library {
	l.Bundles = slices.Clone(l.Bundles)
	i, ok := slices.BinarySearchFunc(l.Bundles, e.Name, func(e Entry, n string) int { return strings.Compare(e.Name, n) })
	if ok {
		l.Bundles[i] = e
	} else {
		l.Bundles = slices.Insert(l.Bundles, i, e)
	}
	return l
}

// WithInclude returns a copy of l including name (remove: without it),
// and whether that changed anything.
func (l Library) WithInclude(name string, remove bool) (Library, bool) {
	l.Includes = slices.Clone(l.Includes)
	i, ok := slices.BinarySearch(l.Includes, name)
	switch {
	case remove && ok:
		l.Includes = slices.Delete(l.Includes, i, i+1)
	case !remove && !ok:
		l.Includes = slices.Insert(l.Includes, i, name)
	default:
		return l, false
	}
	return l, true
}

// ParseName reads a library name as users write it: an IPNS name
// ("k51…", any multibase of a libp2p-key CID), a peer ID ("12D3Koo…"), or
// either after /ipns/. DNSLink names are not library names.
func ParseName(s string) (ipns.Name, error) {
	s = strings.TrimSpace(s)
	s = strings.TrimPrefix(s, "/ipns/")
	s = strings.TrimSuffix(s, "/")
	if s == "" {
		return ipns.Name{}, fmt.Errorf("%w: empty", ErrBadName)
	}
	n, err := ipns.NameFromString(s)
	if err != nil {
		return ipns.Name{}, fmt.Errorf("%w: %q: a library name is the k51… name that `commons library` prints: %v", ErrBadName, s, err)
	}
	if _, err := n.Peer().ExtractPublicKey(); err != nil {
		return ipns.Name{}, fmt.Errorf("%w: %q names a key that is not inlined (commons signs with ed25519 keys)", ErrBadName, s)
	}
	return n, nil
}

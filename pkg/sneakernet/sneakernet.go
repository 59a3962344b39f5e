// Package sneakernet is the two formats that carry libraries between nodes
// with no network between them (the schemas are in proto/sneakernet.ipldsch):
//
//   - the have-file (Have, "commons/have/1"): what a node (the village)
//     holds of the libraries it follows: for each, the newest record's
//     sequence and root, the follow policy, and the bundle versions it
//     holds pinned;
//   - the export manifest (Manifest, "commons/export/1"): the first block
//     and only root of an export CAR: for each library it carries, the
//     signed IPNS record and the bundle versions whose blocks follow.
//
// Both are one canonical dag-cbor block, refused when over a size limit,
// over a count limit, not canonical, or out of order, so that each has
// exactly one encoding. Decoding checks the form only; what the records
// and versions say is verified by the node that imports them.
package sneakernet

import (
	"bytes"
	"cmp"
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
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	"github.com/ipld/go-ipld-prime/node/bindnode"
	"github.com/ipld/go-ipld-prime/schema"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"

	"github.com/commons-p2p/commons/pkg/library"
	"github.com/commons-p2p/commons/pkg/mirror"
	"github.com/commons-p2p/commons/proto"
)

// Schema versions this package reads and writes.
const (
	HaveSchema     = "commons/have/1"
	ManifestSchema = "commons/export/1"
)

// Limits. A have-file lists every version a village holds: at about 40
// bytes a version, 8 MiB holds the 131,072 versions it may list. A
// manifest is one block of the CAR, within the 2 MiB a CAR block may have;
// a larger export is split by library.
const (
	MaxHaveSize         = 8 << 20
	MaxHaveVersions     = 1 << 17
	MaxManifestSize     = 2 << 20
	MaxManifestVersions = 40000
	MaxLibraries        = 4096
	maxNodeLen          = 128
)

// ErrInvalid: the block does not decode, is not canonical, breaks a limit
// or is out of order. Every error of Decode* wraps it.
var ErrInvalid = errors.New("invalid sneakernet file")

// Have is a have-file: what a node holds of the libraries it follows.
type Have struct {
	Schema    string
	Created   string
	Node      string
	Libraries []HaveLibrary
}

// HaveLibrary is one followed library in a have-file.
type HaveLibrary struct {
	Name string
	// Sequence is the newest record's; 0 when the node holds none.
	Sequence int64
	// Root is the library root of that record; nil with Sequence 0.
	Root   *cid.Cid
	Policy Policy
	// Versions are the roots of the bundle versions held pinned.
	Versions []cid.Cid
}

// Policy is a follow policy as the have-file carries it.
type Policy struct {
	Mode  string
	Quota int64
}

// Mirror returns p as the mirror package's policy.
func (p Policy) Mirror() mirror.Policy { return mirror.Policy{Mode: p.Mode, Quota: p.Quota} }

// PolicyOf returns a mirror policy as the have-file carries it.
func PolicyOf(p mirror.Policy) Policy {
	if p.Mode == "" {
		p.Mode = mirror.All
	}
	return Policy{Mode: p.Mode, Quota: p.Quota}
}

// Manifest is an export manifest: what an export CAR carries.
type Manifest struct {
	Schema    string
	Created   string
	Node      string
	Libraries []ManifestLibrary
}

// ManifestLibrary is one library an export CAR carries.
type ManifestLibrary struct {
	Name     string
	Sequence int64
	// Root is the library root the record points at.
	Root cid.Cid
	// Record is the marshalled IPNS record of Name.
	Record []byte
	// Versions are the bundle versions whose blocks the CAR carries.
	Versions []cid.Cid
}

var ts = sync.OnceValue(func() *schema.TypeSystem {
	t, err := ipld.LoadSchemaBytes(proto.SneakernetSchema)
	if err != nil {
		panic(fmt.Sprintf("sneakernet: proto/sneakernet.ipldsch does not load: %v", err))
	}
	return t
})

func encode(v any, typ string) ([]byte, error) {
	var buf bytes.Buffer
	if err := dagcbor.Encode(bindnode.Wrap(v, ts().TypeByName(typ)).Representation(), &buf); err != nil {
		return nil, fmt.Errorf("%w: encode %s: %v", ErrInvalid, typ, err)
	}
	return buf.Bytes(), nil
}

// decode parses block as typ into a new value of ptr's type and checks
// that block is its canonical encoding.
func decode[T any](block []byte, typ string, max int) (*T, error) {
	if len(block) > max {
		return nil, fmt.Errorf("%w: %d bytes, more than the %d allowed", ErrInvalid, len(block), max)
	}
	nb := bindnode.Prototype((*T)(nil), ts().TypeByName(typ)).Representation().NewBuilder()
	opts := dagcbor.DecodeOptions{AllowLinks: true, AllocationBudget: 4*int64(max) + 1<<20}
	if err := opts.Decode(nb, bytes.NewReader(block)); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	v := bindnode.Unwrap(nb.Build()).(*T)
	again, err := encode(v, typ)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(again, block) {
		return nil, fmt.Errorf("%w: not canonical dag-cbor", ErrInvalid)
	}
	return v, nil
}

// Encode validates h and returns its canonical dag-cbor block. Call Sort
// first if the lists may be out of order.
func (h *Have) Encode() ([]byte, error) {
	if err := h.Validate(); err != nil {
		return nil, err
	}
	b, err := encode(h, "Have")
	if err != nil {
		return nil, err
	}
	if len(b) > MaxHaveSize {
		return nil, fmt.Errorf("%w: the have-file would be %d bytes, more than %d", ErrInvalid, len(b), MaxHaveSize)
	}
	return b, nil
}

// DecodeHave parses a have-file. It refuses (ErrInvalid) a file over
// MaxHaveSize, anything that does not fit the schema, an encoding that is
// not canonical, and a have-file that breaks Validate.
func DecodeHave(b []byte) (*Have, error) {
	h, err := decode[Have](b, "Have", MaxHaveSize)
	if err != nil {
		return nil, fmt.Errorf("have-file: %w", err)
	}
	if err := h.Validate(); err != nil {
		return nil, fmt.Errorf("have-file: %w", err)
	}
	return h, nil
}

// Sort puts h's libraries in name order and each one's versions in CID
// order, dropping repeated versions.
func (h *Have) Sort() {
	slices.SortFunc(h.Libraries, func(a, b HaveLibrary) int { return strings.Compare(a.Name, b.Name) })
	for i := range h.Libraries {
		h.Libraries[i].Versions = sortCIDs(h.Libraries[i].Versions)
	}
}

// Validate checks everything about h that needs no other data: schema,
// time, limits, names, policies, order.
func (h *Have) Validate() error {
	if err := header(h.Schema, HaveSchema, h.Created, h.Node, len(h.Libraries)); err != nil {
		return err
	}
	versions := 0
	for i, l := range h.Libraries {
		if err := checkName(l.Name, i, h.Libraries, func(x HaveLibrary) string { return x.Name }); err != nil {
			return err
		}
		switch {
		case l.Sequence < 0:
			return invalid("library %s: sequence %d", l.Name, l.Sequence)
		case l.Sequence == 0 && l.Root != nil:
			return invalid("library %s: a root without a record (sequence 0)", l.Name)
		case l.Sequence > 0 && (l.Root == nil || !l.Root.Defined()):
			return invalid("library %s: record %d without its root", l.Name, l.Sequence)
		}
		if l.Root != nil {
			if err := checkRoot(*l.Root, "library root"); err != nil {
				return invalid("library %s: %v", l.Name, err)
			}
		}
		if l.Policy.Mode == "" {
			return invalid("library %s: no policy mode", l.Name)
		}
		p := l.Policy.Mirror()
		if err := p.Validate(); err != nil {
			return invalid("library %s: %v", l.Name, err)
		}
		versions += len(l.Versions)
		if versions > MaxHaveVersions {
			return invalid("more than %d versions", MaxHaveVersions)
		}
		if err := checkVersions(l.Name, l.Versions); err != nil {
			return err
		}
	}
	return nil
}

// Encode validates m and returns its canonical dag-cbor block.
func (m *Manifest) Encode() ([]byte, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	b, err := encode(m, "Manifest")
	if err != nil {
		return nil, err
	}
	if len(b) > MaxManifestSize {
		return nil, fmt.Errorf("%w: the export manifest would be %d bytes, more than %d: export fewer libraries at a time", ErrInvalid, len(b), MaxManifestSize)
	}
	return b, nil
}

// DecodeManifest parses an export manifest. It refuses (ErrInvalid) a
// block over MaxManifestSize, anything that does not fit the schema, an
// encoding that is not canonical, and a manifest that breaks Validate. It
// does not check the records.
func DecodeManifest(b []byte) (*Manifest, error) {
	m, err := decode[Manifest](b, "Manifest", MaxManifestSize)
	if err != nil {
		return nil, fmt.Errorf("export manifest: %w", err)
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("export manifest: %w", err)
	}
	return m, nil
}

// IsManifest reports whether block claims to be an export manifest: a
// dag-cbor map whose schema field starts with "commons/export/". A CAR
// whose root claims so is imported as an export (and refused if the
// manifest does not decode, a newer schema included), anything else as a
// plain CAR.
func IsManifest(c cid.Cid, block []byte) bool {
	if c.Type() != cid.DagCBOR || len(block) > MaxManifestSize {
		return false
	}
	nb := basicnode.Prototype.Any.NewBuilder()
	opts := dagcbor.DecodeOptions{AllowLinks: true, RelaxedDecode: true, AllocationBudget: 4*MaxManifestSize + 1<<20}
	if err := opts.Decode(nb, bytes.NewReader(block)); err != nil {
		return false
	}
	v, err := nb.Build().LookupByString("schema")
	if err != nil {
		return false
	}
	s, err := v.AsString()
	return err == nil && strings.HasPrefix(s, "commons/export/")
}

// CID returns the dag-cbor CID of a manifest block.
func CID(block []byte) cid.Cid {
	sum, _ := mh.Sum(block, mh.SHA2_256, -1)
	return cid.NewCidV1(cid.DagCBOR, sum)
}

// Sort puts m's libraries in name order and each one's versions in CID
// order, dropping repeated versions.
func (m *Manifest) Sort() {
	slices.SortFunc(m.Libraries, func(a, b ManifestLibrary) int { return strings.Compare(a.Name, b.Name) })
	for i := range m.Libraries {
		m.Libraries[i].Versions = sortCIDs(m.Libraries[i].Versions)
	}
}

// Validate checks everything about m that needs no other data.
func (m *Manifest) Validate() error {
	if err := header(m.Schema, ManifestSchema, m.Created, m.Node, len(m.Libraries)); err != nil {
		return err
	}
	versions := 0
	for i, l := range m.Libraries {
		if err := checkName(l.Name, i, m.Libraries, func(x ManifestLibrary) string { return x.Name }); err != nil {
			return err
		}
		if l.Sequence < 1 {
			return invalid("library %s: sequence %d: records count from 1", l.Name, l.Sequence)
		}
		if err := checkRoot(l.Root, "library root"); err != nil {
			return invalid("library %s: %v", l.Name, err)
		}
		if len(l.Record) == 0 || len(l.Record) > ipns.MaxRecordSize {
			return invalid("library %s: an IPNS record of %d bytes (1 to %d)", l.Name, len(l.Record), ipns.MaxRecordSize)
		}
		versions += len(l.Versions)
		if versions > MaxManifestVersions {
			return invalid("more than %d versions: export fewer libraries at a time", MaxManifestVersions)
		}
		if err := checkVersions(l.Name, l.Versions); err != nil {
			return err
		}
	}
	return nil
}

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func header(got, want, created, node string, libraries int) error {
	if got != want {
		return invalid("schema %q is not %q (a newer commons may read it)", got, want)
	}
	if _, err := time.Parse(time.RFC3339, created); err != nil {
		return invalid("created %q is not RFC 3339", created)
	}
	if len(node) > maxNodeLen || !utf8.ValidString(node) {
		return invalid("node: longer than %d bytes or not UTF-8", maxNodeLen)
	}
	if node != "" {
		if _, err := peer.Decode(node); err != nil {
			return invalid("node %q is not a peer ID", node)
		}
	}
	if libraries > MaxLibraries {
		return invalid("%d libraries, more than %d", libraries, MaxLibraries)
	}
	return nil
}

func checkName[T any](name string, i int, all []T, nameOf func(T) string) error {
	n, err := library.ParseName(name)
	if err != nil || n.String() != name {
		return invalid("%q is not a library name in its canonical form (k51…)", name)
	}
	if i > 0 && nameOf(all[i-1]) >= name {
		return invalid("libraries are not sorted by name, or %s appears twice", name)
	}
	return nil
}

// checkRoot accepts the CIDs of UnixFS folders, as library roots and
// bundle roots are.
func checkRoot(c cid.Cid, what string) error {
	if !c.Defined() || c.Version() != 1 || c.Type() != cid.DagProtobuf {
		return fmt.Errorf("%s %s is not a CIDv1 UnixFS folder", what, c)
	}
	return nil
}

func checkVersions(lib string, vs []cid.Cid) error {
	for i, v := range vs {
		if err := checkRoot(v, "version"); err != nil {
			return invalid("library %s: %v", lib, err)
		}
		if i > 0 && cmpCID(vs[i-1], v) >= 0 {
			return invalid("library %s: versions are not sorted, or %s appears twice", lib, v)
		}
	}
	return nil
}

func cmpCID(a, b cid.Cid) int { return cmp.Compare(a.KeyString(), b.KeyString()) }

func sortCIDs(cs []cid.Cid) []cid.Cid {
	cs = slices.Clone(cs)
	slices.SortFunc(cs, cmpCID)
	cs = slices.CompactFunc(cs, cid.Cid.Equals)
	if cs == nil {
		cs = []cid.Cid{}
	}
	return cs
}

package library

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/crypto"
	mh "github.com/multiformats/go-multihash"

	"github.com/commons-p2p/commons/pkg/bundle"
)

// Names inside a library root.
const (
	// MetaDir holds the record; bundle names cannot start with a dot, so
	// it never collides with an entry.
	MetaDir = ".commons"
	// RecordFile is the record's name inside MetaDir.
	RecordFile = "library.cbor"
	// RecordPath is the record's path from the library root.
	RecordPath = MetaDir + "/" + RecordFile
)

// Version is a verified library root: the library at one sequence number.
type Version struct {
	// Root is the library root's CID, what the IPNS record points at.
	Root cid.Cid
	// RecordCID is the dag-cbor CID of the record block.
	RecordCID cid.Cid
	// Block is the record block.
	Block  []byte
	Signed *SignedLibrary
}

// Library returns the verified record's content.
func (v *Version) Library() *Library { return &v.Signed.Library }

var (
	dagPB     = cid.Prefix{Version: 1, Codec: cid.DagProtobuf, MhType: mh.SHA2_256, MhLength: -1}
	rawPrefix = cid.Prefix{Version: 1, Codec: cid.Raw, MhType: mh.SHA2_256, MhLength: -1}
)

// Build stores the library root for a signed record: one entry per bundle,
// linking its root (which must be in dag), and MetaDir holding the record
// as a raw block, so that every IPFS gateway lists the library as a
// folder. A large library becomes a HAMT-sharded folder, as UnixFS does.
func Build(ctx context.Context, dag ipld.DAGService, s *SignedLibrary) (cid.Cid, error) {
	block, err := s.Encode()
	if err != nil {
		return cid.Undef, fmt.Errorf("build library: %w", err)
	}
	raw, err := merkledag.NewRawNodeWPrefix(block, rawPrefix)
	if err != nil {
		return cid.Undef, fmt.Errorf("build library: %w", err)
	}
	meta := ft.EmptyDirNode()
	if err := meta.SetCidBuilder(dagPB); err != nil {
		return cid.Undef, fmt.Errorf("build library: %w", err)
	}
	if err := meta.AddNodeLink(RecordFile, raw); err != nil {
		return cid.Undef, fmt.Errorf("build library: %w", err)
	}
	if err := dag.AddMany(ctx, []ipld.Node{raw, meta}); err != nil {
		return cid.Undef, fmt.Errorf("build library: %w", err)
	}
	dir, err := uio.NewDirectory(dag, uio.WithCidBuilder(dagPB))
	if err != nil {
		return cid.Undef, fmt.Errorf("build library: %w", err)
	}
	for _, e := range s.Library.Bundles {
		nd, err := dag.Get(ctx, e.Root)
		if err != nil {
			return cid.Undef, fmt.Errorf("build library: bundle %s (%s): %w", e.Name, e.Root, err)
		}
		if err := dir.AddChild(ctx, e.Name, nd); err != nil {
			return cid.Undef, fmt.Errorf("build library: bundle %s: %w", e.Name, err)
		}
	}
	if err := dir.AddChild(ctx, MetaDir, meta); err != nil {
		return cid.Undef, fmt.Errorf("build library: %w", err)
	}
	root, err := dir.GetNode()
	if err != nil {
		return cid.Undef, fmt.Errorf("build library: %w", err)
	}
	if err := dag.Add(ctx, root); err != nil {
		return cid.Undef, fmt.Errorf("build library: %w", err)
	}
	return root.Cid(), nil
}

// Load reads and verifies the library root at root through dag (which may
// fetch). expected, if not nil, is the key the library's name stands for;
// a record signed by another key is refused (ErrWrongPublisher). Errors:
// ErrNotLibrary for a root that is no library, ErrInvalid for a damaged
// or inconsistent one, ErrBadSignature, and dag's errors (not found,
// cancellation). Only the root's folder nodes and the record are read,
// never the bundles.
func Load(ctx context.Context, dag ipld.DAGService, root cid.Cid, expected crypto.PubKey) (*Version, error) {
	v, err := load(ctx, dag, root, expected)
	if err != nil {
		return nil, fmt.Errorf("library %s: %w", root, err)
	}
	return v, nil
}

func load(ctx context.Context, dag ipld.DAGService, root cid.Cid, expected crypto.PubKey) (*Version, error) {
	mr, err := bundle.OpenMeta(ctx, dag, root)
	switch {
	case errors.Is(err, bundle.ErrNoMeta):
		return nil, ErrNotLibrary
	case errors.Is(err, bundle.ErrBadMeta):
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	case err != nil:
		return nil, err
	}
	links := mr.Meta.Links()
	if len(links) == 0 || links[0].Name != RecordFile {
		return nil, ErrNotLibrary
	}
	if len(links) != 1 {
		return nil, fmt.Errorf("%w: %s holds more than %s", ErrInvalid, MetaDir, RecordFile)
	}
	block, err := bundle.MetaBlock(ctx, dag, links[0], RecordPath, MaxRecordSize)
	if errors.Is(err, bundle.ErrBadMeta) {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	if err != nil {
		return nil, err
	}
	s, err := Decode(block)
	if err != nil {
		return nil, err
	}
	if err := s.Verify(expected); err != nil {
		return nil, err
	}
	// The root must hold exactly the listed bundles, at the listed roots.
	l := &s.Library
	seen := 0
	for lr := range mr.Dir.EnumLinksAsync(ctx) {
		if lr.Err != nil {
			return nil, lr.Err
		}
		name := lr.Link.Name
		if name == MetaDir {
			continue
		}
		e, ok := l.Entry(name)
		if !ok {
			return nil, fmt.Errorf("%w: the root holds %q, which the record does not list", ErrInvalid, name)
		}
		if !e.Root.Equals(lr.Link.Cid) {
			return nil, fmt.Errorf("%w: the root's %q is %s, the record says %s", ErrInvalid, name, lr.Link.Cid, e.Root)
		}
		seen++
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if seen != len(l.Bundles) {
		return nil, fmt.Errorf("%w: the record lists %d bundles, the root holds %d", ErrInvalid, len(l.Bundles), seen)
	}
	return &Version{Root: root, RecordCID: CID(block), Block: block, Signed: s}, nil
}

// Structure returns the blocks of v's root that are the library's own, not
// its bundles': the root folder (and its HAMT shards, for a large library),
// .commons and the record. A follower pins them directly, so that it
// serves /ipns/<name>/ without pinning versions its policy leaves out.
func Structure(ctx context.Context, dag ipld.DAGService, v *Version) ([]cid.Cid, error) {
	bundles := cid.NewSet()
	for _, e := range v.Library().Bundles {
		bundles.Add(e.Root)
	}
	var out []cid.Cid
	var walk func(c cid.Cid, depth int) error
	walk = func(c cid.Cid, depth int) error {
		if depth > 64 {
			return fmt.Errorf("%w: the root folder is nested deeper than 64", ErrInvalid)
		}
		out = append(out, c)
		if c.Type() != cid.DagProtobuf {
			return nil
		}
		nd, err := dag.Get(ctx, c)
		if err != nil {
			return err
		}
		for _, l := range nd.Links() {
			if bundles.Has(l.Cid) {
				continue
			}
			if err := walk(l.Cid, depth+1); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(v.Root, 0); err != nil {
		return nil, fmt.Errorf("library %s: %w", v.Root, err)
	}
	return out, nil
}

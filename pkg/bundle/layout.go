package bundle

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/crypto"
	mh "github.com/multiformats/go-multihash"
)

// Names inside a bundle root.
const (
	// MetaDir is the folder of a bundle root that holds its metadata. A
	// design folder may not have its own entry of that name at the top.
	MetaDir = ".commons"
	// ManifestFile is the manifest's name inside MetaDir.
	ManifestFile = "bundle.cbor"
	// ManifestPath is the manifest's path from the bundle root.
	ManifestPath = MetaDir + "/" + ManifestFile
	// LogDir holds the in-process log's attachments, from the bundle root.
	LogDir = MetaDir + "/log"
)

// Bundle is a verified bundle version.
type Bundle struct {
	// Root is the bundle root's CID: "the bundle".
	Root cid.Cid
	// ManifestCID is the dag-cbor CID of the manifest block (the same
	// bytes are stored in the root as a raw block, ManifestPath).
	ManifestCID cid.Cid
	// Block is the manifest block.
	Block  []byte
	Signed *SignedManifest
}

// Manifest returns the verified manifest.
func (b *Bundle) Manifest() *Manifest { return &b.Signed.Manifest }

// String names the bundle for messages: name, version and root.
func (b *Bundle) String() string {
	m := b.Manifest()
	return fmt.Sprintf("%s v%d (%s)", m.Name, m.Sequence, b.Root)
}

var dagPB = cid.Prefix{Version: 1, Codec: cid.DagProtobuf, MhType: mh.SHA2_256, MhLength: -1}

// Build stores the bundle root for a signed manifest: the entries of the
// manifest's files directory, plus MetaDir holding the manifest (as a raw
// block, so that Kubo, `ipfs get` and every gateway read it as a plain
// file) and, when logDir is defined, the log attachments folder. The files
// directory must be in dag already. Build returns the root's CID.
func Build(ctx context.Context, dag ipld.DAGService, s *SignedManifest, logDir cid.Cid) (cid.Cid, error) {
	name := s.Manifest.Name
	block, err := s.Encode()
	if err != nil {
		return cid.Undef, fmt.Errorf("build bundle %q: %w", name, err)
	}
	raw, err := merkledag.NewRawNodeWPrefix(block, cid.Prefix{Version: 1, Codec: cid.Raw, MhType: mh.SHA2_256, MhLength: -1})
	if err != nil {
		return cid.Undef, fmt.Errorf("build bundle %q: %w", name, err)
	}
	meta := ft.EmptyDirNode()
	if err := meta.SetCidBuilder(dagPB); err != nil {
		return cid.Undef, fmt.Errorf("build bundle %q: %w", name, err)
	}
	if err := meta.AddNodeLink(ManifestFile, raw); err != nil {
		return cid.Undef, fmt.Errorf("build bundle %q: %w", name, err)
	}
	if logDir.Defined() {
		ln, err := dag.Get(ctx, logDir)
		if err != nil {
			return cid.Undef, fmt.Errorf("build bundle %q: log folder: %w", name, err)
		}
		if err := meta.AddNodeLink(path.Base(LogDir), ln); err != nil {
			return cid.Undef, fmt.Errorf("build bundle %q: %w", name, err)
		}
	}
	fnode, err := dag.Get(ctx, s.Manifest.Files)
	if err != nil {
		return cid.Undef, fmt.Errorf("build bundle %q: files %s: %w", name, s.Manifest.Files, err)
	}
	dir, err := uio.NewDirectoryFromNode(dag, fnode)
	if err != nil {
		return cid.Undef, fmt.Errorf("build bundle %q: files %s: a bundle's files must be a folder: %w", name, s.Manifest.Files, err)
	}
	if _, err := dir.Find(ctx, MetaDir); err == nil {
		return cid.Undef, fmt.Errorf("build bundle %q: %w: the folder has its own %q, which is reserved for the bundle's metadata (publish skips it unless --hidden)", name, ErrInvalidManifest, MetaDir)
	}
	if err := dag.AddMany(ctx, []ipld.Node{raw, meta}); err != nil {
		return cid.Undef, fmt.Errorf("build bundle %q: %w", name, err)
	}
	if err := dir.AddChild(ctx, MetaDir, meta); err != nil {
		return cid.Undef, fmt.Errorf("build bundle %q: %w", name, err)
	}
	root, err := dir.GetNode()
	if err != nil {
		return cid.Undef, fmt.Errorf("build bundle %q: %w", name, err)
	}
	if err := dag.Add(ctx, root); err != nil {
		return cid.Undef, fmt.Errorf("build bundle %q: %w", name, err)
	}
	return root.Cid(), nil
}

// AddAttachments returns a log folder holding prev's entries (prev may be
// cid.Undef) plus the given files, by name. A name already present is
// refused: log entries are appended, never rewritten.
func AddAttachments(ctx context.Context, dag ipld.DAGService, prev cid.Cid, add map[string]ipld.Node) (cid.Cid, error) {
	var dir uio.Directory
	if prev.Defined() {
		nd, err := dag.Get(ctx, prev)
		if err != nil {
			return cid.Undef, fmt.Errorf("log folder %s: %w", prev, err)
		}
		if dir, err = uio.NewDirectoryFromNode(dag, nd); err != nil {
			return cid.Undef, fmt.Errorf("log folder %s: %w", prev, err)
		}
	} else {
		var err error
		if dir, err = uio.NewDirectory(dag, uio.WithCidBuilder(dagPB)); err != nil {
			return cid.Undef, err
		}
	}
	for name, nd := range add {
		if _, err := dir.Find(ctx, name); err == nil {
			return cid.Undef, fmt.Errorf("log folder: %q is already there", name)
		}
		if err := dir.AddChild(ctx, name, nd); err != nil {
			return cid.Undef, fmt.Errorf("log folder: add %q: %w", name, err)
		}
	}
	nd, err := dir.GetNode()
	if err != nil {
		return cid.Undef, err
	}
	if err := dag.Add(ctx, nd); err != nil {
		return cid.Undef, err
	}
	return nd.Cid(), nil
}

// LoadOptions control Load.
type LoadOptions struct {
	// Publisher, if set, is the key the bundle must be signed by.
	Publisher crypto.PubKey
}

// Load reads and verifies the bundle at root. It returns an error wrapping
// ErrNotBundle when root is plain content (no MetaDir with a manifest),
// ErrInvalidManifest when the manifest or the root's layout is wrong,
// ErrBadSignature or ErrWrongPublisher when the signature does not hold.
// Blocks are read through dag, so a network DAG service fetches what is
// missing (the manifest, and the directory nodes of the root and files).
func Load(ctx context.Context, dag ipld.DAGService, root cid.Cid, opts LoadOptions) (*Bundle, error) {
	b, err := load(ctx, dag, root, opts)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", root, err)
	}
	return b, nil
}

func load(ctx context.Context, dag ipld.DAGService, root cid.Cid, opts LoadOptions) (*Bundle, error) {
	mr, err := OpenMeta(ctx, dag, root)
	switch {
	case errors.Is(err, ErrNoMeta):
		return nil, ErrNotBundle
	case errors.Is(err, ErrBadMeta):
		return nil, fmt.Errorf("%w: %w", ErrInvalidManifest, err)
	case err != nil:
		return nil, err
	}
	var manifestLink, logLink *ipld.Link
	var unexpected []string
	for _, l := range mr.Meta.Links() {
		switch l.Name {
		case ManifestFile:
			manifestLink = l
		case path.Base(LogDir):
			logLink = l
		default:
			unexpected = append(unexpected, l.Name)
		}
	}
	// With no manifest the folder is something else that keeps its
	// metadata there (a library root's .commons/library.cbor).
	if manifestLink == nil {
		return nil, ErrNotBundle
	}
	if len(unexpected) > 0 {
		return nil, fmt.Errorf("%w: unexpected %s/%s", ErrInvalidManifest, MetaDir, unexpected[0])
	}
	block, err := MetaBlock(ctx, dag, manifestLink, ManifestPath, MaxManifestSize)
	if errors.Is(err, ErrBadMeta) {
		return nil, fmt.Errorf("%w: %w", ErrInvalidManifest, err)
	}
	if err != nil {
		return nil, err
	}
	s, err := Decode(block)
	if err != nil {
		return nil, err
	}
	if err := s.Verify(opts.Publisher); err != nil {
		return nil, err
	}
	m := &s.Manifest
	if err := checkFiles(ctx, dag, mr.Node, m); err != nil {
		return nil, err
	}
	if err := checkLog(ctx, dag, logLink, m); err != nil {
		return nil, err
	}
	return &Bundle{Root: root, ManifestCID: CID(block), Block: block, Signed: s}, nil
}

// checkFiles verifies that the root holds exactly the signed files'
// entries plus MetaDir: the root without MetaDir must rebuild to the files
// CID the manifest signs. (The files directory node itself is not part of
// the root's DAG, so it is rebuilt rather than fetched.) It also checks that
// the BOM and instructions references resolve to the signed CIDs.
func checkFiles(ctx context.Context, dag ipld.DAGService, rnode ipld.Node, m *Manifest) error {
	fnode, _, err := filesFromRoot(ctx, dag, rnode)
	if err != nil {
		return err
	}
	if !fnode.Cid().Equals(m.Files) {
		return fmt.Errorf("%w: the root's entries are not the signed files (they make %s, the manifest signs %s)", ErrInvalidManifest, fnode.Cid(), m.Files)
	}
	for _, ref := range []*FileRef{m.Bom, m.Instructions} {
		if ref == nil {
			continue
		}
		if first, _, _ := strings.Cut(ref.Path, "/"); first == MetaDir {
			return fmt.Errorf("%w: %s is inside %s", ErrInvalidManifest, ref.Path, MetaDir)
		}
		c, err := Resolve(ctx, dag, rnode.Cid(), ref.Path)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrInvalidManifest, ref.Path, err)
		}
		if !c.Equals(ref.Link) {
			return fmt.Errorf("%w: %s is %s in the files, the manifest says %s", ErrInvalidManifest, ref.Path, c, ref.Link)
		}
	}
	return nil
}

// filesFromRoot rebuilds the files directory from a bundle root: the root
// without MetaDir. New nodes (the directory, and for a sharded folder the
// shards that change) are kept in an overlay and returned, not written.
func filesFromRoot(ctx context.Context, dag ipld.DAGService, rnode ipld.Node) (ipld.Node, []ipld.Node, error) {
	ov := &overlay{DAGService: dag, mem: map[string]ipld.Node{}}
	dir, err := uio.NewDirectoryFromNode(ov, rnode)
	if err != nil {
		return nil, nil, fmt.Errorf("%w: the root is not a folder", ErrInvalidManifest)
	}
	if err := dir.RemoveChild(ctx, MetaDir); err != nil {
		return nil, nil, fmt.Errorf("rebuild files: %w", err)
	}
	nd, err := dir.GetNode()
	if err != nil {
		return nil, nil, fmt.Errorf("rebuild files: %w", err)
	}
	added := make([]ipld.Node, 0, len(ov.mem)+1)
	for _, n := range ov.mem {
		added = append(added, n)
	}
	return nd, append(added, nd), nil
}

// FilesNode stores (in dag) and returns the files directory of a verified
// bundle root, rebuilt from the root's entries. Publishing a new version
// over the same files (a log entry, a fork) needs it.
func FilesNode(ctx context.Context, dag ipld.DAGService, b *Bundle) (ipld.Node, error) {
	rnode, err := dag.Get(ctx, b.Root)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", b.Root, err)
	}
	nd, added, err := filesFromRoot(ctx, dag, rnode)
	if err != nil {
		return nil, fmt.Errorf("bundle %s: %w", b.Root, err)
	}
	if !nd.Cid().Equals(b.Manifest().Files) {
		return nil, fmt.Errorf("bundle %s: %w: the files rebuild to %s, not %s", b.Root, ErrInvalidManifest, nd.Cid(), b.Manifest().Files)
	}
	if err := dag.AddMany(ctx, added); err != nil {
		return nil, fmt.Errorf("bundle %s: store files node: %w", b.Root, err)
	}
	return nd, nil
}

// overlay is a DAG service whose writes stay in memory, so that a check
// that rebuilds nodes writes nothing to the store.
type overlay struct {
	ipld.DAGService
	mem map[string]ipld.Node
}

func (o *overlay) Get(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	if n, ok := o.mem[c.KeyString()]; ok {
		return n, nil
	}
	return o.DAGService.Get(ctx, c)
}

func (o *overlay) Add(_ context.Context, n ipld.Node) error {
	o.mem[n.Cid().KeyString()] = n
	return nil
}

func (o *overlay) AddMany(ctx context.Context, ns []ipld.Node) error {
	for _, n := range ns {
		_ = o.Add(ctx, n)
	}
	return nil
}

// checkLog verifies that the log folder holds exactly the attachments the
// log names.
func checkLog(ctx context.Context, dag ipld.DAGService, logLink *ipld.Link, m *Manifest) error {
	want := make(map[string]cid.Cid)
	for _, e := range m.Log {
		for _, a := range e.Attachments {
			want[strings.TrimPrefix(a.Path, LogDir+"/")] = a.Link
		}
	}
	if logLink == nil {
		if len(want) > 0 {
			return fmt.Errorf("%w: the log names attachments but %s is missing", ErrInvalidManifest, LogDir)
		}
		return nil
	}
	nd, err := dag.Get(ctx, logLink.Cid)
	if err != nil {
		return fmt.Errorf("%s: %w", LogDir, err)
	}
	dir, err := uio.NewDirectoryFromNode(dag, nd)
	if err != nil {
		return fmt.Errorf("%w: %s is not a folder", ErrInvalidManifest, LogDir)
	}
	n := 0
	if err := dir.ForEachLink(ctx, func(l *ipld.Link) error {
		c, ok := want[l.Name]
		if !ok || !c.Equals(l.Cid) {
			return fmt.Errorf("%w: %s/%s is not an attachment the log names", ErrInvalidManifest, LogDir, l.Name)
		}
		n++
		return nil
	}); err != nil {
		return err
	}
	if n != len(want) {
		return fmt.Errorf("%w: %s lacks %d attachments the log names", ErrInvalidManifest, LogDir, len(want)-n)
	}
	return nil
}

// LogFolder returns the CID of a bundle root's log folder, or cid.Undef.
func LogFolder(ctx context.Context, dag ipld.DAGService, root cid.Cid) (cid.Cid, error) {
	c, err := Resolve(ctx, dag, root, LogDir)
	if errors.Is(err, os.ErrNotExist) {
		return cid.Undef, nil
	}
	return c, err
}

// Resolve returns the CID at the slash-separated path p below the UnixFS
// directory root. A missing element wraps os.ErrNotExist.
func Resolve(ctx context.Context, dag ipld.DAGService, root cid.Cid, p string) (cid.Cid, error) {
	cur := root
	for _, el := range strings.Split(p, "/") {
		if el == "" {
			continue
		}
		nd, err := dag.Get(ctx, cur)
		if err != nil {
			return cid.Undef, err
		}
		dir, err := uio.NewDirectoryFromNode(dag, nd)
		if err != nil {
			return cid.Undef, fmt.Errorf("%q is below a file: %w", p, os.ErrNotExist)
		}
		child, err := dir.Find(ctx, el)
		if err != nil {
			return cid.Undef, fmt.Errorf("%q: %w", p, err)
		}
		cur = child.Cid()
	}
	return cur, nil
}

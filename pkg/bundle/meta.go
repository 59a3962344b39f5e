package bundle

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

// Bundle roots and library roots share a shape: a UnixFS folder whose
// MetaDir holds one signed dag-cbor block stored raw. These read it.

// ErrNoMeta: the root is not a UnixFS folder, or has no MetaDir. Plain
// content, not damage.
var ErrNoMeta = errors.New("no " + MetaDir + " folder")

// ErrBadMeta is wrapped by the errors of a MetaDir that is not what a
// signed root must have (not a plain folder, a block of the wrong kind or
// size). Callers wrap it again with their own sentinel.
var ErrBadMeta = errors.New("damaged " + MetaDir + " folder")

// MetaRoot is a root folder with its MetaDir.
type MetaRoot struct {
	Node ipld.Node
	Dir  uio.Directory
	// Meta is the MetaDir folder node (a plain folder, never a shard).
	Meta *merkledag.ProtoNode
}

// OpenMeta reads root through dag and finds its MetaDir. ErrNoMeta for
// plain content; ErrBadMeta when MetaDir is not a plain folder; dag's
// errors (not found, cancellation) as they are.
func OpenMeta(ctx context.Context, dag ipld.DAGService, root cid.Cid) (*MetaRoot, error) {
	if root.Type() != cid.DagProtobuf {
		return nil, ErrNoMeta
	}
	rnode, err := dag.Get(ctx, root)
	if err != nil {
		return nil, err
	}
	rdir, err := uio.NewDirectoryFromNode(dag, rnode)
	if err != nil {
		return nil, ErrNoMeta
	}
	metaNode, err := rdir.Find(ctx, MetaDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrNoMeta
	}
	if err != nil {
		return nil, err
	}
	meta, ok := metaNode.(*merkledag.ProtoNode)
	if !ok {
		return nil, fmt.Errorf("%w: %s is not a folder", ErrBadMeta, MetaDir)
	}
	if fs, err := ft.FSNodeFromBytes(meta.Data()); err != nil || fs.Type() != ft.TDirectory {
		return nil, fmt.Errorf("%w: %s is not a plain folder", ErrBadMeta, MetaDir)
	}
	return &MetaRoot{Node: rnode, Dir: rdir, Meta: meta}, nil
}

// MetaBlock reads the block l links (named by its path from the root, for
// messages): one raw or dag-cbor sha2-256 block of at most max bytes, as a
// signed record must be. ErrBadMeta otherwise; dag's errors as they are.
func MetaBlock(ctx context.Context, dag ipld.DAGService, l *ipld.Link, path string, max int) ([]byte, error) {
	c := l.Cid
	if (c.Type() != cid.Raw && c.Type() != cid.DagCBOR) || c.Prefix().MhType != mh.SHA2_256 {
		return nil, fmt.Errorf("%w: %s is %s, not one raw sha2-256 block", ErrBadMeta, path, c)
	}
	if l.Size > uint64(max) {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than %d", ErrBadMeta, path, l.Size, max)
	}
	nd, err := dag.Get(ctx, c)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return nd.RawData(), nil
}

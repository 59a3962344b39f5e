package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ipfs/boxo/blockservice"
	boxogw "github.com/ipfs/boxo/gateway"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/boxo/path"
	"github.com/ipfs/go-cid"
	car "github.com/ipld/go-car/v2"
	"github.com/ipld/go-car/v2/storage"
)

// fastCAR streams the CARs that the bulk path asks peers for: a CID with
// no path after it, dag-scope=block, or dag-scope=entity of anything but a
// HAMT folder (a UnixFS file whole or a byte range of it, counted from the
// start), each block once, depth first. It sends the blocks boxo's walk
// sends, in the same order (TestFastCARMatchesBoxo), without what that
// walk costs the sender per block: boxo loads every block through an IPLD
// link system that copies it twice and hashes it again, and reads a file's
// bytes through a UnixFS reader to find which blocks a range needs. Here a
// block is read once and written as it is; the sizes in the file's nodes
// say which children a range needs. Stored blocks were verified when they
// were stored (and `commons verify` checks them again); the receiver
// verifies every block it gets.
//
// ok is false for every other request, which boxo serves.
func fastCAR(ctx context.Context, bs blockservice.BlockService, p path.ImmutablePath, params boxogw.CarParams) (io.ReadCloser, bool) {
	if bs == nil || len(p.Segments()) != 2 || params.Duplicates == boxogw.DuplicateBlocksIncluded {
		return nil, false
	}
	if params.Order != boxogw.DagOrderUnspecified && params.Order != boxogw.DagOrderDFS {
		return nil, false
	}
	if params.Scope != boxogw.DagScopeEntity && params.Scope != boxogw.DagScopeBlock {
		return nil, false
	}
	from, to := uint64(0), uint64(1<<63-1)
	if r := params.Range; r != nil {
		if r.From < 0 || (r.To != nil && *r.To < 0) {
			return nil, false
		}
		from = uint64(r.From)
		if r.To != nil {
			to = uint64(*r.To)
		}
	}
	root := p.RootCid()
	if root.Type() != cid.DagProtobuf && root.Type() != cid.Raw {
		return nil, false // other codecs: boxo decodes them, or says it cannot
	}
	// Only what is stored here: boxo knows how to answer for the rest
	// (a retrieval timeout, a 404), and asking the network twice would
	// double the wait.
	if has, err := bs.Blockstore().Has(ctx, root); err != nil || !has {
		return nil, false
	}
	ses := blockservice.NewSession(ctx, bs)
	first, err := ses.GetBlock(ctx, root)
	if err != nil {
		return nil, false
	}
	var file *merkledag.ProtoNode
	var fsn *unixfs.FSNode
	if params.Scope == boxogw.DagScopeEntity && root.Type() == cid.DagProtobuf {
		nd, err := merkledag.DecodeProtobuf(first.RawData())
		if err != nil {
			return nil, false
		}
		if fs, err := unixfs.FSNodeFromBytes(nd.Data()); err == nil {
			switch fs.Type() {
			case unixfs.THAMTShard:
				return nil, false // boxo sends the whole shard
			case unixfs.TFile:
				if fs.NumChildren() != len(nd.Links()) {
					return nil, false
				}
				file, fsn = nd, fs
			}
		}
	}
	pr, pw := io.Pipe()
	go func() {
		w := &carWalk{ctx: ctx, bs: ses, from: from, to: to}
		err := w.start(pw, root, first.RawData())
		if err == nil && file != nil {
			err = w.file(file, fsn, 0, 0)
		}
		if err == nil {
			err = w.out.Finalize()
		}
		_ = pw.CloseWithError(err)
	}()
	return pr, true
}

// carWalk writes the blocks of one fastCAR response.
type carWalk struct {
	ctx      context.Context
	bs       blockservice.BlockGetter
	from, to uint64 // the byte range of the file, inclusive
	out      storage.WritableCar
}

func (w *carWalk) start(pw io.Writer, root cid.Cid, data []byte) error {
	// The options of boxo's writer: blocks are written once, by
	// multihash (car-dups=n), identity CIDs not at all.
	out, err := storage.NewWritable(struct{ io.Writer }{pw}, []cid.Cid{root}, car.WriteAsCarV1(true))
	if err != nil {
		return err
	}
	w.out = out
	return w.put(root, data)
}

func (w *carWalk) put(c cid.Cid, data []byte) error {
	return w.out.Put(w.ctx, c.KeyString(), data)
}

// file writes the children of the file node nd, whose bytes start at
// offset base of the file, that hold bytes of [from, to], depth first.
func (w *carWalk) file(nd *merkledag.ProtoNode, fsn *unixfs.FSNode, base uint64, depth int) error {
	if depth > 64 {
		return errors.New("file DAG deeper than 64 levels")
	}
	off := base + uint64(len(fsn.Data()))
	for i, l := range nd.Links() {
		size := fsn.BlockSize(i)
		start := off
		off += size
		if size == 0 || start+size-1 < w.from || start > w.to {
			continue
		}
		blk, err := w.bs.GetBlock(w.ctx, l.Cid)
		if err != nil {
			return fmt.Errorf("block %s: %w", l.Cid, err)
		}
		if err := w.put(l.Cid, blk.RawData()); err != nil {
			return err
		}
		if l.Cid.Type() != cid.DagProtobuf {
			continue
		}
		child, err := merkledag.DecodeProtobuf(blk.RawData())
		if err != nil {
			return fmt.Errorf("block %s: %w", l.Cid, err)
		}
		cfs, err := unixfs.FSNodeFromBytes(child.Data())
		if err != nil || cfs.NumChildren() != len(child.Links()) {
			return fmt.Errorf("block %s: not a part of a UnixFS file", l.Cid)
		}
		if err := w.file(child, cfs, start, depth+1); err != nil {
			return err
		}
	}
	return nil
}

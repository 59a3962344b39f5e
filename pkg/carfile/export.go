package carfile

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"

	"github.com/ipfs/boxo/verifcid"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	car "github.com/ipld/go-car/v2"
	"github.com/ipld/go-car/v2/storage"
)

// BlockGetter is what Export reads blocks from: a blockstore, or (through
// GetterFunc) a blockservice that may fetch from the network.
type BlockGetter interface {
	// Get returns the block named by c. A block that is not available is
	// an error (boxo blockstores return ipld.ErrNotFound); Get should
	// return promptly once ctx is cancelled. Export does not keep the
	// returned block after writing it.
	Get(ctx context.Context, c cid.Cid) (blocks.Block, error)
}

// GetterFunc adapts a function to BlockGetter. A boxo blockservice (or
// blockservice session) names its method GetBlock, so exporting through
// one, fetching missing blocks from the network, reads
// Export(ctx, carfile.GetterFunc(bserv.GetBlock), roots, w, opts).
type GetterFunc func(ctx context.Context, c cid.Cid) (blocks.Block, error)

// Get calls f.
func (f GetterFunc) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	return f(ctx, c)
}

// ExportOptions holds optional settings for Export.
type ExportOptions struct {
	// Progress, when set, is called after each block is written with the
	// number of blocks and block bytes written so far.
	Progress func(blocks, bytes int64)

	// Skip, when set, leaves out every block for which it returns true,
	// and does not descend into it: the receiver has it, and everything
	// under it, already (a delta export). Roots are never skipped.
	Skip func(c cid.Cid) bool
}

// Export writes the complete DAGs under roots to w as a CARv1 stream: a
// header naming roots, then every block reachable from them exactly once,
// depth first in link order (a directory before its entries, a file's
// root before its chunks), which is the order of the trustless gateway's
// dag-scope=all responses. Links are followed in dag-pb, dag-cbor and
// dag-json blocks; raw (and json, cbor, libp2p-key) blocks are leaves; a
// block of any other codec fails the export with ErrUndecodable.
//
// Identity CIDs are not written as blocks, since their data is inside the
// CID, but their links are followed. Every block got is checked against
// its CID, so a corrupt local store fails the export (ErrHashMismatch)
// rather than producing a CAR that every importer refuses.
//
// A block that cannot be got fails the export with an *Error wrapping
// ErrBlockUnavailable and the getter's error, naming the CID and the block
// that links to it. On failure, w has received a partial CAR; callers
// writing a file should remove it. Export buffers nothing beyond one block;
// it remembers the CIDs it has written, to write each once.
func Export(ctx context.Context, bg BlockGetter, roots []cid.Cid, w io.Writer, opts ExportOptions) error {
	if len(roots) == 0 {
		return errors.New("export CAR: no roots given")
	}
	for _, r := range roots {
		if !r.Defined() {
			return errors.New("export CAR: undefined root CID")
		}
	}
	// Hide any io.WriterAt (an *os.File, say): go-car would then write at
	// absolute offsets from 0 instead of streaming from where w is, which
	// fails on pipes and corrupts files opened for appending.
	out, err := storage.NewWritable(struct{ io.Writer }{w}, roots,
		car.WriteAsCarV1(true), car.UseWholeCIDs(true))
	if err != nil {
		return fmt.Errorf("export CAR: write header: %w", err)
	}

	type item struct{ c, parent cid.Cid }
	stack := make([]item, 0, len(roots))
	for _, r := range slices.Backward(roots) {
		stack = append(stack, item{c: r})
	}
	written := make(map[string]struct{})
	var nBlocks, nBytes int64
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("export CAR: %w", err)
		}
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		key := it.c.KeyString()
		if _, ok := written[key]; ok {
			continue
		}
		written[key] = struct{}{}

		data, err := exportBlock(ctx, bg, it.c, it.parent)
		if err != nil {
			return err
		}
		children, err := links(it.c, data)
		if err != nil {
			return &Error{Err: ErrUndecodable, Cid: it.c, Offset: -1, Cause: err,
				Msg: fmt.Sprintf("export: cannot follow the links of block %s", it.c)}
		}
		if !isIdentity(it.c) {
			if err := out.Put(ctx, key, data); err != nil {
				return fmt.Errorf("export CAR: write block %s: %w", it.c, err)
			}
			nBlocks++
			nBytes += int64(len(data))
			if opts.Progress != nil {
				opts.Progress(nBlocks, nBytes)
			}
		}
		for _, ch := range slices.Backward(children) {
			if _, ok := written[ch.KeyString()]; ok || (opts.Skip != nil && opts.Skip(ch)) {
				continue
			}
			stack = append(stack, item{c: ch, parent: it.c})
		}
	}
	if err := out.Finalize(); err != nil {
		return fmt.Errorf("export CAR: finish: %w", err)
	}
	return nil
}

// exportBlock returns the verified bytes of c.
func exportBlock(ctx context.Context, bg BlockGetter, c, parent cid.Cid) ([]byte, error) {
	if err := verifcid.ValidateCid(verifcid.DefaultAllowlist, c); err != nil {
		return nil, &Error{Err: ErrUnsupportedHash, Cid: c, Offset: -1, Cause: err,
			Msg: fmt.Sprintf("export: block %s%s uses %s, which is not accepted", c, linkedFrom(parent), hashName(c))}
	}
	if isIdentity(c) {
		data, err := identityData(c)
		if err != nil {
			return nil, &Error{Err: ErrMalformed, Cid: c, Offset: -1, Cause: err,
				Msg: fmt.Sprintf("export: identity CID %s is malformed", c)}
		}
		return data, nil
	}
	blk, err := bg.Get(ctx, c)
	if err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("export CAR: get block %s: %w", c, err)
		}
		return nil, &Error{Err: ErrBlockUnavailable, Cid: c, Offset: -1, Cause: err,
			Msg: fmt.Sprintf("export: block %s%s is not available", c, linkedFrom(parent))}
	}
	data := blk.RawData()
	if err := checkHash(c, data, -1); err != nil {
		var ce *Error
		if errors.As(err, &ce) && ce.Err == ErrHashMismatch {
			ce.Msg = fmt.Sprintf("export: block %s%s as stored locally is corrupt: its bytes do not match its CID", c, linkedFrom(parent))
		}
		return nil, err
	}
	return data, nil
}

func linkedFrom(parent cid.Cid) string {
	if !parent.Defined() {
		return " (a root)"
	}
	return fmt.Sprintf(" (linked from %s)", parent)
}

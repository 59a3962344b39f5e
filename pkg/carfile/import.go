package carfile

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/ipfs/boxo/verifcid"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
)

// DefaultMaxBlockSize is the largest block Import accepts unless told
// otherwise: bitswap's limit, so that every imported block can be shared.
const DefaultMaxBlockSize = 2 << 20

// Batches handed to BlockPutter.PutMany are bounded by both, which bounds
// the memory of the store pass to about batchBytes plus one block.
const (
	batchBlocks = 256
	batchBytes  = 8 << 20
)

// BlockPutter is what Import writes into: a boxo blockstore, a go-car
// read-write blockstore, or anything else that stores blocks.
type BlockPutter interface {
	// PutMany stores the blocks, all of which have been verified against
	// their CIDs. It may keep the slice and the blocks; Import does not
	// touch them after the call. An error aborts the import.
	PutMany(ctx context.Context, bs []blocks.Block) error
}

// ImportOptions holds the settings of Import and Verify. The zero value is
// usable.
type ImportOptions struct {
	// MaxBlockSize is the largest block accepted, in bytes; a larger one
	// fails with ErrBlockTooLarge. Zero or less means DefaultMaxBlockSize.
	MaxBlockSize int

	// TempDir is where Import spools an input that cannot seek; "" means
	// os.TempDir(). The spool file is removed before Import returns.
	TempDir string

	// RequireComplete makes every block reachable from the roots required:
	// each must be in the CAR or reported present by Have, else the import
	// fails with ErrIncomplete. A block reported by Have is taken to be the
	// root of a complete subtree and is not descended into.
	RequireComplete bool

	// Have, when set, reports whether a block is already stored locally; it
	// is asked only about roots and links that the CAR does not contain.
	// An error from it aborts the import.
	Have func(ctx context.Context, c cid.Cid) (bool, error)

	// Progress, when set, is called after each batch is stored with the
	// number of blocks and block bytes stored so far.
	Progress func(blocks, bytes int64)

	// CheckProgress, when set, is called during the check pass after each
	// block section is verified, with the number of sections and block
	// bytes checked so far (duplicates included).
	CheckProgress func(sections, bytes int64)

	// BeforeStore, when set, is called by Import once every check has
	// passed and before the first block is put, with what will be put;
	// an error from it ends the import with nothing put (a store that
	// has no room for the blocks says so here).
	BeforeStore func(Result) error
}

func (o ImportOptions) withDefaults() ImportOptions {
	if o.MaxBlockSize <= 0 {
		o.MaxBlockSize = DefaultMaxBlockSize
	}
	return o
}

// Result describes a CAR that passed every check.
type Result struct {
	// Roots are the roots named in the CAR header, in order.
	Roots []cid.Cid
	// Blocks is the number of distinct blocks stored (Import) or found
	// (Verify), not counting identity CIDs, which are never stored.
	Blocks int64
	// Bytes is the total size of those blocks.
	Bytes int64
}

// Import reads a CAR (v1, or v2 whose index is ignored) from r, checks it
// completely, and only then puts its blocks into dst.
//
// The checks, in the order a failure is reported: the header parses and
// names at least one root (ErrBadHeader); each section is well formed
// (ErrMalformed) and not cut short (ErrTruncated; a partial last section
// is an error, not the end of the file); each CID uses a hash function in
// boxo/verifcid's default allowlist (ErrUnsupportedHash); no block exceeds
// MaxBlockSize (ErrBlockTooLarge); each block's bytes hash to its CID
// (ErrHashMismatch); each root is in the CAR or reported by Have
// (ErrMissingRoot); with RequireComplete, every block reachable from the
// roots is in the CAR or reported by Have (ErrIncomplete, or ErrUndecodable
// when a block's links cannot be read). A failed check returns an *Error
// naming the CID and byte offset where known, and nothing is put into dst.
//
// The input is read twice, once to check and once to store, and never held
// in memory as a whole: memory is bounded by one block plus one batch
// (about 10 MiB) plus, for deduplication, one entry per distinct block (and
// with RequireComplete its list of links). An r that is an io.ReadSeeker
// (an *os.File, a *bytes.Reader) is rewound to where it was; any other
// reader, or one whose Seek fails (a pipe on stdin), is spooled to a
// temporary file in TempDir during the check pass.
//
// A CARv1 cut exactly between two sections cannot be told from a shorter
// CAR; RequireComplete catches that (a CARv2 records its size, so there it
// is ErrTruncated).
//
// Blocks are put in batches, each block once, in file order; identity-CID
// blocks are skipped. If ctx is cancelled or dst fails during the store
// pass, blocks already put stay put; they are verified, so this is safe.
// Should a seekable input change between the passes, Import notices the
// difference and fails, but blocks put before that point stay put.
// Cancelling ctx is noticed between blocks; a Read blocked on r is not
// interrupted (close r for that).
func Import(ctx context.Context, r io.Reader, dst BlockPutter, opts ImportOptions) (Result, error) {
	if dst == nil {
		return Result{}, errors.New("import CAR: no destination store")
	}
	opts = opts.withDefaults()
	first, rewind, cleanup, err := rewindable(r, opts.TempDir)
	if err != nil {
		return Result{}, err
	}
	defer cleanup()

	ck, err := check(ctx, first, opts, nil)
	if err != nil {
		return Result{}, err
	}
	if opts.BeforeStore != nil {
		if err := opts.BeforeStore(ck.res); err != nil {
			return Result{}, err
		}
	}
	second, err := rewind()
	if err != nil {
		return Result{}, fmt.Errorf("import CAR: rewind for the store pass: %w", err)
	}
	return store(ctx, second, dst, opts, ck)
}

// Verify makes every check Import makes and stores nothing. It reads r
// once, front to back, and needs no temporary file.
//
// Verify suits `commons get`: copy the CAR stream into a temporary file,
// Verify it, then open it with go-car's blockstore.OpenReadOnly and write
// the folder from that. TempDir and Progress are not used.
func Verify(ctx context.Context, r io.Reader, opts ImportOptions) (Result, error) {
	ck, err := check(ctx, r, opts.withDefaults(), nil)
	if err != nil {
		return Result{}, err
	}
	return ck.res, nil
}

// rewindable returns a reader for the check pass, a function giving a
// reader for the store pass, and a cleanup function to call when done.
func rewindable(r io.Reader, tempDir string) (io.Reader, func() (io.Reader, error), func(), error) {
	if rs, ok := r.(io.ReadSeeker); ok {
		if pos, err := rs.Seek(0, io.SeekCurrent); err == nil {
			rewind := func() (io.Reader, error) {
				_, err := rs.Seek(pos, io.SeekStart)
				return rs, err
			}
			return rs, rewind, func() {}, nil
		}
	}
	f, err := os.CreateTemp(tempDir, "commons-import-*.car")
	if err != nil {
		return nil, nil, nil, fmt.Errorf("import CAR: create spool file: %w", err)
	}
	cleanup := func() {
		_ = f.Close()
		_ = os.Remove(f.Name())
	}
	w := bufio.NewWriterSize(f, 256<<10)
	rewind := func() (io.Reader, error) {
		if err := w.Flush(); err != nil {
			return nil, fmt.Errorf("write spool file %s: %w", f.Name(), err)
		}
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, fmt.Errorf("seek spool file %s: %w", f.Name(), err)
		}
		return f, nil
	}
	return io.TeeReader(r, w), rewind, cleanup, nil
}

// checked is what the check pass learned.
type checked struct {
	res Result
	// present holds every distinct non-identity CID in the CAR; the store
	// pass sets an entry to true once the block is put.
	present map[string]bool
}

// linkInfo is one block's links, or why they could not be read.
type linkInfo struct {
	links  []cid.Cid
	err    error
	offset int64
}

// check is the check pass: it reads all of r and returns nil error only if
// every check passes. fresh, if set, is called with each distinct block
// (identity CIDs left out) as it is read; its data is only valid during
// the call.
func check(ctx context.Context, r io.Reader, opts ImportOptions, fresh func(block)) (*checked, error) {
	s, err := newScanner(r, opts.MaxBlockSize)
	if err != nil {
		return nil, err
	}
	ck := &checked{res: Result{Roots: s.roots}, present: make(map[string]bool)}
	var lk map[string]linkInfo
	if opts.RequireComplete {
		lk = make(map[string]linkInfo)
	}
	var sections, read int64
	for {
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("check CAR: %w", err)
		}
		b, err := s.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		sections++
		read += int64(len(b.data))
		if opts.CheckProgress != nil {
			opts.CheckProgress(sections, read)
		}
		if isIdentity(b.cid) {
			continue
		}
		key := b.cid.KeyString()
		if _, dup := ck.present[key]; dup {
			continue
		}
		ck.present[key] = false
		ck.res.Blocks++
		ck.res.Bytes += int64(len(b.data))
		if fresh != nil {
			fresh(b)
		}
		if lk != nil {
			ls, err := links(b.cid, b.data)
			lk[key] = linkInfo{links: ls, err: err, offset: b.offset}
		}
	}

	for _, root := range s.roots {
		if err := checkRoot(ctx, root, ck.present, opts); err != nil {
			return nil, err
		}
	}
	if opts.RequireComplete {
		if err := checkComplete(ctx, s.roots, ck.present, lk, opts); err != nil {
			return nil, err
		}
	}
	return ck, nil
}

func checkRoot(ctx context.Context, root cid.Cid, present map[string]bool, opts ImportOptions) error {
	if isIdentity(root) {
		if err := verifcid.ValidateCid(verifcid.DefaultAllowlist, root); err != nil {
			return &Error{Err: ErrUnsupportedHash, Cid: root, Offset: -1, Cause: err,
				Msg: fmt.Sprintf("root %s is an identity CID that is too large to accept", root)}
		}
		return nil
	}
	if _, ok := present[root.KeyString()]; ok {
		return nil
	}
	ok, err := have(ctx, root, opts)
	if err != nil {
		return err
	}
	if !ok {
		return &Error{Err: ErrMissingRoot, Cid: root, Offset: -1,
			Msg: fmt.Sprintf("root %s is not in the file and not stored here: the file does not hold what it claims to; ask the sender for a complete export", root)}
	}
	return nil
}

// checkComplete walks the DAG under roots through the CAR's blocks and
// fails on the first link that is neither in the CAR nor reported by Have.
func checkComplete(ctx context.Context, roots []cid.Cid, present map[string]bool, lk map[string]linkInfo, opts ImportOptions) error {
	type item struct{ c, parent cid.Cid }
	var stack []item
	for _, r := range slices.Backward(roots) {
		stack = append(stack, item{c: r})
	}
	visited := make(map[string]struct{})
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("check CAR: %w", err)
		}
		it := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		key := it.c.KeyString()
		if _, ok := visited[key]; ok {
			continue
		}
		visited[key] = struct{}{}

		var children []cid.Cid
		if isIdentity(it.c) {
			if err := verifcid.ValidateCid(verifcid.DefaultAllowlist, it.c); err != nil {
				return &Error{Err: ErrUnsupportedHash, Cid: it.c, Offset: -1, Cause: err,
					Msg: fmt.Sprintf("identity CID %s%s is too large to accept", it.c, linkedFrom(it.parent))}
			}
			data, err := identityData(it.c)
			if err == nil {
				children, err = links(it.c, data)
			}
			if err != nil {
				return &Error{Err: ErrUndecodable, Cid: it.c, Offset: -1, Cause: err,
					Msg: fmt.Sprintf("cannot follow the links of identity CID %s%s, so the bundle cannot be checked for completeness", it.c, linkedFrom(it.parent))}
			}
		} else if _, ok := present[key]; ok {
			info := lk[key]
			if info.err != nil {
				return &Error{Err: ErrUndecodable, Cid: it.c, Offset: info.offset, Cause: info.err,
					Msg: fmt.Sprintf("cannot follow the links of block %s at byte %d, so the bundle cannot be checked for completeness", it.c, info.offset)}
			}
			children = info.links
		} else {
			ok, err := have(ctx, it.c, opts)
			if err != nil {
				return err
			}
			if !ok {
				return &Error{Err: ErrIncomplete, Cid: it.c, Offset: -1,
					Msg: fmt.Sprintf("block %s%s is neither in the file nor stored here: the bundle is incomplete; ask the sender for a complete export", it.c, linkedFrom(it.parent))}
			}
			continue
		}
		for _, ch := range slices.Backward(children) {
			if _, ok := visited[ch.KeyString()]; !ok {
				stack = append(stack, item{c: ch, parent: it.c})
			}
		}
	}
	return nil
}

func have(ctx context.Context, c cid.Cid, opts ImportOptions) (bool, error) {
	if opts.Have == nil {
		return false, nil
	}
	ok, err := opts.Have(ctx, c)
	if err != nil {
		return false, fmt.Errorf("check CAR: look up block %s locally: %w", c, err)
	}
	return ok, nil
}

// store is the store pass: it reads r again, re-verifying every block, and
// puts each distinct block into dst in batches.
func store(ctx context.Context, r io.Reader, dst BlockPutter, opts ImportOptions, ck *checked) (Result, error) {
	changed := func(err error) error {
		return fmt.Errorf("import CAR: the input changed between the check and the store pass: %w", err)
	}
	s, err := newScanner(r, opts.MaxBlockSize)
	if err != nil {
		return Result{}, changed(err)
	}
	if !slices.EqualFunc(s.roots, ck.res.Roots, cid.Cid.Equals) {
		return Result{}, changed(fmt.Errorf("roots differ"))
	}
	res := Result{Roots: s.roots}
	var batch []blocks.Block
	var size int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := dst.PutMany(ctx, batch); err != nil {
			return fmt.Errorf("import CAR: store %d blocks starting with %s: %w", len(batch), batch[0].Cid(), err)
		}
		res.Blocks += int64(len(batch))
		res.Bytes += size
		if opts.Progress != nil {
			opts.Progress(res.Blocks, res.Bytes)
		}
		batch, size = nil, 0
		return nil
	}
	for {
		if err := ctx.Err(); err != nil {
			return Result{}, fmt.Errorf("import CAR: %w", err)
		}
		b, err := s.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return Result{}, changed(err)
		}
		if isIdentity(b.cid) {
			continue
		}
		key := b.cid.KeyString()
		stored, ok := ck.present[key]
		if !ok {
			return Result{}, changed(fmt.Errorf("block %s at byte %d was not there before", b.cid, b.offset))
		}
		if stored {
			continue
		}
		ck.present[key] = true
		blk, err := blocks.NewBlockWithCid(bytes.Clone(b.data), b.cid)
		if err != nil {
			return Result{}, fmt.Errorf("import CAR: block %s: %w", b.cid, err)
		}
		batch = append(batch, blk)
		size += int64(len(b.data))
		if len(batch) >= batchBlocks || size >= batchBytes {
			if err := flush(); err != nil {
				return Result{}, err
			}
		}
	}
	if err := flush(); err != nil {
		return Result{}, err
	}
	if res.Blocks != ck.res.Blocks {
		return Result{}, changed(fmt.Errorf("%d blocks stored, %d checked", res.Blocks, ck.res.Blocks))
	}
	return res, nil
}

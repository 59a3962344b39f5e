package folder

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// Limits bound what Check lets a DAG expand to. Zero fields are no limit.
type Limits struct {
	// MaxEntries bounds the files, directories and symlinks below the
	// root, each counted every time it appears.
	MaxEntries int64
	// MaxBytes bounds the sum of the sizes the files claim, each file
	// counted every time it appears.
	MaxBytes int64
}

// Summary is what Check counted.
type Summary struct {
	// Entries is the number of files, directories and symlinks below the
	// root, each counted every time it appears.
	Entries int64
	// Bytes is the sum of the sizes the files claim, each counted every
	// time it appears: what a tar or zip of the DAG would hold.
	Bytes int64
	// Distinct is the file data the DAG holds, each distinct block
	// counted once: the raw leaves as their parents state their sizes,
	// and the data inside file nodes.
	Distinct int64
}

// Repetition a DAG may have: the same content under several names or in
// several places. Honest folders repeat a little (a licence in every
// folder, a part used twice); a DAG bomb links one block or one file
// thousands of times, to be tiny in blocks and huge when expanded.
const (
	// repeatFactor is how many times its distinct content a DAG may
	// repeat beyond the first copy.
	repeatFactor = 8
	// repeatFloor is how many repeated bytes are always allowed, so that
	// small folders of small repeated files never trip the rule.
	repeatFloor = 64 << 20
)

// Overexpands reports whether expanding content of distinct bytes into
// total bytes repeats it more than any honest folder does: the repeated
// bytes (total less distinct) exceed repeatFactor times the distinct
// bytes, or 64 MiB if that is more. Check, Write and the gateway's archives
// refuse such DAGs with ErrExpands.
func Overexpands(total, distinct int64) bool {
	repeated := total - distinct
	// repeated > repeatFactor*distinct, without the product overflowing.
	return repeated > repeatFloor && distinct <= (repeated-1)/repeatFactor
}

// Check walks the UnixFS DAG at root as Write would write it, without
// writing anything, and refuses it for the same reasons: unsafe or
// duplicate names, escaping symlinks, unknown node types, HAMT shards wider
// than Write accepts, nesting deeper than MaxDepth. It also refuses, with
// ErrTooLarge, a DAG that expands beyond lim, and, with ErrExpands, one
// that repeats the same content far more than an honest folder does
// (Overexpands: the sizes the files claim against the distinct blocks
// their nodes link to, so one file linking one leaf a thousand times is a
// bomb too). It stops at the first problem; the error names the path
// inside the DAG.
//
// Check reads every directory node and the dag-pb nodes of every file, not
// the raw leaves that hold the data, so it costs about one node read per
// entry and one per 170 leaves. Each file is trusted to hold the size its
// root claims and each raw leaf the size its parent states (a tar writer,
// for one, refuses a file that does not hold what it claims). The returned
// Summary holds what was counted up to the point Check stopped.
func Check(ctx context.Context, dag ipld.NodeGetter, root cid.Cid, lim Limits) (Summary, error) {
	c := &checker{ctx: ctx, dag: safeDAG{ng: dag}, lim: lim, seen: make(map[cid.Cid]struct{})}
	nd, err := c.dag.Get(ctx, root)
	if err != nil {
		return c.sum, c.fail("", fmt.Errorf("get %s: %w", root, err))
	}
	k, _, err := classify(nd)
	if err != nil {
		return c.sum, c.fail("", err)
	}
	switch k {
	case kindSymlink:
		return c.sum, c.fail("", fmt.Errorf("a symlink on its own has nothing inside to point to: %w", ErrSymlinkEscapes))
	case kindFile:
		return c.sum, c.file(nd, "")
	}
	return c.sum, c.dir(nd, "", 0)
}

// ErrTooLarge and ErrExpands are Check's and Write's refusals of DAGs that
// would expand too far.
var (
	// ErrTooLarge means a DAG holds more entries or bytes than the limits
	// Check was given.
	ErrTooLarge = errors.New("too large")
	// ErrExpands means a DAG repeats the same content far more than an
	// honest folder does (see Overexpands): a DAG bomb.
	ErrExpands = errors.New("repeats the same content too often (a DAG bomb)")
)

// IsRefusal reports whether err is this package refusing content itself
// (a name, a symlink, a size, a depth or a DAG bomb), as opposed to
// failing to read it.
func IsRefusal(err error) bool {
	for _, s := range []error{
		ErrUnsafeName, ErrDuplicateName, ErrSymlinkEscapes, ErrUnknownType,
		ErrTooDeep, ErrTooLarge, ErrExpands,
	} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// checker carries the state of one Check.
type checker struct {
	ctx  context.Context
	dag  safeDAG
	lim  Limits
	sum  Summary
	seen map[cid.Cid]struct{} // file blocks counted in Distinct
}

// fail wraps err with the path inside the DAG, or with ctx's error if
// Check was cancelled.
func (c *checker) fail(rel string, err error) error {
	if cerr := c.ctx.Err(); cerr != nil {
		err = cerr
	}
	if rel == "" {
		return fmt.Errorf("check: %w", err)
	}
	return fmt.Errorf("check %s: %w", displayPath(rel), err)
}

// entry counts one more entry.
func (c *checker) entry(rel string) error {
	c.sum.Entries++
	if c.lim.MaxEntries > 0 && c.sum.Entries > c.lim.MaxEntries {
		return c.fail(rel, fmt.Errorf("more than %d entries: %w", c.lim.MaxEntries, ErrTooLarge))
	}
	return nil
}

// file counts the file nd at rel.
func (c *checker) file(nd ipld.Node, rel string) error {
	size, err := claimedSize(nd)
	if err != nil {
		return c.fail(rel, err)
	}
	c.sum.Bytes = addCapped(c.sum.Bytes, size)
	distinct, err := c.blocks(nd, 0)
	if err != nil {
		return c.fail(rel, err)
	}
	c.sum.Distinct = addCapped(c.sum.Distinct, distinct)
	switch {
	case c.lim.MaxBytes > 0 && c.sum.Bytes > c.lim.MaxBytes:
		return c.fail(rel, fmt.Errorf("more than %d bytes of files: %w", c.lim.MaxBytes, ErrTooLarge))
	case Overexpands(c.sum.Bytes, c.sum.Distinct):
		return c.fail(rel, fmt.Errorf("%d bytes of files made of %d bytes of distinct blocks: %w", c.sum.Bytes, c.sum.Distinct, ErrExpands))
	}
	return nil
}

// blocks returns the file data in the blocks of the file nd (depth levels
// below the file's root) that were not counted before. Raw leaves are not
// read: their parents state their sizes.
func (c *checker) blocks(nd ipld.Node, depth int) (int64, error) {
	if _, ok := c.seen[nd.Cid()]; ok {
		return 0, nil
	}
	c.seen[nd.Cid()] = struct{}{}
	pn, ok := nd.(*merkledag.ProtoNode)
	if !ok {
		return int64(len(nd.RawData())), nil
	}
	if depth >= MaxDepth {
		return 0, fmt.Errorf("a file's blocks nest more than %d levels: %w", MaxDepth, ErrTooDeep)
	}
	fsn, err := unixfs.FSNodeFromBytes(pn.Data())
	if err != nil {
		return 0, fmt.Errorf("not a UnixFS node (%v): %w", err, ErrUnknownType)
	}
	n := int64(len(fsn.Data()))
	for i, l := range pn.Links() {
		if err := c.ctx.Err(); err != nil {
			return 0, err
		}
		if l.Cid.Prefix().Codec == cid.Raw {
			if _, ok := c.seen[l.Cid]; !ok && i < fsn.NumChildren() {
				c.seen[l.Cid] = struct{}{}
				n = addCapped(n, int64(min(fsn.BlockSize(i), 1<<62)))
			}
			continue
		}
		if _, ok := c.seen[l.Cid]; ok {
			continue
		}
		child, err := c.dag.Get(c.ctx, l.Cid)
		if err != nil {
			return 0, fmt.Errorf("get %s: %w", l.Cid, err)
		}
		d, err := c.blocks(child, depth+1)
		if err != nil {
			return 0, err
		}
		n = addCapped(n, d)
	}
	return n, nil
}

// malformed marks an error from reading a directory (a HAMT whose shards
// are not shards, say) as ErrUnknownType, unless it is one of this
// package's refusals already, a missing block or the context ending.
func malformed(err error) error {
	for _, s := range []error{ErrUnsafeName, ErrDuplicateName, ErrTooLarge, ErrUnknownType, context.Canceled, context.DeadlineExceeded} {
		if errors.Is(err, s) {
			return err
		}
	}
	if ipld.IsNotFound(err) {
		return err
	}
	return fmt.Errorf("a directory that cannot be read (%v): %w", err, ErrUnknownType)
}

// addCapped adds two sizes of at most 2^62 without overflowing: sizes a
// DAG states may be anything.
func addCapped(a, b int64) int64 {
	const most = 1 << 62
	if a > most-b {
		return most
	}
	return a + b
}

// claimedSize is the size a file node (as classify found it) says it has.
func claimedSize(nd ipld.Node) (int64, error) {
	pn, ok := nd.(*merkledag.ProtoNode)
	if !ok {
		return int64(len(nd.RawData())), nil // a raw leaf is its own data
	}
	fsn, err := unixfs.FSNodeFromBytes(pn.Data())
	if err != nil {
		return 0, fmt.Errorf("not a UnixFS node (%v): %w", err, ErrUnknownType)
	}
	size := fsn.FileSize()
	if size > 1<<62 {
		return 0, fmt.Errorf("a file claims %d bytes: %w", size, ErrTooLarge)
	}
	return int64(size), nil
}

// dir checks the directory nd at rel, depth levels below the root.
func (c *checker) dir(nd ipld.Node, rel string, depth int) error {
	if depth >= MaxDepth {
		return c.fail(rel, fmt.Errorf("more than %d levels: %w", MaxDepth, ErrTooDeep))
	}
	d, err := uio.NewDirectoryFromNode(c.dag, nd)
	if err != nil {
		return c.fail(rel, malformed(err))
	}
	// Bound the listing itself: a HAMT of millions of entries is refused
	// before it is read whole.
	entries, err := listEntries(c.ctx, d, func(n int) error {
		if c.lim.MaxEntries > 0 && c.sum.Entries+int64(n) > c.lim.MaxEntries {
			return fmt.Errorf("more than %d entries: %w", c.lim.MaxEntries, ErrTooLarge)
		}
		return nil
	})
	if err != nil {
		return c.fail(rel, malformed(err))
	}
	for _, e := range entries {
		if err := c.ctx.Err(); err != nil {
			return c.fail(rel, err)
		}
		crel := joinRel(rel, e.name)
		if err := c.entry(crel); err != nil {
			return err
		}
		child, err := c.dag.Get(c.ctx, e.cid)
		if err != nil {
			return c.fail(crel, fmt.Errorf("get %s: %w", e.cid, err))
		}
		k, target, err := classify(child)
		if err != nil {
			return c.fail(crel, err)
		}
		switch k {
		case kindDir:
			if err := c.dir(child, crel, depth+1); err != nil {
				return err
			}
		case kindFile:
			if err := c.file(child, crel); err != nil {
				return err
			}
		case kindSymlink:
			if reason := linkTargetProblem(target, depth); reason != "" {
				return c.fail(crel, fmt.Errorf("-> %s %s: %w", displayPath(target), reason, ErrSymlinkEscapes))
			}
		}
	}
	return nil
}

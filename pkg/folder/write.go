package folder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"unicode/utf8"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// WriteOptions controls Write.
type WriteOptions struct {
	// Progress, if not nil, is called from Write's goroutine as bytes are
	// written: at most about every 100ms while a file is written, after each
	// file, and once at the end.
	Progress func(Progress)
}

// maxHAMTFanout is the widest HAMT shard Write accepts. Kubo's default is
// 256; a hostile shard could claim a fanout large enough to exhaust memory.
const maxHAMTFanout = 1024

// Write materialises the UnixFS DAG at root under target: if root is a file,
// target is the file written; if a directory, target is the directory
// created. target must not exist (ErrTargetExists), except that a
// directory may be written onto an empty directory. target's parent must
// exist.
//
// Write never writes outside target, whatever the DAG holds, since DAGs come
// from the network. It refuses, with an error naming the path: names failing
// ValidName (ErrUnsafeName); two entries with the same name in a directory
// (ErrDuplicateName); symlinks whose target is absolute, climbs out of
// target when resolved from the link's own directory, or is not a plain
// relative path, and a root that is a symlink on its own (ErrSymlinkEscapes);
// nodes that are neither UnixFS file, directory, HAMT shard nor symlink
// (ErrUnknownType); nesting deeper than MaxDepth (ErrTooDeep). It stops,
// with ErrExpands, when the bytes it has written repeat the distinct blocks
// it has read more than any honest folder does (Overexpands): a DAG that
// links one block thousands of times would otherwise fill the disk from a
// few kilobytes.
//
// Everything is written into a temporary sibling, target + ".partial-XXXX",
// which is moved into place only when complete, so a failed or cancelled
// Write leaves nothing at target and removes the partial copy. When ctx is
// cancelled Write stops promptly and returns an error wrapping ctx.Err().
// Files are written with mode 0644 and directories 0755 (less the umask);
// UnixFS modes and times are ignored. Files are not fsynced.
func Write(ctx context.Context, dag ipld.NodeGetter, root cid.Cid, target string, opts WriteOptions) (err error) {
	if target == "" {
		return errors.New("write: no target given")
	}
	target = filepath.Clean(target)
	base := filepath.Base(target)
	if base == "." || base == ".." || base == string(filepath.Separator) {
		return fmt.Errorf("write %s: the target must name a new file or directory: %w", target, ErrTargetExists)
	}
	emptyDir, err := checkTarget(target)
	if err != nil {
		return err
	}
	exp := &expansion{seen: make(map[cid.Cid]struct{})}
	w := &writer{ctx: ctx, dag: safeDAG{ng: dag, exp: exp}, exp: exp, rep: newReporter(opts.Progress), target: target}
	nd, err := w.dag.Get(ctx, root)
	if err != nil {
		return w.fail("", fmt.Errorf("get %s: %w", root, err))
	}
	k, _, err := classify(nd)
	if err != nil {
		return w.fail("", err)
	}
	switch k {
	case kindSymlink:
		return w.fail("", fmt.Errorf("a symlink on its own has nothing inside to point to: %w", ErrSymlinkEscapes))
	case kindFile:
		if emptyDir {
			return fmt.Errorf("write %s: it is a directory, and %s is a file: %w", target, root, ErrTargetExists)
		}
	}

	tmp, err := os.MkdirTemp(filepath.Dir(target), partialPrefix(base))
	if err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	defer func() {
		if rerr := os.RemoveAll(tmp); rerr != nil && err == nil && !errors.Is(rerr, fs.ErrNotExist) {
			err = fmt.Errorf("write %s: remove %s: %w", target, tmp, rerr)
		}
	}()
	w.root, err = os.OpenRoot(tmp)
	if err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	defer w.root.Close()

	if k == kindFile {
		const name = "file"
		if err := w.file(nd, name, ""); err != nil {
			return err
		}
		if err := w.root.Close(); err != nil {
			return fmt.Errorf("write %s: %w", target, err)
		}
		if err := publishFile(filepath.Join(tmp, name), target); err != nil {
			return err
		}
		w.rep.finish()
		return nil
	}

	if err := w.dir(nd, "", 0); err != nil {
		return err
	}
	if err := w.root.Close(); err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	if err := publishDir(tmp, target, emptyDir); err != nil {
		return err
	}
	w.rep.finish()
	return nil
}

// checkTarget returns whether target is an existing empty directory, or
// ErrTargetExists if it exists otherwise.
func checkTarget(target string) (emptyDir bool, err error) {
	fi, err := os.Lstat(target)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("write %s: %w", target, err)
	case !fi.IsDir():
		return false, fmt.Errorf("write %s: something is already there; choose a new name or remove it: %w", target, ErrTargetExists)
	}
	f, err := os.Open(target)
	if err != nil {
		return false, fmt.Errorf("write %s: %w", target, err)
	}
	defer f.Close()
	if _, err := f.Readdirnames(1); err != io.EOF {
		if err != nil {
			return false, fmt.Errorf("write %s: %w", target, err)
		}
		return false, fmt.Errorf("write %s: the directory is not empty; choose a new name or empty it: %w", target, ErrTargetExists)
	}
	return true, nil
}

// partialPrefix returns the temporary directory's name prefix for base,
// short enough that the random suffix still fits in a name.
func partialPrefix(base string) string {
	const keep = 200
	for len(base) > keep {
		_, size := utf8.DecodeLastRuneInString(base)
		base = base[:len(base)-size]
	}
	return base + ".partial-"
}

// publishFile moves the finished file at tmp to target without replacing
// anything that appeared at target meanwhile.
func publishFile(tmp, target string) error {
	err := os.Link(tmp, target)
	if err == nil {
		return nil
	}
	if errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("write %s: something appeared there while writing: %w", target, ErrTargetExists)
	}
	// No hard links on this file system: check, then rename.
	if _, lerr := os.Lstat(target); !errors.Is(lerr, fs.ErrNotExist) {
		return fmt.Errorf("write %s: something appeared there while writing: %w", target, ErrTargetExists)
	}
	if err := os.Rename(tmp, target); err != nil {
		return fmt.Errorf("write %s: %w", target, err)
	}
	return nil
}

// publishDir moves the finished directory tmp to target. rename(2) replaces
// an empty directory and fails on anything else.
func publishDir(tmp, target string, emptyDir bool) error {
	err := os.Rename(tmp, target)
	if err != nil && emptyDir {
		// Some systems will not rename onto an existing directory.
		if os.Remove(target) == nil {
			err = os.Rename(tmp, target)
		}
	}
	if err == nil {
		return nil
	}
	if _, lerr := os.Lstat(target); lerr == nil {
		return fmt.Errorf("write %s: something appeared there while writing: %w: %w", target, ErrTargetExists, err)
	}
	return fmt.Errorf("write %s: %w", target, err)
}

// kind is what a UnixFS node is, for writing.
type kind int

const (
	kindFile kind = iota + 1
	kindDir
	kindSymlink
)

// classify says what nd is; for a symlink it also returns the target text.
func classify(nd ipld.Node) (kind, string, error) {
	switch n := nd.(type) {
	case *merkledag.RawNode:
		return kindFile, "", nil
	case *merkledag.ProtoNode:
		fsn, err := unixfs.FSNodeFromBytes(n.Data())
		if err != nil {
			return 0, "", fmt.Errorf("not a UnixFS node (%v): %w", err, ErrUnknownType)
		}
		switch fsn.Type() {
		case unixfs.TFile, unixfs.TRaw:
			return kindFile, "", nil
		case unixfs.TDirectory, unixfs.THAMTShard:
			return kindDir, "", nil
		case unixfs.TSymlink:
			return kindSymlink, string(fsn.Data()), nil
		default:
			return 0, "", fmt.Errorf("UnixFS type %s: %w", fsn.Type(), ErrUnknownType)
		}
	default:
		return 0, "", fmt.Errorf("codec 0x%x: %w", nd.Cid().Prefix().Codec, ErrUnknownType)
	}
}

// writer carries the state of one Write.
type writer struct {
	ctx    context.Context
	dag    safeDAG
	exp    *expansion
	root   *os.Root // the temporary directory; nothing is written outside it
	rep    *reporter
	target string
}

// fail wraps err with the operation, the target and the path inside it,
// or with ctx's error if Write was cancelled.
func (w *writer) fail(rel string, err error) error {
	if cerr := w.ctx.Err(); cerr != nil {
		err = cerr
	}
	if rel == "" {
		return fmt.Errorf("write %s: %w", w.target, err)
	}
	return fmt.Errorf("write %s: %s: %w", w.target, displayPath(rel), err)
}

// entry is one checked directory entry.
type entry struct {
	name string
	cid  cid.Cid
}

// listEntries lists the entries of d, refusing an unsafe name or a name
// used twice; more, if set, is asked after each entry whether the listing
// may grow to n entries.
func listEntries(ctx context.Context, d uio.Directory, more func(n int) error) ([]entry, error) {
	var entries []entry
	seen := make(map[string]struct{})
	err := d.ForEachLink(ctx, func(l *ipld.Link) error {
		if err := ValidName(l.Name); err != nil {
			return err
		}
		if _, dup := seen[l.Name]; dup {
			return fmt.Errorf("two entries are named %s: %w", quoteName(l.Name), ErrDuplicateName)
		}
		seen[l.Name] = struct{}{}
		entries = append(entries, entry{name: l.Name, cid: l.Cid})
		if more != nil {
			return more(len(entries))
		}
		return nil
	})
	return entries, err
}

// dir writes the children of directory node nd into the existing directory
// rel (slash-separated, "" for the root), depth levels below the root.
func (w *writer) dir(nd ipld.Node, rel string, depth int) error {
	if depth >= MaxDepth {
		return w.fail(rel, fmt.Errorf("more than %d levels: %w", MaxDepth, ErrTooDeep))
	}
	d, err := uio.NewDirectoryFromNode(w.dag, nd)
	if err != nil {
		return w.fail(rel, err)
	}
	// Check every name before writing any child.
	entries, err := listEntries(w.ctx, d, nil)
	if err != nil {
		return w.fail(rel, err)
	}
	for _, e := range entries {
		if err := w.ctx.Err(); err != nil {
			return w.fail(rel, err)
		}
		crel := joinRel(rel, e.name)
		child, err := w.dag.Get(w.ctx, e.cid)
		if err != nil {
			return w.fail(crel, fmt.Errorf("get %s: %w", e.cid, err))
		}
		k, linkTarget, err := classify(child)
		if err != nil {
			return w.fail(crel, err)
		}
		osrel := filepath.FromSlash(crel)
		switch k {
		case kindDir:
			if err := w.root.Mkdir(osrel, 0o755); err != nil {
				return w.fail(crel, err)
			}
			if err := w.dir(child, crel, depth+1); err != nil {
				return err
			}
		case kindFile:
			if err := w.file(child, osrel, crel); err != nil {
				return err
			}
		case kindSymlink:
			if reason := linkTargetProblem(linkTarget, depth); reason != "" {
				return w.fail(crel, fmt.Errorf("-> %s %s: %w", displayPath(linkTarget), reason, ErrSymlinkEscapes))
			}
			if err := w.root.Symlink(linkTarget, osrel); err != nil {
				return w.fail(crel, err)
			}
		}
	}
	return nil
}

// file writes file node nd to osrel inside the root; rel names it in
// messages and progress.
func (w *writer) file(nd ipld.Node, osrel, rel string) (err error) {
	r, err := uio.NewDagReader(w.ctx, nd, w.dag)
	if err != nil {
		return w.fail(rel, err)
	}
	f, err := w.root.OpenFile(osrel, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return w.fail(rel, err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = w.fail(rel, cerr)
		}
	}()
	if _, err := io.Copy(&writeCounter{ctx: w.ctx, w: f, rep: w.rep, exp: w.exp, path: rel}, r); err != nil {
		return w.fail(rel, err)
	}
	w.rep.fileDone(w.ctx, rel)
	return nil
}

// writeCounter stops a file's writing when ctx ends and reports progress.
type writeCounter struct {
	ctx  context.Context
	w    io.Writer
	rep  *reporter
	exp  *expansion
	path string
}

func (c *writeCounter) Write(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	if err := c.exp.wrote(len(p)); err != nil {
		return 0, err
	}
	n, err := c.w.Write(p)
	c.rep.addBytes(c.path, n)
	return n, err
}

// expansion compares what a Write has written with the distinct blocks it
// has read. Both are measured, not claimed, so no size a DAG states can
// hide a bomb.
type expansion struct {
	mu       sync.Mutex
	seen     map[cid.Cid]struct{}
	distinct int64 // bytes of the distinct blocks read
	written  int64 // file bytes written
}

// read counts a block read.
func (e *expansion) read(nd ipld.Node) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if _, ok := e.seen[nd.Cid()]; !ok {
		e.seen[nd.Cid()] = struct{}{}
		e.distinct += int64(len(nd.RawData()))
	}
}

// wrote counts n more bytes about to be written, refusing them if they
// would make the copy a bomb's.
func (e *expansion) wrote(n int) error {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.written += int64(n)
	if Overexpands(e.written, e.distinct) {
		return fmt.Errorf("%d bytes written from %d bytes of distinct blocks: %w", e.written, e.distinct, ErrExpands)
	}
	return nil
}

// safeDAG adapts a NodeGetter to the DAGService that boxo's directory
// readers ask for: it refuses writes, and refuses HAMT shards wider than
// maxHAMTFanout before boxo allocates room for them. With exp set it
// counts the blocks it reads.
type safeDAG struct {
	ng  ipld.NodeGetter
	exp *expansion // nil: nothing counted
}

var _ ipld.DAGService = safeDAG{}

var errReadOnly = errors.New("write: the DAG is read-only here")

// Get fetches a node and checks HAMT shard fanouts.
func (s safeDAG) Get(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	nd, err := s.ng.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	if err := checkShard(nd); err != nil {
		return nil, err
	}
	if s.exp != nil {
		s.exp.read(nd)
	}
	return nd, nil
}

// GetMany fetches nodes and checks HAMT shard fanouts.
func (s safeDAG) GetMany(ctx context.Context, cids []cid.Cid) <-chan *ipld.NodeOption {
	in := s.ng.GetMany(ctx, cids)
	out := make(chan *ipld.NodeOption, len(cids))
	go func() {
		defer close(out)
		for opt := range in {
			if opt.Err == nil {
				if err := checkShard(opt.Node); err != nil {
					opt = &ipld.NodeOption{Err: err}
				} else if s.exp != nil {
					s.exp.read(opt.Node)
				}
			}
			select {
			case out <- opt:
			case <-ctx.Done():
				return
			}
		}
	}()
	return out
}

// Add refuses.
func (safeDAG) Add(context.Context, ipld.Node) error { return errReadOnly }

// AddMany refuses.
func (safeDAG) AddMany(context.Context, []ipld.Node) error { return errReadOnly }

// Remove refuses.
func (safeDAG) Remove(context.Context, cid.Cid) error { return errReadOnly }

// RemoveMany refuses.
func (safeDAG) RemoveMany(context.Context, []cid.Cid) error { return errReadOnly }

// checkShard refuses a HAMT shard whose fanout is over maxHAMTFanout.
func checkShard(nd ipld.Node) error {
	pn, ok := nd.(*merkledag.ProtoNode)
	if !ok {
		return nil
	}
	fsn, err := unixfs.FSNodeFromBytes(pn.Data())
	if err != nil || fsn.Type() != unixfs.THAMTShard {
		return nil
	}
	if fsn.Fanout() > maxHAMTFanout {
		return fmt.Errorf("HAMT shard %s has fanout %d, more than %d: %w", nd.Cid(), fsn.Fanout(), maxHAMTFanout, ErrUnknownType)
	}
	return nil
}

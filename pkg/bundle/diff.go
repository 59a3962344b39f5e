package bundle

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// MaxChanges bounds a tree diff's report; a diff with more changes is cut
// there and says so (Truncated).
const MaxChanges = 100000

// Change kinds.
const (
	Added   = "added"
	Removed = "removed"
	Changed = "changed"
)

// FileChange is one difference between two file trees.
type FileChange struct {
	Path    string  `json:"path"`
	Change  string  `json:"change"` // Added, Removed or Changed
	Type    string  `json:"type"`   // "file", "directory", "symlink"
	OldSize int64   `json:"old_size"`
	NewSize int64   `json:"new_size"`
	Old     cid.Cid `json:"old,omitempty"`
	New     cid.Cid `json:"new,omitempty"`
}

// TreeDiff is what changed between two UnixFS trees.
type TreeDiff struct {
	Changes   []FileChange
	Truncated bool
}

// DiffBundles compares the files of two bundle roots: DiffTrees of the
// roots, leaving out the metadata folder (whose changes are the manifest's).
func DiffBundles(ctx context.Context, dag ipld.DAGService, old, new cid.Cid) (TreeDiff, error) {
	d, err := DiffTrees(ctx, dag, old, new)
	if err != nil {
		return d, err
	}
	kept := d.Changes[:0]
	for _, c := range d.Changes {
		if c.Path != MetaDir && !strings.HasPrefix(c.Path, MetaDir+"/") {
			kept = append(kept, c)
		}
	}
	d.Changes = kept
	return d, nil
}

// DiffTrees compares two UnixFS trees by path. Subtrees with equal CIDs are
// skipped without being read, so the cost follows the size of the change,
// not of the trees. Added and removed folders are listed file by file.
func DiffTrees(ctx context.Context, dag ipld.DAGService, old, new cid.Cid) (TreeDiff, error) {
	d := &differ{ctx: ctx, dag: dag}
	if err := d.compare("", old, new); err != nil {
		if err == errTruncated {
			d.out.Truncated = true
			return d.out, nil
		}
		return TreeDiff{}, fmt.Errorf("diff %s %s: %w", old, new, err)
	}
	return d.out, nil
}

var errTruncated = fmt.Errorf("too many changes")

type differ struct {
	ctx context.Context
	dag ipld.DAGService
	out TreeDiff
}

type entry struct {
	c     cid.Cid
	typ   string
	size  int64
	links map[string]cid.Cid // directories only
}

func (d *differ) stat(c cid.Cid) (entry, error) {
	if c.Type() == cid.Raw {
		nd, err := d.dag.Get(d.ctx, c)
		if err != nil {
			return entry{}, err
		}
		return entry{c: c, typ: "file", size: int64(len(nd.RawData()))}, nil
	}
	nd, err := d.dag.Get(d.ctx, c)
	if err != nil {
		return entry{}, err
	}
	pn, ok := nd.(*merkledag.ProtoNode)
	if !ok {
		return entry{c: c, typ: "other", size: int64(len(nd.RawData()))}, nil
	}
	fs, err := ft.FSNodeFromBytes(pn.Data())
	if err != nil {
		return entry{}, fmt.Errorf("%s: %w", c, err)
	}
	switch fs.Type() {
	case ft.TDirectory, ft.THAMTShard:
		dir, err := uio.NewDirectoryFromNode(d.dag, nd)
		if err != nil {
			return entry{}, err
		}
		e := entry{c: c, typ: "directory", links: map[string]cid.Cid{}}
		err = dir.ForEachLink(d.ctx, func(l *ipld.Link) error {
			e.links[l.Name] = l.Cid
			return nil
		})
		return e, err
	case ft.TSymlink:
		return entry{c: c, typ: "symlink", size: int64(len(fs.Data()))}, nil
	default:
		return entry{c: c, typ: "file", size: int64(fs.FileSize())}, nil
	}
}

func (d *differ) add(fc FileChange) error {
	if len(d.out.Changes) >= MaxChanges {
		return errTruncated
	}
	d.out.Changes = append(d.out.Changes, fc)
	return nil
}

func (d *differ) compare(p string, old, new cid.Cid) error {
	if old.Equals(new) {
		return nil
	}
	if err := d.ctx.Err(); err != nil {
		return err
	}
	oe, err := d.stat(old)
	if err != nil {
		return err
	}
	ne, err := d.stat(new)
	if err != nil {
		return err
	}
	if oe.typ == "directory" && ne.typ == "directory" {
		names := make([]string, 0, len(oe.links)+len(ne.links))
		for n := range oe.links {
			names = append(names, n)
		}
		for n := range ne.links {
			if _, ok := oe.links[n]; !ok {
				names = append(names, n)
			}
		}
		sort.Strings(names)
		for _, n := range names {
			cp := join(p, n)
			oc, inOld := oe.links[n]
			nc, inNew := ne.links[n]
			var err error
			switch {
			case inOld && inNew:
				err = d.compare(cp, oc, nc)
			case inOld:
				err = d.one(cp, oc, Removed)
			default:
				err = d.one(cp, nc, Added)
			}
			if err != nil {
				return err
			}
		}
		return nil
	}
	if oe.typ == "directory" || ne.typ == "directory" {
		// A file became a folder or back: everything under both sides.
		if err := d.one(p, old, Removed); err != nil {
			return err
		}
		return d.one(p, new, Added)
	}
	return d.add(FileChange{Path: p, Change: Changed, Type: ne.typ, OldSize: oe.size, NewSize: ne.size, Old: old, New: new})
}

// one lists c, found at p, as wholly added or removed.
func (d *differ) one(p string, c cid.Cid, change string) error {
	e, err := d.stat(c)
	if err != nil {
		return err
	}
	if e.typ != "directory" {
		fc := FileChange{Path: p, Change: change, Type: e.typ}
		if change == Added {
			fc.New, fc.NewSize = c, e.size
		} else {
			fc.Old, fc.OldSize = c, e.size
		}
		return d.add(fc)
	}
	names := make([]string, 0, len(e.links))
	for n := range e.links {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return d.add(FileChange{Path: p, Change: change, Type: "directory"})
	}
	for _, n := range names {
		if err := d.one(join(p, n), e.links[n], change); err != nil {
			return err
		}
	}
	return nil
}

func join(dir, name string) string {
	if dir == "" {
		return name
	}
	return dir + "/" + name
}

// NewBytes counts the blocks reachable from new that are not reachable
// from old, and their bytes: what a node holding old must fetch to hold
// new. Subtrees shared with old are not descended into, and raw leaves are
// counted from their links without being read, so only directory and
// file-index nodes of the two DAGs are loaded.
func NewBytes(ctx context.Context, dag ipld.DAGService, old, new cid.Cid) (bytes int64, blocks int64, err error) {
	have := make(map[string]struct{})
	var mark func(c cid.Cid) error
	mark = func(c cid.Cid) error {
		if _, ok := have[c.KeyString()]; ok {
			return nil
		}
		have[c.KeyString()] = struct{}{}
		if c.Type() == cid.Raw {
			return nil
		}
		nd, err := dag.Get(ctx, c)
		if err != nil {
			return err
		}
		for _, l := range nd.Links() {
			if err := mark(l.Cid); err != nil {
				return err
			}
		}
		return nil
	}
	if old.Defined() {
		if err := mark(old); err != nil {
			return 0, 0, fmt.Errorf("new bytes: read %s: %w", old, err)
		}
	}
	seen := make(map[string]struct{})
	var count func(c cid.Cid, size uint64) error
	count = func(c cid.Cid, size uint64) error {
		k := c.KeyString()
		if _, ok := have[k]; ok {
			return nil
		}
		if _, ok := seen[k]; ok {
			return nil
		}
		seen[k] = struct{}{}
		blocks++
		if c.Type() == cid.Raw {
			bytes += int64(size)
			return nil
		}
		nd, err := dag.Get(ctx, c)
		if err != nil {
			return err
		}
		bytes += int64(len(nd.RawData()))
		for _, l := range nd.Links() {
			if err := count(l.Cid, l.Size); err != nil {
				return err
			}
		}
		return nil
	}
	rootSize := uint64(0)
	if new.Type() == cid.Raw {
		nd, err := dag.Get(ctx, new)
		if err != nil {
			return 0, 0, fmt.Errorf("new bytes: read %s: %w", new, err)
		}
		rootSize = uint64(len(nd.RawData()))
	}
	if err := count(new, rootSize); err != nil {
		return 0, 0, fmt.Errorf("new bytes: read %s: %w", new, err)
	}
	return bytes, blocks, nil
}

// Package folder turns a folder on disk into a UnixFS DAG and back, safely.
//
// Publishing is two steps: [Open] walks a folder (or a single file), refuses
// anything that cannot be carried safely (symlinks that leave the folder,
// device files, unreadable entries, unsafe names) and returns it as a boxo
// files.Node; [Import] adds such a node to a DAG service exactly as Kubo's
// `ipfs add -r --cid-version=1 --raw-leaves --chunker=buzhash` does, so the
// root CID is the one Kubo would give. The node may also arrive from a remote
// client as a multipart body (files.NewFileFromPartReader); Import distrusts
// it and checks every name again.
//
// Fetching is [Write]: it materialises a UnixFS DAG under a target path and
// never writes outside it, whatever names or symlinks the DAG holds, because
// DAGs come from the network.
package folder

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Sentinel errors. Every error returned by this package that is caused by
// one of these conditions wraps the matching sentinel, so callers test them
// with errors.Is. An error from Open that lists several problems wraps every
// sentinel involved.
var (
	// ErrUnsafeName means an entry name cannot be carried safely (see ValidName).
	ErrUnsafeName = errors.New("unsafe name")
	// ErrSymlinkEscapes means a symlink's target is absolute, climbs out of
	// the folder (directly or through other symlinks), or is not a plain
	// relative path.
	ErrSymlinkEscapes = errors.New("symlink points outside the folder")
	// ErrDanglingSymlink means a symlink points to nothing, or to a loop of
	// symlinks.
	ErrDanglingSymlink = errors.New("symlink points to nothing")
	// ErrSpecialFile means an entry is a device, named pipe, socket or other
	// file that is neither a regular file, a directory nor a symlink.
	ErrSpecialFile = errors.New("special file")
	// ErrUnreadable means a file or directory cannot be read.
	ErrUnreadable = errors.New("unreadable")
	// ErrChanged means a file changed between Open and Import.
	ErrChanged = errors.New("file changed while being published")
	// ErrDuplicateName means a directory holds two entries with the same name.
	ErrDuplicateName = errors.New("duplicate name")
	// ErrUnknownType means a node is not a UnixFS file, directory or symlink
	// (for example a UnixFS metadata node or another IPLD codec).
	ErrUnknownType = errors.New("unknown entry type")
	// ErrTooDeep means directories are nested deeper than MaxDepth.
	ErrTooDeep = errors.New("directories nested too deeply")
	// ErrTargetExists means Write's target already exists and is not an
	// empty directory.
	ErrTargetExists = errors.New("target already exists")
)

// MaxDepth is how deeply directories may nest in a DAG given to Import or
// Write. Real folders stay far below it; it stops a hostile peer from making
// us recurse without end.
const MaxDepth = 1000

// Options controls Open and Import.
type Options struct {
	// Chunker is a chunker.FromString spec ("size-262144", "rabin-...",
	// "buzhash"); "" means "buzhash".
	Chunker string
	// CIDVersion is 0 or 1; 0 means 1, because commons always uses CIDv1.
	// Legacy CIDv0 DAGs are not produced by this package.
	CIDVersion int
	// RawLeaves stores file chunks as raw blocks; DefaultOptions sets it.
	RawLeaves bool
	// Hidden makes Open include names starting with "." (as Kubo's
	// `ipfs add -r --hidden`). Import ignores it: it adds what it is given.
	Hidden bool
	// Progress, if not nil, is called from the importing goroutine as bytes
	// are imported: at most about every 100ms while a file is read, after
	// each file, and once at the end with the final counts.
	Progress func(Progress)
}

// DefaultOptions returns the options that give Kubo's CIDs for
// `ipfs add -r --cid-version=1 --raw-leaves --chunker=buzhash`.
func DefaultOptions() Options {
	return Options{Chunker: "buzhash", CIDVersion: 1, RawLeaves: true}
}

// Progress reports how far an Import or Write has got.
type Progress struct {
	// Files is the number of regular files finished so far.
	Files int64
	// Bytes is the number of file bytes read (Import) or written (Write) so far.
	Bytes int64
	// Path is the slash-separated path, relative to the root, of the file
	// being processed ("" for the root itself).
	Path string
}

// Totals counts what Open found, for a progress bar.
type Totals struct {
	// Files is the number of regular files.
	Files int64
	// Dirs is the number of directories, the root included.
	Dirs int64
	// Symlinks is the number of symlinks kept.
	Symlinks int64
	// Bytes is the sum of the regular files' sizes.
	Bytes int64
}

// progressInterval is how often Progress is called while a file is read.
const progressInterval = 100 * time.Millisecond

// reporter throttles calls to a Progress callback. It is safe for
// concurrent use (Import reads several files at once), and calls the
// callback from one goroutine at a time, with counts that never go back.
type reporter struct {
	mu   sync.Mutex
	fn   func(Progress)
	p    Progress
	last time.Time
}

func newReporter(fn func(Progress)) *reporter {
	return &reporter{fn: fn}
}

// addBytes counts n bytes of the file at path and reports if it is time to.
func (r *reporter) addBytes(path string, n int) {
	if r.fn == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.p.Bytes += int64(n)
	r.p.Path = path
	if now := time.Now(); now.Sub(r.last) >= progressInterval {
		r.last = now
		r.fn(r.p)
	}
}

// fileDone counts a finished file and reports, unless ctx has ended: a
// file read in parallel that finishes after a cancellation (perhaps one
// the callback made) is not reported.
func (r *reporter) fileDone(ctx context.Context, path string) {
	if r.fn == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if ctx.Err() != nil {
		return
	}
	r.p.Files++
	r.p.Path = path
	r.last = time.Now()
	r.fn(r.p)
}

// finish reports the final counts.
func (r *reporter) finish() {
	if r.fn == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.p.Path = ""
	r.fn(r.p)
}

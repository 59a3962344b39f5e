package folder

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ipfs/boxo/files"
)

// Problem is one reason Open refused a folder.
type Problem struct {
	// Path is the slash-separated path of the entry, relative to the folder
	// ("" for the folder or file given to Open itself).
	Path string
	// Detail says what is wrong in plain words, e.g.
	// "-> /etc/passwd points outside the folder (absolute target)".
	Detail string
	// Err is the sentinel for the kind of problem, e.g. ErrSpecialFile.
	Err error
}

// Error returns the path followed by the detail.
func (p *Problem) Error() string { return displayPath(p.Path) + " " + p.Detail }

// Unwrap returns the sentinel, for errors.Is.
func (p *Problem) Unwrap() error { return p.Err }

// OpenError is the error Open returns when the folder holds anything that
// cannot be published. It lists every problem found, so that the user can
// fix them all at once.
type OpenError struct {
	// Path is the path given to Open.
	Path string
	// Problems lists every problem found, in walk order (sorted by path
	// within each directory).
	Problems []*Problem
}

// maxListedProblems caps how many problems OpenError.Error spells out.
const maxListedProblems = 10

// Error lists the problems (the first ten, then how many more)
// and says what to do.
func (e *OpenError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "refusing to publish %s: ", e.Path)
	n := len(e.Problems)
	if n == 1 {
		b.WriteString("1 problem: ")
	} else {
		fmt.Fprintf(&b, "%d problems: ", n)
	}
	for i, p := range e.Problems {
		if i == maxListedProblems {
			fmt.Fprintf(&b, "; and %d more", n-i)
			break
		}
		if i > 0 {
			b.WriteString("; ")
		}
		b.WriteString(p.Error())
	}
	if n == 1 {
		b.WriteString(". Remove or replace it and try again.")
	} else {
		b.WriteString(". Remove or replace them and try again.")
	}
	return b.String()
}

// Unwrap returns every problem, so errors.Is finds each sentinel involved.
func (e *OpenError) Unwrap() []error {
	errs := make([]error, len(e.Problems))
	for i, p := range e.Problems {
		errs[i] = p
	}
	return errs
}

// Open checks the folder (or single file) at path and returns it as a
// files.Node ready for Import, with totals for a progress bar.
//
// A symlink given as path itself is followed; inside the folder nothing is.
// Open walks the whole tree first (with lstat) and refuses, with one
// *OpenError listing every offending path, symlinks whose target is absolute,
// climbs out of the folder (directly or through other symlinks), dangles or
// points to a hidden entry that is not published; devices, named pipes,
// sockets and other special files; files and directories that cannot be
// read; and names that fail ValidName. Hidden entries (names starting with
// ".") are skipped unless opts.Hidden. Symlinks that stay inside are kept as
// symlinks, with their relative target text unchanged. Empty directories
// are kept, as Kubo does.
//
// The returned node reads file contents lazily, from Import or a
// files.MultiFileReader; a file that changed size since Open makes that read
// fail with ErrChanged. Nodes carry no mode or modification time, so none is
// sent to a daemon. If path does not exist the error wraps fs.ErrNotExist.
// On any error the node is nil.
func Open(path string, opts Options) (files.Node, Totals, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, Totals{}, fmt.Errorf("open %s: %w", path, err)
	}
	fi, err := os.Stat(abs)
	if err != nil {
		return nil, Totals{}, fmt.Errorf("open %s: %w", path, err)
	}
	real, err := filepath.EvalSymlinks(abs)
	if err != nil {
		return nil, Totals{}, fmt.Errorf("open %s: %w", path, err)
	}
	w := &walker{opts: opts, root: real}
	var n files.Node
	switch mode := fi.Mode(); {
	case mode.IsDir():
		n = w.dir(real, "", 0)
	case mode.IsRegular():
		if w.checkReadable(real, "") {
			w.totals.Files++
			w.totals.Bytes += fi.Size()
			n = &diskFile{dir: filepath.Dir(real), rel: filepath.Base(real), size: fi.Size()}
		}
	default:
		w.special("", mode)
	}
	if len(w.problems) > 0 {
		return nil, Totals{}, &OpenError{Path: path, Problems: w.problems}
	}
	return n, w.totals, nil
}

// walker carries the state of one Open.
type walker struct {
	opts     Options
	root     string // real (symlink-free) absolute path of the folder
	totals   Totals
	problems []*Problem
}

func (w *walker) problem(rel, detail string, kind error) {
	w.problems = append(w.problems, &Problem{Path: rel, Detail: detail, Err: kind})
}

// unreadable records that rel cannot be read because of err.
func (w *walker) unreadable(rel string, err error) {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		err = pe.Err // the path is already in the message
	}
	w.problem(rel, fmt.Sprintf("cannot be read (%v)", err), ErrUnreadable)
}

func (w *walker) special(rel string, mode fs.FileMode) {
	what := "a special file"
	switch {
	case mode&fs.ModeNamedPipe != 0:
		what = "a named pipe (FIFO)"
	case mode&fs.ModeSocket != 0:
		what = "a socket"
	case mode&fs.ModeDevice != 0:
		what = "a device file"
	}
	w.problem(rel, "is "+what+", not a regular file", ErrSpecialFile)
}

// checkReadable opens the regular file at abs without following symlinks
// or blocking (it could have become a FIFO), and reports whether that worked.
func (w *walker) checkReadable(abs, rel string) bool {
	f, err := os.OpenFile(abs, os.O_RDONLY|openCheckFlags, 0)
	if err != nil {
		w.unreadable(rel, err)
		return false
	}
	f.Close()
	return true
}

// dir walks the directory at abs (rel from the root, depth levels below it)
// and returns its node, or nil if it cannot be read.
func (w *walker) dir(abs, rel string, depth int) files.Directory {
	entries, err := os.ReadDir(abs)
	if err != nil {
		w.unreadable(rel, err)
		return nil
	}
	w.totals.Dirs++
	out := make([]files.DirEntry, 0, len(entries))
	for _, e := range entries {
		name := e.Name()
		if !w.opts.Hidden && strings.HasPrefix(name, ".") {
			continue
		}
		crel := joinRel(rel, name)
		if reason := nameProblem(name); reason != "" {
			w.problem(crel, "has an unsafe name (it "+reason+")", ErrUnsafeName)
			continue
		}
		cabs := filepath.Join(abs, name)
		fi, err := e.Info()
		if err != nil {
			if errors.Is(err, fs.ErrPermission) {
				// The directory lists but cannot be searched: one
				// problem for it, not one per entry.
				w.unreadable(rel, err)
				return nil
			}
			w.unreadable(crel, err)
			continue
		}
		switch mode := fi.Mode(); {
		case mode.IsRegular():
			if w.checkReadable(cabs, crel) {
				w.totals.Files++
				w.totals.Bytes += fi.Size()
				out = append(out, files.FileEntry(name, &diskFile{dir: w.root, rel: filepath.FromSlash(crel), size: fi.Size()}))
			}
		case mode.IsDir():
			if d := w.dir(cabs, crel, depth+1); d != nil {
				out = append(out, files.FileEntry(name, d))
			}
		case mode&fs.ModeSymlink != 0:
			if l := w.symlink(cabs, crel, depth); l != nil {
				out = append(out, files.FileEntry(name, l))
			}
		default:
			w.special(crel, mode)
		}
	}
	return files.NewSliceDirectory(out)
}

// symlink checks the symlink at abs, which lives in a directory depth
// levels below the root, and returns its node, or nil if it is refused.
func (w *walker) symlink(abs, rel string, depth int) files.Node {
	target, err := os.Readlink(abs)
	if err != nil {
		w.unreadable(rel, err)
		return nil
	}
	arrow := "-> " + displayPath(target) + " "
	if reason := linkTargetProblem(target, depth); reason != "" {
		w.problem(rel, arrow+reason, ErrSymlinkEscapes)
		return nil
	}
	resolved, err := filepath.EvalSymlinks(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		w.problem(rel, arrow+"points to nothing (a dangling link)", ErrDanglingSymlink)
		return nil
	case errors.Is(err, fs.ErrPermission):
		w.problem(rel, arrow+"cannot be followed (permission denied)", ErrUnreadable)
		return nil
	case err != nil:
		w.problem(rel, arrow+"leads nowhere (a loop of links)", ErrDanglingSymlink)
		return nil
	}
	inside, err := filepath.Rel(w.root, resolved)
	if err != nil || inside == ".." || strings.HasPrefix(inside, ".."+string(filepath.Separator)) {
		w.problem(rel, arrow+"points outside the folder (through another link)", ErrSymlinkEscapes)
		return nil
	}
	if !w.opts.Hidden && inside != "." {
		for _, el := range strings.Split(filepath.ToSlash(inside), "/") {
			if strings.HasPrefix(el, ".") {
				w.problem(rel, arrow+"points to a hidden entry, which is not published (publish hidden entries too, or remove the link)", ErrDanglingSymlink)
				return nil
			}
		}
	}
	w.totals.Symlinks++
	return files.NewLinkFile(target, nil)
}

// diskFile is a regular file found by Open, opened only when first read so
// that a large folder does not hold a descriptor per file.
type diskFile struct {
	dir  string // directory rel is resolved in, through os.Root
	rel  string // OS path relative to dir
	size int64  // size when Open checked it

	f    *os.File
	read int64
	err  error
}

var _ files.File = (*diskFile)(nil)

// Mode returns 0: modes are not published.
func (d *diskFile) Mode() os.FileMode { return 0 }

// ModTime returns the zero time: modification times are not published.
func (d *diskFile) ModTime() time.Time { return time.Time{} }

// Size returns the size Open saw.
func (d *diskFile) Size() (int64, error) { return d.size, nil }

func (d *diskFile) open() error {
	// os.Root keeps the open inside the folder even if a directory on the
	// way was swapped for a symlink after Open checked it.
	root, err := os.OpenRoot(d.dir)
	if err != nil {
		return fmt.Errorf("open %s: %w: %w", d.rel, ErrUnreadable, err)
	}
	defer root.Close()
	f, err := root.OpenFile(d.rel, os.O_RDONLY|openCheckFlags, 0)
	if err != nil {
		return fmt.Errorf("open %s: %w: %w", d.rel, ErrUnreadable, err)
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return fmt.Errorf("open %s: %w: %w", d.rel, ErrUnreadable, err)
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		return fmt.Errorf("open %s: it is no longer a regular file: %w", d.rel, ErrChanged)
	}
	d.f = f
	return nil
}

// Read reads the file, failing with ErrChanged if it turns out to have a
// different size than Open saw.
func (d *diskFile) Read(p []byte) (int, error) {
	if d.err != nil {
		return 0, d.err
	}
	if d.f == nil {
		if err := d.open(); err != nil {
			d.err = err
			return 0, err
		}
	}
	n, err := d.f.Read(p)
	d.read += int64(n)
	if d.read > d.size || (err == io.EOF && d.read != d.size) {
		d.err = fmt.Errorf("read %s: it was %d bytes when checked and is now different; publish again once it is no longer being written: %w", filepath.ToSlash(d.rel), d.size, ErrChanged)
		return n, d.err
	}
	if err != nil && err != io.EOF {
		err = fmt.Errorf("read %s: %w: %w", filepath.ToSlash(d.rel), ErrUnreadable, err)
		d.err = err
	}
	return n, err
}

// Close closes the underlying file, if it was opened.
func (d *diskFile) Close() error {
	if d.f == nil {
		return nil
	}
	err := d.f.Close()
	d.f = nil
	if d.err == nil {
		d.err = fs.ErrClosed
	}
	return err
}

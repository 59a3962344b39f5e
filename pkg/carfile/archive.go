package carfile

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"

	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// Archive is a CAR file that Open checked block by block, opened for
// reading its blocks in any order: one index entry per block is kept in
// memory, never the blocks, so a CAR far larger than memory can be
// inspected before anything of it is stored. Every block read is checked
// against its CID again, in case the file changed after Open.
type Archive struct {
	ra    io.ReaderAt
	roots []cid.Cid
	spans map[string]span
	keys  []cid.Cid
	res   Result
	close func() error
}

type span struct {
	off  int64
	size int
}

// Open reads a CAR (v1, or v2 whose index is ignored) from r and makes
// every check Verify makes except completeness, which the caller judges
// with Get and Has: the header, each section, each hash, the size limit,
// and that each root is in the CAR or reported by opts.Have. A failed
// check is an *Error, as from Import.
//
// An *os.File (or any io.ReaderAt that is also an io.Seeker) is read
// where it stands and left open: the caller closes it after the Archive.
// Any other reader is copied to a temporary file in opts.TempDir as it is
// read, and Close removes it. MaxBlockSize, TempDir, Have and
// CheckProgress are used.
func Open(ctx context.Context, r io.Reader, opts ImportOptions) (*Archive, error) {
	opts = opts.withDefaults()
	a := &Archive{spans: make(map[string]span), close: func() error { return nil }}
	if sr, ok := sectionOf(r); ok {
		a.ra = sr
		if err := a.scan(ctx, sr, opts); err != nil {
			return nil, err
		}
		return a, nil
	}
	f, err := os.CreateTemp(opts.TempDir, "commons-import-*.car")
	if err != nil {
		return nil, fmt.Errorf("open CAR: create spool file: %w", err)
	}
	a.ra = f
	a.close = func() error {
		err := f.Close()
		if rerr := os.Remove(f.Name()); err == nil {
			err = rerr
		}
		return err
	}
	w := bufio.NewWriterSize(f, 256<<10)
	err = a.scan(ctx, io.TeeReader(r, w), opts)
	if err == nil {
		if err = w.Flush(); err != nil {
			err = fmt.Errorf("open CAR: write spool file %s: %w", f.Name(), err)
		}
	}
	if err != nil {
		_ = a.close()
		return nil, err
	}
	return a, nil
}

// sectionOf returns the rest of r as a section for random access, when r
// can seek (a file; not a pipe).
func sectionOf(r io.Reader) (*io.SectionReader, bool) {
	ras, ok := r.(interface {
		io.ReaderAt
		io.Seeker
	})
	if !ok {
		return nil, false
	}
	pos, err := ras.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil, false
	}
	end, err := ras.Seek(0, io.SeekEnd)
	if err != nil {
		return nil, false
	}
	if _, err := ras.Seek(pos, io.SeekStart); err != nil {
		return nil, false
	}
	return io.NewSectionReader(ras, pos, end-pos), true
}

func (a *Archive) scan(ctx context.Context, r io.Reader, opts ImportOptions) error {
	opts.RequireComplete = false // the caller judges completeness
	ck, err := check(ctx, r, opts, func(b block) {
		a.spans[b.cid.KeyString()] = span{off: b.end - int64(len(b.data)), size: len(b.data)}
		a.keys = append(a.keys, b.cid)
	})
	if err != nil {
		return err
	}
	a.roots, a.res = ck.res.Roots, ck.res
	return nil
}

// Roots returns the roots the header names.
func (a *Archive) Roots() []cid.Cid { return a.roots }

// Result returns the roots and the count and size of the distinct blocks.
func (a *Archive) Result() Result { return a.res }

// Keys returns the CIDs of the distinct blocks in file order, identity
// CIDs left out. The caller must not modify the slice.
func (a *Archive) Keys() []cid.Cid { return a.keys }

// Has reports whether the CAR holds c (an identity CID: always).
func (a *Archive) Has(c cid.Cid) bool {
	if isIdentity(c) {
		return true
	}
	_, ok := a.spans[c.KeyString()]
	return ok
}

// Size returns the size of c's block in the CAR, and whether it holds it.
func (a *Archive) Size(c cid.Cid) (int, bool) {
	sp, ok := a.spans[c.KeyString()]
	return sp.size, ok
}

// Get reads c's block from the file and checks it against c. A block the
// CAR does not hold is an ipld.ErrNotFound; one whose bytes changed since
// Open is an *Error wrapping ErrHashMismatch.
func (a *Archive) Get(_ context.Context, c cid.Cid) (blocks.Block, error) {
	if isIdentity(c) {
		data, err := identityData(c)
		if err != nil {
			return nil, &Error{Err: ErrMalformed, Cid: c, Offset: -1, Cause: err, Msg: fmt.Sprintf("identity CID %s is malformed", c)}
		}
		return blocks.NewBlockWithCid(data, c)
	}
	sp, ok := a.spans[c.KeyString()]
	if !ok {
		return nil, ipld.ErrNotFound{Cid: c}
	}
	data := make([]byte, sp.size)
	// (A zero-length block at the very end would read as EOF.)
	if _, err := a.ra.ReadAt(data, sp.off); err != nil && !(sp.size == 0 && errors.Is(err, io.EOF)) {
		if errors.Is(err, io.EOF) {
			return nil, &Error{Err: ErrTruncated, Cid: c, Offset: sp.off, Msg: fmt.Sprintf("the file was cut short after it was checked (block %s at byte %d)", c, sp.off)}
		}
		return nil, fmt.Errorf("read CAR block %s at byte %d: %w", c, sp.off, err)
	}
	if err := checkHash(c, data, sp.off); err != nil {
		return nil, err
	}
	return blocks.NewBlockWithCid(data, c)
}

// Close releases the Archive (and removes its spool file, if it made
// one). It does not close a file passed to Open.
func (a *Archive) Close() error { return a.close() }

// Peek reads the header and the first block of the CAR in r, checking
// what it reads, and returns them with a reader that yields all of r from
// where it stood, as if nothing had been read: so a caller can choose how
// to import a CAR by its first block (an export manifest, say) without a
// second copy of the file. At most the header, the first block and 64 KiB
// of read-ahead are held in memory. An error says the start is not a
// usable CAR; rest is then still the whole input, for an import to report
// properly.
func Peek(r io.Reader, maxBlockSize int) (roots []cid.Cid, first blocks.Block, rest io.Reader, err error) {
	if maxBlockSize <= 0 {
		maxBlockSize = DefaultMaxBlockSize
	}
	var seen bytes.Buffer
	rest = readerFunc(func() io.Reader { return io.MultiReader(bytes.NewReader(seen.Bytes()), r) })
	s, err := newScanner(io.TeeReader(r, &seen), maxBlockSize)
	if err != nil {
		return nil, nil, rest, err
	}
	b, err := s.next()
	if err != nil {
		if err == io.EOF {
			err = &Error{Err: ErrIncomplete, Offset: -1, Msg: "the CAR holds no block"}
		}
		return s.roots, nil, rest, err
	}
	first, err = blocks.NewBlockWithCid(bytes.Clone(b.data), b.cid)
	if err != nil {
		return s.roots, nil, rest, err
	}
	return s.roots, first, rest, nil
}

// readerFunc makes the reader when first read, so that it sees all the
// bytes a Peek took.
func readerFunc(make func() io.Reader) io.Reader { return &lazyReader{make: make} }

type lazyReader struct {
	make func() io.Reader
	r    io.Reader
}

func (l *lazyReader) Read(p []byte) (int, error) {
	if l.r == nil {
		l.r = l.make()
	}
	return l.r.Read(p)
}

package carfile

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"

	"github.com/ipfs/boxo/verifcid"
	"github.com/ipfs/go-cid"
	car "github.com/ipld/go-car/v2"
	mh "github.com/multiformats/go-multihash"
	// Registers blake2, blake3, sha3 and murmur3 with go-multihash: without
	// it, blocks hashed with functions that verifcid's default allowlist
	// accepts (blake3, sha3, ...) could not be verified and would be
	// refused. This is go-multihash's own registry, not ours.
	_ "github.com/multiformats/go-multihash/register/all"
)

// maxHeaderSize bounds the CARv1 header (essentially the list of roots):
// about 25,000 roots, far more than any bundle has.
const maxHeaderSize = 1 << 20

// countingReader counts the bytes handed out, so errors can name byte
// offsets, and remembers whether the input itself ended or failed; that is
// what separates a truncated file from a section whose length disagrees
// with its content.
type countingReader struct {
	r       *bufio.Reader
	n       int64
	eof     bool
	readErr error
}

func (c *countingReader) note(err error) {
	switch {
	case err == nil:
	case err == io.EOF:
		c.eof = true
	case c.readErr == nil:
		c.readErr = err
	}
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	c.note(err)
	return n, err
}

func (c *countingReader) ReadByte() (byte, error) {
	b, err := c.r.ReadByte()
	if err == nil {
		c.n++
	}
	c.note(err)
	return b, err
}

// scanner reads a CAR (v1, or the data payload of a v2) section by section
// and checks each block: allowed hash, size limit, hash match. It holds at
// most one block in memory.
type scanner struct {
	cr       *countingReader
	br       *car.BlockReader
	roots    []cid.Cid
	v2       bool
	dataEnd  int64 // for CARv2: offset just past the data payload
	maxBlock int
	buf      []byte
}

// newScanner reads and checks the header.
func newScanner(r io.Reader, maxBlock int) (*scanner, error) {
	s := &scanner{
		cr:       &countingReader{r: bufio.NewReaderSize(r, 64<<10)},
		maxBlock: maxBlock,
	}
	// go-car hides the CARv2 data size; peek at the header to learn it, so
	// that a v2 file cut short exactly between two sections is caught too.
	if p, _ := s.cr.r.Peek(car.PragmaSize); bytes.Equal(p, car.Pragma) {
		s.v2 = true
		hb, err := s.cr.r.Peek(car.PragmaSize + car.HeaderSize)
		if err == io.EOF {
			return nil, headerTruncated(int64(len(hb)))
		}
		if err != nil {
			return nil, fmt.Errorf("read CAR header: %w", err)
		}
		var h car.Header
		if _, err := h.ReadFrom(bytes.NewReader(hb[car.PragmaSize:])); err != nil {
			return nil, badHeader("the CARv2 header is invalid", err)
		}
		if h.DataOffset > math.MaxInt64/2 || h.DataSize > math.MaxInt64/2 {
			return nil, badHeader("the CARv2 header gives an impossible data size", nil)
		}
		s.dataEnd = int64(h.DataOffset + h.DataSize)
	}
	if !s.v2 && !looksLikeCARv1(s.cr.r) {
		return nil, badHeader("it does not start with a CAR header (is it a CAR file at all?)", nil)
	}
	br, err := car.NewBlockReader(s.cr, car.MaxAllowedHeaderSize(maxHeaderSize))
	if err != nil {
		return nil, s.headerErr(err, s.cr.n)
	}
	if br.Version == 2 && !s.v2 {
		return nil, badHeader("the header claims version 2 without the CARv2 pragma", nil)
	}
	if len(br.Roots) == 0 {
		return nil, badHeader("the header names no root block", nil)
	}
	for _, c := range br.Roots {
		if !c.Defined() {
			return nil, badHeader("the header names an empty root CID", nil)
		}
	}
	s.br = br
	s.roots = br.Roots
	return s, nil
}

// looksLikeCARv1 peeks at the first bytes: a CARv1 starts with the varint
// length of its header, which is a dag-cbor map. A file too short to tell
// is left to the reader, which reports it as truncated; anything else that
// fails this is not a CAR, and saying "truncated" would mislead.
func looksLikeCARv1(r *bufio.Reader) bool {
	p, _ := r.Peek(binary.MaxVarintLen64 + 1)
	n, k := binary.Uvarint(p)
	if k == 0 || len(p) <= k {
		return true // too short to judge
	}
	if k < 0 || n == 0 || n > maxHeaderSize {
		return false
	}
	return p[k]>>5 == 5 // CBOR major type 5: map
}

func badHeader(msg string, cause error) error {
	return &Error{Err: ErrBadHeader, Offset: 0, Msg: "not a usable CAR file: " + msg, Cause: cause}
}

func (s *scanner) headerErr(err error, at int64) error {
	if s.cr.readErr != nil {
		return fmt.Errorf("read CAR header: %w", s.cr.readErr)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		if s.cr.eof {
			return headerTruncated(at)
		}
		return badHeader("the CARv2 header's data size is too small for the CARv1 header inside it", err)
	}
	return badHeader("the header cannot be read", err)
}

func headerTruncated(at int64) error {
	if at == 0 {
		return &Error{Err: ErrTruncated, Offset: 0, Msg: "the file is empty; copy it again"}
	}
	return &Error{Err: ErrTruncated, Offset: at,
		Msg: fmt.Sprintf("truncated at byte %d, inside the CAR header: the file was cut short; copy it again", at)}
}

// block is one checked block; data is only valid until the next call to next.
type block struct {
	cid    cid.Cid
	data   []byte
	offset int64 // offset of the section in the input
	end    int64 // offset just past the section (and its data)
}

// next returns the next checked block, or io.EOF after the last one. Any
// other error is an *Error naming the failed check, or a read error.
func (s *scanner) next() (block, error) {
	start := s.cr.n
	c, rd, length, err := s.br.NextReader()
	if err == io.EOF {
		if s.v2 && s.cr.n < s.dataEnd {
			if s.cr.readErr != nil {
				return block{}, fmt.Errorf("read CAR at byte %d: %w", s.cr.n, s.cr.readErr)
			}
			return block{}, truncated(s.cr.n, start)
		}
		return block{}, io.EOF
	}
	if err != nil {
		return block{}, s.sectionErr(err, start, cid.Undef)
	}
	if err := verifcid.ValidateCid(verifcid.DefaultAllowlist, c); err != nil {
		return block{}, &Error{Err: ErrUnsupportedHash, Cid: c, Offset: start, Cause: err,
			Msg: fmt.Sprintf("block %s at byte %d uses %s, which is not accepted: blocks must use a secure hash function, such as sha2-256, with a full-length digest",
				c, start, hashName(c))}
	}
	if length > uint64(s.maxBlock) {
		return block{}, &Error{Err: ErrBlockTooLarge, Cid: c, Offset: start,
			Msg: fmt.Sprintf("block %s at byte %d is %d bytes, more than the limit of %d bytes: such blocks cannot be shared over bitswap",
				c, start, length, s.maxBlock)}
	}
	if cap(s.buf) < int(length) {
		s.buf = make([]byte, length)
	}
	s.buf = s.buf[:length]
	if _, err := io.ReadFull(rd, s.buf); err != nil {
		return block{}, s.sectionErr(err, start, c)
	}
	if err := checkHash(c, s.buf, start); err != nil {
		return block{}, err
	}
	return block{cid: c, data: s.buf, offset: start, end: s.cr.n}, nil
}

func (s *scanner) sectionErr(err error, start int64, c cid.Cid) error {
	if s.cr.readErr != nil {
		return fmt.Errorf("read CAR at byte %d: %w", s.cr.n, s.cr.readErr)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		if s.cr.eof {
			return truncated(s.cr.n, start)
		}
		return &Error{Err: ErrMalformed, Cid: c, Offset: start,
			Msg: fmt.Sprintf("the block section at byte %d runs past its own declared length: the file is damaged", start)}
	}
	return &Error{Err: ErrMalformed, Cid: c, Offset: start, Cause: err,
		Msg: fmt.Sprintf("the block section at byte %d cannot be read: the file is damaged", start)}
}

func truncated(at, sectionStart int64) error {
	msg := fmt.Sprintf("truncated at byte %d: the file was cut short; copy it again", at)
	if at > sectionStart {
		msg = fmt.Sprintf("truncated at byte %d, inside the block section that starts at byte %d: the file was cut short; copy it again", at, sectionStart)
	}
	return &Error{Err: ErrTruncated, Offset: at, Msg: msg}
}

// checkHash reports whether data hashes to c; offset is for the message
// (-1 when unknown).
func checkHash(c cid.Cid, data []byte, offset int64) error {
	where := ""
	if offset >= 0 {
		where = fmt.Sprintf(" at byte %d", offset)
	}
	sum, err := c.Prefix().Sum(data)
	if err != nil && !isIdentity(c) {
		return &Error{Err: ErrUnsupportedHash, Cid: c, Offset: offset, Cause: err,
			Msg: fmt.Sprintf("block %s%s uses %s, which cannot be verified here", c, where, hashName(c))}
	}
	if err != nil || !sum.Equals(c) {
		return &Error{Err: ErrHashMismatch, Cid: c, Offset: offset,
			Msg: fmt.Sprintf("block %s%s is corrupt: its bytes do not match its CID; the file was damaged, copy it again", c, where)}
	}
	return nil
}

func hashName(c cid.Cid) string {
	code := c.Prefix().MhType
	if name, ok := mh.Codes[code]; ok {
		return fmt.Sprintf("hash function %s (%d-byte digest)", name, c.Prefix().MhLength)
	}
	return fmt.Sprintf("unknown hash function 0x%x", code)
}

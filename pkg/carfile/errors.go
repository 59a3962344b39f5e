package carfile

import (
	"errors"

	"github.com/ipfs/go-cid"
)

// Sentinel errors. Every check failure returned by Import, Verify and Export
// is an *Error that wraps exactly one of these, so callers test the kind of
// failure with errors.Is and find the block and byte offset with errors.As.
var (
	// ErrBadHeader means the input does not start with a CARv1 or CARv2
	// header that can be read, or the header is inconsistent or names no
	// root.
	ErrBadHeader = errors.New("not a valid CAR header")

	// ErrTruncated means the input ended in the middle of the header or of a
	// block section: the file was cut short.
	ErrTruncated = errors.New("CAR is truncated")

	// ErrMalformed means a block section is not well formed: its CID does
	// not parse, or its length disagrees with its content or with the
	// CARv2 header.
	ErrMalformed = errors.New("CAR block section is malformed")

	// ErrHashMismatch means a block's bytes do not hash to its CID.
	ErrHashMismatch = errors.New("block does not match its CID")

	// ErrUnsupportedHash means a CID uses a hash function that is insecure,
	// unknown, or cannot be computed here, or a digest of a refused length
	// (see boxo/verifcid.DefaultAllowlist).
	ErrUnsupportedHash = errors.New("hash function not allowed")

	// ErrBlockTooLarge means a block is larger than ImportOptions.MaxBlockSize.
	ErrBlockTooLarge = errors.New("block too large")

	// ErrMissingRoot means a root named in the header is neither in the CAR
	// nor reported present by ImportOptions.Have.
	ErrMissingRoot = errors.New("root block missing")

	// ErrIncomplete means, with ImportOptions.RequireComplete, that a block
	// reachable from the roots is neither in the CAR nor reported present by
	// ImportOptions.Have.
	ErrIncomplete = errors.New("DAG incomplete")

	// ErrUndecodable means a block's links could not be read because its
	// codec is not supported or its bytes are not valid for its codec. It is
	// only reported for blocks that must be traversed: by Export, and by
	// Import with RequireComplete.
	ErrUndecodable = errors.New("block links cannot be decoded")

	// ErrBlockUnavailable means Export could not get a block from its
	// BlockGetter. The getter's own error is wrapped as well.
	ErrBlockUnavailable = errors.New("block unavailable")
)

// Error describes a failed check. Its message is written for the person
// who holds the file; a command line tool should print it after the file
// name, e.g. "bundle.car: " + err.Error().
type Error struct {
	// Err is the sentinel naming the failed check, e.g. ErrTruncated.
	Err error
	// Cid is the block concerned, or cid.Undef when no block is.
	Cid cid.Cid
	// Offset is the byte offset in the input at which the problem was
	// found, or -1 when it is unknown or does not apply.
	Offset int64
	// Msg says in plain words what is wrong and what to do.
	Msg string
	// Cause is the underlying error, if any.
	Cause error
}

// Error returns the plain-words message, followed by the underlying cause
// when there is one.
func (e *Error) Error() string {
	if e.Cause != nil {
		return e.Msg + " (" + e.Cause.Error() + ")"
	}
	return e.Msg
}

// Unwrap returns the sentinel and, when there is one, the cause, so that
// errors.Is matches either.
func (e *Error) Unwrap() []error {
	if e.Cause != nil {
		return []error{e.Err, e.Cause}
	}
	return []error{e.Err}
}

package api

import (
	"context"
	"errors"

	"github.com/ipfs/go-cid"
)

// ErrDamaged: verify found damage it did not (or could not) repair.
var ErrDamaged = errors.New("repo damaged")

// Verifier checks the repo's integrity.
type Verifier interface {
	// Verify re-hashes every stored block and checks that every pin's DAG
	// is complete. With Repair it deletes corrupt blocks and fetches
	// them, and missing ones, from peers (ErrOffline without a network);
	// corrupt blocks no pin needs are only deleted. The result lists what
	// is still wrong; Verify returns it with a nil error either way, and
	// callers test OK. No gc runs meanwhile.
	Verify(ctx context.Context, opts VerifyOptions, progress func(Progress)) (VerifyResult, error)
}

// VerifyOptions control Verify.
type VerifyOptions struct {
	Repair bool `json:"repair,omitempty"`
}

// VerifyResult is what Verify found and did.
type VerifyResult struct {
	// Blocks and Bytes are what was re-hashed.
	Blocks int64 `json:"blocks"`
	Bytes  int64 `json:"bytes"`
	// Corrupt lists stored blocks whose bytes do not hash to their CID
	// (before any repair).
	Corrupt []cid.Cid `json:"corrupt,omitempty"`
	// Pins counts the pins checked; Incomplete lists those whose DAG
	// lacks blocks (before any repair).
	Pins       int             `json:"pins"`
	Incomplete []IncompletePin `json:"incomplete,omitempty"`
	// Repaired counts blocks fetched again; Removed counts corrupt blocks
	// deleted that no pin needed.
	Repaired int `json:"repaired,omitempty"`
	Removed  int `json:"removed,omitempty"`
	// Unrepaired lists what is still wrong, each with why.
	Unrepaired []string `json:"unrepaired,omitempty"`
	// OK is true when nothing is (any longer) wrong.
	OK bool `json:"ok"`
}

// IncompletePin is a pin whose DAG lacks blocks.
type IncompletePin struct {
	CID  cid.Cid `json:"cid"`
	Name string  `json:"name,omitempty"`
	// Missing counts the blocks missing (or corrupt) under it; First
	// lists up to 20 of them.
	Missing int       `json:"missing"`
	First   []cid.Cid `json:"first,omitempty"`
}

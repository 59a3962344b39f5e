package api

import (
	"context"
	"io"

	"github.com/ipfs/go-cid"
)

// SneakernetService carries libraries between nodes that have no network
// between them, on a USB stick or a laptop that travels. The node without
// the network (the village) writes a have-file (Have); a connected node
// writes an export CAR of what the village lacks (ExportLibraries with the
// have-file), or of whole libraries for a first install (without one);
// the village imports it (ImportCAR). The formats are package sneakernet's
// (docs/protocol.md).
type SneakernetService interface {
	// Have returns this node's have-file: every library it follows
	// (directly or through an include), each with the sequence and root
	// of the newest record held, the follow policy, and the bundle
	// versions held pinned for it.
	Have(ctx context.Context) ([]byte, error)
	// ExportLibraries writes to w a CARv1 whose only root is an export
	// manifest, followed by exactly the blocks the receiver lacks: those
	// of the library roots (folders and record, not the bundles) and of
	// the bundle versions the receiver's policy keeps, less everything
	// under what the have-file says it holds. Only this node's store is
	// read. A library this node does not know, or of which the receiver
	// is as new already, is left out (the result says why); a version the
	// plan wants that this node does not hold completely is left out and
	// listed (Missing): the CAR is still whole, and carries the rest. A
	// have-file that does not decode wraps ErrInvalid; a have-file or
	// list of names none of whose libraries this node knows wraps
	// ErrNotFound. Nothing is written to w before the plan is made, so
	// these early errors leave w empty.
	ExportLibraries(ctx context.Context, opts LibraryExportOptions, w io.Writer, progress func(Progress)) (LibraryExportResult, error)
	// ImportCAR is Import with options. A CAR whose root is an export
	// manifest is imported all or nothing: every block's hash, every
	// record (signed by the name's key, pointing at a library root signed
	// by the same key), every version to pin (signature, layout,
	// licences as the mirror checks them) and every DAG's completeness
	// (from the CAR and the local store) is verified, and every block of
	// the CAR must belong to a library root or version its manifest
	// lists, before anything is written; a CAR that fails wraps ErrInvalid
	// and changes nothing. Then the blocks are stored durably, newer
	// records are taken (an older one is skipped, not an error), and the
	// versions the followed libraries' policies keep are pinned and held
	// as the mirror holds them. Libraries this node does not follow are
	// skipped unless opts.Follow is set. Any other CAR is imported as
	// Import does.
	ImportCAR(ctx context.Context, r io.Reader, opts ImportOptions, progress func(Progress)) (ImportResult, error)
}

// LibraryExportOptions control ExportLibraries.
type LibraryExportOptions struct {
	// Have is the receiver's have-file: export what it lacks, under its
	// policies. Nil: a full export (a first install).
	Have []byte `json:"-"`
	// Libraries names the libraries of a full export; empty: every
	// library this node publishes or follows. Not with Have.
	Libraries []string `json:"libraries,omitempty"`
	// Policy is what a full export keeps of each library; nil: what this
	// node keeps (of its own library every version, of a followed one
	// what its follow policy keeps). Not with Have.
	Policy *FollowPolicy `json:"policy,omitempty"`
}

// LibraryExportResult says what an export CAR carries.
type LibraryExportResult struct {
	// Manifest is the CAR's root.
	Manifest cid.Cid `json:"manifest"`
	// Blocks and Bytes count the blocks written, the manifest included.
	Blocks int64 `json:"blocks"`
	Bytes  int64 `json:"bytes"`
	// Libraries lists every library asked for, in the CAR or not.
	Libraries []ExportedLibrary `json:"libraries"`
	// Missing counts the versions left out, over all libraries, because
	// this node does not hold them completely: the export is partial.
	Missing int `json:"missing,omitempty"`
}

// ExportedLibrary is one library of an export.
type ExportedLibrary struct {
	Name  string `json:"name"`
	Title string `json:"title,omitempty"`
	// Sequence is this node's newest record (0: it has none).
	Sequence int64        `json:"sequence"`
	Policy   FollowPolicy `json:"policy"`
	// Included is true when the CAR carries the library; Reason says why
	// not otherwise.
	Included bool   `json:"included"`
	Reason   string `json:"reason,omitempty"`
	// Versions counts the versions whose blocks the CAR carries; Held
	// those the policy keeps that the receiver holds already.
	Versions int `json:"versions"`
	Held     int `json:"held,omitempty"`
	// Missing lists the versions the policy keeps that this node does not
	// hold completely (at most 100; MissingCount counts them all).
	Missing      []MissingVersion `json:"missing,omitempty"`
	MissingCount int              `json:"missing_count,omitempty"`
}

// MissingVersion is a version an export had to leave out.
type MissingVersion struct {
	Bundle   string  `json:"bundle"`
	Sequence int64   `json:"sequence,omitempty"`
	Root     cid.Cid `json:"root,omitzero"`
	Reason   string  `json:"reason"`
}

// ImportOptions control ImportCAR.
type ImportOptions struct {
	// Follow follows, with Policy, the libraries of an export CAR that
	// this node does not follow yet (a first install).
	Follow bool         `json:"follow,omitempty"`
	Policy FollowPolicy `json:"policy"`
}

// ImportedLibrary is what an import did with one library of an export
// CAR.
type ImportedLibrary struct {
	Name  string `json:"name"`
	Title string `json:"title,omitempty"`
	// Sequence is the record the CAR carries.
	Sequence int64 `json:"sequence"`
	// Record is "taken" (newer than the one held), "same" (held already),
	// "older" (a newer one is held; the CAR's is skipped) or "skipped"
	// (with the library).
	Record string `json:"record"`
	// Followed: this import followed the library (ImportOptions.Follow).
	Followed bool `json:"followed,omitempty"`
	// Skipped says why nothing of the library was imported ("" if it
	// was).
	Skipped string `json:"skipped,omitempty"`
	// Pinned lists the versions this import pinned; Held counts the
	// versions the policy keeps that were pinned already.
	Pinned []cid.Cid `json:"pinned,omitempty"`
	Held   int       `json:"held,omitempty"`
	// Unwanted counts the CAR's versions the policy does not keep (not
	// stored); Refused lists versions not stored because they are not
	// open source and mirror.allow_non_open is off.
	Unwanted int      `json:"unwanted,omitempty"`
	Refused  []string `json:"refused,omitempty"`
	// Missing counts versions the policy keeps that neither the CAR nor
	// this node has: the mirror fetches them once it has peers.
	Missing int `json:"missing,omitempty"`
}

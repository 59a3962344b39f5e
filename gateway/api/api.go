// Package api is the node's local control API: the operations the commons
// CLI performs (publish, get, pin, gc, ...), the HTTP server that exposes
// them on the API listener, and the HTTP client the CLI uses to reach a
// running daemon.
//
// The same Service interface is implemented by the node itself (when the CLI
// opens a repo directly) and by Client (when a daemon holds the repo), so a
// command runs the same code path either way.
//
// Wire format: JSON over HTTP at /api/v1/<op>. Long operations stream
// newline-delimited JSON: zero or more {"progress":...} lines, then one
// {"result":...} or {"error":...} line. Byte streams (cat, export) are sent
// raw; an error after the first byte ends the stream with a trailer
// (X-Commons-Error) and the client reports it.
package api

import (
	"context"
	"errors"
	"io"
	"syscall"
	"time"

	"github.com/ipfs/boxo/files"
	"github.com/ipfs/go-cid"

	"github.com/commons-p2p/commons/pkg/metadata"
)

// Sentinel errors. Implementations wrap them so that callers (and the CLI's
// exit codes) can tell the classes apart with errors.Is, and so that they
// survive the trip through the HTTP API.
// TokenFile is the file in the repo that holds the token the daemon's API
// requires (mode 0600: only its owner may read it).
const TokenFile = "api-token"

var (
	// ErrNotFound: the content is not stored here and no peer provided it
	// before the fetch timeout.
	ErrNotFound = errors.New("not found")
	// ErrInvalid: the request itself is wrong (malformed CID or path,
	// refused folder, damaged CAR); nothing was changed.
	ErrInvalid = errors.New("invalid input")
	// ErrOffline: the operation needs the network and the node is offline
	// (no daemon running).
	ErrOffline = errors.New("needs the network")
	// ErrUnauthorized: the API was called without its token.
	ErrUnauthorized = errors.New("unauthorized")
	// ErrNotPinned: unpin of something that is not pinned.
	ErrNotPinned = errors.New("not pinned")
	// ErrNoSpace: the disk holding the repo is full, or below the space
	// the store keeps free; what failed was not done (nothing half-done
	// is pinned or listed), and can be done again once space is freed.
	// Test it with IsNoSpace, which also knows the operating system's
	// ENOSPC.
	ErrNoSpace = errors.New("not enough disk space")
)

// IsNoSpace reports whether err is a failure for lack of disk space: one
// wrapping ErrNoSpace, or the operating system's "no space left on device"
// (which the store's own refusals also match).
func IsNoSpace(err error) bool {
	return errors.Is(err, ErrNoSpace) || errors.Is(err, syscall.ENOSPC)
}

// Service is what a node offers its user. Every method honours ctx: on
// cancellation it stops promptly and returns ctx.Err() (wrapped), leaving the
// store consistent (nothing half-pinned).
type Service interface {
	// ID describes the node.
	ID(ctx context.Context) (IDInfo, error)
	// Publish imports dir (a folder or file as a boxo files.Node), pins it
	// recursively under name, makes it durable, and queues it for
	// announcement. A refused input wraps ErrInvalid and leaves nothing
	// pinned.
	Publish(ctx context.Context, dir files.Node, opts PublishOptions, progress func(Progress)) (PublishResult, error)
	// Pin fetches the whole DAG under c (from the network if needed),
	// pins it recursively and makes the pin durable. ErrNotFound if no
	// peer provides a missing block within the fetch timeout.
	Pin(ctx context.Context, c cid.Cid, name string, progress func(Progress)) error
	// Unpin removes a recursive or direct pin. ErrNotPinned if there is
	// none. Blocks stay until GC.
	Unpin(ctx context.Context, c cid.Cid) error
	// Pins lists the pins.
	Pins(ctx context.Context) ([]PinInfo, error)
	// GC removes every block no pin needs.
	GC(ctx context.Context) (GCResult, error)
	// Export writes the complete DAG under p (an /ipfs/ path or CID) to w
	// as a CARv1, fetching what is missing. It writes nothing to w before
	// the root is resolved, so an early error leaves w empty.
	Export(ctx context.Context, p string, w io.Writer, progress func(Progress)) error
	// Import reads a CAR, verifies every block, stores it only if the
	// whole file is valid (else ErrInvalid and nothing stored), pins its
	// roots and makes it durable. An export CAR (see SneakernetService)
	// is imported as ImportCAR with no options does.
	Import(ctx context.Context, r io.Reader, progress func(Progress)) (ImportResult, error)
	// Cat returns the bytes of the file at p. The caller closes the
	// reader. A directory wraps ErrInvalid.
	Cat(ctx context.Context, p string) (io.ReadCloser, error)
	// Ls lists the directory at p (or describes the file at p).
	Ls(ctx context.Context, p string) ([]Entry, error)
	// Peers lists connected peers. ErrOffline without a network.
	Peers(ctx context.Context) ([]PeerInfo, error)
	// Connect dials a peer by multiaddr (with /p2p/<id>).
	Connect(ctx context.Context, addr string) error

	BundleService
	LibraryService
	SneakernetService
	StatsService
	Verifier
}

// BundleService is what a node offers about design bundles. A ref names a
// bundle version: a CID, an /ipfs/ path, or the name of a bundle this node
// knows (its newest version; this node's own bundles first). Every bundle
// returned has had its signature verified; one that does not verify is
// refused with ErrInvalid, naming the bundle and the key.
type BundleService interface {
	// Show returns the verified manifest of the version ref names.
	Show(ctx context.Context, ref string) (BundleInfo, error)
	// Bundles lists the newest known version of every bundle.
	Bundles(ctx context.Context) ([]BundleSummary, error)
	// History returns the versions of a bundle from ref back to its first,
	// newest first, each with what changed from its parent. Versions whose
	// blocks cannot be had end the list early (Truncated).
	History(ctx context.Context, ref string) (History, error)
	// Diff compares two versions: files, new bytes, instructions, BOM.
	Diff(ctx context.Context, old, new string) (DiffResult, error)
	// Fork starts a bundle derived from src: version 1 of a new name,
	// published by this node, with src's files and derivedFrom = [src].
	Fork(ctx context.Context, src string, opts ForkOptions) (PublishResult, error)
	// Lineage returns what ref derives from and what the node knows to
	// derive from it.
	Lineage(ctx context.Context, ref string) (Lineage, error)
	// LogAdd appends an entry to the in-process log of this node's bundle
	// name, as a new version that costs only the entry and its attachments.
	// attachments may be nil; its files are added under .commons/log/.
	LogAdd(ctx context.Context, name string, entry LogOptions, attachments files.Directory, progress func(Progress)) (PublishResult, error)
}

// IDInfo describes a node.
type IDInfo struct {
	PeerID     string   `json:"peer_id"`
	PublicKey  string   `json:"public_key"` // base64 of the libp2p-marshalled key
	Addresses  []string `json:"addresses"`  // with /p2p/<id>
	Protocols  []string `json:"protocols,omitempty"`
	AgentVer   string   `json:"agent_version"`
	Online     bool     `json:"online"`
	GatewayURL string   `json:"gateway_url,omitempty"`
}

// PublishOptions control a publish.
type PublishOptions struct {
	// Name is the bundle's name (and pin name); Meta.Name wins if set;
	// the folder's name is the default.
	Name string `json:"name"`
	// Plain imports the folder as it is, with no manifest, signature or
	// licence check: the same CID as Kubo's `ipfs add`.
	Plain bool `json:"plain,omitempty"`
	// Meta is what the publisher says about the bundle: flags merged over
	// the folder's commons.toml. The node reads commons.toml from the
	// folder itself; Meta overrides it field by field.
	Meta metadata.Metadata `json:"meta"`
}

// PublishResult is what Publish made.
type PublishResult struct {
	CID        cid.Cid `json:"cid"`
	Name       string  `json:"name"`
	Files      int64   `json:"files"`
	Bytes      int64   `json:"bytes"`
	GatewayURL string  `json:"gateway_url,omitempty"`
	// Bundle versions only:
	Manifest cid.Cid `json:"manifest,omitzero"`
	Sequence int64   `json:"sequence,omitempty"`
	Parent   cid.Cid `json:"parent,omitzero"`
	Open     bool    `json:"open,omitempty"`
	// NewBytes and NewBlocks are what this version adds to its parent:
	// what a mirror of the parent must fetch. For a first version, all.
	NewBytes int64 `json:"new_bytes,omitempty"`
	// Unchanged: the folder and metadata are those of the newest version,
	// which is returned; no version was made.
	Unchanged bool     `json:"unchanged,omitempty"`
	NewBlocks int64    `json:"new_blocks,omitempty"`
	Warnings  []string `json:"warnings,omitempty"`
}

// Progress reports a long operation's advance. Totals are 0 when unknown.
type Progress struct {
	Phase      string `json:"phase"` // "import", "fetch", "check", "verify", "store", "export"
	Blocks     int64  `json:"blocks"`
	Bytes      int64  `json:"bytes"`
	TotalBytes int64  `json:"total_bytes,omitempty"`
	Files      int64  `json:"files,omitempty"`
	Path       string `json:"path,omitempty"`
}

// PinInfo is one pin.
type PinInfo struct {
	CID  cid.Cid `json:"cid"`
	Type string  `json:"type"` // "recursive" or "direct"
	Name string  `json:"name,omitempty"`
}

// GCResult says what GC removed.
type GCResult struct {
	Removed  int64         `json:"removed"`
	Kept     int64         `json:"kept"`
	Duration time.Duration `json:"duration"`
}

// ImportResult says what a CAR import stored.
type ImportResult struct {
	Roots  []cid.Cid `json:"roots"`
	Blocks int64     `json:"blocks"`
	Bytes  int64     `json:"bytes"`
	// Manifest is set for an export CAR: its root, the export manifest
	// (not pinned). Libraries then says what became of each library it
	// carries.
	Manifest  cid.Cid           `json:"manifest,omitzero"`
	Libraries []ImportedLibrary `json:"libraries,omitempty"`
}

// Entry is one item of a listing.
type Entry struct {
	Name string  `json:"name"`
	CID  cid.Cid `json:"cid"`
	Type string  `json:"type"` // "file", "directory", "symlink", "raw", "other"
	Size int64   `json:"size"` // file size in bytes; -1 when unknown
}

// PeerInfo is one connected peer.
type PeerInfo struct {
	PeerID    string        `json:"peer_id"`
	Address   string        `json:"address"`
	Direction string        `json:"direction"`
	Latency   time.Duration `json:"latency,omitempty"`
}

package api

import (
	"context"
	"time"

	"github.com/ipfs/go-cid"
)

// LibraryService is what a node offers about libraries (a publisher's
// signed index of its bundles, published under an IPNS name) and about
// following them (mirroring). A library name is the IPNS name of the
// publisher's key: "k51…" (CIDv1, libp2p-key, base36), a peer ID
// ("12D3Koo…"), or either prefixed with /ipns/.
type LibraryService interface {
	// Library returns this node's own library: what publishing has put
	// in it. A node that has published nothing has an empty library
	// (sequence 0), not an error.
	Library(ctx context.Context) (LibraryInfo, error)
	// Libraries returns this node's own library first, then every library
	// it follows (directly or through an include), each with its bundles
	// as the newest verified record lists them. A followed library whose
	// record has not arrived yet is listed with Sequence 0 and no bundles.
	Libraries(ctx context.Context) ([]LibraryInfo, error)
	// Include adds the library name to this node's library's includes
	// (remove: takes it out), signs and publishes a new library record.
	// Including one's own library is refused with ErrInvalid; including
	// what is included already changes nothing.
	Include(ctx context.Context, name string, remove bool) (LibraryInfo, error)
	// Follow starts mirroring the library name (and what it includes)
	// under policy. Following again replaces the policy. The mirror runs
	// in the daemon; Follow returns once the follow is recorded durably.
	// A malformed name or policy wraps ErrInvalid; following one's own
	// library is refused with ErrInvalid.
	Follow(ctx context.Context, name string, policy FollowPolicy) (FollowInfo, error)
	// Unfollow stops mirroring name and releases the pins that no other
	// followed library and no user pin holds; gc then frees the space.
	// ErrNotFound if name is not followed directly.
	Unfollow(ctx context.Context, name string) (UnfollowResult, error)
	// MirrorStatus reports every followed library's progress.
	MirrorStatus(ctx context.Context) (MirrorStatus, error)
}

// Follow policies.
const (
	// PolicyAll keeps every version of every bundle: the archival mirror.
	PolicyAll = "all"
	// PolicyLatest keeps only each bundle's newest version.
	PolicyLatest = "latest"
	// PolicyQuota keeps the newest versions first, then older ones, up to
	// a size quota.
	PolicyQuota = "quota"
)

// FollowPolicy says what a mirror keeps of a library.
type FollowPolicy struct {
	// Mode is PolicyAll (the default when empty), PolicyLatest or
	// PolicyQuota.
	Mode string `json:"mode"`
	// Quota is the most bytes the mirror pins for this library (counted
	// by the bundles' file sizes); required with PolicyQuota, else 0.
	Quota int64 `json:"quota,omitempty"`
}

// LibraryInfo is a library as its newest verified record lists it.
type LibraryInfo struct {
	// Name is the IPNS name ("k51…"); /ipns/<Name>/ resolves to Root.
	Name      string `json:"name"`
	Title     string `json:"title,omitempty"`
	Publisher string `json:"publisher"` // peer ID of the signing key
	// Sequence counts the library's records; 0 means none yet.
	Sequence int64   `json:"sequence"`
	Root     cid.Cid `json:"root,omitzero"`
	// Updated is when the record was signed (RFC 3339).
	Updated  string         `json:"updated,omitempty"`
	Bundles  []LibraryEntry `json:"bundles"`
	Includes []string       `json:"includes,omitempty"`
	// Own is true for this node's own library.
	Own bool `json:"own,omitempty"`
	// Following is the policy when this node follows the library
	// (directly or through an include); nil otherwise.
	Following *FollowPolicy `json:"following,omitempty"`
	// Via lists the followed libraries that include this one, when it
	// is followed through an include.
	Via        []string `json:"via,omitempty"`
	GatewayURL string   `json:"gateway_url,omitempty"`
}

// LibraryEntry is one bundle in a library: its newest version.
type LibraryEntry struct {
	Name     string  `json:"name"`
	Title    string  `json:"title,omitempty"`
	Summary  string  `json:"summary,omitempty"`
	Root     cid.Cid `json:"root"`
	Sequence int64   `json:"sequence"`
	Size     int64   `json:"size"`
	Open     bool    `json:"open"`
	Updated  string  `json:"updated,omitempty"` // when this version was signed
}

// FollowInfo confirms a follow.
type FollowInfo struct {
	Name   string       `json:"name"`
	Policy FollowPolicy `json:"policy"`
	// Replaced is true when the library was followed already and its
	// policy was replaced.
	Replaced bool `json:"replaced,omitempty"`
}

// UnfollowResult says what an unfollow released.
type UnfollowResult struct {
	Name string `json:"name"`
	// Libraries are the libraries no longer followed (name and what
	// only it included).
	Libraries []string `json:"libraries"`
	// Unpinned counts the versions whose pins were released; Kept counts
	// those another library or a user pin still holds.
	Unpinned int `json:"unpinned"`
	Kept     int `json:"kept"`
}

// MirrorStatus is the state of every followed library.
type MirrorStatus struct {
	Libraries []MirrorLibrary `json:"libraries"`
}

// Mirror states.
const (
	MirrorResolving = "resolving" // no record of the library yet
	MirrorFetching  = "fetching"  // versions are being fetched
	MirrorCurrent   = "current"   // everything the policy wants is pinned
	MirrorStalled   = "stalled"   // the last attempt failed; it is retried
	MirrorStopped   = "stopped"   // the daemon is not running: numbers from the local store
)

// MirrorLibrary is one followed library's progress.
type MirrorLibrary struct {
	Name   string       `json:"name"`
	Title  string       `json:"title,omitempty"`
	Policy FollowPolicy `json:"policy"`
	// Direct is true when the user follows it; Via lists the followed
	// libraries that include it.
	Direct bool     `json:"direct"`
	Via    []string `json:"via,omitempty"`
	State  string   `json:"state"`
	// Sequence and Root are of the newest verified library record.
	Sequence int64   `json:"sequence"`
	Root     cid.Cid `json:"root,omitzero"`
	// Bundles and Versions are what the library lists and what the policy
	// wants of them (all versions, heads, or what fits the quota);
	// Pinned counts the wanted versions that are pinned and verified.
	Bundles  int `json:"bundles"`
	Versions int `json:"versions"`
	Pinned   int `json:"pinned"`
	// Skipped counts the versions the quota leaves out.
	Skipped int `json:"skipped,omitempty"`
	// BytesDone and BytesToGo are by file sizes of wanted versions:
	// pinned versions count as done, versions still to fetch as to go
	// (less what of them is stored already).
	BytesDone int64 `json:"bytes_done"`
	BytesToGo int64 `json:"bytes_to_go"`
	// Rate is the current transfer rate in bytes per second.
	Rate float64 `json:"rate"`
	// LastUpdate is when the library last changed here: a newer record
	// taken, or a version pinned.
	LastUpdate time.Time `json:"last_update,omitzero"`
	// LastCheck is when the record was last looked up.
	LastCheck time.Time `json:"last_check,omitzero"`
	Errors    []string  `json:"errors,omitempty"`
}

package api

import (
	"github.com/ipfs/go-cid"

	"github.com/commons-p2p/commons/pkg/metadata"
)

// BundleInfo is one verified bundle version, as its manifest says.
type BundleInfo struct {
	CID          cid.Cid           `json:"cid"`
	Manifest     cid.Cid           `json:"manifest"`
	Name         string            `json:"name"`
	Title        string            `json:"title"`
	Summary      string            `json:"summary,omitempty"`
	Version      string            `json:"version,omitempty"`
	Sequence     int64             `json:"sequence"`
	Kind         string            `json:"kind"`
	Tags         []string          `json:"tags,omitempty"`
	Licenses     metadata.Licenses `json:"licenses"`
	Open         bool              `json:"open"`
	Authors      []metadata.Author `json:"authors,omitempty"`
	Files        cid.Cid           `json:"files"`
	Size         int64             `json:"size"`
	BOM          string            `json:"bom,omitempty"`
	Instructions string            `json:"instructions,omitempty"`
	Parents      []cid.Cid         `json:"parents,omitempty"`
	DerivedFrom  []cid.Cid         `json:"derived_from,omitempty"`
	Log          []LogEntry        `json:"log,omitempty"`
	Message      string            `json:"message,omitempty"`
	Created      string            `json:"created"`
	Publisher    string            `json:"publisher"`
	// Head is true when this is the newest version the node knows.
	Head       bool   `json:"head"`
	GatewayURL string `json:"gateway_url,omitempty"`
}

// LogEntry is one entry of the in-process log.
type LogEntry struct {
	Time        string   `json:"time"`
	Author      string   `json:"author,omitempty"`
	Text        string   `json:"text"`
	Attachments []string `json:"attachments,omitempty"` // paths from the bundle root
}

// BundleSummary is one version in a listing or a history.
type BundleSummary struct {
	CID      cid.Cid  `json:"cid"`
	Name     string   `json:"name"`
	Title    string   `json:"title,omitempty"`
	Summary  string   `json:"summary,omitempty"`
	Version  string   `json:"version,omitempty"`
	Sequence int64    `json:"sequence"`
	Kind     string   `json:"kind,omitempty"`
	Tags     []string `json:"tags,omitempty"`
	// Licenses is the licence triple (listings only when the manifest
	// could be read).
	Licenses  metadata.Licenses `json:"licenses,omitzero"`
	Created   string            `json:"created"`
	Publisher string            `json:"publisher"`
	Authors   []string          `json:"authors,omitempty"`
	Message   string            `json:"message,omitempty"`
	Size      int64             `json:"size"`
	Open      bool              `json:"open"`
	// Problem, in a listing, says why this version could not be verified
	// again (no longer stored, or no longer valid).
	Problem string `json:"problem,omitempty"`
	// Changes is what changed from the parent (History only; nil when
	// the parent could not be read, or for a first version).
	Changes *ChangeSummary `json:"changes,omitempty"`
}

// ChangeSummary counts a version's file changes against its parent.
type ChangeSummary struct {
	Added     int   `json:"added"`
	Removed   int   `json:"removed"`
	Changed   int   `json:"changed"`
	SizeDelta int64 `json:"size_delta"`
}

// History is a bundle's chain of versions, newest first.
type History struct {
	Versions []BundleSummary `json:"versions"`
	// Truncated says the chain goes on but the next parent could not be
	// read (not stored here and not found in time).
	Truncated bool   `json:"truncated,omitempty"`
	Note      string `json:"note,omitempty"`
}

// FileChange is one file that differs between two versions.
type FileChange struct {
	Path    string `json:"path"`
	Change  string `json:"change"` // "added", "removed", "changed"
	Type    string `json:"type"`
	OldSize int64  `json:"old_size"`
	NewSize int64  `json:"new_size"`
}

// DiffResult compares two bundle versions.
type DiffResult struct {
	Old   BundleSummary `json:"old"`
	New   BundleSummary `json:"new"`
	Files []FileChange  `json:"files"`
	// Truncated: more file changes than listed.
	Truncated bool `json:"truncated,omitempty"`
	// NewBytes and NewBlocks: what a node holding old must fetch for new.
	NewBytes  int64 `json:"new_bytes"`
	NewBlocks int64 `json:"new_blocks"`
	// Metadata lists changed manifest fields, "title: a -> b".
	Metadata []string `json:"metadata,omitempty"`
	// Instructions is a unified diff of the build instructions, "" when
	// they are unchanged; InstructionsNote says why there is none when
	// they changed but cannot be shown as text.
	Instructions     string `json:"instructions,omitempty"`
	InstructionsNote string `json:"instructions_note,omitempty"`
	// BOM is the parts-aware diff of the bills of materials.
	BOM *BOMDiff `json:"bom,omitempty"`
}

// BOMDiff is the parts-aware comparison of two BOMs.
type BOMDiff struct {
	Added   []BOMLine   `json:"added,omitempty"`
	Removed []BOMLine   `json:"removed,omitempty"`
	Changed []BOMChange `json:"changed,omitempty"`
	Before  []BOMTotal  `json:"before"`
	After   []BOMTotal  `json:"after"`
	// Text is the diff formatted for people.
	Text string `json:"text"`
	// Note explains a missing side ("no BOM in the old version") or a
	// BOM that could not be parsed.
	Note string `json:"note,omitempty"`
}

// BOMLine is one BOM line; numbers are exact decimals as text.
type BOMLine struct {
	Part     string `json:"part"`
	Quantity string `json:"quantity"`
	Unit     string `json:"unit,omitempty"`
	UnitCost string `json:"unit_cost,omitempty"`
	Currency string `json:"currency,omitempty"`
	Supplier string `json:"supplier,omitempty"`
}

// BOMChange is one BOM line present in both versions with other values.
type BOMChange struct {
	Part   string   `json:"part"`
	Fields []string `json:"fields"`
	Old    BOMLine  `json:"old"`
	New    BOMLine  `json:"new"`
}

// BOMTotal is a BOM's total cost in one currency.
type BOMTotal struct {
	Currency string `json:"currency"`
	Amount   string `json:"amount"`
	// Missing counts lines with no cost.
	Missing int `json:"missing,omitempty"`
}

// ForkOptions control a fork.
type ForkOptions struct {
	Name    string `json:"name"`
	Title   string `json:"title,omitempty"`
	Message string `json:"message,omitempty"`
}

// LogOptions is a new in-process log entry.
type LogOptions struct {
	Text   string `json:"text"`
	Author string `json:"author,omitempty"`
}

// Lineage is where a bundle comes from and what came from it.
type Lineage struct {
	Bundle BundleSummary `json:"bundle"`
	// DerivedFrom: the versions this bundle (any of its versions) derives
	// from, transitively; Depth 1 is a direct source.
	DerivedFrom []LineageLink `json:"derived_from"`
	// Derivatives: bundles this node knows that derive from any version
	// of this bundle, transitively.
	Derivatives []LineageLink `json:"derivatives"`
}

// LineageLink is one bundle in a lineage.
type LineageLink struct {
	Depth  int           `json:"depth"`
	Bundle BundleSummary `json:"bundle"`
	// Known is false when only the CID is known (its manifest could not
	// be read); Bundle then has only CID.
	Known bool `json:"known"`
	// Via is the CID of the version this link was found from.
	Via cid.Cid `json:"via"`
}

package api

import (
	"context"

	"github.com/ipfs/go-cid"
)

// StatsService is what a node offers about the reach of the bundles it
// holds: how often each version's page was viewed and each version was
// downloaded through this node's gateway.
type StatsService interface {
	// Stats returns the counts of every bundle version with at least one
	// page view or download, grouped per bundle (publisher and name),
	// bundles with the most downloads first, then the most views; each
	// bundle's versions newest first. Counts are kept in the node's store
	// and written every few seconds: read from a repo with no daemon, they
	// are what the last daemon wrote. Nothing counted yet is an empty
	// list, not an error.
	Stats(ctx context.Context) (Stats, error)
}

// Stats is the reach of the bundles a node holds.
type Stats struct {
	Bundles []BundleStats `json:"bundles"`
}

// BundleStats is the reach of one bundle (a publisher's name): totals over
// its versions, and each version's counts.
type BundleStats struct {
	Name      string `json:"name"`
	Publisher string `json:"publisher"`
	// Title is the newest counted version's title.
	Title     string         `json:"title,omitempty"`
	Views     int64          `json:"views"`
	Downloads int64          `json:"downloads"` // zip + car + file, all versions
	Versions  []VersionStats `json:"versions"`
}

// VersionStats is the reach of one bundle version.
type VersionStats struct {
	CID       cid.Cid        `json:"cid"`
	Sequence  int64          `json:"sequence"`
	Version   string         `json:"version,omitempty"`
	Views     int64          `json:"views"`
	Downloads DownloadCounts `json:"downloads"`
}

// DownloadCounts counts the downloads of one version by kind.
type DownloadCounts struct {
	// Zip and CAR count whole-version downloads from the bundle page.
	Zip int64 `json:"zip"`
	CAR int64 `json:"car"`
	// File counts single files downloaded with the page's download links.
	File int64 `json:"file"`
}

// Total is the sum over every kind.
func (d DownloadCounts) Total() int64 { return d.Zip + d.CAR + d.File }

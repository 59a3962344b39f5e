package pages

import "github.com/ipfs/go-cid"

// Kinds of download a Counter is told about.
const (
	// DownloadZip is a whole version as a zip (/bundles/{cid}.zip).
	DownloadZip = "zip"
	// DownloadCAR is a whole version as a CAR (/bundles/{cid}.car).
	DownloadCAR = "car"
	// DownloadFile is one file of a version, through the download link of
	// its bundle page (the gateway counts those: see gateway.Counter).
	DownloadFile = "file"
)

// Counter counts what readers do with bundle versions: how the design
// community measures a design's reach. The pages call it after a response
// has been served, from many goroutines at once; it must not block (a page
// view must not wait for a disk write) and it never fails: a count it
// cannot keep is lost, not an error of the page.
type Counter interface {
	// View counts one view of the page of the bundle version root (a 200
	// or a 304 revalidation of a GET; HEAD requests and redirects are not
	// views). A root the implementation does not know as a bundle version
	// is ignored.
	View(root cid.Cid)
	// Download counts one complete download of the bundle version root;
	// kind is DownloadZip, DownloadCAR or DownloadFile. Downloads cut off
	// before their end are not counted. Unknown roots and kinds are
	// ignored.
	Download(root cid.Cid, kind string)
}

// noCounter counts nothing: the pages' Counter when Config.Counter is nil.
type noCounter struct{}

func (noCounter) View(cid.Cid)             {}
func (noCounter) Download(cid.Cid, string) {}

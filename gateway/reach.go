package gateway

import (
	"net/http"
	"strings"

	"github.com/ipfs/go-cid"
)

// DownloadFile is the kind of download the gateway reports to its Counter:
// one file of a bundle version, fetched through a download link of the
// design pages. It is the same string as pages.DownloadFile.
const DownloadFile = "file"

// Counter is told about files downloaded through the gateway with the
// design pages' download links (/ipfs/<root>/<path>?download=true, on the
// path or the subdomain gateway). It is called after the response, from
// many goroutines at once, must not block, and never fails.
type Counter interface {
	// Download counts one complete download of a file inside root; kind
	// is DownloadFile. A root the implementation does not know as a
	// bundle version is ignored.
	Download(root cid.Cid, kind string)
}

// countDownloads wraps next so that complete GET responses (200) to
// download links are counted. A range request (206), a revalidation (304),
// an error or a response cut off by a failed write is not a download.
func countDownloads(c Counter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		root, ok := downloadRoot(r)
		if !ok {
			next.ServeHTTP(w, r)
			return
		}
		sw := &statusWriter{ResponseWriter: w}
		next.ServeHTTP(sw, r)
		if sw.status() == http.StatusOK && !sw.failed {
			c.Download(root, DownloadFile)
		}
	})
}

// downloadRoot returns the root CID of r when r is a GET of a file link
// the design pages mark as a download: /ipfs/<root>/<path>?download=true.
func downloadRoot(r *http.Request) (cid.Cid, bool) {
	if r.Method != http.MethodGet || r.URL.Query().Get("download") != "true" {
		return cid.Undef, false
	}
	rest, ok := strings.CutPrefix(r.URL.Path, "/ipfs/")
	if !ok {
		return cid.Undef, false
	}
	root, sub, _ := strings.Cut(rest, "/")
	if sub == "" {
		return cid.Undef, false
	}
	c, err := cid.Decode(root)
	if err != nil {
		return cid.Undef, false
	}
	return c, true
}

// statusWriter remembers the status sent and whether a write failed.
type statusWriter struct {
	http.ResponseWriter
	code   int
	failed bool
}

func (s *statusWriter) WriteHeader(code int) {
	if s.code == 0 {
		s.code = code
	}
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusWriter) Write(p []byte) (int, error) {
	if s.code == 0 {
		s.code = http.StatusOK
	}
	n, err := s.ResponseWriter.Write(p)
	if err != nil {
		s.failed = true
	}
	return n, err
}

// Flush implements http.Flusher when the wrapped writer does.
func (s *statusWriter) Flush() {
	if f, ok := s.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the wrapped writer.
func (s *statusWriter) Unwrap() http.ResponseWriter { return s.ResponseWriter }

func (s *statusWriter) status() int {
	if s.code == 0 {
		return http.StatusOK
	}
	return s.code
}

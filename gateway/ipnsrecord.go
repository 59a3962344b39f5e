package gateway

import (
	"net/http"
	"strings"
)

// ipnsRecordType is the media type of a signed IPNS record response.
const ipnsRecordType = "application/vnd.ipfs.ipns-record"

// quoteRecordETags wraps next so that signed IPNS record responses carry a
// valid Etag and answer conditional requests. boxo (v0.43) sends the
// record's Etag without the quotes RFC 9110 requires, and so never matches
// an If-None-Match that echoes it: every revalidation downloads the record
// again. Here the Etag is quoted, and a request whose If-None-Match names
// it is answered 304 with no body.
func quoteRecordETags(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !strings.HasPrefix(r.URL.Path, "/ipns/") {
			next.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(&recordETagWriter{ResponseWriter: w, ifNoneMatch: r.Header.Get("If-None-Match")}, r)
	})
}

// recordETagWriter fixes the headers of a record response before they are
// sent, and drops the body of a response it turned into a 304.
type recordETagWriter struct {
	http.ResponseWriter
	ifNoneMatch string
	decided     bool
	notModified bool
}

// decide looks at the headers once, before the status is sent.
func (w *recordETagWriter) decide(status int) int {
	if w.decided {
		return status
	}
	w.decided = true
	h := w.Header()
	etag := h.Get("Etag")
	if status != http.StatusOK || h.Get("Content-Type") != ipnsRecordType || etag == "" || strings.HasPrefix(etag, `"`) || strings.HasPrefix(etag, `W/`) {
		return status
	}
	etag = `"` + etag + `"`
	h.Set("Etag", etag)
	if etagListHas(w.ifNoneMatch, etag) {
		w.notModified = true
		h.Del("Content-Length")
		h.Del("Content-Disposition")
		return http.StatusNotModified
	}
	return status
}

func (w *recordETagWriter) WriteHeader(status int) {
	w.ResponseWriter.WriteHeader(w.decide(status))
}

func (w *recordETagWriter) Write(p []byte) (int, error) {
	if !w.decided {
		w.WriteHeader(http.StatusOK)
	}
	if w.notModified {
		return len(p), nil
	}
	return w.ResponseWriter.Write(p)
}

// Flush implements http.Flusher when the wrapped writer does.
func (w *recordETagWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// Unwrap lets http.ResponseController reach the wrapped writer.
func (w *recordETagWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// etagListHas reports whether the If-None-Match value list names etag (a
// strong, quoted Etag), weakly compared as RFC 9110 says for If-None-Match;
// "*" matches any.
func etagListHas(list, etag string) bool {
	for e := range strings.SplitSeq(list, ",") {
		e = strings.TrimSpace(e)
		if e == "*" || strings.TrimPrefix(e, "W/") == etag {
			return true
		}
	}
	return false
}

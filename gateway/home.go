package gateway

import (
	"bytes"
	"context"
	"fmt"
	"net/http"

	"github.com/ipfs/go-cid"
)

// Index lists the content a node holds, for the gateway's home page.
type Index interface {
	// Roots returns the roots this node holds, in the order the home page
	// should show them. An empty list is not an error. It returns ctx's
	// error if ctx ends first. The gateway does not modify the slice.
	Roots(ctx context.Context) ([]Root, error)
}

// Root is one entry of the home page: a content root and how to label it.
type Root struct {
	// CID is the root's content identifier; entries with an undefined CID
	// are not shown.
	CID cid.Cid
	// Name labels the root; it is untrusted text (it may come from a
	// peer's manifest) and is always escaped. Empty shows the CID.
	Name string
	// Size is the root's total size in bytes, or -1 if unknown.
	Size int64
}

// homeEntry is a Root as the home page template shows it.
type homeEntry struct {
	CID  string
	Name string
	Size string
}

// serveHome renders the home page: the roots index lists, each linking to
// its path on the gateway.
func (s *server) serveHome(w http.ResponseWriter, r *http.Request) {
	var roots []Root
	if s.index != nil {
		var err error
		roots, err = s.index.Roots(r.Context())
		if err != nil {
			s.log.ErrorContext(r.Context(), "list roots for home page", "err", err)
			http.Error(w, "could not list this node's content", http.StatusInternalServerError)
			return
		}
	}
	entries := make([]homeEntry, 0, len(roots))
	for _, root := range roots {
		if !root.CID.Defined() {
			continue
		}
		e := homeEntry{CID: root.CID.String(), Name: root.Name, Size: formatSize(root.Size)}
		if e.Name == "" {
			e.Name = e.CID
		}
		entries = append(entries, e)
	}

	var buf bytes.Buffer
	if err := s.home.Execute(&buf, entries); err != nil {
		s.log.ErrorContext(r.Context(), "render home page", "err", err)
		http.Error(w, "could not render the home page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Content-Type-Options", "nosniff")
	// No scripts, no external resources: only the inline stylesheet.
	h.Set("Content-Security-Policy", "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	_, _ = buf.WriteTo(w)
}

// formatSize renders n bytes for people, in binary units; negative n is
// unknown and renders empty.
func formatSize(n int64) string {
	if n < 0 {
		return ""
	}
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// homeTemplate is the home page. html/template escapes every value by
// context, so names from peers cannot inject markup.
const homeTemplate = `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>commons gateway</title>
<style>
body { font-family: system-ui, sans-serif; line-height: 1.5; max-width: 48rem; margin: 0 auto; padding: 1rem; }
h1 { font-size: 1.6rem; margin-bottom: 0.25rem; }
h2 { font-size: 1.2rem; }
ul { list-style: none; padding: 0; }
li { padding: 0.5rem 0; border-bottom: 1px solid #ddd; }
a { word-break: break-word; }
.cid { font-family: ui-monospace, monospace; font-size: 0.8rem; color: #555; overflow-wrap: anywhere; }
</style>
</head>
<body>
<header>
<h1>commons gateway</h1>
<p>Read-only IPFS gateway of this commons node. Open any content at <code>/ipfs/&lt;cid&gt;/</code>.</p>
</header>
<main>
<h2>Held by this node</h2>
{{- if .}}
<ul>
{{- range .}}
<li><a href="/ipfs/{{.CID}}/">{{.Name}}</a>{{if .Size}} <span>({{.Size}})</span>{{end}}<br><span class="cid">{{.CID}}</span></li>
{{- end}}
</ul>
{{- else}}
<p>Nothing yet.</p>
{{- end}}
</main>
</body>
</html>
`

// Package pages serves the design pages of a commons node: small,
// server-rendered HTML through which anyone with a browser reads, compares
// and downloads the design bundles the node holds or can fetch, with no
// script and nothing to install.
//
// URL layout (all GET; the gateway mounts this handler beside /ipfs/ and
// /ipns/):
//
//	/                              home: libraries, their bundles, every bundle, pinned roots, search box
//	/search?q=WORDS                full-text search (package pkg/search's query language)
//	/bundles/{cid}/                a bundle version: licences, instructions, BOM, files, gallery,
//	                               log, history, lineage, downloads
//	/bundles/{name}/               redirects (302) to the newest version of that bundle
//	/bundles/{cid}.zip             the whole version as a zip, streamed
//	/bundles/{cid}.car             the whole version as a CAR (CARv1, the trustless format)
//	/diff?old={cid}&new={cid}      what changed between two versions: files, new bytes,
//	                               metadata, instructions, BOM
//	/static/style.{hash}.css       the one stylesheet, cached for a year
//
// Security model: everything a design ships is untrusted. Manifest text and
// file names go through html/template's contextual escaping; Markdown is
// rendered by goldmark without raw HTML and then sanitised by bluemonday;
// pages carry a Content-Security-Policy that allows no script at all, no
// plugins, no framing, no <base>, and images only from this origin and the
// content origin. A design's own files are never served by this handler:
// links and images point at the IPFS gateway, on a subdomain origin
// (<cid>.ipfs.<host>) when the request came through a subdomain gateway
// host, else at the path gateway (/ipfs/<cid>/...), whose responses the
// gateway marks "Content-Security-Policy: sandbox" so that a design's HTML
// or SVG opened there runs no script on this origin.
package pages

import (
	"bytes"
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"

	"github.com/ipfs/go-cid"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/pkg/search"
)

// Lister lists bundles.
type Lister interface {
	// Bundles lists the newest known version of every bundle, each
	// verified again; one that no longer verifies or is no longer stored
	// is listed with its Problem. An empty list is not an error.
	Bundles(ctx context.Context) ([]api.BundleSummary, error)
}

// Shower describes one bundle version.
type Shower interface {
	// Show returns the verified manifest of the version ref names (a CID,
	// an /ipfs/ path or a bundle name). Not a bundle, or one that does not
	// verify, wraps api.ErrInvalid; a version nobody provides within the
	// fetch timeout wraps api.ErrNotFound.
	Show(ctx context.Context, ref string) (api.BundleInfo, error)
}

// Historian walks a bundle's versions.
type Historian interface {
	// History returns the versions from ref back to the first, newest
	// first; versions that cannot be had end the list (Truncated). Errors
	// as Show.
	History(ctx context.Context, ref string) (api.History, error)
}

// Differ compares versions.
type Differ interface {
	// Diff compares two versions (files, new bytes, instructions, BOM).
	// Errors as Show, for either version.
	Diff(ctx context.Context, old, new string) (api.DiffResult, error)
}

// Lineager relates bundles.
type Lineager interface {
	// Lineage returns what ref derives from and what the node knows to
	// derive from it. Errors as Show.
	Lineage(ctx context.Context, ref string) (api.Lineage, error)
}

// Reader reads content by path.
type Reader interface {
	// Cat returns the bytes of the file at p (an /ipfs/ path). The caller
	// closes the reader; closing it early cancels the read. A directory
	// wraps api.ErrInvalid, a missing path api.ErrNotFound.
	Cat(ctx context.Context, p string) (io.ReadCloser, error)
	// Ls lists the directory at p (or describes the file at p). Sizes are
	// -1 when unknown. The caller owns the returned slice.
	Ls(ctx context.Context, p string) ([]api.Entry, error)
}

// Exporter writes CARs.
type Exporter interface {
	// Export writes the complete DAG under p to w as a CARv1. It writes
	// nothing to w before the root is resolved, so an early error leaves
	// w untouched; an error after that leaves w holding a cut-off CAR.
	// progress may be nil.
	Export(ctx context.Context, p string, w io.Writer, progress func(api.Progress)) error
}

// Librarian lists libraries.
type Librarian interface {
	// Libraries returns this node's own library first, then every library
	// it follows, each with its bundles. An empty list is not an error.
	Libraries(ctx context.Context) ([]api.LibraryInfo, error)
}

// Pinned lists pins.
type Pinned interface {
	// Pins lists the node's pins. An empty list is not an error.
	Pins(ctx context.Context) ([]api.PinInfo, error)
}

// Searcher searches the bundles the node holds.
type Searcher interface {
	// Search returns up to limit versions matching query, best first. A
	// query with nothing to search for wraps search.ErrEmptyQuery.
	Search(ctx context.Context, query string, limit int) ([]search.Hit, error)
}

// Designs is everything the pages read. Every method honours ctx and
// returns its error (wrapped) when ctx ends first. The node implements it;
// the handler never modifies what the methods return.
type Designs interface {
	Lister
	Shower
	Historian
	Differ
	Lineager
	Reader
	Exporter
	Librarian
	Pinned
	Searcher
}

// Config holds the pages' settings.
type Config struct {
	// Hostnames are the gateway's subdomain hosts (gateway.Config's,
	// after its defaults): when a request's host is one of them (with any
	// port), links to a design's files go to <cid>.ipfs.<host>, an origin
	// of their own. Otherwise they go to the path gateway on this origin.
	Hostnames []string
	// Logger receives the handler's own records; nil discards them.
	Logger *slog.Logger
	// Counter is told about page views and downloads of bundle versions;
	// nil counts nothing.
	Counter Counter
}

//go:embed templates/*.html static/style.css
var assets embed.FS

// handler serves the pages.
type handler struct {
	d         Designs
	log       *slog.Logger
	count     Counter
	hostnames []string
	mux       *http.ServeMux
	pages     map[string]*template.Template
	css       []byte
	cssPath   string
	md        *markdown
}

// New returns the pages' handler, reading through d.
func New(cfg Config, d Designs) (http.Handler, error) {
	if d == nil {
		return nil, errors.New("pages: new: nil Designs")
	}
	h := &handler{d: d, log: cfg.Logger, count: cfg.Counter, mux: http.NewServeMux(), md: newMarkdown()}
	if h.log == nil {
		h.log = slog.New(slog.DiscardHandler)
	}
	if h.count == nil {
		h.count = noCounter{}
	}
	for _, host := range cfg.Hostnames {
		host = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(host), "."))
		if host != "" {
			h.hostnames = append(h.hostnames, host)
		}
	}
	css, err := assets.ReadFile("static/style.css")
	if err != nil {
		return nil, fmt.Errorf("pages: new: %w", err)
	}
	sum := sha256.Sum256(css)
	h.css, h.cssPath = css, "/static/style."+hex.EncodeToString(sum[:6])+".css"
	h.pages = make(map[string]*template.Template)
	for _, name := range []string{"home", "search", "bundle", "diff", "error"} {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(assets, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("pages: new: template %s: %w", name, err)
		}
		h.pages[name] = t
	}

	h.mux.HandleFunc("GET /{$}", h.serveHome)
	h.mux.HandleFunc("GET /search", h.serveSearch)
	h.mux.HandleFunc("GET /bundles/{$}", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/", http.StatusFound)
	})
	h.mux.HandleFunc("GET /bundles/{ref}/{$}", h.serveBundle)
	h.mux.HandleFunc("GET /bundles/{file}", h.serveDownload)
	h.mux.HandleFunc("GET /diff", h.serveDiff)
	h.mux.HandleFunc("GET "+h.cssPath, h.serveCSS)
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		h.fail(w, r, http.StatusNotFound, "There is no page at this address.")
	})
	return h, nil
}

// ServeHTTP implements http.Handler.
func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	hd.Set("Cross-Origin-Opener-Policy", "same-origin")
	hd.Set("Content-Security-Policy", h.csp(r))
	h.mux.ServeHTTP(w, r)
}

// csp is the policy of every response: no script of any kind, no plugins,
// no framing, no <base>, forms only to this origin, the one stylesheet,
// and images from this origin and (on a subdomain gateway host) from the
// content origins of that host.
func (h *handler) csp(r *http.Request) string {
	img := "'self'"
	if o := h.contentOrigin(r); o != nil {
		img += " " + o.scheme + "://*.ipfs." + o.host
	}
	return "default-src 'none'; script-src 'none'; object-src 'none'; style-src 'self'; img-src " + img +
		"; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
}

// origin is where a request's content links go: a subdomain gateway host
// (with port) and the scheme.
type origin struct{ scheme, host string }

// contentOrigin returns the subdomain gateway origin for r's host, or nil
// when r's host cannot have subdomains (an IP address, or a name the
// gateway does not serve subdomains for).
func (h *handler) contentOrigin(r *http.Request) *origin {
	host := r.Host
	name := host
	if hn, _, err := net.SplitHostPort(host); err == nil {
		name = hn
	}
	name = strings.ToLower(name)
	for _, gw := range h.hostnames {
		if name == gw {
			scheme := "http"
			if r.TLS != nil {
				scheme = "https"
			}
			return &origin{scheme: scheme, host: strings.ToLower(host)}
		}
	}
	return nil
}

// links makes the URLs of one request's page.
type links struct{ o *origin }

// content returns the URL of p (slash-separated, relative to the root)
// inside root on the content origin.
func (l links) content(root cid.Cid, p string) string {
	p = escapePath(strings.TrimPrefix(p, "/"))
	if l.o == nil {
		return "/ipfs/" + root.String() + "/" + p
	}
	// Subdomains need a case-insensitive CID: CIDv1 in base32.
	v1 := cid.NewCidV1(root.Type(), root.Hash())
	return l.o.scheme + "://" + v1.String() + ".ipfs." + l.o.host + "/" + p
}

// download returns the URL that downloads the file p inside root.
func (l links) download(root cid.Cid, p string) string {
	base := p
	if i := strings.LastIndex(p, "/"); i >= 0 {
		base = p[i+1:]
	}
	return l.content(root, p) + "?download=true&filename=" + queryEscape(base)
}

// render executes a page into a buffer, then writes it with the page
// headers, an ETag of its bytes, and 304 when the client has it. It returns
// the status it sent.
func (h *handler) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) int {
	var buf bytes.Buffer
	err := h.pages[page].Execute(&buf, layoutData{CSS: h.cssPath, Page: data, Query: r.URL.Query().Get("q")})
	if err != nil {
		h.log.ErrorContext(r.Context(), "render page", "subsystem", "pages", "page", page, "err", err)
		http.Error(w, "could not render the page", http.StatusInternalServerError)
		return http.StatusInternalServerError
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Cache-Control", "no-cache")
	if status == http.StatusOK {
		sum := sha256.Sum256(buf.Bytes())
		etag := `"` + hex.EncodeToString(sum[:12]) + `"`
		hd.Set("ETag", etag)
		if match := r.Header.Get("If-None-Match"); match != "" && strings.Contains(match, etag) {
			w.WriteHeader(http.StatusNotModified)
			return http.StatusNotModified
		}
	}
	w.WriteHeader(status)
	_, _ = buf.WriteTo(w)
	return status
}

// layoutData is what the layout template gets.
type layoutData struct {
	CSS   string
	Query string
	Page  any
}

type errorPage struct {
	Title   string
	Message string
	Raw     string // a link to the content on the gateway, when that helps
}

// fail answers with an error page.
func (h *handler) fail(w http.ResponseWriter, r *http.Request, status int, msg string) {
	h.failRaw(w, r, status, msg, "")
}

func (h *handler) failRaw(w http.ResponseWriter, r *http.Request, status int, msg, raw string) {
	h.render(w, r, status, "error", errorPage{Title: http.StatusText(status), Message: msg, Raw: raw})
}

// failErr answers with the error page that err's class calls for.
func (h *handler) failErr(w http.ResponseWriter, r *http.Request, what string, err error) {
	status := statusOf(err)
	if status == http.StatusInternalServerError {
		h.log.ErrorContext(r.Context(), what, "subsystem", "pages", "err", err)
	}
	h.fail(w, r, status, what+": "+err.Error())
}

func statusOf(err error) int {
	switch {
	case errors.Is(err, api.ErrNotFound):
		return http.StatusNotFound
	case errors.Is(err, api.ErrInvalid), errors.Is(err, search.ErrEmptyQuery):
		return http.StatusBadRequest
	case errors.Is(err, api.ErrOffline):
		return http.StatusServiceUnavailable
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	}
	return http.StatusInternalServerError
}

// serveCSS serves the stylesheet; its name carries its hash, so it never
// changes and is cached for a year.
func (h *handler) serveCSS(w http.ResponseWriter, _ *http.Request) {
	hd := w.Header()
	hd.Set("Content-Type", "text/css; charset=utf-8")
	hd.Set("Cache-Control", "public, max-age=31536000, immutable")
	_, _ = w.Write(h.css)
}

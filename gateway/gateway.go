// Package gateway is the node's read-only HTTP server: an IPFS gateway built
// on boxo's gateway (path and subdomain gateways, trustless raw and CAR
// responses, as the specs at specs.ipfs.tech describe them), and the node's
// own pages beside it: the design pages (package gateway/pages, handed in)
// and a health check.
//
// Content and pages share an origin when the gateway is reached by an IP
// address (no subdomains are possible there), so every path gateway
// response carries "Content-Security-Policy: sandbox": a design's HTML or
// SVG opened from /ipfs/ runs no script and gets an opaque origin, and so
// can never act on the pages' origin. Subdomain responses
// (<cid>.ipfs.<host>) each have an origin of their own and are left as
// the specs describe them.
//
// The package reads content through a boxo blockservice.BlockService and
// never imports libp2p; the node assembles the blockservice (blockstore plus
// bitswap) and hands it in.
package gateway

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/ipfs/boxo/blockservice"
	boxogw "github.com/ipfs/boxo/gateway"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/namesys"
	"github.com/ipfs/boxo/verifcid"
	"github.com/ipfs/go-cid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/commons-p2p/commons/pkg/folder"
)

// Defaults that New applies to zero fields of Config.
const (
	// DefaultAddress is where a node serves its gateway unless configured
	// otherwise: loopback only, so the gateway is not exposed to the network.
	DefaultAddress = "127.0.0.1:8080"

	// DefaultRetrievalTimeout bounds how long a request may wait for the
	// first byte (and between later writes) before it is answered 504.
	DefaultRetrievalTimeout = 30 * time.Second

	// DefaultMaxConcurrentRequests is how many content requests are served
	// at once; further requests are answered 429.
	DefaultMaxConcurrentRequests = 1024

	// DefaultMaxRequestDuration is the absolute deadline of one request
	// (boxo's default).
	DefaultMaxRequestDuration = boxogw.DefaultMaxRequestDuration

	// DefaultTurnsPerCPU is how many requests for stored content per CPU
	// are prepared at once (see Config.Turns), and DefaultMinTurns the
	// least.
	DefaultTurnsPerCPU = 16
	DefaultMinTurns    = 32

	// DefaultMaxArchiveEntries and DefaultMaxArchiveBytes bound what a
	// tar (?format=tar) may hold: the entries, and the bytes of the files,
	// each counted every time it appears. The design pages' zip downloads
	// keep to the same numbers.
	DefaultMaxArchiveEntries = 100_000
	DefaultMaxArchiveBytes   = 4 << 30

	// DefaultMaxListingEntries is the most entries a generated directory
	// listing shows; a larger directory is answered 422.
	DefaultMaxListingEntries = 10_000

	// MaxPathSegments is the most segments a content path may have
	// (/ipfs/<cid>/a/b is three). boxo resolves every prefix of a path
	// from its root, so a path's cost grows with the square of its length;
	// a longer path is answered 414.
	MaxPathSegments = 128

	// DefaultHostname is the host served as a subdomain gateway when
	// Config.Hostnames is empty: http://<cid>.ipfs.localhost:8080/ works in
	// browsers without any DNS setup.
	DefaultHostname = "localhost"
)

// Config holds the gateway's settings. The zero value is usable: New replaces
// zero fields with the documented defaults.
type Config struct {
	// RetrievalTimeout is how long a request may wait for content before
	// it is answered 504 Gateway Timeout; it is also the longest pause
	// allowed between writes of a response already under way. Zero means
	// DefaultRetrievalTimeout; a missing block never makes a request hang.
	RetrievalTimeout time.Duration

	// MaxConcurrentRequests is how many content (/ipfs/, /ipns/ and
	// subdomain) requests are served at once; beyond it requests are
	// answered 429 Too Many Requests with Retry-After. Zero means
	// DefaultMaxConcurrentRequests.
	MaxConcurrentRequests int

	// Turns is how many requests for content whose root block is stored
	// are prepared at once: resolving their path and reading up to their
	// first byte. The others wait for a turn, at most RetrievalTimeout,
	// then are answered 429 with Retry-After; beyond
	// MaxConcurrentRequests waiting they are answered 429 at once. A
	// request gives its turn back when it starts answering. Content not
	// stored does not take turns. Zero means DefaultTurnsPerCPU per CPU
	// (GOMAXPROCS), at least DefaultMinTurns.
	Turns int

	// MaxRequestDuration is the absolute deadline of one content request.
	// Zero means DefaultMaxRequestDuration.
	MaxRequestDuration time.Duration

	// Hostnames are the hosts served as subdomain gateways: a request with
	// Host <cid>.ipfs.<hostname> gets that content, and a path request
	// /ipfs/<cid> with Host <hostname> is redirected (301) to the subdomain
	// form so every root gets its own browser origin. Entries are bare
	// host names, without scheme, port or path; IP addresses cannot host
	// subdomains and are rejected. Empty means [DefaultHostname]. The path
	// gateway (/ipfs/<cid>) answers on every other Host, e.g. 127.0.0.1.
	Hostnames []string

	// Registerer receives the gateway's Prometheus metrics. Nil means a
	// private registry, so that several gateways (and tests) can coexist
	// in one process.
	Registerer prometheus.Registerer

	// Logger receives the gateway's own log records. Nil discards them.
	Logger *slog.Logger

	// Records answers ?format=ipns-record requests. Nil means the gateway
	// serves no signed records: such requests are answered 501 with
	// ErrNoIPNSRecords's message.
	Records Records

	// Counter is told about files downloaded with the design pages'
	// download links. Nil counts nothing.
	Counter Counter

	// MaxArchiveEntries and MaxArchiveBytes bound a tar (?format=tar):
	// its entries and the bytes of its files, each counted every time it
	// appears. A tar beyond them, or of content that could not be written
	// safely (names that would leave the folder, escaping symlinks, DAG
	// bombs: see folder.Check), is answered 422 before anything is sent.
	// Zero means DefaultMaxArchiveEntries and DefaultMaxArchiveBytes.
	MaxArchiveEntries int64
	MaxArchiveBytes   int64

	// MaxListingEntries is the most entries a generated HTML directory
	// listing shows; a larger directory is answered 422 (its CAR or a
	// client that lists it page by page can still read it). Zero means
	// DefaultMaxListingEntries.
	MaxListingEntries int
}

// withDefaults validates cfg and returns a copy with defaults applied.
func (cfg Config) withDefaults() (Config, error) {
	switch {
	case cfg.RetrievalTimeout < 0:
		return cfg, fmt.Errorf("retrieval timeout %s: %w", cfg.RetrievalTimeout, errNegative)
	case cfg.MaxConcurrentRequests < 0:
		return cfg, fmt.Errorf("max concurrent requests %d: %w", cfg.MaxConcurrentRequests, errNegative)
	case cfg.Turns < 0:
		return cfg, fmt.Errorf("turns %d: %w", cfg.Turns, errNegative)
	case cfg.MaxRequestDuration < 0:
		return cfg, fmt.Errorf("max request duration %s: %w", cfg.MaxRequestDuration, errNegative)
	case cfg.MaxArchiveEntries < 0:
		return cfg, fmt.Errorf("max archive entries %d: %w", cfg.MaxArchiveEntries, errNegative)
	case cfg.MaxArchiveBytes < 0:
		return cfg, fmt.Errorf("max archive bytes %d: %w", cfg.MaxArchiveBytes, errNegative)
	case cfg.MaxListingEntries < 0:
		return cfg, fmt.Errorf("max listing entries %d: %w", cfg.MaxListingEntries, errNegative)
	}
	if cfg.RetrievalTimeout == 0 {
		cfg.RetrievalTimeout = DefaultRetrievalTimeout
	}
	if cfg.MaxConcurrentRequests == 0 {
		cfg.MaxConcurrentRequests = DefaultMaxConcurrentRequests
	}
	if cfg.Turns == 0 {
		cfg.Turns = max(DefaultMinTurns, DefaultTurnsPerCPU*runtime.GOMAXPROCS(0))
	}
	if cfg.MaxRequestDuration == 0 {
		cfg.MaxRequestDuration = DefaultMaxRequestDuration
	}
	if cfg.MaxArchiveEntries == 0 {
		cfg.MaxArchiveEntries = DefaultMaxArchiveEntries
	}
	if cfg.MaxArchiveBytes == 0 {
		cfg.MaxArchiveBytes = DefaultMaxArchiveBytes
	}
	if cfg.MaxListingEntries == 0 {
		cfg.MaxListingEntries = DefaultMaxListingEntries
	}

	hosts := cfg.Hostnames
	if len(hosts) == 0 {
		hosts = []string{DefaultHostname}
	}
	cfg.Hostnames = make([]string, 0, len(hosts))
	for _, h := range hosts {
		norm, err := normalizeHostname(h)
		if err != nil {
			return cfg, fmt.Errorf("hostname %q: %w", h, err)
		}
		cfg.Hostnames = append(cfg.Hostnames, norm)
	}

	if cfg.Registerer == nil {
		cfg.Registerer = prometheus.NewRegistry()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	return cfg, nil
}

var errNegative = errors.New("must not be negative")

// normalizeHostname lower-cases h and checks that it is a bare DNS name that
// can carry <cid>.ipfs. subdomains.
func normalizeHostname(h string) (string, error) {
	h = strings.ToLower(strings.TrimSuffix(strings.TrimSpace(h), "."))
	switch {
	case h == "":
		return "", errors.New("empty")
	case strings.ContainsAny(h, "/:*@ \t"):
		return "", errors.New("want a bare host name without scheme, port, path or wildcard")
	case net.ParseIP(h) != nil:
		return "", errors.New("an IP address cannot serve subdomains")
	}
	return h, nil
}

// New returns the gateway's HTTP handler.
//
// Content requests go to boxo's gateway: the path gateway on /ipfs/ and
// /ipns/ for any Host, and the subdomain gateway for cfg.Hostnames. It
// serves deserialized responses (files, HTML directory listings, index.html)
// as well as trustless ones (?format=raw, ?format=car and the matching
// Accept headers, with dag-scope and entity-bytes), range and conditional
// requests, CORS headers, and the legacy X-Ipfs-Path header. Path gateway
// responses carry "Content-Security-Policy: sandbox" (see the package
// comment). "/healthz" answers "ok"; every other request that is not for
// content (not /ipfs/, /ipns/ or a subdomain host) goes to pages, the design
// pages, or is answered 404 when pages is nil.
// Hostile content is bounded before boxo sees it or renders it: a tar is
// only made of what `commons get` would write, within the archive limits
// (else 422), a listing stops at cfg.MaxListingEntries (422), and a path
// of more than MaxPathSegments segments is 414.
// Methods other than GET, HEAD and OPTIONS are answered 405 with an Allow
// header: the gateway never writes. CONNECT is answered 200 with nothing
// else done, so that clients using the gateway as an HTTP proxy (the proxy
// gateway spec) send their requests to it through the tunnel.
//
// blocks is where content is read; reads that miss the local blockstore go
// to its exchange and are bounded by cfg.RetrievalTimeout. names resolves
// /ipns/ names; nil means this node cannot resolve them, and /ipns/ requests
// are answered 501 with [ErrNoNameSystem]'s message. Signed IPNS records
// (?format=ipns-record) come from cfg.Records. DNSLink websites (a Host
// header that is a DNSLink domain) are not served.
//
// Under load, requests for content whose root block is in blocks' block
// store take turns (cfg.Turns) to be prepared, waiting at most
// cfg.RetrievalTimeout for one before a 429; beyond
// cfg.MaxConcurrentRequests content requests at once boxo answers 429.
func New(cfg Config, blocks blockservice.BlockService, names namesys.Resolver, pages http.Handler) (http.Handler, error) {
	if blocks == nil {
		return nil, errors.New("gateway: new: nil block service")
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, fmt.Errorf("gateway: new: config: %w", err)
	}

	blocksBackend, err := boxogw.NewBlocksBackend(blocks, boxogw.WithNameSystem(nameSystem(names)))
	if err != nil {
		return nil, fmt.Errorf("gateway: new: blocks backend: %w", err)
	}
	backend := backend{
		BlocksBackend: blocksBackend,
		records:       cfg.Records,
		resolved:      newResolvedPaths(),
		dag:           merkledag.NewDAGService(blocks),
		archive:       folder.Limits{MaxEntries: cfg.MaxArchiveEntries, MaxBytes: cfg.MaxArchiveBytes},
		maxListing:    cfg.MaxListingEntries,
	}

	public := make(map[string]*boxogw.PublicGateway, len(cfg.Hostnames))
	for _, h := range cfg.Hostnames {
		public[h] = &boxogw.PublicGateway{
			Paths:         []string{"/ipfs", "/ipns"},
			UseSubdomains: true,
			// Per-host settings override the global ones in boxo, so
			// repeat them here.
			NoDNSLink:             true,
			DeserializedResponses: true,
		}
	}
	gwCfg := boxogw.Config{
		DeserializedResponses: true,
		// DNSLink in the Host header would need DNS lookups on every
		// request for an unknown host and would shadow the node's own
		// pages; /ipns/<domain> paths still resolve through names.
		NoDNSLink:             true,
		DeprecatedXIpfsPath:   true,
		PublicGateways:        public,
		RetrievalTimeout:      cfg.RetrievalTimeout,
		MaxConcurrentRequests: cfg.MaxConcurrentRequests,
		MaxRequestDuration:    cfg.MaxRequestDuration,
		MetricsRegistry:       cfg.Registerer,
	}

	allow := verifcid.Allowlist(verifcid.DefaultAllowlist)
	if bounded, ok := blocks.(blockservice.BoundedBlockService); ok {
		allow = bounded.Allowlist()
	}
	stored := func(ctx context.Context, c cid.Cid) bool {
		has, err := blocks.Blockstore().Has(ctx, c)
		return err == nil && has
	}
	var ipfs http.Handler = quoteRecordETags(boxogw.NewHandler(gwCfg, backend))
	ipfs = newResponseCache(responseCacheBudget, stored).wrap(ipfs)
	if cfg.Counter != nil {
		ipfs = countDownloads(cfg.Counter, ipfs)
	}
	tn, err := newTurns(cfg.Turns, cfg.RetrievalTimeout, cfg.MaxConcurrentRequests, stored, cfg.Registerer)
	if err != nil {
		return nil, fmt.Errorf("gateway: new: metrics: %w", err)
	}
	ipfs = tn.wrap(ipfs)
	// The hostname handler rewrites subdomain requests to /<ns>/<root>/...;
	// only the namespaces the gateway serves may reach boxo's handler.
	onlyContent := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !isContentPath(r.URL.Path) {
			http.NotFound(w, r)
			return
		}
		if err := checkPathLength(r.URL.Path); err != nil {
			http.Error(w, err.Error(), http.StatusRequestURITooLong)
			return
		}
		if err := checkRootHash(allow, r.URL.Path); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		ipfs.ServeHTTP(w, r)
	})
	content := boxogw.NewHostnameHandler(gwCfg, backend, onlyContent)
	content = boxogw.NewHeaders(nil).WithDeprecatedXIpfsPath().ApplyCors().Wrap(content).ServeHTTP

	s := &server{
		log:       cfg.Logger.With("subsystem", "gateway"),
		hostnames: cfg.Hostnames,
		content:   content,
		pages:     http.NewServeMux(),
	}
	s.pages.HandleFunc("GET /healthz", serveHealth)
	if pages != nil {
		s.pages.Handle("/", pages)
	}
	return s, nil
}

// server routes each request either to the IPFS gateway or to the node's
// own pages.
type server struct {
	log       *slog.Logger
	hostnames []string // normalized subdomain gateway hosts
	content   http.Handler
	pages     *http.ServeMux
}

// allowedMethods is the Allow header of every response that needs one.
const allowedMethods = "GET, HEAD, OPTIONS"

// ServeHTTP implements http.Handler.
func (s *server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	subdomain := s.isSubdomainRequest(r)
	content := subdomain || isContentPath(r.URL.Path)
	if content && !subdomain {
		// The path gateway shares its origin with the design pages.
		w.Header().Set("Content-Security-Policy", pathGatewayCSP)
	}
	switch r.Method {
	case http.MethodGet, http.MethodHead:
	case http.MethodConnect:
		// HTTP proxy tunnelling (RFC 9110, 9.3.6), as the proxy gateway
		// spec asks: the client then sends its requests through the
		// same connection, and they reach this gateway again. Nothing
		// is ever relayed anywhere else.
		w.WriteHeader(http.StatusOK)
		return
	case http.MethodOptions:
		if content {
			// boxo answers preflights; CORS headers come from its wrapper.
			s.content.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Allow", allowedMethods)
		w.WriteHeader(http.StatusNoContent)
		return
	default:
		w.Header().Set("Allow", allowedMethods)
		http.Error(w, "method "+r.Method+" not allowed: this gateway is read-only", http.StatusMethodNotAllowed)
		return
	}
	if content {
		s.content.ServeHTTP(w, r)
		return
	}
	s.pages.ServeHTTP(w, r)
}

// pathGatewayCSP is the policy of every path gateway response: a sandbox
// without allow-scripts and without allow-same-origin, so content served on
// the pages' origin runs no script and is treated as another origin.
const pathGatewayCSP = "sandbox"

// isContentPath reports whether p is in a namespace the IPFS gateway serves.
func isContentPath(p string) bool {
	for _, ns := range []string{"/ipfs", "/ipns"} {
		if p == ns || strings.HasPrefix(p, ns+"/") {
			return true
		}
	}
	return false
}

// checkPathLength refuses a content path of more than MaxPathSegments
// segments.
func checkPathLength(p string) error {
	if n := strings.Count(strings.Trim(p, "/"), "/"); n > MaxPathSegments {
		return fmt.Errorf("the path has %d segments; this gateway resolves at most %d", n, MaxPathSegments)
	}
	return nil
}

// checkRootHash rejects an /ipfs/<root> path whose root CID uses a hash
// function the block service refuses (e.g. md5, or a truncated digest). The
// CID comes from the client, so this is a bad request; boxo would report it
// as a 500.
func checkRootHash(allow verifcid.Allowlist, p string) error {
	rest, ok := strings.CutPrefix(p, "/ipfs/")
	if !ok {
		return nil
	}
	root, _, _ := strings.Cut(rest, "/")
	c, err := cid.Decode(root)
	if err != nil {
		return nil // boxo answers malformed CIDs with 400 itself
	}
	if err := verifcid.ValidateCid(allow, c); err != nil {
		return fmt.Errorf("invalid CID %s: %w", root, err)
	}
	return nil
}

// isSubdomainRequest reports whether r's host is below one of the subdomain
// gateway hostnames (e.g. <cid>.ipfs.localhost), in which case the whole
// path belongs to that content root and none of the node's pages apply. The
// host is taken the way boxo takes it: X-Forwarded-Host first.
func (s *server) isSubdomainRequest(r *http.Request) bool {
	host := r.Host
	if xh := r.Header.Get("X-Forwarded-Host"); xh != "" {
		host = xh
	}
	if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	}
	host = strings.ToLower(host)
	for _, gw := range s.hostnames {
		if strings.HasSuffix(host, "."+gw) {
			return true
		}
	}
	return false
}

// serveHealth answers liveness checks.
func serveHealth(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	_, _ = w.Write([]byte("ok"))
}

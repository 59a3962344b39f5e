// Package node assembles a commons node from its parts: a libp2p host, the
// Kademlia DHT, the block store, bitswap, the pinner, the provider that
// announces pinned roots, and the HTTP gateway and API. New builds them in
// plain straight-line code; Run serves until its context ends; Close takes
// everything down in reverse order.
//
// A node is either online (the daemon: host, DHT, bitswap, gateway) or
// offline (the CLI with no daemon running: only the store, so local content
// can be listed, exported, pinned and collected).
package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"sync"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/ipfs/boxo/bitswap"
	"github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/exchange"
	"github.com/ipfs/boxo/exchange/offline"
	bsfetcher "github.com/ipfs/boxo/fetcher/impl/blockservice"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/namesys"
	"github.com/ipfs/boxo/path/resolver"
	pin "github.com/ipfs/boxo/pinning/pinner"
	"github.com/ipfs/boxo/pinning/pinner/dspinner"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/ipfs/go-unixfsnode"
	dagpb "github.com/ipld/go-codec-dagpb"
	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p-kad-dht/dual"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/routing"
	"github.com/libp2p/go-libp2p/p2p/discovery/mdns"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
	routedhost "github.com/libp2p/go-libp2p/p2p/host/routed"
	"github.com/libp2p/go-libp2p/p2p/net/connmgr"
	quic "github.com/libp2p/go-libp2p/p2p/transport/quic"
	"github.com/libp2p/go-libp2p/p2p/transport/tcp"
	ma "github.com/multiformats/go-multiaddr"
	manet "github.com/multiformats/go-multiaddr/net"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/commons-p2p/commons/gateway"
	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/pkg/bundle"
	"github.com/commons-p2p/commons/pkg/config"
	"github.com/commons-p2p/commons/pkg/mirror"
	"github.com/commons-p2p/commons/pkg/search"
	"github.com/commons-p2p/commons/pkg/store"
)

// UserAgent is what the node tells peers it runs.
const UserAgent = "commons/0.1.0"

// Store is the persistent storage a node needs: a datastore for pins, DHT
// records and queues, a block store over the same database, and a commit
// point that makes every earlier write durable.
type Store interface {
	Datastore() ds.Batching
	Blockstore() blockstore.Blockstore
	// Sync returns once every write made before the call is on disk.
	Sync(ctx context.Context) error
}

// Config is everything New needs. Settings are plain values; injected parts
// are optional and nil means "build the default".
type Config struct {
	// Settings is the configuration file's content.
	Settings config.Config
	// Identity is the node's private key. Required unless Host is given.
	Identity crypto.PrivKey
	// Publisher signs the bundles this node publishes; nil means the
	// identity (or, with an injected host, the host's key).
	Publisher crypto.PrivKey
	// Store is where blocks and pins live; nil means an in-memory store
	// (tests only: it loses everything on Close).
	Store Store
	// Host, if set, is used instead of building one (mocknet in tests).
	// The node closes it on Close.
	Host host.Host
	// Offline builds no host, DHT, bitswap or listeners: local content only.
	Offline bool
	// APIToken is what the API requires of every operation (the repo's
	// api.TokenFile); empty requires nothing, for tests that do not
	// listen beyond the process.
	APIToken string
	// Logger receives the node's logs; nil discards them.
	Logger *slog.Logger
	// SearchDir holds the full-text index of bundles the design pages
	// search (package search); "" keeps it in memory (tests).
	SearchDir string
}

// Node is a running commons node. Its exported parts are for tests and for
// later layers (bundles, libraries, mirroring) that build on them.
type Node struct {
	settings config.Config
	log      *slog.Logger
	offline  bool
	identity crypto.PrivKey // nil when the host was injected
	// publisher signs bundles; nil only for an offline node with none.
	publisher crypto.PrivKey
	bundles   *bundle.Index
	// verified caches bundles verified for read-only use (readBundle).
	verified  *lru.Cache[cid.Cid, *bundle.Bundle]
	searchDir string
	search    *search.Index // nil when offline

	// Libraries: this node's own (libMu serialises its updates; a signal
	// on ownRecordCh announces a new record) and the followed ones.
	libMu       sync.Mutex
	ownRecordCh chan struct{}
	mirrorState *mirror.State
	gc          *gcState
	mirror      *mirrorService // nil until Run, and offline

	metrics *prometheus.Registry // this node's own: see Metrics
	reach   *reach               // page views and downloads of bundles
	// penalties scores peers' misbehaviour and bans offenders
	// (penalty.go); nil when offline.
	penalties *penalties

	Host       host.Host       // nil when offline
	Routing    routing.Routing // nil when offline or routing.dht = none
	store      Store
	Blockstore blockstore.GCBlockstore
	Exchange   exchange.Interface
	Blocks     blockservice.BlockService
	DAG        ipld.DAGService
	// local reads only the store: a missing block is an error at once,
	// never a network wait (gc, announcing, writing a fetched folder).
	local    blockservice.BlockService
	localDAG ipld.DAGService
	Pinner   pin.Pinner
	// Provider announces new pins (announce.go); a no-op without a DHT.
	Provider Provider
	announce *announcer // nil without a DHT
	Names    namesys.NameSystem
	resolver resolver.Resolver

	gatewayLn, apiLn net.Listener
	gatewayHandler   http.Handler
	apiHandler       http.Handler
	mdns             mdns.Service
	bulk             *bulk // the bulk path (CARs over libp2p HTTP); nil offline
	bulkSources      sources
	bootstrapPeers   []peer.AddrInfo

	closers   []func() error
	closeOnce sync.Once
	closeErr  error
}

// New builds a node. On failure it closes whatever it had built and returns
// an error naming the part that failed.
func New(ctx context.Context, cfg Config) (_ *Node, err error) {
	s := cfg.Settings
	if err := s.Validate(); err != nil {
		return nil, fmt.Errorf("node: %w", err)
	}
	n := &Node{settings: s, log: cfg.Logger, offline: cfg.Offline, store: cfg.Store, identity: cfg.Identity, searchDir: cfg.SearchDir}
	if n.log == nil {
		n.log = slog.New(slog.DiscardHandler)
	}
	defer func() {
		if err != nil {
			_ = n.Close()
		}
	}()
	if n.store == nil {
		n.store = store.NewMemory()
	}
	dstore := n.store.Datastore()

	// Blocks. Imports take the GC locker's pin lock; fetches tell the
	// collector what they are fetching instead (see gcState).
	n.gc = newGCState()
	n.Blockstore = blockstore.NewGCBlockstore(gcWatched{n.store.Blockstore(), n.gc}, blockstore.NewGCLocker())
	n.bundles = bundle.NewIndex(dstore)
	if n.verified, err = lru.New[cid.Cid, *bundle.Bundle](256); err != nil {
		return nil, fmt.Errorf("node: bundle cache: %w", err)
	}
	n.mirrorState = mirror.New(dstore)
	n.ownRecordCh = make(chan struct{}, 1)
	n.metrics = prometheus.NewRegistry()
	if err := n.registerMetrics(); err != nil {
		return nil, fmt.Errorf("node: metrics: %w", err)
	}
	n.publisher = cfg.Publisher
	if n.publisher == nil {
		n.publisher = cfg.Identity
	}

	if !cfg.Offline {
		n.penalties = newPenalties(s.Swarm.BanDuration.D(), n.log.With("subsystem", "penalty"))
		if err := n.penalties.register(n.metrics); err != nil {
			return nil, fmt.Errorf("node: %w", err)
		}
		if n.Host, err = buildHost(cfg, s, n.metrics, n.penalties); err != nil {
			return nil, fmt.Errorf("node: start host: %w", err)
		}
		n.closers = append(n.closers, n.Host.Close)
		n.penalties.watch(n.Host.Network())
		if n.Host, err = limitBandwidth(n.Host, s.Swarm, n.metrics); err != nil {
			return nil, fmt.Errorf("node: bandwidth limits: %w", err)
		}
		// Everything below builds its protocols on the guarded host
		// (guard.go): their streams count against per-peer limits and
		// their messages' memory is reserved before it is allocated.
		n.Host = guardStreams(n.Host, n.penalties, n.log.With("subsystem", "guard"))
		if n.publisher == nil {
			n.publisher = n.Host.Peerstore().PrivKey(n.Host.ID())
		}

		if n.bootstrapPeers, err = parseAddrInfos(s.Bootstrap.Peers); err != nil {
			return nil, fmt.Errorf("node: bootstrap.peers: %w", err)
		}
		if n.Routing, err = buildRouting(n.Host, dstore, s, n.bootstrapPeers); err != nil {
			return nil, fmt.Errorf("node: start dht: %w", err)
		}
		if n.Routing != nil {
			if c, ok := n.Routing.(interface{ Close() error }); ok {
				n.closers = append(n.closers, c.Close)
			}
			// A routed host finds a peer's addresses through the DHT when
			// it is dialled by ID alone.
			n.Host = routedhost.Wrap(n.Host, n.Routing)
		}

		var discovery routing.ContentDiscovery = noDiscovery{}
		if n.Routing != nil {
			discovery = n.Routing
		}
		bs := bitswap.New(ctx, watchBitswap(bsnet.NewFromIpfsHost(n.Host), n.penalties), discovery,
			servedSizes{n.Blockstore}, bitswapOptions()...)
		n.Exchange = bs
		n.closers = append(n.closers, bs.Close)
	} else {
		n.Exchange = offline.Exchange(n.Blockstore)
	}

	n.Blocks = blockservice.New(n.Blockstore, n.Exchange)
	n.DAG = merkledag.NewDAGService(n.Blocks)
	n.local = blockservice.New(n.Blockstore, nil)
	n.localDAG = merkledag.NewDAGService(n.local)

	fetcherCfg := bsfetcher.NewFetcherConfig(n.Blocks)
	fetcherCfg.PrototypeChooser = dagpb.AddSupportToChooser(bsfetcher.DefaultPrototypeChooser)
	n.resolver = resolver.NewBasicResolver(fetcherCfg.WithReifier(unixfsnode.Reify))

	pinner, err := dspinner.New(ctx, dstore, n.DAG)
	if err != nil {
		return nil, fmt.Errorf("node: start pinner: %w", err)
	}
	n.Pinner = pinner
	n.closers = append(n.closers, pinner.Close)
	n.reach = newReach(n.store, n.bundles, pinner, n.log)
	n.closers = append(n.closers, n.reach.close)

	if n.Routing != nil {
		// Only local blocks are announced: the key lister walks pins
		// through the local block service.
		localFetcher := bsfetcher.NewFetcherConfig(n.local)
		localFetcher.SkipNotFound = true
		localFetcher.PrototypeChooser = dagpb.AddSupportToChooser(bsfetcher.DefaultPrototypeChooser)
		sw, ks, online, err := newSweeper(n.Routing, dstore, s.Provider.Interval.D())
		if err != nil {
			return nil, fmt.Errorf("node: %w", err)
		}
		// Closed in reverse: the provider before its keystore (its
		// workers use it), both before the DHT and the store.
		n.closers = append(n.closers, ks.Close, sw.Close)
		n.announce = &announcer{
			sweep:        sw,
			keys:         ks,
			online:       online,
			all:          s.Provider.Strategy == "all",
			blocks:       localFetcher,
			strategyKeys: dspinner.NewPinnedProvider(s.Provider.Strategy == "roots", pinner, localFetcher),
			roots:        n.pinnedRoots,
			pinned:       n.isPinned,
			interval:     s.Provider.Interval.D(),
			dstore:       dstore,
			log:          n.log,
			resyncCh:     make(chan struct{}, 1),
			pending:      make(map[cid.Cid]bool),
		}
		n.Provider = n.announce

		ns, err := namesys.NewNameSystem(n.Routing, namesys.WithDatastore(dstore))
		if err != nil {
			return nil, fmt.Errorf("node: start name system: %w", err)
		}
		n.Names = &libraryNames{n: n, next: ns}
	} else {
		n.Provider = noAnnounce{}
		n.Names = &libraryNames{n: n}
	}

	if !cfg.Offline {
		if err := n.buildBulk(s.Gateway.OverLibp2p); err != nil {
			return nil, err
		}
		if err := n.buildHTTP(s, cfg.APIToken); err != nil {
			return nil, err
		}
	}
	return n, nil
}

func buildHost(cfg Config, s config.Config, reg prometheus.Registerer, gater *penalties) (host.Host, error) {
	if cfg.Host != nil {
		return cfg.Host, nil
	}
	if cfg.Identity == nil {
		return nil, errors.New("no identity key")
	}
	cm, err := connmgr.NewConnManager(s.Swarm.ConnLow, s.Swarm.ConnHigh, connmgr.WithGracePeriod(s.Swarm.ConnGrace.D()))
	if err != nil {
		return nil, fmt.Errorf("connection manager: %w", err)
	}
	limits := rcmgr.DefaultLimits
	libp2p.SetDefaultServiceLimits(&limits)
	addServiceLimits(&limits)
	var concrete rcmgr.ConcreteLimitConfig
	if s.Swarm.MaxMemory > 0 || s.Swarm.MaxFDs > 0 {
		// One limit given: the other keeps a conservative fixed default
		// rather than scaling to the machine behind the user's back.
		mem, fds := s.Swarm.MaxMemory, s.Swarm.MaxFDs
		if mem <= 0 {
			mem = 1 << 30
		}
		if fds <= 0 {
			fds = 4096
		}
		concrete = limits.Scale(mem, fds)
	} else {
		concrete = limits.AutoScale()
	}
	// The trace reporter feeds the resource manager's metrics.
	rm, err := rcmgr.NewResourceManager(rcmgr.NewFixedLimiter(concrete), rcmgr.WithTraceReporter(rcmgr.StatsTraceReporter{}))
	if err != nil {
		return nil, fmt.Errorf("resource manager: %w", err)
	}
	opts := []libp2p.Option{
		libp2p.Identity(cfg.Identity),
		libp2p.ListenAddrStrings(s.Addresses.Swarm...),
		libp2p.Transport(tcp.NewTCPTransport),
		libp2p.Transport(quic.NewTransport),
		libp2p.ConnectionManager(cm),
		libp2p.ResourceManager(rm),
		libp2p.ConnectionGater(gater),
		libp2p.UserAgent(UserAgent),
		libp2p.PrometheusRegisterer(reg),
	}
	if len(s.Addresses.Announce) > 0 {
		announce, err := parseMultiaddrs(s.Addresses.Announce)
		if err != nil {
			return nil, fmt.Errorf("addresses.announce: %w", err)
		}
		opts = append(opts, libp2p.AddrsFactory(func([]ma.Multiaddr) []ma.Multiaddr { return announce }))
	}
	if !loopbackOnly(s.Addresses.Swarm) {
		opts = append(opts, libp2p.NATPortMap())
	}
	h, err := libp2p.New(opts...)
	if err != nil {
		return nil, fmt.Errorf("listen on %v: %w", s.Addresses.Swarm, err)
	}
	return h, nil
}

func buildRouting(h host.Host, dstore ds.Batching, s config.Config, boot []peer.AddrInfo) (routing.Routing, error) {
	mode := dht.ModeAuto
	switch s.Routing.Mode {
	case "server":
		mode = dht.ModeServer
	case "client":
		mode = dht.ModeClient
	}
	common := []dht.Option{dht.Datastore(dstore), dht.BootstrapPeers(boot...)}
	switch s.Routing.DHT {
	case "none":
		return nil, nil
	case "single":
		return dht.New(h, append(common, dht.Mode(mode))...)
	default: // dual
		return dual.New(h, dual.DHTOption(common...), dual.WanDHTOption(dht.Mode(mode)))
	}
}

// buildHTTP binds the gateway and API listeners (so their real addresses
// are known before Run) and builds their handlers.
func (n *Node) buildHTTP(s config.Config, token string) error {
	var err error
	if s.Addresses.Gateway != "" {
		if n.gatewayLn, err = listen(s.Addresses.Gateway); err != nil {
			return fmt.Errorf("node: gateway listener: %w", err)
		}
		n.closers = append(n.closers, ignoreClosed(n.gatewayLn.Close))
		pages, err := n.buildPages(s)
		if err != nil {
			return err
		}
		n.gatewayHandler, err = gateway.New(gateway.Config{
			RetrievalTimeout:      s.Gateway.RetrievalTimeout.D(),
			MaxConcurrentRequests: s.Gateway.MaxConcurrentRequests,
			Hostnames:             s.Gateway.Hostnames,
			Logger:                n.log.With("subsystem", "gateway"),
			Registerer:            n.metrics,
			Records:               nameRecords{n},
			Counter:               n.reach,
		}, n.Blocks, n.Names, pages)
		if err != nil {
			return fmt.Errorf("node: gateway: %w", err)
		}
	}
	if s.Addresses.API != "" {
		m, err := ma.NewMultiaddr(s.Addresses.API)
		if err != nil {
			return fmt.Errorf("node: addresses.api %q: %w", s.Addresses.API, err)
		}
		if !manet.IsIPLoopback(m) {
			switch {
			case !s.Addresses.APIRemote:
				return fmt.Errorf("node: addresses.api %s is not a loopback address: the API controls the node; set addresses.api_remote = true to allow it", s.Addresses.API)
			case token == "":
				return fmt.Errorf("node: addresses.api %s is not a loopback address and the API has no token", s.Addresses.API)
			}
		}
		if n.apiLn, err = listen(s.Addresses.API); err != nil {
			return fmt.Errorf("node: api listener: %w", err)
		}
		n.closers = append(n.closers, ignoreClosed(n.apiLn.Close))
		n.apiHandler = api.NewHandler(n, n.log.With("subsystem", "api"), api.WithMetrics(n.metrics), api.WithToken(token))
	}
	return nil
}

func listen(addr string) (net.Listener, error) {
	m, err := ma.NewMultiaddr(addr)
	if err != nil {
		return nil, fmt.Errorf("address %q: %w", addr, err)
	}
	l, err := manet.Listen(m)
	if err != nil {
		return nil, fmt.Errorf("listen on %s: %w", addr, err)
	}
	return manet.NetListener(l), nil
}

// GatewayURL returns the gateway's base URL, or "" if it has none.
func (n *Node) GatewayURL() string { return httpURL(n.gatewayLn) }

// APIURL returns the API's base URL, or "" if it has none.
func (n *Node) APIURL() string { return httpURL(n.apiLn) }

func httpURL(l net.Listener) string {
	if l == nil {
		return ""
	}
	return "http://" + l.Addr().String()
}

// GatewayHandler returns the gateway's HTTP handler (nil when offline), for
// tests that serve it themselves.
func (n *Node) GatewayHandler() http.Handler { return n.gatewayHandler }

// Online reports whether the node has a network.
func (n *Node) Online() bool { return !n.offline }

// Run serves the gateway and API, keeps the node connected (bootstrap,
// mDNS) and keeps the announcements in step with the pins (announce.go). It returns when ctx ends
// (nil) or when a server fails.
func (n *Node) Run(ctx context.Context) error {
	if n.offline {
		<-ctx.Done()
		return nil
	}
	g, ctx := errgroup.WithContext(ctx)
	// The mirror exists before the listeners serve: the API and the
	// metrics read it.
	rec, err := newRecords(ctx, n)
	if err != nil {
		return fmt.Errorf("node: %w", err)
	}
	n.mirror = newMirror(n, rec)
	// The servers' limits against slow and stalled clients are in
	// httpserve.go. Only the gateway has a write deadline (see
	// gatewayWriteTimeout).
	serve := func(name string, l net.Listener, h http.Handler, writeTimeout time.Duration) {
		if l == nil {
			return
		}
		if writeTimeout > 0 {
			l = stallListener{Listener: l, timeout: writeTimeout, chunk: gatewayWriteChunk}
		}
		srv := newHTTPServer(h, slog.NewLogLogger(n.log.Handler(), slog.LevelDebug))
		g.Go(func() error {
			if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) && !errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("%s server: %w", name, err)
			}
			return nil
		})
		g.Go(func() error {
			<-ctx.Done()
			sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(sctx)
			return nil
		})
	}
	serve("gateway", n.gatewayLn, n.gatewayHandler, gatewayWriteTimeout)
	serve("api", n.apiLn, n.apiHandler, 0)
	if n.settings.Discovery.MDNS {
		n.mdns = mdns.NewMdnsService(n.Host, "", &mdnsNotifee{n: n, ctx: ctx})
		if err := n.mdns.Start(); err != nil {
			n.log.Warn("mdns discovery not started", "subsystem", "discovery", "err", err)
		} else {
			g.Go(func() error { <-ctx.Done(); return n.mdns.Close() })
		}
	}
	g.Go(func() error { n.keepConnected(ctx); return nil })
	g.Go(func() error { n.redialSources(ctx); return nil })
	if n.announce != nil {
		g.Go(func() error { n.announce.run(ctx); return nil })
	}
	g.Go(func() error { return n.indexBundles(ctx) })
	g.Go(func() error { return n.reach.run(ctx) })
	g.Go(func() error { return n.mirror.run(ctx) })
	g.Go(func() error { n.watchSpace(ctx); return nil })
	g.Go(func() error { n.announceLibrary(ctx, rec); return nil })
	return g.Wait()
}

// Close stops everything New built, in reverse order. It is idempotent.
func (n *Node) Close() error {
	n.closeOnce.Do(func() {
		var errs []error
		for _, c := range slices.Backward(n.closers) {
			err := c()
			if api.IsNoSpace(err) {
				// What a part keeps at a stop (the provider's queue,
				// the reach counts) is lost, as after a crash; the
				// stop itself succeeds.
				n.log.Warn("not saved at the stop: the disk is full", "subsystem", "node", "err", err)
				continue
			}
			if err != nil {
				errs = append(errs, err)
			}
		}
		if n.store != nil {
			if err := n.store.Sync(context.Background()); err != nil {
				errs = append(errs, err)
			}
		}
		n.closeErr = errors.Join(errs...)
	})
	return n.closeErr
}

func ignoreClosed(f func() error) func() error {
	return func() error {
		if err := f(); err != nil && !errors.Is(err, net.ErrClosed) {
			return err
		}
		return nil
	}
}

// servedSizes is the block store as bitswap sees it. boxo's bitswap engine
// (v0.43, decision/engine.go) treats a block size of 0 as "size unknown"
// and answers a want-block for it with HAVE only, so a zero-length block
// (every empty file) could never be fetched from us. Reporting 1 makes the
// engine send it; the size only weighs the task in the send queue.
type servedSizes struct{ blockstore.Blockstore }

func (s servedSizes) GetSize(ctx context.Context, c cid.Cid) (int, error) {
	n, err := s.Blockstore.GetSize(ctx, c)
	if err == nil && n == 0 {
		n = 1
	}
	return n, err
}

// noDiscovery is content discovery when there is no DHT: bitswap asks only
// the peers it is connected to.
type noDiscovery struct{}

func (noDiscovery) FindProvidersAsync(ctx context.Context, _ cid.Cid, _ int) <-chan peer.AddrInfo {
	ch := make(chan peer.AddrInfo)
	close(ch)
	return ch
}

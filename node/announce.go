package node

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/boxo/fetcher"
	boxoprovider "github.com/ipfs/boxo/provider"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/namespace"
	"github.com/ipfs/go-datastore/query"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p-kad-dht/dual"
	sweep "github.com/libp2p/go-libp2p-kad-dht/provider"
	dualsweep "github.com/libp2p/go-libp2p-kad-dht/provider/dual"
	"github.com/libp2p/go-libp2p-kad-dht/provider/keystore"
	"github.com/libp2p/go-libp2p/core/routing"
	mh "github.com/multiformats/go-multihash"
)

// Provider announces content this node holds to the DHT.
type Provider interface {
	// Provide announces root, and under provider.strategy "all" every
	// block of its DAG that is stored locally, and keeps announcing them
	// every provider.interval for as long as they stay pinned. It returns
	// once the keys are recorded in the store and queued; the
	// announcement runs in the background. With no network the keys wait
	// and go out once the DHT has peers. It fails when the keys could not
	// be recorded or ctx ended during the walk of the DAG.
	Provide(ctx context.Context, root cid.Cid) error
}

// noAnnounce is the Provider with no DHT (routing.dht = "none", offline).
type noAnnounce struct{}

func (noAnnounce) Provide(context.Context, cid.Cid) error { return nil }

var (
	_ Provider = noAnnounce{}
	_ Provider = (*announcer)(nil)
	_ sweeper  = (*sweep.SweepingProvider)(nil)
	_ sweeper  = (*dualsweep.SweepingProvider)(nil)
)

// sweeper is what the node uses of go-libp2p-kad-dht's sweeping provider,
// the one-DHT and the dual one alike. It groups keys by keyspace region
// and makes one DHT lookup per region rather than one per key (see
// docs/benchmarks.md, "DHT announce").
type sweeper interface {
	// StartProviding records keys in the keystore and queues those not
	// there before (all of them if force) for announcement. While the
	// provider is offline it only records them.
	StartProviding(force bool, keys ...mh.Multihash) error
	// RefreshSchedule schedules the regions of keys added to the keystore
	// behind the provider's back (a keystore reset).
	RefreshSchedule() error
	Close() error
}

// Datastore prefixes of the announcer's state. keystoreKey holds every key
// the strategy covers (what is reprovided); sweepKey the provider's
// schedule, reprovide history and the provide queue saved at a stop.
// legacyProviderKey is where boxo's provider, used before, kept its queue.
var (
	keystoreKey       = ds.NewKey("/commons/provider/keys")
	sweepKey          = ds.NewKey("/commons/provider/sweep")
	legacyProviderKey = ds.NewKey("/provider")
)

const (
	// sweepMaxWorkers bounds the provider's concurrent region provides
	// and reprovides; 16, 2 and 1 are Kubo 0.43's defaults.
	sweepMaxWorkers       = 16
	sweepPeriodicWorkers  = 2
	sweepBurstWorkers     = 1
	sweepConnsPerWorker   = 20
	keystoreBatch         = 1 << 14 // keys per keystore write, and per StartProviding of a DAG
	keystorePrefixBits    = 16
	pendingCheckEvery     = 2 * time.Second
	sweepMaxReprovideWait = time.Hour
)

// announcer is the node's Provider over a sweeping provider. Besides
// queueing new pins it keeps the keystore in step with the pins (resync)
// and announces what was pinned while the provider was offline once it
// is online (pending), which the sweeping provider alone would leave to
// the region's next reprovide, up to provider.interval later, when the
// region had been reprovided recently (a restart).
type announcer struct {
	sweep  sweeper
	keys   *keystore.ResettableKeystore
	online func() bool // whether the sweeper accepts provides now
	all    bool        // provider.strategy = "all"
	blocks fetcher.Factory
	// strategyKeys lists what the strategy covers now: the keystore is
	// reset to it at start, every interval and after a GC.
	strategyKeys boxoprovider.KeyChanFunc
	roots        func(context.Context) ([]cid.Cid, error) // pinned roots
	pinned       func(context.Context, cid.Cid) bool
	interval     time.Duration
	dstore       ds.Batching
	log          *slog.Logger

	resyncCh chan struct{}
	mu       sync.Mutex
	pending  map[cid.Cid]bool // root → announce its whole DAG
}

// newSweeper builds the sweeping provider for r (one DHT or the dual one)
// with its keystore, both persisted in dstore under their own prefixes.
// It returns the provider, its keystore, and a function reporting whether
// the provider accepts provides (for the dual DHT: either half does).
func newSweeper(r routing.Routing, dstore ds.Batching, interval time.Duration) (sweeper, *keystore.ResettableKeystore, func() bool, error) {
	ks, err := keystore.NewResettableKeystore(namespace.Wrap(dstore, keystoreKey),
		keystore.KeystoreOption(keystore.WithPrefixBits(keystorePrefixBits), keystore.WithBatchSize(keystoreBatch)))
	if err != nil {
		return nil, nil, nil, fmt.Errorf("open keystore: %w", err)
	}
	state := namespace.Wrap(dstore, sweepKey)
	switch d := r.(type) {
	case *dht.IpfsDHT:
		p, err := sweep.New(
			sweep.WithKeystore(ks),
			sweep.WithDatastore(state),
			sweep.WithHost(d.Host()),
			sweep.WithRouter(d),
			sweep.WithMessageSender(d.MessageSender()),
			sweep.WithSelfAddrs(d.FilteredAddrs),
			sweep.WithAddLocalRecord(func(ctx context.Context, h mh.Multihash) error {
				return d.Provide(ctx, cid.NewCidV1(cid.Raw, h), false)
			}),
			sweep.WithReplicationFactor(d.BucketSize()),
			sweep.WithReprovideInterval(interval),
			sweep.WithMaxReprovideDelay(sweepMaxReprovideWait),
			sweep.WithMaxWorkers(sweepMaxWorkers),
			sweep.WithDedicatedPeriodicWorkers(sweepPeriodicWorkers),
			sweep.WithDedicatedBurstWorkers(sweepBurstWorkers),
			sweep.WithMaxProvideConnsPerWorker(sweepConnsPerWorker),
		)
		if err != nil {
			_ = ks.Close()
			return nil, nil, nil, fmt.Errorf("start sweeping provider: %w", err)
		}
		return p, ks, func() bool { return sweepOnline(p) }, nil
	case *dual.DHT:
		p, err := dualsweep.New(d,
			dualsweep.WithKeystore(ks),
			dualsweep.WithDatastore(state),
			dualsweep.WithReprovideInterval(interval),
			dualsweep.WithMaxReprovideDelay(sweepMaxReprovideWait),
			dualsweep.WithMaxWorkers(sweepMaxWorkers),
			dualsweep.WithDedicatedPeriodicWorkers(sweepPeriodicWorkers),
			dualsweep.WithDedicatedBurstWorkers(sweepBurstWorkers),
			dualsweep.WithMaxProvideConnsPerWorker(sweepConnsPerWorker),
		)
		if err != nil {
			_ = ks.Close()
			return nil, nil, nil, fmt.Errorf("start sweeping provider: %w", err)
		}
		return p, ks, func() bool { return sweepOnline(p.WAN) || sweepOnline(p.LAN) }, nil
	}
	_ = ks.Close()
	return nil, nil, nil, fmt.Errorf("start sweeping provider: routing %T is not a kad-dht", r)
}

// sweepOnline reports whether p queues provides: its connectivity check
// passed and it has estimated the network's size (an offline provider
// records keys in the keystore and drops their provide).
func sweepOnline(p *sweep.SweepingProvider) bool {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := p.Stats(ctx)
	return err == nil && !st.Closed && st.Connectivity.Status == "online" && st.Schedule.AvgPrefixLength >= 0
}

func (a *announcer) Provide(ctx context.Context, root cid.Cid) error {
	offline := !a.online()
	if err := a.start(ctx, root, a.all, false); err != nil {
		return err
	}
	if offline {
		a.mu.Lock()
		a.pending[root] = a.pending[root] || a.all
		a.mu.Unlock()
	}
	return nil
}

// start hands root (and with dag its locally stored blocks) to the
// sweeper in batches. Without force, keys already in the keystore are not
// announced again: they are announced at their region's reprovide.
func (a *announcer) start(ctx context.Context, root cid.Cid, dag bool, force bool) error {
	batch := []mh.Multihash{root.Hash()}
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := a.sweep.StartProviding(force, batch...)
		batch = make([]mh.Multihash, 0, keystoreBatch)
		if err != nil {
			return fmt.Errorf("announce %s: %w", root, err)
		}
		return nil
	}
	if dag {
		wctx, cancel := context.WithCancel(ctx)
		defer cancel() // ends the walk if a batch fails
		keys, err := boxoprovider.NewDAGProvider(root, a.blocks)(wctx)
		if err != nil {
			return fmt.Errorf("list blocks of %s: %w", root, err)
		}
		for c := range keys {
			if c == root {
				continue
			}
			batch = append(batch, c.Hash())
			if len(batch) == keystoreBatch {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("list blocks of %s: %w", root, err)
		}
	}
	return flush()
}

// resync asks run to reset the keystore to what the strategy covers now
// (after a GC deleted blocks). It does not wait.
func (a *announcer) resync() {
	select {
	case a.resyncCh <- struct{}{}:
	default:
	}
}

// run keeps the keystore in step with the pins, announces pending roots
// once the provider is online, and returns when ctx ends.
func (a *announcer) run(ctx context.Context) {
	// Pinned roots are announced once at each start, as before the sweeping
	// provider: content pinned while no daemon ran (commons add offline)
	// is otherwise announced only at its region's next reprovide.
	if roots, err := a.roots(ctx); err != nil {
		a.log.Warn("list pins to announce", "subsystem", "provider", "err", err)
	} else {
		a.mu.Lock()
		for _, r := range roots {
			if _, ok := a.pending[r]; !ok {
				a.pending[r] = false
			}
		}
		a.mu.Unlock()
	}
	// The resync loop is not waited for: a reset in progress ends only
	// when the keystore closes (see syncKeystore), after Run returns.
	go func() {
		a.dropLegacyQueue(ctx)
		a.syncKeystore(ctx)
		t := time.NewTicker(a.interval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-a.resyncCh:
			}
			a.syncKeystore(ctx)
		}
	}()
	t := time.NewTicker(pendingCheckEvery)
	defer t.Stop()
	for {
		a.announcePending(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// announcePending announces, with force, what was pinned while the
// provider was offline, once it is online.
func (a *announcer) announcePending(ctx context.Context) {
	a.mu.Lock()
	n := len(a.pending)
	a.mu.Unlock()
	if n == 0 || !a.online() {
		return
	}
	a.mu.Lock()
	todo := a.pending
	a.pending = make(map[cid.Cid]bool)
	a.mu.Unlock()
	for root, dag := range todo {
		if !a.pinned(ctx, root) {
			continue
		}
		if err := a.start(ctx, root, dag, true); err != nil {
			if ctx.Err() != nil {
				return
			}
			a.log.Warn("announce", "subsystem", "provider", "cid", root, "err", err)
		}
	}
	a.log.Debug("announced what was pinned while offline", "subsystem", "provider", "roots", len(todo))
}

// syncKeystore replaces the keystore's keys with what the strategy covers
// now, so that unpinned content (and blocks a GC deleted) stops being
// reprovided, then schedules any region that gained keys.
func (a *announcer) syncKeystore(ctx context.Context) {
	start := time.Now()
	// The reset gets a context that is never cancelled. In kad-dht
	// v0.42.2 a ResetCids whose context ends between asking the
	// keystore's worker to start a reset and reading its answer leaves the
	// worker blocked on that answer for good, and the keystore's Close
	// with it (a node stopped a moment after its start hung in Close).
	// Closing the keystore ends a reset in progress instead (ErrClosed).
	// Nor may the key list end early when ctx ends: a reset whose key
	// channel is closed takes what it got as the whole list and drops the
	// rest from the keystore, so the forwarder then stops forwarding and
	// leaves the channel open until Close ends the reset.
	lctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel() // ends the key listing once the reset returns
	keys, err := a.strategyKeys(lctx)
	if err != nil {
		a.log.Warn("list keys to announce", "subsystem", "provider", "err", err)
		return
	}
	fwd := make(chan cid.Cid)
	go func() {
		for c := range keys {
			select {
			case fwd <- c:
			case <-ctx.Done():
				return
			case <-lctx.Done():
				return
			}
		}
		close(fwd)
	}()
	if err := a.keys.ResetCids(context.WithoutCancel(ctx), fwd); err != nil {
		if ctx.Err() != nil || errors.Is(err, keystore.ErrClosed) {
			return
		}
		a.log.Warn("resync announced keys with pins", "subsystem", "provider", "err", err)
		return
	}
	if err := a.sweep.RefreshSchedule(); err != nil {
		a.log.Debug("refresh announce schedule", "subsystem", "provider", "err", err)
	}
	a.log.Debug("resynced announced keys with pins", "subsystem", "provider", "took", time.Since(start))
}

// dropLegacyQueue deletes what boxo's provider (before the sweeping one)
// left in the store: its queue of CIDs, which nothing reads any more.
func (a *announcer) dropLegacyQueue(ctx context.Context) {
	res, err := a.dstore.Query(ctx, query.Query{Prefix: legacyProviderKey.String(), KeysOnly: true})
	if err != nil {
		a.log.Debug("list legacy provider queue", "subsystem", "provider", "err", err)
		return
	}
	var keys []ds.Key
	for r := range res.Next() {
		if r.Error != nil {
			break
		}
		if strings.HasPrefix(r.Key, legacyProviderKey.String()+"/") {
			keys = append(keys, ds.NewKey(r.Key))
		}
	}
	_ = res.Close()
	if len(keys) == 0 {
		return
	}
	for len(keys) > 0 {
		b, err := a.dstore.Batch(ctx)
		if err != nil {
			return
		}
		chunk := keys[:min(len(keys), 4096)]
		keys = keys[len(chunk):]
		for _, k := range chunk {
			_ = b.Delete(ctx, k)
		}
		if err := b.Commit(ctx); err != nil {
			a.log.Debug("drop legacy provider queue", "subsystem", "provider", "err", err)
			return
		}
	}
	a.log.Info("dropped the old provider's queue", "subsystem", "provider")
}

package node

import (
	"context"
	"fmt"
	"time"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/commons-p2p/commons/pkg/store"
)

// spaceGuard is the on-disk store's watch over the free space of its disk
// (store.Store): it refuses new blocks below its reserve, and when the
// disk runs out. An in-memory store has none.
type spaceGuard interface {
	// CheckSpace looks now and says whether about need bytes of blocks
	// (0: unknown) may be written; the error wraps store.ErrNoSpace.
	CheckSpace(need int64) error
	// Space is the view as of the last look.
	Space() store.Space
	// SpaceChanged is closed when the store starts or stops refusing.
	SpaceChanged() <-chan struct{}
}

// checkSpace is called before an operation that writes about need bytes of
// blocks (0: unknown) starts, so that one that cannot fit fails at once and
// changes nothing.
func (n *Node) checkSpace(need int64) error {
	if g, ok := n.store.(spaceGuard); ok {
		return g.CheckSpace(need)
	}
	return nil
}

// refusing returns why the store refuses new blocks now (looking at the
// disk again), or nil.
func (n *Node) refusing() error {
	return n.checkSpace(0)
}

// stopWhenFull returns a context that is cancelled, with the store's
// reason as its cause, as soon as the store starts refusing new blocks.
// Bitswap drops a block it cannot store and keeps waiting for it, so a
// fetch would otherwise wait until fetch.timeout and report the content
// not found. stop releases the watch.
func (n *Node) stopWhenFull(ctx context.Context) (_ context.Context, stop func()) {
	g, ok := n.store.(spaceGuard)
	if !ok {
		return ctx, func() {}
	}
	ctx, cancel := context.WithCancelCause(ctx)
	ch := g.SpaceChanged()
	if why := g.Space().Refusing; why != nil {
		cancel(why)
		return ctx, func() {}
	}
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-ch:
			}
			ch = g.SpaceChanged()
			if why := g.Space().Refusing; why != nil {
				cancel(why)
				return
			}
		}
	}()
	return ctx, func() { cancel(nil) }
}

// completeLocally reports whether every block under root is stored here,
// reading only the local store: nil if so, an error satisfying
// ipld.IsNotFound if a block is missing.
func (n *Node) completeLocally(ctx context.Context, root cid.Cid) error {
	getLinks := func(ctx context.Context, c cid.Cid) ([]*ipld.Link, error) {
		nd, err := n.localDAG.Get(ctx, c)
		if err != nil {
			return nil, err
		}
		return nd.Links(), nil
	}
	return merkledag.Walk(ctx, getLinks, root, cid.NewSet().Visit, merkledag.Concurrency(16))
}

// spaceRecheck is how often a daemon whose store refuses new blocks looks
// at the disk again, so that writes (and the mirror) resume soon after
// space is freed, with no command needed to notice.
const spaceRecheck = 5 * time.Second

// watchSpace logs when the store starts and stops refusing new blocks,
// looks at the disk again while it refuses, and has the mirror retry at
// once when space is back.
func (n *Node) watchSpace(ctx context.Context) {
	g, ok := n.store.(spaceGuard)
	if !ok {
		return
	}
	var was error
	tick := time.NewTicker(spaceRecheck)
	defer tick.Stop()
	for {
		ch := g.SpaceChanged()
		sp := g.Space()
		switch {
		case sp.Refusing != nil && was == nil:
			n.log.Warn("the store takes no new blocks: publish, import, pin add and the mirror fail until space is freed",
				"subsystem", "store", "free", sp.Free, "min_free", sp.MinFree, "err", sp.Refusing)
		case sp.Refusing == nil && was != nil:
			n.log.Info("the store takes new blocks again", "subsystem", "store", "free", sp.Free, "ballast", sp.Ballast)
			if n.mirror != nil {
				n.mirror.retryNow(false)
			}
		}
		was = sp.Refusing
		select {
		case <-ctx.Done():
			return
		case <-ch:
		case <-tick.C:
			if was != nil {
				_ = g.CheckSpace(0)
			}
		}
	}
}

var (
	descStoreFree = prometheus.NewDesc("commons_store_free_bytes",
		"Bytes free on the disk of the store, at its last look.", nil, nil)
	descStoreReserve = prometheus.NewDesc("commons_store_min_free_bytes",
		"The free space the store keeps on its disk (datastore.min_free).", nil, nil)
	descStoreBallast = prometheus.NewDesc("commons_store_ballast_bytes",
		"Bytes of emergency ballast the store holds (0 once given up for lack of space).", nil, nil)
	descStoreRefusing = prometheus.NewDesc("commons_store_refusing_blocks",
		"1 while the store refuses new blocks for lack of disk space.", nil, nil)
)

// spaceCollector exports the store's view of its disk.
type spaceCollector struct{ g spaceGuard }

func (c spaceCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descStoreFree
	ch <- descStoreReserve
	ch <- descStoreBallast
	ch <- descStoreRefusing
}

func (c spaceCollector) Collect(ch chan<- prometheus.Metric) {
	sp := c.g.Space()
	refusing := 0.0
	if sp.Refusing != nil {
		refusing = 1
	}
	ch <- prometheus.MustNewConstMetric(descStoreFree, prometheus.GaugeValue, float64(sp.Free))
	ch <- prometheus.MustNewConstMetric(descStoreReserve, prometheus.GaugeValue, float64(sp.MinFree))
	ch <- prometheus.MustNewConstMetric(descStoreBallast, prometheus.GaugeValue, float64(sp.Ballast))
	ch <- prometheus.MustNewConstMetric(descStoreRefusing, prometheus.GaugeValue, refusing)
}

// registerSpaceMetrics adds the store's space gauges, when it has any.
func (n *Node) registerSpaceMetrics() error {
	g, ok := n.store.(spaceGuard)
	if !ok {
		return nil
	}
	if err := n.metrics.Register(spaceCollector{g}); err != nil {
		return fmt.Errorf("store space metrics: %w", err)
	}
	return nil
}

package node

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	pin "github.com/ipfs/boxo/pinning/pinner"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"

	"github.com/commons-p2p/commons/gateway"
	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/gateway/pages"
	"github.com/commons-p2p/commons/pkg/bundle"
)

// reachFlushInterval is how often counts are written to the store. A crash
// (kill -9, power cut) loses at most the counts of this long.
const reachFlushInterval = 5 * time.Second

// reachKey is where the counts of each bundle version live in the
// datastore: /commons/reach/<root CID>.
var reachKey = ds.NewKey("/commons/reach")

// reachCounts is what is kept of one bundle version.
type reachCounts struct {
	Views int64 `json:"views"`
	Zip   int64 `json:"zip,omitempty"`
	CAR   int64 `json:"car,omitempty"`
	File  int64 `json:"file,omitempty"`
}

func (c reachCounts) downloads() int64 { return c.Zip + c.CAR + c.File }

// reach counts page views and downloads of the bundle versions the node
// holds (pinned and recorded in the bundle index), for the design pages and
// the gateway. Counting is a map update under a mutex; the counts reach the
// datastore every reachFlushInterval and at close, in one batch and one
// sync, so that a page view never waits for a disk.
type reach struct {
	store Store
	index *bundle.Index
	pins  pin.Pinner
	log   *slog.Logger

	mu     sync.Mutex
	counts map[cid.Cid]*reachCounts // totals of the versions touched since start
	dirty  map[cid.Cid]bool         // changed since the last flush
	closed bool
}

var (
	_ pages.Counter   = (*reach)(nil)
	_ gateway.Counter = (*reach)(nil)
)

func newReach(st Store, index *bundle.Index, pins pin.Pinner, log *slog.Logger) *reach {
	return &reach{store: st, index: index, pins: pins, log: log,
		counts: map[cid.Cid]*reachCounts{}, dirty: map[cid.Cid]bool{}}
}

// View implements pages.Counter.
func (r *reach) View(root cid.Cid) {
	r.add(root, func(c *reachCounts) { c.Views++ })
}

// Download implements pages.Counter and gateway.Counter.
func (r *reach) Download(root cid.Cid, kind string) {
	var f func(*reachCounts)
	switch kind {
	case pages.DownloadZip:
		f = func(c *reachCounts) { c.Zip++ }
	case pages.DownloadCAR:
		f = func(c *reachCounts) { c.CAR++ }
	case pages.DownloadFile:
		f = func(c *reachCounts) { c.File++ }
	default:
		return
	}
	r.add(root, f)
}

// add applies f to root's counts. The first time a root is seen it is
// checked (a bundle version, pinned) and its stored counts are loaded;
// anything else is not counted, which bounds what is kept to the versions
// the node holds.
func (r *reach) add(root cid.Cid, f func(*reachCounts)) {
	root = canonical(root)
	r.mu.Lock()
	c, ok := r.counts[root]
	if ok {
		if !r.closed {
			f(c)
			r.dirty[root] = true
		}
		r.mu.Unlock()
		return
	}
	r.mu.Unlock()

	// First sight: check and load outside the lock (a few datastore
	// reads, once per version and process).
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if !r.holds(ctx, root) {
		return
	}
	loaded, err := r.load(ctx, root)
	if err != nil {
		r.log.Warn("reach: read counts", "subsystem", "reach", "cid", root, "err", err)
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	c, ok = r.counts[root]
	if !ok { // no other first sight got here first
		c = &loaded
		r.counts[root] = c
	}
	f(c)
	r.dirty[root] = true
}

// holds reports whether root is a bundle version the node has verified and
// pins.
func (r *reach) holds(ctx context.Context, root cid.Cid) bool {
	if _, ok, err := r.index.Get(ctx, root); err != nil || !ok {
		return false
	}
	_, pinned, err := r.pins.IsPinnedWithType(ctx, root, pin.Recursive)
	return err == nil && pinned
}

// canonical is the form roots are kept under: CIDv1, as the bundle index
// keeps them (a subdomain request may name a root in another base).
func canonical(c cid.Cid) cid.Cid {
	if c.Version() == 0 {
		return cid.NewCidV1(c.Type(), c.Hash())
	}
	return c
}

// load reads root's stored counts; none is zero counts.
func (r *reach) load(ctx context.Context, root cid.Cid) (reachCounts, error) {
	var c reachCounts
	v, err := r.store.Datastore().Get(ctx, reachKey.ChildString(root.String()))
	if errors.Is(err, ds.ErrNotFound) {
		return c, nil
	}
	if err != nil {
		return c, err
	}
	if err := json.Unmarshal(v, &c); err != nil {
		return c, fmt.Errorf("counts of %s are damaged: %w", root, err)
	}
	return c, nil
}

// flush writes the counts changed since the last flush in one batch and
// syncs the store once. Nothing changed is nothing written.
func (r *reach) flush(ctx context.Context) error {
	r.mu.Lock()
	if len(r.dirty) == 0 {
		r.mu.Unlock()
		return nil
	}
	pending := make(map[cid.Cid]reachCounts, len(r.dirty))
	for root := range r.dirty {
		pending[root] = *r.counts[root]
	}
	clear(r.dirty)
	r.mu.Unlock()

	err := r.write(ctx, pending)
	if err != nil {
		// Keep them for the next flush.
		r.mu.Lock()
		for root := range pending {
			r.dirty[root] = true
		}
		r.mu.Unlock()
		return fmt.Errorf("reach: write counts: %w", err)
	}
	return nil
}

func (r *reach) write(ctx context.Context, pending map[cid.Cid]reachCounts) error {
	b, err := r.store.Datastore().Batch(ctx)
	if err != nil {
		return err
	}
	for root, c := range pending {
		v, err := json.Marshal(c)
		if err != nil {
			return err
		}
		if err := b.Put(ctx, reachKey.ChildString(root.String()), v); err != nil {
			return err
		}
	}
	if err := b.Commit(ctx); err != nil {
		return err
	}
	return r.store.Sync(ctx)
}

// run flushes every reachFlushInterval until ctx ends. A failed flush is
// logged and tried again at the next tick.
func (r *reach) run(ctx context.Context) error {
	t := time.NewTicker(reachFlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		if err := r.flush(ctx); err != nil && ctx.Err() == nil {
			r.log.Warn("reach: flush", "subsystem", "reach", "err", err)
		}
	}
}

// close writes what is left and stops counting. It is idempotent.
func (r *reach) close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := r.flush(ctx)
	r.mu.Lock()
	r.closed = true
	r.mu.Unlock()
	return err
}

// all returns every version's counts: those stored, with the ones counted
// since the last flush on top.
func (r *reach) all(ctx context.Context) (map[cid.Cid]reachCounts, error) {
	out := map[cid.Cid]reachCounts{}
	res, err := r.store.Datastore().Query(ctx, query.Query{Prefix: reachKey.String()})
	if err != nil {
		return nil, err
	}
	defer res.Close()
	for e := range res.Next() {
		if e.Error != nil {
			return nil, e.Error
		}
		k := ds.RawKey(e.Key)
		root, err := cid.Decode(k.BaseNamespace())
		if err != nil {
			continue // not ours to read; never written by this code
		}
		var c reachCounts
		if err := json.Unmarshal(e.Value, &c); err != nil {
			return nil, fmt.Errorf("counts of %s are damaged: %w", root, err)
		}
		out[root] = c
	}
	r.mu.Lock()
	for root, c := range r.counts {
		out[root] = *c
	}
	r.mu.Unlock()
	return out, nil
}

// reachRow is one version's counts with what the bundle index knows of it.
type reachRow struct {
	rec    bundle.Record
	counts reachCounts
}

// heldReach returns the counts of the versions the node holds now (pinned and
// in the index), with their index records.
func (n *Node) heldReach(ctx context.Context) ([]reachRow, error) {
	counts, err := n.reach.all(ctx)
	if err != nil {
		return nil, err
	}
	var out []reachRow
	for root, c := range counts {
		if c.Views == 0 && c.downloads() == 0 {
			continue
		}
		rec, ok, err := n.bundles.Get(ctx, root)
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if _, pinned, err := n.Pinner.IsPinnedWithType(ctx, root, pin.Recursive); err != nil || !pinned {
			continue
		}
		out = append(out, reachRow{rec: rec, counts: c})
	}
	return out, nil
}

// Stats implements api.StatsService.
func (n *Node) Stats(ctx context.Context) (api.Stats, error) {
	rows, err := n.heldReach(ctx)
	if err != nil {
		return api.Stats{}, fmt.Errorf("stats: %w", err)
	}
	type key struct{ publisher, name string }
	byBundle := map[key]*api.BundleStats{}
	for _, row := range rows {
		k := key{row.rec.Publisher, row.rec.Name}
		b := byBundle[k]
		if b == nil {
			b = &api.BundleStats{Name: row.rec.Name, Publisher: row.rec.Publisher}
			byBundle[k] = b
		}
		d := api.DownloadCounts{Zip: row.counts.Zip, CAR: row.counts.CAR, File: row.counts.File}
		b.Views += row.counts.Views
		b.Downloads += d.Total()
		b.Versions = append(b.Versions, api.VersionStats{CID: row.rec.Root, Sequence: row.rec.Sequence,
			Version: row.rec.Version, Views: row.counts.Views, Downloads: d})
	}
	out := api.Stats{Bundles: []api.BundleStats{}}
	for _, b := range byBundle {
		slices.SortFunc(b.Versions, func(x, y api.VersionStats) int { return cmp.Compare(y.Sequence, x.Sequence) })
		for _, row := range rows {
			if row.rec.Root.Equals(b.Versions[0].CID) {
				b.Title = row.rec.Title
			}
		}
		out.Bundles = append(out.Bundles, *b)
	}
	slices.SortFunc(out.Bundles, func(x, y api.BundleStats) int {
		return cmp.Or(cmp.Compare(y.Downloads, x.Downloads), cmp.Compare(y.Views, x.Views),
			strings.Compare(x.Name, y.Name), strings.Compare(x.Publisher, y.Publisher))
	})
	return out, nil
}

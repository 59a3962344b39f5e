package node

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/ipld/merkledag"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"

	"github.com/commons-p2p/commons/gateway/api"
)

// gcState is what garbage collection shares with the fetches that run
// beside it.
//
// Local writes (publish, import) hold the GC locker's pin lock from their
// first block to their pin: they are bounded by the disk, and a
// collection waits for them. A fetch is bounded by the network, which may
// take hours on a village link; were it to hold the pin lock throughout, a
// `commons gc` would wait for it, and while gc waited for the lock every
// publish and pin behind it would wait too. So fetches run without the
// lock, and three things keep a collection from deleting what they need:
//
//   - the roots being fetched are in flight: a collection keeps what is
//     stored under them, as it keeps what is pinned (the mirror's wanted
//     versions do the same across restarts);
//   - blocks written while a collection runs are never deleted by it,
//     since a fetch stores a block only after the block that links to it;
//   - a fetch takes the pin lock only to pin, and if a collection ran
//     since it began, it first checks that the DAG is still complete and
//     fetches again what is not.
type gcState struct {
	mu       sync.Mutex
	epoch    uint64              // collections started so far
	inflight map[cid.Cid]int     // roots being fetched, with a count
	written  map[string]struct{} // multihashes written during a collection; nil when none runs
}

func newGCState() *gcState {
	return &gcState{inflight: map[cid.Cid]int{}}
}

// track marks root as being fetched until the returned function is
// called.
func (g *gcState) track(root cid.Cid) func() {
	g.mu.Lock()
	g.inflight[root]++
	g.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			defer g.mu.Unlock()
			if g.inflight[root]--; g.inflight[root] <= 0 {
				delete(g.inflight, root)
			}
		})
	}
}

func (g *gcState) currentEpoch() uint64 {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.epoch
}

// begin starts a collection: the epoch moves on, writes are recorded from
// now, and the roots in flight are returned.
func (g *gcState) begin() []cid.Cid {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.epoch++
	g.written = map[string]struct{}{}
	roots := make([]cid.Cid, 0, len(g.inflight))
	for c := range g.inflight {
		roots = append(roots, c)
	}
	return roots
}

func (g *gcState) end() {
	g.mu.Lock()
	g.written = nil
	g.mu.Unlock()
}

// recordWrite notes a block about to be written.
func (g *gcState) recordWrite(c cid.Cid) {
	g.mu.Lock()
	if g.written != nil {
		g.written[string(c.Hash())] = struct{}{}
	}
	g.mu.Unlock()
}

// deleteUnlessWritten deletes c unless it was written since the
// collection began. The check and the delete are one step for writers: a
// write of c that starts after it stores c again.
func (g *gcState) deleteUnlessWritten(ctx context.Context, bs blockstore.Blockstore, c cid.Cid) (bool, error) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if _, ok := g.written[string(c.Hash())]; ok {
		return false, nil
	}
	return true, bs.DeleteBlock(ctx, c)
}

// gcWatched is the node's blockstore as fetches and imports write to it:
// it tells the running collection, if any, about every block before the
// block is written.
type gcWatched struct {
	blockstore.Blockstore
	g *gcState
}

func (b gcWatched) Put(ctx context.Context, blk blocks.Block) error {
	b.g.recordWrite(blk.Cid())
	return b.Blockstore.Put(ctx, blk)
}

func (b gcWatched) PutMany(ctx context.Context, blks []blocks.Block) error {
	for _, blk := range blks {
		b.g.recordWrite(blk.Cid())
	}
	return b.Blockstore.PutMany(ctx, blks)
}

// View keeps the store's zero-copy reads, which boxo looks for.
func (b gcWatched) View(ctx context.Context, c cid.Cid, fn func([]byte) error) error {
	if v, ok := b.Blockstore.(blockstore.Viewer); ok {
		return v.View(ctx, c, fn)
	}
	blk, err := b.Blockstore.Get(ctx, c)
	if err != nil {
		return err
	}
	return fn(blk.RawData())
}

// fetchLocked fetches the whole DAG under root without holding the pin
// lock, then takes the pin lock and returns, holding it, once the DAG is
// complete in the store: the caller pins it and then unlocks. While it
// runs, a collection keeps what of root is stored.
func (n *Node) fetchLocked(ctx context.Context, root cid.Cid, progress func(api.Progress)) (blockstore.Unlocker, error) {
	done := n.gc.track(root)
	defer done()
	for attempt := 1; ; attempt++ {
		epoch := n.gc.currentEpoch()
		if err := n.fetchDAG(ctx, root, progress); err != nil {
			return nil, err
		}
		unlock := n.Blockstore.PinLock(ctx)
		if n.gc.currentEpoch() == epoch {
			return unlock, nil
		}
		// A collection ran during the fetch. It kept what was stored
		// under root, but a block the fetch found stored before root's
		// path to it arrived may have gone: check, and fetch again.
		missing, err := n.firstMissing(ctx, root)
		if err == nil && !missing.Defined() {
			return unlock, nil
		}
		unlock.Unlock(ctx)
		if err != nil {
			return nil, fmt.Errorf("fetch %s: %w", root, err)
		}
		if attempt == 3 {
			return nil, fmt.Errorf("fetch %s: block %s went missing three times while garbage collections ran", root, missing)
		}
		n.log.Info("fetch: a garbage collection ran meanwhile; fetching what it removed", "subsystem", "fetch", "cid", root, "missing", missing)
	}
}

// firstMissing walks the local store under root and returns a block that
// is not stored, or cid.Undef if the DAG is complete.
func (n *Node) firstMissing(ctx context.Context, root cid.Cid) (cid.Cid, error) {
	var missing cid.Cid
	getLinks := func(ctx context.Context, c cid.Cid) ([]*ipld.Link, error) {
		nd, err := n.localDAG.Get(ctx, c)
		if ipld.IsNotFound(err) {
			missing = c
			return nil, errStopWalk
		}
		if err != nil {
			return nil, err
		}
		return nd.Links(), nil
	}
	err := merkledag.Walk(ctx, getLinks, root, cid.NewSet().Visit)
	if errors.Is(err, errStopWalk) {
		return missing, nil
	}
	return cid.Undef, err
}

var errStopWalk = errors.New("stop walk")

// GC implements api.Service. It marks every block reachable from a pin, a
// version a mirror wants, or a root being fetched (walking only the local
// store), and deletes the rest, except blocks written while it runs. It
// holds the GC lock, so it waits for publishes and imports in progress and
// they wait for it; fetches go on beside it (see gcState).
func (n *Node) GC(ctx context.Context) (api.GCResult, error) {
	start := time.Now()
	defer n.Blockstore.GCLock(ctx).Unlock(ctx)
	inflight := n.gc.begin()
	defer n.gc.end()
	keep := cid.NewSet()
	local := n.localDAG
	getLinks := func(ctx context.Context, c cid.Cid) ([]*ipld.Link, error) {
		links, err := merkledag.GetLinksWithDAG(local)(ctx, c)
		if ipld.IsNotFound(err) {
			return nil, nil // a pinned DAG with a missing block keeps what it has
		}
		return links, err
	}
	pins, err := n.Pins(ctx)
	if err != nil {
		return api.GCResult{}, fmt.Errorf("gc: %w", err)
	}
	// Versions a mirror is fetching keep what of them has arrived, also
	// across a restart, until they are pinned or no longer wanted.
	wanted, err := n.mirrorState.Wanted(ctx)
	if err != nil {
		return api.GCResult{}, fmt.Errorf("gc: %w", err)
	}
	for _, c := range append(wanted, inflight...) {
		pins = append(pins, api.PinInfo{CID: c, Type: "wanted"})
	}
	for _, p := range pins {
		if p.Type == "direct" {
			keep.Add(p.CID)
			continue
		}
		if err := merkledag.Walk(ctx, getLinks, p.CID, keep.Visit, merkledag.Concurrent()); err != nil {
			return api.GCResult{}, fmt.Errorf("gc: walk pin %s: %w", p.CID, err)
		}
	}
	keepHash := make(map[string]struct{}, keep.Len())
	_ = keep.ForEach(func(c cid.Cid) error { keepHash[string(c.Hash())] = struct{}{}; return nil })
	keys, err := n.Blockstore.AllKeysChan(ctx)
	if err != nil {
		return api.GCResult{}, fmt.Errorf("gc: list blocks: %w", err)
	}
	var res api.GCResult
	for k := range keys {
		if _, ok := keepHash[string(k.Hash())]; ok {
			res.Kept++
			continue
		}
		deleted, err := n.gc.deleteUnlessWritten(ctx, n.Blockstore, k)
		if err != nil {
			return res, fmt.Errorf("gc: delete %s: %w", k, err)
		}
		if deleted {
			res.Removed++
		} else {
			res.Kept++
		}
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}
	if err := n.store.Sync(ctx); err != nil {
		return res, fmt.Errorf("gc: %w", err)
	}
	if res.Removed > 0 && n.announce != nil {
		// Stop reproviding what is no longer here, rather than at the
		// next interval's resync.
		n.announce.resync()
	}
	res.Duration = time.Since(start)
	return res, nil
}

package store

import (
	"container/list"
	"context"
	"sync"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
)

// readCache keeps recently read blocks in memory, up to a byte budget.
// A gateway reads the same few blocks for every request of a popular
// design (its root folder, the file's node, small files whole): from pebble
// each read costs a lookup through every level and a copy, about 20 µs and
// a seventh of a 4 KiB request's CPU. Blocks are immutable, so a cached one
// is returned as it is (with the CID it was asked by: a CIDv0 and a CIDv1
// of the same multihash share an entry). Only reads fill it: an import or
// a fetch writing a library must not push out what is being served.
type readCache struct {
	blockstore.Blockstore
	budget   int // bytes of block data kept at most
	maxEntry int // larger blocks are not kept

	mu      sync.Mutex
	deletes uint64 // DeleteBlock calls begun: a read that overlapped one is not kept
	used    int
	order   *list.List // front: most recently used; values are *cacheEntry
	entries map[string]*list.Element
}

type cacheEntry struct {
	key  string // the multihash
	data []byte
}

// newReadCache puts a read cache of budget bytes in front of bs; a budget
// of zero or less returns bs unchanged.
func newReadCache(bs blockstore.Blockstore, budget int) blockstore.Blockstore {
	if budget <= 0 {
		return bs
	}
	return &readCache{
		Blockstore: bs,
		budget:     budget,
		maxEntry:   min(budget/16, 1<<20),
		order:      list.New(),
		entries:    make(map[string]*list.Element),
	}
}

func (rc *readCache) lookup(c cid.Cid) ([]byte, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	e, ok := rc.entries[string(c.Hash())]
	if !ok {
		return nil, false
	}
	rc.order.MoveToFront(e)
	return e.Value.(*cacheEntry).data, true
}

func (rc *readCache) add(c cid.Cid, data []byte, deletes uint64) {
	if len(data) > rc.maxEntry {
		return
	}
	key := string(c.Hash())
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.deletes != deletes {
		// A block deleted while it was read must not be kept: Has
		// would then say it is stored, and a pin could be recorded
		// over a block that is gone.
		return
	}
	if e, ok := rc.entries[key]; ok {
		rc.order.MoveToFront(e)
		return
	}
	rc.entries[key] = rc.order.PushFront(&cacheEntry{key: key, data: data})
	rc.used += len(data)
	for rc.used > rc.budget {
		rc.removeLocked(rc.order.Back())
	}
}

func (rc *readCache) removeLocked(e *list.Element) {
	ce := rc.order.Remove(e).(*cacheEntry)
	delete(rc.entries, ce.key)
	rc.used -= len(ce.data)
}

func (rc *readCache) evict(c cid.Cid) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.deletes++
	if e, ok := rc.entries[string(c.Hash())]; ok {
		rc.removeLocked(e)
	}
}

// purge drops every entry (the store is closing).
func (rc *readCache) purge() {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	rc.order.Init()
	rc.entries = make(map[string]*list.Element)
	rc.used = 0
}

func (rc *readCache) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	if ctx.Value(uncachedKey{}) != nil {
		return rc.Blockstore.Get(ctx, c)
	}
	if data, ok := rc.lookup(c); ok {
		return blocks.NewBlockWithCid(data, c)
	}
	rc.mu.Lock()
	deletes := rc.deletes
	rc.mu.Unlock()
	b, err := rc.Blockstore.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	rc.add(c, b.RawData(), deletes)
	return b, nil
}

func (rc *readCache) Has(ctx context.Context, c cid.Cid) (bool, error) {
	if ctx.Value(uncachedKey{}) == nil {
		if _, ok := rc.lookup(c); ok {
			return true, nil
		}
	}
	return rc.Blockstore.Has(ctx, c)
}

func (rc *readCache) GetSize(ctx context.Context, c cid.Cid) (int, error) {
	if ctx.Value(uncachedKey{}) == nil {
		if data, ok := rc.lookup(c); ok {
			return len(data), nil
		}
	}
	return rc.Blockstore.GetSize(ctx, c)
}

func (rc *readCache) DeleteBlock(ctx context.Context, c cid.Cid) error {
	rc.evict(c)
	return rc.Blockstore.DeleteBlock(ctx, c)
}

type uncachedKey struct{}

// Uncached returns a context whose block reads go to the disk, past the
// read cache: `commons verify` must hash what is stored, not a copy in
// memory of what was once read.
func Uncached(ctx context.Context) context.Context {
	return context.WithValue(ctx, uncachedKey{}, true)
}

// The GC blockstore interface, which boxo's pinner and gc find by type
// assertion, is passed through.
var _ blockstore.Blockstore = (*readCache)(nil)

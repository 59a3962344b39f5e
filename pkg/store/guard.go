package store

import (
	"context"
	"errors"
	"strings"
	"sync"

	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
)

// ErrClosed is returned by every operation on a closed store.
var ErrClosed = errors.New("store is closed")

// guarded makes use after Close an error instead of a crash: pebble panics
// when a closed database is used, and a node's late goroutines (a stream
// handler that was already running, a DHT lookup finishing) may touch the
// store after shutdown began. Close waits for the operations in flight.
//
// It also refuses writes for lack of disk space (space.admit), before
// pebble sees them: pebble cannot survive a write that fails for that.
type guarded struct {
	ds.Batching
	space    *space // nil: no space checks
	readOnly bool   // pebble was opened read-only: every write is refused
	mu       sync.RWMutex
	closed   bool
}

// blockPrefix is where boxo's block store keeps blocks in the datastore.
const blockPrefix = "/blocks/"

// admit says whether a write of n bytes under key k (or, for a batch,
// with block set if any key is a block's) may go ahead.
func (g *guarded) admit(n int, block, del bool) error {
	if g.space == nil {
		return nil
	}
	if g.readOnly {
		return g.space.snapshot().Refusing
	}
	return g.space.admit(n, block, del)
}

func isBlock(k ds.Key) bool { return strings.HasPrefix(k.String(), blockPrefix) }

func (g *guarded) enter() error {
	g.mu.RLock()
	if g.closed {
		g.mu.RUnlock()
		return ErrClosed
	}
	return nil
}

func (g *guarded) Get(ctx context.Context, k ds.Key) ([]byte, error) {
	if err := g.enter(); err != nil {
		return nil, err
	}
	defer g.mu.RUnlock()
	return g.Batching.Get(ctx, k)
}

func (g *guarded) Has(ctx context.Context, k ds.Key) (bool, error) {
	if err := g.enter(); err != nil {
		return false, err
	}
	defer g.mu.RUnlock()
	return g.Batching.Has(ctx, k)
}

func (g *guarded) GetSize(ctx context.Context, k ds.Key) (int, error) {
	if err := g.enter(); err != nil {
		return -1, err
	}
	defer g.mu.RUnlock()
	return g.Batching.GetSize(ctx, k)
}

func (g *guarded) Put(ctx context.Context, k ds.Key, v []byte) error {
	if err := g.enter(); err != nil {
		return err
	}
	defer g.mu.RUnlock()
	if err := g.admit(len(k.String())+len(v), isBlock(k), false); err != nil {
		return err
	}
	return g.Batching.Put(ctx, k, v)
}

func (g *guarded) Delete(ctx context.Context, k ds.Key) error {
	if err := g.enter(); err != nil {
		return err
	}
	defer g.mu.RUnlock()
	if err := g.admit(len(k.String()), false, true); err != nil {
		return err
	}
	return g.Batching.Delete(ctx, k)
}

func (g *guarded) Sync(ctx context.Context, prefix ds.Key) error {
	if err := g.enter(); err != nil {
		return err
	}
	defer g.mu.RUnlock()
	if g.readOnly {
		return nil // nothing was written
	}
	return g.Batching.Sync(ctx, prefix)
}

func (g *guarded) Query(ctx context.Context, q query.Query) (query.Results, error) {
	if err := g.enter(); err != nil {
		return nil, err
	}
	defer g.mu.RUnlock()
	return g.Batching.Query(ctx, q)
}

func (g *guarded) Batch(ctx context.Context) (ds.Batch, error) {
	if err := g.enter(); err != nil {
		return nil, err
	}
	defer g.mu.RUnlock()
	b, err := g.Batching.Batch(ctx)
	if err != nil {
		return nil, err
	}
	return &guardedBatch{Batch: b, g: g}, nil
}

// close marks the store closed once the operations in flight are done,
// then runs f (the real close).
func (g *guarded) close(f func() error) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.closed {
		return ErrClosed
	}
	g.closed = true
	return f()
}

type guardedBatch struct {
	ds.Batch
	g     *guarded
	bytes int
	puts  bool
	block bool
}

func (b *guardedBatch) Put(ctx context.Context, k ds.Key, v []byte) error {
	b.bytes += len(k.String()) + len(v)
	b.puts = true
	b.block = b.block || isBlock(k)
	return b.Batch.Put(ctx, k, v)
}

func (b *guardedBatch) Delete(ctx context.Context, k ds.Key) error {
	b.bytes += len(k.String())
	return b.Batch.Delete(ctx, k)
}

// Commit writes the batch, unless the store refuses it for lack of space:
// then nothing of it is written.
func (b *guardedBatch) Commit(ctx context.Context) error {
	if err := b.g.enter(); err != nil {
		return err
	}
	defer b.g.mu.RUnlock()
	if err := b.g.admit(b.bytes, b.block, !b.puts); err != nil {
		return err
	}
	return b.Batch.Commit(ctx)
}

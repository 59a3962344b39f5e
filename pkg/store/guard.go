package store

import (
	"context"
	"errors"
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
type guarded struct {
	ds.Batching
	mu     sync.RWMutex
	closed bool
}

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
	return g.Batching.Put(ctx, k, v)
}

func (g *guarded) Delete(ctx context.Context, k ds.Key) error {
	if err := g.enter(); err != nil {
		return err
	}
	defer g.mu.RUnlock()
	return g.Batching.Delete(ctx, k)
}

func (g *guarded) Sync(ctx context.Context, prefix ds.Key) error {
	if err := g.enter(); err != nil {
		return err
	}
	defer g.mu.RUnlock()
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
	g *guarded
}

func (b *guardedBatch) Commit(ctx context.Context) error {
	if err := b.g.enter(); err != nil {
		return err
	}
	defer b.g.mu.RUnlock()
	return b.Batch.Commit(ctx)
}

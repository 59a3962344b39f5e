package store

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/cockroachdb/pebble/v2"
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
	db       *pebble.DB // the pebble under Batching, read directly by size; nil in tests over other stores
	space    *space     // nil: no space checks
	readOnly bool       // pebble was opened read-only: every write is refused
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
	if g.db == nil {
		return g.Batching.Has(ctx, k)
	}
	size, err := g.size(k)
	return size >= 0, err
}

func (g *guarded) GetSize(ctx context.Context, k ds.Key) (int, error) {
	if err := g.enter(); err != nil {
		return -1, err
	}
	defer g.mu.RUnlock()
	if g.db == nil {
		return g.Batching.GetSize(ctx, k)
	}
	size, err := g.size(k)
	if err == nil && size < 0 {
		err = ds.ErrNotFound
	}
	return size, err
}

// size answers Has and GetSize from the key and the value's length alone,
// -1 when the key is absent. go-ds-pebble's read the whole value, and a
// block's is up to 2 MiB in a blob file: bitswap asks both of every want,
// a fetch asks Has of every block it receives, a fetch's plan of every
// leaf. SeekPrefixGE consults the tables' bloom filters, as Get does, and
// the value is left unread.
func (g *guarded) size(k ds.Key) (int, error) {
	key := k.Bytes()
	it, err := g.db.NewIter(nil)
	if err != nil {
		return -1, err
	}
	size := -1
	if it.SeekPrefixGE(key) && bytes.Equal(it.Key(), key) {
		lv := it.LazyValue()
		size = lv.Len()
	}
	if err := it.Close(); err != nil {
		return -1, err
	}
	return size, nil
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
	if g.db != nil {
		return &guardedBatch{g: g}, nil
	}
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

// guardedBatch is a batch that the store may refuse whole. Over pebble
// it keeps its operations (keys and values by reference: blocks are not
// changed once made) and writes them into one pebble batch of the right
// size at Commit: go-ds-pebble's batch grows by doubling, which copied
// and allocated about twice what a fetch or an import wrote.
type guardedBatch struct {
	ds.Batch // nil over pebble
	g        *guarded
	ops      []batchOp
	bytes    int
	puts     bool
	block    bool
}

type batchOp struct {
	key []byte
	val []byte // nil for a delete
	del bool
}

func (b *guardedBatch) Put(ctx context.Context, k ds.Key, v []byte) error {
	b.bytes += len(k.String()) + len(v)
	b.puts = true
	b.block = b.block || isBlock(k)
	if b.Batch == nil {
		b.ops = append(b.ops, batchOp{key: k.Bytes(), val: v})
		return nil
	}
	return b.Batch.Put(ctx, k, v)
}

func (b *guardedBatch) Delete(ctx context.Context, k ds.Key) error {
	b.bytes += len(k.String())
	if b.Batch == nil {
		b.ops = append(b.ops, batchOp{key: k.Bytes(), del: true})
		return nil
	}
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
	if b.Batch != nil {
		return b.Batch.Commit(ctx)
	}
	// Each record is its kind, two varint lengths, the key and the value.
	pb := b.g.db.NewBatchWithSize(batchHeader + b.bytes + len(b.ops)*(1+2*binary.MaxVarintLen32))
	defer pb.Close()
	for _, op := range b.ops {
		var err error
		if op.del {
			err = pb.Delete(op.key, nil)
		} else {
			err = pb.Set(op.key, op.val, nil)
		}
		if err != nil {
			return fmt.Errorf("batch: %w", err)
		}
	}
	b.ops = nil
	// NoSync, as go-ds-pebble's: durability comes from Sync at the
	// points where something is reported done.
	if err := pb.Commit(pebble.NoSync); err != nil {
		return fmt.Errorf("pebble error during commit: %w", err)
	}
	return nil
}

// batchHeader is the size of a pebble batch's header.
const batchHeader = 12

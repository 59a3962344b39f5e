// Package store is a node's one persistent store on disk: blocks, pins, DHT
// records and the provider queue live in a single pebble database, so one
// write-ahead log orders all of them and one sync makes all of them durable.
//
// Writes are not synced one by one (that would make an import crawl).
// Instead callers reach a commit point, such as the end of a publish, an
// import or a pin, and call Sync: everything written before it is then on
// disk and survives a kill -9 or a power cut. Because the log is sequential,
// a sync also covers every earlier unsynced write, so a pin written after its
// blocks can never survive a crash without them.
package store

import (
	"context"
	"errors"
	"fmt"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/ipfs/boxo/blockstore"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	pebbleds "github.com/ipfs/go-ds-pebble"
)

// Options tune the store. The zero value is a good default.
type Options struct {
	// CacheSize is pebble's block cache in bytes; 0 means 64 MiB.
	CacheSize int64
}

// Store is the on-disk datastore of a repo. It is safe for concurrent use.
type Store struct {
	path   string
	db     *pebbleds.Datastore
	ds     *guarded
	bs     blockstore.Blockstore
	cancel context.CancelFunc // stops the cache's background bloom-filter build
}

// Open opens (creating if needed) the store in the directory path. Only one
// process may have a store open; pebble's own lock refuses a second one, but
// callers should hold the repo lock first to give a clearer message.
func Open(path string, opts Options) (*Store, error) {
	cache := opts.CacheSize
	if cache <= 0 {
		cache = 64 << 20
	}
	po := &pebble.Options{
		// 32 MiB memtables, at most 3 queued: large enough that imports
		// do not stall on flushes, small enough to bound memory (the
		// peak during a fetch was 235 MiB with 64 MiB x 4).
		// Blocks are up to 1 MiB (2 MiB from peers); a larger memtable keeps
		// imports from stalling on flushes.
		MemTableSize:                32 << 20,
		MemTableStopWritesThreshold: 3,
		L0CompactionThreshold:       4,
		L0StopWritesThreshold:       24,
		BytesPerSync:                1 << 20,
		WALBytesPerSync:             1 << 20,
	}
	// Block data is compressed already (CAD archives, images) or random
	// enough that snappy only costs CPU on every flush and compaction;
	// the small records (pins, DHT) are few. Bloom filters let a lookup of
	// an absent block (most of a bitswap server's) skip every table.
	for i := range po.Levels {
		po.Levels[i].Compression = func() *sstable.CompressionProfile { return sstable.NoCompression }
		po.Levels[i].FilterPolicy = bloom.FilterPolicy(10)
	}
	d, err := pebbleds.NewDatastore(path, pebbleds.WithPebbleOpts(po), pebbleds.WithCacheSize(cache))
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	// Has and GetSize read the whole value from pebble; bitswap asks
	// them for every want. boxo's 2Q cache answers repeated ones from
	// memory. Its bloom filter is left off: building it at start reads
	// every block (+100 MiB resident for a 256 MiB library); pebble's
	// per-table bloom filters answer misses without reading values.
	// WriteThrough skips a Has before every Put: content addressing makes
	// a rewrite harmless.
	g := &guarded{Batching: d}
	ctx, cancel := context.WithCancel(context.Background())
	cached, err := blockstore.CachedBlockstore(ctx, blockstore.NewBlockstore(g, blockstore.WriteThrough(true)), blockstore.CacheOpts{HasTwoQueueCacheSize: 64 << 10})
	if err != nil {
		cancel()
		d.Close()
		return nil, fmt.Errorf("open store %s: cache: %w", path, err)
	}
	bs := layers(cached)
	return &Store{path: path, db: d, ds: g, bs: bs, cancel: cancel}, nil
}

// layers puts the blocks that need no storage above base: identity CIDs
// carry their data inline (boxo's IdStore) and the zero-length block is
// fixed by its CID (NewEmptyStore). They sit above any cache, whose view is
// only of stored keys.
func layers(base blockstore.Blockstore) blockstore.Blockstore {
	return NewEmptyStore(blockstore.NewIdStore(base))
}

// Memory is a Store kept in memory, with the same block layers as the
// on-disk one: for tests and throwaway nodes. Sync does nothing, and
// everything is lost when it is dropped.
type Memory struct {
	ds ds.Batching
	bs blockstore.Blockstore
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory {
	d := dssync.MutexWrap(ds.NewMapDatastore())
	return &Memory{ds: d, bs: layers(blockstore.NewBlockstore(d))}
}

// Datastore returns the key-value store.
func (m *Memory) Datastore() ds.Batching { return m.ds }

// Blockstore returns the block store.
func (m *Memory) Blockstore() blockstore.Blockstore { return m.bs }

// Sync does nothing: memory is not durable.
func (m *Memory) Sync(context.Context) error { return nil }

// Datastore returns the key-value store under everything. Pins, DHT records
// and queues keep their own key prefixes in it.
func (s *Store) Datastore() ds.Batching { return s.ds }

// Blockstore returns the block store (keys under /blocks). Get and GetSize
// of a missing block return an error satisfying ipld.IsNotFound. Identity
// CIDs and the zero-length block are always present.
func (s *Store) Blockstore() blockstore.Blockstore { return s.bs }

// Sync makes every write that returned before the call durable. It is the
// commit point of publish, import and pin.
func (s *Store) Sync(ctx context.Context) error {
	if err := s.ds.Sync(ctx, ds.NewKey("/")); err != nil {
		return fmt.Errorf("sync store %s: %w", s.path, err)
	}
	return nil
}

// DiskUsage reports the bytes the store occupies on disk.
func (s *Store) DiskUsage(ctx context.Context) (uint64, error) {
	return s.db.DiskUsage(ctx)
}

// Close syncs and closes the store, once the operations in flight are
// done. Every later operation fails with ErrClosed, as does a second Close.
func (s *Store) Close() error {
	s.cancel()
	err := s.ds.close(func() error {
		// Flush the memtables to sstables: otherwise the next Open
		// replays the write-ahead log into memory, and a process that
		// opens a store after a large import holds up to 3 memtables
		// (96 MiB) of it.
		return errors.Join(s.db.DB.Flush(), s.db.Close())
	})
	if err != nil {
		return fmt.Errorf("close store %s: %w", s.path, err)
	}
	return nil
}

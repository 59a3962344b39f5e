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
	"os"
	"time"

	"github.com/cockroachdb/pebble/v2"
	"github.com/cockroachdb/pebble/v2/bloom"
	"github.com/cockroachdb/pebble/v2/sstable"
	"github.com/cockroachdb/pebble/v2/vfs"
	"github.com/ipfs/boxo/blockstore"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	pebbleds "github.com/ipfs/go-ds-pebble"
	golog "github.com/ipfs/go-log/v2"
)

// Options tune the store. The zero value keeps no reserve and no ballast,
// for tests and throwaway stores; a repo passes its configuration
// (datastore.min_free and datastore.ballast).
type Options struct {
	// CacheSize is pebble's block cache in bytes; 0 means 64 MiB.
	CacheSize int64
	// ReadCache is the memory, in bytes, kept for blocks recently read
	// (whole, in front of pebble; see readCache); 0 means 32 MiB, less
	// than 0 none.
	ReadCache int
	// MinFree is the free space, in bytes, the store leaves on its disk:
	// below it new blocks are refused with ErrNoSpace. 0: no reserve.
	MinFree int64
	// Ballast is the size of the emergency ballast file kept in the
	// store's directory and deleted if the disk runs out all the same.
	// 0: none.
	Ballast int64
}

// Space is the store's view of the free space on its disk.
type Space struct {
	// Free is the bytes available on the disk at the last look.
	Free int64
	// MinFree is the reserve the store keeps (Options.MinFree).
	MinFree int64
	// Ballast is the bytes of ballast held now: 0 when there is none, or
	// after it was given up for lack of space.
	Ballast int64
	// Refusing is nil while the store takes new blocks; otherwise why it
	// does not (it wraps ErrNoSpace).
	Refusing error
}

// Store is the on-disk datastore of a repo. It is safe for concurrent use.
type Store struct {
	path     string
	db       *pebbleds.Datastore
	ds       *guarded
	bs       blockstore.Blockstore
	space    *space
	readOnly bool
	// flushRoom is what Close wants free beyond the memtables before it
	// flushes them (tests raise it to see Close without room).
	flushRoom int64
	cancel    context.CancelFunc // stops the cache's background bloom-filter build
	readCache *readCache         // nil when off
}

// Open opens (creating if needed) the store in the directory path. Only one
// process may have a store open; pebble's own lock refuses a second one, but
// callers should hold the repo lock first to give a clearer message.
//
// A store whose disk has no room for what opening writes (pebble flushes
// the log it replays) is opened read-only, even after its ballast is given
// up: reads work and every write fails with ErrNoSpace until it is opened
// again with room. A new store is not created on such a disk.
func Open(path string, opts Options) (*Store, error) {
	cache := opts.CacheSize
	if cache <= 0 {
		cache = 64 << 20
	}
	if err := os.MkdirAll(path, 0o755); err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	sp := newSpace(path, opts.MinFree, opts.Ballast)
	sp.adoptBallast()
	readOnly, err := openMode(path, sp)
	if err != nil {
		return nil, fmt.Errorf("open store %s: %w", path, err)
	}
	po := &pebble.Options{
		// The real file system, watched for ENOSPC: the first write that
		// fails for lack of space gives up the ballast and is retried.
		FS:       vfs.OnDiskFull(vfs.Default, sp.onDiskFull),
		Logger:   newQuietLogger(golog.Logger("pebble")),
		ReadOnly: readOnly,

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

		FormatMajorVersion: pebble.FormatValueSeparation,
	}
	// A flush writes one table and one blob file per L0 target size and
	// syncs each. At pebble's default of 2 MB a 256 MiB import wrote 104
	// blob files and made 243 fdatasync calls; at 8 MiB a flush of a
	// 32 MiB memtable is 4 of each, and the import took 2.5-2.8 s instead
	// of 2.8-3.6 s on this disk, with the same bytes written (802 against
	// 806 MiB for five imports of 64 MiB). Larger is no faster and worse:
	// at 64 MiB (one file per flush, each spanning the whole key space)
	// compactions soon had tables referencing more blob files than
	// MaxBlobReferenceDepth allows and rewrote the block data, 947 MiB
	// written and a transient peak of 738 against 541 MiB on disk, which
	// ran a disk that had room out of space (TestNetLabDiskFull).
	po.TargetFileSizes[0] = 8 << 20
	po.Experimental.ValueSeparationPolicy = func() pebble.ValueSeparationPolicy {
		return pebble.ValueSeparationPolicy{
			Enabled:               true,
			MinimumSize:           1 << 10,
			MaxBlobReferenceDepth: 10,
			RewriteMinimumAge:     5 * time.Minute,
			TargetGarbageRatio:    0.2,
		}
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
	g := &guarded{Batching: d, db: d.DB, space: sp, readOnly: readOnly}
	if !readOnly {
		sp.mu.Lock()
		sp.look() // makes the ballast, now that pebble has what it needs
		sp.mu.Unlock()
	}
	ctx, cancel := context.WithCancel(context.Background())
	cached, err := blockstore.CachedBlockstore(ctx, blockstore.NewBlockstore(g, blockstore.WriteThrough(true)), blockstore.CacheOpts{HasTwoQueueCacheSize: 64 << 10})
	if err != nil {
		cancel()
		d.Close()
		return nil, fmt.Errorf("open store %s: cache: %w", path, err)
	}
	budget := opts.ReadCache
	if budget == 0 {
		budget = 32 << 20
	}
	rc := newReadCache(cached, budget)
	bs := layers(rc)
	st := &Store{path: path, db: d, ds: g, bs: bs, space: sp, readOnly: readOnly, flushRoom: openHeadroom, cancel: cancel}
	if c, ok := rc.(*readCache); ok {
		st.readCache = c
	}
	return st, nil
}

// openMode decides whether the store at path can be opened for writing:
// pebble replays its log and flushes it, and writes a little more, when
// it opens, and a flush that fails for lack of space is retried forever.
// It gives up the ballast if that makes the room.
func openMode(path string, sp *space) (readOnly bool, err error) {
	// The logs' sizes bound what is replayed, and so does the size of
	// the memtables it is replayed into; each overcounts (recycled logs,
	// memtables' slack), so when the disk is short of the first the
	// second is asked of pebble and the lesser taken.
	need := walBytes(path) + openHeadroom
	free, err := sp.statFree()
	if err != nil {
		return false, err
	}
	if free < need {
		if n, ok := replayBytes(path); ok {
			need = min(need, n+openHeadroom)
		}
	}
	if free < need && sp.ballast > 0 {
		sp.releaseBallast()
		if free, err = sp.statFree(); err != nil {
			return false, err
		}
	}
	if free >= need {
		return false, nil
	}
	desc, err := pebble.Peek(path, vfs.Default)
	if err != nil || !desc.Exists {
		return false, fmt.Errorf("%w on the disk of %s to create a store: %s free, it needs %s; %s", ErrNoSpace, path, fmtBytes(free), fmtBytes(need), whatToDo)
	}
	sp.setReadOnly(free, need)
	return true, nil
}

// replayBytes opens the store at path read-only, which replays its logs
// into memory and writes nothing, and returns the size of the memtables
// that a writable open would flush.
func replayBytes(path string) (int64, bool) {
	po := &pebble.Options{ReadOnly: true, Logger: newQuietLogger(golog.Logger("pebble"))}
	db, err := pebble.Open(path, po)
	if err != nil {
		return 0, false
	}
	n := int64(db.Metrics().MemTable.Size)
	if err := db.Close(); err != nil {
		return 0, false
	}
	return n, true
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
// commit point of publish, import and pin. A read-only store has nothing
// to sync.
func (s *Store) Sync(ctx context.Context) error {
	if s.readOnly {
		return nil
	}
	if err := s.ds.Sync(ctx, ds.NewKey("/")); err != nil {
		return fmt.Errorf("sync store %s: %w", s.path, err)
	}
	return nil
}

// CheckSpace looks at the free space on the store's disk now, and returns
// an error wrapping ErrNoSpace, which says how much is free and what to do,
// if new blocks are refused or an operation that writes about need bytes of
// them (0: unknown) would go below the reserve. Operations call it before
// they start, so that one that cannot fit changes nothing; the store still
// checks as it writes. It is also how writes resume soon after space is
// freed, and how the ballast is made again.
func (s *Store) CheckSpace(need int64) error {
	return s.space.check(need)
}

// Space returns the store's view of the free space on its disk, as of its
// last look.
func (s *Store) Space() Space { return s.space.snapshot() }

// SpaceChanged returns a channel that is closed when the store starts or
// stops refusing new blocks; call Space for the new state and SpaceChanged
// again for the next change.
func (s *Store) SpaceChanged() <-chan struct{} { return s.space.changedCh() }

// DiskUsage reports the bytes the store occupies on disk.
func (s *Store) DiskUsage(ctx context.Context) (uint64, error) {
	return s.db.DiskUsage(ctx)
}

// Close syncs and closes the store, once the operations in flight are
// done. Every later operation fails with ErrClosed, as does a second Close.
func (s *Store) Close() error {
	s.cancel()
	if s.readCache != nil {
		s.readCache.purge() // reads after Close fail, cached or not
	}
	err := s.ds.close(func() error {
		if s.readOnly {
			return s.db.Close()
		}
		// Flush the memtables to sstables: otherwise the next Open
		// replays the write-ahead log into memory, and a process that
		// opens a store after a large import holds up to 3 memtables
		// (96 MiB) of it. But a flush that fails for lack of space is
		// retried forever and Flush never returns: without room for it
		// (after giving up the ballast), close without it. The log holds
		// everything, and the next Open replays it.
		if !s.roomToFlush() {
			return s.db.DB.Close()
		}
		return errors.Join(s.db.DB.Flush(), s.db.Close())
	})
	if err != nil {
		return fmt.Errorf("close store %s: %w", s.path, err)
	}
	return nil
}

// roomToFlush reports whether the disk has room to flush the memtables,
// giving up the ballast if that makes it.
func (s *Store) roomToFlush() bool {
	need := int64(s.db.DB.Metrics().MemTable.Size) + s.flushRoom
	sp := s.space
	sp.mu.Lock()
	defer sp.mu.Unlock()
	free, err := sp.statFree()
	if err != nil {
		return false
	}
	if free < need && sp.releaseBallast() > 0 {
		if free, err = sp.statFree(); err != nil {
			return false
		}
	}
	return free >= need
}

package store

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	ipld "github.com/ipfs/go-ipld-format"

	"github.com/commons-p2p/commons/pkg/store/storetest"
)

// gatedStore is a block store whose Get can be held at a gate, to let a
// delete overtake a read.
type gatedStore struct {
	blockstore.Blockstore
	entered chan struct{} // receives when a Get is at the gate
	gate    chan struct{} // a Get goes on when this is closed
}

func (g *gatedStore) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	b, err := g.Blockstore.Get(ctx, c)
	if g.gate != nil {
		g.entered <- struct{}{}
		<-g.gate
	}
	return b, err
}

// newMapStore is a block store in memory whose Put always writes (so a
// test can put other bytes under a CID, as a disk that rots would).
func newMapStore() blockstore.Blockstore {
	return blockstore.NewBlockstore(dssync.MutexWrap(datastore.NewMapDatastore()), blockstore.WriteThrough(true))
}

// The cache must pass the same suite as every block store.
func TestConformanceReadCache(t *testing.T) {
	storetest.Run(t, func(t *testing.T) blockstore.Blockstore {
		return blockstore.NewIdStore(newReadCache(newMapStore(), 1<<20))
	})
}

func TestReadCache(t *testing.T) {
	ctx := context.Background()
	base := newMapStore()
	bs := newReadCache(base, 64<<10).(*readCache)
	b := storetest.Block(t, []byte("the bill of materials"))
	if err := bs.Put(ctx, b); err != nil {
		t.Fatal(err)
	}
	if _, ok := bs.lookup(b.Cid()); ok {
		t.Fatal("a Put filled the cache; only reads should")
	}
	if _, err := bs.Get(ctx, b.Cid()); err != nil {
		t.Fatal(err)
	}
	if _, ok := bs.lookup(b.Cid()); !ok {
		t.Fatal("a Get did not fill the cache")
	}

	t.Run("another CID of the same multihash", func(t *testing.T) {
		v0 := cid.NewCidV0(b.Cid().Hash())
		got, err := bs.Get(ctx, v0)
		if err != nil || got.Cid() != v0 || !bytes.Equal(got.RawData(), b.RawData()) {
			t.Fatalf("Get(%s) = %v, %v; want the block under the CID asked for", v0, got, err)
		}
	})

	t.Run("Uncached reads the store", func(t *testing.T) {
		// What a disk that rotted under a running node looks like:
		// the store holds other bytes than the cache.
		rotten, err := blocks.NewBlockWithCid([]byte("rotten bytes"), b.Cid())
		if err != nil {
			t.Fatal(err)
		}
		if err := base.Put(ctx, rotten); err != nil {
			t.Fatal(err)
		}
		got, err := bs.Get(Uncached(ctx), b.Cid())
		if err != nil || !bytes.Equal(got.RawData(), rotten.RawData()) {
			t.Fatalf("uncached Get = %q, %v; want what the store holds", got.RawData(), err)
		}
		if err := base.Put(ctx, b); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("delete", func(t *testing.T) {
		if err := bs.DeleteBlock(ctx, b.Cid()); err != nil {
			t.Fatal(err)
		}
		if has, err := bs.Has(ctx, b.Cid()); err != nil || has {
			t.Fatalf("Has after delete = %v, %v", has, err)
		}
		if _, err := bs.Get(ctx, b.Cid()); !ipld.IsNotFound(err) {
			t.Fatalf("Get after delete: %v; want not found", err)
		}
	})

	t.Run("budget", func(t *testing.T) {
		for i := range 40 {
			blk := storetest.Block(t, bytes.Repeat([]byte{byte(i)}, 3000+i))
			if err := bs.Put(ctx, blk); err != nil {
				t.Fatal(err)
			}
			if _, err := bs.Get(ctx, blk.Cid()); err != nil {
				t.Fatal(err)
			}
			if bs.used > bs.budget {
				t.Fatalf("after %d reads the cache holds %d bytes, over its budget of %d", i+1, bs.used, bs.budget)
			}
		}
		big := storetest.Block(t, bytes.Repeat([]byte("x"), bs.maxEntry+1))
		if err := bs.Put(ctx, big); err != nil {
			t.Fatal(err)
		}
		if _, err := bs.Get(ctx, big.Cid()); err != nil {
			t.Fatal(err)
		}
		if _, ok := bs.lookup(big.Cid()); ok {
			t.Errorf("a block of %d bytes was kept; the largest kept is %d", len(big.RawData()), bs.maxEntry)
		}
	})
}

// TestReadCacheDeleteDuringRead: a read that began before a delete and
// ends after it must not leave the block in the cache, or Has would say a
// block is stored that gc has removed.
func TestReadCacheDeleteDuringRead(t *testing.T) {
	ctx := context.Background()
	gated := &gatedStore{Blockstore: newMapStore(), entered: make(chan struct{}), gate: make(chan struct{})}
	bs := newReadCache(gated, 1<<20).(*readCache)
	b := storetest.Block(t, []byte("removed while read"))
	if err := gated.Blockstore.Put(ctx, b); err != nil {
		t.Fatal(err)
	}
	done := make(chan error)
	go func() {
		_, err := bs.Get(ctx, b.Cid())
		done <- err
	}()
	<-gated.entered // the read has the block and waits
	if err := bs.DeleteBlock(ctx, b.Cid()); err != nil {
		t.Fatal(err)
	}
	close(gated.gate)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	gated.gate = nil
	if has, err := bs.Has(ctx, b.Cid()); err != nil || has {
		t.Fatalf("Has = %v, %v after the block was deleted during a read", has, err)
	}
	if n := len(bs.entries); n != 0 {
		t.Fatalf("the cache holds %d entries: %v", n, fmt.Sprint(bs.entries))
	}
}

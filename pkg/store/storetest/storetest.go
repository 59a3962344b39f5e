// Package storetest is the conformance suite that every block store of
// commons runs: the on-disk store, and any later backend or decorator. A
// backend passes when it behaves like a content-addressed map with the
// contracts documented on boxo's blockstore.Blockstore.
package storetest

import (
	"bytes"
	"context"
	"fmt"
	"testing"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

// Factory returns a new, empty block store for one subtest. It registers its
// own cleanup with t.
type Factory func(t *testing.T) blockstore.Blockstore

// Run runs every conformance test against stores made by newStore.
func Run(t *testing.T, newStore Factory) {
	tests := []struct {
		name string
		fn   func(t *testing.T, bs blockstore.Blockstore)
	}{
		{"PutGet", testPutGet},
		{"MissingIsNotFound", testMissing},
		{"PutManyAndAllKeys", testPutManyAllKeys},
		{"DeleteThenMissing", testDelete},
		{"DeleteMissingIsNoError", testDeleteMissing},
		{"PutTwiceIsIdempotent", testPutTwice},
		{"IdentityCIDsNeedNoStorage", testIdentity},
		{"CIDVersionsShareBlocks", testCIDVersions},
		{"EmptyBlock", testEmptyBlock},
		{"CancelledContext", testCancelled},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, newStore(t)) })
	}
}

// Block returns a raw CIDv1 block holding data.
func Block(t testing.TB, data []byte) blocks.Block {
	t.Helper()
	h, err := mh.Sum(data, mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	b, err := blocks.NewBlockWithCid(data, cid.NewCidV1(cid.Raw, h))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func testPutGet(t *testing.T, bs blockstore.Blockstore) {
	ctx := context.Background()
	b := Block(t, []byte("brick press frame, 40x40 steel tube"))
	if err := bs.Put(ctx, b); err != nil {
		t.Fatalf("Put: %v", err)
	}
	got, err := bs.Get(ctx, b.Cid())
	if err != nil {
		t.Fatalf("Get: %v", err)
	}
	if !bytes.Equal(got.RawData(), b.RawData()) || !got.Cid().Equals(b.Cid()) {
		t.Fatalf("Get returned %q (%s), want %q (%s)", got.RawData(), got.Cid(), b.RawData(), b.Cid())
	}
	has, err := bs.Has(ctx, b.Cid())
	if err != nil || !has {
		t.Fatalf("Has = %v, %v; want true, nil", has, err)
	}
	size, err := bs.GetSize(ctx, b.Cid())
	if err != nil || size != len(b.RawData()) {
		t.Fatalf("GetSize = %d, %v; want %d, nil", size, err, len(b.RawData()))
	}
}

func testMissing(t *testing.T, bs blockstore.Blockstore) {
	ctx := context.Background()
	c := Block(t, []byte("never stored")).Cid()
	if _, err := bs.Get(ctx, c); !ipld.IsNotFound(err) {
		t.Fatalf("Get of a missing block: %v; want a not-found error", err)
	}
	if _, err := bs.GetSize(ctx, c); !ipld.IsNotFound(err) {
		t.Fatalf("GetSize of a missing block: %v; want a not-found error", err)
	}
	has, err := bs.Has(ctx, c)
	if err != nil || has {
		t.Fatalf("Has of a missing block = %v, %v; want false, nil", has, err)
	}
}

func testPutManyAllKeys(t *testing.T, bs blockstore.Blockstore) {
	ctx := context.Background()
	want := map[string]bool{}
	var bl []blocks.Block
	for i := range 300 {
		b := Block(t, fmt.Appendf(nil, "block %d", i))
		bl = append(bl, b)
		want[b.Cid().Hash().String()] = true
	}
	if err := bs.PutMany(ctx, bl); err != nil {
		t.Fatalf("PutMany: %v", err)
	}
	ch, err := bs.AllKeysChan(ctx)
	if err != nil {
		t.Fatalf("AllKeysChan: %v", err)
	}
	got := map[string]bool{}
	for c := range ch {
		got[c.Hash().String()] = true
	}
	if len(got) != len(want) {
		t.Fatalf("AllKeysChan gave %d keys, want %d", len(got), len(want))
	}
	for k := range want {
		if !got[k] {
			t.Fatalf("AllKeysChan is missing %s", k)
		}
	}
}

func testDelete(t *testing.T, bs blockstore.Blockstore) {
	ctx := context.Background()
	b := Block(t, []byte("to be deleted"))
	keep := Block(t, []byte("to be kept"))
	if err := bs.PutMany(ctx, []blocks.Block{b, keep}); err != nil {
		t.Fatal(err)
	}
	if err := bs.DeleteBlock(ctx, b.Cid()); err != nil {
		t.Fatalf("DeleteBlock: %v", err)
	}
	if _, err := bs.Get(ctx, b.Cid()); !ipld.IsNotFound(err) {
		t.Fatalf("Get after delete: %v; want not found", err)
	}
	if _, err := bs.Get(ctx, keep.Cid()); err != nil {
		t.Fatalf("Get of another block after delete: %v", err)
	}
}

func testDeleteMissing(t *testing.T, bs blockstore.Blockstore) {
	if err := bs.DeleteBlock(context.Background(), Block(t, []byte("absent")).Cid()); err != nil && !ipld.IsNotFound(err) {
		t.Fatalf("DeleteBlock of a missing block: %v; want nil or not found", err)
	}
}

func testPutTwice(t *testing.T, bs blockstore.Blockstore) {
	ctx := context.Background()
	b := Block(t, []byte("same bytes twice"))
	for range 2 {
		if err := bs.Put(ctx, b); err != nil {
			t.Fatalf("Put: %v", err)
		}
	}
	ch, err := bs.AllKeysChan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for range ch {
		n++
	}
	if n != 1 {
		t.Fatalf("after two Puts of one block AllKeysChan gave %d keys, want 1", n)
	}
}

func testIdentity(t *testing.T, bs blockstore.Blockstore) {
	ctx := context.Background()
	data := []byte("tiny")
	h, err := mh.Sum(data, mh.IDENTITY, -1)
	if err != nil {
		t.Fatal(err)
	}
	c := cid.NewCidV1(cid.Raw, h)
	has, err := bs.Has(ctx, c)
	if err != nil || !has {
		t.Fatalf("Has(identity CID) = %v, %v; want true without storing it", has, err)
	}
	got, err := bs.Get(ctx, c)
	if err != nil || !bytes.Equal(got.RawData(), data) {
		t.Fatalf("Get(identity CID) = %v, %v; want %q", got, err, data)
	}
}

func testCIDVersions(t *testing.T, bs blockstore.Blockstore) {
	// Blocks are keyed by multihash: a block stored under a CIDv1 is found
	// under the CIDv0 of the same dag-pb bytes and vice versa, which is how
	// Kubo's store behaves too.
	ctx := context.Background()
	data := []byte{0x0a, 0x02, 0x08, 0x01} // a minimal dag-pb/unixfs directory
	h, err := mh.Sum(data, mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	v1 := cid.NewCidV1(cid.DagProtobuf, h)
	v0 := cid.NewCidV0(h)
	b, err := blocks.NewBlockWithCid(data, v1)
	if err != nil {
		t.Fatal(err)
	}
	if err := bs.Put(ctx, b); err != nil {
		t.Fatal(err)
	}
	if has, err := bs.Has(ctx, v0); err != nil || !has {
		t.Fatalf("Has(CIDv0 of a block stored as CIDv1) = %v, %v; want true", has, err)
	}
}

func testEmptyBlock(t *testing.T, bs blockstore.Blockstore) {
	ctx := context.Background()
	b := Block(t, []byte{})
	if err := bs.Put(ctx, b); err != nil {
		t.Fatalf("Put(empty): %v", err)
	}
	got, err := bs.Get(ctx, b.Cid())
	if err != nil || len(got.RawData()) != 0 {
		t.Fatalf("Get(empty) = %v, %v", got, err)
	}
}

func testCancelled(t *testing.T, bs blockstore.Blockstore) {
	// A cancelled context must not corrupt the store: whatever the backend
	// returns, a later call with a live context sees a consistent state.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b := Block(t, []byte("written under a cancelled context"))
	putErr := bs.Put(ctx, b)
	has, err := bs.Has(context.Background(), b.Cid())
	if err != nil {
		t.Fatalf("Has after a cancelled Put: %v", err)
	}
	if putErr == nil && !has {
		t.Fatalf("Put under a cancelled context returned nil but the block is absent")
	}
	if has {
		got, err := bs.Get(context.Background(), b.Cid())
		if err != nil || !bytes.Equal(got.RawData(), b.RawData()) {
			t.Fatalf("block present after a cancelled Put but Get = %v, %v", got, err)
		}
	}
}

package node_test

import (
	"context"
	"testing"
	"time"

	"github.com/ipfs/boxo/datastore/dshelp"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	mh "github.com/multiformats/go-multihash"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/node/nodetest"
	"github.com/commons-p2p/commons/pkg/metadata"
)

// TestVerifyDetectsAndRepairs: blocks corrupted or deleted under a pinned
// bundle are found by verify, and --repair fetches them again from a peer
// that has them; a corrupt block nothing needs is deleted.
func TestVerifyDetectsAndRepairs(t *testing.T) {
	nw := nodetest.New(t, 2, nodetest.Options{})
	a, b := nw.Nodes[0], nw.Nodes[1]
	nw.Connect(0, 1)
	ctx := context.Background()
	res := publishBundle(t, a.Node, licensedFolder(t), metadata.Metadata{})
	if err := b.Pin(ctx, res.CID, "", nil); err != nil {
		t.Fatal(err)
	}
	clean, err := b.Verify(ctx, api.VerifyOptions{}, nil)
	if err != nil || !clean.OK || clean.Blocks == 0 || clean.Pins == 0 {
		t.Fatalf("verify of a whole repo: %+v %v", clean, err)
	}

	// Damage B's store below the block store, as a failing disk would:
	// two blocks of the bundle get other bytes, one goes missing.
	cids := dagCIDs(t, b.Node, res.CID)
	var leaves []cid.Cid
	for _, c := range cids {
		if c.Type() == cid.Raw {
			leaves = append(leaves, c)
		}
	}
	if len(leaves) < 3 {
		t.Fatalf("the bundle has %d raw blocks", len(leaves))
	}
	d := b.Datastore()
	for _, c := range leaves[:2] {
		if err := d.Put(ctx, blockKey(c.Hash()), []byte("bit rot")); err != nil {
			t.Fatal(err)
		}
	}
	if err := d.Delete(ctx, blockKey(leaves[2].Hash())); err != nil {
		t.Fatal(err)
	}
	// And a corrupt block that nothing pins.
	strayBlock := blocks.NewBlock([]byte("an unpinned block"))
	if err := b.Blockstore.Put(ctx, strayBlock); err != nil {
		t.Fatal(err)
	}
	stray := strayBlock.Cid()
	if err := d.Put(ctx, blockKey(stray.Hash()), []byte("flipped")); err != nil {
		t.Fatal(err)
	}

	found, err := b.Verify(ctx, api.VerifyOptions{}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if found.OK || len(found.Corrupt) != 3 || len(found.Incomplete) != 1 || found.Incomplete[0].Missing != 3 {
		t.Fatalf("verify of a damaged repo: %+v", found)
	}
	rep, err := b.Verify(ctx, api.VerifyOptions{Repair: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK || rep.Repaired != 3 || rep.Removed != 1 {
		t.Fatalf("repair: %+v", rep)
	}
	again, err := b.Verify(ctx, api.VerifyOptions{}, nil)
	if err != nil || !again.OK || len(again.Corrupt) != 0 {
		t.Fatalf("verify after repair: %+v %v", again, err)
	}

	// What no peer has cannot be repaired, and says so in bounded time.
	a.Stop()
	if err := d.Put(ctx, blockKey(leaves[0].Hash()), []byte("rot again")); err != nil {
		t.Fatal(err)
	}
	vctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	left, err := b.Verify(vctx, api.VerifyOptions{Repair: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if left.OK || len(left.Unrepaired) != 1 || vctx.Err() != nil {
		t.Fatalf("repair with no peer: %+v", left)
	}
}

// blockKey is where the block store keeps a block in the datastore.
func blockKey(h mh.Multihash) ds.Key {
	return ds.NewKey("/blocks").Child(dshelp.MultihashToDsKey(h))
}

package node_test

import (
	"context"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/boxo/datastore/dshelp"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"
	mh "github.com/multiformats/go-multihash"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/node"
	"github.com/commons-p2p/commons/node/nodetest"
	"github.com/commons-p2p/commons/pkg/carfile"
	"github.com/commons-p2p/commons/pkg/folder"
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
	// The zero-length block (the bundle's empty file) is answered by the
	// store without reading it, so damage to it below the block store is
	// invisible: it is not among the blocks damaged.
	empty, err := cid.V1Builder{Codec: cid.Raw, MhType: mh.SHA2_256}.Sum(nil)
	if err != nil {
		t.Fatal(err)
	}
	var leaves []cid.Cid
	for _, c := range cids {
		if c.Type() == cid.Raw && !c.Equals(empty) {
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

// TestGCConcurrentWithPublishAndPin: gc runs over and over while bundles
// are published and pinned from a peer; afterwards every pin is complete
// and every block hashes right.
func TestGCConcurrentWithPublishAndPin(t *testing.T) {
	nw := nodetest.New(t, 2, nodetest.Options{})
	a, b := nw.Nodes[0], nw.Nodes[1]
	nw.Connect(0, 1)
	ctx := context.Background()
	var roots []cid.Cid
	for round := range 3 {
		dir := licensedFolder(t)
		nodetest.WriteTree(t, dir, map[string]string{"notes/round.md": fmt.Sprintf("round %d\n", round)})
		src := publishBundle(t, a.Node, dir, metadata.Metadata{})
		done := make(chan error, 2)
		go func() {
			fn, _, err := folder.Open(dir, folder.DefaultOptions())
			if err == nil {
				_, err = b.Publish(ctx, fn, api.PublishOptions{Name: "copy"}, nil)
			}
			done <- err
		}()
		go func() { done <- b.Pin(ctx, src.CID, "", nil) }()
		gcs, finished := 0, 0
		for finished < 2 {
			select {
			case err := <-done:
				if err != nil {
					t.Fatal(err)
				}
				finished++
			default:
				if _, err := b.GC(ctx); err != nil {
					t.Fatal(err)
				}
				gcs++
			}
		}
		t.Logf("round %d: %d gc runs during a publish and a pin", round, gcs)
		roots = append(roots, src.CID)
	}
	if _, err := b.GC(ctx); err != nil {
		t.Fatal(err)
	}
	v, err := b.Verify(ctx, api.VerifyOptions{}, nil)
	if err != nil || !v.OK {
		t.Fatalf("after concurrent gc: %+v %v", v, err)
	}
	for _, c := range roots {
		if !pinned(t, b.Node, c) {
			t.Fatalf("%s is not pinned", c)
		}
	}
}

// TestGCBesideSlowFetch: a collection started while a pin fetches over a
// slow link does not wait for the fetch, and a publish started while the
// collection runs does not wait either (with the pin lock held for the
// whole fetch, gc waited for it, and every publish waited behind gc). The
// collection removes the garbage, keeps what the fetch has stored, and
// the pin then completes without fetching anything twice.
func TestGCBesideSlowFetch(t *testing.T) {
	nw := nodetest.New(t, 2, nodetest.Options{Link: mocknet.LinkOptions{Bandwidth: 512 << 10}})
	a, b := nw.Nodes[0], nw.Nodes[1]
	nw.Connect(0, 1)
	ctx := context.Background()
	dir, _ := cadFolder(t, 6<<20)
	src := publishBundle(t, a.Node, dir, metadata.Metadata{})

	// Garbage on B: a plain folder added and unpinned.
	junkDir := t.TempDir()
	nodetest.WriteTree(t, junkDir, map[string]string{"a.bin": strings.Repeat("junk", 300<<10), "b.txt": "junk\n"})
	fn, _, err := folder.Open(junkDir, folder.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	junk, err := b.Publish(ctx, fn, api.PublishOptions{Name: "junk", Plain: true}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Unpin(ctx, junk.CID); err != nil {
		t.Fatal(err)
	}

	pinDone := make(chan error, 1)
	started := make(chan struct{})
	var once sync.Once
	go func() {
		pinDone <- b.Pin(ctx, src.CID, "", func(p api.Progress) {
			if p.Bytes > 1<<20 {
				once.Do(func() { close(started) })
			}
		})
	}()
	select {
	case <-started:
	case err := <-pinDone:
		t.Fatalf("the pin ended before 1 MiB of 6 arrived over a 512 KiB/s link: %v", err)
	case <-time.After(2 * time.Minute):
		t.Fatal("no progress from the pin in 2 minutes")
	}
	before := b.Received().Bytes
	res, err := b.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	pubDir := licensedFolder(t)
	nodetest.WriteTree(t, pubDir, map[string]string{"notes/during.md": "published while the pin fetched\n"})
	pub := publishBundle(t, b.Node, pubDir, metadata.Metadata{})
	select {
	case err := <-pinDone:
		t.Fatalf("the pin finished (%v) before gc and a publish beside it returned: the link is not slow enough for this test", err)
	default:
	}
	t.Logf("gc beside the fetch: removed %d, kept %d, in %v; %d bytes had arrived", res.Removed, res.Kept, res.Duration, before)
	if res.Removed == 0 {
		t.Error("gc removed nothing; the unpinned bundle was garbage")
	}
	select {
	case err := <-pinDone:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Minute):
		t.Fatal("the pin did not finish in 3 minutes")
	}
	for _, c := range []cid.Cid{src.CID, pub.CID} {
		if !pinned(t, b.Node, c) {
			t.Fatalf("%s is not pinned", c)
		}
	}
	v, err := b.Verify(ctx, api.VerifyOptions{}, nil)
	if err != nil || !v.OK {
		t.Fatalf("after gc beside a fetch: %+v %v", v, err)
	}
	// Nothing that had arrived was removed and fetched again.
	size := dagSize(t, b.Node, src.CID)
	if got := b.Received().Bytes; got > size+size/20 {
		t.Errorf("B received %d bytes for a DAG of %d: gc removed what the fetch had stored", got, size)
	}
}

// dagSize is the sum of the sizes of the blocks under root, as stored on n.
func dagSize(t *testing.T, n *node.Node, root cid.Cid) int64 {
	t.Helper()
	var size int64
	err := carfile.Export(context.Background(), n.Blockstore, []cid.Cid{root}, io.Discard, carfile.ExportOptions{Progress: func(_, b int64) { size = b }})
	if err != nil {
		t.Fatal(err)
	}
	return size
}

package node

import (
	"bytes"
	"context"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/commons-p2p/commons/pkg/carfile"
	"github.com/commons-p2p/commons/pkg/config"
	"github.com/commons-p2p/commons/pkg/store"
)

// FuzzBulkCAR feeds arbitrary bytes to the bulk path's CAR reader as the
// answer of a peer to a request for a fixed root. Whatever the bytes, the
// reader must not panic, and every block it stores must hash to its CID
// and be the root or reachable from the root through blocks it stored:
// a peer can waste our time, never put foreign data in the store. The
// seeds are an honest CAR of a small folder and a few damaged copies; the
// store is emptied after every input.
func FuzzBulkCAR(f *testing.F) {
	root, honest := fuzzFixtureCAR(f)
	f.Add(honest)
	f.Add(honest[:len(honest)/2])
	f.Add(append(bytes.Clone(honest), honest[len(honest)/3:]...))
	flipped := bytes.Clone(honest)
	flipped[len(flipped)-3] ^= 0x40
	f.Add(flipped)
	f.Add([]byte{0x0a, 0xa1, 0x67, 'v', 'e', 'r', 's', 'i', 'o', 'n', 0x01, 0xff, 0xff, 0xff, 0xff, 0x0f})

	f.Fuzz(func(t *testing.T, car []byte) { checkBulkCAR(t, root, car) })
}

// checkBulkCAR reads car as the answer for root into an empty store in
// memory (a fresh one per input keeps the fuzzer fast) and checks what it
// stored.
func checkBulkCAR(t *testing.T, root cid.Cid, car []byte) {
	bs := blockstore.NewGCBlockstore(blockstore.NewBlockstore(dssync.MutexWrap(ds.NewMapDatastore())), blockstore.NewGCLocker())
	n := &Node{Blockstore: bs, Blocks: blockservice.New(bs, offline.Exchange(bs))}
	n.settings.Fetch.Timeout = config.Duration(time.Minute)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	ctx, wd := n.watch(ctx)
	defer wd.stop()
	fetch := &bulkFetch{b: &bulk{n: n, partials: map[cid.Cid][]byte{}}, root: root, wd: wd, queued: map[string]bool{}}
	_ = fetch.readCAR(ctx, bytes.NewReader(car), &item{c: root, whole: true})

	// What is stored now must be the root's DAG, or part of it. The
	// store is keyed by multihash, so that is what is compared.
	stored := map[string][]byte{}
	keys, err := n.Blockstore.AllKeysChan(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for k := range keys {
		b, err := n.Blockstore.Get(ctx, k)
		if err != nil {
			t.Fatal(err)
		}
		if !verifies(k, b.RawData()) {
			t.Fatalf("stored block %s does not hash to its CID", k)
		}
		stored[string(k.Hash())] = b.RawData()
	}
	reached := map[string]bool{}
	var visit func(c cid.Cid)
	visit = func(c cid.Cid) {
		data, ok := stored[string(c.Hash())]
		if !ok || reached[string(c.Hash())] {
			return
		}
		reached[string(c.Hash())] = true
		links, err := blockLinks(c, data)
		if err != nil {
			t.Fatalf("stored block %s has links that do not decode: %v", c, err)
		}
		for _, l := range links {
			visit(l)
		}
	}
	visit(root)
	for h := range stored {
		c := cid.NewCidV1(cid.Raw, []byte(h))
		if !reached[h] {
			t.Fatalf("stored block %s is not reachable from the requested root %s", c, root)
		}
	}
}

// offlineTestNode is a node on a fresh store with no network, for tests
// inside the package.
func offlineTestNode(tb testing.TB) *Node {
	tb.Helper()
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		tb.Fatal(err)
	}
	st, err := store.Open(filepath.Join(tb.TempDir(), "store"), store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	s, err := config.FromProfile("test")
	if err != nil {
		tb.Fatal(err)
	}
	n, err := New(context.Background(), Config{Settings: s, Identity: key, Store: st, Offline: true})
	if err != nil {
		st.Close()
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		_ = n.Close()
		_ = st.Close()
	})
	return n
}

// fuzzFixtureCAR builds, in a throwaway store, a folder with a file of
// three raw leaves and a small file, and returns its root and its CARv1
// (depth first, as a trustless gateway sends it).
func fuzzFixtureCAR(tb testing.TB) (cid.Cid, []byte) {
	tb.Helper()
	n := offlineTestNode(tb)
	ctx := context.Background()
	dag := merkledag.NewDAGService(blockservice.New(n.Blockstore, offline.Exchange(n.Blockstore)))
	rng := rand.New(rand.NewPCG(3, 5))
	file := unixfs.NewFSNode(unixfs.TFile)
	big := merkledag.NodeWithData(nil)
	for range 3 {
		data := make([]byte, 700)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		leaf := merkledag.NewRawNode(data)
		if err := dag.Add(ctx, leaf); err != nil {
			tb.Fatal(err)
		}
		if err := big.AddNodeLink("", leaf); err != nil {
			tb.Fatal(err)
		}
		file.AddBlockSize(uint64(len(data)))
	}
	fb, err := file.GetBytes()
	if err != nil {
		tb.Fatal(err)
	}
	big.SetData(fb)
	big.SetCidBuilder(cid.V1Builder{Codec: cid.DagProtobuf, MhType: 0x12})
	small := merkledag.NewRawNode([]byte("# Frame\n\nCut the tubes to length.\n"))
	dir := unixfs.EmptyDirNode()
	dir.SetCidBuilder(cid.V1Builder{Codec: cid.DagProtobuf, MhType: 0x12})
	if err := dag.Add(ctx, big); err != nil {
		tb.Fatal(err)
	}
	if err := dag.Add(ctx, small); err != nil {
		tb.Fatal(err)
	}
	if err := dir.AddNodeLink("frame.step", big); err != nil {
		tb.Fatal(err)
	}
	if err := dir.AddNodeLink("instructions.md", small); err != nil {
		tb.Fatal(err)
	}
	if err := dag.Add(ctx, dir); err != nil {
		tb.Fatal(err)
	}
	var buf bytes.Buffer
	if err := carfile.Export(ctx, n.Blockstore, []cid.Cid{dir.Cid()}, &buf, carfile.ExportOptions{}); err != nil {
		tb.Fatal(err)
	}
	return dir.Cid(), buf.Bytes()
}

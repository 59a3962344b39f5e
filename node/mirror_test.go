package node_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	mocknet "github.com/libp2p/go-libp2p/p2p/net/mock"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/node"
	"github.com/commons-p2p/commons/node/nodetest"
	"github.com/commons-p2p/commons/pkg/metadata"
)

// dagCIDs lists every block of the DAG under root, from n's local store.
func dagCIDs(t *testing.T, n *node.Node, root cid.Cid) []cid.Cid {
	t.Helper()
	set := cid.NewSet()
	getLinks := func(ctx context.Context, c cid.Cid) ([]*ipld.Link, error) {
		nd, err := n.DAG.Get(ctx, c)
		if err != nil {
			return nil, err
		}
		return nd.Links(), nil
	}
	if err := merkledag.Walk(context.Background(), getLinks, root, set.Visit); err != nil {
		t.Fatal(err)
	}
	return set.Keys()
}

func countStored(t *testing.T, n *node.Node, cs []cid.Cid) int {
	t.Helper()
	k := 0
	for _, c := range cs {
		if has, err := n.Blockstore.Has(context.Background(), c); err == nil && has {
			k++
		}
	}
	return k
}

// TestMirrorTenNodes is the federation scenario: node 0 publishes a
// library; node 1 (a campus) includes it in its own library and mirrors
// it; nodes 2-4 follow the source directly, nodes 5-9 follow the campus,
// and reach the source only through other nodes. A new version reaches
// every follower; a follower stopped halfway through a large bundle
// resumes after its restart without fetching again what it had.
func TestMirrorTenNodes(t *testing.T) {
	nw := nodetest.New(t, 10, nodetest.Options{
		// Slow enough links that a large bundle takes seconds, so a
		// follower can be stopped halfway.
		Link: mocknet.LinkOptions{Bandwidth: 2 << 20},
	})
	ctx := context.Background()
	src, campus := nw.Nodes[0], nw.Nodes[1]
	for _, e := range [][2]int{{0, 1}, {0, 2}, {0, 3}, {0, 4}, {1, 5}, {1, 6}, {1, 7}, {1, 8}, {1, 9}, {2, 5}, {3, 6}, {4, 7}, {2, 8}, {3, 9}} {
		nw.Connect(e[0], e[1])
	}

	dir := licensedFolder(t)
	v1 := publishBundle(t, src.Node, dir, metadata.Metadata{Message: "first"})
	srcLib, _ := src.Library(ctx)
	campusLib, err := campus.Include(ctx, srcLib.Name, false)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := campus.Follow(ctx, srcLib.Name, api.FollowPolicy{}); err != nil {
		t.Fatal(err)
	}
	for i := 2; i <= 4; i++ {
		if _, err := nw.Nodes[i].Follow(ctx, srcLib.Name, api.FollowPolicy{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := 5; i <= 9; i++ {
		if _, err := nw.Nodes[i].Follow(ctx, campusLib.Name, api.FollowPolicy{}); err != nil {
			t.Fatal(err)
		}
	}
	followers := []int{1, 2, 3, 4, 5, 6, 7, 8, 9}
	nodetest.Eventually(t, 120*time.Second, func() bool {
		for _, i := range followers {
			if !pinned(t, nw.Nodes[i].Node, v1.CID) {
				return false
			}
		}
		return true
	}, "every follower to pin version 1")
	for i := 5; i <= 9; i++ {
		st := mirrorOf(t, nw.Nodes[i].Node, srcLib.Name)
		if st.Direct || !slices.Equal(st.Via, []string{campusLib.Name}) {
			t.Fatalf("node %d follows the source through %v (direct %t), want through the campus", i, st.Via, st.Direct)
		}
	}

	// A new version: time from the publish's return to each follower's pin.
	nodetest.WriteTree(t, dir, map[string]string{"notes/v2.md": "Second version.\n"})
	start := time.Now()
	v2 := publishBundle(t, src.Node, dir, metadata.Metadata{Message: "second"})
	took := map[int]time.Duration{}
	nodetest.Eventually(t, 120*time.Second, func() bool {
		for _, i := range followers {
			if _, ok := took[i]; !ok && pinned(t, nw.Nodes[i].Node, v2.CID) {
				took[i] = time.Since(start)
			}
		}
		return len(took) == len(followers)
	}, "every follower to pin version 2")
	var direct, twoHops []time.Duration
	for i, d := range took {
		if i >= 5 {
			twoHops = append(twoHops, d)
		} else {
			direct = append(direct, d)
		}
	}
	slices.Sort(direct)
	slices.Sort(twoHops)
	t.Logf("publish -> pinned (mocknet, 2 MiB/s links): direct followers median %s (max %s), two hops median %s (max %s)",
		direct[len(direct)/2].Round(time.Millisecond), direct[len(direct)-1].Round(time.Millisecond),
		twoHops[len(twoHops)/2].Round(time.Millisecond), twoHops[len(twoHops)-1].Round(time.Millisecond))
	for _, i := range followers {
		if !pinned(t, nw.Nodes[i].Node, v1.CID) {
			t.Fatalf("node %d dropped version 1 (policy all)", i)
		}
	}

	// A large bundle; node 9 is stopped halfway through it.
	big := filepath.Join(t.TempDir(), "tractor")
	data := make([]byte, 24<<20)
	_, _ = rand.Read(data)
	nodetest.WriteTree(t, big, map[string]string{
		"commons.toml":     `title = "Tractor"` + "\n" + pressTOML[len(`name = "brick-press"`+"\ntitle = \"CEB brick press\"\n"):],
		"cad/chassis.step": string(data),
		"instructions.md":  "# Tractor\n",
	})
	tractor := publishBundle(t, src.Node, big, metadata.Metadata{})
	cids := dagCIDs(t, src.Node, tractor.CID)
	f := nw.Nodes[9]
	nodetest.Eventually(t, 120*time.Second, func() bool {
		return countStored(t, f.Node, cids) >= len(cids)*3/10
	}, "node 9 to have 30% of the tractor")
	f.Stop()
	had := countStored(t, f.Node, cids)
	if had == len(cids) {
		t.Fatalf("node 9 had all %d blocks before it was stopped: the links are too fast for this test", len(cids))
	}
	// Node 9 will restart with the campus as its only peer: the campus
	// must have all of the tractor by then.
	nodetest.Eventually(t, 180*time.Second, func() bool { return pinned(t, campus.Node, tractor.CID) }, "the campus to pin the tractor")
	f.Restart()
	// Before it reaches any peer, a gc (which waits for the fetch that
	// resumed to give up for lack of peers) keeps what of the tractor
	// arrived: the version is still wanted.
	if _, err := f.GC(ctx); err != nil {
		t.Fatal(err)
	}
	if now := countStored(t, f.Node, cids); now != had {
		t.Fatalf("gc during the interrupted mirror removed blocks of the wanted version: %d of %d left", now, had)
	}
	// One peer only after the restart, so that no two peers race to send
	// the same block and every block received is one that was asked for.
	for j := range 9 {
		if j != 1 {
			nw.Unlink(9, j)
		}
	}
	nw.Connect(9, 1)
	last := time.Now()
	nodetest.Eventually(t, 180*time.Second, func() bool {
		if pinned(t, f.Node, tractor.CID) {
			return true
		}
		if time.Since(last) > 5*time.Second {
			last = time.Now()
			t.Logf("node 9 after restart: %+v, %d peers", mirrorOf(t, f.Node, srcLib.Name), len(f.Host.Network().Peers()))
		}
		return false
	}, "node 9 to finish the tractor after its restart")
	st := f.Received()
	t.Logf("node 9: %d of %d tractor blocks stored before the stop; after the restart %d blocks received (%d of them twice)",
		had, len(cids), st.Blocks, st.DupBlocks)
	// A block is asked for only when it is not stored (the block service
	// looks in the store before bitswap wants anything), and a bitswap
	// peer sends only what is wanted: the blocks it had (30% of the
	// bundle) are never sent again. Under load a lacked block may arrive
	// twice, when bitswap takes a slow answer for a DONT_HAVE and asks
	// again (the poor-links work measures and reduces that); two copies
	// that arrive together both count as new, so the distinct count may
	// exceed what it lacked by a few, never by what it had.
	lacked := int64(len(cids) - had)
	distinct := st.Blocks - st.DupBlocks
	if distinct < lacked || distinct > lacked+lacked/20+1 {
		t.Fatalf("after the restart node 9 received %d blocks (%d duplicates), want the %d it lacked", st.Blocks, st.DupBlocks, lacked)
	}
	nodetest.Eventually(t, 30*time.Second, func() bool {
		s := mirrorOf(t, f.Node, srcLib.Name)
		return s.State == api.MirrorCurrent && s.Pinned == 3 && s.BytesToGo == 0
	}, "node 9 to report the source library current")
	_ = fmt.Sprint
}

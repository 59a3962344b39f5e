package node_test

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/node"
	"github.com/commons-p2p/commons/node/nodetest"
	"github.com/commons-p2p/commons/pkg/library"
	"github.com/commons-p2p/commons/pkg/metadata"
	"github.com/commons-p2p/commons/pkg/mirror"
)

func pinned(t testing.TB, n *node.Node, c cid.Cid) bool {
	t.Helper()
	pins, err := n.Pins(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return slices.ContainsFunc(pins, func(p api.PinInfo) bool { return p.CID.Equals(c) && p.Type == "recursive" })
}

func mirrorOf(t testing.TB, n *node.Node, name string) api.MirrorLibrary {
	t.Helper()
	st, err := n.MirrorStatus(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range st.Libraries {
		if l.Name == name {
			return l
		}
	}
	return api.MirrorLibrary{}
}

// TestLibraryFollowAndUnfollow: A publishes twice; B follows A's library
// and ends with both versions pinned, verified and served under
// /ipns/<library>/; unfollowing releases them, except what the user
// pinned.
func TestLibraryFollowAndUnfollow(t *testing.T) {
	nw := nodetest.New(t, 2, nodetest.Options{})
	a, b := nw.Nodes[0], nw.Nodes[1]
	nw.Connect(0, 1)
	ctx := context.Background()

	dir := licensedFolder(t)
	v1 := publishBundle(t, a.Node, dir, metadata.Metadata{Message: "first"})
	lib, err := a.Library(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if lib.Sequence != 1 || len(lib.Bundles) != 1 || !lib.Bundles[0].Root.Equals(v1.CID) || !lib.Own {
		t.Fatalf("library after one publish: %+v", lib)
	}
	if _, err := b.Follow(ctx, lib.Name, api.FollowPolicy{Mode: "sometimes"}); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("bad policy: %v", err)
	}
	if _, err := a.Follow(ctx, lib.Name, api.FollowPolicy{}); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("following one's own library: %v", err)
	}
	if _, err := b.Follow(ctx, "/ipns/"+lib.Name, api.FollowPolicy{}); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 60*time.Second, func() bool { return pinned(t, b.Node, v1.CID) }, "B to pin version 1")

	nodetest.WriteTree(t, dir, map[string]string{"notes/welding.md": "Weld the frame square.\n"})
	v2 := publishBundle(t, a.Node, dir, metadata.Metadata{Message: "welding notes"})
	nodetest.Eventually(t, 60*time.Second, func() bool {
		l := mirrorOf(t, b.Node, lib.Name)
		return pinned(t, b.Node, v2.CID) && l.State == api.MirrorCurrent && l.Pinned == 2 && l.Sequence == 2
	}, "B to pin version 2 and report both versions pinned")
	st := mirrorOf(t, b.Node, lib.Name)
	if !pinned(t, b.Node, v1.CID) || st.Versions != 2 || st.Bundles != 1 || st.BytesToGo != 0 || st.BytesDone < v1.Bytes+v2.Bytes {
		t.Fatalf("mirror status %+v", st)
	}
	// B serves the library by name, from its own copy.
	r, err := b.Cat(ctx, "/ipns/"+lib.Name+"/brick-press/notes/welding.md")
	if err != nil {
		t.Fatal(err)
	}
	got, _ := io.ReadAll(r)
	r.Close()
	if string(got) != "Weld the frame square.\n" {
		t.Fatalf("read through /ipns/: %q", got)
	}
	libs, err := b.Libraries(ctx)
	if err != nil || len(libs) != 2 || libs[1].Name != lib.Name || libs[1].Following == nil || len(libs[1].Bundles) != 1 {
		t.Fatalf("libraries on B: %+v %v", libs, err)
	}
	// A mirror's pin is not the user's to remove by accident.
	if err := b.Unpin(ctx, v2.CID); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("unpin of a mirrored version: %v", err)
	}
	// The user pins version 1 as well: unfollowing keeps it.
	if err := b.Pin(ctx, v1.CID, "", nil); err != nil {
		t.Fatal(err)
	}
	res, err := b.Unfollow(ctx, lib.Name)
	if err != nil {
		t.Fatal(err)
	}
	if res.Unpinned != 1 || res.Kept != 1 || len(res.Libraries) != 1 {
		t.Fatalf("unfollow %+v", res)
	}
	if pinned(t, b.Node, v2.CID) || !pinned(t, b.Node, v1.CID) {
		t.Fatal("unfollow released the wrong pins")
	}
	if _, err := b.Unfollow(ctx, lib.Name); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("unfollow twice: %v", err)
	}
	if gc, err := b.GC(ctx); err != nil || gc.Removed == 0 {
		t.Fatalf("gc after unfollow: %+v %v", gc, err)
	}
}

// TestLibraryLatestPolicy: a latest-only mirror keeps the newest version
// and releases the previous one once the new one is pinned.
func TestLibraryLatestPolicy(t *testing.T) {
	nw := nodetest.New(t, 2, nodetest.Options{})
	a, b := nw.Nodes[0], nw.Nodes[1]
	nw.Connect(0, 1)
	ctx := context.Background()
	dir := licensedFolder(t)
	v1 := publishBundle(t, a.Node, dir, metadata.Metadata{})
	lib, _ := a.Library(ctx)
	if _, err := b.Follow(ctx, lib.Name, api.FollowPolicy{Mode: api.PolicyLatest}); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 60*time.Second, func() bool { return pinned(t, b.Node, v1.CID) }, "B to pin version 1")
	nodetest.WriteTree(t, dir, map[string]string{"notes/paint.md": "Paint it.\n"})
	v2 := publishBundle(t, a.Node, dir, metadata.Metadata{})
	nodetest.Eventually(t, 60*time.Second, func() bool {
		return pinned(t, b.Node, v2.CID) && !pinned(t, b.Node, v1.CID)
	}, "B to hold version 2 only")
	if st := mirrorOf(t, b.Node, lib.Name); st.Versions != 1 || st.Pinned != 1 {
		t.Fatalf("status %+v", st)
	}
}

// TestLibraryRecordAttacks: an old record, a record signed by another key,
// a record pointing at a library signed by another key, and a library that
// includes itself change nothing or are harmless.
func TestLibraryRecordAttacks(t *testing.T) {
	nw := nodetest.New(t, 3, nodetest.Options{})
	a, b, c := nw.Nodes[0], nw.Nodes[1], nw.Nodes[2]
	nw.Connect(0, 1)
	nw.Connect(1, 2)
	ctx := context.Background()
	dir := licensedFolder(t)
	publishBundle(t, a.Node, dir, metadata.Metadata{})
	old, err := a.LibraryRecord(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lib, _ := a.Library(ctx)
	// A library that includes itself (through its record) is harmless.
	if _, err := a.Include(ctx, lib.Name, false); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("including one's own library: %v", err)
	}
	nodetest.WriteTree(t, dir, map[string]string{"notes/x.md": "x\n"})
	v2 := publishBundle(t, a.Node, dir, metadata.Metadata{})
	if _, err := b.Follow(ctx, lib.Name, api.FollowPolicy{}); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 60*time.Second, func() bool { return pinned(t, b.Node, v2.CID) }, "B to pin version 2")
	name, _ := library.ParseName(lib.Name)

	// The old record (sequence 1) is refused and changes nothing.
	if err := b.OfferRecord(ctx, name, old); !errors.Is(err, mirror.ErrStale) {
		t.Fatalf("old record: %v", err)
	}
	if st := mirrorOf(t, b.Node, lib.Name); st.Sequence != 2 {
		t.Fatalf("old record changed the mirror: %+v", st)
	}
	// C signs a record for A's name: refused.
	if _, err := c.LibraryRecord(ctx); !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("C has published nothing, but has a record: %v", err)
	}
	publishBundle(t, c.Node, licensedFolder(t), metadata.Metadata{})
	cRec, err := c.LibraryRecord(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.OfferRecord(ctx, name, cRec); !errors.Is(err, library.ErrBadRecord) {
		t.Fatalf("record of another key under A's name: %v", err)
	}
	// C's key signs a library that includes itself and A's: following it
	// makes no loop, and A's bundles arrive through it.
	cName, _ := library.NameOf(c.Key.GetPublic())
	l, _ := library.Library{Sequence: 5}.WithInclude(cName.String(), false)
	l, _ = l.WithInclude(lib.Name, false)
	s, err := library.Sign(l, c.Key)
	if err != nil {
		t.Fatal(err)
	}
	root, err := library.Build(ctx, c.DAG, s)
	if err != nil {
		t.Fatal(err)
	}
	rec, err := library.NewRecord(c.Key, root, 5, time.Hour, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Follow(ctx, cName.String(), api.FollowPolicy{}); err != nil {
		t.Fatal(err)
	}
	if err := b.OfferRecord(ctx, cName, rec.Data); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 60*time.Second, func() bool {
		st, err := b.MirrorStatus(ctx)
		return err == nil && len(st.Libraries) == 2 && st.Libraries[0].State == api.MirrorCurrent && st.Libraries[1].State == api.MirrorCurrent
	}, "B to mirror the self-including library and A's")
	// A record whose library is signed by another key than the name's.
	forged := library.Library{Sequence: 9}
	fs, _ := library.Sign(forged, c.Key)
	froot, _ := library.Build(ctx, c.DAG, fs)
	// ...wrapped in a record that A's key did sign cannot be made without
	// A's key; A's own key signing a record for C's library root is what a
	// compromised mirror could replay: the library inside is C's, refused.
	arec, err := library.NewRecord(a.Key, froot, 9, time.Hour, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.OfferRecord(ctx, name, arec.Data); !errors.Is(err, library.ErrWrongPublisher) {
		t.Fatalf("A's name pointing at a library signed by C: %v", err)
	}
	if st := mirrorOf(t, b.Node, lib.Name); st.Sequence != 2 {
		t.Fatalf("a refused record changed the mirror: %+v", st)
	}
}

// TestLibraryQuotaPolicy: a quota mirror keeps the newest versions that
// fit and reports the rest as skipped.
func TestLibraryQuotaPolicy(t *testing.T) {
	nw := nodetest.New(t, 2, nodetest.Options{})
	a, b := nw.Nodes[0], nw.Nodes[1]
	nw.Connect(0, 1)
	ctx := context.Background()
	dir := licensedFolder(t)
	v1 := publishBundle(t, a.Node, dir, metadata.Metadata{})
	nodetest.WriteTree(t, dir, map[string]string{"notes/2.md": "two\n"})
	v2 := publishBundle(t, a.Node, dir, metadata.Metadata{})
	lib, _ := a.Library(ctx)
	// Room for one version (each is a little over 3 MiB).
	if _, err := b.Follow(ctx, lib.Name, api.FollowPolicy{Mode: api.PolicyQuota, Quota: v2.Bytes + v2.Bytes/2}); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 60*time.Second, func() bool {
		st := mirrorOf(t, b.Node, lib.Name)
		return st.State == api.MirrorCurrent && st.Pinned == 1 && st.Skipped == 1
	}, "B to pin the newest version and skip the older one")
	if !pinned(t, b.Node, v2.CID) || pinned(t, b.Node, v1.CID) {
		t.Fatal("the quota kept the wrong version")
	}
	// A larger quota takes the older version too.
	if r, err := b.Follow(ctx, lib.Name, api.FollowPolicy{Mode: api.PolicyQuota, Quota: 3 * v2.Bytes}); err != nil || !r.Replaced {
		t.Fatalf("%+v %v", r, err)
	}
	nodetest.Eventually(t, 60*time.Second, func() bool { return pinned(t, b.Node, v1.CID) }, "B to pin the older version within the larger quota")
}

// TestMirrorEditCost: after a 100-byte edit in the middle of a large CAD
// file, a follower fetches about what `commons diff` reports as new bytes
// (plus the library's own small blocks), not the file again.
func TestMirrorEditCost(t *testing.T) {
	nw := nodetest.New(t, 2, nodetest.Options{})
	a, b := nw.Nodes[0], nw.Nodes[1]
	nw.Connect(0, 1)
	ctx := context.Background()
	dir := licensedFolder(t)
	cad := make([]byte, 64<<20)
	for i := range cad {
		cad[i] = byte((i * 2654435761) >> 13)
	}
	nodetest.WriteTree(t, dir, map[string]string{"cad/chassis.step": string(cad)})
	v1 := publishBundle(t, a.Node, dir, metadata.Metadata{})
	lib, _ := a.Library(ctx)
	if _, err := b.Follow(ctx, lib.Name, api.FollowPolicy{}); err != nil {
		t.Fatal(err)
	}
	nodetest.Eventually(t, 120*time.Second, func() bool { return pinned(t, b.Node, v1.CID) }, "B to mirror version 1")
	before := b.Received()
	copy(cad[32<<20:], []byte(strings.Repeat("edited! ", 13)[:100]))
	nodetest.WriteTree(t, dir, map[string]string{"cad/chassis.step": string(cad)})
	v2 := publishBundle(t, a.Node, dir, metadata.Metadata{Message: "100-byte edit"})
	nodetest.Eventually(t, 120*time.Second, func() bool { return pinned(t, b.Node, v2.CID) }, "B to mirror version 2")
	after := b.Received()
	got := after.Bytes - before.Bytes
	d, err := a.Diff(ctx, v1.CID.String(), v2.CID.String())
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("100-byte edit of a 64 MiB file: diff reports %d new bytes (publish said %d); the follower received %d bytes in %d blocks (%d duplicate)",
		d.NewBytes, v2.NewBytes, got, after.Blocks-before.Blocks, after.DupBlocks-before.DupBlocks)
	// The library's own blocks (root, .commons, record) come on top.
	if got < d.NewBytes || got > d.NewBytes+64<<10 {
		t.Fatalf("the follower received %d bytes for an edit whose new bytes are %d", got, d.NewBytes)
	}
}

// TestLibraryUpdateOutlivesCaller: the library update at the end of a
// publish runs after the version's commit. A caller that goes away then
// (a CLI killed while its publish was committing) must not cut it in
// half: the crash harness found a daemon left with the library not
// listing the committed version until its next start, and two roots of
// its own library pinned for good. The update is run with a context that
// turns canceled at its k-th look, for every k until one run never looks
// that often: each must complete, leaving one root pinned, the library's.
func TestLibraryUpdateOutlivesCaller(t *testing.T) {
	nw := nodetest.New(t, 1, nodetest.Options{})
	a := nw.Nodes[0]
	publishBundle(t, a.Node, licensedFolder(t), metadata.Metadata{})
	ctx := context.Background()
	for k := int64(0); k < 2000; k++ {
		before, err := a.Library(ctx)
		if err != nil {
			t.Fatal(err)
		}
		gone := newCancelAfter(k)
		if err := a.RewriteLibrary(gone); err != nil {
			t.Fatalf("a library update whose caller went away at its look %d: %v", k, err)
		}
		after, err := a.Library(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if after.Sequence != before.Sequence+1 {
			t.Fatalf("caller gone at look %d: library sequence %d after the update, want %d", k, after.Sequence, before.Sequence+1)
		}
		pins, err := a.Pins(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var roots []cid.Cid
		for _, p := range pins {
			if p.Name == "library" {
				roots = append(roots, p.CID)
			}
		}
		if len(roots) != 1 || !roots[0].Equals(after.Root) {
			t.Fatalf("caller gone at look %d: pinned library roots %v, want only %s", k, roots, after.Root)
		}
		if !gone.reached() {
			return // the update looked fewer than k+1 times: every point was checked
		}
	}
	t.Fatal("the update still looks at its context after 2000 looks")
}

// cancelAfter is a context that turns canceled at its k-th look (a call
// of Done or Err): a caller going away at one point of an operation.
type cancelAfter struct {
	context.Context
	mu   sync.Mutex
	left int64
	done chan struct{}
}

func newCancelAfter(k int64) *cancelAfter {
	return &cancelAfter{Context: context.Background(), left: k, done: make(chan struct{})}
}

func (c *cancelAfter) look() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.left == 0 {
		select {
		case <-c.done:
		default:
			close(c.done)
		}
		return true
	}
	c.left--
	return false
}

func (c *cancelAfter) reached() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

func (c *cancelAfter) Done() <-chan struct{} {
	c.look()
	return c.done
}

func (c *cancelAfter) Err() error {
	if c.look() {
		return context.Canceled
	}
	return nil
}

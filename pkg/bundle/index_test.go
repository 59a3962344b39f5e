package bundle

import (
	"context"
	"testing"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
)

// TestIndexChanged: a channel taken from Changed is closed by the next
// recorded version, and only then; a new one is handed out afterwards.
func TestIndexChanged(t *testing.T) {
	ctx := context.Background()
	dag := newDAG(t)
	x := NewIndex(dssync.MutexWrap(ds.NewMapDatastore()))
	ch := x.Changed()
	if x.Changed() != ch {
		t.Fatal("two channels for the same wait")
	}
	select {
	case <-ch:
		t.Fatal("closed before anything was recorded")
	default:
	}
	v1 := build(t, dag, newKey(t), baseManifest(importTree(t, dag, map[string]string{"a": "1"})))
	if err := x.Put(ctx, v1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-ch:
	default:
		t.Fatal("Put did not close the channel")
	}
	next := x.Changed()
	select {
	case <-next:
		t.Fatal("the next channel is closed already")
	default:
	}
	if err := x.Advance(ctx, v1); err != nil {
		t.Fatal(err)
	}
	select {
	case <-next:
	default:
		t.Fatal("Advance did not close the channel")
	}
}

// TestIndexSeen: Seen records a new version and signals, and a version
// seen again is neither written nor signalled; Put always signals.
func TestIndexSeen(t *testing.T) {
	ctx := context.Background()
	dag := newDAG(t)
	x := NewIndex(dssync.MutexWrap(ds.NewMapDatastore()))
	v1 := build(t, dag, newKey(t), baseManifest(importTree(t, dag, map[string]string{"a": "1"})))
	closed := func(ch <-chan struct{}) bool {
		select {
		case <-ch:
			return true
		default:
			return false
		}
	}
	ch := x.Changed()
	if err := x.Seen(ctx, v1); err != nil {
		t.Fatal(err)
	}
	if !closed(ch) {
		t.Fatal("Seen of a new version did not signal")
	}
	if _, ok, err := x.Get(ctx, v1.Root); err != nil || !ok {
		t.Fatalf("Seen did not record: %v %v", ok, err)
	}
	ch = x.Changed()
	if err := x.Seen(ctx, v1); err != nil {
		t.Fatal(err)
	}
	if closed(ch) {
		t.Fatal("Seen of a recorded version signalled")
	}
	if err := x.Put(ctx, v1); err != nil {
		t.Fatal(err)
	}
	if !closed(ch) {
		t.Fatal("Put of a recorded version did not signal")
	}
}

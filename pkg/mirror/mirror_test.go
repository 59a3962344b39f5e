package mirror

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	mh "github.com/multiformats/go-multihash"
)

func root(s string) cid.Cid {
	sum, _ := mh.Sum([]byte(s), mh.SHA2_256, -1)
	return cid.NewCidV1(cid.DagProtobuf, sum)
}

func TestPolicyValidate(t *testing.T) {
	for _, tc := range []struct {
		p  Policy
		ok bool
	}{
		{Policy{}, true}, {Policy{Mode: All}, true}, {Policy{Mode: Latest}, true},
		{Policy{Mode: Quota, Quota: 1}, true}, {Policy{Mode: Quota}, false},
		{Policy{Mode: Latest, Quota: 5}, false}, {Policy{Mode: "newest"}, false},
	} {
		p := tc.p
		if err := p.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v: %v", tc.p, err)
		}
		if tc.ok && p.Mode == "" {
			t.Errorf("%+v: mode left empty", tc.p)
		}
	}
}

func TestState(t *testing.T) {
	ctx := context.Background()
	s := New(dssync.MutexWrap(ds.NewMapDatastore()))
	if r, err := s.Follow(ctx, "k51a", Policy{}); err != nil || r {
		t.Fatal(r, err)
	}
	if r, err := s.Follow(ctx, "k51a", Policy{Mode: Latest}); err != nil || !r {
		t.Fatal(r, err)
	}
	if _, err := s.Follow(ctx, "k51b", Policy{Mode: "bogus"}); err == nil {
		t.Fatal("bad policy accepted")
	}
	fs, err := s.Follows(ctx)
	if err != nil || len(fs) != 1 || fs[0].Policy.Mode != Latest {
		t.Fatalf("%+v %v", fs, err)
	}

	// Known records only move forward.
	k2 := Known{Name: "k51a", Root: root("v2"), Sequence: 2}
	if err := s.PutKnown(ctx, k2); err != nil {
		t.Fatal(err)
	}
	if err := s.PutKnown(ctx, Known{Name: "k51a", Root: root("v1"), Sequence: 1}); !errors.Is(err, ErrStale) {
		t.Fatalf("older record: %v", err)
	}
	if err := s.PutKnown(ctx, Known{Name: "k51a", Root: root("other"), Sequence: 2}); !errors.Is(err, ErrStale) {
		t.Fatalf("equivocating record: %v", err)
	}
	if err := s.PutKnown(ctx, k2); err != nil {
		t.Fatalf("same record again: %v", err)
	}
	if err := s.PutKnown(ctx, Known{Name: "k51a", Root: root("v3"), Sequence: 3}); err != nil {
		t.Fatal(err)
	}
	if k, ok, err := s.Known(ctx, "k51a"); err != nil || !ok || k.Sequence != 3 {
		t.Fatalf("%+v %v %v", k, ok, err)
	}

	// Holds.
	r := root("bundle")
	_ = s.Hold(ctx, r, "k51a")
	_ = s.Hold(ctx, r, "k51b")
	if h, _ := s.Holders(ctx, r); !slices.Equal(h, []string{"k51a", "k51b"}) {
		t.Fatalf("holders %v", h)
	}
	if left, err := s.Release(ctx, r, "k51a"); err != nil || !slices.Equal(left, []string{"k51b"}) {
		t.Fatalf("left %v %v", left, err)
	}
	if held, _ := s.Held(ctx, "k51b"); len(held) != 1 || !held[0].Equals(r) {
		t.Fatalf("held %v", held)
	}
	if held, _ := s.Held(ctx, "k51a"); len(held) != 0 {
		t.Fatalf("held after release %v", held)
	}

	_ = s.Want(ctx, r)
	if w, _ := s.Wanted(ctx); len(w) != 1 {
		t.Fatal(w)
	}
	_ = s.Unwant(ctx, r)
	if w, _ := s.Wanted(ctx); len(w) != 0 {
		t.Fatal(w)
	}
	if ok, err := s.Unfollow(ctx, "k51a"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if ok, _ := s.Unfollow(ctx, "k51a"); ok {
		t.Fatal("unfollowed twice")
	}
}

func TestPlan(t *testing.T) {
	v := func(b string, depth int, size int64, updated string) Version {
		return Version{Root: root(fmt.Sprint(b, depth)), Bundle: b, Depth: depth, Size: size, Updated: updated}
	}
	versions := []Version{
		v("tractor", 1, 100, "2026-01-01T00:00:00Z"),
		v("tractor", 0, 100, "2026-02-01T00:00:00Z"),
		v("press", 0, 50, "2026-03-01T00:00:00Z"),
		v("press", 1, 40, "2026-01-15T00:00:00Z"),
		v("press", 2, 30, "2026-01-10T00:00:00Z"),
	}
	names := func(vs []Version) []string {
		var out []string
		for _, v := range vs {
			out = append(out, fmt.Sprint(v.Bundle, v.Depth))
		}
		return out
	}
	for _, tc := range []struct {
		p          Policy
		keep, skip []string
	}{
		{Policy{Mode: All}, []string{"press0", "tractor0", "press1", "tractor1", "press2"}, nil},
		{Policy{Mode: Latest}, []string{"press0", "tractor0"}, []string{"press1", "tractor1", "press2"}},
		{Policy{Mode: Quota, Quota: 180}, []string{"press0", "tractor0", "press2"}, []string{"press1", "tractor1"}},
		{Policy{Mode: Quota, Quota: 10}, nil, []string{"press0", "tractor0", "press1", "tractor1", "press2"}},
	} {
		keep, skip := Plan(tc.p, versions)
		if !slices.Equal(names(keep), tc.keep) || !slices.Equal(names(skip), tc.skip) {
			t.Errorf("%+v: keep %v skip %v, want %v %v", tc.p, names(keep), names(skip), tc.keep, tc.skip)
		}
	}
	// A version offered twice is planned once.
	keep, _ := Plan(Policy{Mode: All}, append(versions, versions[0]))
	if len(keep) != 5 {
		t.Fatalf("duplicate planned: %v", names(keep))
	}
}

package main

import (
	"context"
	"encoding/binary"
	"slices"
	"testing"
	"time"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

func TestParseCounts(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []int
	}{
		{"10000,100000", []int{10000, 100000}},
		{" 200 ", []int{200}},
		{"1,,2", []int{1, 2}},
		{"", nil},
		{"0", nil},
		{"ten", nil},
		{"20000000", nil},
	} {
		got, err := parseCounts(tc.in)
		if tc.want == nil {
			if err == nil {
				t.Errorf("parseCounts(%q) = %v, want an error", tc.in, got)
			}
			continue
		}
		if err != nil || !slices.Equal(got, tc.want) {
			t.Errorf("parseCounts(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
}

// TestRecordStoreTracks checks that provider records written the way
// kad-dht's provider manager writes them (a batch of
// /providers/<key>/<peer> keys valued with the arrival time) are counted per
// key and peer, and that other providers' records are ignored.
func TestRecordStoreTracks(t *testing.T) {
	ctx := context.Background()
	const node, other = peer.ID("node-under-test"), peer.ID("someone-else")
	keys := []mh.Multihash{fillerKey(1), fillerKey(2)}
	a := &announceDHT{peers: make([]*announcePeer, 2)}
	tr := a.track(node, keys)
	start := time.Unix(1000, 0)
	put := func(peerIdx int, key mh.Multihash, prov peer.ID, at time.Time) {
		s := &recordStore{Batching: dssync.MutexWrap(ds.NewMapDatastore()), owner: a, peer: peerIdx}
		b, err := s.Batch(ctx)
		if err != nil {
			t.Fatal(err)
		}
		k := ds.NewKey("/providers/" + provKeyEncoding.EncodeToString(key) + "/" + provKeyEncoding.EncodeToString([]byte(prov)))
		if err := b.Put(ctx, k, binary.AppendVarint(nil, at.UnixNano())); err != nil {
			t.Fatal(err)
		}
		if err := b.Commit(ctx); err != nil {
			t.Fatal(err)
		}
		if has, _ := s.Batching.Has(ctx, k); has {
			t.Errorf("provider record %s was stored; it should only be counted", k)
		}
	}
	put(0, keys[0], node, start.Add(time.Second))
	put(0, keys[0], other, start.Add(time.Hour))
	put(1, keys[0], node, start.Add(2*time.Second))
	one, all := tr.progress(start)
	if one.done || one.count != 1 || all.done || all.count != 1 {
		t.Fatalf("after key 0 on both peers: one %+v, all %+v", one, all)
	}
	put(1, keys[1], node, start.Add(3*time.Second))
	put(1, keys[1], node, start.Add(4*time.Second)) // a repeat counts once
	one, all = tr.progress(start)
	if !one.done || one.elapsed != 3*time.Second || all.done || all.count != 1 {
		t.Fatalf("after key 1 on one peer: one %+v, all %+v", one, all)
	}
	// Peer 0's batch reaches its datastore after peer 1's, with an
	// earlier record: each time is the record's own, whatever the order.
	put(0, keys[1], node, start.Add(2500*time.Millisecond))
	one, all = tr.progress(start)
	if !all.done || all.elapsed != 3*time.Second || one.elapsed != 2500*time.Millisecond {
		t.Fatalf("after key 1 on both peers: one %+v, all %+v", one, all)
	}
}

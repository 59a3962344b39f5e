package main

import (
	"context"
	"encoding/base32"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	ds "github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p"
	dht "github.com/libp2p/go-libp2p-kad-dht"
	"github.com/libp2p/go-libp2p-kad-dht/dual"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"
)

// provKeyEncoding is how kad-dht writes keys and peer IDs in its provider
// record keys (go-base32's RawStdEncoding, which is the standard alphabet
// without padding).
var provKeyEncoding = base32.StdEncoding.WithPadding(base32.NoPadding)

// announcePeers is the size of the in-process DHT: as many peers as a
// provider record's replication factor (k = 20), so every CID belongs on
// every peer.
const announcePeers = 20

// announceDHT is a DHT of real libp2p hosts on 127.0.0.1 TCP inside the
// bench process. Each host runs two kad-dht servers: the public protocol
// (/ipfs/kad/1.0.0), which commons's single DHT speaks, and the LAN one
// (/ipfs/lan/kad/1.0.0), which Kubo's dual DHT uses for loopback peers.
// Neither filters addresses. Their provider records are observed as they
// reach the datastore (recordStore).
type announceDHT struct {
	peers []*announcePeer
	cur   atomic.Pointer[tracker]
}

type announcePeer struct {
	h    host.Host
	dhts []*dht.IpfsDHT
}

func startAnnouncePeers(ctx context.Context, n int) (*announceDHT, error) {
	a := &announceDHT{}
	for i := range n {
		h, err := libp2p.New(
			libp2p.ListenAddrStrings("/ip4/127.0.0.1/tcp/0"),
			// The peers are the measuring instrument: the resource
			// manager's per-peer stream limits must not throttle an
			// implementation that opens many streams.
			libp2p.ResourceManager(&network.NullResourceManager{}),
			libp2p.DisableRelay(),
		)
		if err != nil {
			a.close()
			return nil, fmt.Errorf("announce: DHT peer %d: %w", i, err)
		}
		p := &announcePeer{h: h}
		a.peers = append(a.peers, p)
		for _, ext := range []dht.Option{nil, dht.ProtocolExtension(dual.LanExtension)} {
			opts := []dht.Option{dht.Mode(dht.ModeServer), dht.Datastore(&recordStore{Batching: dssync.MutexWrap(ds.NewMapDatastore()), owner: a, peer: i, self: h.ID()})}
			if ext != nil {
				opts = append(opts, ext)
			}
			d, err := dht.New(h, opts...)
			if err != nil {
				a.close()
				return nil, fmt.Errorf("announce: DHT peer %d: %w", i, err)
			}
			p.dhts = append(p.dhts, d)
		}
	}
	// Everyone connects to everyone, so every routing table is full before
	// the node under test arrives.
	for i, p := range a.peers {
		for _, q := range a.peers[i+1:] {
			if err := p.h.Connect(ctx, peer.AddrInfo{ID: q.h.ID(), Addrs: q.h.Addrs()}); err != nil {
				a.close()
				return nil, fmt.Errorf("announce: connect DHT peers: %w", err)
			}
		}
	}
	deadline := time.Now().Add(30 * time.Second)
	for !a.tablesFull() {
		if time.Now().After(deadline) {
			a.close()
			return nil, errors.New("announce: DHT peers' routing tables not full after 30s")
		}
		if err := sleep(ctx, 20*time.Millisecond); err != nil {
			a.close()
			return nil, err
		}
	}
	return a, nil
}

func (a *announceDHT) tablesFull() bool {
	for _, p := range a.peers {
		for _, d := range p.dhts {
			if d.RoutingTable().Size() < len(a.peers)-1 {
				return false
			}
		}
	}
	return true
}

// addrs are the peers' multiaddrs with /p2p/, for a bootstrap list.
func (a *announceDHT) addrs() []string {
	var out []string
	for _, p := range a.peers {
		for _, ma := range p.h.Addrs() {
			out = append(out, ma.String()+"/p2p/"+p.h.ID().String())
		}
	}
	return out
}

func (a *announceDHT) close() {
	for _, p := range a.peers {
		for _, d := range p.dhts {
			_ = d.Close()
		}
		_ = p.h.Close()
	}
}

// waitConnected waits until id is connected to every peer, or for at most
// limit, and returns to how many it is.
func (a *announceDHT) waitConnected(ctx context.Context, id peer.ID, limit time.Duration) int {
	deadline := time.Now().Add(limit)
	for {
		n := 0
		for _, p := range a.peers {
			if p.h.Network().Connectedness(id) == network.Connected {
				n++
			}
		}
		if n == len(a.peers) || time.Now().After(deadline) || sleep(ctx, 50*time.Millisecond) != nil {
			return n
		}
	}
}

// track starts counting provider records from provider for keys; records
// from anyone else, or for other keys, are ignored.
func (a *announceDHT) track(provider peer.ID, keys []mh.Multihash) *tracker {
	t := &tracker{provider: provKeyEncoding.EncodeToString([]byte(provider)), index: make(map[string]int, len(keys)),
		masks: make([]uint64, len(keys)), first: make([]int64, len(keys)), latest: make([]int64, len(keys)), full: make([]int64, len(keys)), peers: len(a.peers)}
	for i, k := range keys {
		t.index[provKeyEncoding.EncodeToString(k)] = i
	}
	a.cur.Store(t)
	return t
}

// wait returns when every key of t is on at least one peer and on all of
// them, or after limit, with how far each condition got. Times are from
// start to the arrival of the record that completed the condition.
func (a *announceDHT) wait(ctx context.Context, t *tracker, start time.Time, limit time.Duration) (one, all progress) {
	deadline := start.Add(limit)
	for {
		// A provider manager commits its records to the datastore in
		// batches of 256; filler records (dropped by recordStore) push out
		// what the batch holds, so nothing waits in it unseen.
		a.flush(ctx)
		one, all = t.progress(start)
		if all.done || time.Now().After(deadline) || sleep(ctx, 500*time.Millisecond) != nil {
			return one, all
		}
	}
}

// flush makes every peer's provider manager commit what it holds.
func (a *announceDHT) flush(ctx context.Context) {
	for _, p := range a.peers {
		self := peer.AddrInfo{ID: p.h.ID()}
		for _, d := range p.dhts {
			ps := d.ProviderStore()
			for i := range fillerRecords {
				_ = ps.AddProvider(ctx, fillerKey(i), self)
			}
		}
	}
}

// fillerRecords is the provider manager's batch size (batchBufferSize in
// go-libp2p-kad-dht/records): writing that many fillers forces a commit.
const fillerRecords = 256

func fillerKey(i int) []byte {
	k, _ := mh.Sum(binary.AppendUvarint([]byte("commons-bench filler "), uint64(i)), mh.SHA2_256, -1)
	return k
}

// tracker counts, per key, which peers hold a record for it and when the
// first and the last of them got it.
type tracker struct {
	provider string // base32 of the provider's peer ID, as in datastore keys
	peers    int
	mu       sync.Mutex
	index    map[string]int // base32 multihash -> position
	masks    []uint64       // peers holding a record
	first    []int64        // unix ns of the first record
	latest   []int64        // unix ns of the latest record
	full     []int64        // unix ns of the latest record, once all peers have one
	n        int
}

func (t *tracker) add(key, provider string, peer int, at int64) {
	if provider != t.provider {
		return
	}
	i, ok := t.index[key]
	if !ok {
		return
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	t.n++
	bit := uint64(1) << peer
	if t.masks[i]&bit != 0 {
		return
	}
	t.masks[i] |= bit
	if t.first[i] == 0 || at < t.first[i] {
		t.first[i] = at
	}
	// Batches reach the datastore in no particular order across peers, so
	// the last arrival is the latest time seen, not the last one observed.
	t.latest[i] = max(t.latest[i], at)
	if popcount(t.masks[i]) == t.peers {
		t.full[i] = t.latest[i]
	}
}

func (t *tracker) records() int {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.n
}

func (t *tracker) progress(start time.Time) (one, all progress) {
	t.mu.Lock()
	defer t.mu.Unlock()
	var lastOne, lastAll int64
	for i := range t.masks {
		if t.first[i] != 0 {
			one.count++
			lastOne = max(lastOne, t.first[i])
		}
		if t.full[i] != 0 {
			all.count++
			lastAll = max(lastAll, t.full[i])
		}
	}
	n := len(t.masks)
	if one.done = one.count == n; one.done {
		one.elapsed = time.Unix(0, lastOne).Sub(start)
	}
	if all.done = all.count == n; all.done {
		all.elapsed = time.Unix(0, lastAll).Sub(start)
	}
	return one, all
}

func popcount(x uint64) int {
	n := 0
	for ; x != 0; x &= x - 1 {
		n++
	}
	return n
}

// recordStore is a peer's datastore. Provider records
// (/providers/<key>/<peer>, valued with the time the peer received them)
// go to the current tracker instead of being stored: 100,000 CIDs on 20
// peers would otherwise hold two million entries in memory for nothing.
type recordStore struct {
	ds.Batching
	owner *announceDHT
	peer  int
	self  peer.ID
}

func (s *recordStore) Put(ctx context.Context, k ds.Key, v []byte) error {
	if s.observe(k, v) {
		return nil
	}
	return s.Batching.Put(ctx, k, v)
}

func (s *recordStore) Batch(ctx context.Context) (ds.Batch, error) {
	inner, err := s.Batching.Batch(ctx)
	if err != nil {
		return nil, err
	}
	return &recordBatch{Batch: inner, s: s}, nil
}

// observe reports whether k is a provider record, passing it to the
// tracker if so.
func (s *recordStore) observe(k ds.Key, v []byte) bool {
	rest, ok := strings.CutPrefix(k.String(), "/providers/")
	if !ok {
		return false
	}
	key, prov, ok := strings.Cut(rest, "/")
	if !ok {
		return true
	}
	at, n := binary.Varint(v)
	if n <= 0 {
		at = time.Now().UnixNano()
	}
	if t := s.owner.cur.Load(); t != nil {
		t.add(key, prov, s.peer, at)
	}
	return true
}

type recordBatch struct {
	ds.Batch
	s *recordStore
}

func (b *recordBatch) Put(ctx context.Context, k ds.Key, v []byte) error {
	if b.s.observe(k, v) {
		return nil
	}
	return b.Batch.Put(ctx, k, v)
}

package node

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/ipfs/boxo/ipns"
	pin "github.com/ipfs/boxo/pinning/pinner"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/sync/errgroup"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/pkg/bundle"
	"github.com/commons-p2p/commons/pkg/library"
	"github.com/commons-p2p/commons/pkg/license"
	"github.com/commons-p2p/commons/pkg/mirror"
)

// maxChain bounds how many versions of one bundle a mirror walks back.
const maxChain = 10000

// structureHolder is the holder name under which a followed library's own
// blocks (root folder, shards, record) are held.
func structureHolder(name string) string { return name + structureSuffix }

const structureSuffix = ".library"

// holderLibrary names the library behind a holder (structureHolder's
// inverse; a version's holder is the library name itself).
func holderLibrary(holder string) string { return strings.TrimSuffix(holder, structureSuffix) }

// member is a library in the follow closure: followed directly, or through
// libraries that include it.
type member struct {
	name   ipns.Name
	policy mirror.Policy
	direct bool
	via    []string
}

// closure returns every library followed directly or through includes,
// in breadth-first order from the direct follows. Cycles (a library that
// includes itself, or two that include each other) end where they meet
// a library already in the closure; this node's own library is left out.
func (n *Node) closure(ctx context.Context) ([]*member, error) {
	follows, err := n.mirrorState.Follows(ctx)
	if err != nil {
		return nil, err
	}
	return n.closureOf(follows, func(name string) ([]string, error) {
		k, ok, err := n.mirrorState.Known(ctx, name)
		if err != nil || !ok {
			return nil, err
		}
		return k.Includes, nil
	})
}

// closureOf is closure over the given follows, with includes telling what
// the newest record of a library includes (nothing when none is known),
// so that an import can work out what will be followed once its records
// are taken.
func (n *Node) closureOf(follows []mirror.Follow, includes func(name string) ([]string, error)) ([]*member, error) {
	own, _ := n.libraryName()
	byName := map[string]*member{}
	var order []*member
	var queue []*member
	for _, f := range follows {
		name, err := library.ParseName(f.Name)
		if err != nil || name.Equal(own) {
			continue
		}
		m := &member{name: name, policy: f.Policy, direct: true}
		byName[f.Name] = m
		order = append(order, m)
		queue = append(queue, m)
	}
	for len(queue) > 0 {
		m := queue[0]
		queue = queue[1:]
		incs, err := includes(m.name.String())
		if err != nil {
			return nil, err
		}
		for _, inc := range incs {
			name, err := library.ParseName(inc)
			if err != nil || name.Equal(own) {
				continue
			}
			if x, ok := byName[inc]; ok {
				if !x.direct && x.name.String() != m.name.String() && !slices.Contains(x.via, m.name.String()) {
					x.via = append(x.via, m.name.String())
				}
				continue
			}
			x := &member{name: name, policy: m.policy, via: []string{m.name.String()}}
			byName[inc] = x
			order = append(order, x)
			queue = append(queue, x)
		}
	}
	return order, nil
}

// mirrorService follows libraries: it takes their records as they come
// (pubsub, peers, DHT), plans what each policy keeps, and fetches, verifies
// and pins it with a few workers, newest versions first.
type mirrorService struct {
	n    *Node
	rec  *records
	wake chan struct{}

	offerMu sync.Mutex // one record taken at a time

	mu      sync.Mutex
	libs    map[string]*libStatus
	queue   []*mirrorTask
	ready   chan struct{} // signalled when the queue gets work
	active  map[cid.Cid]*mirrorTask
	retry   map[cid.Cid]retryState
	refused map[cid.Cid]string
	samples []rateSample
}

type libStatus struct {
	member     *member
	planned    bool
	bundles    int
	versions   int
	pinned     int
	skipped    int
	bytesDone  int64
	bytesToGo  int64
	inflight   map[cid.Cid]int64
	lastUpdate time.Time
	lastCheck  time.Time
	errs       []string
	title      string
	seq        int64
	root       cid.Cid
	keep       *cid.Set // the versions the plan keeps
	complete   bool     // every kept version pinned at the last plan
}

func (s *libStatus) addError(err string) {
	if n := len(s.errs); n > 0 && s.errs[n-1] == err {
		return
	}
	s.errs = append(s.errs, err)
	if len(s.errs) > 5 {
		s.errs = s.errs[len(s.errs)-5:]
	}
}

type mirrorTask struct {
	lib    string
	v      mirror.Version
	expect crypto.PubKey // the publisher the version must be signed by (nil: any)
	cancel context.CancelFunc
}

type retryState struct {
	failures int
	next     time.Time
}

type rateSample struct {
	t     time.Time
	bytes uint64
}

func newMirror(n *Node, rec *records) *mirrorService {
	return &mirrorService{
		n: n, rec: rec, wake: make(chan struct{}, 1), ready: make(chan struct{}, 1),
		libs: map[string]*libStatus{}, active: map[cid.Cid]*mirrorTask{},
		retry: map[cid.Cid]retryState{}, refused: map[cid.Cid]string{},
	}
}

// poke asks for a new round of planning. It never blocks.
func (m *mirrorService) poke() {
	select {
	case m.wake <- struct{}{}:
	default:
	}
}

func (m *mirrorService) run(ctx context.Context) error {
	g, ctx := errgroup.WithContext(ctx)
	for range m.n.settings.Mirror.Concurrency {
		g.Go(func() error { m.worker(ctx); return nil })
	}
	g.Go(func() error { m.sampleRate(ctx); return nil })
	g.Go(func() error {
		tick := time.NewTicker(min(m.n.settings.Mirror.Resolve.D(), 30*time.Second))
		defer tick.Stop()
		for {
			m.round(ctx)
			select {
			case <-ctx.Done():
				return nil
			case <-m.wake:
			case <-tick.C:
			}
		}
	})
	return g.Wait()
}

// round brings every followed library up to date: resolve what is due,
// plan, queue what is missing, and release what a complete plan no longer
// keeps.
func (m *mirrorService) round(ctx context.Context) {
	members, err := m.n.closure(ctx)
	if err != nil {
		m.n.log.Warn("mirror: list followed libraries", "subsystem", "mirror", "err", err)
		return
	}
	current := map[string]bool{}
	m.mu.Lock()
	for _, mb := range members {
		key := mb.name.String()
		current[key] = true
		st, ok := m.libs[key]
		if !ok {
			st = &libStatus{inflight: map[cid.Cid]int64{}}
			m.libs[key] = st
		}
		st.member = mb
	}
	for key := range m.libs {
		if !current[key] {
			delete(m.libs, key)
			if name, err := ipns.NameFromString(key); err == nil && m.rec != nil {
				m.rec.leave(name)
			}
		}
	}
	m.mu.Unlock()

	var mu sync.Mutex
	var tasks []*mirrorTask
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, mb := range members {
		g.Go(func() error {
			if m.rec != nil {
				if err := m.rec.join(ctx, mb.name, m.deliver); err != nil {
					m.n.log.Debug("mirror: join topic", "subsystem", "mirror", "library", mb.name, "err", err)
				}
			}
			m.resolveIfDue(gctx, mb)
			ts := m.plan(gctx, mb, false)
			mu.Lock()
			tasks = append(tasks, ts...)
			mu.Unlock()
			return nil
		})
	}
	_ = g.Wait()
	if ctx.Err() != nil {
		return
	}
	slices.SortStableFunc(tasks, func(a, b *mirrorTask) int {
		if c := cmp.Compare(a.v.Depth, b.v.Depth); c != 0 {
			return c
		}
		return cmp.Compare(b.v.Updated, a.v.Updated)
	})
	m.mu.Lock()
	now := time.Now()
	queued := cid.NewSet()
	m.queue = m.queue[:0]
	for _, t := range tasks {
		if _, busy := m.active[t.v.Root]; busy {
			continue
		}
		if r, ok := m.retry[t.v.Root]; ok && now.Before(r.next) {
			continue
		}
		if _, bad := m.refused[t.v.Root]; bad {
			continue
		}
		if queued.Visit(t.v.Root) {
			m.queue = append(m.queue, t)
		}
	}
	if len(m.queue) > 0 {
		select {
		case m.ready <- struct{}{}:
		default:
		}
	}
	m.mu.Unlock()
	m.release(ctx)
}

// resolveIfDue looks the library up (peers, then the DHT) when it has no
// record yet or its last lookup is older than mirror.resolve.
func (m *mirrorService) resolveIfDue(ctx context.Context, mb *member) {
	key := mb.name.String()
	m.mu.Lock()
	st := m.libs[key]
	due := st != nil && time.Since(st.lastCheck) >= m.n.settings.Mirror.Resolve.D()
	if due {
		st.lastCheck = time.Now()
	}
	m.mu.Unlock()
	if !due || m.rec == nil {
		return
	}
	var found [][]byte
	found = append(found, m.rec.askPeers(ctx, mb.name)...)
	if data, err := m.rec.get(ctx, mb.name); err == nil {
		found = append(found, data)
	}
	took := false
	for _, data := range found {
		if err := m.n.offerRecord(ctx, mb.name, data, "lookup"); err == nil {
			took = true
		}
	}
	if !took && len(found) == 0 {
		if _, ok, _ := m.n.mirrorState.Known(ctx, key); !ok {
			m.noteError(key, "no record of this library found yet (asked connected peers and the DHT); it is looked up again every "+m.n.settings.Mirror.Resolve.String())
		}
	}
}

// deliver takes a record that arrived over pubsub.
func (m *mirrorService) deliver(ctx context.Context, name ipns.Name, data []byte, from peer.ID) {
	if err := m.n.offerRecord(ctx, name, data, "pubsub"); err != nil && !errors.Is(err, mirror.ErrStale) {
		m.n.log.Debug("mirror: record refused", "subsystem", "mirror", "library", name, "from", from, "err", err)
	}
}

func (m *mirrorService) noteError(lib, msg string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if st, ok := m.libs[lib]; ok {
		st.addError(msg)
	}
}

// offerRecord takes a library record from anywhere (pubsub, a peer, the
// DHT, a CAR): it must be signed by the name's key, point at a library
// signed by the same key, and be newer than the record kept; then the
// library's own blocks are pinned, the record is kept durably, and the
// mirror plans again. An older record is refused with mirror.ErrStale and
// changes nothing.
func (n *Node) offerRecord(ctx context.Context, name ipns.Name, data []byte, source string) error {
	if m := n.mirror; m != nil {
		m.offerMu.Lock()
		defer m.offerMu.Unlock()
	}
	return n.takeRecord(ctx, name, data, source, false)
}

// takeRecord is offerRecord for a caller that holds the mirror's offerMu
// (when there is a mirror), and also the pin lock if locked is set (an
// import that has just stored the library's blocks).
func (n *Node) takeRecord(ctx context.Context, name ipns.Name, data []byte, source string, locked bool) error {
	rec, err := library.CheckRecord(name, data)
	if err != nil {
		return err
	}
	key := name.String()
	if own, err := n.libraryName(); err == nil && own.Equal(name) {
		return fmt.Errorf("library %s: %w (this node publishes it)", key, mirror.ErrStale)
	}
	m := n.mirror
	known, ok, err := n.mirrorState.Known(ctx, key)
	if err != nil {
		return err
	}
	if ok && known.Root.Equals(rec.Root) {
		if old, err := library.CheckRecord(name, known.Record); err != nil || rec.EOL.After(old.EOL) {
			known.Record = data // the same library, signed again with a later validity
			known.Taken = time.Now().UTC()
			return n.mirrorState.PutKnownRecord(ctx, known)
		}
		return fmt.Errorf("library %s: %w", key, mirror.ErrStale)
	}
	if ok && rec.Sequence < uint64(known.Sequence) {
		return fmt.Errorf("library %s record %d: %w (%d kept)", key, rec.Sequence, mirror.ErrStale, known.Sequence)
	}
	pub, err := name.Peer().ExtractPublicKey()
	if err != nil {
		return fmt.Errorf("library %s: %w", key, err)
	}
	lctx, wd := n.watch(ctx)
	v, err := library.Load(lctx, n.DAG, rec.Root, pub)
	var structure []cid.Cid
	if err == nil {
		structure, err = library.Structure(lctx, n.DAG, v)
	}
	wd.stop()
	if err != nil {
		return fmt.Errorf("library %s record %d (from %s): %w", key, rec.Sequence, source, wd.explain(err))
	}
	l := v.Library()
	if ok && l.Sequence <= known.Sequence {
		return fmt.Errorf("library %s: record %d points at library %d: %w (%d kept)", key, rec.Sequence, l.Sequence, mirror.ErrStale, known.Sequence)
	}
	if !locked {
		unlock := n.Blockstore.PinLock(ctx)
		defer unlock.Unlock(ctx)
	}
	holder := structureHolder(key)
	keepSet := cid.NewSet()
	for _, c := range structure {
		keepSet.Add(c)
		if err := n.holdPinned(ctx, c, holder, pin.Direct, "library "+libraryLabel(key)); err != nil {
			return fmt.Errorf("library %s: pin %s: %w", key, c, err)
		}
	}
	old, err := n.mirrorState.Held(ctx, holder)
	if err != nil {
		return err
	}
	for _, c := range old {
		if !keepSet.Has(c) {
			if _, err := n.releaseHold(ctx, c, holder); err != nil {
				return err
			}
		}
	}
	err = n.mirrorState.PutKnown(ctx, mirror.Known{
		Name: key, Root: rec.Root, Sequence: l.Sequence, Record: data, Taken: time.Now().UTC(),
		Includes: l.Includes, Title: l.Title,
	})
	if err != nil {
		return err
	}
	if err := n.Pinner.Flush(ctx); err != nil {
		return err
	}
	if err := n.store.Sync(ctx); err != nil {
		return err
	}
	n.log.Info("library record taken", "subsystem", "mirror", "library", key, "sequence", l.Sequence, "bundles", len(l.Bundles), "from", source)
	if m != nil {
		m.mu.Lock()
		if st, ok := m.libs[key]; ok {
			st.lastUpdate, st.seq, st.root, st.title = time.Now(), l.Sequence, rec.Root, l.Title
			st.errs = nil
		}
		m.mu.Unlock()
		m.poke()
		if source != "pubsub" && m.rec != nil {
			// Spread what arrived by another path to the topic's peers
			// (those that have it already ignore it).
			go func() {
				if err := m.rec.publish(context.WithoutCancel(ctx), name, data); err != nil {
					n.log.Debug("mirror: relay record", "subsystem", "mirror", "library", key, "err", err)
				}
			}()
		}
	}
	return nil
}

// holdPinned pins c (if it is not pinned yet) and records holder's hold. A
// pin that existed before anything held it is the user's: it gets the
// user's hold too, so that releasing holder never unpins it. The caller
// holds the pin lock, flushes the pinner and syncs.
func (n *Node) holdPinned(ctx context.Context, c cid.Cid, holder string, mode pin.Mode, name string) error {
	_, pinned, err := n.Pinner.IsPinned(ctx, c)
	if err != nil {
		return err
	}
	if pinned {
		holders, err := n.mirrorState.Holders(ctx, c)
		if err != nil {
			return err
		}
		if len(holders) == 0 {
			if err := n.mirrorState.Hold(ctx, c, mirror.UserHolder); err != nil {
				return err
			}
		}
	} else if err := n.Pinner.PinWithMode(ctx, c, mode, name); err != nil {
		return err
	}
	return n.mirrorState.Hold(ctx, c, holder)
}

// releaseHold drops holder's hold on c and unpins c when nothing holds it
// any more. The caller holds the pin lock, flushes the pinner and syncs.
func (n *Node) releaseHold(ctx context.Context, c cid.Cid, holder string) (unpinned bool, err error) {
	left, err := n.mirrorState.Release(ctx, c, holder)
	if err != nil {
		return false, err
	}
	if len(left) > 0 {
		return false, nil
	}
	for _, recursive := range []bool{true, false} {
		err := n.Pinner.Unpin(ctx, c, recursive)
		if err == nil {
			return true, nil
		}
		if !errors.Is(err, pin.ErrNotPinned) {
			return false, err
		}
	}
	return false, nil
}

// plan works out what mb's policy keeps of its library and returns the
// tasks for the kept versions that are not pinned and held yet. Versions
// pinned already (by the user or another library) are only held. With
// local set it reads only the local store (status while offline).
func (m *mirrorService) plan(ctx context.Context, mb *member, local bool) []*mirrorTask {
	key := mb.name.String()
	n := m.n
	known, ok, err := n.mirrorState.Known(ctx, key)
	if err != nil || !ok {
		return nil
	}
	pub, _ := mb.name.Peer().ExtractPublicKey()
	v, err := library.Load(ctx, n.localDAG, known.Root, pub)
	if err != nil {
		m.noteError(key, fmt.Sprintf("library record %d: %v", known.Sequence, err))
		return nil
	}
	l := v.Library()
	versions, expect, errs := libraryVersions(ctx, l, mb.policy, m.record(local))
	if ctx.Err() == nil && !local {
		for _, err := range errs {
			m.noteError(key, err.Error())
		}
	}
	keep, skip := mirror.Plan(mb.policy, versions)
	var tasks []*mirrorTask
	keepSet := cid.NewSet()
	var pinnedN int
	var done, togo int64
	var unlock interface{ Unlock(context.Context) }
	// What this library holds already: one query, not one per version.
	held := cid.NewSet()
	if hs, err := n.mirrorState.Held(ctx, key); err == nil {
		for _, c := range hs {
			held.Add(c)
		}
	}
	for _, kv := range keep {
		keepSet.Add(kv.Root)
		if held.Has(kv.Root) {
			pinnedN++
			done += kv.Size
			continue
		}
		if _, pinned, _ := n.Pinner.IsPinnedWithType(ctx, kv.Root, pin.Recursive); pinned && !local {
			if unlock == nil {
				unlock = n.Blockstore.PinLock(ctx)
			}
			if err := n.holdPinned(ctx, kv.Root, key, pin.Recursive, ""); err == nil {
				pinnedN++
				done += kv.Size
				continue
			}
		}
		togo += kv.Size
		tasks = append(tasks, &mirrorTask{lib: key, v: kv, expect: expect[kv.Root]})
	}
	if unlock != nil {
		_ = n.store.Sync(ctx)
		unlock.Unlock(ctx)
	}
	m.mu.Lock()
	if st, ok := m.libs[key]; ok {
		st.planned = true
		st.bundles, st.versions, st.pinned, st.skipped = len(l.Bundles), len(keep), pinnedN, len(skip)
		st.bytesDone, st.bytesToGo = done, togo
		st.title, st.seq, st.root = l.Title, l.Sequence, known.Root
		st.keep, st.complete = keepSet, len(tasks) == 0
		if st.lastUpdate.IsZero() {
			st.lastUpdate = known.Taken
		}
	}
	m.mu.Unlock()
	return tasks
}

// recordFunc returns what the index keeps of the verified bundle version
// at root, which must be signed by expect (nil: any key).
type recordFunc func(ctx context.Context, root cid.Cid, expect crypto.PubKey) (bundle.Record, error)

// record reads versions from the bundle index where they were verified
// before, else by loading their manifests (fetching only the bundle roots
// and manifests); with local set, from the index alone (status while
// offline).
func (m *mirrorService) record(local bool) recordFunc {
	n := m.n
	return func(ctx context.Context, root cid.Cid, expect crypto.PubKey) (bundle.Record, error) {
		if r, ok, err := n.bundles.Get(ctx, root); err == nil && ok {
			return r, nil
		}
		if local {
			return bundle.Record{}, fmt.Errorf("%s is not known here", root)
		}
		// Reading the manifest stores the version's top blocks, which
		// its fetch needs next. Like every fetch, it marks the version
		// wanted first, so that no gc, also after a crash, deletes what
		// arrived (the mark precedes the blocks in the store's log): a
		// gc between the plan and the fetch would delete them and the
		// fetch fetch them again. Like every fetch, it does not hold the
		// pin lock while it reads from peers (see gcState). The round's
		// release drops the marks of versions it does not queue.
		if err := n.mirrorState.Want(ctx, root); err != nil {
			return bundle.Record{}, err
		}
		defer n.gc.track(root)()
		b, err := n.loadBundle(ctx, root, expect, false)
		if err != nil {
			return bundle.Record{}, err
		}
		return bundle.RecordOf(b), nil
	}
}

// libraryVersions lists the versions of l a policy chooses from: every
// bundle's newest version and, unless p keeps only those, the versions
// before it (chainOf). expect maps each older version to the key it must
// be signed by (its head's publisher); errs says, per bundle, why a chain
// ends early. The mirror plans with it, and so do sneakernet exports and
// imports, so that all three agree on what a policy keeps.
func libraryVersions(ctx context.Context, l *library.Library, p mirror.Policy, record recordFunc) (versions []mirror.Version, expect map[cid.Cid]crypto.PubKey, errs []error) {
	expect = map[cid.Cid]crypto.PubKey{}
	for _, e := range l.Bundles {
		versions = append(versions, mirror.Version{Root: e.Root, Bundle: e.Name, Sequence: e.Sequence, Size: e.Size, Updated: e.Updated})
		if p.Mode == mirror.Latest {
			continue
		}
		chain, key, err := chainOf(ctx, e, record)
		if err != nil && ctx.Err() == nil {
			errs = append(errs, fmt.Errorf("%s: older versions: %w", e.Name, err))
		}
		for _, c := range chain {
			expect[c.Root] = key
		}
		versions = append(versions, chain...)
	}
	return versions, expect, errs
}

// chainOf lists the versions before e's (its parents, theirs, ...) as
// record reads them. It returns the key every one of them must be signed
// by: the head's publisher.
func chainOf(ctx context.Context, e library.Entry, record recordFunc) ([]mirror.Version, crypto.PubKey, error) {
	head, err := record(ctx, e.Root, nil)
	if err != nil {
		return nil, nil, err
	}
	if head.Sequence != e.Sequence || head.Name != e.Name {
		return nil, nil, fmt.Errorf("the library lists %s as %s v%d, the bundle says %s v%d", e.Root, e.Name, e.Sequence, head.Name, head.Sequence)
	}
	pub, err := publicKeyOf(head.Publisher)
	if err != nil {
		return nil, nil, err
	}
	var out []mirror.Version
	seen := cid.NewSet()
	seen.Add(e.Root)
	type item struct {
		root  cid.Cid
		depth int
	}
	var queue []item
	for _, p := range head.Parents {
		queue = append(queue, item{p, 1})
	}
	for len(queue) > 0 && len(out) < maxChain {
		it := queue[0]
		queue = queue[1:]
		if !seen.Visit(it.root) {
			continue
		}
		r, err := record(ctx, it.root, pub)
		if err != nil {
			return out, pub, err
		}
		if r.Publisher != head.Publisher {
			return out, pub, fmt.Errorf("%s: parent %s is signed by %s, not %s", e.Name, it.root, r.Publisher, head.Publisher)
		}
		out = append(out, mirror.Version{Root: r.Root, Bundle: r.Name, Sequence: r.Sequence, Size: r.Size, Updated: r.Created, Depth: it.depth})
		for _, p := range r.Parents {
			queue = append(queue, item{p, it.depth + 1})
		}
	}
	return out, pub, nil
}

// release drops the holds of libraries whose plan is complete on versions
// the plan no longer keeps (a latest-only mirror's previous versions, what
// a lowered quota leaves out), unpinning what nothing else holds. It waits
// for completeness so a mirror is never left with less than it had while
// the newer versions are still on their way.
func (m *mirrorService) release(ctx context.Context) {
	m.mu.Lock()
	type job struct {
		lib  string
		keep *cid.Set
	}
	var jobs []job
	for key, st := range m.libs {
		if st.complete && st.keep != nil {
			jobs = append(jobs, job{key, st.keep})
		}
	}
	m.mu.Unlock()
	if len(jobs) == 0 {
		return
	}
	n := m.n
	unlock := n.Blockstore.PinLock(ctx)
	defer unlock.Unlock(ctx)
	changed := false
	for _, j := range jobs {
		held, err := n.mirrorState.Held(ctx, j.lib)
		if err != nil {
			continue
		}
		for _, c := range held {
			if j.keep.Has(c) {
				continue
			}
			if _, err := n.releaseHold(ctx, c, j.lib); err != nil {
				n.log.Warn("mirror: release", "subsystem", "mirror", "library", j.lib, "cid", c, "err", err)
				continue
			}
			changed = true
		}
	}
	// Fetches nothing wants any more (unfollowed, or planned away) stop
	// protecting their blocks from gc.
	wanted, err := n.mirrorState.Wanted(ctx)
	if err == nil {
		m.mu.Lock()
		planned := cid.NewSet()
		for _, t := range m.queue {
			planned.Add(t.v.Root)
		}
		for c := range m.active {
			planned.Add(c)
		}
		for c := range m.retry {
			planned.Add(c) // failed for now, still wanted: keep what arrived
		}
		m.mu.Unlock()
		for _, c := range wanted {
			if !planned.Has(c) {
				_ = n.mirrorState.Unwant(ctx, c)
				changed = true
			}
		}
	}
	if changed {
		_ = n.Pinner.Flush(ctx)
		_ = n.store.Sync(ctx)
	}
}

// worker fetches queued versions one after another.
func (m *mirrorService) worker(ctx context.Context) {
	for {
		t := m.next()
		if t == nil {
			select {
			case <-ctx.Done():
				return
			case <-m.ready:
				continue
			}
		}
		tctx, cancel := context.WithCancel(ctx)
		m.mu.Lock()
		t.cancel = cancel
		m.mu.Unlock()
		err := m.fetch(tctx, t)
		cancel()
		m.done(t, err)
		if ctx.Err() != nil {
			return
		}
	}
}

// next takes the first queued task, or nil; it wakes another worker if
// more are queued.
func (m *mirrorService) next() *mirrorTask {
	m.mu.Lock()
	defer m.mu.Unlock()
	for len(m.queue) > 0 {
		t := m.queue[0]
		m.queue = m.queue[1:]
		if _, busy := m.active[t.v.Root]; busy {
			continue
		}
		if _, ok := m.libs[t.lib]; !ok {
			continue // unfollowed meanwhile
		}
		m.active[t.v.Root] = t
		if len(m.queue) > 0 {
			select {
			case m.ready <- struct{}{}:
			default:
			}
		}
		return t
	}
	return nil
}

// fetch makes one version complete locally, verifies it and pins it for
// its library. Blocks already stored are never fetched again; while it
// runs (and after a crash, until the version is pinned or planned away)
// the version is marked wanted, so gc keeps what of it has arrived.
func (m *mirrorService) fetch(ctx context.Context, t *mirrorTask) error {
	n := m.n
	root := t.v.Root
	// The pin lock is held to look and to pin, not while fetching: a
	// collection runs beside a fetch (see gcState).
	unlock := n.Blockstore.PinLock(ctx)
	if _, pinned, err := n.Pinner.IsPinnedWithType(ctx, root, pin.Recursive); err == nil && pinned {
		err := n.holdPinned(ctx, root, t.lib, pin.Recursive, "")
		if err == nil {
			err = n.store.Sync(ctx)
		}
		unlock.Unlock(ctx)
		return err
	}
	// Durable before the first block arrives, so that after a crash gc
	// still knows what the blocks it finds are for.
	err := n.mirrorState.Want(ctx, root)
	if err == nil {
		err = n.store.Sync(ctx)
	}
	unlock.Unlock(ctx)
	if err != nil {
		return err
	}
	progress := func(p api.Progress) {
		m.mu.Lock()
		if st, ok := m.libs[t.lib]; ok {
			st.inflight[root] = p.Bytes
		}
		m.mu.Unlock()
	}
	unlock, err = n.fetchLocked(ctx, root, progress)
	if err != nil {
		return err
	}
	defer unlock.Unlock(ctx)
	b, err := bundle.Load(ctx, n.localDAG, root, bundle.LoadOptions{Publisher: t.expect})
	if err != nil {
		return refusal{fmt.Errorf("%s: %w", t.v.Bundle, bundleError(err))}
	}
	if err := n.mirrorable(b); err != nil {
		return refusal{err}
	}
	return n.pinVersion(ctx, t.lib, b)
}

// errNotOpen: a bundle version that is not open source, on a node whose
// mirror.allow_non_open is off.
var errNotOpen = errors.New("not open source")

// mirrorable checks a verified version's licences as a mirror does: they
// must be what the manifest claims (open or not), and open unless
// mirror.allow_non_open is set (errNotOpen).
func (n *Node) mirrorable(b *bundle.Bundle) error {
	mf := b.Manifest()
	rep, err := license.CheckTriple(license.Triple{Hardware: mf.Licenses.Hardware, Software: mf.Licenses.Software, Documentation: mf.Licenses.Documentation}, true)
	switch {
	case err != nil:
		return fmt.Errorf("%s: licences: %w", b, err)
	case rep.Open != mf.OpenSource:
		return fmt.Errorf("%s: the manifest says open source = %t, its licences say %t", b, mf.OpenSource, rep.Open)
	case !rep.Open && !n.settings.Mirror.AllowNonOpen:
		return fmt.Errorf("%s is %w (%s / %s / %s); set mirror.allow_non_open to mirror it", b, errNotOpen, mf.Licenses.Hardware, mf.Licenses.Software, mf.Licenses.Documentation)
	}
	return nil
}

// pinVersion pins a verified version whose blocks are all stored, for the
// library lib (its hold), and makes it durable; the caller holds the pin
// lock.
func (n *Node) pinVersion(ctx context.Context, lib string, b *bundle.Bundle) error {
	root := b.Root
	return n.pinLocal(ctx, root, b.Manifest().Name, func(ctx context.Context) error {
		if err := n.bundles.Advance(ctx, b); err != nil && !errors.Is(err, bundle.ErrStale) {
			return err
		}
		if err := n.mirrorState.Hold(ctx, root, lib); err != nil {
			return err
		}
		return n.mirrorState.Unwant(ctx, root)
	})
}

// refusal is a version that fetched but does not verify: it is not tried
// again until the next start.
type refusal struct{ error }

func (r refusal) Unwrap() error { return r.error }

// done records a task's outcome.
func (m *mirrorService) done(t *mirrorTask, err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	delete(m.active, t.v.Root)
	st := m.libs[t.lib]
	if st != nil {
		delete(st.inflight, t.v.Root)
	}
	var ref refusal
	switch {
	case err == nil:
		delete(m.retry, t.v.Root)
		if st != nil {
			st.pinned++
			st.bytesDone += t.v.Size
			st.bytesToGo = max(0, st.bytesToGo-t.v.Size)
			st.lastUpdate = time.Now()
		}
		m.n.log.Info("mirror: pinned", "subsystem", "mirror", "library", t.lib, "bundle", t.v.Bundle, "sequence", t.v.Sequence, "cid", t.v.Root)
	case errors.As(err, &ref):
		m.refused[t.v.Root] = err.Error()
		if st != nil {
			st.addError("refused " + err.Error())
		}
		m.n.log.Warn("mirror: version refused", "subsystem", "mirror", "library", t.lib, "cid", t.v.Root, "err", err)
	case errors.Is(err, context.Canceled):
		// Stopping, or unfollowed: the next start (or round) resumes.
	default:
		r := m.retry[t.v.Root]
		r.failures++
		r.next = time.Now().Add(min(30*time.Second<<min(r.failures-1, 5), 15*time.Minute))
		m.retry[t.v.Root] = r
		if st != nil {
			st.addError(fmt.Sprintf("%s v%d: %v (retrying after %s)", t.v.Bundle, t.v.Sequence, err, time.Until(r.next).Round(time.Second)))
		}
	}
	if len(m.queue) == 0 && len(m.active) == 0 {
		m.poke() // a round releases what complete plans no longer keep
	}
}

// cancelLib stops the fetches of a library that is no longer followed.
func (m *mirrorService) cancelLib(lib string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, t := range m.active {
		if t.lib == lib && t.cancel != nil {
			t.cancel()
		}
	}
	delete(m.libs, lib)
}

// sampleRate records the bytes received from peers, once a second, for the
// transfer rate in the status.
func (m *mirrorService) sampleRate(ctx context.Context) {
	if m.n.Host == nil {
		return // offline: nothing arrives
	}
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			// Bitswap and the bulk path together.
			got := uint64(max(0, m.n.Received().Bytes))
			m.mu.Lock()
			m.samples = append(m.samples, rateSample{now, got})
			if len(m.samples) > 6 {
				m.samples = m.samples[len(m.samples)-6:]
			}
			m.mu.Unlock()
		}
	}
}

// rate is the bytes per second received over the last few seconds. The
// caller holds m.mu.
func (m *mirrorService) rate() float64 {
	if len(m.samples) < 2 {
		return 0
	}
	a, b := m.samples[0], m.samples[len(m.samples)-1]
	dt := b.t.Sub(a.t).Seconds()
	if dt <= 0 || b.bytes < a.bytes {
		return 0
	}
	return float64(b.bytes-a.bytes) / dt
}

// unfinished reports whether the mirror has fetches running or waiting
// for a retry.
func (m *mirrorService) unfinished() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.active) > 0 || len(m.queue) > 0 || len(m.retry) > 0
}

// retryNow makes every failed fetch due at once, and the lookup of every
// library with no record yet (a village that followed before it had any
// peer), and starts a round, when there is any such (a peer has just
// connected: what failed may work now). After isolation (the node had no
// other peer) every library not looked up for a minute is due too: it may
// have missed updates. It reports whether anything was made due.
func (m *mirrorService) retryNow(afterIsolation bool) bool {
	m.mu.Lock()
	due := false
	for c, r := range m.retry {
		if r.next.After(time.Now()) {
			r.next = time.Now()
			m.retry[c] = r
			due = true
		}
	}
	for _, st := range m.libs {
		since := time.Since(st.lastCheck)
		if (!st.planned && since > 2*time.Second) || (afterIsolation && since > time.Minute) {
			st.lastCheck = time.Time{}
			due = true
		}
	}
	m.mu.Unlock()
	if due {
		m.poke()
	}
	return due
}

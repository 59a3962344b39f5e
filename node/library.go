package node

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ipfs/boxo/ipns"
	pin "github.com/ipfs/boxo/pinning/pinner"
	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/pkg/bundle"
	"github.com/commons-p2p/commons/pkg/library"
)

var _ api.LibraryService = (*Node)(nil)

// ownLibraryKey keeps this node's library: its root and the signed IPNS
// record that points at it.
var ownLibraryKey = ds.NewKey("/commons/library/own")

type ownLibrary struct {
	Root     cid.Cid `json:"root"`
	Sequence int64   `json:"sequence"`
	Record   []byte  `json:"record"`
}

// libraryName is the IPNS name of this node's library (its publisher key's).
func (n *Node) libraryName() (ipns.Name, error) {
	if n.publisher == nil {
		return ipns.Name{}, errors.New("this node has no publisher key")
	}
	return library.NameOf(n.publisher.GetPublic())
}

// ownLibrary reads this node's library; a node that never published has
// none (nil version, no error).
func (n *Node) ownLibrary(ctx context.Context) (ownLibrary, *library.Version, error) {
	own, ok, err := n.ownLibraryState(ctx)
	if err != nil || !ok {
		if err != nil {
			err = fmt.Errorf("read own library: %w", err)
		}
		return own, nil, err
	}
	lv, err := library.Load(ctx, n.localDAG, own.Root, n.publisher.GetPublic())
	if err != nil {
		return own, nil, fmt.Errorf("read own library: %w", err)
	}
	return own, lv, nil
}

// updateLibrary applies edit to this node's library; if it changed
// anything, it signs the next record, stores and pins the new library root
// (unpinning the old one), makes that durable and queues the record for
// announcement. The caller holds the pin lock.
func (n *Node) updateLibrary(ctx context.Context, edit func(library.Library) (library.Library, bool)) (*library.Version, error) {
	if n.publisher == nil {
		return nil, errors.New("library: this node has no publisher key")
	}
	// Local work only, and what it changes must change together: the new
	// root pinned, the old one unpinned, the record kept. A caller that
	// goes away (a publish whose client disconnected after its commit)
	// must not leave the library behind or a second root pinned.
	ctx = context.WithoutCancel(ctx)
	n.libMu.Lock()
	defer n.libMu.Unlock()
	own, cur, err := n.ownLibrary(ctx)
	if err != nil {
		return nil, err
	}
	var l library.Library
	if cur != nil {
		l = *cur.Library()
	}
	next, changed := edit(l)
	title := n.settings.Library.Title
	if !changed && cur != nil && l.Title == title {
		return cur, nil
	}
	next.Sequence, next.Created, next.Title = l.Sequence+1, "", title
	s, err := library.Sign(next, n.publisher)
	if err != nil {
		return nil, fmt.Errorf("library: %w", err)
	}
	root, err := library.Build(ctx, n.localDAG, s)
	if err != nil {
		return nil, fmt.Errorf("library: %w", err)
	}
	rec, err := library.NewRecord(n.publisher, root, uint64(next.Sequence), n.settings.Library.RecordLifetime.D(), n.settings.Library.RecordTTL.D())
	if err != nil {
		return nil, fmt.Errorf("library: %w", err)
	}
	err = n.pinLocal(ctx, root, "library", func(ctx context.Context) error {
		if own.Root.Defined() && !own.Root.Equals(root) {
			if err := n.Pinner.Unpin(ctx, own.Root, true); err != nil && !errors.Is(err, pin.ErrNotPinned) {
				return err
			}
			if err := n.Pinner.Flush(ctx); err != nil {
				return err
			}
		}
		v, _ := json.Marshal(ownLibrary{Root: root, Sequence: next.Sequence, Record: rec.Data})
		return n.store.Datastore().Put(ctx, ownLibraryKey, v)
	})
	if err != nil {
		return nil, fmt.Errorf("library: %w", err)
	}
	n.libraryChanged()
	return library.Load(ctx, n.localDAG, root, n.publisher.GetPublic())
}

// libraryChanged tells the announcer that this node's library has a new
// record. It never blocks.
func (n *Node) libraryChanged() {
	select {
	case n.ownRecordCh <- struct{}{}:
	default:
	}
}

// entryOf is the library entry of a verified bundle version.
func entryOf(r bundle.Record) library.Entry {
	return library.Entry{Name: r.Name, Root: r.Root, Sequence: r.Sequence, Size: r.Size, Title: r.Title, OpenSource: r.Open, Updated: r.Created}
}

// addToLibrary puts a newly committed version of one of this node's
// bundles into its library. The caller holds the pin lock.
func (n *Node) addToLibrary(ctx context.Context, b *bundle.Bundle) error {
	e := entryOf(bundle.RecordOf(b))
	_, err := n.updateLibrary(ctx, func(l library.Library) (library.Library, bool) {
		if old, ok := l.Entry(e.Name); ok && old.Sequence >= e.Sequence {
			return l, false
		}
		return l.With(e), true
	})
	return err
}

// reconcileLibrary makes the library list the head of every bundle this
// node publishes, as its index records them: a crash between a publish's
// commit and the library's update is repaired at the next start.
func (n *Node) reconcileLibrary(ctx context.Context) error {
	id := n.publisherID()
	if id == "" {
		return nil
	}
	heads, err := n.bundles.Heads(ctx)
	if err != nil {
		return err
	}
	var mine []library.Entry
	for _, h := range heads {
		if h.Publisher == id {
			if has, err := n.Blockstore.Has(ctx, h.Root); err == nil && has {
				mine = append(mine, entryOf(h))
			}
		}
	}
	if len(mine) == 0 {
		return nil
	}
	defer n.Blockstore.PinLock(ctx).Unlock(ctx)
	_, err = n.updateLibrary(ctx, func(l library.Library) (library.Library, bool) {
		changed := false
		for _, e := range mine {
			if old, ok := l.Entry(e.Name); !ok || old.Sequence < e.Sequence {
				l, changed = l.With(e), true
			}
		}
		return l, changed
	})
	return err
}

// Library implements api.LibraryService.
func (n *Node) Library(ctx context.Context) (api.LibraryInfo, error) {
	name, err := n.libraryName()
	if err != nil {
		return api.LibraryInfo{}, fmt.Errorf("library: %w", err)
	}
	_, v, err := n.ownLibrary(ctx)
	if err != nil {
		return api.LibraryInfo{}, fmt.Errorf("library: %w", err)
	}
	info := api.LibraryInfo{Name: name.String(), Publisher: n.publisherID(), Title: n.settings.Library.Title, Own: true, Bundles: []api.LibraryEntry{}}
	if v != nil {
		n.fillLibraryInfo(&info, v)
	}
	return info, nil
}

func (n *Node) fillLibraryInfo(info *api.LibraryInfo, v *library.Version) {
	l := v.Library()
	info.Title, info.Sequence, info.Root, info.Updated = l.Title, l.Sequence, v.Root, l.Created
	info.Includes = slices.Clone(l.Includes)
	info.Bundles = make([]api.LibraryEntry, 0, len(l.Bundles))
	for _, e := range l.Bundles {
		info.Bundles = append(info.Bundles, api.LibraryEntry{Name: e.Name, Title: e.Title, Root: e.Root, Sequence: e.Sequence, Size: e.Size, Open: e.OpenSource, Updated: e.Updated})
	}
	if u := n.GatewayURL(); u != "" {
		info.GatewayURL = u + "/ipns/" + info.Name + "/"
	}
}

// Include implements api.LibraryService.
func (n *Node) Include(ctx context.Context, s string, remove bool) (api.LibraryInfo, error) {
	name, err := library.ParseName(s)
	if err != nil {
		return api.LibraryInfo{}, fmt.Errorf("include %s: %w: %w", s, api.ErrInvalid, err)
	}
	own, err := n.libraryName()
	if err != nil {
		return api.LibraryInfo{}, fmt.Errorf("include %s: %w", s, err)
	}
	if name.Equal(own) && !remove {
		return api.LibraryInfo{}, fmt.Errorf("include %s: %w: that is this node's own library", s, api.ErrInvalid)
	}
	unlock := n.Blockstore.PinLock(ctx)
	_, err = n.updateLibrary(ctx, func(l library.Library) (library.Library, bool) {
		return l.WithInclude(name.String(), remove)
	})
	unlock.Unlock(ctx)
	if err != nil {
		return api.LibraryInfo{}, fmt.Errorf("include %s: %w", s, err)
	}
	return n.Library(ctx)
}

// libraryRecord returns the newest IPNS record this node holds for name:
// its own, or a followed library's. ok is false when it holds none.
func (n *Node) libraryRecord(ctx context.Context, name ipns.Name) (*library.NameRecord, bool) {
	if own, err := n.libraryName(); err == nil && own.Equal(name) {
		o, _, err := n.ownLibraryState(ctx)
		if err != nil || len(o.Record) == 0 {
			return nil, false
		}
		rec, err := library.CheckRecord(name, o.Record)
		return rec, err == nil
	}
	k, ok, err := n.mirrorState.Known(ctx, name.String())
	if err != nil || !ok {
		return nil, false
	}
	rec, err := library.CheckRecord(name, k.Record)
	return rec, err == nil
}

// ownLibraryState reads the own library's state without loading the root.
func (n *Node) ownLibraryState(ctx context.Context) (ownLibrary, bool, error) {
	var own ownLibrary
	v, err := n.store.Datastore().Get(ctx, ownLibraryKey)
	if errors.Is(err, ds.ErrNotFound) {
		return own, false, nil
	}
	if err != nil {
		return own, false, err
	}
	return own, true, json.Unmarshal(v, &own)
}

// refreshOwnRecord signs the own library's record again with a new
// validity (same sequence, same root) when less than half of its lifetime
// is left, so that the record the republisher puts never lapses.
func (n *Node) refreshOwnRecord(ctx context.Context) (*library.NameRecord, error) {
	n.libMu.Lock()
	defer n.libMu.Unlock()
	own, ok, err := n.ownLibraryState(ctx)
	if err != nil || !ok {
		return nil, err
	}
	name, err := n.libraryName()
	if err != nil {
		return nil, err
	}
	rec, err := library.CheckRecord(name, own.Record)
	if err == nil && time.Until(rec.EOL) > n.settings.Library.RecordLifetime.D()/2 {
		return rec, nil
	}
	rec, err = library.NewRecord(n.publisher, own.Root, uint64(own.Sequence), n.settings.Library.RecordLifetime.D(), n.settings.Library.RecordTTL.D())
	if err != nil {
		return nil, err
	}
	own.Record = rec.Data
	v, _ := json.Marshal(own)
	if err := n.store.Datastore().Put(ctx, ownLibraryKey, v); err != nil {
		return nil, err
	}
	return rec, n.store.Sync(ctx)
}

// libraryLabel shortens a library name for messages and pin names.
func libraryLabel(name string) string {
	if len(name) > 16 {
		return name[:8] + "…" + name[len(name)-6:]
	}
	return name
}

// announceLibrary publishes this node's library record whenever it
// changes, and again every library.republish: at once on the library's
// pubsub topic (followers connected to the mesh have it within seconds),
// then into the DHT (the reliable path). On the same interval it puts the
// records of the libraries it follows into the DHT, so that a library
// stays resolvable while its publisher is offline.
func (n *Node) announceLibrary(ctx context.Context, r *records) {
	name, err := n.libraryName()
	if err != nil {
		return
	}
	log := n.log.With("subsystem", "library")
	if err := r.join(ctx, name, func(context.Context, ipns.Name, []byte, peer.ID) {}); err != nil {
		log.Warn("join the library's pubsub topic", "err", err)
	}
	if err := n.reconcileLibrary(ctx); err != nil {
		log.Warn("bring the library up to date with the published bundles", "err", err)
	}
	// DHT puts run one at a time in their own loop, always with the
	// newest record, so a burst of publishes costs one put.
	putCh := make(chan struct{}, 1)
	go func() {
		for {
			select {
			case <-ctx.Done():
				return
			case <-putCh:
			}
			for !n.routingReady() && n.Routing != nil {
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Second):
				}
			}
			if rec, ok := n.libraryRecord(ctx, name); ok {
				if err := r.put(ctx, name, rec.Data); err != nil && ctx.Err() == nil {
					log.Debug("put library record into the DHT", "err", err)
				} else if err == nil {
					log.Debug("library record in the DHT", "sequence", rec.Sequence)
				}
			}
			n.putFollowedRecords(ctx, r)
		}
	}()
	queuePut := func() {
		select {
		case putCh <- struct{}{}:
		default:
		}
	}
	tick := time.NewTicker(n.settings.Library.Republish.D())
	defer tick.Stop()
	n.libraryChanged() // announce what there is at start
	for {
		select {
		case <-ctx.Done():
			return
		case <-n.ownRecordCh:
		case <-tick.C:
			if _, err := n.refreshOwnRecord(ctx); err != nil {
				log.Warn("sign the library record again", "err", err)
			}
		}
		if rec, ok := n.libraryRecord(ctx, name); ok {
			if err := r.publish(ctx, name, rec.Data); err != nil && ctx.Err() == nil {
				log.Debug("publish library record on pubsub", "err", err)
			}
		}
		queuePut()
	}
}

// putFollowedRecords puts the unexpired records of followed libraries
// into the DHT.
func (n *Node) putFollowedRecords(ctx context.Context, r *records) {
	members, err := n.closure(ctx)
	if err != nil {
		return
	}
	for _, m := range members {
		if rec, ok := n.libraryRecord(ctx, m.name); ok && !rec.Expired(time.Now()) {
			if err := r.put(ctx, m.name, rec.Data); err != nil && ctx.Err() == nil {
				n.log.Debug("put followed library record", "subsystem", "library", "library", m.name, "err", err)
			}
		}
	}
}

// LibraryRecord returns the signed IPNS record of this node's library
// (what followers, the DHT and a sneakernet CAR carry). ErrNotFound before
// the first publish.
func (n *Node) LibraryRecord(ctx context.Context) ([]byte, error) {
	own, ok, err := n.ownLibraryState(ctx)
	if err != nil {
		return nil, err
	}
	if !ok || len(own.Record) == 0 {
		return nil, fmt.Errorf("library record: %w: this node has published nothing yet", api.ErrNotFound)
	}
	return own.Record, nil
}

// OfferRecord takes a library record from outside the network (a CAR, a
// test): see offerRecord. A record that is not newer than the one kept
// fails with mirror.ErrStale and changes nothing.
func (n *Node) OfferRecord(ctx context.Context, name ipns.Name, data []byte) error {
	return n.offerRecord(ctx, name, data, "offer")
}

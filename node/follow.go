package node

import (
	"context"
	"fmt"

	"github.com/ipfs/go-cid"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/pkg/library"
	"github.com/commons-p2p/commons/pkg/mirror"
)

func toPolicy(p api.FollowPolicy) mirror.Policy { return mirror.Policy{Mode: p.Mode, Quota: p.Quota} }

func fromPolicy(p mirror.Policy) api.FollowPolicy {
	return api.FollowPolicy{Mode: p.Mode, Quota: p.Quota}
}

// Follow implements api.LibraryService.
func (n *Node) Follow(ctx context.Context, s string, policy api.FollowPolicy) (api.FollowInfo, error) {
	name, err := library.ParseName(s)
	if err != nil {
		return api.FollowInfo{}, fmt.Errorf("follow %s: %w: %w", s, api.ErrInvalid, err)
	}
	if own, err := n.libraryName(); err == nil && own.Equal(name) {
		return api.FollowInfo{}, fmt.Errorf("follow %s: %w: that is this node's own library", s, api.ErrInvalid)
	}
	p := toPolicy(policy)
	if err := p.Validate(); err != nil {
		return api.FollowInfo{}, fmt.Errorf("follow %s: %w: %w", s, api.ErrInvalid, err)
	}
	replaced, err := n.mirrorState.Follow(ctx, name.String(), p)
	if err != nil {
		return api.FollowInfo{}, fmt.Errorf("follow %s: %w", s, err)
	}
	if err := n.store.Sync(ctx); err != nil {
		return api.FollowInfo{}, fmt.Errorf("follow %s: %w", s, err)
	}
	if n.mirror != nil {
		n.mirror.poke()
	}
	return api.FollowInfo{Name: name.String(), Policy: fromPolicy(p), Replaced: replaced}, nil
}

// Unfollow implements api.LibraryService.
func (n *Node) Unfollow(ctx context.Context, s string) (api.UnfollowResult, error) {
	name, err := library.ParseName(s)
	if err != nil {
		return api.UnfollowResult{}, fmt.Errorf("unfollow %s: %w: %w", s, api.ErrInvalid, err)
	}
	key := name.String()
	unlock := n.Blockstore.PinLock(ctx)
	defer unlock.Unlock(ctx)
	before, err := n.closure(ctx)
	if err != nil {
		return api.UnfollowResult{}, fmt.Errorf("unfollow %s: %w", s, err)
	}
	ok, err := n.mirrorState.Unfollow(ctx, key)
	if err != nil {
		return api.UnfollowResult{}, fmt.Errorf("unfollow %s: %w", s, err)
	}
	if !ok {
		return api.UnfollowResult{}, fmt.Errorf("unfollow %s: %w: this node does not follow it (`commons mirror status` lists what it follows)", s, api.ErrNotFound)
	}
	after, err := n.closure(ctx)
	if err != nil {
		return api.UnfollowResult{}, fmt.Errorf("unfollow %s: %w", s, err)
	}
	still := map[string]bool{}
	for _, m := range after {
		still[m.name.String()] = true
	}
	res := api.UnfollowResult{Name: key, Libraries: []string{}}
	for _, m := range before {
		lib := m.name.String()
		if still[lib] {
			continue
		}
		res.Libraries = append(res.Libraries, lib)
		if n.mirror != nil {
			n.mirror.cancelLib(lib)
			if n.mirror.rec != nil {
				n.mirror.rec.leave(m.name)
			}
		}
		for _, holder := range []string{lib, structureHolder(lib)} {
			held, err := n.mirrorState.Held(ctx, holder)
			if err != nil {
				return res, fmt.Errorf("unfollow %s: %w", s, err)
			}
			for _, c := range held {
				unpinned, err := n.releaseHold(ctx, c, holder)
				if err != nil {
					return res, fmt.Errorf("unfollow %s: release %s: %w", s, c, err)
				}
				if holder == lib {
					if unpinned {
						res.Unpinned++
					} else {
						res.Kept++
					}
				}
			}
		}
		if err := n.mirrorState.ForgetKnown(ctx, lib); err != nil {
			return res, fmt.Errorf("unfollow %s: %w", s, err)
		}
	}
	if err := n.Pinner.Flush(ctx); err != nil {
		return res, fmt.Errorf("unfollow %s: %w", s, err)
	}
	if err := n.store.Sync(ctx); err != nil {
		return res, fmt.Errorf("unfollow %s: %w", s, err)
	}
	if n.mirror != nil {
		n.mirror.poke()
	}
	return res, nil
}

// Libraries implements api.LibraryService.
func (n *Node) Libraries(ctx context.Context) ([]api.LibraryInfo, error) {
	var out []api.LibraryInfo
	if n.publisher != nil {
		own, err := n.Library(ctx)
		if err != nil {
			return nil, err
		}
		out = append(out, own)
	}
	members, err := n.closure(ctx)
	if err != nil {
		return nil, fmt.Errorf("libraries: %w", err)
	}
	for _, m := range members {
		key := m.name.String()
		p := fromPolicy(m.policy)
		info := api.LibraryInfo{Name: key, Publisher: m.name.Peer().String(), Following: &p, Via: m.via, Bundles: []api.LibraryEntry{}}
		if k, ok, err := n.mirrorState.Known(ctx, key); err == nil && ok {
			pub, _ := m.name.Peer().ExtractPublicKey()
			if v, err := library.Load(ctx, n.localDAG, k.Root, pub); err == nil {
				n.fillLibraryInfo(&info, v)
			}
		}
		out = append(out, info)
	}
	return out, nil
}

// MirrorStatus implements api.LibraryService. Without a running daemon the
// numbers come from the local store alone (State "stopped").
func (n *Node) MirrorStatus(ctx context.Context) (api.MirrorStatus, error) {
	members, err := n.closure(ctx)
	if err != nil {
		return api.MirrorStatus{}, fmt.Errorf("mirror status: %w", err)
	}
	m := n.mirror
	offline := m == nil
	if offline {
		m = newMirror(n, nil)
	}
	out := api.MirrorStatus{Libraries: []api.MirrorLibrary{}}
	for _, mb := range members {
		key := mb.name.String()
		if offline {
			m.libs[key] = &libStatus{member: mb, inflight: map[cid.Cid]int64{}}
			m.plan(ctx, mb, true)
		}
		m.mu.Lock()
		st := m.libs[key]
		lib := api.MirrorLibrary{Name: key, Policy: fromPolicy(mb.policy), Direct: mb.direct, Via: mb.via, State: api.MirrorResolving}
		if st != nil {
			lib.Title, lib.Sequence, lib.Root = st.title, st.seq, st.root
			lib.Bundles, lib.Versions, lib.Pinned, lib.Skipped = st.bundles, st.versions, st.pinned, st.skipped
			lib.BytesDone, lib.BytesToGo = st.bytesDone, st.bytesToGo
			for _, b := range st.inflight {
				lib.BytesToGo = max(0, lib.BytesToGo-b)
			}
			lib.LastUpdate, lib.LastCheck, lib.Errors = st.lastUpdate, st.lastCheck, append([]string(nil), st.errs...)
			busy := len(st.inflight)
			if busy > 0 {
				total := 0
				for _, s := range m.libs {
					total += len(s.inflight)
				}
				lib.Rate = m.rate() * float64(busy) / float64(total)
			}
			switch {
			case offline && st.planned && lib.Pinned == lib.Versions:
				lib.State = api.MirrorCurrent
			case offline:
				lib.State = api.MirrorStopped
			case !st.planned:
				lib.State = api.MirrorResolving
			case lib.Pinned == lib.Versions:
				lib.State = api.MirrorCurrent
			case busy > 0 || !m.stalled(key):
				lib.State = api.MirrorFetching
			default:
				lib.State = api.MirrorStalled
			}
		}
		m.mu.Unlock()
		if lib.Sequence == 0 {
			if k, ok, err := n.mirrorState.Known(ctx, key); err == nil && ok {
				lib.Sequence, lib.Root, lib.Title = k.Sequence, k.Root, k.Title
				if lib.LastUpdate.IsZero() {
					lib.LastUpdate = k.Taken
				}
			}
		}
		out.Libraries = append(out.Libraries, lib)
	}
	return out, nil
}

// stalled reports whether the library still needs versions but none is
// queued or being fetched: each is waiting to be retried after a failure.
// The caller holds m.mu.
func (m *mirrorService) stalled(lib string) bool {
	for _, t := range m.queue {
		if t.lib == lib {
			return false
		}
	}
	for _, t := range m.active {
		if t.lib == lib {
			return false
		}
	}
	return len(m.libs[lib].errs) > 0
}

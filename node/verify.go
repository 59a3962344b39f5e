package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/pkg/store"
)

var _ api.Verifier = (*Node)(nil)

// Verify implements api.Verifier.
func (n *Node) Verify(ctx context.Context, opts api.VerifyOptions, progress func(api.Progress)) (api.VerifyResult, error) {
	if opts.Repair && n.offline {
		return api.VerifyResult{}, fmt.Errorf("verify --repair: %w: repairs fetch from peers; start the daemon (commons daemon)", api.ErrOffline)
	}
	// The pin lock keeps gc away: a block it deleted meanwhile would look
	// missing.
	defer n.Blockstore.PinLock(ctx).Unlock(ctx)
	report := func(phase string, blocks, bytes int64) {
		if progress != nil {
			progress(api.Progress{Phase: phase, Blocks: blocks, Bytes: bytes})
		}
	}
	var res api.VerifyResult
	corrupt := cid.NewSet()
	ctx = store.Uncached(ctx) // hash what is on disk, not what a read left in memory
	keys, err := n.Blockstore.AllKeysChan(ctx)
	if err != nil {
		return res, fmt.Errorf("verify: list blocks: %w", err)
	}
	for k := range keys {
		b, err := n.Blockstore.Get(ctx, k)
		if err != nil {
			return res, fmt.Errorf("verify: read %s: %w", k, err)
		}
		data := b.RawData()
		res.Blocks++
		res.Bytes += int64(len(data))
		if !hashMatches(k, data) {
			corrupt.Add(k)
			res.Corrupt = append(res.Corrupt, k)
		}
		if res.Blocks%512 == 0 {
			report("verify blocks", res.Blocks, res.Bytes)
		}
	}
	if err := ctx.Err(); err != nil {
		return res, fmt.Errorf("verify: %w", err)
	}
	report("verify blocks", res.Blocks, res.Bytes)

	pins, err := n.Pins(ctx)
	if err != nil {
		return res, fmt.Errorf("verify: %w", err)
	}
	incomplete := map[cid.Cid]*api.IncompletePin{}
	for _, p := range pins {
		res.Pins++
		missing, err := n.missingUnder(ctx, p, corrupt)
		if err != nil {
			return res, fmt.Errorf("verify: pin %s: %w", p.CID, err)
		}
		if len(missing) > 0 {
			ip := api.IncompletePin{CID: p.CID, Name: p.Name, Missing: len(missing), First: missing[:min(len(missing), 20)]}
			res.Incomplete = append(res.Incomplete, ip)
			incomplete[p.CID] = &res.Incomplete[len(res.Incomplete)-1]
		}
	}
	if !opts.Repair {
		for _, c := range res.Corrupt {
			res.Unrepaired = append(res.Unrepaired, fmt.Sprintf("block %s is corrupt", c))
		}
		for _, ip := range res.Incomplete {
			res.Unrepaired = append(res.Unrepaired, fmt.Sprintf("pin %s (%s) lacks %d blocks", ip.CID, ip.Name, ip.Missing))
		}
		res.OK = len(res.Unrepaired) == 0
		return res, nil
	}

	// Repair: corrupt blocks go (a pinned DAG then lacks them), and every
	// incomplete pin is fetched again, each block checked on arrival.
	for _, c := range res.Corrupt {
		if err := n.Blockstore.DeleteBlock(ctx, c); err != nil {
			return res, fmt.Errorf("verify: delete corrupt %s: %w", c, err)
		}
	}
	needed := cid.NewSet()
	for _, ip := range res.Incomplete {
		for _, c := range ip.First {
			needed.Add(c)
		}
	}
	for _, c := range res.Corrupt {
		if !needed.Has(c) {
			res.Removed++ // no pin needed it (as far as the first 20 per pin tell)
		}
	}
	for _, ip := range res.Incomplete {
		before := n.countStoredUnder(ctx, ip.CID)
		if err := n.fetchDAG(ctx, ip.CID, func(p api.Progress) { p.Phase = "repair"; report(p.Phase, p.Blocks, p.Bytes) }); err != nil {
			res.Unrepaired = append(res.Unrepaired, fmt.Sprintf("pin %s (%s): %v", ip.CID, ip.Name, err))
			continue
		}
		res.Repaired += n.countStoredUnder(ctx, ip.CID) - before
	}
	if err := n.store.Sync(ctx); err != nil {
		return res, fmt.Errorf("verify: %w", err)
	}
	res.OK = len(res.Unrepaired) == 0
	return res, nil
}

// hashMatches reports whether data hashes to k's multihash.
func hashMatches(k cid.Cid, data []byte) bool {
	dec, err := mh.Decode(k.Hash())
	if err != nil {
		return false
	}
	if dec.Code == mh.IDENTITY {
		return true
	}
	sum, err := mh.Sum(data, dec.Code, dec.Length)
	return err == nil && string(sum) == string(k.Hash())
}

// missingUnder lists the blocks of p's DAG that are not stored, or are
// corrupt, walking only the local store. A corrupt node's children are
// not reached (its links cannot be trusted) and count once it is fetched
// again.
func (n *Node) missingUnder(ctx context.Context, p api.PinInfo, corrupt *cid.Set) ([]cid.Cid, error) {
	var missing []cid.Cid
	check := func(c cid.Cid) bool {
		if corrupt.Has(cid.NewCidV1(cid.Raw, c.Hash())) {
			missing = append(missing, c)
			return false
		}
		return true
	}
	if p.Type == "direct" {
		has, err := n.Blockstore.Has(ctx, p.CID)
		if err != nil {
			return nil, err
		}
		if !has {
			return []cid.Cid{p.CID}, nil
		}
		check(p.CID)
		return missing, nil
	}
	seen := cid.NewSet()
	var walk func(c cid.Cid) error
	walk = func(c cid.Cid) error {
		if !seen.Visit(c) || !check(c) {
			return nil
		}
		nd, err := n.localDAG.Get(ctx, c)
		if ipld.IsNotFound(err) {
			missing = append(missing, c)
			return nil
		}
		if err != nil {
			return err
		}
		for _, l := range nd.Links() {
			if err := walk(l.Cid); err != nil {
				return err
			}
		}
		return nil
	}
	if err := walk(p.CID); err != nil && !errors.Is(err, context.Canceled) {
		return missing, err
	}
	return missing, ctx.Err()
}

// countStoredUnder counts the blocks of the DAG under root that are
// stored.
func (n *Node) countStoredUnder(ctx context.Context, root cid.Cid) int {
	seen := cid.NewSet()
	k := 0
	var walk func(c cid.Cid)
	walk = func(c cid.Cid) {
		if !seen.Visit(c) {
			return
		}
		nd, err := n.localDAG.Get(ctx, c)
		if err != nil {
			return
		}
		k++
		for _, l := range nd.Links() {
			walk(l.Cid)
		}
	}
	walk(root)
	return k
}

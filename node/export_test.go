package node

import (
	"context"

	"github.com/ipfs/go-cid"

	"github.com/commons-p2p/commons/pkg/library"
)

// StoredReach returns the counts of root as the store holds them: what
// the last flush wrote, not what is still in memory.
func (n *Node) StoredReach(ctx context.Context, root cid.Cid) ([]byte, error) {
	return n.store.Datastore().Get(ctx, reachKey.ChildString(root.String()))
}

// RewriteLibrary signs and stores the next record of this node's library
// with nothing else changed, as a publish's last step does, with ctx.
func (n *Node) RewriteLibrary(ctx context.Context) error {
	defer n.Blockstore.PinLock(ctx).Unlock(ctx)
	_, err := n.updateLibrary(ctx, func(l library.Library) (library.Library, bool) { return l, true })
	return err
}

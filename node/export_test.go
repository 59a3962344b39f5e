package node

import (
	"context"

	"github.com/ipfs/go-cid"
)

// StoredReach returns the counts of root as the store holds them: what
// the last flush wrote, not what is still in memory.
func (n *Node) StoredReach(ctx context.Context, root cid.Cid) ([]byte, error) {
	return n.store.Datastore().Get(ctx, reachKey.ChildString(root.String()))
}

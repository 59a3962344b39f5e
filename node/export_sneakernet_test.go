package node

import (
	"context"
	"fmt"
	"slices"

	"github.com/ipfs/go-datastore/query"
)

// MirrorState lists the mirror's durable state (follows, records kept,
// holds, wanted roots) as sorted key=value lines, for tests that check an
// operation changed none of it.
func (n *Node) MirrorState(ctx context.Context) ([]string, error) {
	res, err := n.store.Datastore().Query(ctx, query.Query{Prefix: "/commons/mirror"})
	if err != nil {
		return nil, err
	}
	defer res.Close()
	var out []string
	for r := range res.Next() {
		if r.Error != nil {
			return nil, r.Error
		}
		out = append(out, fmt.Sprintf("%s=%x", r.Key, r.Value))
	}
	slices.Sort(out)
	return out, nil
}

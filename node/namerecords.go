package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipfs/boxo/ipns"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/routing"

	"github.com/commons-p2p/commons/gateway"
)

// nameRecords gives the gateway the signed IPNS records it serves for
// ?format=ipns-record: the record of a library this node publishes or
// follows (at once, with no network), else the one the DHT holds.
type nameRecords struct{ n *Node }

var _ gateway.Records = nameRecords{}

// IPNSRecord implements gateway.Records.
func (r nameRecords) IPNSRecord(ctx context.Context, c cid.Cid) ([]byte, error) {
	name, err := ipns.NameFromCid(c)
	if err != nil {
		return nil, fmt.Errorf("ipns record %s: %w", c, err)
	}
	if rec, ok := r.n.libraryRecord(ctx, name); ok {
		return rec.Data, nil
	}
	if r.n.Routing == nil {
		return nil, fmt.Errorf("ipns record %s: %w: not a library this node publishes or follows, and it has no DHT", name, gateway.ErrNoRecord)
	}
	data, err := r.n.Routing.GetValue(ctx, string(name.RoutingKey()))
	if errors.Is(err, routing.ErrNotFound) {
		return nil, fmt.Errorf("ipns record %s: %w", name, gateway.ErrNoRecord)
	}
	if err != nil {
		return nil, fmt.Errorf("ipns record %s: %w", name, err)
	}
	rec, err := ipns.UnmarshalRecord(data)
	if err == nil {
		err = ipns.ValidateWithName(rec, name)
	}
	if err != nil {
		return nil, fmt.Errorf("ipns record %s: %w: the DHT gave an invalid record: %v", name, gateway.ErrNoRecord, err)
	}
	return data, nil
}

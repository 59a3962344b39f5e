package node

import (
	"context"
	"errors"
	"fmt"

	"github.com/ipfs/boxo/ipns"
	"github.com/ipfs/boxo/namesys"
	"github.com/ipfs/boxo/path"
	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/commons-p2p/commons/gateway/api"
)

// libraryNames resolves /ipns/ names: the names of libraries this node
// publishes or follows from the records it holds (at once, and with no
// network, as a village node must), every other name through the name
// system over the DHT (nil when there is none).
type libraryNames struct {
	n    *Node
	next namesys.NameSystem
}

var _ namesys.NameSystem = (*libraryNames)(nil)

func (r *libraryNames) local(ctx context.Context, p path.Path) (namesys.Result, bool) {
	seg := p.Segments()
	if p.Namespace() != path.IPNSNamespace || len(seg) < 2 {
		return namesys.Result{}, false
	}
	name, err := ipns.NameFromString(seg[1])
	if err != nil {
		return namesys.Result{}, false
	}
	rec, ok := r.n.libraryRecord(ctx, name)
	if !ok {
		return namesys.Result{}, false
	}
	np, err := path.Join(path.FromCid(rec.Root), seg[2:]...)
	if err != nil {
		return namesys.Result{}, false
	}
	return namesys.Result{Path: np, TTL: rec.TTL}, true
}

// Resolve implements namesys.Resolver.
func (r *libraryNames) Resolve(ctx context.Context, p path.Path, opts ...namesys.ResolveOption) (namesys.Result, error) {
	if res, ok := r.local(ctx, p); ok {
		return res, nil
	}
	if r.next == nil {
		return namesys.Result{}, fmt.Errorf("resolve %s: %w: only the libraries this node publishes or follows resolve without the DHT; start the daemon with routing on", p, api.ErrOffline)
	}
	return r.next.Resolve(ctx, p, opts...)
}

// ResolveAsync implements namesys.Resolver.
func (r *libraryNames) ResolveAsync(ctx context.Context, p path.Path, opts ...namesys.ResolveOption) <-chan namesys.AsyncResult {
	if res, ok := r.local(ctx, p); ok || r.next == nil {
		ch := make(chan namesys.AsyncResult, 1)
		if ok {
			ch <- namesys.AsyncResult{Path: res.Path, TTL: res.TTL}
		} else {
			_, err := r.Resolve(ctx, p, opts...)
			ch <- namesys.AsyncResult{Err: err}
		}
		close(ch)
		return ch
	}
	return r.next.ResolveAsync(ctx, p, opts...)
}

// Publish implements namesys.Publisher. Libraries are published by the
// node's library code, never through the name system.
func (r *libraryNames) Publish(context.Context, crypto.PrivKey, path.Path, ...namesys.PublishOption) error {
	return errors.New("publishing IPNS names other than the library is not supported")
}

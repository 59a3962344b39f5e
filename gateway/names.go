package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	boxogw "github.com/ipfs/boxo/gateway"
	"github.com/ipfs/boxo/namesys"
	"github.com/ipfs/boxo/path"
)

// ErrNoNameSystem is the cause of the error that /ipns/ requests get when the
// gateway was built without a name resolver. Over HTTP it is a 501 whose body
// carries this message.
var ErrNoNameSystem = errors.New("IPNS resolution is not available on this node")

// errPublishUnsupported is returned if anything ever asks the gateway's name
// system to publish; the gateway only reads.
var errPublishUnsupported = errors.New("gateway: publishing IPNS records is not supported")

// nameSystem adapts r to the namesys.NameSystem that boxo's backend takes.
// Nil r gives a resolver that refuses every name with ErrNoNameSystem;
// boxo's own fallback for nil would instead resolve DNSLink over the
// network, which a node without a name system should not do.
func nameSystem(r namesys.Resolver) namesys.NameSystem {
	if ns, ok := r.(namesys.NameSystem); ok {
		return ns
	}
	if r == nil {
		r = noResolver{}
	}
	return readOnlyNames{Resolver: r, Publisher: refusePublish(namesys.Publisher.Publish)}
}

// readOnlyNames is a namesys.NameSystem whose publishing always fails.
type readOnlyNames struct {
	namesys.Resolver
	namesys.Publisher
}

// publishRefuser implements namesys.Publisher by refusing to publish. The
// key type K is libp2p's private key; refusePublish infers it from the
// interface's method, so this package need not import libp2p to name it.
type publishRefuser[K any] struct{}

// Publish implements namesys.Publisher.
func (publishRefuser[K]) Publish(context.Context, K, path.Path, ...namesys.PublishOption) error {
	return errPublishUnsupported
}

// refusePublish returns a publishRefuser for the key type of publish, which
// is the method expression namesys.Publisher.Publish.
func refusePublish[K any](publish func(namesys.Publisher, context.Context, K, path.Path, ...namesys.PublishOption) error) publishRefuser[K] {
	return publishRefuser[K]{}
}

// noResolver resolves nothing: every name fails with ErrNoNameSystem,
// marked for boxo as 501 Not Implemented.
type noResolver struct{}

func (noResolver) err(p path.Path) error {
	return boxogw.NewErrorStatusCode(fmt.Errorf("resolve %s: %w", p, ErrNoNameSystem), http.StatusNotImplemented)
}

// Resolve implements namesys.Resolver.
func (n noResolver) Resolve(_ context.Context, p path.Path, _ ...namesys.ResolveOption) (namesys.Result, error) {
	return namesys.Result{}, n.err(p)
}

// ResolveAsync implements namesys.Resolver: the channel carries one error
// result and is closed.
func (n noResolver) ResolveAsync(_ context.Context, p path.Path, _ ...namesys.ResolveOption) <-chan namesys.AsyncResult {
	ch := make(chan namesys.AsyncResult, 1)
	ch <- namesys.AsyncResult{Err: n.err(p)}
	close(ch)
	return ch
}

var (
	_ namesys.NameSystem = readOnlyNames{}
	_ namesys.Resolver   = noResolver{}
)

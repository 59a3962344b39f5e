package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/ipfs/boxo/blockservice"
	boxogw "github.com/ipfs/boxo/gateway"
	"github.com/ipfs/boxo/verifcid"
	"github.com/prometheus/client_golang/prometheus"
)

// Trustless returns a handler for the verifiable subset of the gateway:
// raw blocks (?format=raw, application/vnd.ipld.raw, with Range) and CARs
// (?format=car with the trustless gateway's dag-scope, entity-bytes,
// car-order and car-dups parameters) of /ipfs/ paths, served from blocks
// alone. It is what the node serves to its peers over libp2p, as Kubo's
// Experimental.GatewayOverLibp2p does: every answer can be checked by the
// client block by block, so it is safe to take from any peer.
//
// blocks should be a block service with no exchange: a peer's request must
// never make this node fetch from the network. A block that is not stored
// ends a response as boxo's gateway ends it (an error status before the
// first byte, or a CAR cut short after it), and the client goes elsewhere.
// Everything else (deserialised files, /ipns/, the node's pages) is 404 or
// boxo's 406.
func Trustless(blocks blockservice.BlockService, reg prometheus.Registerer) (http.Handler, error) {
	if blocks == nil {
		return nil, errors.New("gateway: trustless: nil block service")
	}
	b, err := boxogw.NewBlocksBackend(blocks)
	if err != nil {
		return nil, fmt.Errorf("gateway: trustless: blocks backend: %w", err)
	}
	cfg := boxogw.Config{
		DeserializedResponses: false,
		NoDNSLink:             true,
		MaxRequestDuration:    DefaultMaxRequestDuration,
		MetricsRegistry:       reg,
	}
	allow := verifcid.Allowlist(verifcid.DefaultAllowlist)
	if bounded, ok := blocks.(blockservice.BoundedBlockService); ok {
		allow = bounded.Allowlist()
	}
	h := boxogw.NewHandler(cfg, backend{BlocksBackend: b, fastCAR: blocks})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed: this gateway is read-only", http.StatusMethodNotAllowed)
			return
		}
		if !strings.HasPrefix(r.URL.Path, "/ipfs/") {
			http.NotFound(w, r)
			return
		}
		if err := checkPathLength(r.URL.Path); err != nil {
			http.Error(w, err.Error(), http.StatusRequestURITooLong)
			return
		}
		if err := checkRootHash(allow, r.URL.Path); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		h.ServeHTTP(w, r)
	}), nil
}

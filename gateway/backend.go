package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	boxogw "github.com/ipfs/boxo/gateway"
	"github.com/ipfs/go-cid"
)

// ErrNoIPNSRecords is the cause of the error that requests for signed IPNS
// records (?format=ipns-record, Accept: application/vnd.ipfs.ipns-record)
// get: the gateway has no routing system to fetch them from. Over HTTP it is
// a 501 whose body carries this message.
var ErrNoIPNSRecords = errors.New("IPNS records are not served by this gateway")

// backend is boxo's blocks backend with the parts this gateway cannot serve
// answered honestly. It embeds the concrete type, not the interface, so that
// the optional interfaces boxo looks for (per-request block sessions) stay
// visible.
type backend struct {
	*boxogw.BlocksBackend
}

// GetIPNSRecord implements boxogw.IPFSBackend. Without a routing value store
// boxo would look the record up in a null router and answer 500.
func (backend) GetIPNSRecord(_ context.Context, c cid.Cid) ([]byte, error) {
	return nil, boxogw.NewErrorStatusCode(fmt.Errorf("get IPNS record %s: %w", c, ErrNoIPNSRecords), http.StatusNotImplemented)
}

var (
	_ boxogw.IPFSBackend     = backend{}
	_ boxogw.WithContextHint = backend{}
)

package node

import (
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
)

// What the hostile-peer tests (hostile_test.go) read of the node's limits
// and penalties.
const (
	ServiceBitswap  = serviceBitswap
	ServiceDHT      = serviceDHT
	ServiceHTTP     = serviceHTTP
	BitswapMaxWants = bitswapMaxWants
	DecodeFactor    = decodeFactor
)

// ServiceLimit is serviceLimit, for tests.
type ServiceLimit = serviceLimit

// ServiceLimits returns the per-service limits the node configures.
func ServiceLimits() map[string]ServiceLimit { return serviceLimits() }

// Penalty returns p's misbehaviour score and the end of its ban (zero if
// it is not banned).
func (n *Node) Penalty(p peer.ID) (float64, time.Time) { return n.penalties.score(p) }

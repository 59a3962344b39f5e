package node

import (
	"time"

	"github.com/ipfs/boxo/bitswap"
	"github.com/ipfs/boxo/bitswap/network/bsnet"
	"github.com/libp2p/go-libp2p/core/protocol"
	rcmgr "github.com/libp2p/go-libp2p/p2p/host/resource-manager"
)

// The limits below are what keeps one peer, or many, from taking the node's
// memory, streams and workers. They are documented in docs/operations.md
// ("Limits against hostile peers"); keep the two in step.

// Resource-manager services. The guard (guard.go) attaches every inbound
// stream of the node's own protocols to one of them, so that a limit holds
// for a peer across all versions of a protocol: bitswap has four protocol
// IDs, and go-libp2p's per-protocol limits would let a peer have each
// limit four times over.
const (
	serviceBitswap = "commons.bitswap"
	serviceDHT     = "commons.dht"
	serviceHTTP    = "commons.http" // the bulk path's trustless gateway (/http/1.1)
	serviceRecords = "commons.records"
)

// serviceLimit is what one service may hold: per peer, and for all peers
// together. Memory is what the guard reserves for messages being read and
// decoded (bitswap, DHT: decodeFactor times their length); the other
// services reserve none themselves.
type serviceLimit struct {
	PeerStreams int   // inbound streams one peer may have open
	PeerMemory  int64 // bytes of messages one peer may have in flight
	Streams     int   // inbound streams of all peers together
	Memory      int64 // bytes of messages of all peers together
}

// serviceLimits are fixed, not scaled to the machine: they bound what one
// peer can make the node hold, which should not grow with the node's RAM.
// The system-wide limits (scaled, or swarm.max_memory) still cap the sum.
//
//   - bitswap: an honest peer has one stream carrying its wants and one
//     per message its server workers (8 in boxo) are sending; 64 leaves
//     room. 64 MiB holds five messages of the 4 MiB maximum at once, or
//     the eight 2 MiB blocks (the largest there are) an honest server
//     sends at once, decoded.
//   - DHT: kad-dht keeps one stream per peer and direction and messages
//     are small (records of at most 10 KiB); 8 MiB is one message near
//     the 4 MiB maximum at a time, decoded, or hundreds of real ones.
//   - HTTP: the bulk path asks at most 8 requests at once per fetch and
//     the server answers 16 per peer (bulkServeConcurrency); 32 streams
//     leave room for probes and two fetches at once.
//   - records: one short request and answer per stream, with a deadline.
func serviceLimits() map[string]serviceLimit {
	return map[string]serviceLimit{
		serviceBitswap: {PeerStreams: 64, PeerMemory: 64 << 20, Streams: 2048, Memory: 512 << 20},
		serviceDHT:     {PeerStreams: 16, PeerMemory: 16 << 20, Streams: 1024, Memory: 128 << 20},
		serviceHTTP:    {PeerStreams: 32, PeerMemory: 16 << 20, Streams: 1024, Memory: 64 << 20},
		serviceRecords: {PeerStreams: 8, PeerMemory: 1 << 20, Streams: 256, Memory: 16 << 20},
	}
}

// addServiceLimits writes serviceLimits into the resource manager's
// configuration. Outbound streams are not attached to a service (the
// node's own requests are bounded by the code that makes them), so the
// outbound counts only need to be no lower than the inbound ones.
//
// Every stream also counts against its protocol ID's limits, per peer and
// in total, which go-libp2p sets by default to 16 MiB per peer and
// protocol: below what an honest bitswap peer's messages take decoded. The
// bitswap protocol IDs get the service's memory; their stream counts stay
// go-libp2p's (the service's are lower for inbound streams, and bitswap's
// outbound streams, one per message sent, are not attached to it).
func addServiceLimits(cfg *rcmgr.ScalingLimitConfig) {
	for svc, l := range serviceLimits() {
		cfg.AddServiceLimit(svc, rcmgr.BaseLimit{
			StreamsInbound: l.Streams, StreamsOutbound: l.Streams, Streams: 2 * l.Streams, Memory: l.Memory,
		}, rcmgr.BaseLimitIncrease{})
		cfg.AddServicePeerLimit(svc, rcmgr.BaseLimit{
			StreamsInbound: l.PeerStreams, StreamsOutbound: l.PeerStreams, Streams: 2 * l.PeerStreams, Memory: l.PeerMemory,
		}, rcmgr.BaseLimitIncrease{})
	}
	bs := serviceLimits()[serviceBitswap]
	for _, p := range bitswapProtocols() {
		base, inc := cfg.ProtocolBaseLimit, cfg.ProtocolLimitIncrease
		base.Memory, inc.Memory = bs.Memory, 0
		cfg.AddProtocolLimit(p, base, inc)
		peerBase, peerInc := cfg.ProtocolPeerBaseLimit, cfg.ProtocolPeerLimitIncrease
		peerBase.Memory, peerInc.Memory = bs.PeerMemory, 0
		cfg.AddProtocolPeerLimit(p, peerBase, peerInc)
	}
}

// bitswapProtocols returns the protocol IDs bitswap answers (bsnet's).
func bitswapProtocols() []protocol.ID {
	return []protocol.ID{bsnet.ProtocolBitswap, bsnet.ProtocolBitswapOneOne, bsnet.ProtocolBitswapOneZero, bsnet.ProtocolBitswapNoVers}
}

// The bitswap server's limits, set explicitly rather than left to boxo's
// defaults (which they equal today), so that a boxo upgrade cannot loosen
// them unnoticed.
const (
	// bitswapMaxWants is how many wants of one peer the server keeps
	// queued; a want list beyond it is truncated, and a newer want of
	// higher priority evicts an older one. A peer's ledger is about
	// 100 bytes a want: 1024 wants are 100 KiB however big its lists.
	bitswapMaxWants = 1024
	// bitswapMaxCIDSize refuses wants for CIDs longer than any real one
	// (4 varints and a 128-byte digest).
	bitswapMaxCIDSize = 168
	// bitswapMaxOutstanding is how many bytes of blocks may be queued
	// for one peer and not yet sent: a peer that does not read holds at
	// most this much, and at most one send worker.
	bitswapMaxOutstanding = 1 << 20
	// bitswapSendWorkers send messages to peers; bitswapTaskWorkers
	// build them. A peer that never reads blocks a send worker for as
	// long as the send may take (bsnet: 2 s plus the message's size at
	// 100 kbit/s, between 10 s and 2 min); the others serve everyone
	// else.
	bitswapSendWorkers = 8
	bitswapTaskWorkers = 8
	// bitswapStoreWorkers look blocks up for wants.
	bitswapStoreWorkers = 128
	// bitswapProviderSearchDelay is how long a fetch asks only connected
	// peers before it looks for providers in the DHT.
	bitswapProviderSearchDelay = 500 * time.Millisecond
)

// bitswapOptions are the options New builds bitswap with.
func bitswapOptions() []bitswap.Option {
	return []bitswap.Option{
		bitswap.MaxQueuedWantlistEntriesPerPeer(bitswapMaxWants),
		bitswap.MaxCidSize(bitswapMaxCIDSize),
		bitswap.MaxOutstandingBytesPerPeer(bitswapMaxOutstanding),
		bitswap.TaskWorkerCount(bitswapSendWorkers),
		bitswap.EngineTaskWorkerCount(bitswapTaskWorkers),
		bitswap.EngineBlockstoreWorkerCount(bitswapStoreWorkers),
		bitswap.ProviderSearchDelay(bitswapProviderSearchDelay),
	}
}

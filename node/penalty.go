package node

import (
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/libp2p/go-libp2p/core/connmgr"
	"github.com/libp2p/go-libp2p/core/control"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	ma "github.com/multiformats/go-multiaddr"
	"github.com/prometheus/client_golang/prometheus"
)

// offence is misbehaviour the node observed in a peer, with proof: each
// is something no honest implementation of the protocol does. What is
// only heavy use (big want lists, many streams, slow reading) is not an
// offence; the limits in limits.go contain it.
type offence string

const (
	// offenceOversized: a bitswap or DHT message whose length prefix is
	// over the protocols' 4 MiB limit, or is not a valid varint (guard.go).
	offenceOversized offence = "oversized-message"
	// offenceMalformed: a bitswap message that was read whole but does
	// not decode (guard.go).
	offenceMalformed offence = "malformed-message"
	// offenceUnsolicited: a bitswap block whose hash the node never asked
	// that peer for: a block that does not match the CID it was sent for
	// is one, since bitswap names a block by hashing its data.
	offenceUnsolicited offence = "unsolicited-block"
	// offenceFalseHave: a bitswap HAVE in answer to a want-block (for a
	// block that is not the empty one, with every want-have for it
	// answered already): a claim to hold a block it does not send.
	offenceFalseHave offence = "false-have"
	// offenceBadBlock: a block over the bulk path that does not verify,
	// was not linked from what was asked, or an absurd CAR section
	// (bulk.go).
	offenceBadBlock offence = "bad-block"
)

// weight is how much an offence adds to a peer's score; at
// penaltyThreshold the peer is penalised. A malformed or oversized message,
// a false HAVE or a bad block is a broken or hostile peer: two of them within about
// 3.7 minutes (while the first has not decayed below 40) are not an
// accident. A single unsolicited block can be a peer answering a want
// cancelled more than unsolicitedGrace ago, so it takes ten in a short
// while. (The weights are not round because scores decay between
// offences: 50 and 50 a second apart make 99.99.)
func (o offence) weight() float64 {
	switch o {
	case offenceUnsolicited:
		return 11
	default:
		return 60
	}
}

const (
	// penaltyThreshold is the score at which a peer is disconnected and
	// banned.
	penaltyThreshold = 100
	// penaltyHalfLife is how fast a score decays: a peer that offends
	// rarely never reaches the threshold.
	penaltyHalfLife = 5 * time.Minute
	// penaltyMaxPeers bounds the peers with a score kept in memory (an
	// attacker can make new identities); see prune for who goes first.
	penaltyMaxPeers = 4096
)

// penalties keeps a misbehaviour score per peer, in memory. A peer whose
// score reaches penaltyThreshold has its connections closed and, for the
// ban duration (swarm.ban_duration), is refused: as a libp2p connection
// gater on a host the node builds, and by closing its connections as they
// open on an injected one. Scores decay with penaltyHalfLife; a ban is
// forgotten when it ends. A restart forgets everything: a ban protects the
// node's resources, it is not a verdict to keep.
type penalties struct {
	banFor time.Duration
	log    *slog.Logger
	now    func() time.Time

	mu    sync.Mutex
	peers map[peer.ID]*misbehaviour
	close func(peer.ID) // closes a peer's connections; nil before watch

	offences  *prometheus.CounterVec
	penalised *prometheus.CounterVec
	refused   prometheus.Counter
}

type misbehaviour struct {
	score       float64
	at          time.Time // when score was last brought up to date
	bannedUntil time.Time
}

var _ connmgr.ConnectionGater = (*penalties)(nil)

func newPenalties(banFor time.Duration, log *slog.Logger) *penalties {
	return &penalties{
		banFor: banFor,
		log:    log,
		now:    time.Now,
		peers:  map[peer.ID]*misbehaviour{},
		offences: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commons_peer_offences_total",
			Help: "Offences observed in peers, by kind: oversized-message, malformed-message, unsolicited-block, false-have, bad-block.",
		}, []string{"offence"}),
		penalised: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "commons_peers_penalised_total",
			Help: "Peers disconnected (and banned for swarm.ban_duration) for misbehaviour, by the offence that reached the threshold.",
		}, []string{"offence"}),
		refused: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "commons_peers_refused_total",
			Help: "Connections of banned peers refused or closed.",
		}),
	}
}

// register adds the penalties' metrics to reg.
func (pb *penalties) register(reg prometheus.Registerer) error {
	banned := prometheus.NewGaugeFunc(prometheus.GaugeOpts{
		Name: "commons_peers_banned",
		Help: "Peers banned now.",
	}, func() float64 { return float64(pb.bannedCount()) })
	for _, c := range []prometheus.Collector{pb.offences, pb.penalised, pb.refused, banned} {
		if err := reg.Register(c); err != nil {
			return fmt.Errorf("penalty metrics: %w", err)
		}
	}
	return nil
}

// watch gives the penalties the host whose connections they close: a
// banned peer's connections are closed when the ban starts and whenever
// one opens. With the gater installed (hosts the node builds) none opens;
// an injected host has no gater, and this is its only defence.
func (pb *penalties) watch(n network.Network) {
	pb.mu.Lock()
	pb.close = func(p peer.ID) { _ = n.ClosePeer(p) }
	pb.mu.Unlock()
	n.Notify(&network.NotifyBundle{ConnectedF: func(_ network.Network, c network.Conn) {
		if pb.banned(c.RemotePeer()) {
			pb.refused.Inc()
			go c.Close()
		}
	}})
}

// offend records count offences of kind o by p; detail says what was
// seen, for the log. It returns whether p is banned (or, with no ban
// duration, was disconnected) now.
func (pb *penalties) offend(p peer.ID, o offence, count int, detail string) bool {
	if count <= 0 {
		return false
	}
	pb.offences.WithLabelValues(string(o)).Add(float64(count))
	now := pb.now()
	pb.mu.Lock()
	m := pb.peers[p]
	if m == nil {
		pb.prune(now)
		m = &misbehaviour{at: now}
		pb.peers[p] = m
	}
	if now.Before(m.bannedUntil) {
		// Banned already: what it sends now was in flight.
		pb.mu.Unlock()
		return true
	}
	m.decay(now)
	m.score += o.weight() * float64(count)
	score := m.score
	penalise := score >= penaltyThreshold
	if penalise {
		m.score = 0
		m.bannedUntil = now.Add(pb.banFor)
	}
	closePeer := pb.close
	pb.mu.Unlock()

	if !penalise {
		pb.log.Debug("peer misbehaved", "peer", p, "offence", o, "count", count, "detail", detail, "score", score)
		return false
	}
	pb.penalised.WithLabelValues(string(o)).Inc()
	pb.log.Warn("peer penalised: disconnected and refused", "peer", p, "offence", o, "detail", detail,
		"score", score, "banned_for", pb.banFor)
	if closePeer != nil {
		// Not here: the caller may be one of the peer's stream handlers.
		go closePeer(p)
	}
	return true
}

// decay brings m's score from m.at to now.
func (m *misbehaviour) decay(now time.Time) {
	if dt := now.Sub(m.at); dt > 0 {
		m.score *= math.Exp2(-float64(dt) / float64(penaltyHalfLife))
		m.at = now
	}
}

// prune makes room once penaltyMaxPeers peers are kept: it forgets those
// whose score has decayed and who are not banned, then, if that is not
// enough, offenders that are not banned, then the oldest bans, down to
// three quarters of the maximum, so that it runs once per many new
// offenders. Called with mu held.
func (pb *penalties) prune(now time.Time) {
	if len(pb.peers) < penaltyMaxPeers {
		return
	}
	const keep = penaltyMaxPeers * 3 / 4
	for p, m := range pb.peers {
		m.decay(now)
		if m.score < 1 && !now.Before(m.bannedUntil) {
			delete(pb.peers, p)
		}
	}
	for p, m := range pb.peers {
		if len(pb.peers) <= keep {
			return
		}
		if !now.Before(m.bannedUntil) {
			delete(pb.peers, p)
		}
	}
	if len(pb.peers) <= keep {
		return
	}
	bans := make([]peer.ID, 0, len(pb.peers))
	for p := range pb.peers {
		bans = append(bans, p)
	}
	slices.SortFunc(bans, func(a, b peer.ID) int {
		return pb.peers[a].bannedUntil.Compare(pb.peers[b].bannedUntil)
	})
	for _, p := range bans[:len(bans)-keep] {
		delete(pb.peers, p)
	}
}

// banned reports whether p is banned now.
func (pb *penalties) banned(p peer.ID) bool {
	now := pb.now()
	pb.mu.Lock()
	defer pb.mu.Unlock()
	m := pb.peers[p]
	if m == nil {
		return false
	}
	if !now.Before(m.bannedUntil) && !m.bannedUntil.IsZero() {
		// The ban is over: start afresh.
		m.bannedUntil = time.Time{}
		m.score, m.at = 0, now
	}
	return now.Before(m.bannedUntil)
}

// score returns p's decayed score and the end of its ban (zero if none).
func (pb *penalties) score(p peer.ID) (float64, time.Time) {
	now := pb.now()
	pb.mu.Lock()
	defer pb.mu.Unlock()
	m := pb.peers[p]
	if m == nil {
		return 0, time.Time{}
	}
	m.decay(now)
	if !now.Before(m.bannedUntil) {
		return m.score, time.Time{}
	}
	return m.score, m.bannedUntil
}

func (pb *penalties) bannedCount() int {
	now := pb.now()
	pb.mu.Lock()
	defer pb.mu.Unlock()
	k := 0
	for _, m := range pb.peers {
		if now.Before(m.bannedUntil) {
			k++
		}
	}
	return k
}

// InterceptPeerDial implements connmgr.ConnectionGater: the node does not
// dial a banned peer.
func (pb *penalties) InterceptPeerDial(p peer.ID) bool { return !pb.banned(p) }

// InterceptAddrDial implements connmgr.ConnectionGater.
func (pb *penalties) InterceptAddrDial(peer.ID, ma.Multiaddr) bool { return true }

// InterceptAccept implements connmgr.ConnectionGater: the peer is not
// known before the handshake.
func (pb *penalties) InterceptAccept(network.ConnMultiaddrs) bool { return true }

// InterceptSecured implements connmgr.ConnectionGater: a banned peer's
// connection is closed once its identity is known, before any protocol
// runs on it.
func (pb *penalties) InterceptSecured(_ network.Direction, p peer.ID, _ network.ConnMultiaddrs) bool {
	if pb.banned(p) {
		pb.refused.Inc()
		return false
	}
	return true
}

// InterceptUpgraded implements connmgr.ConnectionGater.
func (pb *penalties) InterceptUpgraded(network.Conn) (bool, control.DisconnectReason) { return true, 0 }

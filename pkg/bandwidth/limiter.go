// Package bandwidth limits the rate at which a node sends and receives
// over libp2p streams: upload and download, for all peers together and for
// each peer, so that a shared link (a village's one uplink) is not
// saturated by one mirror.
//
// A Limiter holds token buckets (golang.org/x/time/rate), one token a
// byte: a global one per direction and, created when a peer's first
// limited stream opens, one per direction for that peer. Limiter.Stream
// wraps a stream so that every Write waits for tokens before it sends
// and every Read waits for tokens for what it received; WrapHost wraps a
// host so that every stream it opens or hands to a handler is wrapped.
//
// A write is cut into chunks no larger than a bucket's burst (a tenth of
// a second at the bucket's rate, at least MinBurst bytes) and each chunk
// waits for its peer's and the global bucket. A read takes at most one
// burst from the stream and then waits for the tokens of the bytes it got,
// so a reader that is over its limit stops reading and the sender is held
// back by the muxer's flow control (yamux, QUIC).
//
// Waiting honours the stream's deadlines and ends when the stream is
// closed or reset. With every limit zero nothing is wrapped: Stream and
// WrapHost return what they were given, and a transfer costs nothing more.
package bandwidth

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/peer"
	"golang.org/x/time/rate"
)

// MinBurst is the least number of bytes a bucket holds, whatever its rate.
// At low rates a tenth of a second is a few hundred bytes, and chunks that
// small would spend a large share of the link on framing (a yamux header,
// a Noise tag and the TCP/IP headers are about 70 bytes a chunk); at 4 KiB
// that share stays under 2%, and a 256 kbit/s limit still bursts for only
// an eighth of a second.
const MinBurst = 4 << 10

// burstTime is how much of a bucket's rate it may spend at once.
const burstTime = 100 * time.Millisecond

// sweepEvery is how often, at most, peers' buckets are looked over for
// ones that can be dropped.
const sweepEvery = time.Second

// Limits are rates in bytes per second. Zero is no limit.
type Limits struct {
	// Upload and Download limit all peers together.
	Upload, Download int64
	// PeerUpload and PeerDownload limit each peer on its own.
	PeerUpload, PeerDownload int64
}

// Unlimited reports whether every limit is zero.
func (l Limits) Unlimited() bool { return l == Limits{} }

// Stats are what a Limiter has held back so far.
type Stats struct {
	// UploadWait and DownloadWait are the time streams spent waiting for
	// tokens, summed over streams (so they can grow faster than the
	// clock when several streams wait at once).
	UploadWait, DownloadWait time.Duration
}

// Limiter holds the token buckets of a set of limits. It is safe for
// concurrent use. The zero value is not usable; call New.
type Limiter struct {
	limits   Limits
	up, down *rate.Limiter // all peers; nil: no limit

	// upWait and downWait are nanoseconds spent waiting (Stats).
	upWait, downWait atomic.Int64

	mu sync.Mutex
	// peers holds the buckets of every peer that has an open limited
	// stream, and of peers whose last one closed since the last sweep or
	// whose buckets have not yet refilled. Empty without per-peer limits.
	peers     map[peer.ID]*peerBuckets
	lastSweep time.Time
}

// peerBuckets are one peer's buckets and the open streams that use them.
type peerBuckets struct {
	up, down *rate.Limiter // nil: no per-peer limit that way
	streams  map[*stream]struct{}
}

// New returns a Limiter for limits. A negative rate is an error.
func New(limits Limits) (*Limiter, error) {
	for _, r := range []struct {
		name string
		v    int64
	}{
		{"upload", limits.Upload}, {"download", limits.Download},
		{"peer upload", limits.PeerUpload}, {"peer download", limits.PeerDownload},
	} {
		if r.v < 0 {
			return nil, fmt.Errorf("bandwidth: %s rate %d: %w", r.name, r.v, errNegative)
		}
	}
	return &Limiter{
		limits: limits,
		up:     bucket(limits.Upload),
		down:   bucket(limits.Download),
		peers:  make(map[peer.ID]*peerBuckets),
	}, nil
}

var errNegative = errors.New("a rate cannot be negative")

// Limits returns the limits l was made with.
func (l *Limiter) Limits() Limits { return l.limits }

// Stats returns what l has held back since it was made.
func (l *Limiter) Stats() Stats {
	return Stats{
		UploadWait:   time.Duration(l.upWait.Load()),
		DownloadWait: time.Duration(l.downWait.Load()),
	}
}

// Burst returns the burst of a bucket of rate bytes per second: the most
// it lets through at once, and the largest chunk a stream sends or takes
// under it. It is a tenth of a second's worth, and at least MinBurst.
func Burst(rate int64) int {
	return int(max(rate/int64(time.Second/burstTime), MinBurst))
}

// bucket returns a full token bucket for r bytes per second, or nil when
// r is zero (no limit).
func bucket(r int64) *rate.Limiter {
	if r <= 0 {
		return nil
	}
	return rate.NewLimiter(rate.Limit(r), Burst(r))
}

// perPeer reports whether l has per-peer limits.
func (l *Limiter) perPeer() bool { return l.limits.PeerUpload > 0 || l.limits.PeerDownload > 0 }

// acquire returns the buckets of p, creating them if p has none, and
// records s as a stream using them until release.
func (l *Limiter) acquire(p peer.ID, s *stream) *peerBuckets {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.peers[p]
	if b == nil {
		l.sweep(time.Now())
		b = &peerBuckets{up: bucket(l.limits.PeerUpload), down: bucket(l.limits.PeerDownload), streams: make(map[*stream]struct{})}
		l.peers[p] = b
	}
	b.streams[s] = struct{}{}
	return b
}

// release records that s no longer uses b.
func (l *Limiter) release(b *peerBuckets, s *stream) {
	l.mu.Lock()
	delete(b.streams, s)
	l.mu.Unlock()
}

// sweep drops the buckets of peers that have no open limited stream and
// whose buckets are full again. A full bucket is the same as a new one, so
// dropping it changes no peer's limit; what it bounds is the number kept:
// the peers with open streams (which the resource manager bounds) and the
// peers whose last stream closed within a refill time (a tenth of a second
// at most rates) and a sweep interval. A stream whose connection has
// closed counts as closed even if nobody closed the stream itself.
//
// It runs at most once every sweepEvery, when a new peer's buckets are
// made; between sweeps the map does not grow except by new peers.
// l.mu must be held.
func (l *Limiter) sweep(now time.Time) {
	if now.Sub(l.lastSweep) < sweepEvery {
		return
	}
	l.lastSweep = now
	for p, b := range l.peers {
		for s := range b.streams {
			if s.conn.IsClosed() {
				delete(b.streams, s)
			}
		}
		if len(b.streams) == 0 && full(b.up, now) && full(b.down, now) {
			delete(l.peers, p)
		}
	}
}

// peerCount returns how many peers' buckets l holds.
func (l *Limiter) peerCount() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.peers)
}

// full reports whether b (nil: no bucket) holds its whole burst at now.
func full(b *rate.Limiter, now time.Time) bool {
	return b == nil || b.TokensAt(now) >= float64(b.Burst())
}

package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"sync"
	"time"

	bsmsg "github.com/ipfs/boxo/bitswap/message"
	pb "github.com/ipfs/boxo/bitswap/message/pb"
	bsnetwork "github.com/ipfs/boxo/bitswap/network"
	"github.com/libp2p/go-libp2p/core/host"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-libp2p/core/protocol"
)

// streamClass is how the guard treats the streams of one of the node's
// protocols.
type streamClass struct {
	name    string
	service string // the resource-manager service its inbound streams join
	// framed: messages are varint-length-prefixed (msgio), and the guard
	// reserves decodeFactor times each one's length before it is read.
	framed bool
	// strict: the protocol's handler resets a stream after a whole
	// message only when it cannot decode it (bitswap). The DHT's also
	// resets for reasons that are not the peer's fault (an idle timeout,
	// leaving server mode, a handler error), so a reset proves nothing.
	strict bool
}

func classify(pid protocol.ID) (streamClass, bool) {
	p := string(pid)
	switch {
	case strings.HasPrefix(p, "/ipfs/bitswap"):
		return streamClass{name: "bitswap", service: serviceBitswap, framed: true, strict: true}, true
	case isDHTProtocol(pid):
		return streamClass{name: "dht", service: serviceDHT, framed: true}, true
	case p == "/http/1.1":
		return streamClass{name: "http", service: serviceHTTP}, true
	case pid == RecordProtocol:
		return streamClass{name: "records", service: serviceRecords}, true
	}
	return streamClass{}, false
}

// guardHost is the host the node's protocols are built on. It hands their
// handlers streams that have joined a resource-manager service (so the
// per-peer limits of limits.go hold for a peer across protocol versions;
// a stream over them is reset before its handler sees it), and for the
// length-prefixed protocols (bitswap, the DHT) streams that reserve each
// message's memory in the resource manager before reading it. Without
// that, a peer could announce a message of 4 MiB, send one byte and make
// the node allocate 4 MiB, on every stream it opens: msgio allocates the
// announced length up front (64 streams of one peer: 250 MiB, measured). Outbound DHT streams (whose answers could do
// the same) are guarded as well. Everything else is the wrapped host's.
type guardHost struct {
	host.Host
	pen *penalties
	log *slog.Logger
}

func guardStreams(h host.Host, pen *penalties, log *slog.Logger) host.Host {
	return &guardHost{Host: h, pen: pen, log: log}
}

// SetStreamHandler implements host.Host.
func (h *guardHost) SetStreamHandler(pid protocol.ID, handler network.StreamHandler) {
	h.Host.SetStreamHandler(pid, h.guard(handler))
}

// SetStreamHandlerMatch implements host.Host.
func (h *guardHost) SetStreamHandlerMatch(pid protocol.ID, match func(protocol.ID) bool, handler network.StreamHandler) {
	h.Host.SetStreamHandlerMatch(pid, match, h.guard(handler))
}

// NewStream implements host.Host: DHT answers are read like requests.
func (h *guardHost) NewStream(ctx context.Context, p peer.ID, pids ...protocol.ID) (network.Stream, error) {
	s, err := h.Host.NewStream(ctx, p, pids...)
	if err != nil {
		return nil, err
	}
	if c, ok := classify(s.Protocol()); ok && c.framed && !c.strict {
		return &framedStream{Stream: s, class: c, peer: p, pen: h.pen}, nil
	}
	return s, nil
}

func (h *guardHost) guard(handler network.StreamHandler) network.StreamHandler {
	return func(s network.Stream) {
		c, ok := classify(s.Protocol())
		if !ok {
			handler(s)
			return
		}
		if err := s.Scope().SetService(c.service); err != nil {
			h.log.Debug("stream refused", "protocol", s.Protocol(), "peer", s.Conn().RemotePeer(), "err", err)
			_ = s.Reset()
			return
		}
		if c.framed {
			s = &framedStream{Stream: s, class: c, peer: s.Conn().RemotePeer(), pen: h.pen}
		}
		handler(s)
	}
}

// isDHTProtocol reports whether pid is a Kademlia DHT protocol:
// /ipfs/kad/1.0.0, and the LAN DHT's /ipfs/lan/kad/1.0.0.
func isDHTProtocol(pid protocol.ID) bool { return strings.HasSuffix(string(pid), "/kad/1.0.0") }

// decodeFactor is how many times its length a message is reserved for: a
// message is read into a buffer of its length and then decoded, and the
// decoded form is bigger. Measured with boxo v0.43: a bitswap message of a
// 1 MiB block holds 3 MiB once decoded; one of 80,000 wants (3.6 MB)
// allocates 44 MB while it decodes and holds 8 MB (2.2 times) after.
const decodeFactor = 3

// maxVarintLen is the longest length prefix msgio reads (go-varint:
// 9 bytes, 63 bits; it also refuses a prefix padded with zero bytes).
const maxVarintLen = 9

// framedStream follows the varint-length-prefixed framing of what its
// reader reads. When a prefix is complete it reserves decodeFactor times
// the announced length in the stream's resource scope, or fails the read
// if the limits do not allow it; the reader (msgio) allocates only after
// that. The reservation is released when the reader comes back for more
// (it has dealt with the message) or the stream ends. A prefix over network.MessageSizeMax, or
// longer than a varint may be, fails the read and is an offence; so is a
// whole message that a strict protocol's handler resets the stream over.
type framedStream struct {
	network.Stream
	class streamClass
	peer  peer.ID
	pen   *penalties

	mu      sync.Mutex
	prefix  uint64 // the length prefix read so far
	nprefix int    // its bytes
	left    int    // bytes of the current message still to come
	cur     int    // bytes reserved for the current message (decodeFactor × its length)
	held    int    // bytes reserved for messages read whole, released at the next Read
	whole   bool   // the last byte read ended a message
	reading bool
	lastN   int // what the last Read returned
	lastErr error
	pending error // to return from the next Read
}

func (s *framedStream) Read(p []byte) (int, error) {
	s.mu.Lock()
	if s.pending != nil {
		err := s.pending
		s.mu.Unlock()
		return 0, err
	}
	s.releaseHeld()
	s.reading = true
	s.mu.Unlock()

	n, err := s.Stream.Read(p)

	s.mu.Lock()
	defer s.mu.Unlock()
	s.reading = false
	s.lastN, s.lastErr = n, err
	k, ferr := s.scan(p[:n])
	if ferr == nil {
		return n, err
	}
	s.lastErr = ferr
	if k == 0 {
		return 0, ferr
	}
	s.pending = ferr
	return k, nil
}

// scan follows the framing through b. It returns how many bytes of b the
// reader may have, and an error if the rest must not be read.
func (s *framedStream) scan(b []byte) (int, error) {
	for i := 0; i < len(b); {
		if s.left > 0 {
			take := min(s.left, len(b)-i)
			s.left -= take
			i += take
			if s.left == 0 {
				s.held += s.cur
				s.cur = 0
				s.whole = true
			}
			continue
		}
		c := b[i]
		s.whole = false
		s.prefix |= uint64(c&0x7f) << (7 * s.nprefix)
		s.nprefix++
		i++
		last := c&0x80 == 0
		if (!last && s.nprefix == maxVarintLen) || (last && c == 0 && s.nprefix > 1) {
			// Longer than 63 bits, or padded with zeros: msgio refuses
			// both, and no honest writer makes either.
			s.pen.offend(s.peer, offenceOversized, 1, s.class.name+": length prefix is not a valid varint")
			return i - 1, fmt.Errorf("%s message from %s: length prefix is not a valid varint", s.class.name, s.peer)
		}
		if !last {
			continue
		}
		size := s.prefix
		s.prefix, s.nprefix = 0, 0
		switch {
		case size == 0:
			s.whole = true
		case size > network.MessageSizeMax:
			s.pen.offend(s.peer, offenceOversized, 1, fmt.Sprintf("%s: message of %d bytes", s.class.name, size))
			return i - 1, fmt.Errorf("%s message from %s: %d bytes, over the %d-byte limit", s.class.name, s.peer, size, network.MessageSizeMax)
		default:
			if err := s.Scope().ReserveMemory(decodeFactor*int(size), network.ReservationPriorityAlways); err != nil {
				return i - 1, fmt.Errorf("%s message from %s: %d bytes: %w", s.class.name, s.peer, size, err)
			}
			s.cur, s.left = decodeFactor*int(size), int(size)
		}
	}
	return len(b), nil
}

// releaseHeld returns the memory of messages the reader has dealt with.
// Called with mu held.
func (s *framedStream) releaseHeld() {
	if s.held > 0 {
		s.Scope().ReleaseMemory(s.held)
		s.held = 0
	}
}

// end releases everything before the stream ends. Called with mu held.
func (s *framedStream) end() {
	s.releaseHeld()
	if s.cur > 0 {
		s.Scope().ReleaseMemory(s.cur)
		s.cur = 0
	}
}

// Reset implements network.Stream. A strict protocol's handler resetting
// the stream right after reading a whole message, with nothing wrong on
// the stream itself, could not decode it.
func (s *framedStream) Reset() error {
	s.reset()
	return s.Stream.Reset()
}

// ResetWithError implements network.Stream.
func (s *framedStream) ResetWithError(code network.StreamErrorCode) error {
	s.reset()
	return s.Stream.ResetWithError(code)
}

func (s *framedStream) reset() {
	s.mu.Lock()
	// The last read ended the message (with or without the end of the
	// stream); one that found only the end of the stream is the reader's
	// normal end, not a message it refused.
	malformed := s.class.strict && !s.reading && s.whole && s.pending == nil &&
		(s.lastErr == nil || (errors.Is(s.lastErr, io.EOF) && s.lastN > 0))
	s.end()
	s.mu.Unlock()
	if malformed {
		s.pen.offend(s.peer, offenceMalformed, 1, s.class.name+": a message that does not decode")
	}
}

// Close implements network.Stream.
func (s *framedStream) Close() error {
	s.mu.Lock()
	s.end()
	s.mu.Unlock()
	return s.Stream.Close()
}

// unsolicitedGrace is how long after the node cancels a want a block for
// it is still welcome: one may be on its way (bsnet gives a message up to
// 2 minutes).
const unsolicitedGrace = 2 * time.Minute

// watchedBitswap is bitswap's network with the node watching it: it
// remembers what the node asked each peer for (by multihash), and sees two
// offences no honest peer commits:
//
//   - a block the node never asked that peer for. Since bitswap names a
//     received block by hashing its data, a block whose data does not
//     match the CID it was sent for is one of these;
//   - a HAVE in answer to a want-block: a HAVE for a block the node asked
//     that peer to send, when every want-have it sent that peer for the
//     block has had its answer. A bitswap server answers a want-block
//     with the block, or DONT_HAVE; boxo and Kubo send HAVE instead only
//     for a block of size 0 (the empty block, excepted here). A peer that
//     does it claims a block it does not send, and boxo's session, which
//     takes the HAVE for an answer, keeps waiting for it (seen stalling a
//     fetch until fetch.timeout in TestHostileFalseProvider).
//
// It is the only place either is visible: bitswap drops such blocks, and
// takes such HAVEs, without a word.
type watchedBitswap struct {
	bsnetwork.BitSwapNetwork
	pen *penalties
	now func() time.Time

	mu     sync.Mutex
	asked  map[peer.ID]map[string]*askedWant // by multihash
	pruned time.Time
}

// askedWant is what the node asked one peer for one block.
type askedWant struct {
	cancelled  time.Time // zero while wanted
	blockAsked bool      // a want-block was sent
	// haveQuestions counts want-haves sent and not yet answered (HAVE or
	// DONT_HAVE). It may stay above zero for good (a server merges
	// repeated want-haves, or answers one with the block), which only
	// makes the watch more lenient.
	haveQuestions int
}

// emptyBlockHash is the multihash (sha2-256) of the zero-length block,
// which boxo's server answers a want-block for with HAVE.
const emptyBlockHash = "\x12\x20\xe3\xb0\xc4\x42\x98\xfc\x1c\x14\x9a\xfb\xf4\xc8\x99\x6f\xb9\x24\x27\xae\x41\xe4\x64\x9b\x93\x4c\xa4\x95\x99\x1b\x78\x52\xb8\x55"

func watchBitswap(n bsnetwork.BitSwapNetwork, pen *penalties) *watchedBitswap {
	return &watchedBitswap{BitSwapNetwork: n, pen: pen, now: time.Now, asked: map[peer.ID]map[string]*askedWant{}}
}

// Start implements bsnetwork.BitSwapNetwork.
func (w *watchedBitswap) Start(rs ...bsnetwork.Receiver) {
	wrapped := make([]bsnetwork.Receiver, len(rs))
	for i, r := range rs {
		wrapped[i] = watchedReceiver{Receiver: r, w: w}
	}
	w.BitSwapNetwork.Start(wrapped...)
}

// SendMessage implements bsnetwork.BitSwapNetwork.
func (w *watchedBitswap) SendMessage(ctx context.Context, p peer.ID, m bsmsg.BitSwapMessage) error {
	w.sent(p, m)
	return w.BitSwapNetwork.SendMessage(ctx, p, m)
}

// NewMessageSender implements bsnetwork.BitSwapNetwork.
func (w *watchedBitswap) NewMessageSender(ctx context.Context, p peer.ID, opts *bsnetwork.MessageSenderOpts) (bsnetwork.MessageSender, error) {
	ms, err := w.BitSwapNetwork.NewMessageSender(ctx, p, opts)
	if err != nil {
		return nil, err
	}
	return watchedSender{MessageSender: ms, w: w, p: p}, nil
}

// sent records the wants of m, before it goes out (so no answer can
// arrive first).
func (w *watchedBitswap) sent(p peer.ID, m bsmsg.BitSwapMessage) {
	wl := m.Wantlist()
	if len(wl) == 0 && !m.Full() {
		return
	}
	now := w.now()
	w.mu.Lock()
	defer w.mu.Unlock()
	w.prune(now)
	asked := w.asked[p]
	if asked == nil {
		asked = map[string]*askedWant{}
		w.asked[p] = asked
	}
	if m.Full() {
		// A full want list replaces the last one: what it leaves out is
		// cancelled.
		for _, a := range asked {
			if a.cancelled.IsZero() {
				a.cancelled = now
			}
		}
	}
	for _, e := range wl {
		k := string(e.Cid.Hash())
		a := asked[k]
		if e.Cancel {
			if a != nil && a.cancelled.IsZero() {
				a.cancelled = now
			}
			continue
		}
		if a == nil {
			a = &askedWant{}
			asked[k] = a
		}
		a.cancelled = time.Time{}
		if e.WantType == pb.Message_Wantlist_Block {
			a.blockAsked = true
		} else {
			a.haveQuestions++
		}
	}
}

// prune forgets wants cancelled longer than unsolicitedGrace ago, at most
// once per grace period. Called with mu held.
func (w *watchedBitswap) prune(now time.Time) {
	if now.Sub(w.pruned) < unsolicitedGrace {
		return
	}
	w.pruned = now
	for p, asked := range w.asked {
		for k, a := range asked {
			if !a.cancelled.IsZero() && now.Sub(a.cancelled) > unsolicitedGrace {
				delete(asked, k)
			}
		}
		if len(asked) == 0 {
			delete(w.asked, p)
		}
	}
}

// received checks the blocks and HAVEs of m against what p was asked.
func (w *watchedBitswap) received(p peer.ID, m bsmsg.BitSwapMessage) {
	blks, haves, dontHaves := m.Blocks(), m.Haves(), m.DontHaves()
	if len(blks) == 0 && len(haves) == 0 && len(dontHaves) == 0 {
		return
	}
	now := w.now()
	unsolicited, falseHaves := 0, 0
	var first, firstHave string
	w.mu.Lock()
	asked := w.asked[p]
	for _, b := range blks {
		a := asked[string(b.Cid().Hash())]
		if a != nil && (a.cancelled.IsZero() || now.Sub(a.cancelled) <= unsolicitedGrace) {
			continue
		}
		if unsolicited == 0 {
			first = b.Cid().String()
		}
		unsolicited++
	}
	for _, c := range dontHaves {
		if a := asked[string(c.Hash())]; a != nil && a.haveQuestions > 0 {
			a.haveQuestions--
		}
	}
	for _, c := range haves {
		k := string(c.Hash())
		a := asked[k]
		switch {
		case a == nil:
		case a.haveQuestions > 0:
			a.haveQuestions--
		case a.blockAsked && k != emptyBlockHash:
			if falseHaves == 0 {
				firstHave = c.String()
			}
			falseHaves++
		}
	}
	w.mu.Unlock()
	if unsolicited > 0 {
		w.pen.offend(p, offenceUnsolicited, unsolicited, fmt.Sprintf("%d of %d blocks never asked for (first %s)", unsolicited, len(blks), first))
	}
	if falseHaves > 0 {
		w.pen.offend(p, offenceFalseHave, falseHaves, fmt.Sprintf("HAVE instead of the block for %d want-blocks (first %s)", falseHaves, firstHave))
	}
}

// forget treats p's wants as cancelled now: it disconnected, and bitswap
// sends a full want list when it is back. (Not deleted: a disconnection
// reported late must not wipe the wants of the next connection.)
func (w *watchedBitswap) forget(p peer.ID) {
	now := w.now()
	w.mu.Lock()
	for _, a := range w.asked[p] {
		if a.cancelled.IsZero() {
			a.cancelled = now
		}
	}
	w.mu.Unlock()
}

type watchedSender struct {
	bsnetwork.MessageSender
	w *watchedBitswap
	p peer.ID
}

// SendMsg implements bsnetwork.MessageSender.
func (s watchedSender) SendMsg(ctx context.Context, m bsmsg.BitSwapMessage) error {
	s.w.sent(s.p, m)
	return s.MessageSender.SendMsg(ctx, m)
}

type watchedReceiver struct {
	bsnetwork.Receiver
	w *watchedBitswap
}

// ReceiveMessage implements bsnetwork.Receiver.
func (r watchedReceiver) ReceiveMessage(ctx context.Context, p peer.ID, m bsmsg.BitSwapMessage) {
	r.w.received(p, m)
	r.Receiver.ReceiveMessage(ctx, p, m)
}

// PeerDisconnected implements bsnetwork.Receiver.
func (r watchedReceiver) PeerDisconnected(p peer.ID) {
	r.w.forget(p)
	r.Receiver.PeerDisconnected(p)
}

package bandwidth

import (
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"golang.org/x/time/rate"
)

// Stream returns s limited by l: its writes by the upload limits and its
// reads by the download limits, of s's remote peer and of all peers. With
// no limit at all (or l nil) it returns s itself. Closing or resetting the
// returned stream closes or resets s.
//
// Every stream of a peer shares that peer's buckets, and every stream the
// global ones, so two streams to one peer share its limit.
func (l *Limiter) Stream(s network.Stream) network.Stream {
	if l == nil || l.limits.Unlimited() {
		return s
	}
	ls := &stream{
		Stream: s,
		lim:    l,
		conn:   s.Conn(),
		rdl:    newDeadline(),
		wdl:    newDeadline(),
		rshut:  newShutter(),
		wshut:  newShutter(),
	}
	var peerUp, peerDown *rate.Limiter
	if l.perPeer() {
		ls.peer = l.acquire(ls.conn.RemotePeer(), ls)
		peerUp, peerDown = ls.peer.up, ls.peer.down
	}
	ls.up = newGate(&l.upWait, peerUp, l.up)
	ls.down = newGate(&l.downWait, peerDown, l.down)
	return ls
}

// stream is a limited network.Stream. Methods it does not define (ID,
// Protocol, Stat, Conn, Scope, ...) are the wrapped stream's.
type stream struct {
	network.Stream
	lim  *Limiter
	conn network.Conn
	peer *peerBuckets // nil without per-peer limits

	up, down gate
	// wmu makes a Write one piece on the wire, as the muxers' writes
	// are, so the chunks of two concurrent writes do not interleave.
	wmu          sync.Mutex
	rdl, wdl     *deadline
	rshut, wshut *shutter
	released     sync.Once
}

var _ network.Stream = (*stream)(nil)

// Write sends p in chunks of at most a burst, each once its tokens are
// due. It returns early, with the count of bytes sent, when the write
// deadline has passed (os.ErrDeadlineExceeded), the stream is closed for
// writing (net.ErrClosed) or reset (network.ErrReset) while it waits, or
// when the wrapped stream's Write fails.
func (s *stream) Write(p []byte) (int, error) {
	if s.up.chunk == 0 || len(p) == 0 {
		return s.Stream.Write(p)
	}
	s.wmu.Lock()
	defer s.wmu.Unlock()
	written := 0
	for len(p) > 0 {
		n := min(len(p), s.up.chunk)
		if isClosed(s.wdl.wait()) {
			return written, os.ErrDeadlineExceeded // as in Read
		}
		if err := s.up.take(n, s.wdl, s.wshut, false); err != nil {
			return written, err
		}
		m, err := s.Stream.Write(p[:n])
		written += m
		if err != nil {
			return written, err
		}
		p = p[m:]
	}
	return written, nil
}

// Read reads at most a burst from the stream and then waits until the
// tokens for what it read are due. Past the read deadline it returns
// os.ErrDeadlineExceeded without reading. What was read is returned even when
// the wait is cut short by the read deadline, CloseRead, Close or Reset:
// the bytes have left the wrapped stream and would otherwise be lost.
// Their tokens stay spent, so the next read waits for them.
func (s *stream) Read(p []byte) (int, error) {
	if s.down.chunk == 0 {
		return s.Stream.Read(p)
	}
	if isClosed(s.rdl.wait()) {
		// Past the deadline: the wrapped stream may not enforce it
		// (mocknet's do not), and a read that does not wait must not
		// read either.
		return 0, os.ErrDeadlineExceeded
	}
	if len(p) > s.down.chunk {
		p = p[:s.down.chunk]
	}
	n, err := s.Stream.Read(p)
	if n > 0 {
		_ = s.down.take(n, s.rdl, s.rshut, true)
	}
	return n, err
}

// SetDeadline sets the deadline of both directions, for waiting on tokens
// and on the wrapped stream.
func (s *stream) SetDeadline(t time.Time) error {
	s.rdl.set(t)
	s.wdl.set(t)
	return s.Stream.SetDeadline(t)
}

// SetReadDeadline sets the deadline of reads.
func (s *stream) SetReadDeadline(t time.Time) error {
	s.rdl.set(t)
	return s.Stream.SetReadDeadline(t)
}

// SetWriteDeadline sets the deadline of writes.
func (s *stream) SetWriteDeadline(t time.Time) error {
	s.wdl.set(t)
	return s.Stream.SetWriteDeadline(t)
}

// CloseWrite ends a Write waiting for tokens and closes the wrapped
// stream for writing.
func (s *stream) CloseWrite() error {
	s.wshut.shut(net.ErrClosed)
	return s.Stream.CloseWrite()
}

// CloseRead ends a Read waiting for tokens and closes the wrapped stream
// for reading.
func (s *stream) CloseRead() error {
	s.rshut.shut(net.ErrClosed)
	return s.Stream.CloseRead()
}

// Close ends waits in both directions and closes the wrapped stream.
func (s *stream) Close() error {
	s.shut(net.ErrClosed)
	err := s.Stream.Close()
	s.release()
	return err
}

// Reset ends waits in both directions and resets the wrapped stream.
func (s *stream) Reset() error {
	s.shut(network.ErrReset)
	err := s.Stream.Reset()
	s.release()
	return err
}

// ResetWithError ends waits in both directions and resets the wrapped
// stream with code.
func (s *stream) ResetWithError(code network.StreamErrorCode) error {
	s.shut(network.ErrReset)
	err := s.Stream.ResetWithError(code)
	s.release()
	return err
}

func (s *stream) shut(err error) {
	s.rshut.shut(err)
	s.wshut.shut(err)
}

// release gives up s's hold on its peer's buckets, once.
func (s *stream) release() {
	if s.peer != nil {
		s.released.Do(func() { s.lim.release(s.peer, s) })
	}
}

// gate is the buckets one direction of a stream waits for: its peer's
// and the global one, either absent when it has no limit.
type gate struct {
	buckets [2]*rate.Limiter // the non-nil ones first
	// chunk is the smallest burst of the buckets: the most bytes that
	// can be asked of all of them at once. 0: no bucket, no limit.
	chunk  int
	waited *atomic.Int64 // nanoseconds, for Stats
}

func newGate(waited *atomic.Int64, buckets ...*rate.Limiter) gate {
	g := gate{waited: waited}
	i := 0
	for _, b := range buckets {
		if b == nil {
			continue
		}
		g.buckets[i] = b
		i++
		if g.chunk == 0 || b.Burst() < g.chunk {
			g.chunk = b.Burst()
		}
	}
	return g
}

// take reserves n tokens (n <= g.chunk) of every bucket of g and waits
// until all of them are due. It returns nil then; os.ErrDeadlineExceeded
// if dl passes first; and the error shut was shut with if it is shut
// first. An interrupted wait gives its tokens back unless keep is set
// (the caller has already moved the bytes).
func (g *gate) take(n int, dl *deadline, shut *shutter, keep bool) error {
	now := time.Now()
	var rs [2]*rate.Reservation
	var delay time.Duration
	for i, b := range g.buckets {
		if b == nil {
			break
		}
		rs[i] = b.ReserveN(now, n)
		delay = max(delay, rs[i].DelayFrom(now))
	}
	if delay == 0 {
		return nil
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	var err error
	select {
	case <-t.C:
	case <-dl.wait():
		err = os.ErrDeadlineExceeded
	case <-shut.ch:
		err = shut.err
	}
	end := time.Now()
	g.waited.Add(int64(end.Sub(now)))
	if err != nil && !keep {
		for _, r := range rs {
			if r != nil {
				r.CancelAt(end)
			}
		}
	}
	return err
}

// shutter is closed once, with the error a waiter it interrupts returns.
type shutter struct {
	once sync.Once
	ch   chan struct{}
	err  error // set before ch is closed
}

func newShutter() *shutter { return &shutter{ch: make(chan struct{})} }

func (s *shutter) shut(err error) {
	s.once.Do(func() {
		s.err = err
		close(s.ch)
	})
}

// deadline is a deadline that can be moved while others wait on it: the
// channel wait returns is closed when it passes. It is net.Pipe's
// pipeDeadline (net/pipe.go): the channel is replaced only once closed, so
// a waiter holding it sees a deadline moved earlier or later.
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer
	cancel chan struct{}
}

func newDeadline() *deadline { return &deadline{cancel: make(chan struct{})} }

// set sets the deadline to t; the zero time is none.
func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.cancel // the timer fired: wait for it to have closed cancel
	}
	d.timer = nil
	closed := isClosed(d.cancel)
	if t.IsZero() {
		if closed {
			d.cancel = make(chan struct{})
		}
		return
	}
	if dur := time.Until(t); dur > 0 {
		if closed {
			d.cancel = make(chan struct{})
		}
		cancel := d.cancel
		d.timer = time.AfterFunc(dur, func() { close(cancel) })
		return
	}
	if !closed {
		close(d.cancel)
	}
}

// wait returns a channel that is closed when the deadline passes.
func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.cancel
}

func isClosed(c <-chan struct{}) bool {
	select {
	case <-c:
		return true
	default:
		return false
	}
}

package bandwidth

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
)

// The tests run in synctest bubbles: time is virtual and advances only
// when every goroutine of the bubble is blocked, so a limiter's waits are
// exact and cost no real time.

// pipeStream is one end of a net.Pipe dressed as a libp2p stream of a
// connection to peer. Deadlines, Close and Reset act on the pipe.
type pipeStream struct {
	network.Stream // nil: only the methods below are called
	pipe           net.Conn
	conn           *fakeConn
}

func (s *pipeStream) Read(p []byte) (int, error)                   { return s.pipe.Read(p) }
func (s *pipeStream) Write(p []byte) (int, error)                  { return s.pipe.Write(p) }
func (s *pipeStream) Close() error                                 { return s.pipe.Close() }
func (s *pipeStream) CloseWrite() error                            { return s.pipe.Close() }
func (s *pipeStream) CloseRead() error                             { return s.pipe.Close() }
func (s *pipeStream) Reset() error                                 { return s.pipe.Close() }
func (s *pipeStream) ResetWithError(network.StreamErrorCode) error { return s.pipe.Close() }
func (s *pipeStream) SetDeadline(t time.Time) error                { return s.pipe.SetDeadline(t) }
func (s *pipeStream) SetReadDeadline(t time.Time) error            { return s.pipe.SetReadDeadline(t) }
func (s *pipeStream) SetWriteDeadline(t time.Time) error           { return s.pipe.SetWriteDeadline(t) }
func (s *pipeStream) Conn() network.Conn                           { return s.conn }

// fakeConn is a connection to a peer that can be marked closed.
type fakeConn struct {
	network.Conn // nil
	peer         peer.ID
	closed       atomic.Bool
}

func (c *fakeConn) RemotePeer() peer.ID { return c.peer }
func (c *fakeConn) IsClosed() bool      { return c.closed.Load() }

// pair returns the two ends of a stream with peer p: ours, limited by l,
// and the remote end, unlimited.
func pair(l *Limiter, p peer.ID) (ours network.Stream, theirs net.Conn, conn *fakeConn) {
	a, b := net.Pipe()
	conn = &fakeConn{peer: p}
	return l.Stream(&pipeStream{pipe: a, conn: conn}), b, conn
}

func newLimiter(t *testing.T, l Limits) *Limiter {
	t.Helper()
	lim, err := New(l)
	if err != nil {
		t.Fatal(err)
	}
	return lim
}

// seconds is how long bytes take at rate bytes per second.
func seconds(bytes, rate int) time.Duration {
	return time.Duration(float64(bytes) / float64(rate) * float64(time.Second))
}

// near fails unless got is within tol of want.
func near(t *testing.T, what string, got, want, tol time.Duration) {
	t.Helper()
	if got < want-tol || got > want+tol {
		t.Errorf("%s took %v; want %v ± %v", what, got, want, tol)
	} else {
		t.Logf("%s took %v (want %v ± %v)", what, got, want, tol)
	}
}

// send writes size bytes to w in writes of at most step bytes.
func send(w io.Writer, size, step int) (int, error) {
	buf := make([]byte, step)
	total := 0
	for total < size {
		n, err := w.Write(buf[:min(step, size-total)])
		total += n
		if err != nil {
			return total, err
		}
	}
	return total, nil
}

// TestUploadRate: 1 MiB written at 256 KiB/s takes 4 s less the first
// burst, which goes at once, whether written in one call or in small
// ones; the reader, unlimited, sees the same.
func TestUploadRate(t *testing.T) {
	const rate, size = 256 << 10, 1 << 20
	for _, step := range []int{size, 1000, 64 << 10} {
		synctest.Test(t, func(t *testing.T) {
			l := newLimiter(t, Limits{Upload: rate})
			w, r, _ := pair(l, "a")
			done := make(chan int64)
			go func() {
				n, _ := io.Copy(io.Discard, r)
				done <- n
			}()
			start := time.Now()
			if n, err := send(w, size, step); err != nil || n != size {
				t.Fatalf("write: %d, %v", n, err)
			}
			w.Close()
			if got := <-done; got != size {
				t.Fatalf("received %d bytes; want %d", got, size)
			}
			want := seconds(size-Burst(rate), rate)
			near(t, "1 MiB at 256 KiB/s", time.Since(start), want, time.Millisecond)
			if w := l.Stats().UploadWait; w < want-time.Millisecond {
				t.Errorf("upload wait %v; want about %v", w, want)
			}
		})
	}
}

// TestDownloadRate: reading 1 MiB at 256 KiB/s takes 4 s less a burst,
// and the unlimited sender is held back with it: its last write returns
// no earlier than a burst before the reader is done.
func TestDownloadRate(t *testing.T) {
	const rate, size = 256 << 10, 1 << 20
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, Limits{Download: rate})
		r, w, _ := pair(l, "a")
		sent := make(chan time.Duration, 1)
		start := time.Now()
		go func() {
			_, _ = send(w, size, size)
			sent <- time.Since(start)
			w.Close()
		}()
		n, err := io.Copy(io.Discard, r)
		if err != nil || n != size {
			t.Fatalf("read: %d, %v", n, err)
		}
		want := seconds(size-Burst(rate), rate)
		near(t, "reading 1 MiB at 256 KiB/s", time.Since(start), want, time.Millisecond)
		if s := <-sent; s < want-seconds(Burst(rate), rate) {
			t.Errorf("the sender finished after %v; want it held back to about %v", s, want)
		}
		if w := l.Stats().DownloadWait; w < want-time.Millisecond {
			t.Errorf("download wait %v; want about %v", w, want)
		}
	})
}

// TestSharing: streams share their peer's buckets and everyone's, so the
// time to move everything is set by whichever limit binds: the global one
// over the sum of all peers, the per-peer one over each peer's streams.
func TestSharing(t *testing.T) {
	const k = 1 << 10
	tests := []struct {
		name       string
		perPeer    int // per-peer rate, 0: none
		global     int // global rate, 0: none
		peers      []peer.ID
		want       time.Duration
		tol        time.Duration
		wantStream time.Duration // each stream at least, 0: not checked
	}{
		{
			name: "global: two peers share it", global: 256 * k, peers: []peer.ID{"a", "b"},
			want: seconds(1<<20-Burst(256*k), 256*k), tol: time.Millisecond,
		},
		{
			name: "per peer: two peers each have it", perPeer: 256 * k, peers: []peer.ID{"a", "b"},
			want: seconds(512*k-Burst(256*k), 256*k), tol: time.Millisecond,
		},
		{
			name: "per peer: two streams of one peer share it", perPeer: 256 * k, peers: []peer.ID{"a", "a"},
			want: seconds(1<<20-Burst(256*k), 256*k), tol: time.Millisecond,
		},
		{
			// Each peer could have 256 KiB/s, but all together only 384.
			name: "global below the peers' sum binds", perPeer: 256 * k, global: 384 * k, peers: []peer.ID{"a", "b"},
			want: seconds(1<<20-Burst(384*k), 384*k), tol: time.Millisecond,
		},
		{
			// All together may have 1 MiB/s, each peer only 128 KiB/s.
			name: "per peer below the global share binds", perPeer: 128 * k, global: 1 << 20, peers: []peer.ID{"a", "b"},
			want: seconds(512*k-Burst(128*k), 128*k), tol: time.Millisecond,
			wantStream: seconds(512*k-Burst(128*k), 128*k) - time.Millisecond,
		},
	}
	for _, tc := range tests {
		for _, dir := range []string{"upload", "download"} {
			t.Run(tc.name+"/"+dir, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					lims := Limits{Upload: int64(tc.global), PeerUpload: int64(tc.perPeer)}
					if dir == "download" {
						lims = Limits{Download: int64(tc.global), PeerDownload: int64(tc.perPeer)}
					}
					l := newLimiter(t, lims)
					start := time.Now()
					var wg sync.WaitGroup
					took := make([]time.Duration, len(tc.peers))
					for i, p := range tc.peers {
						ours, theirs, _ := pair(l, p)
						w, r := io.Writer(ours), io.Reader(theirs)
						if dir == "download" {
							w, r = theirs, ours
						}
						wg.Go(func() {
							defer ours.Close()
							if n, err := io.Copy(io.Discard, r); n != 512*k {
								t.Errorf("stream %d: received %d, %v", i, n, err)
							}
							took[i] = time.Since(start)
						})
						wg.Go(func() {
							if n, err := send(w, 512*k, 32*k); err != nil {
								t.Errorf("stream %d: sent %d: %v", i, n, err)
							}
							theirs.Close()
						})
					}
					wg.Wait()
					near(t, "512 KiB on each stream", time.Since(start), tc.want, tc.tol)
					for i, d := range took {
						if d < tc.wantStream {
							t.Errorf("stream %d done after %v; want at least %v", i, d, tc.wantStream)
						}
					}
				})
			})
		}
	}
}

// TestWriteDeadline: a write waiting for tokens returns a timeout when
// its deadline passes, having sent the chunks that were due; the
// tokens of the chunk it gave up go back, so once the deadline is cleared
// the rest goes at the full rate and the whole takes as long as without
// the interruption. A deadline moved earlier during the wait is seen.
func TestWriteDeadline(t *testing.T) {
	const rate, size = 64 << 10, 64 << 10
	b := Burst(rate)
	setters := map[string]func(network.Stream, time.Time) error{
		"SetWriteDeadline": network.Stream.SetWriteDeadline,
		"SetDeadline":      network.Stream.SetDeadline,
	}
	for name, set := range setters {
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t, Limits{PeerUpload: rate})
				w, r, _ := pair(l, "a")
				received := make(chan int64)
				go func() {
					n, _ := io.Copy(io.Discard, r)
					received <- n
				}()
				start := time.Now()
				set(w, start.Add(150*time.Millisecond))
				buf := make([]byte, size)
				n, err := w.Write(buf)
				if !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("write past its deadline: %d, %v; want os.ErrDeadlineExceeded", n, err)
				}
				var ne net.Error
				if !errors.As(err, &ne) || !ne.Timeout() {
					t.Errorf("error %v is not a net.Error timeout", err)
				}
				if n != 2*b {
					t.Errorf("wrote %d before the deadline; want two chunks, %d", n, 2*b)
				}
				near(t, "the interrupted write", time.Since(start), 150*time.Millisecond, 0)

				set(w, time.Time{})
				if m, err := w.Write(buf[n:]); err != nil {
					t.Fatalf("write after the deadline was cleared: %d, %v", m, err)
				}
				near(t, "the whole write", time.Since(start), seconds(size-b, rate), time.Millisecond)

				// Moved earlier while waiting: the waiter sees it.
				wrote := make(chan error)
				go func() {
					_, err := w.Write(buf)
					wrote <- err
				}()
				time.Sleep(50 * time.Millisecond)
				moved := time.Now()
				set(w, moved.Add(10*time.Millisecond))
				if err := <-wrote; !errors.Is(err, os.ErrDeadlineExceeded) {
					t.Fatalf("write with its deadline moved earlier: %v", err)
				}
				near(t, "the write whose deadline was moved", time.Since(moved), 10*time.Millisecond, 0)
				w.Close()
				<-received
			})
		})
	}
}

// TestReadDeadline: a read whose wait for tokens is cut by the deadline
// still returns what it read; the next read times out; and once the
// deadline is cleared the rest arrives with nothing lost, the bytes of the
// interrupted wait having been paid for.
func TestReadDeadline(t *testing.T) {
	const rate, size = 64 << 10, 64 << 10
	b := Burst(rate)
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, Limits{Download: rate})
		r, w, _ := pair(l, "a")
		go func() {
			_, _ = w.Write(make([]byte, size))
			w.Close()
		}()
		start := time.Now()
		r.SetReadDeadline(start.Add(150 * time.Millisecond))
		buf := make([]byte, size)
		got := 0
		var err error
		for err == nil {
			var n int
			n, err = r.Read(buf)
			got += n
		}
		if !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Fatalf("read past the deadline: %v", err)
		}
		// Reads at 0 (no wait), 0.1 s and 0.2 s, the last cut at 0.15 s
		// with its bytes.
		if got != 3*b {
			t.Errorf("read %d before the deadline; want three chunks, %d", got, 3*b)
		}
		near(t, "reading until the deadline", time.Since(start), 150*time.Millisecond, 0)
		r.SetReadDeadline(time.Time{})
		n, err := io.Copy(io.Discard, r)
		if err != nil || got+int(n) != size {
			t.Fatalf("read %d then %d, %v; want %d in all", got, n, err, size)
		}
		near(t, "the whole read", time.Since(start), seconds(size-b, rate), time.Millisecond)
	})
}

// TestCloseEndsWaits: Close, Reset and the half closes end a wait for
// tokens at once. A write returns what it sent and the error; a read
// returns what it read.
func TestCloseEndsWaits(t *testing.T) {
	const rate = 64 << 10
	b := Burst(rate)
	tests := []struct {
		name    string
		close   func(network.Stream) error
		write   bool
		wantErr error
	}{
		{"Close ends a write", network.Stream.Close, true, net.ErrClosed},
		{"CloseWrite ends a write", network.Stream.CloseWrite, true, net.ErrClosed},
		{"Reset ends a write", network.Stream.Reset, true, network.ErrReset},
		{"ResetWithError ends a write", func(s network.Stream) error { return s.ResetWithError(1) }, true, network.ErrReset},
		{"Close ends a read", network.Stream.Close, false, nil},
		{"CloseRead ends a read", network.Stream.CloseRead, false, nil},
		{"Reset ends a read", network.Stream.Reset, false, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newLimiter(t, Limits{Upload: rate, Download: rate, PeerUpload: rate, PeerDownload: rate})
				ours, theirs, _ := pair(l, "a")
				type result struct {
					n   int
					err error
				}
				done := make(chan result)
				if tc.write {
					go func() { _, _ = io.Copy(io.Discard, theirs) }()
					go func() {
						n, err := ours.Write(make([]byte, 4*b))
						done <- result{n, err}
					}()
				} else {
					go func() { _, _ = theirs.Write(make([]byte, 4*b)) }()
					go func() {
						buf := make([]byte, 4*b)
						n, _ := io.ReadFull(ours, buf[:b]) // the burst: no wait
						m, err := ours.Read(buf[n:])       // waits 0.1 s
						done <- result{n + m, err}
					}()
				}
				time.Sleep(50 * time.Millisecond)
				closed := time.Now()
				tc.close(ours)
				res := <-done
				if d := time.Since(closed); d != 0 {
					t.Errorf("the wait ended %v after the close; want at once", d)
				}
				if tc.write {
					if res.n != b || !errors.Is(res.err, tc.wantErr) {
						t.Errorf("write: %d, %v; want %d, %v", res.n, res.err, b, tc.wantErr)
					}
				} else if res.n != 2*b || res.err != nil {
					t.Errorf("read: %d, %v; want %d, nil", res.n, res.err, 2*b)
				}
				theirs.Close()
				ours.Close()
			})
		})
	}
}

// TestPeerBucketsDropped: a peer's buckets are dropped once it has no
// open limited stream and they have refilled (a new bucket would be the
// same), and not before; a stream whose connection closed without the
// stream being closed does not keep them.
func TestPeerBucketsDropped(t *testing.T) {
	const rate = 64 << 10
	synctest.Test(t, func(t *testing.T) {
		l := newLimiter(t, Limits{PeerDownload: rate})
		open := func(p peer.ID) (network.Stream, net.Conn, *fakeConn) {
			s, theirs, c := pair(l, p)
			t.Cleanup(func() { s.Close(); theirs.Close() })
			return s, theirs, c
		}
		// a drains its bucket and closes its stream.
		a, aw, _ := open("a")
		go func() { _, _ = aw.Write(make([]byte, 2*Burst(rate))) }()
		if _, err := io.ReadFull(a, make([]byte, 2*Burst(rate))); err != nil {
			t.Fatal(err)
		}
		a.Close()
		// b comes: a's bucket is not full yet, so it stays.
		_, _, bConn := open("b")
		if n := l.peerCount(); n != 2 {
			t.Fatalf("%d peers' buckets after a closed with its bucket low; want 2 (a, b)", n)
		}
		// A sweep interval later a has refilled: c's arrival drops it.
		time.Sleep(sweepEvery)
		open("c")
		if n := l.peerCount(); n != 2 {
			t.Fatalf("%d peers' buckets; want 2 (b, c)", n)
		}
		// b's connection closes under its stream, which nobody closes.
		bConn.closed.Store(true)
		time.Sleep(sweepEvery)
		open("d")
		if n := l.peerCount(); n != 2 {
			t.Fatalf("%d peers' buckets; want 2 (c, d)", n)
		}
		// Within a sweep interval nothing is looked at.
		open("e")
		if n := l.peerCount(); n != 3 {
			t.Fatalf("%d peers' buckets; want 3 (c, d, e)", n)
		}
	})
}

// TestUnlimitedIsNotWrapped: with no limits a stream and a host are
// returned as they are, so a transfer costs nothing more; with limits in
// one direction only, the other direction waits for nothing.
func TestUnlimitedIsNotWrapped(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		a, b := net.Pipe()
		defer b.Close()
		raw := &pipeStream{pipe: a, conn: &fakeConn{peer: "a"}}
		for _, l := range []*Limiter{nil, newLimiter(t, Limits{})} {
			if s := l.Stream(raw); s != network.Stream(raw) {
				t.Errorf("Limiter(%v).Stream wrapped a stream: %T", l, s)
			}
		}
		l := newLimiter(t, Limits{Upload: 64 << 10, PeerUpload: 64 << 10})
		s := l.Stream(raw)
		go func() {
			_, _ = b.Write(make([]byte, 1<<20))
			b.Close()
		}()
		start := time.Now()
		if n, err := io.Copy(io.Discard, s); n != 1<<20 {
			t.Fatalf("read %d, %v", n, err)
		}
		if d := time.Since(start); d != 0 || l.Stats().DownloadWait != 0 {
			t.Errorf("an unlimited read waited %v (stats %v)", d, l.Stats().DownloadWait)
		}
	})
}

func TestNewRefusesNegative(t *testing.T) {
	if _, err := New(Limits{PeerDownload: -1}); err == nil {
		t.Fatal("New accepted a negative rate")
	}
}

func TestBurst(t *testing.T) {
	for _, tc := range []struct{ rate, want int64 }{
		{1, MinBurst},
		{32000, MinBurst},         // 256 kbit/s: 100 ms would be 3200 bytes
		{256 << 10, 26214},        // 256 KiB/s: 100 ms
		{125_000_000, 12_500_000}, // 1 Gbit/s
	} {
		if got := Burst(tc.rate); int64(got) != tc.want {
			t.Errorf("Burst(%d) = %d; want %d", tc.rate, got, tc.want)
		}
	}
}

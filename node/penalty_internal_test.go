package node

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"testing"
	"time"

	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	"github.com/libp2p/go-msgio"
	mh "github.com/multiformats/go-multihash"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// value reads a counter.
func value(t *testing.T, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}

func TestEmptyBlockHash(t *testing.T) {
	m, err := mh.Sum(nil, mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	if string(m) != emptyBlockHash {
		t.Fatalf("emptyBlockHash is not the sha2-256 multihash of no bytes")
	}
}

// testPenalties returns penalties on a clock the test moves, and the
// peers whose connections they closed.
func testPenalties(banFor time.Duration) (*penalties, *time.Time, func() []peer.ID) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	pb := newPenalties(banFor, slog.New(slog.DiscardHandler))
	pb.now = func() time.Time { return now }
	var mu sync.Mutex
	var closed []peer.ID
	done := make(chan struct{}, 64)
	pb.close = func(p peer.ID) {
		mu.Lock()
		closed = append(closed, p)
		mu.Unlock()
		done <- struct{}{}
	}
	return pb, &now, func() []peer.ID {
		// offend closes in a goroutine; wait for what it started.
		for {
			select {
			case <-done:
				continue
			case <-time.After(100 * time.Millisecond):
			}
			break
		}
		mu.Lock()
		defer mu.Unlock()
		return append([]peer.ID(nil), closed...)
	}
}

func TestPenaltiesThresholdAndDecay(t *testing.T) {
	type step struct {
		after time.Duration // clock moves this much first
		o     offence
		count int
	}
	for _, tc := range []struct {
		name   string
		steps  []step
		banned bool
	}{
		{"one oversized message", []step{{0, offenceOversized, 1}}, false},
		{"two oversized messages at once", []step{{0, offenceOversized, 1}, {0, offenceOversized, 1}}, true},
		{"two a second apart", []step{{0, offenceMalformed, 1}, {time.Second, offenceMalformed, 1}}, true},
		{"two a half-life apart", []step{{0, offenceOversized, 1}, {penaltyHalfLife, offenceOversized, 1}}, false},
		{"a false HAVE and a bad block", []step{{0, offenceFalseHave, 1}, {time.Minute, offenceBadBlock, 1}}, true},
		{"nine unsolicited blocks", []step{{0, offenceUnsolicited, 9}}, false},
		{"ten unsolicited blocks", []step{{0, offenceUnsolicited, 9}, {time.Second, offenceUnsolicited, 1}}, true},
		{"ten unsolicited blocks an hour apart", []step{{0, offenceUnsolicited, 5}, {time.Hour, offenceUnsolicited, 5}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			pb, now, closed := testPenalties(10 * time.Minute)
			p := peer.ID("offender")
			var last bool
			for _, s := range tc.steps {
				*now = now.Add(s.after)
				last = pb.offend(p, s.o, s.count, "test")
			}
			if last != tc.banned || pb.banned(p) != tc.banned {
				t.Fatalf("banned: offend said %v, banned() %v; want %v", last, pb.banned(p), tc.banned)
			}
			if got := closed(); tc.banned != (len(got) == 1) {
				t.Fatalf("connections closed for %v", got)
			}
			if tc.banned {
				if got := value(t, pb.penalised.WithLabelValues(string(tc.steps[len(tc.steps)-1].o))); got != 1 {
					t.Errorf("penalised counter %v", got)
				}
			}
		})
	}
}

func TestPenaltiesBanEnds(t *testing.T) {
	pb, now, closed := testPenalties(10 * time.Minute)
	p, q := peer.ID("offender"), peer.ID("bystander")
	pb.offend(p, offenceOversized, 2, "test")
	if !pb.banned(p) || pb.banned(q) {
		t.Fatal("ban not in force, or on the wrong peer")
	}
	// While banned, what was in flight changes nothing.
	if !pb.offend(p, offenceOversized, 5, "in flight") {
		t.Error("offend during a ban should report the ban")
	}
	if pb.InterceptSecured(network.DirInbound, p, nil) || pb.InterceptPeerDial(p) {
		t.Error("the gater lets a banned peer in")
	}
	if !pb.InterceptSecured(network.DirInbound, q, nil) || !pb.InterceptPeerDial(q) {
		t.Error("the gater refuses a peer that did nothing")
	}
	if got := value(t, pb.refused); got != 1 {
		t.Errorf("refused %v, want 1", got)
	}
	if got := pb.bannedCount(); got != 1 {
		t.Errorf("banned count %d", got)
	}
	*now = now.Add(10*time.Minute - time.Second)
	if !pb.banned(p) {
		t.Fatal("ban ended early")
	}
	*now = now.Add(time.Second)
	if pb.banned(p) {
		t.Fatal("ban did not end")
	}
	if score, until := pb.score(p); score != 0 || !until.IsZero() {
		t.Fatalf("after the ban: score %v until %v, want a fresh start", score, until)
	}
	if pb.offend(p, offenceOversized, 1, "test") {
		t.Fatal("one offence after a ban is not a new ban")
	}
	if got := closed(); len(got) != 1 {
		t.Fatalf("closed %v", got)
	}
}

func TestPenaltiesDisconnectOnly(t *testing.T) {
	pb, _, closed := testPenalties(0)
	p := peer.ID("offender")
	if !pb.offend(p, offenceMalformed, 2, "test") {
		t.Fatal("not penalised")
	}
	if pb.banned(p) || !pb.InterceptSecured(network.DirInbound, p, nil) {
		t.Fatal("with no ban duration, the peer may come back at once")
	}
	if got := closed(); len(got) != 1 || got[0] != p {
		t.Fatalf("closed %v", got)
	}
}

func TestPenaltiesBounded(t *testing.T) {
	pb, now, _ := testPenalties(10 * time.Minute)
	for i := range penaltyMaxPeers + 100 {
		*now = now.Add(time.Millisecond)
		pb.offend(peer.ID(fmt.Sprintf("p%d", i)), offenceUnsolicited, 1, "test")
	}
	const bans = penaltyMaxPeers + 100
	for i := range bans {
		*now = now.Add(time.Millisecond)
		pb.offend(peer.ID(fmt.Sprintf("b%d", i)), offenceOversized, 2, "test")
	}
	pb.mu.Lock()
	n := len(pb.peers)
	pb.mu.Unlock()
	if n > penaltyMaxPeers {
		t.Fatalf("%d peers kept, more than %d", n, penaltyMaxPeers)
	}
	// The newest ban survives; the oldest ones went first.
	if !pb.banned(peer.ID(fmt.Sprintf("b%d", bans-1))) {
		t.Error("the newest ban was forgotten")
	}
}

// fakeStream is the part of a stream framedStream uses: reads come from r
// in chunks of at most chunk bytes, memory is reserved against limit.
type fakeStream struct {
	network.Stream
	r      io.Reader
	chunk  int
	scope  *fakeScope
	resets int
}

func (s *fakeStream) Read(p []byte) (int, error) {
	if s.chunk > 0 && len(p) > s.chunk {
		p = p[:s.chunk]
	}
	return s.r.Read(p)
}
func (s *fakeStream) Scope() network.StreamScope { return s.scope }
func (s *fakeStream) Reset() error               { s.resets++; return nil }
func (s *fakeStream) Close() error               { return nil }

type fakeScope struct {
	network.StreamScope
	limit, used, peak int
}

func (s *fakeScope) ReserveMemory(n int, _ uint8) error {
	if s.used+n > s.limit {
		return errors.New("over the fake limit")
	}
	s.used += n
	s.peak = max(s.peak, s.used)
	return nil
}
func (s *fakeScope) ReleaseMemory(n int) { s.used -= n }

func frame(size int) []byte {
	return append(binary.AppendUvarint(nil, uint64(size)), bytes.Repeat([]byte{'m'}, size)...)
}

func newFramed(data []byte, chunk int, limit int, strict bool) (*framedStream, *fakeStream, *penalties) {
	pb := newPenalties(time.Minute, slog.New(slog.DiscardHandler))
	fs := &fakeStream{r: bytes.NewReader(data), chunk: chunk, scope: &fakeScope{limit: limit}}
	return &framedStream{Stream: fs, class: streamClass{name: "test", framed: true, strict: strict}, peer: "peer", pen: pb}, fs, pb
}

func TestFramedStream(t *testing.T) {
	big := network.MessageSizeMax
	for _, tc := range []struct {
		name     string
		data     []byte
		limit    int
		messages int    // read whole by msgio
		offence  string // counted, "" for none
		err      bool   // msgio ends with an error other than EOF
	}{
		{"three messages", append(append(frame(10), frame(0)...), frame(1000)...), 1 << 20, 3, "", false},
		{"a message at the limit", frame(big), decodeFactor * big, 1, "", false},
		{"a message over the limit", frame(big + 1), 1 << 30, 0, "oversized-message", true},
		{"a length prefix of ten bytes", bytes.Repeat([]byte{0xff}, 12), 1 << 30, 0, "oversized-message", true},
		{"a length prefix padded with a zero", []byte{0x85, 0x00, 1, 2, 3, 4, 5}, 1 << 30, 0, "oversized-message", true},
		{"memory refused", append(frame(100), frame(1000)...), decodeFactor*1000 - 1, 1, "", true},
		{"cut in a message", frame(100)[:50], 1 << 20, 0, "", true},
	} {
		for _, chunk := range []int{1, 7, 4096} {
			if chunk == 1 && len(tc.data) > 64<<10 {
				continue // four million one-byte reads prove nothing more
			}
			t.Run(fmt.Sprintf("%s, %d-byte reads", tc.name, chunk), func(t *testing.T) {
				s, fs, pb := newFramed(tc.data, chunk, tc.limit, true)
				r := msgio.NewVarintReaderSize(s, network.MessageSizeMax)
				got := 0
				var err error
				for range 100 {
					var m []byte
					if m, err = r.ReadMsg(); err != nil {
						break
					}
					if fs.scope.used < decodeFactor*len(m) {
						t.Fatalf("a message of %d bytes read with %d reserved", len(m), fs.scope.used)
					}
					r.ReleaseMsg(m)
					got++
				}
				if got != tc.messages || (err != io.EOF) != tc.err {
					t.Fatalf("read %d messages, then %v; want %d and an error: %v", got, err, tc.messages, tc.err)
				}
				if fs.scope.peak > tc.limit {
					t.Fatalf("reserved %d, over the limit %d", fs.scope.peak, tc.limit)
				}
				_ = s.Close()
				if fs.scope.used != 0 {
					t.Fatalf("%d bytes still reserved after Close", fs.scope.used)
				}
				for _, o := range []offence{offenceOversized, offenceMalformed} {
					want := 0.0
					if string(o) == tc.offence {
						want = 1
					}
					if got := value(t, pb.offences.WithLabelValues(string(o))); got != want {
						t.Errorf("%s offences %v, want %v", o, got, want)
					}
				}
			})
		}
	}
}

// TestFramedStreamReset: a strict protocol's handler resetting the stream
// right after a whole message is a message it could not decode; a reset
// anywhere else is not the peer's doing, or not provably.
func TestFramedStreamReset(t *testing.T) {
	for _, tc := range []struct {
		name      string
		data      []byte
		reads     int // ReadMsg calls before the reset
		strict    bool
		malformed bool
	}{
		{"after a whole message", frame(32), 1, true, true},
		{"after a whole message, not strict", frame(32), 1, false, false},
		{"before anything", frame(32), 0, true, false},
		{"after the end of the stream", frame(32), 2, true, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, _, pb := newFramed(tc.data, 0, 1<<20, tc.strict)
			r := msgio.NewVarintReaderSize(s, network.MessageSizeMax)
			for range tc.reads {
				_, _ = r.ReadMsg()
			}
			_ = s.Reset()
			want := 0.0
			if tc.malformed {
				want = 1
			}
			if got := value(t, pb.offences.WithLabelValues(string(offenceMalformed))); got != want {
				t.Fatalf("malformed offences %v, want %v", got, want)
			}
		})
	}
}

// FuzzFramedStream: whatever a peer sends, in whatever pieces, the guard
// hands msgio exactly what msgio alone would read, up to where it stops
// the stream; it never reserves more than its limit, and releases all of
// it at the end.
func FuzzFramedStream(f *testing.F) {
	f.Add(frame(10), uint8(1), uint16(100))
	f.Add(append(frame(3), 0xff, 0xff, 0xff), uint8(3), uint16(1000))
	f.Add([]byte{0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01}, uint8(2), uint16(1))
	f.Add([]byte{0x81, 0x00}, uint8(1), uint16(1))
	f.Fuzz(func(t *testing.T, data []byte, chunk uint8, limitKiB uint16) {
		limit := int(limitKiB) << 10
		// The reference: msgio on the bytes as they are.
		ref := msgio.NewVarintReaderSize(bytes.NewReader(data), network.MessageSizeMax)
		var want [][]byte
		for range 1000 {
			m, err := ref.ReadMsg()
			if err != nil {
				break
			}
			want = append(want, bytes.Clone(m))
		}
		s, fs, _ := newFramed(data, int(chunk)+1, limit, true)
		r := msgio.NewVarintReaderSize(s, network.MessageSizeMax)
		for i := range 1000 {
			m, err := r.ReadMsg()
			if err != nil {
				break
			}
			if i >= len(want) || !bytes.Equal(m, want[i]) {
				t.Fatalf("message %d through the guard differs from msgio's own", i)
			}
		}
		if fs.scope.peak > limit {
			t.Fatalf("reserved %d over the limit %d", fs.scope.peak, limit)
		}
		_ = s.Close()
		if fs.scope.used != 0 {
			t.Fatalf("%d bytes still reserved after Close", fs.scope.used)
		}
	})
}

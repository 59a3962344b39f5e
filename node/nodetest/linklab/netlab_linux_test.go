//go:build netlab

// Tests of the real link between namespaces: they need root, /dev/net/tun
// and iproute2. `make netlab` runs them (and `make test` does as root).

package linklab

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"slices"
	"strconv"
	"testing"
	"time"
)

func newLab(t *testing.T, cfg Config) *Lab {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("linklab tests need root (network namespaces, TUN devices); run them as root, as CI does")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l, err := New(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("close: %v", err)
		}
		if _, err := os.Stat("/run/netns/" + l.NS(0)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("namespace %s still exists after Close: %v", l.NS(0), err)
		}
	})
	return l
}

// pinger sends ICMP echo requests from side 0 to side 1 and reads the
// replies: the kernel of side 1 answers, nothing of the test runs there.
type pinger struct {
	c   net.PacketConn
	dst net.Addr
	id  uint16
	seq uint16
}

func newPinger(t *testing.T, l *Lab) *pinger {
	t.Helper()
	var c net.PacketConn
	err := l.Do(0, func() (err error) {
		c, err = net.ListenPacket("ip4:icmp", l.Addr(0).String())
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return &pinger{c: c, dst: &net.IPAddr{IP: l.Addr(1).AsSlice()}, id: uint16(os.Getpid())}
}

// ping sends one echo request and waits up to wait for its reply; it
// returns the round-trip time and whether the reply came.
func (p *pinger) ping(t *testing.T, wait time.Duration) (time.Duration, bool) {
	t.Helper()
	p.seq++
	msg := make([]byte, 8+56)
	msg[0] = 8 // echo request
	binary.BigEndian.PutUint16(msg[4:], p.id)
	binary.BigEndian.PutUint16(msg[6:], p.seq)
	binary.BigEndian.PutUint16(msg[2:], icmpChecksum(msg))
	start := time.Now()
	if _, err := p.c.WriteTo(msg, p.dst); err != nil {
		t.Fatal(err)
	}
	deadline := start.Add(wait)
	buf := make([]byte, 1500)
	for {
		p.c.SetReadDeadline(deadline)
		n, _, err := p.c.ReadFrom(buf)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return 0, false
			}
			t.Fatal(err)
		}
		if n >= 8 && buf[0] == 0 && binary.BigEndian.Uint16(buf[4:]) == p.id && binary.BigEndian.Uint16(buf[6:]) == p.seq {
			return time.Since(start), true
		}
	}
}

func icmpChecksum(b []byte) uint16 {
	var s uint32
	for i := 0; i+1 < len(b); i += 2 {
		s += uint32(binary.BigEndian.Uint16(b[i:]))
	}
	if len(b)%2 == 1 {
		s += uint32(b[len(b)-1]) << 8
	}
	for s>>16 != 0 {
		s = s&0xffff + s>>16
	}
	return ^uint16(s)
}

// TestNetLabLinkPingRTT: the round trip is twice the one-way delay (plus
// the serialisation of two small packets), and no faster.
func TestNetLabLinkPingRTT(t *testing.T) {
	l := newLab(t, Config{Rate: 256_000, Delay: 150 * time.Millisecond, Seed: 1})
	p := newPinger(t, l)
	var rtts []time.Duration
	for range 10 {
		if rtt, ok := p.ping(t, 5*time.Second); ok {
			rtts = append(rtts, rtt)
		}
	}
	if len(rtts) < 10 {
		t.Fatalf("%d of 10 pings answered on a link without loss", len(rtts))
	}
	slices.Sort(rtts)
	med := rtts[len(rtts)/2]
	t.Logf("ping over 150 ms each way at 256 kbit/s: min %s, median %s, max %s", rtts[0], med, rtts[len(rtts)-1])
	// 84-byte packets take 2.6 ms each way on the wire.
	if rtts[0] < 300*time.Millisecond {
		t.Errorf("fastest round trip %s is shorter than twice the delay", rtts[0])
	}
	if med > 800*time.Millisecond {
		t.Errorf("median round trip %s, want about 305 ms", med)
	}
	st := l.Stats()
	for i, c := range st.From {
		if c.Delivered.Packets < 10 || c.Lost.Packets != 0 || c.QueueDropped.Packets != 0 || c.DownDropped.Packets != 0 {
			t.Errorf("side %d sent %+v", i, c)
		}
	}
}

// TestNetLabLinkTCPRate: a bulk TCP transfer through the link never
// exceeds its rate, and completes.
func TestNetLabLinkTCPRate(t *testing.T) {
	const rate = 2_000_000
	l := newLab(t, Config{Rate: rate, Delay: 10 * time.Millisecond, Seed: 1})
	var ln net.Listener
	if err := l.Do(1, func() (err error) {
		ln, err = net.Listen("tcp", net.JoinHostPort(l.Addr(1).String(), "0"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	const size = 1 << 20
	got := make(chan int64, 1)
	go func() {
		c, err := ln.Accept()
		if err != nil {
			got <- -1
			return
		}
		defer c.Close()
		n, _ := io.Copy(io.Discard, c)
		got <- n
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, port, _ := net.SplitHostPort(ln.Addr().String())
	c, err := l.DialContext(0)(ctx, "tcp", net.JoinHostPort(l.Addr(1).String(), port))
	if err != nil {
		t.Fatal(err)
	}
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	before := l.Stats()
	start := time.Now()
	if _, err := c.Write(make([]byte, size)); err != nil {
		t.Fatalf("write: %v", err)
	}
	c.(*net.TCPConn).CloseWrite()
	var n int64
	select {
	case n = <-got:
	case <-ctx.Done():
		t.Fatalf("1 MiB at 2 Mbit/s (4.2 s ideal) not through within 60 s")
	}
	elapsed := time.Since(start)
	if n != size {
		t.Fatalf("received %d bytes, sent %d", n, size)
	}
	d := l.Stats().From[0].Sub(before.From[0])
	goodput := float64(size*8) / elapsed.Seconds()
	wire := float64(d.Wire.Bytes*8) / elapsed.Seconds()
	t.Logf("1 MiB over TCP at %d bit/s: %s, goodput %.0f bit/s (%.1f%% of the rate), %d bytes on the wire (%.1f%% overhead)",
		rate, elapsed.Round(time.Millisecond), goodput, 100*goodput/rate, d.Wire.Bytes, 100*(float64(d.Wire.Bytes)/size-1))
	if goodput > 1.1*rate || wire > 1.1*rate {
		t.Errorf("the link carried %.0f bit/s of payload and %.0f bit/s in all, above its rate of %d", goodput, wire, rate)
	}
	if d.Wire.Bytes < size {
		t.Errorf("%d bytes on the wire for %d bytes of payload", d.Wire.Bytes, size)
	}
}

// TestNetLabLinkLoss: with 5% loss, about 5% of many packets are lost,
// and only what the link delivered arrives.
func TestNetLabLinkLoss(t *testing.T) {
	l := newLab(t, Config{Loss: 0.05, Seed: 42})
	var rx, tx net.PacketConn
	if err := l.Do(1, func() (err error) {
		rx, err = net.ListenPacket("udp4", net.JoinHostPort(l.Addr(1).String(), "0"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer rx.Close()
	rx.(*net.UDPConn).SetReadBuffer(4 << 20)
	if err := l.Do(0, func() (err error) {
		tx, err = net.ListenPacket("udp4", net.JoinHostPort(l.Addr(0).String(), "0"))
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer tx.Close()
	const n = 5000
	received := make(chan int, 1)
	go func() {
		buf := make([]byte, 2048)
		k := 0
		for {
			rx.SetReadDeadline(time.Now().Add(2 * time.Second))
			if _, _, err := rx.ReadFrom(buf); err != nil {
				received <- k
				return
			}
			k++
		}
	}()
	before := l.Stats()
	// In batches, each offered to the link before the next is sent: a
	// sender faster than the forwarding goroutines would overflow the
	// device's own queue, in the kernel, before the link sees it.
	const batch = 50
	for i := 0; i < n; i += batch {
		for j := i; j < i+batch; j++ {
			if _, err := tx.WriteTo([]byte("datagram "+strconv.Itoa(j)), rx.LocalAddr()); err != nil {
				t.Fatal(err)
			}
		}
		deadline := time.Now().Add(5 * time.Second)
		for l.Stats().From[0].Offered.Packets-before.From[0].Offered.Packets < int64(i+batch) {
			if time.Now().After(deadline) {
				t.Fatalf("datagrams %d to %d not offered to the link within 5 s: %+v", i, i+batch, l.Stats().From[0])
			}
			<-time.After(time.Millisecond) // poll
		}
	}
	k := <-received // 2 s after the last arrival
	d := l.Stats().From[0].Sub(before.From[0])
	frac := float64(d.Lost.Packets) / float64(d.Wire.Packets)
	t.Logf("%d datagrams sent, %d offered to the link, %d lost (%.2f%%), %d delivered, %d received", n, d.Offered.Packets, d.Lost.Packets, 100*frac, d.Delivered.Packets, k)
	if d.Offered.Packets < n || d.Wire.Packets != d.Offered.Packets {
		t.Errorf("counters %+v", d)
	}
	if frac < 0.03 || frac > 0.07 {
		t.Errorf("loss %.4f over %d packets, want about 0.05", frac, d.Wire.Packets)
	}
	if int64(k) > d.Delivered.Packets || k < n/2 {
		t.Errorf("received %d, the link delivered %d", k, d.Delivered.Packets)
	}
}

// TestNetLabLinkDown: a cut blocks everything; switching the link on again
// restores it, and the same connection carries on.
func TestNetLabLinkDown(t *testing.T) {
	l := newLab(t, Config{Rate: 1_000_000, Delay: 20 * time.Millisecond, Seed: 1})
	p := newPinger(t, l)
	if _, ok := p.ping(t, 5*time.Second); !ok {
		t.Fatal("no reply with the link up")
	}
	l.SetUp(false)
	if l.Up() {
		t.Fatal("Up() after SetUp(false)")
	}
	before := l.Stats()
	for range 5 {
		if rtt, ok := p.ping(t, 200*time.Millisecond); ok {
			t.Fatalf("a reply after %s with the link down", rtt)
		}
	}
	d := l.Stats().From[0].Sub(before.From[0])
	if d.Delivered.Packets != 0 || d.DownDropped.Packets < 5 {
		t.Fatalf("while down, side 0 sent %+v", d)
	}
	l.SetUp(true)
	ok := false
	for i := 0; i < 20 && !ok; i++ {
		_, ok = p.ping(t, time.Second)
	}
	if !ok {
		t.Fatal("no reply within 20 pings after the link came back")
	}
}

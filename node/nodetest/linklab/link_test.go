package linklab

import (
	"math"
	"testing"
	"time"
)

// The model of one direction, on a synthetic clock: these need no root.

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

// drain takes every pending packet off d (as if far in the future) and
// returns their arrival times, in arrival order, and how many were
// delivered.
func drain(d *direction) (ats []time.Time, delivered int) {
	d.mu.Lock()
	for _, p := range d.pending {
		if !p.lost {
			ats = append(ats, p.at)
		}
	}
	d.mu.Unlock()
	pk, _ := d.arrivals(t0.Add(24 * time.Hour))
	return ats, len(pk)
}

func TestSerialisationRateAndDelay(t *testing.T) {
	// 256 kbit/s: a 1000-byte packet takes 31.25 ms on the wire.
	d := newDirection(shape{rate: 256_000, delay: 150 * time.Millisecond, queueBytes: 1 << 20}, 1, 0, t0)
	for range 10 {
		if !d.offer(t0, make([]byte, 1000)) {
			t.Fatal("packet refused with a large queue")
		}
	}
	d.mu.Lock()
	var last time.Time
	for _, p := range d.pending {
		if p.at.After(last) {
			last = p.at
		}
	}
	d.mu.Unlock()
	want := t0.Add(10*31250*time.Microsecond + 150*time.Millisecond)
	if diff := last.Sub(want); diff < -time.Microsecond || diff > time.Microsecond {
		t.Fatalf("10 packets of 1000 B offered at once: last arrives at +%s, want +%s", last.Sub(t0), want.Sub(t0))
	}
	// One offered after the wire went idle starts at once.
	d2 := newDirection(shape{rate: 256_000, delay: 150 * time.Millisecond, queueBytes: 1 << 20}, 1, 0, t0)
	d2.offer(t0, make([]byte, 1000))
	d2.offer(t0.Add(time.Second), make([]byte, 1000))
	ats, n := drain(d2)
	if n != 2 || !ats[1].Equal(t0.Add(time.Second+31250*time.Microsecond+150*time.Millisecond)) {
		t.Fatalf("second packet after an idle second arrives at +%s (%d delivered)", ats[1].Sub(t0), n)
	}
	c := d2.counters()
	if c.Offered != (Count{2, 2000}) || c.Wire != (Count{2, 2000}) || c.Delivered != (Count{2, 2000}) {
		t.Fatalf("counters %+v", c)
	}
}

func TestTailDrop(t *testing.T) {
	// The queue holds 4000 bytes including the unsent part of the packet
	// on the wire: of 10 packets of 1000 B offered at once, 4 fit.
	d := newDirection(shape{rate: 256_000, queueBytes: 4000}, 1, 0, t0)
	accepted := 0
	for range 10 {
		if d.offer(t0, make([]byte, 1000)) {
			accepted++
		}
	}
	c := d.counters()
	if accepted != 4 || c.QueueDropped != (Count{6, 6000}) {
		t.Fatalf("accepted %d, counters %+v", accepted, c)
	}
	// Half of the first packet later, half a packet of room has freed.
	if d.offer(t0.Add(15625*time.Microsecond), make([]byte, 600)) {
		t.Fatal("600 B accepted with 500 B free")
	}
	if !d.offer(t0.Add(15625*time.Microsecond), make([]byte, 500)) {
		t.Fatal("500 B refused with 500 B free")
	}
}

func TestLossFraction(t *testing.T) {
	const n = 50_000 // under maxInFlight: nothing is taken off until the end
	for _, loss := range []float64{0, 0.02, 0.3} {
		d := newDirection(shape{loss: loss}, 7, 0, t0)
		for i := range n {
			d.offer(t0.Add(time.Duration(i)*time.Millisecond), make([]byte, 100))
		}
		_, delivered := drain(d)
		c := d.counters()
		got := float64(c.Lost.Packets) / n
		// Binomial: the standard deviation is under 0.0021 here.
		if math.Abs(got-loss) > 0.01 {
			t.Errorf("loss %g: %d of %d lost (%.4f)", loss, c.Lost.Packets, n, got)
		}
		if c.Wire.Packets != n || int64(delivered) != c.Delivered.Packets || c.Delivered.Packets+c.Lost.Packets != n {
			t.Errorf("loss %g: counters %+v, %d delivered", loss, c, delivered)
		}
	}
	// The same seed loses the same packets.
	a, b := newDirection(shape{loss: 0.1}, 3, 0, t0), newDirection(shape{loss: 0.1}, 3, 0, t0)
	for i := range 1000 {
		a.offer(t0.Add(time.Duration(i)), make([]byte, 10))
		b.offer(t0.Add(time.Duration(i)), make([]byte, 10))
	}
	drain(a)
	drain(b)
	if a.counters() != b.counters() {
		t.Errorf("same seed, different losses: %+v vs %+v", a.counters(), b.counters())
	}
}

func TestJitterKeepsOrder(t *testing.T) {
	for _, reorder := range []bool{false, true} {
		d := newDirection(shape{rate: 1_000_000, delay: 10 * time.Millisecond, jitter: 50 * time.Millisecond, reorder: reorder, queueBytes: 1 << 20}, 1, 0, t0)
		for i := range 200 {
			d.offer(t0.Add(time.Duration(i)*time.Millisecond), []byte{byte(i)})
		}
		pk, _ := d.arrivals(t0.Add(time.Hour))
		inOrder := true
		for i, p := range pk {
			if p[0] != byte(i) {
				inOrder = false
			}
		}
		if len(pk) != 200 || inOrder == reorder {
			t.Errorf("reorder %t: %d delivered, in order %t", reorder, len(pk), inOrder)
		}
	}
}

func TestDownDropsEverything(t *testing.T) {
	d := newDirection(shape{rate: 256_000, delay: 150 * time.Millisecond, queueBytes: 1 << 20}, 1, 0, t0)
	d.offer(t0, make([]byte, 1000)) // on the wire when the link goes down
	d.offer(t0, make([]byte, 1000)) // queued
	d.setUp(false, t0.Add(10*time.Millisecond))
	if d.offer(t0.Add(20*time.Millisecond), make([]byte, 1000)) {
		t.Fatal("a packet offered while down was accepted")
	}
	d.setUp(true, t0.Add(30*time.Millisecond))
	// Up again: the queue is empty, so this one starts at once.
	d.offer(t0.Add(30*time.Millisecond), make([]byte, 1000))
	pk, _ := d.arrivals(t0.Add(time.Hour))
	c := d.counters()
	if len(pk) != 1 || c.DownDropped != (Count{3, 3000}) || c.Delivered != (Count{1, 1000}) || c.Wire != (Count{1, 1000}) {
		t.Fatalf("%d delivered, counters %+v", len(pk), c)
	}
}

func TestResumed(t *testing.T) {
	// 50 ms bins; a 500 ms window is 10 bins.
	bins := make([]int64, 40)
	for i := 20; i < 40; i++ {
		bins[i] = 1000
	}
	bins[5] = 1 << 20 // a burst before the cut: ignored, it is before from
	for _, tc := range []struct {
		name  string
		from  time.Duration
		min   int64
		want  time.Duration
		found bool
	}{
		{"resumes at bin 20", 500 * time.Millisecond, 10_000, time.Second, true},
		{"from inside a bin starts at the next", 510 * time.Millisecond, 10_000, time.Second, true},
		{"half rate suffices earlier", 500 * time.Millisecond, 5_000, 750 * time.Millisecond, true},
		{"never enough", 500 * time.Millisecond, 10_001, 0, false},
		{"from after the end", 3 * time.Second, 1, 0, false},
	} {
		got, ok := resumed(bins, t0, t0.Add(tc.from), 500*time.Millisecond, tc.min)
		if ok != tc.found || (ok && !got.Equal(t0.Add(tc.want))) {
			t.Errorf("%s: got +%s %t, want +%s %t", tc.name, got.Sub(t0), ok, tc.want, tc.found)
		}
	}
}

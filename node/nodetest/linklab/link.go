package linklab

import (
	"container/heap"
	"math/rand/v2"
	"sync"
	"time"
)

// Count is a number of packets and their bytes (whole IP packets, headers
// included; no link-layer framing).
type Count struct {
	Packets int64 `json:"packets"`
	Bytes   int64 `json:"bytes"`
}

func (c *Count) add(n int) {
	c.Packets++
	c.Bytes += int64(n)
}

// Counters are what happened to the packets one side sent. Every offered
// packet ends in exactly one of Delivered, Lost, QueueDropped or
// DownDropped, or is still in flight; Wire = Delivered + Lost.
type Counters struct {
	// Offered is every packet the sending kernel handed to the link.
	Offered Count `json:"offered"`
	// Wire is what was serialised onto the link and reached its far end
	// with the link up: Delivered plus Lost. It is counted when the packet
	// reaches the far end (one delay after its serialisation ends).
	Wire Count `json:"wire"`
	// Delivered is what the receiving kernel was given.
	Delivered Count `json:"delivered"`
	// Lost is what random loss destroyed on the wire.
	Lost Count `json:"lost"`
	// QueueDropped is what found the queue full (tail drop).
	QueueDropped Count `json:"queue_dropped"`
	// DownDropped is what was offered while the link was down, or was
	// queued or on the wire when it went down.
	DownDropped Count `json:"down_dropped"`
}

// Sub returns c minus o, counter by counter: what happened between two
// snapshots.
func (c Counters) Sub(o Counters) Counters {
	sub := func(a, b Count) Count { return Count{a.Packets - b.Packets, a.Bytes - b.Bytes} }
	return Counters{
		Offered:      sub(c.Offered, o.Offered),
		Wire:         sub(c.Wire, o.Wire),
		Delivered:    sub(c.Delivered, o.Delivered),
		Lost:         sub(c.Lost, o.Lost),
		QueueDropped: sub(c.QueueDropped, o.QueueDropped),
		DownDropped:  sub(c.DownDropped, o.DownDropped),
	}
}

// shape is the model of one direction: the parts of Config it uses.
type shape struct {
	rate       int64 // bits per second; 0: no limit
	delay      time.Duration
	jitter     time.Duration
	reorder    bool
	loss       float64
	queueBytes int
}

// binWidth is the resolution of the delivery timeline.
const binWidth = 50 * time.Millisecond

// packet is one packet between its offer and its arrival.
type packet struct {
	data  []byte
	at    time.Time // when it reaches the far end
	seq   uint64    // offer order; breaks ties in at
	epoch uint64    // the link's epoch at the offer: a cut since then loses it
	lost  bool
}

type packetHeap []*packet

func (h packetHeap) Len() int { return len(h) }
func (h packetHeap) Less(i, j int) bool {
	if !h[i].at.Equal(h[j].at) {
		return h[i].at.Before(h[j].at)
	}
	return h[i].seq < h[j].seq
}
func (h packetHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *packetHeap) Push(x any)   { *h = append(*h, x.(*packet)) }
func (h *packetHeap) Pop() any {
	old := *h
	p := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	return p
}

// maxInFlight bounds the packets held between offer and arrival (the
// queue plus the delay line); beyond it packets are tail-dropped. It only
// matters for unlimited rates with long delays.
const maxInFlight = 1 << 16

// direction is one way of the link: the packets on it, the model that
// schedules them and its counters. Its methods are safe for concurrent use.
type direction struct {
	shape shape
	start time.Time // origin of the timeline

	mu        sync.Mutex
	lossRNG   *rand.Rand
	jitterRNG *rand.Rand
	up        bool
	epoch     uint64    // incremented by every cut
	busyUntil time.Time // when the wire finishes the packets accepted so far
	lastAt    time.Time // latest arrival scheduled (keeps order without reorder)
	seq       uint64
	pending   packetHeap
	c         Counters
	bins      []int64 // bytes delivered per binWidth since start

	wake chan struct{} // a new earliest packet was scheduled
}

func newDirection(s shape, seed, stream uint64, start time.Time) *direction {
	return &direction{
		shape:     s,
		start:     start,
		lossRNG:   rand.New(rand.NewPCG(seed, 2*stream)),
		jitterRNG: rand.New(rand.NewPCG(seed, 2*stream+1)),
		up:        true,
		wake:      make(chan struct{}, 1),
	}
}

// serialisation returns how long n bytes occupy the wire.
func (s shape) serialisation(n int) time.Duration {
	if s.rate <= 0 {
		return 0
	}
	return time.Duration(float64(n) * 8 / float64(s.rate) * float64(time.Second))
}

// offer hands a packet to the link at now. It either schedules it (and
// reports true) or counts it as dropped. data is owned by the link from
// then on.
func (d *direction) offer(now time.Time, data []byte) bool {
	n := len(data)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.c.Offered.add(n)
	if !d.up {
		d.c.DownDropped.add(n)
		return false
	}
	startAt := now
	if d.busyUntil.After(now) {
		startAt = d.busyUntil
	}
	if d.shape.rate > 0 {
		backlog := float64(startAt.Sub(now)) / float64(time.Second) * float64(d.shape.rate) / 8
		if backlog+float64(n) > float64(d.shape.queueBytes) {
			d.c.QueueDropped.add(n)
			return false
		}
	}
	if len(d.pending) >= maxInFlight {
		d.c.QueueDropped.add(n)
		return false
	}
	end := startAt.Add(d.shape.serialisation(n))
	d.busyUntil = end
	p := &packet{data: data, seq: d.seq, epoch: d.epoch}
	d.seq++
	p.lost = d.shape.loss > 0 && d.lossRNG.Float64() < d.shape.loss
	p.at = end.Add(d.shape.delay)
	if !p.lost {
		if d.shape.jitter > 0 {
			p.at = p.at.Add(time.Duration(d.jitterRNG.Int64N(int64(d.shape.jitter))))
		}
		if !d.shape.reorder && p.at.Before(d.lastAt) {
			p.at = d.lastAt
		}
		if p.at.After(d.lastAt) {
			d.lastAt = p.at
		}
	}
	heap.Push(&d.pending, p)
	if d.pending[0] == p {
		select {
		case d.wake <- struct{}{}:
		default:
		}
	}
	return true
}

// arrivals takes the packets due at now off the link, counts them and
// returns those to deliver, and how long until the next one is due (-1:
// none pending).
func (d *direction) arrivals(now time.Time) (deliver [][]byte, next time.Duration) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for len(d.pending) > 0 && !d.pending[0].at.After(now) {
		p := heap.Pop(&d.pending).(*packet)
		n := len(p.data)
		switch {
		case !d.up || p.epoch != d.epoch:
			d.c.DownDropped.add(n)
		case p.lost:
			d.c.Wire.add(n)
			d.c.Lost.add(n)
		default:
			d.c.Wire.add(n)
			d.c.Delivered.add(n)
			d.record(now, n)
			deliver = append(deliver, p.data)
		}
	}
	if len(d.pending) == 0 {
		return deliver, -1
	}
	return deliver, max(0, d.pending[0].at.Sub(now))
}

// record adds n delivered bytes to the timeline at now. d.mu is held.
func (d *direction) record(now time.Time, n int) {
	i := int(now.Sub(d.start) / binWidth)
	if i < 0 {
		i = 0
	}
	for len(d.bins) <= i {
		d.bins = append(d.bins, 0)
	}
	d.bins[i] += int64(n)
}

// setUp switches the link on or off. A cut loses everything queued or on
// the wire; either way the queue starts empty.
func (d *direction) setUp(up bool, now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.up == up {
		return
	}
	if !up {
		d.epoch++
	}
	d.up = up
	d.busyUntil = now
}

func (d *direction) counters() Counters {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.c
}

func (d *direction) timeline() []int64 {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]int64(nil), d.bins...)
}

// forward delivers packets as they become due, with write, until done is
// closed. Errors of write (a device closing) drop the packet.
func (d *direction) forward(done <-chan struct{}, write func([]byte) error) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		pkts, next := d.arrivals(time.Now())
		for _, p := range pkts {
			_ = write(p)
		}
		if next >= 0 {
			timer.Reset(next)
		} else {
			timer.Stop()
		}
		select {
		case <-done:
			return
		case <-d.wake:
		case <-timer.C:
		}
	}
}

// resumed finds, in a timeline of bins of binWidth starting at start, the
// first window of length w starting at or after from in which at least
// min bytes were delivered, and returns its start.
func resumed(bins []int64, start, from time.Time, w time.Duration, min int64) (time.Time, bool) {
	k := max(1, int(w/binWidth))
	first := int(from.Sub(start) / binWidth)
	if from.After(start.Add(time.Duration(first) * binWidth)) {
		first++ // the window starts at or after from
	}
	first = max(first, 0)
	var sum int64
	for i := first; i < len(bins); i++ {
		sum += bins[i]
		if i-first >= k {
			sum -= bins[i-k]
		}
		if i-first+1 >= k && sum >= min {
			return start.Add(time.Duration(i-k+1) * binWidth), true
		}
	}
	return time.Time{}, false
}

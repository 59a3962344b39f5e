package linklab

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Config describes the link. Every setting applies to each direction
// alike. The zero value is a perfect link (no delay, loss or rate limit).
type Config struct {
	// Rate is the link's rate in bits per second, each way: a packet of n
	// bytes occupies the wire for n*8/Rate seconds, and packets wait for
	// the wire in a FIFO queue. 0: no limit.
	Rate int64
	// Delay is the one-way propagation delay: the round trip is twice it
	// plus serialisation and queueing.
	Delay time.Duration
	// Jitter adds a uniformly random extra delay in [0, Jitter) to each
	// packet. Packets still arrive in the order they were sent unless
	// Reorder is set.
	Jitter time.Duration
	// Reorder lets jitter reorder packets.
	Reorder bool
	// Loss is the probability that a packet is lost on the wire (after it
	// was serialised), drawn independently per packet. 0 <= Loss < 1.
	Loss float64
	// QueueBytes limits the bytes waiting for the wire (including the
	// unsent part of the packet being serialised); a packet that does not
	// fit is dropped (tail drop). 0: what the link sends in 500 ms, at
	// least four full packets. Ignored when Rate is 0.
	QueueBytes int
	// Seed seeds the generators of loss and jitter: the same seed and the
	// same packets give the same losses.
	Seed uint64
	// Subnet is the link's IPv4 network; side 0 gets its first host
	// address (.1), side 1 the second (.2). Zero: 10.99.0.0/24.
	Subnet netip.Prefix
	// MTU of both devices. 0: 1500.
	MTU int
}

// Lab is a link between two network namespaces, sides 0 and 1. Its
// methods are safe for concurrent use.
type Lab struct {
	cfg   Config
	start time.Time
	ns    [2]string
	dev   [2]string
	addr  [2]netip.Addr
	tun   [2]*os.File
	nsf   [2]*os.File // the namespaces, for Do
	dirs  [2]*direction
	done  chan struct{}
	wg    sync.WaitGroup

	setupMu sync.Mutex // serialises SetUp, so both directions switch together
	up      atomic.Bool

	closeOnce sync.Once
	closeErr  error
}

// namePrefix starts the name of every namespace a Lab makes; the process
// ID follows, so a later run can tell its predecessors' leftovers.
const namePrefix = "linklab-"

// labSeq numbers the labs of this process.
var labSeq atomic.Int64

// setupTimeout bounds each ip command of New and Close.
const setupTimeout = 30 * time.Second

// New builds the link: two namespaces, a TUN device in each, addressed
// and up (with lo up too), and the goroutines that forward between them.
// ctx bounds the setup only; the lab runs until Close. Namespaces a crashed
// earlier process left behind are deleted first. On error nothing of the
// lab remains.
func New(ctx context.Context, cfg Config) (*Lab, error) {
	if err := cfg.fill(); err != nil {
		return nil, err
	}
	if _, err := exec.LookPath("ip"); err != nil {
		return nil, fmt.Errorf("linklab: needs iproute2's ip command: %w", err)
	}
	deleteStale(ctx)
	pid, seq := os.Getpid(), labSeq.Add(1)
	l := &Lab{cfg: cfg, start: time.Now(), done: make(chan struct{})}
	l.up.Store(true)
	host := cfg.Subnet.Masked().Addr()
	for i := range 2 {
		l.ns[i] = fmt.Sprintf("%s%d-%d-%d", namePrefix, pid, seq, i)
		l.dev[i] = fmt.Sprintf("ll%dn%d%c", pid, seq%1000, 'a'+i)
		host = host.Next()
		l.addr[i] = host
	}
	if err := l.setup(ctx); err != nil {
		return nil, errors.Join(err, l.Close())
	}
	s := shape{rate: cfg.Rate, delay: cfg.Delay, jitter: cfg.Jitter, reorder: cfg.Reorder, loss: cfg.Loss, queueBytes: cfg.QueueBytes}
	for i := range 2 {
		l.dirs[i] = newDirection(s, cfg.Seed, uint64(i), l.start)
	}
	for i := range 2 {
		l.wg.Add(2)
		go l.read(i)
		go func() {
			defer l.wg.Done()
			l.dirs[i].forward(l.done, func(p []byte) error {
				_, err := l.tun[1-i].Write(p)
				return err
			})
		}()
	}
	return l, nil
}

func (c *Config) fill() error {
	switch {
	case c.Rate < 0:
		return fmt.Errorf("linklab: Rate %d < 0", c.Rate)
	case c.Delay < 0 || c.Jitter < 0:
		return fmt.Errorf("linklab: negative Delay %s or Jitter %s", c.Delay, c.Jitter)
	case c.Loss < 0 || c.Loss >= 1:
		return fmt.Errorf("linklab: Loss %g: want 0 <= Loss < 1", c.Loss)
	case c.QueueBytes < 0:
		return fmt.Errorf("linklab: QueueBytes %d < 0", c.QueueBytes)
	case c.MTU != 0 && (c.MTU < 576 || c.MTU > 65535):
		return fmt.Errorf("linklab: MTU %d: want 576 to 65535", c.MTU)
	}
	if c.MTU == 0 {
		c.MTU = 1500
	}
	if c.QueueBytes == 0 {
		c.QueueBytes = max(int(c.Rate/8/2), 4*c.MTU)
	}
	if !c.Subnet.IsValid() {
		c.Subnet = netip.MustParsePrefix("10.99.0.0/24")
	}
	if !c.Subnet.Addr().Is4() || c.Subnet.Bits() > 30 {
		return fmt.Errorf("linklab: Subnet %s: want an IPv4 network of at least 4 addresses", c.Subnet)
	}
	return nil
}

// setup makes the namespaces and devices. What it made is undone by Close.
func (l *Lab) setup(ctx context.Context) error {
	for i := range 2 {
		if err := ipRun(ctx, "netns", "add", l.ns[i]); err != nil {
			l.ns[i] = "" // not made: nothing to delete
			return err
		}
		f, err := os.Open(filepath.Join("/run/netns", l.ns[i]))
		if err != nil {
			return fmt.Errorf("linklab: open namespace %s: %w", l.ns[i], err)
		}
		l.nsf[i] = f
	}
	for i := range 2 {
		f, err := openTUN(l.dev[i])
		if err != nil {
			return fmt.Errorf("linklab: %w", err)
		}
		l.tun[i] = f
		ns, dev := l.ns[i], l.dev[i]
		prefix := netip.PrefixFrom(l.addr[i], l.cfg.Subnet.Bits()).String()
		for _, args := range [][]string{
			{"link", "set", "dev", dev, "netns", ns},
			// No IPv6 link-local address: nothing but the traffic under
			// test (and ARP-free IPv4) crosses the link.
			{"-n", ns, "link", "set", "dev", dev, "addrgenmode", "none"},
			{"-n", ns, "link", "set", "dev", dev, "mtu", strconv.Itoa(l.cfg.MTU)},
			{"-n", ns, "addr", "add", prefix, "dev", dev},
			{"-n", ns, "link", "set", "dev", dev, "up"},
			{"-n", ns, "link", "set", "dev", "lo", "up"},
		} {
			if err := ipRun(ctx, args...); err != nil {
				return err
			}
		}
	}
	return nil
}

// read offers the packets side i's kernel sends to direction i until the
// device is closed.
func (l *Lab) read(i int) {
	defer l.wg.Done()
	buf := make([]byte, 1<<16)
	for {
		n, err := l.tun[i].Read(buf)
		if err != nil {
			if errors.Is(err, os.ErrClosed) {
				return
			}
			select {
			case <-l.done:
				return
			default:
			}
			if errors.Is(err, syscall.EINTR) || errors.Is(err, syscall.EAGAIN) {
				continue
			}
			return // the device is gone: nothing more will come
		}
		l.dirs[i].offer(time.Now(), bytes.Clone(buf[:n]))
	}
}

// NS returns the name of side i's network namespace, as `ip netns` knows
// it (e.g. for `ip netns exec`).
func (l *Lab) NS(i int) string { return l.ns[i] }

// Dev returns the name of side i's TUN device (inside its namespace).
func (l *Lab) Dev(i int) string { return l.dev[i] }

// Addr returns side i's address on the link.
func (l *Lab) Addr(i int) netip.Addr { return l.addr[i] }

// Config returns the link's settings, defaults filled in.
func (l *Lab) Config() Config { return l.cfg }

// Start is when the lab began forwarding: the origin of Timeline.
func (l *Lab) Start() time.Time { return l.start }

// SetUp switches the link on (true) or off (false). Off is a cut cable:
// every packet offered while it is off, and every packet queued or on the
// wire when it goes off, is dropped, in both directions. On again, the
// link starts with empty queues. Switching to the current state does
// nothing.
func (l *Lab) SetUp(up bool) {
	l.setupMu.Lock()
	defer l.setupMu.Unlock()
	now := time.Now()
	for _, d := range l.dirs {
		d.setUp(up, now)
	}
	l.up.Store(up)
}

// Up reports whether the link is on.
func (l *Lab) Up() bool { return l.up.Load() }

// Stats is a snapshot of the link's counters.
type Stats struct {
	// At is when the snapshot was taken.
	At time.Time `json:"at"`
	// Up is whether the link was on.
	Up bool `json:"up"`
	// From[i] counts the packets side i sent (From[0]: side 0 to side 1).
	From [2]Counters `json:"from"`
}

// Stats returns the counters now.
func (l *Lab) Stats() Stats {
	return Stats{At: time.Now(), Up: l.Up(), From: [2]Counters{l.dirs[0].counters(), l.dirs[1].counters()}}
}

// Timeline returns the bytes that side from sent and the other side
// received, per interval of width bin, from Start: bytes[k] were delivered
// in [Start+k*bin, Start+(k+1)*bin). It ends at the last interval with a
// delivery.
func (l *Lab) Timeline(from int) (bin time.Duration, bytes []int64) {
	return binWidth, l.dirs[from].timeline()
}

// Resumed returns the start of the first window of length window,
// beginning at or after after, in which the packets side from sent were
// delivered at a rate of at least frac of the link's Rate (whole IP
// packets counted), and false if there is none yet. Windows start on
// Timeline's intervals; window is rounded down to them (at least one).
//
// With after the moment the link came back from a cut, the result minus
// after is the time the transfer took to resume.
func (l *Lab) Resumed(from int, after time.Time, window time.Duration, frac float64) (time.Time, bool) {
	rate := l.cfg.Rate
	if rate <= 0 {
		return time.Time{}, false
	}
	k := max(1, int(window/binWidth))
	min := int64(frac * float64(rate) / 8 * (time.Duration(k) * binWidth).Seconds())
	return resumed(l.dirs[from].timeline(), l.start, after, window, min)
}

// Do runs fn on an operating-system thread that is inside side i's
// namespace, and returns its error. Sockets fn creates belong to that
// namespace for their whole life, whichever thread later uses them;
// goroutines fn starts do not run inside it. The thread goes back to its
// own namespace afterwards; if it cannot, it is discarded rather than
// returned to the runtime's pool.
//
// Threads are not discarded otherwise, because a thread's exit is seen by
// the processes it forked: a child started with Pdeathsig (as the
// benchmark starts daemons) is killed when the thread that forked it
// exits, and any runtime thread may have forked one before it ran fn.
func (l *Lab) Do(i int, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		own, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("linklab: this thread's namespace: %w", err)
			return
		}
		defer own.Close()
		if err := unix.Setns(int(l.nsf[i].Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("linklab: enter namespace %s: %w", l.ns[i], err)
			return
		}
		err = fn()
		if unix.Setns(int(own.Fd()), unix.CLONE_NEWNET) == nil {
			runtime.UnlockOSThread()
		} // else: still locked, so the thread ends with this goroutine
		errc <- err
	}()
	return <-errc
}

// DialContext returns a dial function (as net.Dialer.DialContext) whose
// connections start in side i's namespace: a test process in the root
// namespace reaches a daemon's loopback API or gateway in it with
// http.Transport{DialContext: lab.DialContext(i)}. Addresses must be IP
// literals or names with one address family (no dual-stack racing).
func (l *Lab) DialContext(i int) func(ctx context.Context, network, addr string) (net.Conn, error) {
	return func(ctx context.Context, network, addr string) (net.Conn, error) {
		var c net.Conn
		err := l.Do(i, func() error {
			d := net.Dialer{FallbackDelay: -1} // dial in this goroutine only
			var err error
			c, err = d.DialContext(ctx, network, addr)
			return err
		})
		return c, err
	}
}

// Command returns a command that runs name with args inside side i's
// namespace, through `ip netns exec` (which execs it: the process is
// name's own).
func (l *Lab) Command(ctx context.Context, i int, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", l.ns[i], name}, args...)...)
}

// Close stops forwarding and deletes the devices and namespaces. It is
// idempotent: later calls return the first call's result. Processes still
// running inside a namespace keep it alive, cut off from the link, until
// they end.
func (l *Lab) Close() error {
	l.closeOnce.Do(func() {
		close(l.done)
		var errs []error
		for i := range 2 {
			if l.tun[i] != nil {
				errs = append(errs, l.tun[i].Close())
			}
		}
		l.wg.Wait()
		for i := range 2 {
			if l.nsf[i] != nil {
				errs = append(errs, l.nsf[i].Close())
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), setupTimeout)
		defer cancel()
		for i := range 2 {
			if l.ns[i] != "" {
				errs = append(errs, ipRun(ctx, "netns", "del", l.ns[i]))
			}
		}
		l.closeErr = errors.Join(errs...)
	})
	return l.closeErr
}

// ipRun runs `ip args...`.
func ipRun(ctx context.Context, args ...string) error {
	ctx, cancel := context.WithTimeout(ctx, setupTimeout)
	defer cancel()
	out, err := exec.CommandContext(ctx, "ip", args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("linklab: ip %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}

// deleteStale deletes the namespaces of labs whose process is gone (a test
// killed before its Close ran). Failures are ignored: they only leave the
// leftovers for the next attempt.
func deleteStale(ctx context.Context) {
	ents, err := os.ReadDir("/run/netns")
	if err != nil {
		return
	}
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), namePrefix)
		if !ok {
			continue
		}
		pidStr, _, _ := strings.Cut(rest, "-")
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid == os.Getpid() {
			continue
		}
		if _, err := os.Stat(filepath.Join("/proc", pidStr)); err == nil {
			continue // its process still runs
		}
		_ = ipRun(ctx, "netns", "del", e.Name())
	}
}

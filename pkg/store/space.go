package store

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/cockroachdb/pebble/v2/vfs"
)

// What the store does when its disk fills up, and why.
//
// Pebble treats a failed write to its write-ahead log or its MANIFEST as
// fatal: the commit pipeline panics or calls Logger.Fatalf, which ends the
// process (v2.1.6, db.go commitWrite and version_set.go logAndApply). A
// failed flush of a memtable is retried at once, forever, with no pause
// (db.go flush: "TODO: count consecutive flush errors and backoff"), so a
// DB reopened on a full disk spins a core, and DB.Flush, which waits for
// that flush, never returns. Measured before this file existed: a daemon
// on a full disk exited in the middle of a publish with "pebble: fatal
// commit error: write 000007.log: no space left on device", and the next
// command on the repo hung for good, logging 150 failed flushes a second.
//
// So the database must never be the one to find out that the disk is
// full. Three layers see to it:
//
//  1. A reserve (Options.MinFree, datastore.min_free): the store looks at
//     the free space (statfs) before large operations (CheckSpace) and
//     after every MiB it writes, and below the reserve it refuses new
//     blocks with ErrNoSpace, before pebble sees them. Small records
//     (pins, mirror state, DHT records) are still written, so a pin of
//     what is stored, an unpin and a gc work on a full disk. The reserve
//     leaves pebble room to flush its memtables (32 MiB each) and start a
//     new log.
//  2. A ballast (Options.Ballast, datastore.ballast): a file of that size
//     the store keeps in its directory. If the disk runs out all the same
//     (another program filled it between two looks, or there is no
//     reserve), pebble's file system is wrapped by vfs.OnDiskFull: the
//     first write that fails with ENOSPC makes the store delete the
//     ballast and refuse every further block, and pebble retries that
//     write into the space just freed, so it finishes what it had started
//     and nothing is fatal. This is what CockroachDB does. The ballast is
//     made again, and writes accepted, once the disk has room for the
//     reserve and the ballast.
//  3. Open and Close: a store whose disk has no room to replay its log is
//     opened read-only (reads work, writes fail with ErrNoSpace) instead
//     of spinning on a flush; Close skips its final flush when there is
//     no room for it (the log keeps everything for the next Open).

// ErrNoSpace is wrapped by every write the store refuses for lack of disk
// space. It also matches syscall.ENOSPC under errors.Is, so that callers
// can treat the store's refusals and the operating system's "no space
// left on device" alike.
var ErrNoSpace error = noSpace{}

type noSpace struct{}

func (noSpace) Error() string { return "not enough disk space" }

func (noSpace) Is(target error) bool { return target == syscall.ENOSPC }

const (
	// ballastName is the ballast file in the store's directory. Pebble
	// ignores files whose names it does not know.
	ballastName = "EMERGENCY_BALLAST"
	// lookEvery is how many bytes the store writes between two looks at
	// the free space: the most it can overshoot the reserve by, per
	// writer.
	lookEvery = 1 << 20
	// lookAgain is how often a refused write looks again, so that writes
	// resume soon after space is freed.
	lookAgain = time.Second
	// openHeadroom is what pebble writes when it opens, besides flushing
	// the log it replays: a MANIFEST, an OPTIONS file, a new log.
	openHeadroom = 8 << 20
	// headroom is the free space, above the reserve and the ballast, the
	// store wants before it makes its ballast, and before it takes writes
	// again after the disk ran out: a ballast that left the disk full
	// would only be given up again at the next write.
	headroom = 32 << 20
)

type spaceState int32

const (
	spaceOK        spaceState = iota
	spaceLow                  // below the reserve, or no ballast: blocks refused
	spaceEmergency            // the disk ran out: blocks refused until the ballast is back
	spaceReadOnly             // opened read-only: every write refused until the next Open
)

// space watches the free space on the store's disk and holds its ballast.
type space struct {
	dir         string
	minFree     int64
	ballastSize int64

	state   atomic.Int32 // a spaceState, read without the lock on every write
	written atomic.Int64 // bytes admitted since the last look

	mu       sync.Mutex
	free     int64     // at the last look
	lastLook time.Time // by a refused write or a check
	ballast  int64     // bytes of ballast held
	why      error     // while refusing: the reason, wrapping ErrNoSpace
	changed  chan struct{}
	released int64 // the ballast given up in the last emergency
}

func newSpace(dir string, minFree, ballast int64) *space {
	return &space{dir: dir, minFree: max(minFree, 0), ballastSize: max(ballast, 0), changed: make(chan struct{})}
}

func (s *space) ballastPath() string { return filepath.Join(s.dir, ballastName) }

// statFree returns the bytes available to this process on the store's
// disk.
func (s *space) statFree() (int64, error) {
	u, err := vfs.Default.GetDiskUsage(s.dir)
	if err != nil {
		return 0, fmt.Errorf("free space of %s: %w", s.dir, err)
	}
	return int64(min(u.AvailBytes, 1<<62)), nil
}

// adoptBallast takes over a ballast left by the last run: one of the
// configured size is held; one of another size, or any when none is
// configured, is removed (it is made again at the right size when there
// is room).
func (s *space) adoptBallast() {
	_ = os.Remove(s.ballastPath() + ".tmp") // a crash while making one
	st, err := os.Stat(s.ballastPath())
	switch {
	case err != nil:
	case s.ballastSize > 0 && st.Size() == s.ballastSize:
		s.ballast = st.Size()
	default:
		_ = os.Remove(s.ballastPath())
	}
}

// releaseBallast deletes the ballast; the caller holds s.mu (or is Open,
// before anything else runs). It returns the bytes freed.
func (s *space) releaseBallast() int64 {
	if s.ballast == 0 {
		return 0
	}
	if err := os.Remove(s.ballastPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return 0
	}
	n := s.ballast
	s.ballast = 0
	return n
}

// ensureBallast makes the ballast if it is missing and the disk has room
// for it above the reserve; the caller holds s.mu.
func (s *space) ensureBallast() {
	if s.ballastSize == 0 || s.ballast > 0 || s.free < s.minFree+s.ballastSize+headroom {
		return
	}
	if err := makeBallast(s.ballastPath(), s.ballastSize); err != nil {
		return // no room after all (or no way to allocate): try at the next look
	}
	s.ballast = s.ballastSize
	s.free -= s.ballastSize
}

// makeBallast writes a file of size bytes whose blocks are allocated (a
// sparse file would free nothing when deleted), under a temporary name
// first so that a crash never leaves a short ballast taken for a whole
// one.
func makeBallast(path string, size int64) error {
	tmp := path + ".tmp"
	f, err := os.OpenFile(tmp, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o600)
	if err != nil {
		return err
	}
	err = allocate(f, size)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		_ = os.Remove(tmp)
	}
	return err
}

// allocateByWriting gives f size bytes of zeros by writing them, for file
// systems that cannot allocate otherwise.
func allocateByWriting(f *os.File, size int64) error {
	buf := make([]byte, 1<<20)
	for left := size; left > 0; {
		n := min(left, int64(len(buf)))
		if _, err := f.Write(buf[:n]); err != nil {
			return err
		}
		left -= n
	}
	return nil
}

// look reads the free space and moves the state accordingly; the caller
// holds s.mu.
func (s *space) look() {
	s.written.Store(0)
	free, err := s.statFree()
	if err != nil {
		return // keep the last state: a failed statfs is no evidence either way
	}
	s.free = free
	st := spaceState(s.state.Load())
	switch st {
	case spaceReadOnly:
		return
	case spaceEmergency:
		// Writes resume only with the ballast back and room to spare
		// (with no ballast configured, room to spare), so that the
		// next time the disk runs out there is a ballast to give up.
		s.ensureBallast()
		if (s.ballastSize > 0 && s.ballast == 0) || s.free < s.minFree+headroom {
			s.why = s.emergencyErr()
			return
		}
	default:
		s.ensureBallast()
	}
	// Without its ballast (given up, or never made for lack of room) the
	// store takes no blocks until there is room to make it: the next
	// time the disk ran out there would be nothing to give up.
	if s.free < s.minFree || (s.ballastSize > 0 && s.ballast == 0) {
		s.set(spaceLow, s.lowErr())
		return
	}
	s.set(spaceOK, nil)
}

// set moves to state st (why: the reason, when refusing) and wakes those
// waiting for a change; the caller holds s.mu.
func (s *space) set(st spaceState, why error) {
	s.why = why
	if spaceState(s.state.Swap(int32(st))) != st {
		close(s.changed)
		s.changed = make(chan struct{})
	}
}

// admit is asked before every write of n bytes (block: a block, rather
// than a small record; del: a deletion). It returns why the write is
// refused, or nil.
func (s *space) admit(n int, block, del bool) error {
	st := spaceState(s.state.Load())
	if st == spaceOK {
		if s.minFree == 0 || del || s.written.Add(int64(n)) < lookEvery {
			return nil
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.look()
		return s.refusal(block, del)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if time.Since(s.lastLook) >= lookAgain {
		s.lastLook = time.Now()
		s.look()
	}
	return s.refusal(block, del)
}

// refusal says whether the current state refuses a write; the caller
// holds s.mu.
func (s *space) refusal(block, del bool) error {
	switch spaceState(s.state.Load()) {
	case spaceOK:
		return nil
	case spaceLow, spaceEmergency:
		// Records (a pin of what is stored, an unpin, mirror state)
		// are small, and deleting is how space comes back.
		if !block || del {
			return nil
		}
	}
	return s.why
}

// check looks at the free space now and says whether an operation that
// will write about need bytes of blocks may start.
func (s *space) check(need int64) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.lastLook = time.Now()
	s.look()
	if err := s.refusal(true, false); err != nil {
		return err
	}
	if need > 0 && s.free-need < s.minFree {
		return fmt.Errorf("%w on the disk of %s: this needs about %s, %s is free, and the store keeps %s free (datastore.min_free); %s",
			ErrNoSpace, s.dir, fmtBytes(need), fmtBytes(s.free), fmtBytes(s.minFree), whatToDo)
	}
	return nil
}

// onDiskFull is called by pebble's file system (vfs.OnDiskFull) when a
// write fails with ENOSPC, before pebble retries it once. Pebble holds
// every other write meanwhile, so it must be quick and must not call into
// pebble.
func (s *space) onDiskFull() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.released = s.releaseBallast()
	if free, err := s.statFree(); err == nil {
		s.free = free
	}
	s.lastLook = time.Now()
	if spaceState(s.state.Load()) != spaceReadOnly {
		s.set(spaceEmergency, s.emergencyErr())
	}
}

// setReadOnly records that the store was opened read-only because its
// disk had too little room (free) for what opening needs (need).
func (s *space) setReadOnly(free, need int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.free = free
	s.set(spaceReadOnly, fmt.Errorf("%w on the disk of %s: it was too full to open the store for writing (%s free, opening needs %s), so the store is open read-only; free space on that disk and start again",
		ErrNoSpace, s.dir, fmtBytes(free), fmtBytes(need)))
}

// whatToDo ends every refusal: what the user can do about it.
const whatToDo = "free space on that disk (`commons gc` removes the blocks no pin needs) or move the repo to a larger one, and run it again"

func (s *space) lowErr() error {
	if s.ballastSize > 0 && s.ballast == 0 {
		return fmt.Errorf("%w on the disk of %s: %s free, and the store keeps %s free (datastore.min_free) plus room for its emergency reserve (%s, datastore.ballast), which it does not hold now; %s",
			ErrNoSpace, s.dir, fmtBytes(s.free), fmtBytes(s.minFree), fmtBytes(s.ballastSize+headroom), whatToDo)
	}
	return fmt.Errorf("%w on the disk of %s: %s free, and the store keeps %s free (datastore.min_free); %s",
		ErrNoSpace, s.dir, fmtBytes(s.free), fmtBytes(s.minFree), whatToDo)
}

func (s *space) emergencyErr() error {
	gave := ""
	if s.released > 0 {
		gave = fmt.Sprintf("; the store gave up its emergency reserve (%s, datastore.ballast) to finish its own writes", fmtBytes(s.released))
	}
	return fmt.Errorf("%w on the disk of %s: it ran out of space%s; no new data is taken until the disk has room to spare again (%s free, %s wanted); %s",
		ErrNoSpace, s.dir, gave, fmtBytes(s.free), fmtBytes(s.minFree+s.ballastSize+headroom), whatToDo)
}

// snapshot returns the current view.
func (s *space) snapshot() Space {
	s.mu.Lock()
	defer s.mu.Unlock()
	sp := Space{Free: s.free, MinFree: s.minFree, Ballast: s.ballast}
	if spaceState(s.state.Load()) != spaceOK {
		sp.Refusing = s.why
	}
	return sp
}

func (s *space) changedCh() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// fmtBytes writes n in the largest binary unit that keeps it at least 1.
func fmtBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	v, i := float64(n), 0
	for v >= unit && i < 4 {
		v /= unit
		i++
	}
	return fmt.Sprintf("%.1f %s", v, []string{"B", "KiB", "MiB", "GiB", "TiB"}[i])
}

// walBytes is the size of the write-ahead logs in dir: at most what
// pebble replays, and flushes, when it opens.
func walBytes(dir string) int64 {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0
	}
	var n int64
	for _, e := range ents {
		if strings.HasSuffix(e.Name(), ".log") {
			if info, err := e.Info(); err == nil {
				n += info.Size()
			}
		}
	}
	return n
}

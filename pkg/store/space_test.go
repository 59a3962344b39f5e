package store

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	blocks "github.com/ipfs/go-block-format"
	ds "github.com/ipfs/go-datastore"

	"github.com/commons-p2p/commons/pkg/store/storetest"
)

// These tests run on the test machine's own disk, which is not full: the
// reserve is made to exceed it, or the store is told that the disk ran
// out as pebble's file system would tell it. The real thing, a small file
// system filled up under the real daemon, is TestNetLabDiskFull in
// cmd/commons (root only).

func openStore(t *testing.T, opts Options) (*Store, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "ds")
	s, err := Open(dir, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s, dir
}

func TestErrNoSpaceIsENOSPC(t *testing.T) {
	err := fmt.Errorf("publish x: %w", ErrNoSpace)
	if !errors.Is(err, ErrNoSpace) || !errors.Is(err, syscall.ENOSPC) {
		t.Fatalf("%v: want it to match ErrNoSpace and ENOSPC", err)
	}
	if errors.Is(errors.New("other"), ErrNoSpace) {
		t.Fatal("an unrelated error matches ErrNoSpace")
	}
}

// Below the reserve blocks are refused, whole batches of them included,
// and records (pins, state) and deletions still go through.
func TestReserveRefusesBlocksNotRecords(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t, Options{MinFree: 1 << 61}) // more than any disk has
	err := s.CheckSpace(0)
	if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "datastore.min_free") || !strings.Contains(err.Error(), "move the repo") {
		t.Fatalf("CheckSpace: %v", err)
	}
	if s.Space().Refusing == nil {
		t.Fatal("Space().Refusing is nil below the reserve")
	}
	b := storetest.Block(t, []byte("refused"))
	if err := s.Blockstore().Put(ctx, b); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("Put of a block: %v, want ErrNoSpace", err)
	}
	if err := s.Blockstore().PutMany(ctx, []blocks.Block{b, storetest.Block(t, []byte("also"))}); !errors.Is(err, ErrNoSpace) {
		t.Fatalf("PutMany: %v, want ErrNoSpace", err)
	}
	if has, err := s.Blockstore().Has(ctx, b.Cid()); err != nil || has {
		t.Fatalf("a refused block is stored: %v %v", has, err)
	}
	d := s.Datastore()
	rec := ds.NewKey("/pins/state/x")
	if err := d.Put(ctx, rec, []byte("small")); err != nil {
		t.Fatalf("Put of a record: %v", err)
	}
	batch, err := d.Batch(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if err := batch.Put(ctx, ds.NewKey("/pins/state/y"), []byte("small")); err != nil {
		t.Fatal(err)
	}
	if err := batch.Delete(ctx, rec); err != nil {
		t.Fatal(err)
	}
	if err := batch.Commit(ctx); err != nil {
		t.Fatalf("a batch of records: %v", err)
	}
	if err := d.Delete(ctx, ds.NewKey("/pins/state/y")); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatalf("Sync: %v", err)
	}
}

// The store looks at the disk as it writes, not only before an operation,
// and writes resume once there is room again.
func TestReserveReachedWhileWriting(t *testing.T) {
	ctx := context.Background()
	s, _ := openStore(t, Options{MinFree: 1})
	if err := s.CheckSpace(1 << 20); err != nil {
		t.Fatal(err)
	}
	if s.Space().Free <= 0 {
		t.Fatalf("free space not read: %+v", s.Space())
	}
	changed := s.SpaceChanged()
	// The disk "fills": the reserve now exceeds what is free.
	s.space.mu.Lock()
	s.space.minFree = 1 << 61
	s.space.mu.Unlock()
	var refused error
	for i := range 64 { // 64 blocks of 64 KiB: past one look (1 MiB)
		data := make([]byte, 64<<10)
		copy(data, fmt.Sprintf("block %d", i))
		if refused = s.Blockstore().Put(ctx, storetest.Block(t, data)); refused != nil {
			t.Logf("refused after %d blocks: %v", i, refused)
			break
		}
	}
	if !errors.Is(refused, ErrNoSpace) {
		t.Fatalf("64 blocks written past the reserve: %v", refused)
	}
	select {
	case <-changed:
	default:
		t.Fatal("SpaceChanged not closed when the store began refusing")
	}
	changed = s.SpaceChanged()
	s.space.mu.Lock()
	s.space.minFree = 1
	s.space.mu.Unlock()
	if err := s.CheckSpace(0); err != nil {
		t.Fatalf("CheckSpace with room again: %v", err)
	}
	select {
	case <-changed:
	default:
		t.Fatal("SpaceChanged not closed when the store took blocks again")
	}
	if err := s.Blockstore().Put(ctx, storetest.Block(t, []byte("after"))); err != nil {
		t.Fatal(err)
	}
}

func TestCheckSpaceNeed(t *testing.T) {
	s, _ := openStore(t, Options{MinFree: 1})
	if err := s.CheckSpace(1); err != nil {
		t.Fatal(err)
	}
	err := s.CheckSpace(1 << 61)
	if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "this needs about") {
		t.Fatalf("CheckSpace of more than the disk: %v", err)
	}
	// Only this operation is refused: the store still takes blocks.
	if s.Space().Refusing != nil {
		t.Fatalf("refusing after a refused estimate: %v", s.Space().Refusing)
	}
}

func TestBallastMadeAdoptedResized(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ds")
	for _, size := range []int64{1 << 20, 2 << 20, 0} {
		s, err := Open(dir, Options{Ballast: size})
		if err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(filepath.Join(dir, ballastName))
		switch {
		case size == 0 && err == nil:
			t.Errorf("ballast 0: a ballast file of %d bytes is left", st.Size())
		case size == 0:
		case err != nil:
			t.Errorf("ballast %d: %v", size, err)
		case st.Size() != size:
			t.Errorf("ballast %d: the file has %d bytes", size, st.Size())
		case st.Sys().(*syscall.Stat_t).Blocks*512 < size:
			t.Errorf("ballast %d: only %d bytes allocated (a sparse ballast frees nothing)", size, st.Sys().(*syscall.Stat_t).Blocks*512)
		}
		if got := s.Space().Ballast; got != size {
			t.Errorf("ballast %d: Space().Ballast = %d", size, got)
		}
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	}
}

// When pebble's file system reports ENOSPC, the store gives up its ballast
// (so pebble's retry finds room), refuses blocks but takes records, and
// takes blocks again once the disk has room for a new ballast.
func TestDiskFullGivesUpBallast(t *testing.T) {
	ctx := context.Background()
	s, dir := openStore(t, Options{Ballast: 1 << 20})
	ballast := filepath.Join(dir, ballastName)
	if _, err := os.Stat(ballast); err != nil {
		t.Fatal(err)
	}
	s.space.onDiskFull() // as vfs.OnDiskFull calls it
	if _, err := os.Stat(ballast); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("the ballast is still there: %v", err)
	}
	err := s.Blockstore().Put(ctx, storetest.Block(t, []byte("after the disk ran out")))
	if !errors.Is(err, ErrNoSpace) || !strings.Contains(err.Error(), "ran out of space") || !strings.Contains(err.Error(), "gave up its emergency reserve") {
		t.Fatalf("Put of a block: %v", err)
	}
	if err := s.Datastore().Put(ctx, ds.NewKey("/pins/state/z"), []byte("small")); err != nil {
		t.Fatalf("Put of a record: %v", err)
	}
	// This disk has room: a look makes the ballast again.
	if err := s.CheckSpace(0); err != nil {
		t.Fatalf("CheckSpace: %v", err)
	}
	if st, err := os.Stat(ballast); err != nil || st.Size() != 1<<20 {
		t.Fatalf("the ballast was not made again: %v", err)
	}
	if err := s.Blockstore().Put(ctx, storetest.Block(t, []byte("room again"))); err != nil {
		t.Fatal(err)
	}
}

// A store with no room to flush at Close gives up its ballast, and if
// that is not enough closes without flushing (pebble would retry the
// flush forever, and Flush never return); its log keeps everything.
func TestCloseWithoutRoomKeepsEverything(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ds")
	s, err := Open(dir, Options{Ballast: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	b := storetest.Block(t, []byte("in the log only"))
	if err := s.Blockstore().Put(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	s.flushRoom = 1 << 61 // no disk has room for this flush
	done := make(chan error, 1)
	go func() { done <- s.Close() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(time.Minute):
		t.Fatal("Close without room did not return")
	}
	if _, err := os.Stat(filepath.Join(dir, ballastName)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the ballast was not given up for the flush: %v", err)
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if has, err := s.Blockstore().Has(ctx, b.Cid()); err != nil || !has {
		t.Fatalf("the block is lost: %v %v", has, err)
	}
}

func TestFmtBytes(t *testing.T) {
	for _, c := range []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1024, "1.0 KiB"}, {96 << 20, "96.0 MiB"}, {3 << 30, "3.0 GiB"}, {5 << 40, "5.0 TiB"}} {
		if got := fmtBytes(c.n); got != c.want {
			t.Errorf("fmtBytes(%d) = %q, want %q", c.n, got, c.want)
		}
	}
}

// recordLogger records what a quietLogger passes on.
type recordLogger struct{ lines []string }

func (l *recordLogger) Infof(f string, a ...any) {
	l.lines = append(l.lines, "I "+fmt.Sprintf(f, a...))
}
func (l *recordLogger) Errorf(f string, a ...any) {
	l.lines = append(l.lines, "E "+fmt.Sprintf(f, a...))
}
func (l *recordLogger) Fatalf(f string, a ...any) {
	l.lines = append(l.lines, "F "+fmt.Sprintf(f, a...))
}

func TestQuietLogger(t *testing.T) {
	rec := &recordLogger{}
	l := newQuietLogger(rec)
	for i := range 150 { // a second of pebble's flush retries on a full disk
		l.Errorf("background error: %s", fmt.Sprintf("write %06d.sst: no space left on device", i))
	}
	l.Errorf("another: %d", 1)
	if len(rec.lines) != 2 {
		t.Fatalf("passed on %d lines, want 2: %q", len(rec.lines), rec.lines)
	}
	// The interval passes (set back, not waited for).
	l.last["background error: %s"].at = time.Now().Add(-time.Hour)
	l.Errorf("background error: %s", "write 000151.sst: no space left on device")
	if got := rec.lines[len(rec.lines)-1]; !strings.Contains(got, "000151") || !strings.Contains(got, "and 149 more like it") {
		t.Fatalf("after the interval: %q", got)
	}
	l.Fatalf("MANIFEST sync failed: %v", "no space left on device")
	if got := rec.lines[len(rec.lines)-2:]; !strings.Contains(got[0], "if the disk is full, free space") || !strings.HasPrefix(got[1], "F ") {
		t.Fatalf("fatal: %q", got)
	}
}

package store

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"

	"github.com/commons-p2p/commons/pkg/store/storetest"
)

func TestConformancePebble(t *testing.T) {
	storetest.Run(t, func(t *testing.T) blockstore.Blockstore {
		s, err := Open(filepath.Join(t.TempDir(), "ds"), Options{})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = s.Close() })
		return s.Blockstore()
	})
}

// The reference: boxo's blockstore over an in-memory map must pass the same
// suite, which keeps the suite honest about what it demands.
func TestConformanceReference(t *testing.T) {
	storetest.Run(t, func(t *testing.T) blockstore.Blockstore {
		return blockstore.NewIdStore(blockstore.NewBlockstore(dssync.MutexWrap(datastore.NewMapDatastore())))
	})
}

func TestReopenKeepsBlocks(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ds")
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	b := storetest.Block(t, []byte("kept across a restart"))
	if err := s.Blockstore().Put(ctx, b); err != nil {
		t.Fatal(err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s, err = Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Blockstore().Get(ctx, b.Cid()); err != nil {
		t.Fatalf("after reopen: %v", err)
	}
}

func TestSecondOpenRefused(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ds")
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if s2, err := Open(dir, Options{}); err == nil {
		s2.Close()
		t.Fatal("a second Open of an open store succeeded")
	}
}

const crashEnv = "COMMONS_STORE_CRASH_DIR"

// TestSyncSurvivesKill writes blocks in a child process, syncs, keeps
// writing unsynced blocks, and is killed with SIGKILL. Every block written
// before the sync must be there after reopening.
func TestSyncSurvivesKill(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "ds")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.v")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	synced := -1
	sc := bufio.NewScanner(out)
	for sc.Scan() {
		if n, ok := strings.CutPrefix(sc.Text(), "synced "); ok {
			synced, _ = strconv.Atoi(n)
			break
		}
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	if synced <= 0 {
		t.Fatalf("child never reported a sync")
	}
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatalf("reopen after kill -9: %v", err)
	}
	defer s.Close()
	ctx := context.Background()
	for i := range synced {
		b := crashBlock(t, i)
		if _, err := s.Blockstore().Get(ctx, b.Cid()); err != nil {
			t.Fatalf("block %d of %d synced before the kill is lost: %v", i, synced, err)
		}
	}
}

func crashBlock(t testing.TB, i int) blocks.Block {
	data := make([]byte, 64<<10)
	copy(data, fmt.Sprintf("crash block %d", i))
	return storetest.Block(t, data)
}

// TestCrashChild is the child half of TestSyncSurvivesKill; it does nothing
// unless run by it.
func TestCrashChild(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		return
	}
	ctx := context.Background()
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	const n = 200
	for i := range n {
		if err := s.Blockstore().Put(ctx, crashBlock(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	fmt.Printf("synced %d\n", n)
	// Keep writing, unsynced, until killed (bounded, in case the parent died).
	deadline := time.Now().Add(30 * time.Second)
	for i := n; time.Now().Before(deadline); i++ {
		if err := s.Blockstore().Put(ctx, crashBlock(t, i)); err != nil {
			t.Fatal(err)
		}
	}
	os.Exit(3)
}

func TestEmptyBlockAlwaysPresent(t *testing.T) {
	s, err := Open(filepath.Join(t.TempDir(), "ds"), Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	ctx := context.Background()
	empty := storetest.Block(t, nil)
	if !IsEmptyBlock(empty.Cid()) {
		t.Fatalf("IsEmptyBlock(%s) = false", empty.Cid())
	}
	if IsEmptyBlock(storetest.Block(t, []byte("x")).Cid()) {
		t.Fatal("IsEmptyBlock of a non-empty block = true")
	}
	has, err := s.Blockstore().Has(ctx, empty.Cid())
	if err != nil || !has {
		t.Fatalf("Has(empty) = %v, %v; want true without storing it", has, err)
	}
	b, err := s.Blockstore().Get(ctx, empty.Cid())
	if err != nil || len(b.RawData()) != 0 || !b.Cid().Equals(empty.Cid()) {
		t.Fatalf("Get(empty) = %v, %v", b, err)
	}
}

func TestConformanceMemory(t *testing.T) {
	storetest.Run(t, func(t *testing.T) blockstore.Blockstore { return NewMemory().Blockstore() })
}

// TestUseAfterClose: a late goroutine that touches a closed store gets
// ErrClosed, not a crash.
func TestUseAfterClose(t *testing.T) {
	s, err := Open(t.TempDir(), Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	k := datastore.NewKey("/x")
	if _, err := s.Datastore().Get(ctx, k); !errors.Is(err, ErrClosed) {
		t.Fatalf("Get: %v", err)
	}
	if err := s.Datastore().Put(ctx, k, nil); !errors.Is(err, ErrClosed) {
		t.Fatalf("Put: %v", err)
	}
	if _, err := s.Blockstore().Has(ctx, blocks.NewBlock([]byte("x")).Cid()); !errors.Is(err, ErrClosed) {
		t.Fatalf("Has: %v", err)
	}
	if err := s.Close(); !errors.Is(err, ErrClosed) {
		t.Fatalf("second Close: %v", err)
	}
}

// TestSizeWithoutReading: Has and GetSize are answered from pebble's keys
// and value lengths, without reading values; they must agree with what is
// stored whether it sits in the memtable, in a table, or in a blob file
// (values over 1 KiB after a flush), and deleted keys must be absent.
func TestSizeWithoutReading(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "ds")
	s, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	sizes := map[datastore.Key]int{}
	for i := range 64 {
		k := datastore.NewKey(fmt.Sprintf("/blocks/k%03d", i))
		v := bytes.Repeat([]byte{byte(i)}, (i*i*97)%(300<<10)+i%2)
		if err := s.Datastore().Put(ctx, k, v); err != nil {
			t.Fatal(err)
		}
		sizes[k] = len(v)
	}
	deleted := []datastore.Key{datastore.NewKey("/blocks/k007"), datastore.NewKey("/blocks/k040")}
	check := func(when string) {
		t.Helper()
		for k, want := range sizes {
			has, err := s.Datastore().Has(ctx, k)
			if err != nil || !has {
				t.Errorf("%s: Has(%s) = %v, %v", when, k, has, err)
			}
			got, err := s.Datastore().GetSize(ctx, k)
			if err != nil || got != want {
				t.Errorf("%s: GetSize(%s) = %d, %v; want %d", when, k, got, err, want)
			}
		}
		for _, k := range append(deleted, datastore.NewKey("/blocks/never"), datastore.NewKey("/blocks/k00")) {
			if has, err := s.Datastore().Has(ctx, k); err != nil || has {
				t.Errorf("%s: Has(%s) = %v, %v; want false", when, k, has, err)
			}
			if n, err := s.Datastore().GetSize(ctx, k); !errors.Is(err, datastore.ErrNotFound) || n != -1 {
				t.Errorf("%s: GetSize(%s) = %d, %v; want -1, ErrNotFound", when, k, n, err)
			}
		}
	}
	for _, k := range deleted {
		if err := s.Datastore().Delete(ctx, k); err != nil {
			t.Fatal(err)
		}
		delete(sizes, k)
	}
	check("in the memtable")
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if s, err = Open(dir, Options{}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	check("after a flush and reopen")
	blobs, _ := filepath.Glob(filepath.Join(dir, "*.blob"))
	if len(blobs) == 0 {
		t.Errorf("no blob files in %s: values over 1 KiB should be separated", dir)
	}
}

package node_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/node/nodetest"
	"github.com/commons-p2p/commons/pkg/store"
)

// A node whose store refuses new blocks (its reserve exceeds the disk)
// still pins what it holds completely, refuses to fetch what it lacks at
// once with the store's reason (not "not found" after fetch.timeout), and
// fetches it once there is room.
func TestFetchWhileStoreRefuses(t *testing.T) {
	ctx := context.Background()
	var full atomic.Bool
	nw := nodetest.New(t, 2, nodetest.Options{Store: func(i int) store.Options {
		if i == 0 && full.Load() {
			return store.Options{MinFree: 1 << 61}
		}
		return store.Options{}
	}})
	a, b := nw.Nodes[0], nw.Nodes[1]
	own := publish(t, a.Node, bundle(t))
	remoteDir := filepath.Join(t.TempDir(), "remote")
	nodetest.WriteTree(t, remoteDir, map[string]string{"instructions.md": "# Elsewhere\n", "cad/part.step": strings.Repeat("part ", 200_000)})
	remote := publish(t, b.Node, remoteDir)
	if err := a.Unpin(ctx, own); err != nil {
		t.Fatal(err)
	}

	full.Store(true)
	a.Restart()
	nw.Connect(0, 1)
	if err := a.Pin(ctx, own, "own", nil); err != nil {
		t.Fatalf("pin of a DAG stored completely: %v", err)
	}
	start := time.Now()
	err := a.Pin(ctx, remote, "remote", nil)
	if !api.IsNoSpace(err) || errors.Is(err, api.ErrNotFound) || !strings.Contains(err.Error(), "datastore.min_free") {
		t.Fatalf("pin of what must be fetched: %v; want the store's refusal", err)
	}
	t.Logf("refused in %s (fetch.timeout is %s)", time.Since(start).Round(time.Millisecond), nw.Settings(0).Fetch.Timeout)
	pins, err := a.Pins(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pins {
		if p.CID.Equals(remote) {
			t.Fatal("what could not be fetched is pinned")
		}
	}

	full.Store(false)
	a.Restart()
	nw.Connect(0, 1)
	if err := a.Pin(ctx, remote, "remote", nil); err != nil {
		t.Fatalf("pin with room again: %v", err)
	}
}

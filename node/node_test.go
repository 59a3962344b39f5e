package node_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/node"
	"github.com/commons-p2p/commons/node/nodetest"
	"github.com/commons-p2p/commons/pkg/config"
	"github.com/commons-p2p/commons/pkg/folder"
	"github.com/commons-p2p/commons/pkg/store"
)

// bundle writes a small design folder and returns its path.
func bundle(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "brick-press")
	big := make([]byte, 3<<20) // several buzhash chunks
	for i := range big {
		big[i] = byte(i*7 + i/1000)
	}
	nodetest.WriteTree(t, dir, map[string]string{
		"instructions.md": "# Build\n\n1. Cut the frame.\n",
		"bom.csv":         "part,qty\ntube,3\n",
		"cad/frame.step":  string(big),
		"notes/empty.md":  "", // the zero-length block, which boxo's bitswap never sends
	})
	return dir
}

func publish(t *testing.T, n *node.Node, dir string) cid.Cid {
	t.Helper()
	fn, _, err := folder.Open(dir, folder.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	res, err := n.Publish(context.Background(), fn, api.PublishOptions{Name: filepath.Base(dir), Plain: true}, nil)
	if err != nil {
		t.Fatalf("publish: %v", err)
	}
	return res.CID
}

func readAll(t *testing.T, n *node.Node, p string) []byte {
	t.Helper()
	rc, err := n.Cat(context.Background(), p)
	if err != nil {
		t.Fatalf("cat %s: %v", p, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("cat %s: %v", p, err)
	}
	return b
}

// TestFetchThroughDHT: A publishes, C is connected only to B, and C finds A
// as a provider through the DHT, dials it and fetches the bundle.
//
// A and C are DHT clients and B the only server, so the only way C can
// learn of A is B's provider record: a routing-table refresh cannot
// introduce them.
func TestFetchThroughDHT(t *testing.T) {
	nw := nodetest.New(t, 3, nodetest.Options{Settings: func(i int, s *config.Config) {
		if i != 1 {
			s.Routing.Mode = "client"
		}
	}})
	a, b, c := nw.Nodes[0], nw.Nodes[1], nw.Nodes[2]
	nw.Connect(0, 1)
	nw.Connect(2, 1)
	nodetest.Eventually(t, 30*time.Second, func() bool {
		return a.RoutingSize() > 0 && c.RoutingSize() > 0
	}, "A and C to have B in their routing tables")

	dir := bundle(t)
	root := publish(t, a.Node, dir)

	// Wait for A's announcement to reach the DHT, as C sees it.
	nodetest.WaitProvider(t, 30*time.Second, c, root, a.Host.ID())
	if got := c.Host.Network().Connectedness(a.Host.ID()); got == network.Connected {
		t.Fatalf("C is already connected to A before fetching; the test would not exercise the DHT")
	}

	out := filepath.Join(t.TempDir(), "copy")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := c.Get(ctx, root.String(), out, nil); err != nil {
		t.Fatalf("C get: %v", err)
	}
	compareTrees(t, dir, out)
	if got := c.Host.Network().Connectedness(a.Host.ID()); got != network.Connected {
		t.Errorf("C is %s to A; it should have dialled the provider", got)
	}
	if b.Host.Network().Connectedness(a.Host.ID()) != network.Connected {
		t.Errorf("B lost its connection to A")
	}
}

func compareTrees(t *testing.T, want, got string) {
	t.Helper()
	err := filepath.WalkDir(want, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(want, p)
		gp := filepath.Join(got, rel)
		if d.IsDir() {
			if st, err := os.Stat(gp); err != nil || !st.IsDir() {
				t.Errorf("%s: directory missing in copy", rel)
			}
			return nil
		}
		wb, _ := os.ReadFile(p)
		gb, err := os.ReadFile(gp)
		if err != nil {
			t.Errorf("%s: %v", rel, err)
			return nil
		}
		if !bytes.Equal(wb, gb) {
			t.Errorf("%s: contents differ (%d vs %d bytes)", rel, len(wb), len(gb))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestRestartKeepsPins: publish, stop, start again on the same store over
// real loopback sockets; the bundle is still pinned and served to a peer.
func TestRestartKeepsPins(t *testing.T) {
	nw := nodetest.New(t, 2, nodetest.Options{Loopback: true, Gateway: true})
	a := nw.Nodes[0]
	dir := bundle(t)
	root := publish(t, a.Node, dir)

	a.Restart()

	pins, err := a.Pins(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if len(pins) != 1 || !pins[0].CID.Equals(root) || pins[0].Name != "brick-press" {
		t.Fatalf("after restart pins = %+v, want %s named brick-press", pins, root)
	}
	if got := readAll(t, a.Node, root.String()+"/bom.csv"); string(got) != "part,qty\ntube,3\n" {
		t.Fatalf("after restart bom.csv = %q", got)
	}
	// Served to another node over real TCP/QUIC.
	nw.Connect(1, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := nw.Nodes[1].Pin(ctx, root, "mirror", nil); err != nil {
		t.Fatalf("peer pin after restart: %v", err)
	}
	// And through the restarted node's gateway.
	resp, err := http.Get(a.GatewayURL() + "/ipfs/" + root.String() + "/instructions.md")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || string(body) != "# Build\n\n1. Cut the frame.\n" {
		t.Fatalf("gateway after restart: %d %q", resp.StatusCode, body)
	}
}

// TestMissingCIDFailsInBoundedTime: a CID nobody has fails with ErrNotFound
// once fetch.timeout passes without a block, instead of hanging.
func TestMissingCIDFailsInBoundedTime(t *testing.T) {
	nw := nodetest.New(t, 2, nodetest.Options{Settings: func(i int, s *config.Config) {
		s.Fetch.Timeout = config.Duration(time.Second)
	}})
	nw.Connect(0, 1)
	missing, _ := cid.Decode("bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	err := nw.Nodes[0].Pin(ctx, missing, "", nil)
	if !errors.Is(err, api.ErrNotFound) {
		t.Fatalf("pin of a CID nobody has: %v; want ErrNotFound", err)
	}
	if ctx.Err() != nil {
		t.Fatalf("the fetch did not give up by itself: %v", err)
	}
	pins, _ := nw.Nodes[0].Pins(context.Background())
	if len(pins) != 0 {
		t.Fatalf("a failed pin left pins: %+v", pins)
	}
}

// TestGCKeepsPinnedRemovesRest: gc removes blocks of an unpinned bundle and
// keeps every block of a pinned one.
func TestGCKeepsPinnedRemovesRest(t *testing.T) {
	nw := nodetest.New(t, 1, nodetest.Options{})
	n := nw.Nodes[0]
	ctx := context.Background()
	keep := publish(t, n.Node, bundle(t))
	dir2 := filepath.Join(t.TempDir(), "other")
	nodetest.WriteTree(t, dir2, map[string]string{"a.txt": "unpinned soon"})
	drop := publish(t, n.Node, dir2)
	if err := n.Unpin(ctx, drop); err != nil {
		t.Fatal(err)
	}
	if err := n.Unpin(ctx, drop); !errors.Is(err, api.ErrNotPinned) {
		t.Fatalf("second unpin: %v; want ErrNotPinned", err)
	}
	res, err := n.GC(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if res.Removed < 2 {
		t.Fatalf("gc removed %d blocks, want at least the 2 of the unpinned bundle", res.Removed)
	}
	if has, _ := n.Blockstore.Has(ctx, drop); has {
		t.Fatal("gc kept the unpinned root")
	}
	if got := readAll(t, n.Node, keep.String()+"/cad/frame.step"); len(got) != 3<<20 {
		t.Fatalf("pinned file after gc: %d bytes", len(got))
	}
}

// TestConnectRefusesBadAddresses checks Connect's input validation.
func TestConnectRefusesBadAddresses(t *testing.T) {
	nw := nodetest.New(t, 1, nodetest.Options{})
	n := nw.Nodes[0]
	self, _ := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: n.Host.ID(), Addrs: n.Host.Addrs()})
	for _, addr := range []string{"not-a-multiaddr", "/ip4/127.0.0.1/tcp/1", self[0].String()} {
		if err := n.Connect(context.Background(), addr); !errors.Is(err, api.ErrInvalid) {
			t.Errorf("Connect(%q) = %v; want ErrInvalid", addr, err)
		}
	}
}

// TestAnnounceAfterComingOnline: a node that publishes with no network
// announces once it has peers, so others find it through the DHT.
func TestAnnounceAfterComingOnline(t *testing.T) {
	nw := nodetest.New(t, 3, nodetest.Options{Settings: func(i int, s *config.Config) {
		if i != 1 {
			s.Routing.Mode = "client"
		}
	}})
	a, c := nw.Nodes[0], nw.Nodes[2]
	root := publish(t, a.Node, bundle(t)) // no peers yet
	nw.Connect(0, 1)
	nw.Connect(2, 1)
	nodetest.WaitProvider(t, 60*time.Second, c, root, a.Host.ID())
}

// TestUnreachableBootstrapIsNotFatal: a village node with no internet
// starts, serves and publishes although no bootstrap peer answers.
func TestUnreachableBootstrapIsNotFatal(t *testing.T) {
	nw := nodetest.New(t, 2, nodetest.Options{Loopback: true, Gateway: true, Settings: func(i int, s *config.Config) {
		if i == 0 {
			// A closed port on loopback, and a documentation address that
			// routes nowhere.
			s.Bootstrap.Peers = []string{
				"/ip4/127.0.0.1/tcp/1/p2p/12D3KooWBoEzz5KCKea8YeAFztvc6XzekfcGJnVGwZL6bChJP1rf",
				"/ip4/192.0.2.1/tcp/4001/p2p/12D3KooWEtDrMxhHgK16f8ecGoeGnqmcb6VzNJzWLkXmisMcd6Hx",
			}
		}
	}})
	a := nw.Nodes[0]
	root := publish(t, a.Node, bundle(t))
	resp, err := http.Get(a.GatewayURL() + "/ipfs/" + root.String() + "/bom.csv")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("gateway with unreachable bootstrap peers: %d", resp.StatusCode)
	}
	nw.Connect(1, 0)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := nw.Nodes[1].Pin(ctx, root, "", nil); err != nil {
		t.Fatalf("a peer fetching from the node: %v", err)
	}
}

// TestAPIOnlyOnLoopbackUnlessAllowed: an API address other than loopback
// is refused unless addresses.api_remote is set, and then only with a
// token.
func TestAPIOnlyOnLoopbackUnlessAllowed(t *testing.T) {
	for _, tc := range []struct {
		name   string
		remote bool
		token  string
		ok     bool
	}{
		{"not allowed", false, "secret-secret-secret-secret-secret", false},
		{"allowed without a token", true, "", false},
		{"allowed with a token", true, "secret-secret-secret-secret-secret", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s, err := config.FromProfile("test")
			if err != nil {
				t.Fatal(err)
			}
			s.Addresses.API = "/ip4/0.0.0.0/tcp/0"
			s.Addresses.Gateway = ""
			s.Addresses.APIRemote = tc.remote
			key, _, err := crypto.GenerateEd25519Key(nil)
			if err != nil {
				t.Fatal(err)
			}
			st, err := store.Open(filepath.Join(t.TempDir(), "store"), store.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer st.Close()
			n, err := node.New(context.Background(), node.Config{Settings: s, Identity: key, Store: st, APIToken: tc.token})
			if err == nil {
				n.Close()
			}
			if (err == nil) != tc.ok {
				t.Fatalf("node.New: %v; want ok=%v", err, tc.ok)
			}
			if err != nil && !strings.Contains(err.Error(), "addresses.api") {
				t.Fatalf("the error does not name the setting: %v", err)
			}
		})
	}
}

package node_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	"github.com/libp2p/go-libp2p/core/network"
	"github.com/libp2p/go-libp2p/core/peer"
	mh "github.com/multiformats/go-multihash"

	"github.com/commons-p2p/commons/node/nodetest"
	"github.com/commons-p2p/commons/node/nodetest/kubopeer"
	"github.com/commons-p2p/commons/pkg/config"
	"github.com/commons-p2p/commons/pkg/folder"
	"github.com/commons-p2p/commons/pkg/metadata"
)

func get(t *testing.T, url string) (int, []byte) {
	t.Helper()
	hc := &http.Client{Timeout: time.Minute}
	resp, err := hc.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, b
}

func mustSum(t *testing.T, b []byte) mh.Multihash {
	t.Helper()
	sum, err := mh.Sum(b, mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// designFolder writes a bundle with a multi-chunk file, nested folders and,
// if wide, a directory big enough to be HAMT-sharded.
func designFolder(t *testing.T, name string, seed byte, wide bool) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	big := make([]byte, 2<<20+12345)
	for i := range big {
		big[i] = byte(i*31+i/977) ^ seed
	}
	files := map[string]string{
		"instructions.md":         fmt.Sprintf("# %s\n\nCut, weld, test.\n", name),
		"bom.csv":                 "part,qty,cost\ntube,3,9.50\n",
		"cad/frame.step":          string(big),
		"cad/parts/bolt-m12.scad": "cylinder(d=12, h=80);\n",
		"empty.txt":               "",
	}
	if wide {
		for i := range 5000 {
			files[fmt.Sprintf("parts/p%05d.txt", i)] = fmt.Sprintf("part %d\n", i)
		}
	}
	nodetest.WriteTree(t, dir, files)
	return dir
}

// cidOf computes a folder's CID as commons publishes it, without storing it
// in any node.
func cidOf(t *testing.T, dir string) cid.Cid {
	t.Helper()
	bs := blockstore.NewBlockstore(dssync.MutexWrap(datastore.NewMapDatastore()))
	dag := merkledag.NewDAGService(blockservice.New(bs, nil))
	fn, _, err := folder.Open(dir, folder.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	c, err := folder.Import(context.Background(), dag, fn, folder.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func addrOf(p *nodetest.Peer) string {
	addrs, _ := peer.AddrInfoToP2pAddrs(&peer.AddrInfo{ID: p.Host.ID(), Addrs: p.Host.Addrs()})
	for _, a := range addrs {
		if bytes.Contains([]byte(a.String()), []byte("/tcp/")) {
			return a.String()
		}
	}
	return addrs[0].String()
}

// TestKuboInterop runs a real Kubo v0.43.1 daemon beside commons nodes on
// loopback: the same folder gives the same CID on both; Kubo fetches a
// bundle published by commons; commons fetches a folder added on Kubo; and
// two commons nodes that know only the Kubo node find each other's content
// through its DHT.
func TestKuboInterop(t *testing.T) {
	kubo := kubopeer.Start(t, kubopeer.Options{})
	nw := nodetest.New(t, 3, nodetest.Options{Loopback: true, Settings: func(i int, s *config.Config) {
		s.Fetch.Timeout = config.Duration(30 * time.Second)
		if i > 0 {
			s.Routing.Mode = "client" // only Kubo's DHT can introduce nodes 1 and 2
		}
	}})
	a := nw.Nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()

	// First, while Kubo has never stored the zero-length block of an empty
	// file: boxo's bitswap server never sends a 0-byte block, so this
	// checks the node's workaround (node.servedSizes).
	t.Run("KuboFetchesFromCommons", func(t *testing.T) {
		dir := designFolder(t, "from-commons", 2, false)
		root := publish(t, a.Node, dir)
		if err := kubo.SwarmConnect(ctx, addrOf(a)); err != nil {
			t.Fatal(err)
		}
		if err := kubo.PinAdd(ctx, root.String()); err != nil {
			t.Fatalf("kubo pin add: %v", err)
		}
		out := filepath.Join(t.TempDir(), "kubo-copy")
		if err := kubo.Get(ctx, root.String(), out); err != nil {
			t.Fatalf("kubo get: %v", err)
		}
		compareTrees(t, dir, out)
		// And through Kubo's gateway, by path inside the bundle.
		resp, err := http.Get(kubo.GatewayURL + "/ipfs/" + root.String() + "/cad/parts/bolt-m12.scad")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || string(body) != "cylinder(d=12, h=80);\n" {
			t.Fatalf("Kubo gateway: %d %q", resp.StatusCode, body)
		}
	})

	// A design bundle is an ordinary UnixFS folder to Kubo: it pins and
	// gets all of it, and its gateway opens the design's files and the
	// manifest by path from the bundle CID; the manifest's dag-cbor CID
	// reads as dag-json with `ipfs dag get`.
	t.Run("KuboReadsBundleByPath", func(t *testing.T) {
		dir := filepath.Join(t.TempDir(), "press")
		nodetest.WriteTree(t, dir, map[string]string{
			"commons.toml":    pressTOML,
			"bom.csv":         "part,qty\ntube,3\n",
			"instructions.md": "# Build\n",
			"cad/frame.scad":  "cube(10);\n",
		})
		res := publishBundle(t, a.Node, dir, metadata.Metadata{})
		info, err := a.Show(ctx, res.CID.String())
		if err != nil {
			t.Fatal(err)
		}
		if err := kubo.SwarmConnect(ctx, addrOf(a)); err != nil {
			t.Fatal(err)
		}
		if err := kubo.PinAdd(ctx, res.CID.String()); err != nil {
			t.Fatalf("kubo pin add of a bundle: %v", err)
		}
		out := filepath.Join(t.TempDir(), "kubo-bundle")
		if err := kubo.Get(ctx, res.CID.String(), out); err != nil {
			t.Fatalf("kubo get of a bundle: %v", err)
		}
		compareTrees(t, dir, out)
		for p, want := range map[string]string{
			"/bom.csv":        "part,qty\ntube,3\n",
			"/cad/frame.scad": "cube(10);\n",
		} {
			status, body := get(t, kubo.GatewayURL+"/ipfs/"+res.CID.String()+p)
			if status != 200 || string(body) != want {
				t.Errorf("Kubo gateway %s: %d %q", p, status, body)
			}
		}
		status, block := get(t, kubo.GatewayURL+"/ipfs/"+res.CID.String()+"/.commons/bundle.cbor")
		if status != 200 || !cid.NewCidV1(cid.DagCBOR, mustSum(t, block)).Equals(info.Manifest) {
			t.Errorf("Kubo gateway .commons/bundle.cbor: %d, %d bytes, not the manifest %s", status, len(block), info.Manifest)
		}
		status, cb := get(t, kubo.GatewayURL+"/ipfs/"+info.Manifest.String()+"?format=dag-cbor")
		if status != 200 || !bytes.Equal(cb, block) {
			t.Errorf("Kubo gateway manifest by its dag-cbor CID: %d, %d bytes", status, len(cb))
		}
		js, err := kubo.Run(ctx, "dag", "get", info.Manifest.String())
		if err != nil || !bytes.Contains(js, []byte(`"name":"brick-press"`)) || !bytes.Contains(js, []byte(`"hardware":"CERN-OHL-S-2.0"`)) {
			t.Errorf("ipfs dag get of the manifest (dag-json): %v %.300s", err, js)
		}
	})

	// The library that publishing made resolves by its IPNS name in Kubo,
	// from the record the node put into the DHT, and Kubo's gateway opens
	// /ipns/<library>/<bundle>/<file>.
	t.Run("KuboResolvesLibrary", func(t *testing.T) {
		lib, err := a.Library(ctx)
		if err != nil || len(lib.Bundles) == 0 {
			t.Fatalf("library of node 0: %+v %v", lib, err)
		}
		if err := kubo.SwarmConnect(ctx, addrOf(a)); err != nil {
			t.Fatal(err)
		}
		var out []byte
		nodetest.Eventually(t, 90*time.Second, func() bool {
			rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
			defer cancel()
			out, err = kubo.Run(rctx, "name", "resolve", "--nocache", "/ipns/"+lib.Name)
			return err == nil && strings.TrimSpace(string(out)) == "/ipfs/"+lib.Root.String()
		}, "Kubo to resolve the library name to its root")
		status, body := get(t, kubo.GatewayURL+"/ipns/"+lib.Name+"/brick-press/instructions.md")
		if status != 200 || string(body) != "# Build\n" {
			t.Errorf("Kubo gateway /ipns/<library>/brick-press/instructions.md: %d %q", status, body)
		}
	})

	t.Run("SameCID", func(t *testing.T) {
		dir := designFolder(t, "same", 1, true)
		got, err := kubo.AddDir(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		if want := cidOf(t, dir).String(); got != want {
			t.Fatalf("Kubo `ipfs add -r --cid-version=1 --raw-leaves --chunker=buzhash` gave %s, commons %s", got, want)
		}
	})

	t.Run("CommonsFetchesFromKubo", func(t *testing.T) {
		dir := designFolder(t, "from-kubo", 3, false)
		c, err := kubo.AddDir(ctx, dir)
		if err != nil {
			t.Fatal(err)
		}
		nw.ConnectAddr(0, kubo.SwarmAddrs[0])
		out := filepath.Join(t.TempDir(), "commons-copy")
		if err := a.Get(ctx, c, out, nil); err != nil {
			t.Fatalf("commons get from kubo: %v", err)
		}
		compareTrees(t, dir, out)
	})

	t.Run("DiscoveryThroughKuboDHT", func(t *testing.T) {
		b, c := nw.Nodes[1], nw.Nodes[2]
		nw.ConnectAddr(1, kubo.SwarmAddrs[0])
		nw.ConnectAddr(2, kubo.SwarmAddrs[0])
		nodetest.Eventually(t, 30*time.Second, func() bool {
			return b.RoutingSize() > 0 && c.RoutingSize() > 0
		}, "nodes 1 and 2 to have Kubo in their routing tables")
		dir := designFolder(t, "via-dht", 4, false)
		root := publish(t, b.Node, dir)
		nodetest.WaitProvider(t, 60*time.Second, c, root, b.Host.ID())
		if c.Host.Network().Connectedness(b.Host.ID()) == network.Connected {
			t.Fatal("nodes 1 and 2 are connected before the fetch; the DHT would not be exercised")
		}
		out := filepath.Join(t.TempDir(), "via-dht")
		if err := c.Get(ctx, root.String(), out, nil); err != nil {
			t.Fatalf("get through Kubo's DHT: %v", err)
		}
		compareTrees(t, dir, out)
	})
	if t.Failed() {
		if b, err := os.ReadFile(kubo.LogPath); err == nil && len(b) > 4000 {
			t.Logf("kubo log tail:\n%s", b[len(b)-4000:])
		}
	}
}

// TestKuboGatewayOverLibp2p: the bulk path is the standard one. A Kubo
// daemon with Experimental.GatewayOverLibp2p serves a folder's CAR over
// libp2p HTTP, and a commons node fetches all of it that way, bitswap
// fetching nothing.
func TestKuboGatewayOverLibp2p(t *testing.T) {
	kubo := kubopeer.Start(t, kubopeer.Options{Config: map[string]any{"Experimental.GatewayOverLibp2p": true}})
	nw := nodetest.New(t, 1, nodetest.Options{Loopback: true, Settings: func(i int, s *config.Config) {
		s.Fetch.Timeout = config.Duration(30 * time.Second)
	}})
	a := nw.Nodes[0]
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := designFolder(t, "kubo-car", 5, false)
	c, err := kubo.AddDir(ctx, dir)
	if err != nil {
		t.Fatal(err)
	}
	nw.ConnectAddr(0, kubo.SwarmAddrs[0])
	out := filepath.Join(t.TempDir(), "copy")
	if err := a.Get(ctx, c, out, nil); err != nil {
		t.Fatalf("commons get from kubo: %v", err)
	}
	compareTrees(t, dir, out)
	st := a.Received()
	t.Logf("from Kubo's gateway over libp2p: %d bytes in %d blocks; bitswap %d bytes", st.BulkBytes, st.Blocks, st.BitswapBytes)
	if st.BulkBytes == 0 || st.BitswapBytes != 0 {
		t.Fatalf("bulk %d bytes, bitswap %d bytes: want everything over the bulk path", st.BulkBytes, st.BitswapBytes)
	}
}

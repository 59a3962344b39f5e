package node_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/boxo/files"
	"github.com/ipfs/boxo/ipld/merkledag"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/node"
	"github.com/commons-p2p/commons/node/nodetest"
	"github.com/commons-p2p/commons/pkg/carfile"
	"github.com/commons-p2p/commons/pkg/config"
	"github.com/commons-p2p/commons/pkg/folder"
	"github.com/commons-p2p/commons/pkg/metadata"
)

const pressTOML = `name = "brick-press"
title = "CEB brick press"
kind = "product-design"
[licenses]
hardware = "CERN-OHL-S-2.0"
software = "NONE"
documentation = "CC-BY-SA-4.0"
[[authors]]
name = "Ada"
`

// licensedFolder writes a design folder with metadata, BOM and instructions.
func licensedFolder(t *testing.T) string {
	t.Helper()
	dir := bundle(t)
	nodetest.WriteTree(t, dir, map[string]string{
		"commons.toml": pressTOML,
		"bom.csv":      "part,qty,unit cost,currency\ntube,3,9.50,EUR\nbolt M12,4,0.90,EUR\n",
	})
	return dir
}

func publishBundle(t *testing.T, n api.Service, dir string, meta metadata.Metadata) api.PublishResult {
	t.Helper()
	fn, _, err := folder.Open(dir, folder.DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	res, err := n.Publish(context.Background(), fn, api.PublishOptions{Name: filepath.Base(dir), Meta: meta}, nil)
	if err != nil {
		t.Fatalf("publish %s: %v", dir, err)
	}
	return res
}

// TestBundleFetchedAndVerified: A publishes a bundle; B pins it over
// bitswap, verifies the signature and knows it as A's.
func TestBundleFetchedAndVerified(t *testing.T) {
	nw := nodetest.New(t, 2, nodetest.Options{})
	a, b := nw.Nodes[0], nw.Nodes[1]
	nw.Connect(0, 1)
	dir := licensedFolder(t)
	res := publishBundle(t, a.Node, dir, metadata.Metadata{Message: "first"})
	if res.Sequence != 1 || !res.Open || res.Name != "brick-press" || res.Parent.Defined() {
		t.Fatalf("publish result %+v", res)
	}
	if res.NewBytes < 3<<20 {
		t.Errorf("a first version is all new: %d bytes", res.NewBytes)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := b.Pin(ctx, res.CID, "", nil); err != nil {
		t.Fatalf("B pin: %v", err)
	}
	info, err := b.Show(ctx, "brick-press")
	if err != nil {
		t.Fatalf("B show by name: %v", err)
	}
	if !info.CID.Equals(res.CID) || info.Publisher != a.Host.ID().String() || info.BOM != "bom.csv" || info.Instructions != "instructions.md" || !info.Head {
		t.Fatalf("B's view of the bundle: %+v", info)
	}
	if info.Licenses.Hardware != "CERN-OHL-S-2.0" || len(info.Authors) != 1 || info.Authors[0].Name != "Ada" {
		t.Fatalf("metadata from commons.toml not in the manifest: %+v", info)
	}
	list, err := b.Bundles(ctx)
	if err != nil || len(list) != 1 || list[0].Problem != "" || !list[0].CID.Equals(res.CID) {
		t.Fatalf("B's bundle list: %+v %v", list, err)
	}
	// The files are readable by path from the bundle root.
	if got := readAll(t, b.Node, res.CID.String()+"/bom.csv"); !bytes.HasPrefix(got, []byte("part,qty")) {
		t.Fatalf("bom.csv through the bundle root: %q", got)
	}
}

// TestBundleTamperedRefused: a bundle root whose files were swapped after
// signing is refused by a fetching node, which pins nothing.
func TestBundleTamperedRefused(t *testing.T) {
	nw := nodetest.New(t, 2, nodetest.Options{})
	a, b := nw.Nodes[0], nw.Nodes[1]
	nw.Connect(0, 1)
	res := publishBundle(t, a.Node, licensedFolder(t), metadata.Metadata{})
	ctx := context.Background()
	// A hostile publisher rewraps the signed root with a changed BOM.
	nd, err := a.DAG.Get(ctx, res.CID)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := uio.NewDirectoryFromNode(a.DAG, nd)
	if err != nil {
		t.Fatal(err)
	}
	evil := merkledag.NewRawNode([]byte("part,qty\ngold,1000\n"))
	if err := a.DAG.Add(ctx, evil); err != nil {
		t.Fatal(err)
	}
	if err := dir.AddChild(ctx, "bom.csv", evil); err != nil {
		t.Fatal(err)
	}
	tampered, err := dir.GetNode()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.DAG.Add(ctx, tampered); err != nil {
		t.Fatal(err)
	}
	pctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	err = b.Pin(pctx, tampered.Cid(), "", nil)
	if !errors.Is(err, api.ErrInvalid) || !strings.Contains(err.Error(), "not the signed files") {
		t.Fatalf("pin of a tampered bundle: %v; want ErrInvalid saying the files are not the signed ones", err)
	}
	pins, _ := b.Pins(ctx)
	if len(pins) != 0 {
		t.Fatalf("a refused bundle was pinned: %+v", pins)
	}
	if _, err := b.Show(ctx, tampered.Cid().String()); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("show of a tampered bundle: %v", err)
	}
	// Export refuses it too, before writing anything.
	var buf bytes.Buffer
	if err := a.Export(ctx, tampered.Cid().String(), &buf, nil); !errors.Is(err, api.ErrInvalid) || buf.Len() != 0 {
		t.Fatalf("export of a tampered bundle: %v, %d bytes written", err, buf.Len())
	}
	// A CAR of it (complete and hash-correct, only the signature's
	// binding is wrong) is refused by import, which pins nothing.
	var car bytes.Buffer
	get := carfile.GetterFunc(func(ctx context.Context, c cid.Cid) (blocks.Block, error) { return a.Blockstore.Get(ctx, c) })
	if err := carfile.Export(ctx, get, []cid.Cid{tampered.Cid()}, &car, carfile.ExportOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.Import(ctx, &car, nil); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("import of a tampered bundle's CAR: %v", err)
	}
	if pins, _ := b.Pins(ctx); len(pins) != 0 {
		t.Fatalf("a refused import pinned %+v", pins)
	}
}

// TestBundleVersionsDiffLogFork runs one node through a bundle's life:
// versions, history, diff with BOM and instructions, a log entry with a
// photo, a fork and its lineage.
func TestBundleVersionsDiffLogFork(t *testing.T) {
	nw := nodetest.New(t, 1, nodetest.Options{})
	n := nw.Nodes[0]
	ctx := context.Background()
	dir := licensedFolder(t)
	v1 := publishBundle(t, n.Node, dir, metadata.Metadata{Message: "first"})

	// Edit the instructions and the BOM; the big CAD file stays.
	nodetest.WriteTree(t, dir, map[string]string{
		"instructions.md": "# Build\n\n1. Cut the frame.\n2. Weld it square.\n",
		"bom.csv":         "part,qty,unit cost,currency\ntube,4,9.50,EUR\nbolt M12,4,0.90,EUR\npaint,1,14,EUR\n",
	})
	v2 := publishBundle(t, n.Node, dir, metadata.Metadata{Message: "weld step", Version: "1.1"})
	if v2.Sequence != 2 || !v2.Parent.Equals(v1.CID) {
		t.Fatalf("v2 = %+v, want sequence 2 with parent %s", v2, v1.CID)
	}
	if v2.NewBytes > 64<<10 {
		t.Errorf("v2 adds %d bytes for two small text edits", v2.NewBytes)
	}
	h, err := n.History(ctx, "brick-press")
	if err != nil {
		t.Fatal(err)
	}
	if len(h.Versions) != 2 || h.Truncated || h.Versions[0].Sequence != 2 || h.Versions[0].Message != "weld step" || h.Versions[1].Message != "first" {
		t.Fatalf("history: %+v", h)
	}
	if c := h.Versions[0].Changes; c == nil || c.Changed != 2 || c.Added != 0 || c.Removed != 0 {
		t.Fatalf("v2 changes: %+v", h.Versions[0].Changes)
	}
	d, err := n.Diff(ctx, v1.CID.String(), v2.CID.String())
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]string{}
	for _, f := range d.Files {
		paths[f.Path] = f.Change
	}
	if len(paths) != 2 || paths["bom.csv"] != "changed" || paths["instructions.md"] != "changed" {
		t.Fatalf("diff files: %+v", d.Files)
	}
	if !strings.Contains(d.Instructions, "+2. Weld it square.") {
		t.Fatalf("instructions diff:\n%s", d.Instructions)
	}
	if d.BOM == nil || len(d.BOM.Added) != 1 || d.BOM.Added[0].Part != "paint" || len(d.BOM.Changed) != 1 || d.BOM.Changed[0].Part != "tube" {
		t.Fatalf("BOM diff: %+v", d.BOM)
	}
	if len(d.BOM.Before) != 1 || d.BOM.Before[0].Amount != "32.1" || d.BOM.After[0].Amount != "55.6" {
		t.Fatalf("BOM totals: before %+v after %+v", d.BOM.Before, d.BOM.After)
	}
	if !containsLine(d.Metadata, `version: "" -> "1.1"`) {
		t.Errorf("metadata changes: %v", d.Metadata)
	}

	// A log entry with a photo: a new version with the same files.
	photo := []byte("\x89PNG fake photo bytes")
	att := files.NewMapDirectory(map[string]files.Node{"frame.png": files.NewBytesFile(photo)})
	v3, err := n.LogAdd(ctx, "brick-press", api.LogOptions{Text: "Welded the frame today.\nIt is square."}, att, nil)
	if err != nil {
		t.Fatal(err)
	}
	if v3.Sequence != 3 || !v3.Parent.Equals(v2.CID) || v3.NewBytes > 16<<10 {
		t.Fatalf("log version %+v: want sequence 3, parent v2, a few KiB new", v3)
	}
	info, err := n.Show(ctx, v3.CID.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Log) != 1 || info.Log[0].Author != "Ada" || len(info.Log[0].Attachments) != 1 || !info.Files.Equals(mustShow(t, n.Node, v2.CID).Files) {
		t.Fatalf("log entry: %+v", info)
	}
	if got := readAll(t, n.Node, v3.CID.String()+"/"+info.Log[0].Attachments[0]); !bytes.Equal(got, photo) {
		t.Fatalf("attachment through the bundle root: %q", got)
	}
	// Publishing the same folder again makes no version.
	if same := publishBundle(t, n.Node, dir, metadata.Metadata{}); !same.Unchanged || !same.CID.Equals(v3.CID) {
		t.Fatalf("an unchanged publish made %+v; want v3 back, unchanged", same)
	}
	// A later publish keeps the log.
	nodetest.WriteTree(t, dir, map[string]string{"notes.md": "weld notes\n"})
	v4 := publishBundle(t, n.Node, dir, metadata.Metadata{Message: "after the log"})
	if info := mustShow(t, n.Node, v4.CID); len(info.Log) != 1 || info.Sequence != 4 {
		t.Fatalf("v4 lost the log: %+v", info)
	}

	// Fork and lineage.
	fork, err := n.Fork(ctx, v2.CID.String(), api.ForkOptions{Name: "brick-press-hydraulic"})
	if err != nil {
		t.Fatal(err)
	}
	fi := mustShow(t, n.Node, fork.CID)
	if fi.Sequence != 1 || len(fi.DerivedFrom) != 1 || !fi.DerivedFrom[0].Equals(v2.CID) || fi.Licenses.Hardware != "CERN-OHL-S-2.0" {
		t.Fatalf("fork: %+v", fi)
	}
	if _, err := n.Fork(ctx, v2.CID.String(), api.ForkOptions{Name: "brick-press-hydraulic"}); !errors.Is(err, api.ErrInvalid) {
		t.Fatalf("a second fork under a taken name: %v", err)
	}
	l, err := n.Lineage(ctx, "brick-press")
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Derivatives) != 1 || l.Derivatives[0].Bundle.Name != "brick-press-hydraulic" {
		t.Fatalf("derivatives of brick-press: %+v", l.Derivatives)
	}
	l, err = n.Lineage(ctx, fork.CID.String())
	if err != nil {
		t.Fatal(err)
	}
	if len(l.DerivedFrom) != 1 || l.DerivedFrom[0].Bundle.Name != "brick-press" || !l.DerivedFrom[0].Via.Equals(v2.CID) {
		t.Fatalf("sources of the fork: %+v", l.DerivedFrom)
	}
}

func containsLine(lines []string, want string) bool {
	for _, l := range lines {
		if l == want {
			return true
		}
	}
	return false
}

func mustShow(t *testing.T, n *node.Node, c cid.Cid) api.BundleInfo {
	t.Helper()
	info, err := n.Show(context.Background(), c.String())
	if err != nil {
		t.Fatal(err)
	}
	return info
}

// TestPublishRefusals: licences, BOM and names that are refused leave
// nothing pinned and say why.
func TestPublishRefusals(t *testing.T) {
	nw := nodetest.New(t, 1, nodetest.Options{})
	n := nw.Nodes[0]
	ctx := context.Background()
	cases := []struct {
		name  string
		toml  string
		bom   string
		meta  metadata.Metadata
		wants []string
	}{
		{"no licence", `title = "x"`, "", metadata.Metadata{}, []string{"hardware", "licen"}},
		{"non-commercial", pressTOML, "", metadata.Metadata{Licenses: metadata.Licenses{Documentation: "CC-BY-NC-4.0"}}, []string{"CC-BY-NC-4.0", "NonCommercial"}},
		{"unknown id", pressTOML, "", metadata.Metadata{Licenses: metadata.Licenses{Hardware: "OHL-FOO"}}, []string{"OHL-FOO"}},
		{"malformed BOM", pressTOML, "part,qty\ntube,three\n", metadata.Metadata{}, []string{"bom.csv:2:2"}},
		{"bad name", pressTOML, "", metadata.Metadata{Name: "Brick Press!"}, []string{"Brick Press!"}},
		{"unknown key", pressTOML + "\ncolour = \"red\"\n", "", metadata.Metadata{}, []string{"colour"}},
		{"unknown kind", pressTOML, "", metadata.Metadata{Kind: "cad"}, []string{"cad"}},
	}
	for _, c := range cases {
		dir := filepath.Join(t.TempDir(), "design")
		tree := map[string]string{"instructions.md": "# build\n", "commons.toml": c.toml}
		if c.bom != "" {
			tree["bom.csv"] = c.bom
		}
		nodetest.WriteTree(t, dir, tree)
		fn, _, err := folder.Open(dir, folder.DefaultOptions())
		if err != nil {
			t.Fatal(err)
		}
		_, err = n.Publish(ctx, fn, api.PublishOptions{Name: "design", Meta: c.meta}, nil)
		if !errors.Is(err, api.ErrInvalid) {
			t.Errorf("%s: got %v, want ErrInvalid", c.name, err)
			continue
		}
		for _, w := range c.wants {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: the error does not say %q: %v", c.name, w, err)
			}
		}
	}
	if pins, _ := n.Pins(ctx); len(pins) != 0 {
		t.Fatalf("refused publishes pinned %+v", pins)
	}
	// A folder with no BOM publishes, with a warning.
	dir := filepath.Join(t.TempDir(), "nobom")
	nodetest.WriteTree(t, dir, map[string]string{"README.md": "# x\n", "commons.toml": pressTOML})
	res := publishBundle(t, n.Node, dir, metadata.Metadata{})
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], "BOM") {
		t.Fatalf("warnings %v, want one about the BOM", res.Warnings)
	}
}

// TestPublishNonOpenAllowed: with publish.allow_non_open a NonCommercial
// bundle publishes and is marked non-open.
func TestPublishNonOpenAllowed(t *testing.T) {
	nw := nodetest.New(t, 1, nodetest.Options{Settings: func(_ int, s *config.Config) { s.Publish.AllowNonOpen = true }})
	dir := licensedFolder(t)
	res := publishBundle(t, nw.Nodes[0].Node, dir, metadata.Metadata{Licenses: metadata.Licenses{Documentation: "CC-BY-NC-SA-4.0"}})
	if res.Open {
		t.Fatalf("a CC-BY-NC-SA bundle was marked open: %+v", res)
	}
	if info := mustShow(t, nw.Nodes[0].Node, res.CID); info.Open {
		t.Fatalf("show marks it open")
	}
}

// TestRestartKeepsHead: the head of a name survives a restart, so the next
// publish continues the chain.
func TestRestartKeepsHead(t *testing.T) {
	nw := nodetest.New(t, 1, nodetest.Options{Loopback: true})
	p := nw.Nodes[0]
	dir := licensedFolder(t)
	v1 := publishBundle(t, p.Node, dir, metadata.Metadata{})
	p.Restart()
	if err := os.WriteFile(filepath.Join(dir, "instructions.md"), []byte("# v2\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	v2 := publishBundle(t, p.Node, dir, metadata.Metadata{})
	if v2.Sequence != 2 || !v2.Parent.Equals(v1.CID) {
		t.Fatalf("after a restart, publish made %+v; want version 2 of %s", v2, v1.CID)
	}
}

// TestPublishAfterCollectedParent: a publisher that unpinned and collected
// its last version still publishes the next one, fetching the parent (and
// the log's attachments the new version carries) from a mirror.
func TestPublishAfterCollectedParent(t *testing.T) {
	nw := nodetest.New(t, 2, nodetest.Options{})
	a, b := nw.Nodes[0], nw.Nodes[1]
	nw.Connect(0, 1)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	dir := licensedFolder(t)
	publishBundle(t, a.Node, dir, metadata.Metadata{})
	att := files.NewMapDirectory(map[string]files.Node{"weld.jpg": files.NewBytesFile(bytes.Repeat([]byte("photo"), 1000))})
	v2, err := a.LogAdd(ctx, "brick-press", api.LogOptions{Text: "welded"}, att, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Pin(ctx, v2.CID, "", nil); err != nil {
		t.Fatalf("mirror: %v", err)
	}
	pins, _ := a.Pins(ctx)
	for _, p := range pins {
		if err := a.Unpin(ctx, p.CID); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := a.GC(ctx); err != nil {
		t.Fatal(err)
	}
	if has, _ := a.Blockstore.Has(ctx, v2.CID); has {
		t.Fatal("gc kept the unpinned version")
	}
	nodetest.WriteTree(t, dir, map[string]string{"instructions.md": "# v3\n"})
	v3 := publishBundle(t, a.Node, dir, metadata.Metadata{})
	if v3.Sequence != 3 || !v3.Parent.Equals(v2.CID) {
		t.Fatalf("v3 = %+v", v3)
	}
	info := mustShow(t, a.Node, v3.CID)
	if len(info.Log) != 1 {
		t.Fatalf("v3 lost the log: %+v", info.Log)
	}
	// v3 is complete here: its attachment reads with no peer to ask.
	nw.Nodes[1].Stop()
	if got := readAll(t, a.Node, v3.CID.String()+"/"+info.Log[0].Attachments[0]); len(got) != 5000 {
		t.Fatalf("attachment of v3: %d bytes", len(got))
	}
}

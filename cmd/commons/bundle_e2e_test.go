package main

import (
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/commons-p2p/commons/gateway/api"
)

const e2eTOML = `name = "cargo-bike"
title = "Cargo bike frame"
kind = "product-design"
tags = ["bike", "transport"]

[licenses]
hardware = "CERN-OHL-W-2.0"
software = "NONE"
documentation = "CC-BY-4.0"

[[authors]]
name = "Workshop Nord"
contact = "nord@example.org"
`

// writeFiles writes files (path -> content) under dir.
func writeFiles(t *testing.T, dir string, files map[string][]byte) {
	t.Helper()
	for p, b := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// TestE2EBundleVersions publishes v1 with the real binary, edits one file
// and the BOM, publishes v2, and checks that diff shows exactly those
// changes, with a new-bytes figure that is a small fraction of the large
// CAD file that did not change; then history, show, log add, fork and
// lineage.
func TestE2EBundleVersions(t *testing.T) {
	t.Parallel()
	r := newRepo(t, "bundles")
	dir := filepath.Join(t.TempDir(), "Cargo Bike")
	cad := make([]byte, 16<<20)
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range cad {
		cad[i] = byte(rng.Uint32())
	}
	writeFiles(t, dir, map[string][]byte{
		"commons.toml":     []byte(e2eTOML),
		"instructions.md":  []byte("# Build\n\n1. Cut the tubes.\n2. Weld the frame.\n3. Paint it.\n"),
		"bom.csv":          []byte("part,qty,unit,unit cost,currency,supplier\nsteel tube 28x1.5,6,m,4.20,EUR,Acme\nhead tube,1,pcs,12.00,EUR,Acme\n"),
		"cad/frame.step":   cad,
		"images/front.svg": []byte("<svg xmlns='http://www.w3.org/2000/svg'/>"),
	})
	v1 := decode[api.PublishResult](t, r.ok("publish", "--json", "-m", "first frame", dir))
	if v1.Name != "cargo-bike" || v1.Sequence != 1 || !v1.Open || len(v1.Warnings) != 0 {
		t.Fatalf("v1: %+v", v1)
	}

	// One edited instruction line and a BOM change; the CAD file stays.
	writeFiles(t, dir, map[string][]byte{
		"instructions.md": []byte("# Build\n\n1. Cut the tubes.\n2. Tack, then weld the frame.\n3. Paint it.\n"),
		"bom.csv":         []byte("part,qty,unit,unit cost,currency,supplier\nsteel tube 28x1.5,7,m,4.20,EUR,Acme\nhead tube,1,pcs,12.00,EUR,Acme\nbottom bracket shell,1,pcs,9.50,EUR,Velo\n"),
	})
	text := r.ok("publish", "-m", "tack welds", "--version", "1.1", dir).stdout
	if !strings.Contains(text, "version 2") || !strings.Contains(text, v1.CID.String()) {
		t.Fatalf("second publish:\n%s", text)
	}
	v2 := decode[api.BundleInfo](t, r.ok("show", "--json", "cargo-bike"))
	if v2.Sequence != 2 || len(v2.Parents) != 1 || !v2.Parents[0].Equals(v1.CID) || v2.Version != "1.1" || !v2.Head {
		t.Fatalf("show v2: %+v", v2)
	}

	if js := r.ok("show", "--dag-json", "cargo-bike").stdout; !strings.Contains(js, `"schema":"commons/bundle/1"`) || !strings.Contains(js, `"sequence":2`) || !strings.Contains(js, `"signature":{"/":{"bytes":`) {
		t.Errorf("show --dag-json:\n%s", js)
	}
	d := decode[api.DiffResult](t, r.ok("diff", "--json", v1.CID.String(), v2.CID.String()))
	got := map[string]string{}
	for _, f := range d.Files {
		got[f.Path] = f.Change
	}
	if len(got) != 2 || got["bom.csv"] != "changed" || got["instructions.md"] != "changed" {
		t.Fatalf("diff files = %+v; want exactly bom.csv and instructions.md changed", d.Files)
	}
	if d.NewBytes <= 0 || d.NewBytes*100 > int64(len(cad)) {
		t.Fatalf("new bytes %d: want more than 0 and under 1%% of the %d-byte CAD file", d.NewBytes, len(cad))
	}
	if !strings.Contains(d.Instructions, "-2. Weld the frame.") || !strings.Contains(d.Instructions, "+2. Tack, then weld the frame.") {
		t.Fatalf("instructions diff:\n%s", d.Instructions)
	}
	b := d.BOM
	if b == nil || len(b.Added) != 1 || b.Added[0].Part != "bottom bracket shell" || len(b.Removed) != 0 || len(b.Changed) != 1 || b.Changed[0].Old.Quantity != "6" || b.Changed[0].New.Quantity != "7" {
		t.Fatalf("BOM diff: %+v", b)
	}
	if len(b.Before) != 1 || b.Before[0].Amount != "37.2" || b.After[0].Amount != "50.9" || b.After[0].Currency != "EUR" {
		t.Fatalf("BOM totals: %+v -> %+v", b.Before, b.After)
	}
	out := r.ok("diff", v1.CID.String(), v2.CID.String()).stdout
	for _, want := range []string{"~ bom.csv", "~ instructions.md", "files: 0 added, 0 removed, 2 changed", "new bytes:", "bottom bracket shell"} {
		if !strings.Contains(out, want) {
			t.Errorf("diff text lacks %q:\n%s", want, out)
		}
	}

	h := r.ok("history", "cargo-bike").stdout
	if !strings.Contains(h, "version 2 (1.1)") || !strings.Contains(h, "tack welds") || !strings.Contains(h, "first frame") || !strings.Contains(h, "0 added, 0 removed, 2 changed") {
		t.Errorf("history:\n%s", h)
	}

	// A log entry with a photo costs only itself.
	photo := filepath.Join(t.TempDir(), "tacked.jpg")
	if err := os.WriteFile(photo, bytes.Repeat([]byte{0xff, 0xd8}, 5000), 0o644); err != nil {
		t.Fatal(err)
	}
	v3 := decode[api.PublishResult](t, r.ok("log", "add", "--json", "cargo-bike", "Frame tacked; geometry checked.", "--photo", photo))
	if v3.Sequence != 3 || v3.NewBytes > 32<<10 {
		t.Fatalf("log add: %+v", v3)
	}
	if s := r.ok("show", "cargo-bike").stdout; !strings.Contains(s, "Frame tacked") || !strings.Contains(s, ".commons/log/0001-tacked.jpg") {
		t.Errorf("show after log add:\n%s", s)
	}

	// A fork, and lineage both ways.
	f := decode[api.PublishResult](t, r.ok("fork", "--json", v2.CID.String(), "--name", "cargo-trike"))
	if f.Sequence != 1 {
		t.Fatalf("fork: %+v", f)
	}
	if l := r.ok("lineage", "cargo-bike").stdout; !strings.Contains(l, "cargo-trike") {
		t.Errorf("lineage of the source lacks the fork:\n%s", l)
	}
	if l := r.ok("lineage", "cargo-trike").stdout; !strings.Contains(l, "cargo-bike version 2") {
		t.Errorf("lineage of the fork lacks its source:\n%s", l)
	}
	if list := decode[[]api.BundleSummary](t, r.ok("bundles", "--json")); len(list) != 2 {
		t.Errorf("bundles: %+v", list)
	}
}

// TestE2EPublishRefusesNonOpen: a non-open or missing licence is refused
// with exit code 4 and a message naming the licence, and nothing is pinned.
func TestE2EPublishRefusesNonOpen(t *testing.T) {
	t.Parallel()
	r := newRepo(t, "licences")
	dir := filepath.Join(t.TempDir(), "lamp")
	writeFiles(t, dir, map[string][]byte{"README.md": []byte("# lamp\n")})
	mustFail(t, r.run("publish", "--license-hardware", "CERN-OHL-S-2.0", "--license-software", "NONE", "--license-documentation", "CC-BY-NC-SA-4.0", dir), 4, "CC-BY-NC-SA-4.0", "documentation")
	mustFail(t, r.run("publish", dir), 4, "licen", "--license-hardware")
	writeFiles(t, dir, map[string][]byte{"commons.toml": []byte(e2eTOML), "bom.csv": []byte("part,qty\nbolt,\"4\n")})
	mustFail(t, r.run("publish", dir), 4, "bom.csv:2")
	if pins := r.pins(); len(pins) != 0 {
		t.Fatalf("refused publishes pinned %+v", pins)
	}
}

// TestE2EPublisherKey: publish.key_file signs with a separate publisher key
// (here another repo's identity), and an unsafe key file is refused.
func TestE2EPublisherKey(t *testing.T) {
	t.Parallel()
	r := newRepo(t, "keyed")
	other := newRepo(t, "publisher")
	key, err := os.ReadFile(other.file("identity.key"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(r.file("publisher.key"), key, 0o600); err != nil {
		t.Fatal(err)
	}
	r.setConfig("publish", "key_file", `"publisher.key"`)
	dir := filepath.Join(t.TempDir(), "bike")
	writeFiles(t, dir, map[string][]byte{"commons.toml": []byte(e2eTOML), "README.md": []byte("# bike\n")})
	r.ok("publish", dir)
	info := decode[api.BundleInfo](t, r.ok("show", "--json", "cargo-bike"))
	if info.Publisher != other.peerID || info.Publisher == r.peerID {
		t.Fatalf("signed by %s; want the publisher key %s, not the node's %s", info.Publisher, other.peerID, r.peerID)
	}
	if err := os.Chmod(r.file("publisher.key"), 0o644); err != nil {
		t.Fatal(err)
	}
	mustFail(t, r.run("bundles"), 5, "publisher.key", "chmod 600")
}

// TestE2ERepublishFetchedBundle: a bundle fetched with get (which writes
// its .commons metadata folder) publishes again as a new version; with
// --hidden the reserved .commons is refused with exit code 4.
func TestE2ERepublishFetchedBundle(t *testing.T) {
	t.Parallel()
	r := newRepo(t, "republish")
	v1 := r.publish(demoBundle(t))
	out := filepath.Join(t.TempDir(), "fetched")
	r.ok("get", v1.CID.String(), "-o", out)
	writeFiles(t, out, map[string][]byte{"notes.md": []byte("built one in Kenya\n")})
	v2 := decode[api.PublishResult](t, r.ok("publish", "--json", out))
	if v2.Sequence != 2 || !v2.Parent.Equals(v1.CID) {
		t.Fatalf("republish of a fetched bundle: %+v", v2)
	}
	mustFail(t, r.run("publish", "--hidden", out), 4, ".commons", "reserved")
}

package node_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/commons-p2p/commons/pkg/config"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/boxo/ipld/unixfs/hamt"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	carv2 "github.com/ipld/go-car/v2"
	"github.com/libp2p/go-libp2p/core/crypto"
	mh "github.com/multiformats/go-multihash"

	"github.com/commons-p2p/commons/node"
	"github.com/commons-p2p/commons/node/nodetest"
	manifest "github.com/commons-p2p/commons/pkg/bundle"
	"github.com/commons-p2p/commons/pkg/folder"
)

// This file sends hostile designs through the node's own paths: Export
// (a CAR), Get (a folder on disk), and a signed bundle made of them
// through the design pages, the zip and CAR downloads and the gateway.
// The DAGs are built by hand, as a peer could build them, and stored in the
// node's pebble store. Whatever they hold, nothing may panic, Get may write
// nothing outside its target (a canary beside it stays untouched), and the
// DAG bombs (tiny in blocks, about 98 GiB expanded) may not expand on disk,
// in memory or in a download. gateway/hostile_test.go asks the gateway's
// path, listings, tar and CARs the same questions.

// dagMaker stores hand-made dag-pb/UnixFS nodes.
type dagMaker struct {
	t   testing.TB
	dag ipld.DAGService
}

type link struct {
	name string
	c    cid.Cid
}

var pbV1 = cid.Prefix{Version: 1, Codec: cid.DagProtobuf, MhType: mh.SHA2_256, MhLength: -1}

func (m dagMaker) add(nd ipld.Node) cid.Cid {
	m.t.Helper()
	if err := m.dag.Add(context.Background(), nd); err != nil {
		m.t.Fatal(err)
	}
	return nd.Cid()
}

func (m dagMaker) raw(data []byte) cid.Cid {
	m.t.Helper()
	nd, err := merkledag.NewRawNodeWPrefix(data, cid.Prefix{Version: 1, Codec: cid.Raw, MhType: mh.SHA2_256, MhLength: -1})
	if err != nil {
		m.t.Fatal(err)
	}
	return m.add(nd)
}

// pb stores a dag-pb node with the data and links as given.
func (m dagMaker) pb(data []byte, links ...link) cid.Cid {
	m.t.Helper()
	nd := merkledag.NodeWithData(data)
	if err := nd.SetCidBuilder(pbV1); err != nil {
		m.t.Fatal(err)
	}
	ls := make([]*ipld.Link, len(links))
	for i, l := range links {
		ls[i] = &ipld.Link{Name: l.name, Cid: l.c}
	}
	if err := nd.SetLinks(ls); err != nil {
		m.t.Fatal(err)
	}
	return m.add(nd)
}

func (m dagMaker) dir(links ...link) cid.Cid { return m.pb(unixfs.FolderPBData(), links...) }

func (m dagMaker) symlink(target string) cid.Cid {
	m.t.Helper()
	data, err := unixfs.SymlinkData(target)
	if err != nil {
		m.t.Fatal(err)
	}
	return m.pb(data)
}

// file stores a UnixFS file node with the sizes given, true or not.
func (m dagMaker) file(children []cid.Cid, blocksize, filesize uint64) cid.Cid {
	m.t.Helper()
	fsn := unixfs.NewFSNode(unixfs.TFile)
	for range children {
		fsn.AddBlockSize(blocksize)
	}
	fsn.UpdateFilesize(int64(filesize) - int64(fsn.FileSize()))
	data, err := fsn.GetBytes()
	if err != nil {
		m.t.Fatal(err)
	}
	links := make([]link, len(children))
	for i, c := range children {
		links[i] = link{c: c}
	}
	return m.pb(data, links...)
}

func (m dagMaker) shard(fanout uint64, bitfield []byte, links ...link) cid.Cid {
	m.t.Helper()
	data, err := unixfs.HAMTShardData(bitfield, fanout, hamt.HashMurmur3)
	if err != nil {
		m.t.Fatal(err)
	}
	return m.pb(data, links...)
}

// hamtDir stores a real 256-wide HAMT of n entries linking to child.
func (m dagMaker) hamtDir(n int, child cid.Cid) cid.Cid {
	m.t.Helper()
	ctx := context.Background()
	s, err := hamt.NewShard(m.dag, 256)
	if err != nil {
		m.t.Fatal(err)
	}
	s.SetCidBuilder(pbV1)
	cn, err := m.dag.Get(ctx, child)
	if err != nil {
		m.t.Fatal(err)
	}
	for i := range n {
		if err := s.Set(ctx, fmt.Sprintf("part-%06d.stl", i), cn); err != nil {
			m.t.Fatal(err)
		}
	}
	nd, err := s.Node()
	if err != nil {
		m.t.Fatal(err)
	}
	return m.add(nd)
}

func repeated[T any](v T, n int) []T {
	out := make([]T, n)
	for i := range out {
		out[i] = v
	}
	return out
}

const oneMiB = 1 << 20

// hostile is one hand-built DAG and what Get must make of it.
type hostile struct {
	name    string
	root    cid.Cid
	refuse  error // the sentinel Get's error must wrap; nil: Get writes it
	entries int   // when written: the entries under the target
}

// hostileDAGs stores the hostile DAGs and the parts the bundle is made of.
type hostileDAGs struct {
	cases                           []hostile
	ok, names, links, deep          cid.Cid
	folderBomb, fileBomb, claimMore cid.Cid
}

func buildHostileDAGs(t *testing.T, dag ipld.DAGService) hostileDAGs {
	m := dagMaker{t: t, dag: dag}
	var d hostileDAGs
	d.ok = m.raw([]byte("an honest file\n"))
	add := func(h hostile) { d.cases = append(d.cases, h) }

	// One directory per hostile name, so that each is refused on its own.
	for _, n := range []string{"..", "../../etc/passwd", "/abs", "a/b", "nul\x00x", "new\nline", "esc\x1b[31mred", strings.Repeat("n", 4000), `..\..\win`} {
		add(hostile{name: fmt.Sprintf("name %.20q", n), root: m.dir(link{"ok.txt", d.ok}, link{n, d.ok}), refuse: folder.ErrUnsafeName})
	}
	var all []link
	for i, n := range []string{"..", "../../etc/passwd", "/abs", "a/b", "nul\x00x", "new\nline", "esc\x1b[31mred", strings.Repeat("n", 4000)} {
		all = append(all, link{n, m.raw(fmt.Appendf(nil, "payload %d\n", i))})
	}
	d.names = m.dir(all...)
	d.links = m.dir(link{"ok.txt", d.ok}, link{"passwd", m.symlink("/etc/passwd")}, link{"up", m.symlink("../../../../etc")})
	add(hostile{name: "escaping symlinks", root: d.links, refuse: folder.ErrSymlinkEscapes})

	// HAMT shards with bad fanouts (the class of CVE-2023-23625) and with
	// a sub-shard link to a raw block.
	bit := make([]byte, 32)
	bit[31-0x5C/8] = 1 << (0x5C % 8)
	add(hostile{name: "hamt fanout 2^20", root: m.shard(1<<20, []byte{1}, link{"00000ok.txt", d.ok}), refuse: folder.ErrUnknownType})
	add(hostile{name: "hamt fanout 3", root: m.shard(3, []byte{1}, link{"0ok.txt", d.ok}), refuse: errAny})
	add(hostile{name: "hamt sub-shard is a raw block", root: m.shard(256, bytes.TrimLeft(bit, "\x00"), link{"5C", d.ok}), refuse: errAny})

	// 10,000 levels; 30,000 entries in one node; a HAMT of 20,000.
	d.deep = m.dir(link{"bottom.txt", d.ok})
	for range 10000 {
		d.deep = m.dir(link{"d", d.deep})
	}
	add(hostile{name: "10,000 levels", root: d.deep, refuse: folder.ErrTooDeep})
	wide := make([]link, 30000)
	for i := range wide {
		wide[i] = link{fmt.Sprintf("part-%05d.stl", i), d.ok}
	}
	add(hostile{name: "30,000 entries", root: m.dir(wide...), entries: 30000})
	add(hostile{name: "HAMT of 20,000", root: m.hamtDir(20000, d.ok), entries: 20000})

	// Files whose sizes lie: the leaves hold 2 × 1,000 bytes.
	la, lb := m.raw(bytes.Repeat([]byte("a"), 1000)), m.raw(bytes.Repeat([]byte("b"), 1000))
	d.claimMore = m.file([]cid.Cid{la, lb}, 1<<30, 2<<30)
	add(hostile{name: "file claims less", root: m.dir(link{"f", m.file([]cid.Cid{la, lb}, 10, 20)}), entries: 1})
	add(hostile{name: "file claims more", root: m.dir(link{"f", d.claimMore}), entries: 1})

	// DAG bombs: a 1 MiB leaf linked 100,000 times from one folder; a file
	// of 100 links to a node of 1,000 links to it; a folder of 1,000 links
	// to a folder of 1,000 entries.
	leafData := make([]byte, oneMiB)
	for i := range leafData {
		leafData[i] = byte(i * 7)
	}
	leaf := m.raw(leafData)
	copies := make([]link, 100000)
	for i := range copies {
		copies[i] = link{fmt.Sprintf("copy-%06d.bin", i), leaf}
	}
	d.folderBomb = m.dir(copies...)
	mid := m.file(repeated(leaf, 1000), oneMiB, 1000*oneMiB)
	d.fileBomb = m.file(repeated(mid, 100), 1000*oneMiB, 100000*oneMiB)
	inner := make([]link, 1000)
	for i := range inner {
		inner[i] = link{fmt.Sprintf("f%04d", i), d.ok}
	}
	innerDir := m.dir(inner...)
	outer := make([]link, 1000)
	for i := range outer {
		outer[i] = link{fmt.Sprintf("d%04d", i), innerDir}
	}
	add(hostile{name: "folder bomb", root: d.folderBomb, refuse: folder.ErrExpands})
	add(hostile{name: "file bomb", root: m.dir(link{"bomb.bin", d.fileBomb}), refuse: folder.ErrExpands})
	add(hostile{name: "million-entry bomb", root: m.dir(outer...), entries: 1000 + 1000*1000, refuse: errSkip})
	return d
}

var (
	// errAny accepts any refusal: boxo's HAMT reader names the fault.
	errAny = errors.New("any error")
	// errSkip marks a DAG Get is not asked for: a million files of 15
	// bytes are an honest if large folder, and writing them would take
	// minutes on this machine; the gateway and the zip refuse it.
	errSkip = errors.New("not asked")
)

// heapPeak samples the live heap while fn runs and returns its growth.
func heapPeak(fn func()) int64 {
	const live = "/gc/heap/live:bytes"
	read := func() uint64 {
		s := []metrics.Sample{{Name: live}}
		metrics.Read(s)
		return s[0].Value.Uint64()
	}
	runtime.GC()
	base := read()
	var peak atomic.Uint64
	peak.Store(base)
	stop, done := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(2 * time.Millisecond)
		defer tick.Stop()
		for {
			if v := read(); v > peak.Load() {
				peak.Store(v)
			}
			select {
			case <-stop:
				return
			case <-tick.C:
			}
		}
	}()
	fn()
	close(stop)
	<-done
	return int64(peak.Load()) - int64(base)
}

// sandbox is a target for Get with canaries beside it and above it.
type sandbox struct {
	root, target string
	canaries     map[string][]byte
	stamp        time.Time
}

func newSandbox(t *testing.T) *sandbox {
	s := &sandbox{root: t.TempDir(), canaries: map[string][]byte{}, stamp: time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC)}
	parent := filepath.Join(s.root, "p", "q")
	if err := os.MkdirAll(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	s.target = filepath.Join(parent, "copy")
	for _, c := range []string{filepath.Join(s.root, "passwd"), filepath.Join(s.root, "p", "canary.txt"), filepath.Join(parent, "canary.txt")} {
		body := []byte("canary " + c)
		if err := os.WriteFile(c, body, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(c, s.stamp, s.stamp); err != nil {
			t.Fatal(err)
		}
		s.canaries[c] = body
	}
	return s
}

// check fails unless the canaries are untouched and the sandbox holds
// nothing but them and (when written) the target, whose every path and
// symlink stays inside it. It returns the entries under the target.
func (s *sandbox) check(t *testing.T, written bool) int {
	t.Helper()
	for c, body := range s.canaries {
		got, err := os.ReadFile(c)
		fi, serr := os.Lstat(c)
		if err != nil || serr != nil || !bytes.Equal(got, body) || !fi.Mode().IsRegular() || !fi.ModTime().Equal(s.stamp) {
			t.Errorf("canary %s changed: %q, %v, %v", c, got, err, serr)
		}
	}
	entries := 0
	err := filepath.WalkDir(s.root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if _, canary := s.canaries[p]; canary || p == s.root || p == filepath.Join(s.root, "p") || p == filepath.Dir(s.target) {
			return nil
		}
		if !written || (p != s.target && !strings.HasPrefix(p, s.target+string(filepath.Separator))) {
			t.Errorf("Get left %s", p)
			return nil
		}
		if p != s.target {
			entries++
		}
		if d.Type()&fs.ModeSymlink != 0 {
			real, err := filepath.EvalSymlinks(p)
			if err == nil && real != s.target && !strings.HasPrefix(real, s.target+string(filepath.Separator)) {
				t.Errorf("symlink %s resolves outside the target, to %s", p, real)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return entries
}

func TestHostileDAGs(t *testing.T) {
	nw := nodetest.New(t, 1, nodetest.Options{Gateway: true})
	n := nw.Nodes[0]
	ctx := t.Context()
	start := time.Now()
	d := buildHostileDAGs(t, n.DAG)
	t.Logf("built %d hostile DAGs in %s", len(d.cases), time.Since(start).Round(time.Millisecond))

	for _, h := range d.cases {
		t.Run(h.name, func(t *testing.T) {
			p := "/ipfs/" + h.root.String()

			// Export: a CAR of every distinct block once, whatever the
			// DAG claims or repeats.
			car, err := os.Create(filepath.Join(t.TempDir(), "export.car"))
			if err != nil {
				t.Fatal(err)
			}
			defer car.Close()
			began := time.Now()
			grew := heapPeak(func() { err = n.Export(ctx, p, car, nil) })
			size, _ := car.Seek(0, io.SeekCurrent)
			t.Logf("export: %d bytes in %s, heap +%.1f MiB, err %v", size, time.Since(began).Round(time.Millisecond), float64(grew)/oneMiB, err)
			if err != nil {
				t.Errorf("export: %v", err)
			} else if _, err := car.Seek(0, io.SeekStart); err != nil {
				t.Fatal(err)
			} else if n := checkCAR(t, car, h.root); n > 16*oneMiB {
				t.Errorf("export: a CAR of %d bytes", n)
			}

			// Get: refused, or written; nothing outside the target.
			if h.refuse == errSkip {
				return
			}
			sb := newSandbox(t)
			began = time.Now()
			grew = heapPeak(func() { err = n.Get(ctx, p, sb.target, nil) })
			t.Logf("get: in %s, heap +%.1f MiB, err %.300v", time.Since(began).Round(time.Millisecond), float64(grew)/oneMiB, err)
			switch {
			case h.refuse == nil && err != nil:
				t.Errorf("get: %v", err)
			case h.refuse != nil && err == nil:
				t.Errorf("get wrote it, want %v", h.refuse)
			case h.refuse != nil && h.refuse != errAny && !errors.Is(err, h.refuse):
				t.Errorf("get: %v, want %v", err, h.refuse)
			}
			if got := sb.check(t, err == nil); err == nil && got != h.entries {
				t.Errorf("get wrote %d entries, want %d", got, h.entries)
			}
			if grew > 256*oneMiB {
				t.Errorf("get: the heap grew by %d MiB", grew/oneMiB)
			}
		})
	}

	t.Run("bundle", func(t *testing.T) { hostileBundle(t, n.Node, n.GatewayURL(), d) })
}

// pageText is the text of an HTML page, roughly, for the log.
func pageText(body []byte) string {
	var b strings.Builder
	in := false
	for _, r := range string(body) {
		switch {
		case r == '<':
			in = true
		case r == '>':
			in = false
			b.WriteByte(' ')
		case !in:
			b.WriteRune(r)
		}
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

// checkCAR reads a CAR: one root, every block once. It returns the bytes
// it read.
func checkCAR(t *testing.T, r io.Reader, root cid.Cid) int64 {
	t.Helper()
	cr := &counted{r: r}
	br, err := carv2.NewBlockReader(cr)
	if err != nil {
		t.Fatalf("car: %v", err)
	}
	if len(br.Roots) != 1 || !br.Roots[0].Equals(root) {
		t.Errorf("car roots %v, want %s", br.Roots, root)
	}
	seen := map[cid.Cid]bool{}
	for {
		b, err := br.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatalf("car: %v", err)
		}
		if seen[b.Cid()] {
			t.Errorf("car holds %s twice", b.Cid())
		}
		seen[b.Cid()] = true
	}
	return cr.n
}

type counted struct {
	r io.Reader
	n int64
}

func (c *counted) Read(p []byte) (int, error) {
	k, err := c.r.Read(p)
	c.n += int64(k)
	return k, err
}

// hostileBundle signs a bundle made of the hostile parts, whose manifest
// names the file bomb as its instructions and a lying file as its BOM, and
// reads it through the node's pages and gateway.
func hostileBundle(t *testing.T, n *node.Node, base string, d hostileDAGs) {
	ctx := t.Context()
	m := dagMaker{t: t, dag: n.DAG}
	files := m.dir(
		link{"bom.csv", d.claimMore},
		link{"bomb", d.folderBomb},
		link{"deep", d.deep},
		link{"instructions.md", d.fileBomb},
		link{"links", d.links},
		link{"names", d.names},
		link{"ok.txt", d.ok},
	)
	key, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	signed, err := manifest.Sign(manifest.Manifest{
		Schema: manifest.Schema, Name: "hostile-press", Title: "A hostile press", Summary: "Tiny in blocks, huge when expanded.",
		Version: "1", Sequence: 1, Kind: manifest.KindProductDesign, OpenSource: true,
		Licenses: manifest.Licenses{Hardware: "CERN-OHL-S-2.0", Software: "MIT", Documentation: "CC-BY-4.0"},
		Authors:  []manifest.Author{{Name: "Mallory"}}, Files: files, Size: 1, Message: "boom",
		Created:      time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC).Format(time.RFC3339),
		Bom:          &manifest.FileRef{Path: "bom.csv", Link: d.claimMore},
		Instructions: &manifest.FileRef{Path: "instructions.md", Link: d.fileBomb},
	}, key)
	if err != nil {
		t.Fatal(err)
	}
	root, err := manifest.Build(ctx, n.DAG, signed, cid.Undef)
	if err != nil {
		t.Fatal(err)
	}
	// It is a valid bundle: signed, laid out as signed. Its content is
	// the attack.
	if err := n.Pin(ctx, root, "hostile", nil); err != nil {
		t.Fatalf("pin the hostile bundle: %v", err)
	}
	r := root.String()
	client := &http.Client{Timeout: 5 * time.Minute, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	for _, rq := range []struct {
		what, path string
		want       int
		max        int64 // most body bytes expected
	}{
		{"page", "/bundles/" + r + "/", http.StatusOK, 4 * oneMiB},
		{"zip", "/bundles/" + r + ".zip", http.StatusUnprocessableEntity, 64 << 10},
		{"car", "/bundles/" + r + ".car", http.StatusOK, 16 * oneMiB},
		{"listing", "/ipfs/" + r + "/", http.StatusOK, 1 * oneMiB},
		{"tar", "/ipfs/" + r + "?format=tar", http.StatusUnprocessableEntity, 64 << 10},
		{"instructions", "/ipfs/" + r + "/instructions.md", http.StatusOK, -1},
	} {
		var status int
		var size int64
		var body []byte
		began := time.Now()
		grew := heapPeak(func() {
			res, err := client.Get(base + rq.path)
			if err != nil {
				t.Errorf("%s: %v", rq.what, err)
				return
			}
			defer res.Body.Close()
			status = res.StatusCode
			// Read a little more than expected; the file bomb is read to
			// 64 MiB, then the client hangs up, as a browser would. Only
			// pages are kept, so that the heap measured is the node's.
			limit := rq.max + 1
			if rq.max < 0 {
				limit = 64 * oneMiB
			}
			cr := &counted{r: io.LimitReader(res.Body, limit)}
			switch {
			case rq.what == "car" && status == http.StatusOK:
				checkCAR(t, cr, root)
				_, err = io.Copy(io.Discard, cr)
			case rq.max >= 0:
				body, err = io.ReadAll(cr)
			default:
				_, err = io.Copy(io.Discard, cr)
			}
			size = cr.n
			if err != nil {
				t.Errorf("%s: body after %d bytes: %v", rq.what, size, err)
			}
		})
		t.Logf("%-12s %d %9d bytes in %-8s heap +%.1f MiB", rq.what, status, size, time.Since(began).Round(time.Millisecond), float64(grew)/oneMiB)
		if status != rq.want {
			t.Errorf("%s: status %d, want %d: %.300s", rq.what, status, rq.want, body)
		}
		if rq.max >= 0 && size > rq.max {
			t.Errorf("%s: %d bytes, more than %d", rq.what, size, rq.max)
		}
		if grew > 256*oneMiB {
			t.Errorf("%s: the heap grew by %d MiB", rq.what, grew/oneMiB)
		}
		switch rq.what {
		case "page":
			if bad := unsafeMarkup(t, body); len(bad) > 0 {
				t.Errorf("page: %q", bad)
			}
			// The instructions are the bomb's bytes, rendered as text
			// (1 MiB of them); the names with control characters are
			// left out of the file list.
			for _, name := range []string{"nul\x00x", "new\nline", "esc\x1b[31mred"} {
				if bytes.Contains(body, []byte(name)) {
					t.Errorf("page: the name %q reached the page", name)
				}
			}
		case "zip":
			if !bytes.Contains(body, []byte("cannot be downloaded as a zip")) || !(bytes.Contains(body, []byte("DAG bomb")) || bytes.Contains(body, []byte("too large"))) {
				t.Errorf("zip: the refusal does not say why: %.500s", body)
			}
		}
		if status >= 400 {
			t.Logf("%s: %.300s", rq.what, pageText(body))
		}
	}

	// Get of the bundle: verified, then refused before anything lands.
	sb := newSandbox(t)
	err = n.Get(ctx, r, sb.target, nil)
	t.Logf("get bundle: %.300v", err)
	if err == nil {
		t.Error("get wrote the hostile bundle")
	}
	sb.check(t, false)
}

// TestFetchTimeoutCountsStoredBlocks: the fetch timeout is a limit on
// silence, not on work. Pinning a DAG that is all stored here reads it
// block by block, and a deep one (10,000 levels, as a peer could build)
// takes longer than the timeout to read; every block read is progress.
// CI once saw this fail as "no peer sent any block" under load.
func TestFetchTimeoutCountsStoredBlocks(t *testing.T) {
	nw := nodetest.New(t, 1, nodetest.Options{Settings: func(_ int, s *config.Config) {
		s.Fetch.Timeout = config.Duration(time.Second)
	}})
	n := nw.Nodes[0]
	m := dagMaker{t: t, dag: n.DAG}
	deep := m.dir(link{"bottom.txt", m.raw([]byte("the bottom\n"))})
	for range 10000 {
		deep = m.dir(link{"d", deep})
	}
	began := time.Now()
	if err := n.Pin(t.Context(), deep, "deep", nil); err != nil {
		t.Fatalf("pin of a stored DAG 10,000 levels deep, after %s: %v", time.Since(began).Round(time.Millisecond), err)
	}
	t.Logf("pinned 10,000 levels in %s with a 1 s fetch timeout", time.Since(began).Round(time.Millisecond))
}

package pages

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/pkg/metadata"
	"github.com/commons-p2p/commons/pkg/search"
)

// fakeDesigns is an in-memory Designs for the handler's tests: bundles by
// CID, and their files as paths "/ipfs/<root>/<path>" (folders are implied
// by the paths). The end-to-end tests in package node run the real node.
type fakeDesigns struct {
	infos   map[string]api.BundleInfo // by CID string and by name
	files   map[string][]byte
	list    []api.BundleSummary
	libs    []api.LibraryInfo
	pins    []api.PinInfo
	hist    map[string]api.History
	diffs   map[string]api.DiffResult // "old new"
	lineage map[string]api.Lineage
	hits    []search.Hit
	fail    error // returned by every listing when set
	car     []byte
	carErr  error
	carCut  error // returned after car is written: a CAR cut off
}

var _ Designs = (*fakeDesigns)(nil)

func testCID(t testing.TB, s string) cid.Cid {
	t.Helper()
	h, err := multihash.Sum([]byte(s), multihash.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.DagProtobuf, h)
}

func (f *fakeDesigns) Bundles(context.Context) ([]api.BundleSummary, error) {
	return f.list, f.fail
}

func (f *fakeDesigns) Show(_ context.Context, ref string) (api.BundleInfo, error) {
	if i, ok := f.infos[ref]; ok {
		return i, nil
	}
	if _, err := cid.Decode(ref); err != nil && strings.Contains(ref, "/") {
		return api.BundleInfo{}, fmt.Errorf("%w: bad ref", api.ErrInvalid)
	}
	if ref == "plainfolder" || f.files["/ipfs/"+ref+"/plain.txt"] != nil {
		return api.BundleInfo{}, fmt.Errorf("%w: %s is not a design bundle", api.ErrInvalid, ref)
	}
	return api.BundleInfo{}, fmt.Errorf("show %s: %w", ref, api.ErrNotFound)
}

func (f *fakeDesigns) History(_ context.Context, ref string) (api.History, error) {
	if h, ok := f.hist[ref]; ok {
		return h, nil
	}
	return api.History{}, fmt.Errorf("history %s: %w", ref, api.ErrNotFound)
}

func (f *fakeDesigns) Diff(_ context.Context, old, new string) (api.DiffResult, error) {
	if d, ok := f.diffs[old+" "+new]; ok {
		return d, nil
	}
	return api.DiffResult{}, fmt.Errorf("diff %s: %w", old, api.ErrNotFound)
}

func (f *fakeDesigns) Lineage(_ context.Context, ref string) (api.Lineage, error) {
	if l, ok := f.lineage[ref]; ok {
		return l, nil
	}
	return api.Lineage{}, nil
}

func (f *fakeDesigns) Cat(_ context.Context, p string) (io.ReadCloser, error) {
	if b, ok := f.files[p]; ok {
		return io.NopCloser(bytes.NewReader(b)), nil
	}
	return nil, fmt.Errorf("cat %s: %w", p, api.ErrNotFound)
}

func (f *fakeDesigns) Ls(_ context.Context, p string) ([]api.Entry, error) {
	p = strings.TrimSuffix(p, "/")
	seen := map[string]api.Entry{}
	for k, v := range f.files {
		rest, ok := strings.CutPrefix(k, p+"/")
		if !ok {
			continue
		}
		name, sub, isDir := strings.Cut(rest, "/")
		_ = sub
		if isDir {
			seen[name] = api.Entry{Name: name, Type: "directory", Size: -1}
		} else {
			seen[name] = api.Entry{Name: name, Type: "file", Size: int64(len(v))}
		}
	}
	if len(seen) == 0 {
		return nil, fmt.Errorf("ls %s: %w", p, api.ErrNotFound)
	}
	var out []api.Entry
	for _, e := range seen {
		out = append(out, e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name > out[j].Name }) // any order
	return out, nil
}

func (f *fakeDesigns) Export(_ context.Context, p string, w io.Writer, _ func(api.Progress)) error {
	if f.carErr != nil {
		return f.carErr
	}
	if _, err := w.Write(f.car); err != nil {
		return err
	}
	return f.carCut
}

func (f *fakeDesigns) Libraries(context.Context) ([]api.LibraryInfo, error) { return f.libs, f.fail }
func (f *fakeDesigns) Pins(context.Context) ([]api.PinInfo, error)          { return f.pins, f.fail }

func (f *fakeDesigns) Search(_ context.Context, q string, limit int) ([]search.Hit, error) {
	if _, err := search.Parse(q); err != nil {
		return nil, err
	}
	if f.fail != nil {
		return nil, f.fail
	}
	return f.hits, nil
}

// hostile is text that must never reach a page as markup.
const hostile = `<script>alert(1)</script><img src=x onerror=alert(2)>"'&`

// fixture is a fake node with two versions of a bundle (v2 the head, with
// hostile text in every field and file name) and a fork.
type fixture struct {
	d            *fakeDesigns
	v1, v2, fork cid.Cid
}

func newFixture(t testing.TB) *fixture {
	v1, v2, fork := testCID(t, "v1"), testCID(t, "v2"), testCID(t, "fork")
	files := testCID(t, "files")
	pub := "12D3KooWPublisher"
	lic := metadata.Licenses{Hardware: "CERN-OHL-S-2.0", Software: "GPL-3.0-or-later", Documentation: "NONE"}
	info2 := api.BundleInfo{
		CID: v2, Manifest: testCID(t, "m2"), Name: "brick-press", Title: "Brick press " + hostile, Summary: "Summary " + hostile,
		Version: "1.1", Sequence: 2, Kind: "product-design", Tags: []string{"earth", hostile}, Licenses: lic, Open: true,
		Authors: []metadata.Author{{Name: "Ada " + hostile, Contact: "https://example.org/ada"}, {Name: "Bo", Contact: "bo@example.org"}, {Name: "Cy", Contact: "javascript:alert(3)"}},
		Files:   files, Size: 12345, BOM: "bom.csv", Instructions: "docs/instructions.md", Parents: []cid.Cid{v1},
		Log: []api.LogEntry{
			{Time: "2026-11-20T10:00:00Z", Author: "Ada", Text: "frame welded " + hostile, Attachments: []string{".commons/log/0001-frame.jpg"}},
			{Time: "2026-11-21T10:00:00Z", Author: "Bo", Text: "second entry", Attachments: []string{".commons/log/0002-notes.txt"}},
		},
		Message: "stronger lever " + hostile, Created: "2026-11-21T12:00:00Z", Publisher: pub, Head: true,
	}
	info1 := info2
	info1.CID, info1.Sequence, info1.Version, info1.Head, info1.Parents, info1.Log = v1, 1, "1.0", false, nil, nil
	infoFork := info2
	infoFork.CID, infoFork.Name, infoFork.Title, infoFork.Sequence, infoFork.DerivedFrom = fork, "my-press", "My press", 1, []cid.Cid{v2}

	instructions := "# Build\n\nSee ![side view](../images/side.svg) and [the frame](../cad/frame.scad).\n\n" +
		"<script>alert('md')</script>\n\n<img src=x onerror=alert('img')>\n\n[click](javascript:alert('js'))\n\n" +
		"![remote](https://tracker.example/pixel.png)\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
	bomCSV := "part,part number,quantity,unit,unit cost,currency,supplier,link,colour\n" +
		`"tube ` + strings.ReplaceAll(hostile, `"`, `""`) + `",T-1,3.2,m,9.50,USD,Steel & Co,javascript:alert(4),red` + "\n" +
		"bolt,B-2,4,pcs,0.90,USD,,https://example.org/bolt,\n" +
		"paint,,1,l,,USD,,,\n"
	fs := map[string][]byte{}
	for _, root := range []cid.Cid{v1, v2} {
		base := "/ipfs/" + root.String() + "/"
		fs[base+"docs/instructions.md"] = []byte(instructions)
		fs[base+"bom.csv"] = []byte(bomCSV)
		fs[base+"images/side.svg"] = []byte(`<svg xmlns="http://www.w3.org/2000/svg"><script>alert(5)</script></svg>`)
		fs[base+"cad/frame.scad"] = []byte("cube(10);")
		fs[base+`"><img src=x onerror=alert(6)>.txt`] = []byte("name with markup")
		fs[base+".commons/bundle.cbor"] = []byte("manifest")
		fs[base+".commons/log/0001-frame.jpg"] = []byte("jpeg")
		fs[base+".commons/log/0002-notes.txt"] = []byte("notes")
	}
	// Ls of the files folder: the same tree without .commons.
	for k, v := range fs {
		if strings.HasPrefix(k, "/ipfs/"+v2.String()+"/") && !strings.Contains(k, "/.commons/") {
			fs["/ipfs/"+files.String()+"/"+strings.TrimPrefix(k, "/ipfs/"+v2.String()+"/")] = v
		}
	}
	fs["/ipfs/"+testCID(t, "plain").String()+"/plain.txt"] = []byte("plain")

	sum2 := api.BundleSummary{CID: v2, Name: info2.Name, Title: info2.Title, Summary: info2.Summary, Version: "1.1", Sequence: 2,
		Tags: info2.Tags, Licenses: lic, Created: info2.Created, Publisher: pub, Open: true, Message: info2.Message,
		Changes: &api.ChangeSummary{Added: 1, Changed: 2}}
	sum1 := sum2
	sum1.CID, sum1.Sequence, sum1.Version, sum1.Changes, sum1.Message = v1, 1, "1.0", nil, "first"
	sumFork := api.BundleSummary{CID: fork, Name: "my-press", Title: "My press", Sequence: 1, Publisher: "12D3KooWOther", Open: false,
		Created: "2026-11-22T08:00:00Z", Licenses: metadata.Licenses{Hardware: "CERN-OHL-S-2.0", Software: "NONE", Documentation: "CC-BY-4.0"}}
	hist := api.History{Versions: []api.BundleSummary{sum2, sum1}}
	d := &fakeDesigns{
		infos: map[string]api.BundleInfo{v2.String(): info2, v1.String(): info1, fork.String(): infoFork, "brick-press": info2},
		files: fs,
		list:  []api.BundleSummary{sum2, sumFork},
		libs: []api.LibraryInfo{
			{Name: "k51own", Title: "Our workshop " + hostile, Publisher: pub, Sequence: 3, Own: true, Updated: "2026-11-21T12:00:00Z",
				Bundles: []api.LibraryEntry{{Name: "brick-press", Title: info2.Title, Summary: "lib summary", Root: v2, Sequence: 2, Open: true, Updated: info2.Created}}},
			{Name: "k51followed", Title: "", Publisher: "12D3KooWOther", Sequence: 0, Following: &api.FollowPolicy{Mode: api.PolicyLatest}},
		},
		pins:    []api.PinInfo{{CID: v2, Type: "recursive", Name: "brick-press"}, {CID: testCID(t, "plain"), Type: "recursive", Name: "plain " + hostile}, {CID: v1, Type: "direct"}},
		hist:    map[string]api.History{v2.String(): hist},
		lineage: map[string]api.Lineage{v2.String(): {Derivatives: []api.LineageLink{{Depth: 1, Bundle: sumFork, Known: true, Via: v2}}}, fork.String(): {DerivedFrom: []api.LineageLink{{Depth: 1, Bundle: sum2, Known: true, Via: v2}}}},
		diffs: map[string]api.DiffResult{v1.String() + " " + v2.String(): {
			Old: sum1, New: sum2, NewBytes: 2048, NewBlocks: 3,
			Files:        []api.FileChange{{Path: "bom.csv", Change: "changed", Type: "file", OldSize: 100, NewSize: 120}, {Path: hostile, Change: "added", Type: "file", NewSize: 5}},
			Metadata:     []string{`version: "1.0" -> "1.1"`},
			Instructions: "--- old/instructions.md\n+++ new/instructions.md\n@@ -1,2 +1,2 @@\n # Build\n-old line\n+new line " + hostile + "\n",
			BOM: &api.BOMDiff{Added: []api.BOMLine{{Part: "paint", Quantity: "1", Unit: "l"}},
				Changed: []api.BOMChange{{Part: "tube", Fields: []string{"quantity"}, Old: api.BOMLine{Part: "tube", Quantity: "3", Unit: "m", UnitCost: "9.5", Currency: "USD"}, New: api.BOMLine{Part: "tube", Quantity: "3.2", Unit: "m", UnitCost: "9.5", Currency: "USD"}}},
				Before:  []api.BOMTotal{{Currency: "USD", Amount: "32.1"}}, After: []api.BOMTotal{{Currency: "USD", Amount: "34.0", Missing: 1}}},
		}},
		hits: []search.Hit{{ID: v2.String(), Name: "brick-press", Title: info2.Title, Sequence: 2, Head: true, Open: true,
			Snippet: []search.Fragment{{Text: "weld the "}, {Text: "mould", Match: true}, {Text: " " + hostile}}}},
		car: []byte("CAR bytes"),
	}
	return &fixture{d: d, v1: v1, v2: v2, fork: fork}
}

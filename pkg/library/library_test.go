package library

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/ipfs/boxo/ipld/merkledag"
	mdtest "github.com/ipfs/boxo/ipld/merkledag/test"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/boxo/ipns"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

func key(t testing.TB) crypto.PrivKey {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// folder stores a small UnixFS folder standing in for a bundle root.
func folder(t testing.TB, dag ipld.DAGService, content string) *merkledag.ProtoNode {
	t.Helper()
	ctx := context.Background()
	f := merkledag.NewRawNode([]byte(content))
	d := ft.EmptyDirNode()
	if err := d.SetCidBuilder(dagPB); err != nil {
		t.Fatal(err)
	}
	if err := d.AddNodeLink("README.md", f); err != nil {
		t.Fatal(err)
	}
	if err := dag.AddMany(ctx, []ipld.Node{f, d}); err != nil {
		t.Fatal(err)
	}
	return d
}

func entry(t testing.TB, dag ipld.DAGService, name string, seq int64) Entry {
	d := folder(t, dag, fmt.Sprintf("%s v%d", name, seq))
	return Entry{Name: name, Root: d.Cid(), Sequence: seq, Size: 10, Title: "The " + name, OpenSource: true, Updated: "2026-11-22T10:00:00Z"}
}

func signed(t testing.TB, k crypto.PrivKey, l Library) *SignedLibrary {
	t.Helper()
	s, err := Sign(l, k)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRoundTrip(t *testing.T) {
	ctx := context.Background()
	dag := mdtest.Mock()
	k := key(t)
	other := key(t)
	otherName, _ := NameOf(other.GetPublic())
	l := Library{Title: "Campus library", Sequence: 3}
	l = l.With(entry(t, dag, "tractor", 2)).With(entry(t, dag, "brick-press", 5))
	l, _ = l.WithInclude(otherName.String(), false)
	s := signed(t, k, l)
	root, err := Build(ctx, dag, s)
	if err != nil {
		t.Fatal(err)
	}
	v, err := Load(ctx, dag, root, k.GetPublic())
	if err != nil {
		t.Fatal(err)
	}
	got := v.Library()
	if got.Title != "Campus library" || got.Sequence != 3 || len(got.Bundles) != 2 || got.Bundles[0].Name != "brick-press" {
		t.Fatalf("loaded %+v", got)
	}
	if len(got.Includes) != 1 || got.Includes[0] != otherName.String() {
		t.Fatalf("includes %v", got.Includes)
	}
	name, err := got.Name()
	if err != nil {
		t.Fatal(err)
	}
	want, _ := NameOf(k.GetPublic())
	if !name.Equal(want) {
		t.Fatalf("name %s, want %s", name, want)
	}
	if !v.RecordCID.Equals(CID(v.Block)) {
		t.Fatal("record CID does not match the block")
	}
	// Bundles are reachable by name from the root, as in any gateway.
	rn, _ := dag.Get(ctx, root)
	if _, _, err := rn.ResolveLink([]string{"tractor"}); err != nil {
		t.Fatalf("tractor is not an entry of the root: %v", err)
	}
	// Any key verifies when none is expected; the wrong one is refused.
	if _, err := Load(ctx, dag, root, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(ctx, dag, root, other.GetPublic()); !errors.Is(err, ErrWrongPublisher) {
		t.Fatalf("wrong expected key: %v", err)
	}
	js, err := s.JSON()
	if err != nil || !bytes.Contains(js, []byte(`"schema":"commons/library/1"`)) {
		t.Fatalf("json: %v %s", err, js)
	}
}

func TestLargeLibraryShards(t *testing.T) {
	ctx := context.Background()
	dag := mdtest.Mock()
	k := key(t)
	l := Library{Sequence: 1}
	for i := range 4500 {
		l = l.With(entry(t, dag, fmt.Sprintf("design-part-number-%05d", i), 1))
	}
	root, err := Build(ctx, dag, signed(t, k, l))
	if err != nil {
		t.Fatal(err)
	}
	rn, _ := dag.Get(ctx, root)
	fs, err := ft.FSNodeFromBytes(rn.(*merkledag.ProtoNode).Data())
	if err != nil || fs.Type() != ft.THAMTShard {
		t.Fatalf("a 4500-entry library root should be a HAMT shard, is %v (%v)", fs, err)
	}
	v, err := Load(ctx, dag, root, k.GetPublic())
	if err != nil {
		t.Fatal(err)
	}
	if len(v.Library().Bundles) != 4500 {
		t.Fatal(len(v.Library().Bundles))
	}
}

func TestRefusals(t *testing.T) {
	ctx := context.Background()
	dag := mdtest.Mock()
	k := key(t)
	l := Library{Sequence: 1}.With(entry(t, dag, "tractor", 1))
	s := signed(t, k, l)
	block, _ := s.Encode()

	// A root whose entry differs from the record.
	swapped := func() cid.Cid {
		tampered := *s
		tampered.Library = s.Library.With(entry(t, dag, "tractor", 9))
		tampered.Library.Sequence = 1
		// Keep the original signature: the record no longer matches it.
		root, err := Build(ctx, dag, &tampered)
		if err != nil {
			t.Fatal(err)
		}
		return root
	}()
	if _, err := Load(ctx, dag, swapped, k.GetPublic()); !errors.Is(err, ErrBadSignature) {
		t.Fatalf("tampered record: %v", err)
	}

	// A valid record in a root with an extra folder.
	root, err := Build(ctx, dag, s)
	if err != nil {
		t.Fatal(err)
	}
	rn, _ := dag.Get(ctx, root)
	extra := rn.(*merkledag.ProtoNode).Copy().(*merkledag.ProtoNode)
	if err := extra.AddNodeLink("smuggled", folder(t, dag, "x")); err != nil {
		t.Fatal(err)
	}
	_ = dag.Add(ctx, extra)
	if _, err := Load(ctx, dag, extra.Cid(), nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("extra entry: %v", err)
	}
	// One with the entry missing.
	missing := rn.(*merkledag.ProtoNode).Copy().(*merkledag.ProtoNode)
	_ = missing.RemoveNodeLink("tractor")
	_ = dag.Add(ctx, missing)
	if _, err := Load(ctx, dag, missing.Cid(), nil); !errors.Is(err, ErrInvalid) {
		t.Fatalf("missing entry: %v", err)
	}
	// A plain folder is no library.
	if _, err := Load(ctx, dag, folder(t, dag, "plain").Cid(), nil); !errors.Is(err, ErrNotLibrary) {
		t.Fatalf("plain folder: %v", err)
	}

	// Non-canonical encodings and broken limits do not decode.
	if _, err := Decode(append(append([]byte{}, block...), 0)); !errors.Is(err, ErrInvalid) {
		t.Fatalf("trailing byte: %v", err)
	}
	for _, tc := range []struct {
		name string
		edit func(*Library)
	}{
		{"unsorted", func(l *Library) {
			l.Bundles = append(l.Bundles, Entry{Name: "aaa", Root: l.Bundles[0].Root, Sequence: 1, Updated: l.Created})
		}},
		{"duplicate", func(l *Library) { l.Bundles = append(l.Bundles, l.Bundles[0]) }},
		{"bad name", func(l *Library) { l.Bundles[0].Name = "../etc" }},
		{"raw root", func(l *Library) { l.Bundles[0].Root = CID([]byte("x")) }},
		{"zero sequence", func(l *Library) { l.Sequence = 0 }},
		{"bad include", func(l *Library) { l.Includes = []string{"example.org"} }},
		{"non-canonical include", func(l *Library) {
			id, _ := peer.IDFromPublicKey(k.GetPublic())
			l.Includes = []string{id.String()}
		}},
		{"schema", func(l *Library) { l.Schema = "commons/library/2" }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := s.Library
			l.Bundles = append([]Entry{}, l.Bundles...)
			tc.edit(&l)
			if err := l.Validate(); !errors.Is(err, ErrInvalid) {
				t.Fatalf("Validate: %v", err)
			}
			if _, err := Sign(l, k); err == nil && tc.name != "schema" {
				t.Fatal("signed an invalid library")
			}
		})
	}
}

func TestSelfIncludeDecodes(t *testing.T) {
	// Including oneself is harmless (followers keep a visited set), so a
	// record that does it is valid.
	k := key(t)
	n, _ := NameOf(k.GetPublic())
	l, _ := Library{Sequence: 1}.WithInclude(n.String(), false)
	s := signed(t, k, l)
	block, _ := s.Encode()
	if _, err := Decode(block); err != nil {
		t.Fatal(err)
	}
}

func TestNameRecords(t *testing.T) {
	k, other := key(t), key(t)
	root := CID([]byte("root"))
	dir := cid.NewCidV1(cid.DagProtobuf, root.Hash())
	rec, err := NewRecord(k, dir, 7, time.Hour, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if rec.Sequence != 7 || !rec.Root.Equals(dir) || rec.Expired(time.Now()) {
		t.Fatalf("record %+v", rec)
	}
	name, _ := NameOf(k.GetPublic())
	otherName, _ := NameOf(other.GetPublic())
	if _, err := CheckRecord(name, rec.Data); err != nil {
		t.Fatal(err)
	}
	// Presented as another name's record: refused.
	if _, err := CheckRecord(otherName, rec.Data); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("record under another name: %v", err)
	}
	// A record signed by another key for this name: refused.
	forged, err := NewRecord(other, dir, 8, time.Hour, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CheckRecord(name, forged.Data); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("forged record: %v", err)
	}
	// An expired record still verifies, and says it is expired.
	old, err := NewRecord(k, dir, 6, -time.Minute, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	got, err := CheckRecord(name, old.Data)
	if err != nil || !got.Expired(time.Now()) {
		t.Fatalf("expired record: %v %+v", err, got)
	}
	if _, err := CheckRecord(name, []byte("garbage")); !errors.Is(err, ErrBadRecord) {
		t.Fatalf("garbage: %v", err)
	}
}

func TestParseName(t *testing.T) {
	k := key(t)
	n, _ := NameOf(k.GetPublic())
	id, _ := peer.IDFromPublicKey(k.GetPublic())
	for _, s := range []string{n.String(), "/ipns/" + n.String(), id.String(), "/ipns/" + id.String() + "/", " " + n.String() + "\n"} {
		got, err := ParseName(s)
		if err != nil || !got.Equal(n) {
			t.Errorf("ParseName(%q) = %v, %v", s, got, err)
		}
	}
	for _, s := range []string{"", "/ipns/", "example.org", "bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi", "k51"} {
		if _, err := ParseName(s); !errors.Is(err, ErrBadName) {
			t.Errorf("ParseName(%q) = %v, want ErrBadName", s, err)
		}
	}
	_ = ipns.Name{}
}

func FuzzDecode(f *testing.F) {
	k := key(f)
	dag := mdtest.Mock()
	l := Library{Sequence: 2, Title: "t"}.With(entry(f, dag, "tractor", 1))
	s := signed(f, k, l)
	block, _ := s.Encode()
	f.Add(block)
	f.Add([]byte{0xa0})
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := Decode(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error without ErrInvalid: %v", err)
			}
			return
		}
		again, err := s.Encode()
		if err != nil || !bytes.Equal(again, data) {
			t.Fatalf("decoded record does not re-encode to its bytes: %v", err)
		}
		_ = s.Verify(nil)
	})
}

func FuzzCheckRecord(f *testing.F) {
	k := key(f)
	n, _ := NameOf(k.GetPublic())
	rec, err := NewRecord(k, CID([]byte("x")), 1, time.Hour, time.Minute)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(rec.Data)
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := CheckRecord(n, data); err != nil && !errors.Is(err, ErrBadRecord) {
			t.Fatalf("error without ErrBadRecord: %v", err)
		}
	})
}

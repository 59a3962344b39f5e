package sneakernet

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
	mh "github.com/multiformats/go-multihash"

	"github.com/commons-p2p/commons/pkg/library"
)

// libName returns the library name of a key made from seed.
func libName(t testing.TB, seed byte) string {
	t.Helper()
	k, _, err := crypto.GenerateEd25519Key(bytes.NewReader(bytes.Repeat([]byte{seed}, 64)))
	if err != nil {
		t.Fatal(err)
	}
	n, err := library.NameOf(k.GetPublic())
	if err != nil {
		t.Fatal(err)
	}
	return n.String()
}

// folderCID returns a CIDv1 dag-pb CID made from s.
func folderCID(t testing.TB, s string) cid.Cid {
	t.Helper()
	h, err := mh.Sum([]byte(s), mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return cid.NewCidV1(cid.DagProtobuf, h)
}

const created = "2026-05-01T10:00:00Z"

// names returns n library names in order.
func names(t testing.TB, n int) []string {
	var out []string
	for i := range n {
		out = append(out, libName(t, byte(i+1)))
	}
	slices.Sort(out)
	return out
}

// sampleHave has three libraries: record 3 with two versions (one listed
// twice before Sort), none yet with a quota, record 1 with one version.
func sampleHave(t testing.TB) *Have {
	root := folderCID(t, "library root")
	ns := names(t, 3)
	h := &Have{Schema: HaveSchema, Created: created, Node: "12D3KooWRR8jLpLrjfEYogqyyn4rjXEgPggZc2AvczNDwyHfYpwt", Libraries: []HaveLibrary{
		{Name: ns[0], Sequence: 3, Root: &root, Policy: Policy{Mode: "all"}, Versions: []cid.Cid{folderCID(t, "v2"), folderCID(t, "v1"), folderCID(t, "v1")}},
		{Name: ns[1], Policy: Policy{Mode: "quota", Quota: 1 << 30}, Versions: []cid.Cid{}},
		{Name: ns[2], Sequence: 1, Root: &root, Policy: Policy{Mode: "latest"}, Versions: []cid.Cid{folderCID(t, "v9")}},
	}}
	h.Sort()
	return h
}

func sampleManifest(t testing.TB) *Manifest {
	ns := names(t, 2)
	m := &Manifest{Schema: ManifestSchema, Created: created, Node: "", Libraries: []ManifestLibrary{
		{Name: ns[0], Sequence: 4, Root: folderCID(t, "root b"), Record: []byte("an IPNS record"), Versions: []cid.Cid{folderCID(t, "x"), folderCID(t, "y")}},
		{Name: ns[1], Sequence: 1, Root: folderCID(t, "root a"), Record: []byte("another"), Versions: []cid.Cid{}},
	}}
	m.Sort()
	return m
}

func TestHaveRoundTrip(t *testing.T) {
	h := sampleHave(t)
	if got := h.Libraries[0].Versions; len(got) != 2 {
		t.Fatalf("Sort kept %d versions of 3 (one repeated)", len(got))
	}
	b, err := h.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeHave(b)
	if err != nil {
		t.Fatal(err)
	}
	again, _ := got.Encode()
	if !bytes.Equal(again, b) || len(got.Libraries) != 3 || got.Libraries[1].Policy.Mirror().Quota != 1<<30 {
		t.Fatalf("round trip: %+v", got)
	}
	if IsManifest(cid.NewCidV1(cid.DagCBOR, mustSum(t, b)), b) {
		t.Fatal("a have-file taken for an export manifest")
	}
	empty := &Have{Schema: HaveSchema, Created: created, Libraries: []HaveLibrary{}}
	if b, err := empty.Encode(); err != nil {
		t.Fatal(err)
	} else if _, err := DecodeHave(b); err != nil {
		t.Fatal(err)
	}
}

func mustSum(t testing.TB, b []byte) mh.Multihash {
	h, err := mh.Sum(b, mh.SHA2_256, -1)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func TestManifestRoundTrip(t *testing.T) {
	m := sampleManifest(t)
	b, err := m.Encode()
	if err != nil {
		t.Fatal(err)
	}
	got, err := DecodeManifest(b)
	if err != nil {
		t.Fatal(err)
	}
	if got.Libraries[0].Name >= got.Libraries[1].Name || !got.Libraries[0].Root.Equals(folderCID(t, "root b")) || len(got.Libraries[0].Versions) != 2 {
		t.Fatalf("round trip: %+v", got)
	}
	if !IsManifest(CID(b), b) {
		t.Fatal("IsManifest does not know a manifest")
	}
	if IsManifest(cid.NewCidV1(cid.Raw, mustSum(t, b)), b) {
		t.Fatal("a raw block taken for a manifest")
	}
}

// TestRefusals: every rule of Validate, on both Encode (which refuses to
// write what Decode would refuse) and the decoders.
func TestRefusals(t *testing.T) {
	root := folderCID(t, "r")
	raw := cid.NewCidV1(cid.Raw, mustSum(t, []byte("raw")))
	v0 := cid.NewCidV0(mustSum(t, []byte("v0")))
	haves := []struct {
		name string
		edit func(h *Have)
		msg  string
	}{
		{"schema", func(h *Have) { h.Schema = "commons/have/2" }, "a newer commons"},
		{"created", func(h *Have) { h.Created = "yesterday" }, "RFC 3339"},
		{"node", func(h *Have) { h.Node = "not a peer" }, "not a peer ID"},
		{"unsorted", func(h *Have) { h.Libraries[0], h.Libraries[1] = h.Libraries[1], h.Libraries[0] }, "not sorted"},
		{"twice", func(h *Have) { h.Libraries[1] = h.Libraries[0] }, "appears twice"},
		{"peer ID as name", func(h *Have) {
			n, _ := library.ParseName(h.Libraries[0].Name)
			h.Libraries[0].Name = n.Peer().String()
		}, "canonical form"},
		{"not a name", func(h *Have) { h.Libraries[0].Name = "example.org" }, "not a library name"},
		{"negative sequence", func(h *Have) { h.Libraries[0].Sequence = -1 }, "sequence -1"},
		{"root without record", func(h *Have) { h.Libraries[1].Root = &root }, "without a record"},
		{"record without root", func(h *Have) { h.Libraries[0].Root = nil }, "without its root"},
		{"raw root", func(h *Have) { h.Libraries[0].Root = &raw }, "UnixFS folder"},
		{"version of another kind", func(h *Have) { h.Libraries[2].Versions = []cid.Cid{raw} }, "UnixFS folder"},
		{"no mode", func(h *Have) { h.Libraries[0].Policy = Policy{} }, "no policy mode"},
		{"bad mode", func(h *Have) { h.Libraries[0].Policy = Policy{Mode: "sometimes"} }, "policy"},
		{"quota without mode", func(h *Have) { h.Libraries[0].Policy = Policy{Mode: "all", Quota: 5} }, "quota"},
		{"quota of 0", func(h *Have) { h.Libraries[1].Policy = Policy{Mode: "quota"} }, "quota"},
		{"unsorted versions", func(h *Have) { slices.Reverse(h.Libraries[0].Versions) }, "not sorted"},
		{"CIDv0 version", func(h *Have) { h.Libraries[2].Versions = []cid.Cid{v0} }, "CIDv1"},
		{"too many libraries", func(h *Have) {
			for i := range MaxLibraries {
				h.Libraries = append(h.Libraries, HaveLibrary{Name: fmt.Sprint(i)})
			}
		}, "libraries, more than"},
	}
	for _, tc := range haves {
		t.Run("have/"+tc.name, func(t *testing.T) {
			h := sampleHave(t)
			good, err := h.Encode()
			if err != nil {
				t.Fatal(err)
			}
			tc.edit(h)
			if _, err := h.Encode(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Encode: %v, want %q", err, tc.msg)
			}
			// The same, encoded regardless, is refused by DecodeHave.
			b, err := encode(h, "Have")
			if err != nil {
				t.Fatal(err)
			}
			if bytes.Equal(b, good) {
				t.Fatal("the edit changed nothing")
			}
			if _, err := DecodeHave(b); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("DecodeHave: %v, want %q", err, tc.msg)
			}
		})
	}
	manifests := []struct {
		name string
		edit func(m *Manifest)
		msg  string
	}{
		{"schema", func(m *Manifest) { m.Schema = HaveSchema }, "is not"},
		{"sequence", func(m *Manifest) { m.Libraries[0].Sequence = 0 }, "count from 1"},
		{"root", func(m *Manifest) { m.Libraries[0].Root = raw }, "UnixFS folder"},
		{"no record", func(m *Manifest) { m.Libraries[0].Record = nil }, "IPNS record of 0 bytes"},
		{"huge record", func(m *Manifest) { m.Libraries[0].Record = make([]byte, 10<<10+1) }, "IPNS record of"},
		{"twice", func(m *Manifest) { m.Libraries[1] = m.Libraries[0] }, "appears twice"},
		{"version twice", func(m *Manifest) { m.Libraries[0].Versions[1] = m.Libraries[0].Versions[0] }, "appears twice"},
	}
	for _, tc := range manifests {
		t.Run("manifest/"+tc.name, func(t *testing.T) {
			m := sampleManifest(t)
			tc.edit(m)
			if _, err := m.Encode(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("Encode: %v, want %q", err, tc.msg)
			}
			b, err := encode(m, "Manifest")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := DecodeManifest(b); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.msg) {
				t.Fatalf("DecodeManifest: %v, want %q", err, tc.msg)
			}
		})
	}
}

// TestDecodeLimits: sizes and counts over the limits, trailing bytes and
// encodings that are not canonical are refused before or while decoding.
func TestDecodeLimits(t *testing.T) {
	b, err := sampleHave(t).Encode()
	if err != nil {
		t.Fatal(err)
	}
	for name, in := range map[string][]byte{
		"too large":      make([]byte, MaxHaveSize+1),
		"trailing bytes": append(bytes.Clone(b), 0),
		"cut short":      b[:len(b)-3],
		"empty":          nil,
		"not a map":      {0x80},
	} {
		if _, err := DecodeHave(in); !errors.Is(err, ErrInvalid) {
			t.Errorf("%s: %v", name, err)
		}
	}
	if _, err := DecodeManifest(make([]byte, MaxManifestSize+1)); !errors.Is(err, ErrInvalid) {
		t.Errorf("manifest too large: %v", err)
	}
	// An integer written in a longer form than it needs: same data, not
	// canonical. The sequence 3 is "sequence" 0x03 in the canonical form.
	i := bytes.Index(b, append([]byte("sequence"), 0x03))
	if i < 0 {
		t.Fatal("no sequence 3 in the sample")
	}
	long := append(append(bytes.Clone(b[:i+8]), 0x18, 0x03), b[i+9:]...)
	if _, err := DecodeHave(long); !errors.Is(err, ErrInvalid) {
		t.Errorf("non-canonical integer: %v", err)
	}
	// Too many versions in all.
	h := sampleHave(t)
	many := make([]cid.Cid, 0, MaxHaveVersions)
	for i := range MaxHaveVersions {
		many = append(many, folderCID(t, fmt.Sprint(i)))
	}
	h.Libraries[0].Versions = many
	h.Sort()
	if _, err := h.Encode(); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("too many versions: %v", err)
	}
}

// FuzzDecodeHave feeds arbitrary bytes to DecodeHave (seed corpus in
// testdata/fuzz/FuzzDecodeHave). It must not panic; what it accepts must
// be valid and encode back to exactly the input.
func FuzzDecodeHave(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		h, err := DecodeHave(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if err := h.Validate(); err != nil {
			t.Fatalf("accepted an invalid have-file: %v", err)
		}
		b, err := h.Encode()
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("accepted a have-file that does not encode back to itself: %v", err)
		}
	})
}

// FuzzDecodeManifest is FuzzDecodeHave for export manifests; IsManifest
// must not panic either, and must know every manifest accepted.
func FuzzDecodeManifest(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		claimed := IsManifest(CID(data), data)
		m, err := DecodeManifest(data)
		if err != nil {
			if !errors.Is(err, ErrInvalid) {
				t.Fatalf("error does not wrap ErrInvalid: %v", err)
			}
			return
		}
		if !claimed {
			t.Fatal("IsManifest does not know a manifest DecodeManifest accepts")
		}
		b, err := m.Encode()
		if err != nil || !bytes.Equal(b, data) {
			t.Fatalf("accepted a manifest that does not encode back to itself: %v", err)
		}
	})
}

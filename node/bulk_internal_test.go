package node

import (
	"testing"

	"github.com/ipfs/go-cid"
	"github.com/multiformats/go-multihash"
)

// TestBulkPriority: metadata, then what a builder reads, then folders and
// small images, then the rest.
func TestBulkPriority(t *testing.T) {
	for _, tc := range []struct {
		path string
		size uint64
		want int
	}{
		{"", 0, 0},
		{".commons", 900, 0},
		{"press/.commons/bundle.cbor", 900, 0},
		{"instructions.md", 4 << 10, 1},
		{"docs/BUILD.MD", 4 << 10, 1},
		{"bom.csv", 300, 1},
		{"README", 100, 1},
		{"LICENSE.txt", 100, 1},
		{"cad", 50 << 20, 2},
		{"photos/frame.jpg", 300 << 10, 2},
		{"photos/poster.png", 5 << 20, 3},
		{"cad/frame.step", 40 << 20, 3},
		{"cad/frame.FCStd", 1 << 10, 3},
	} {
		if got := bulkPriority(tc.path, tc.size); got != tc.want {
			t.Errorf("bulkPriority(%q, %d) = %d, want %d", tc.path, tc.size, got, tc.want)
		}
	}
}

// TestBulkItemOrder: the queue hands out items by priority, then size.
func TestBulkItemOrder(t *testing.T) {
	f := &bulkFetch{queued: map[string]bool{}}
	mk := func(p string, size uint64) *item {
		c := cidOfString(t, p)
		return &item{c: c, path: p, size: size, whole: true, prio: bulkPriority(p, size)}
	}
	f.push([]*item{mk("cad/frame.step", 40<<20), mk("bom.csv", 300), mk("photo.jpg", 90<<10), mk("instructions.md", 4<<10), mk("cad/bolt.step", 1<<20)})
	var got []string
	for it := f.pop(); it != nil; it = f.pop() {
		got = append(got, it.path)
	}
	want := []string{"bom.csv", "instructions.md", "photo.jpg", "cad/bolt.step", "cad/frame.step"}
	for i := range want {
		if i >= len(got) || got[i] != want[i] {
			t.Fatalf("order %v, want %v", got, want)
		}
	}
}

func cidOfString(t *testing.T, s string) cid.Cid {
	t.Helper()
	c, err := cid.V1Builder{Codec: cid.Raw, MhType: multihash.SHA2_256}.Sum([]byte(s))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

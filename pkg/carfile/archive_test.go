package carfile

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

// TestArchive: Open checks a CAR once and then serves its blocks in any
// order, from a file where it stands or from a spooled copy of a stream;
// Get checks each block again.
func TestArchive(t *testing.T) {
	ctx := context.Background()
	src := newStore()
	b := buildBundle(t, src)
	data := exportCAR(t, src, b.root)
	_, secs := readSections(t, data)
	for _, tc := range []struct {
		name string
		open func(t *testing.T) io.Reader
	}{
		{"file", func(t *testing.T) io.Reader {
			p := filepath.Join(t.TempDir(), "x.car")
			// A prefix before the CAR: Open reads from where the file stands.
			if err := os.WriteFile(p, append([]byte("prefix"), data...), 0o644); err != nil {
				t.Fatal(err)
			}
			f, err := os.Open(p)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { f.Close() })
			if _, err := f.Seek(6, io.SeekStart); err != nil {
				t.Fatal(err)
			}
			return f
		}},
		{"stream", func(t *testing.T) io.Reader { return io.MultiReader(bytes.NewReader(data)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ar, err := Open(ctx, tc.open(t), ImportOptions{TempDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			defer ar.Close()
			if !slices.EqualFunc(ar.Roots(), []cid.Cid{b.root}, cid.Cid.Equals) || ar.Result().Blocks != int64(len(secs)) {
				t.Fatalf("roots %v, result %+v", ar.Roots(), ar.Result())
			}
			if !slices.EqualFunc(ar.Keys(), cidsOf(secs), cid.Cid.Equals) {
				t.Fatal("Keys is not the blocks in file order")
			}
			for _, s := range slices.Backward(secs) {
				blk, err := ar.Get(ctx, s.cid)
				if err != nil || !bytes.Equal(blk.RawData(), s.data) || !ar.Has(s.cid) {
					t.Fatalf("Get %s: %v", s.cid, err)
				}
				if n, ok := ar.Size(s.cid); !ok || n != len(s.data) {
					t.Fatalf("Size %s = %d, %t", s.cid, n, ok)
				}
			}
			absent := rawBlock(t, []byte("not in the CAR")).Cid()
			if _, err := ar.Get(ctx, absent); !ipld.IsNotFound(err) || ar.Has(absent) {
				t.Fatalf("Get of an absent block: %v", err)
			}
		})
	}
}

// TestArchiveChecks: Open refuses what Import refuses, and a file changed
// after Open fails Get rather than serving other bytes.
func TestArchiveChecks(t *testing.T) {
	ctx := context.Background()
	src := newStore()
	b := buildBundle(t, src)
	data := exportCAR(t, src, b.root)
	bad := bytes.Clone(data)
	bad[len(bad)-1] ^= 1
	if _, err := Open(ctx, bytes.NewReader(bad), ImportOptions{}); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("corrupt: %v", err)
	}
	if _, err := Open(ctx, bytes.NewReader(data[:len(data)-10]), ImportOptions{}); !errors.Is(err, ErrTruncated) {
		t.Fatalf("truncated: %v", err)
	}
	if _, err := Open(ctx, bytes.NewReader(withoutBlock(t, data, b.root)), ImportOptions{}); !errors.Is(err, ErrMissingRoot) {
		t.Fatalf("no root: %v", err)
	}
	p := filepath.Join(t.TempDir(), "x.car")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(p, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	ar, err := Open(ctx, f, ImportOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer ar.Close()
	if _, err := f.WriteAt([]byte{data[len(data)-1] ^ 1}, int64(len(data)-1)); err != nil {
		t.Fatal(err)
	}
	last := ar.Keys()[len(ar.Keys())-1]
	if _, err := ar.Get(ctx, last); !errors.Is(err, ErrHashMismatch) {
		t.Fatalf("Get after the file changed: %v", err)
	}
}

// TestPeek: the header and first block, and a reader that gives back the
// whole input.
func TestPeek(t *testing.T) {
	src := newStore()
	b := buildBundle(t, src)
	data := exportCAR(t, src, b.root)
	roots, first, rest, err := Peek(bytes.NewReader(data), 0)
	if err != nil || len(roots) != 1 || !roots[0].Equals(b.root) || !first.Cid().Equals(b.root) {
		t.Fatalf("Peek: %v %v %v", roots, first, err)
	}
	again, err := io.ReadAll(rest)
	if err != nil || !bytes.Equal(again, data) {
		t.Fatalf("the rest is not the whole input (%d of %d bytes): %v", len(again), len(data), err)
	}
	_, _, rest, err = Peek(bytes.NewReader([]byte("not a CAR at all")), 0)
	if !errors.Is(err, ErrBadHeader) {
		t.Fatalf("Peek of garbage: %v", err)
	}
	if again, _ := io.ReadAll(rest); string(again) != "not a CAR at all" {
		t.Fatalf("rest after a failed Peek: %q", again)
	}
}

// TestExportSkip: Skip leaves out a subtree (its root and everything under
// it); the rest is exported as before.
func TestExportSkip(t *testing.T) {
	src := newStore()
	b := buildBundle(t, src)
	var buf bytes.Buffer
	skip := func(c cid.Cid) bool { return c.Equals(b.file) }
	if err := Export(context.Background(), src, []cid.Cid{b.root}, &buf, ExportOptions{Skip: skip}); err != nil {
		t.Fatal(err)
	}
	_, got := readSections(t, buf.Bytes())
	under := preorder(t, src, b.file)
	var want []cid.Cid
	for _, c := range preorder(t, src, b.root) {
		if !slices.ContainsFunc(under, c.Equals) {
			want = append(want, c)
		}
	}
	if !slices.EqualFunc(cidsOf(got), want, cid.Cid.Equals) {
		t.Fatalf("exported %d blocks, want the %d outside big.bin", len(got), len(want))
	}
	// A skipped root is still written: roots are what the CAR is of.
	buf.Reset()
	if err := Export(context.Background(), src, []cid.Cid{b.file}, &buf, ExportOptions{Skip: skip}); err != nil {
		t.Fatal(err)
	}
	if _, got := readSections(t, buf.Bytes()); len(got) != len(under) {
		t.Fatalf("export of a skipped root wrote %d blocks, want %d", len(got), len(under))
	}
}

package folder

import (
	"bytes"
	"errors"
	"io"
	"math/rand/v2"
	"testing"

	chunker "github.com/ipfs/boxo/chunker"
)

// TestReadAheadSameChunks checks that the read-ahead splitter returns the
// chunks of the splitter it runs, in order, then its end, and again its
// end after that.
func TestReadAheadSameChunks(t *testing.T) {
	data := make([]byte, 5<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	for i := range data {
		data[i] = byte(rng.Uint32())
	}
	want := allChunks(t, chunker.NewBuzhash(bytes.NewReader(data)))
	if len(want) < 5 {
		t.Fatalf("only %d chunks: the test needs more than readAheadChunks", len(want))
	}
	ra := newReadAhead(chunker.NewBuzhash(bytes.NewReader(data)))
	defer ra.stop()
	got := allChunks(t, ra)
	if len(got) != len(want) {
		t.Fatalf("%d chunks, want %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("chunk %d differs (%d bytes, want %d)", i, len(got[i]), len(want[i]))
		}
	}
	if _, err := ra.NextBytes(); err != io.EOF {
		t.Errorf("after the end: %v, want io.EOF", err)
	}
}

// TestReadAheadStopsEarly stops a read-ahead whose goroutine is blocked
// with a full queue (the file's import failed while storing a chunk): stop
// returns, and the reader is not read after it.
func TestReadAheadStopsEarly(t *testing.T) {
	r := &countingReader{r: bytes.NewReader(make([]byte, 64<<20))}
	ra := newReadAhead(chunker.NewSizeSplitter(r, 256<<10))
	if _, err := ra.NextBytes(); err != nil {
		t.Fatal(err)
	}
	ra.stop()
	n := r.n
	if n >= 64<<20 {
		t.Fatalf("read the whole input (%d bytes) ahead", n)
	}
	if _, err := ra.NextBytes(); !errors.Is(err, io.ErrClosedPipe) {
		t.Errorf("after stop: %v, want io.ErrClosedPipe", err)
	}
	if r.n != n {
		t.Errorf("read %d bytes after stop", r.n-n)
	}
}

// TestReadAheadPassesErrors checks that a read error ends the chunks and
// is returned, then returned again.
func TestReadAheadPassesErrors(t *testing.T) {
	boom := errors.New("disk went away")
	r := io.MultiReader(bytes.NewReader(make([]byte, 1<<20)), errReader{boom})
	ra := newReadAhead(chunker.NewSizeSplitter(r, 256<<10))
	defer ra.stop()
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		_, err = ra.NextBytes()
	}
	if !errors.Is(err, boom) {
		t.Fatalf("got %v, want %v", err, boom)
	}
	if _, err := ra.NextBytes(); !errors.Is(err, boom) {
		t.Errorf("again: %v, want %v", err, boom)
	}
}

func allChunks(t *testing.T, spl chunker.Splitter) [][]byte {
	t.Helper()
	var out [][]byte
	for range 10000 {
		b, err := spl.NextBytes()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	t.Fatal("no end after 10000 chunks")
	return nil
}

type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

type errReader struct{ err error }

func (e errReader) Read([]byte) (int, error) { return 0, e.err }

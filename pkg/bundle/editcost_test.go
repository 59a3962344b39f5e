package bundle

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ipfs/boxo/files"

	"github.com/commons-p2p/commons/pkg/folder"
)

// BenchmarkEditCost measures what a mirror fetches after a 100-byte edit in
// the middle of a 100 MiB file (the design-bundle issue's figure): the new
// bytes of the edited file's DAG against the old one's, with commons'
// content-defined chunker (buzhash) and with Kubo's default fixed-size
// chunker (size-262144; Kubo imports with the same boxo code, so these are
// Kubo's blocks). An overwrite keeps the file's length; an insertion shifts
// everything after it, which is where fixed-size chunks lose.
//
//	go test -run '^$' -bench EditCost -benchtime 1x ./pkg/bundle/
func BenchmarkEditCost(b *testing.B) {
	const size = 100 << 20
	rng := rand.New(rand.NewPCG(1, 2))
	orig := make([]byte, size)
	for i := range orig {
		orig[i] = byte(rng.Uint32())
	}
	edit := bytes.Repeat([]byte("E"), 100)
	overwrite := append([]byte(nil), orig...)
	copy(overwrite[size/2:], edit)
	insert := append(append(append([]byte(nil), orig[:size/2]...), edit...), orig[size/2:]...)
	for _, chunker := range []string{"buzhash", "size-262144"} {
		for _, c := range []struct {
			name   string
			edited []byte
		}{{"overwrite", overwrite}, {"insert", insert}} {
			b.Run(fmt.Sprintf("%s/%s", chunker, c.name), func(b *testing.B) {
				for range b.N {
					dag := newDAG(b)
					opts := folder.DefaultOptions()
					opts.Chunker = chunker
					ctx := context.Background()
					old, err := folder.Import(ctx, dag, files.NewBytesFile(orig), opts)
					if err != nil {
						b.Fatal(err)
					}
					nw, err := folder.Import(ctx, dag, files.NewBytesFile(c.edited), opts)
					if err != nil {
						b.Fatal(err)
					}
					nb, blocks, err := NewBytes(ctx, dag, old, nw)
					if err != nil {
						b.Fatal(err)
					}
					b.ReportMetric(float64(nb), "new-bytes")
					b.ReportMetric(float64(blocks), "new-blocks")
					b.ReportMetric(100*float64(nb)/size, "%-of-file")
				}
			})
		}
	}
}

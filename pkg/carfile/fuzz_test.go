package carfile

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

// FuzzImport feeds arbitrary bytes to Import (seed corpus in
// testdata/fuzz/FuzzImport: valid CARv1 and CARv2, and broken ones). Import
// must not panic; on failure it must store nothing and report a check
// failure (the input is in memory, so nothing else can go wrong); on
// success every stored block must match its CID. Verify must agree.
func FuzzImport(f *testing.F) {
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		ctx := context.Background()
		for _, complete := range []bool{false, true} {
			dst := newStore()
			opts := ImportOptions{RequireComplete: complete, MaxBlockSize: 1 << 16}
			res, err := Import(ctx, bytes.NewReader(data), dst, opts)
			_, verr := Verify(ctx, bytes.NewReader(data), opts)
			if (err == nil) != (verr == nil) {
				t.Fatalf("Import error %v, Verify error %v", err, verr)
			}
			if err != nil {
				var ce *Error
				if !errors.As(err, &ce) || ce.Err == nil || ce.Msg == "" {
					t.Fatalf("failure is not a described check failure: %v", err)
				}
				assertEmpty(t, dst)
				continue
			}
			if len(res.Roots) == 0 {
				t.Fatal("accepted a CAR without roots")
			}
			keys := storeKeys(t, dst)
			if int64(len(keys)) != res.Blocks {
				t.Fatalf("stored %d blocks, result says %d", len(keys), res.Blocks)
			}
			for _, c := range keys {
				blk, err := dst.Get(ctx, c)
				if err != nil {
					t.Fatal(err)
				}
				if err := checkHash(c, blk.RawData(), -1); err != nil {
					t.Fatalf("stored a bad block: %v", err)
				}
			}
		}
	})
}

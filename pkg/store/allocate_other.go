//go:build !linux

package store

import "os"

// allocate gives f size bytes whose blocks are allocated, by writing zeros.
func allocate(f *os.File, size int64) error { return allocateByWriting(f, size) }

//go:build unix

package folder

import (
	"context"
	"errors"
	"net"
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

func TestOpenSpecialFiles(t *testing.T) {
	tests := []refusal{
		{
			name: "named pipe",
			setup: func(t *testing.T, dir string) {
				if err := syscall.Mkfifo(filepath.Join(dir, "pipe"), 0o644); err != nil {
					t.Fatal(err)
				}
			},
			problems: 1,
			want:     []error{ErrSpecialFile},
			says:     []string{"pipe is a named pipe (FIFO), not a regular file"},
		},
		{
			name: "socket",
			setup: func(t *testing.T, dir string) {
				if err := os.Mkdir(filepath.Join(dir, "run"), 0o755); err != nil {
					t.Fatal(err)
				}
				l, err := net.Listen("unix", filepath.Join(dir, "run", "s"))
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { l.Close() })
			},
			problems: 1,
			want:     []error{ErrSpecialFile},
			says:     []string{"run/s is a socket, not a regular file"},
		},
	}
	if os.Geteuid() == 0 {
		// Only root may make device nodes; FIFOs and sockets cover the
		// rest everywhere.
		tests = append(tests, refusal{
			name: "device",
			setup: func(t *testing.T, dir string) {
				// 1,3 is /dev/null on Linux.
				if err := syscall.Mknod(filepath.Join(dir, "null"), syscall.S_IFCHR|0o666, 1<<8|3); err != nil {
					t.Fatalf("mknod as root: %v", err)
				}
			},
			problems: 1,
			want:     []error{ErrSpecialFile},
			says:     []string{"null is a device file, not a regular file"},
		})
	} else {
		tests = append(tests,
			refusal{
				name: "unreadable file",
				setup: func(t *testing.T, dir string) {
					p := filepath.Join(dir, "secret.stl")
					mkfile(t, p, []byte("secret"))
					if err := os.Chmod(p, 0); err != nil {
						t.Fatal(err)
					}
				},
				problems: 1,
				want:     []error{ErrUnreadable},
				says:     []string{"secret.stl cannot be read (permission denied)"},
			},
			refusal{
				name: "unreadable directory",
				setup: func(t *testing.T, dir string) {
					p := filepath.Join(dir, "locked")
					mkfile(t, filepath.Join(p, "inside.stl"), []byte("x"))
					if err := os.Chmod(p, 0); err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { os.Chmod(p, 0o755) })
				},
				problems: 1,
				want:     []error{ErrUnreadable},
				says:     []string{"locked cannot be read (permission denied)"},
			},
			refusal{
				name: "unsearchable directory",
				setup: func(t *testing.T, dir string) {
					p := filepath.Join(dir, "listonly")
					mkfile(t, filepath.Join(p, "a.stl"), []byte("x"))
					mkfile(t, filepath.Join(p, "b.stl"), []byte("x"))
					if err := os.Chmod(p, 0o444); err != nil {
						t.Fatal(err)
					}
					t.Cleanup(func() { os.Chmod(p, 0o755) })
				},
				problems: 1,
				want:     []error{ErrUnreadable},
				says:     []string{"listonly cannot be read (permission denied)"},
			})
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkRefusal(t, tc, DefaultOptions()) })
	}
}

func TestOpenSpecialRoot(t *testing.T) {
	p := filepath.Join(t.TempDir(), "pipe")
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	n, _, err := Open(p, DefaultOptions())
	if n != nil || !errors.Is(err, ErrSpecialFile) {
		t.Fatalf("Open(fifo) = %v, %v; want ErrSpecialFile", n, err)
	}
}

// TestOpenFileBecameFIFO checks that a file swapped for a named pipe after
// Open fails the import rather than blocking it.
func TestOpenFileBecameFIFO(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "part.stl")
	mkfile(t, p, []byte("part"))
	n, _, err := Open(dir, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(p); err != nil {
		t.Fatal(err)
	}
	if err := syscall.Mkfifo(p, 0o644); err != nil {
		t.Fatal(err)
	}
	dag, _ := newDAG()
	if c, err := Import(context.Background(), dag, n, DefaultOptions()); !errors.Is(err, ErrChanged) {
		t.Fatalf("Import = %v, %v; want ErrChanged", c, err)
	}
}

package folder

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ipfs/boxo/files"
)

// refusal is an Open refusal test case: setup builds the folder beside a
// good file ok.stl; Open must fail with problems problems, each sentinel in
// want, and a message containing every string in says.
type refusal struct {
	name     string
	setup    func(t *testing.T, dir string)
	problems int
	want     []error
	says     []string
}

// checkRefusal opens a folder built by tc.setup and checks the refusal.
func checkRefusal(t *testing.T, tc refusal, opts Options) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "brick-press")
	mkfile(t, filepath.Join(dir, "ok.stl"), []byte("fine\n"))
	tc.setup(t, dir)
	n, totals, err := Open(dir, opts)
	if n != nil || totals != (Totals{}) {
		t.Errorf("Open returned node %v and totals %+v with an error", n, totals)
	}
	var oe *OpenError
	if !errors.As(err, &oe) {
		t.Fatalf("Open = %v, want an *OpenError", err)
	}
	if len(oe.Problems) != tc.problems {
		t.Errorf("%d problems, want %d: %v", len(oe.Problems), tc.problems, err)
	}
	for _, w := range tc.want {
		if !errors.Is(err, w) {
			t.Errorf("error does not wrap %v: %v", w, err)
		}
	}
	msg := err.Error()
	for _, s := range append([]string{"refusing to publish " + dir + ": ", "try again."}, tc.says...) {
		if !strings.Contains(msg, s) {
			t.Errorf("message does not say %q:\n%s", s, msg)
		}
	}
	if strings.ContainsFunc(msg, func(r rune) bool { return r < ' ' }) {
		t.Errorf("message holds control characters: %q", msg)
	}
}

func TestOpenRefusals(t *testing.T) {
	tests := []refusal{
		{
			name:     "absolute symlink",
			setup:    func(t *testing.T, dir string) { mklink(t, "/etc/passwd", filepath.Join(dir, "link.stl")) },
			problems: 1,
			want:     []error{ErrSymlinkEscapes},
			says:     []string{"1 problem: link.stl -> /etc/passwd points outside the folder", "Remove or replace it"},
		},
		{
			name:     "absolute symlink into the folder",
			setup:    func(t *testing.T, dir string) { mklink(t, filepath.Join(dir, "ok.stl"), filepath.Join(dir, "abs.stl")) },
			problems: 1,
			want:     []error{ErrSymlinkEscapes},
			says:     []string{"abs.stl -> " + "/", "(absolute target)"},
		},
		{
			name: "dot-dot symlink",
			setup: func(t *testing.T, dir string) {
				mkfile(t, filepath.Join(dir, "..", "outside.stl"), []byte("secret"))
				mklink(t, "../outside.stl", filepath.Join(dir, "up.stl"))
			},
			problems: 1,
			want:     []error{ErrSymlinkEscapes},
			says:     []string{"up.stl -> ../outside.stl points outside the folder"},
		},
		{
			name: "nested dot-dot symlink",
			setup: func(t *testing.T, dir string) {
				mkfile(t, filepath.Join(dir, "..", "outside.stl"), []byte("secret"))
				mklink(t, "../../outside.stl", filepath.Join(dir, "sub", "up.stl"))
			},
			problems: 1,
			want:     []error{ErrSymlinkEscapes},
			says:     []string{"sub/up.stl -> ../../outside.stl points outside the folder"},
		},
		{
			name: "chain of symlinks escaping",
			setup: func(t *testing.T, dir string) {
				mkfile(t, filepath.Join(dir, "..", "outside.stl"), []byte("secret"))
				mklink(t, "hop2", filepath.Join(dir, "sub", "hop1"))
				mklink(t, "../../outside.stl", filepath.Join(dir, "sub", "hop2"))
				mklink(t, "sub/hop1", filepath.Join(dir, "start.stl"))
			},
			problems: 3,
			want:     []error{ErrSymlinkEscapes},
			says: []string{
				"start.stl -> sub/hop1 points outside the folder (through another link)",
				"sub/hop1 -> hop2 points outside the folder (through another link)",
				"sub/hop2 -> ../../outside.stl points outside the folder",
			},
		},
		{
			name:     "symlink down and back up",
			setup:    func(t *testing.T, dir string) { mklink(t, "sub/../ok.stl", filepath.Join(dir, "zigzag.stl")) },
			problems: 1,
			want:     []error{ErrSymlinkEscapes},
			says:     []string{`zigzag.stl -> sub/../ok.stl goes into a directory and back out with ".."`},
		},
		{
			name:     "dangling symlink",
			setup:    func(t *testing.T, dir string) { mklink(t, "missing.stl", filepath.Join(dir, "gone.stl")) },
			problems: 1,
			want:     []error{ErrDanglingSymlink},
			says:     []string{"gone.stl -> missing.stl points to nothing"},
		},
		{
			name: "loop of symlinks",
			setup: func(t *testing.T, dir string) {
				mklink(t, "loop2", filepath.Join(dir, "loop1"))
				mklink(t, "loop1", filepath.Join(dir, "loop2"))
			},
			problems: 2,
			want:     []error{ErrDanglingSymlink},
			says:     []string{"loop1 -> loop2 leads nowhere", "loop2 -> loop1 leads nowhere"},
		},
		{
			name: "symlink to a hidden file",
			setup: func(t *testing.T, dir string) {
				mkfile(t, filepath.Join(dir, ".secret"), []byte("key"))
				mklink(t, ".secret", filepath.Join(dir, "key.txt"))
			},
			problems: 1,
			want:     []error{ErrDanglingSymlink},
			says:     []string{"key.txt -> .secret points to a hidden entry"},
		},
		{
			name:     "path too long to read",
			setup:    func(t *testing.T, dir string) { makeTooDeep(t, dir) },
			problems: 1,
			want:     []error{ErrUnreadable},
			says:     []string{"cannot be read (file name too long)"},
		},
		{
			name: "unsafe names",
			setup: func(t *testing.T, dir string) {
				mkfile(t, filepath.Join(dir, "bad\x01name.stl"), nil)
				mkfile(t, filepath.Join(dir, `back\slash.stl`), nil)
				mkfile(t, filepath.Join(dir, "sub", "\xff.stl"), nil)
				mkfile(t, filepath.Join(dir, "new\nline"), nil)
			},
			problems: 4,
			want:     []error{ErrUnsafeName},
			says: []string{
				`"bad\x01name.stl" has an unsafe name (it contains a control character)`,
				`back\slash.stl has an unsafe name (it contains "\")`,
				`"sub/\xff.stl" has an unsafe name (it is not valid UTF-8)`,
				`"new\nline" has an unsafe name`,
				"4 problems: ",
				"Remove or replace them and try again.",
			},
		},
		{
			name: "many problems",
			setup: func(t *testing.T, dir string) {
				for i := range 15 {
					mklink(t, "/etc/passwd", filepath.Join(dir, fmt.Sprintf("l%02d", i)))
				}
			},
			problems: 15,
			want:     []error{ErrSymlinkEscapes},
			says:     []string{"15 problems: l00 -> /etc/passwd", "l09 -> /etc/passwd points outside the folder (absolute target); and 5 more."},
		},
		{
			name: "mixed problems",
			setup: func(t *testing.T, dir string) {
				mklink(t, "/etc/passwd", filepath.Join(dir, "link.stl"))
				mklink(t, "nowhere", filepath.Join(dir, "dangling"))
				mkfile(t, filepath.Join(dir, "tab\tname"), nil)
			},
			problems: 3,
			want:     []error{ErrSymlinkEscapes, ErrDanglingSymlink, ErrUnsafeName},
			says:     []string{"3 problems: dangling -> nowhere points to nothing (a dangling link); link.stl -> /etc/passwd points outside the folder (absolute target); \"tab\\tname\" has an unsafe name"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { checkRefusal(t, tc, DefaultOptions()) })
	}
}

// makeTooDeep nests directories in dir until their path is longer than
// PATH_MAX, so that reading the deepest fails even for root.
func makeTooDeep(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r, err := os.OpenRoot(dir)
	if err != nil {
		t.Fatal(err)
	}
	name := strings.Repeat("d", 250)
	for range 18 { // 18*251 > 4096
		if err := r.Mkdir(name, 0o755); err != nil {
			t.Fatal(err)
		}
		next, err := r.OpenRoot(name)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
		r = next
	}
	if err := r.WriteFile("deep.stl", []byte("deep"), 0o644); err != nil {
		t.Fatal(err)
	}
	r.Close()
}

func TestOpenHiddenLinkAllowedWithHidden(t *testing.T) {
	dir := t.TempDir()
	mkfile(t, filepath.Join(dir, ".secret"), []byte("key"))
	mklink(t, ".secret", filepath.Join(dir, "key.txt"))
	opts := DefaultOptions()
	opts.Hidden = true
	n, totals, err := Open(dir, opts)
	if err != nil || n == nil {
		t.Fatalf("Open with Hidden = %v, %v", n, err)
	}
	if want := (Totals{Files: 1, Dirs: 1, Symlinks: 1, Bytes: 3}); totals != want {
		t.Errorf("totals = %+v, want %+v", totals, want)
	}
}

func TestOpenSkipsHiddenEntriesWithoutChecking(t *testing.T) {
	dir := t.TempDir()
	mkfile(t, filepath.Join(dir, "ok.stl"), []byte("fine"))
	mklink(t, "/etc/passwd", filepath.Join(dir, ".evil-link"))
	mkfile(t, filepath.Join(dir, ".bad\x01name"), nil)
	n, totals, err := Open(dir, DefaultOptions())
	if err != nil || n == nil {
		t.Fatalf("Open = %v, %v; hidden entries should be skipped", n, err)
	}
	if want := (Totals{Files: 1, Dirs: 1, Bytes: 4}); totals != want {
		t.Errorf("totals = %+v, want %+v", totals, want)
	}
	opts := DefaultOptions()
	opts.Hidden = true
	checkRefusal(t, refusal{
		setup:    func(t *testing.T, d string) { mklink(t, "/etc/passwd", filepath.Join(d, ".evil-link")) },
		problems: 1,
		want:     []error{ErrSymlinkEscapes},
		says:     []string{".evil-link -> /etc/passwd"},
	}, opts)
}

func TestOpenPaths(t *testing.T) {
	dir := t.TempDir()
	mkfile(t, filepath.Join(dir, "folder", "a.stl"), []byte("abc"))
	mkfile(t, filepath.Join(dir, "single.stl"), []byte("single"))
	mklink(t, "folder", filepath.Join(dir, "folder-link"))
	mklink(t, "single.stl", filepath.Join(dir, "single-link"))

	t.Run("missing", func(t *testing.T) {
		n, _, err := Open(filepath.Join(dir, "nope"), DefaultOptions())
		if n != nil || !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open = %v, %v; want fs.ErrNotExist", n, err)
		}
	})
	for _, tc := range []struct {
		path   string
		totals Totals
		isDir  bool
	}{
		{"folder", Totals{Files: 1, Dirs: 1, Bytes: 3}, true},
		{"folder-link", Totals{Files: 1, Dirs: 1, Bytes: 3}, true},
		{"single.stl", Totals{Files: 1, Bytes: 6}, false},
		{"single-link", Totals{Files: 1, Bytes: 6}, false},
	} {
		t.Run(tc.path, func(t *testing.T) {
			n, totals, err := Open(filepath.Join(dir, tc.path), DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			defer n.Close()
			if totals != tc.totals {
				t.Errorf("totals = %+v, want %+v", totals, tc.totals)
			}
			if _, isDir := n.(files.Directory); isDir != tc.isDir {
				t.Errorf("node %T, want directory=%v", n, tc.isDir)
			}
		})
	}
}

// TestOpenFileChanged checks that a file that changes between Open and
// Import fails the import instead of publishing something else.
func TestOpenFileChanged(t *testing.T) {
	for _, tc := range []struct {
		name   string
		change func(t *testing.T, path string)
		want   error
	}{
		{"grew", func(t *testing.T, p string) {
			f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := f.Write([]byte("more")); err != nil {
				t.Fatal(err)
			}
			if err := f.Close(); err != nil {
				t.Fatal(err)
			}
		}, ErrChanged},
		{"shrank", func(t *testing.T, p string) {
			if err := os.Truncate(p, 10); err != nil {
				t.Fatal(err)
			}
		}, ErrChanged},
		{"removed", func(t *testing.T, p string) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
		}, ErrUnreadable},
		{"became a directory", func(t *testing.T, p string) {
			if err := os.Remove(p); err != nil {
				t.Fatal(err)
			}
			if err := os.Mkdir(p, 0o755); err != nil {
				t.Fatal(err)
			}
		}, ErrChanged},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "sub", "part.stl")
			mkfile(t, p, randBytes("changed", 300<<10))
			n, _, err := Open(dir, DefaultOptions())
			if err != nil {
				t.Fatal(err)
			}
			tc.change(t, p)
			dag, _ := newDAG()
			c, err := Import(context.Background(), dag, n, DefaultOptions())
			if !errors.Is(err, tc.want) || c.Defined() {
				t.Fatalf("Import = %v, %v; want %v", c, err, tc.want)
			}
			if !strings.Contains(err.Error(), "sub/part.stl") {
				t.Errorf("error does not name the file: %v", err)
			}
		})
	}
}

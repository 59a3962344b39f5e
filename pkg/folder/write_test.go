package folder

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/boxo/ipld/unixfs/hamt"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
)

var v1, _ = merkledag.PrefixForCidVersion(1)

// named is a directory entry for hand-built DAGs.
type named struct {
	name string
	node ipld.Node
}

func addNode(t testing.TB, dag ipld.DAGService, nd ipld.Node) ipld.Node {
	t.Helper()
	if err := dag.Add(context.Background(), nd); err != nil {
		t.Fatal(err)
	}
	return nd
}

// fileNode adds a raw-leaf file.
func fileNode(t testing.TB, dag ipld.DAGService, data string) ipld.Node {
	t.Helper()
	nd, err := merkledag.NewRawNodeWPrefix([]byte(data), v1)
	if err != nil {
		t.Fatal(err)
	}
	return addNode(t, dag, nd)
}

// linkNode adds a UnixFS symlink.
func linkNode(t testing.TB, dag ipld.DAGService, target string) ipld.Node {
	t.Helper()
	data, err := unixfs.SymlinkData(target)
	if err != nil {
		t.Fatal(err)
	}
	return dataNode(t, dag, data)
}

// dataNode adds a dag-pb node with the given data and no links.
func dataNode(t testing.TB, dag ipld.DAGService, data []byte) ipld.Node {
	t.Helper()
	nd := merkledag.NodeWithData(data)
	if err := nd.SetCidBuilder(v1); err != nil {
		t.Fatal(err)
	}
	return addNode(t, dag, nd)
}

// dirNode adds a basic UnixFS directory with the entries as given, without
// any of the checks a well-behaved builder would make.
func dirNode(t testing.TB, dag ipld.DAGService, entries ...named) ipld.Node {
	t.Helper()
	nd := merkledag.NodeWithData(unixfs.FolderPBData())
	if err := nd.SetCidBuilder(v1); err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if err := nd.AddRawLink(e.name, &ipld.Link{Cid: e.node.Cid()}); err != nil {
			t.Fatal(err)
		}
	}
	return addNode(t, dag, nd)
}

// hamtNode adds a HAMT-sharded directory with the entries.
func hamtNode(t testing.TB, dag ipld.DAGService, entries ...named) ipld.Node {
	t.Helper()
	s, err := hamt.NewShard(dag, 256)
	if err != nil {
		t.Fatal(err)
	}
	s.SetCidBuilder(v1)
	for _, e := range entries {
		if err := s.Set(context.Background(), e.name, e.node); err != nil {
			t.Fatal(err)
		}
	}
	nd, err := s.Node()
	if err != nil {
		t.Fatal(err)
	}
	return addNode(t, dag, nd)
}

// writeSandbox returns a target path two levels below a fresh directory,
// whose contents checkNothingWritten can verify afterwards.
func writeSandbox(t testing.TB) (sandbox, target string) {
	t.Helper()
	sandbox = t.TempDir()
	parent := filepath.Join(sandbox, "p", "q")
	if err := os.MkdirAll(parent, 0o755); err != nil {
		t.Fatal(err)
	}
	return sandbox, filepath.Join(parent, "copy")
}

// checkNothingWritten fails unless the sandbox holds only p/q, empty.
func checkNothingWritten(t testing.TB, sandbox string) {
	t.Helper()
	var found []string
	filepath.WalkDir(sandbox, func(p string, d fs.DirEntry, err error) error {
		if err == nil && p != sandbox {
			rel, _ := filepath.Rel(sandbox, p)
			found = append(found, filepath.ToSlash(rel))
		}
		return nil
	})
	if want := []string{"p", "p/q"}; !slices.Equal(found, want) {
		t.Errorf("sandbox holds %q, want %q", found, want)
	}
}

func TestWriteRefusals(t *testing.T) {
	dag, _ := newDAG()
	f := fileNode(t, dag, "payload")
	ok := named{"ok.stl", f}
	// A HAMT shard claiming a fanout of 2^20: Type=HAMTShard(5),
	// hashType=murmur3(0x22), fanout=1<<20, hand-encoded.
	wideShard := dataNode(t, dag, []byte{0x08, 0x05, 0x28, 0x22, 0x30, 0x80, 0x80, 0x40})
	metadata := dataNode(t, dag, []byte{0x08, 0x03})
	notUnixFS := dataNode(t, dag, []byte("\xff\xff not protobuf"))

	tests := []struct {
		name string
		root ipld.Node
		want error
		says string
	}{
		{"dot-dot", dirNode(t, dag, ok, named{"..", f}), ErrUnsafeName, `".."`},
		{"dot", dirNode(t, dag, ok, named{".", f}), ErrUnsafeName, `"."`},
		{"dot-dot slash", dirNode(t, dag, ok, named{"../x", f}), ErrUnsafeName, `name "../x" contains "/"`},
		{"deeper dot-dot slash", dirNode(t, dag, ok, named{"../../x", f}), ErrUnsafeName, `"../../x"`},
		{"absolute", dirNode(t, dag, named{"/abs", f}), ErrUnsafeName, `"/abs"`},
		{"slash", dirNode(t, dag, named{"a/b", f}), ErrUnsafeName, `"a/b"`},
		{"backslash", dirNode(t, dag, named{`..\x`, f}), ErrUnsafeName, `"\"`},
		{"control", dirNode(t, dag, named{"x\x1b[31m", f}), ErrUnsafeName, `"x\x1b[31m"`},
		{"NUL", dirNode(t, dag, named{"x\x00y", f}), ErrUnsafeName, "control"},
		{"empty", dirNode(t, dag, named{"", f}), ErrUnsafeName, "empty"},
		{"not UTF-8", dirNode(t, dag, named{"\xc0\xaf", f}), ErrUnsafeName, "UTF-8"},
		{"too long", dirNode(t, dag, named{strings.Repeat("n", 256), f}), ErrUnsafeName, "255"},
		{"duplicate files", dirNode(t, dag, ok, named{"a", f}, named{"a", fileNode(t, dag, "other")}), ErrDuplicateName, `two entries are named "a"`},
		{"duplicate dir and symlink", dirNode(t, dag, named{"a", dirNode(t, dag, ok)}, named{"a", linkNode(t, dag, "/etc")}), ErrDuplicateName, `"a"`},
		{"absolute symlink", dirNode(t, dag, ok, named{"passwd", linkNode(t, dag, "/etc/passwd")}), ErrSymlinkEscapes, "passwd: -> /etc/passwd points outside the folder"},
		{"climbing symlink", dirNode(t, dag, ok, named{"up", linkNode(t, dag, "../../x")}), ErrSymlinkEscapes, "up: -> ../../x points outside"},
		{"climbing symlink one level", dirNode(t, dag, ok, named{"up", linkNode(t, dag, "..")}), ErrSymlinkEscapes, "up: -> .."},
		{"nested climbing symlink", dirNode(t, dag, ok, named{"sub", dirNode(t, dag, named{"up", linkNode(t, dag, "../../x")})}), ErrSymlinkEscapes, "sub/up: -> ../../x"},
		{"symlink through symlink", dirNode(t, dag, named{"here", linkNode(t, dag, ".")}, named{"esc", linkNode(t, dag, "here/../..")}), ErrSymlinkEscapes, "esc: -> here/../.."},
		{"empty symlink", dirNode(t, dag, named{"l", linkNode(t, dag, "")}), ErrSymlinkEscapes, "empty target"},
		{"lone symlink", linkNode(t, dag, "x"), ErrSymlinkEscapes, "on its own"},
		{"metadata node", dirNode(t, dag, ok, named{"meta", metadata}), ErrUnknownType, "meta: UnixFS type"},
		{"not UnixFS", dirNode(t, dag, ok, named{"junk", notUnixFS}), ErrUnknownType, "junk: not a UnixFS node"},
		{"not UnixFS root", notUnixFS, ErrUnknownType, "not a UnixFS node"},
		{"wide HAMT root", wideShard, ErrUnknownType, "fanout 1048576"},
		{"wide HAMT child", dirNode(t, dag, ok, named{"wide", wideShard}), ErrUnknownType, "fanout 1048576"},
		{"HAMT with bad name", hamtNode(t, dag, ok, named{"../evil", f}), ErrUnsafeName, `"../evil"`},
		{"HAMT with escaping symlink", hamtNode(t, dag, ok, named{"l", linkNode(t, dag, "/etc/passwd")}), ErrSymlinkEscapes, "l: -> /etc/passwd"},
		{"bad name after good entries", dirNode(t, dag,
			named{"a", dirNode(t, dag, ok, named{"more", fileNode(t, dag, strings.Repeat("x", 5000))})},
			named{"b", dirNode(t, dag, ok, named{"../../evil", f})},
		), ErrUnsafeName, `b: name "../../evil"`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sandbox, target := writeSandbox(t)
			err := Write(context.Background(), dag, tc.root.Cid(), target, WriteOptions{})
			if !errors.Is(err, tc.want) {
				t.Fatalf("Write = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.says) || !strings.Contains(err.Error(), target) {
				t.Errorf("error %q does not say %q and name %s", err, tc.says, target)
			}
			checkNothingWritten(t, sandbox)
		})
	}
}

func TestWriteTargets(t *testing.T) {
	dag, _ := newDAG()
	f := fileNode(t, dag, "payload")
	d := dirNode(t, dag, named{"a.stl", f})

	t.Run("non-empty directory", func(t *testing.T) {
		target := t.TempDir()
		mkfile(t, filepath.Join(target, "mine.txt"), []byte("mine"))
		err := Write(context.Background(), dag, d.Cid(), target, WriteOptions{})
		if !errors.Is(err, ErrTargetExists) || !strings.Contains(err.Error(), "not empty") {
			t.Fatalf("Write = %v, want ErrTargetExists", err)
		}
		if names := dirNames(t, target); !slices.Equal(names, []string{"mine.txt"}) {
			t.Errorf("target now holds %q", names)
		}
		if names := dirNames(t, filepath.Dir(target)); len(names) != 1 {
			t.Errorf("parent holds %q, want only the target", names)
		}
	})
	t.Run("existing file", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "there")
		mkfile(t, target, []byte("mine"))
		for _, root := range []cid.Cid{d.Cid(), f.Cid()} {
			if err := Write(context.Background(), dag, root, target, WriteOptions{}); !errors.Is(err, ErrTargetExists) {
				t.Fatalf("Write(%s) = %v, want ErrTargetExists", root, err)
			}
		}
		if b, _ := os.ReadFile(target); string(b) != "mine" {
			t.Errorf("target was changed to %q", b)
		}
	})
	t.Run("existing symlink", func(t *testing.T) {
		dir := t.TempDir()
		target := filepath.Join(dir, "link")
		mklink(t, "elsewhere", target)
		if err := Write(context.Background(), dag, f.Cid(), target, WriteOptions{}); !errors.Is(err, ErrTargetExists) {
			t.Fatalf("Write = %v, want ErrTargetExists", err)
		}
		if _, err := os.Lstat(filepath.Join(dir, "elsewhere")); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("wrote through the symlink: %v", err)
		}
	})
	t.Run("empty directory", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "empty")
		if err := os.Mkdir(target, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := Write(context.Background(), dag, d.Cid(), target, WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(filepath.Join(target, "a.stl")); err != nil || string(b) != "payload" {
			t.Errorf("a.stl = %q, %v", b, err)
		}
	})
	t.Run("file onto empty directory", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "empty")
		if err := os.Mkdir(target, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := Write(context.Background(), dag, f.Cid(), target, WriteOptions{}); !errors.Is(err, ErrTargetExists) {
			t.Fatalf("Write = %v, want ErrTargetExists", err)
		}
	})
	t.Run("dot", func(t *testing.T) {
		dir := t.TempDir()
		for _, target := range []string{".", dir + "/..", "/", ""} {
			if err := Write(context.Background(), dag, d.Cid(), target, WriteOptions{}); err == nil {
				t.Errorf("Write to %q succeeded", target)
			}
		}
	})
	t.Run("missing parent", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "no", "such", "dir")
		if err := Write(context.Background(), dag, d.Cid(), target, WriteOptions{}); !errors.Is(err, fs.ErrNotExist) {
			t.Fatalf("Write = %v, want fs.ErrNotExist", err)
		}
	})
	t.Run("single file", func(t *testing.T) {
		target := filepath.Join(t.TempDir(), "part.stl")
		if err := Write(context.Background(), dag, f.Cid(), target, WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		if b, err := os.ReadFile(target); err != nil || string(b) != "payload" {
			t.Errorf("file = %q, %v", b, err)
		}
		if names := dirNames(t, filepath.Dir(target)); !slices.Equal(names, []string{"part.stl"}) {
			t.Errorf("parent holds %q", names)
		}
	})
}

func TestWriteMissingBlock(t *testing.T) {
	src := t.TempDir()
	for i := range 10 {
		mkfile(t, filepath.Join(src, fmt.Sprintf("d%d", i), "part.stl"), randBytes(fmt.Sprint(i), 1000))
	}
	dag, bs := newDAG()
	c, _ := openImport(t, dag, src, DefaultOptions())
	// Lose the last file's block: Write fails after writing the others.
	lost := fileNode(t, dag, string(randBytes("9", 1000)))
	if err := bs.DeleteBlock(context.Background(), lost.Cid()); err != nil {
		t.Fatal(err)
	}
	sandbox, target := writeSandbox(t)
	err := Write(context.Background(), dag, c, target, WriteOptions{})
	if !ipld.IsNotFound(err) || !strings.Contains(err.Error(), "d9/part.stl") {
		t.Fatalf("Write = %v, want not found naming d9/part.stl", err)
	}
	checkNothingWritten(t, sandbox)
}

func TestWriteCancel(t *testing.T) {
	src := t.TempDir()
	for i := range 20 {
		mkfile(t, filepath.Join(src, fmt.Sprintf("part-%02d.stl", i)), randBytes(fmt.Sprint(i), 10<<10))
	}
	dag, _ := newDAG()
	c, _ := openImport(t, dag, src, DefaultOptions())

	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		sandbox, target := writeSandbox(t)
		if err := Write(ctx, dag, c, target, WriteOptions{}); !errors.Is(err, context.Canceled) {
			t.Fatalf("Write = %v, want context.Canceled", err)
		}
		checkNothingWritten(t, sandbox)
	})
	t.Run("during", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		var seen int64
		opts := WriteOptions{Progress: func(p Progress) {
			seen = p.Files
			if p.Files == 3 {
				cancel()
			}
		}}
		sandbox, target := writeSandbox(t)
		if err := Write(ctx, dag, c, target, opts); !errors.Is(err, context.Canceled) {
			t.Fatalf("Write = %v, want context.Canceled", err)
		}
		if seen != 3 {
			t.Errorf("write went on to file %d after cancellation at 3", seen)
		}
		checkNothingWritten(t, sandbox)
	})
}

// FuzzWrite writes a directory holding an entry with a fuzzed name and a
// symlink with a fuzzed target, one level down, and checks that nothing
// lands outside the target and that every symlink written stays inside it.
func FuzzWrite(f *testing.F) {
	for _, s := range [][2]string{
		{"ok.stl", "ok.stl"}, {"..", ".."}, {"../x", "../x"}, {"a/b", "../../x"}, {"/abs", "/etc/passwd"},
		{`a\b`, `..\..\x`}, {"x\x00", "x/../../y"}, {"l", "l"}, {".", "./../."}, {"", ""}, {"\xff", "sub/.."},
		{"ok", "/etc/passwd"}, {"ok", "../../x"}, {"ok", "ok/../../.."}, {"ok", "../sub/l/../../.."}, {"ok", ".."},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, name, target string) {
		if len(name) > 1000 || len(target) > 5000 {
			return
		}
		dag, _ := newDAG()
		root := dirNode(t, dag, named{"sub", dirNode(t, dag,
			named{name, fileNode(t, dag, "payload")},
			named{"l", linkNode(t, dag, target)},
		)})
		sandbox, dst := writeSandbox(t)
		err := Write(context.Background(), dag, root.Cid(), dst, WriteOptions{})
		if err != nil {
			checkNothingWritten(t, sandbox)
			return
		}
		if ValidName(name) != nil || name == "l" {
			t.Fatalf("wrote an entry named %q", name)
		}
		if names := dirNames(t, filepath.Dir(dst)); !slices.Equal(names, []string{"copy"}) {
			t.Fatalf("parent holds %q", names)
		}
		linkPath := filepath.Join(dst, "sub", "l")
		text, err := os.Readlink(linkPath)
		if err != nil || text != target {
			t.Fatalf("symlink = %q, %v; want %q", text, err, target)
		}
		inside := func(p string) bool {
			rel, err := filepath.Rel(dst, p)
			return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
		}
		lexical := text
		if !filepath.IsAbs(lexical) {
			lexical = filepath.Join(filepath.Dir(linkPath), text)
		}
		if !inside(lexical) {
			t.Fatalf("symlink %q points outside the target, to %s", text, lexical)
		}
		// And as the kernel resolves it, when it resolves at all.
		if real, err := filepath.EvalSymlinks(linkPath); err == nil {
			realDst, err := filepath.EvalSymlinks(dst)
			if err != nil {
				t.Fatal(err)
			}
			if rel, err := filepath.Rel(realDst, real); err != nil || rel == ".." || strings.HasPrefix(rel, "../") {
				t.Fatalf("symlink %q resolves outside the target, to %s", text, real)
			}
		}
	})
}

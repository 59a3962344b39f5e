package folder

import (
	"bytes"
	"crypto/sha256"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/ipfs/boxo/blockservice"
	blockstore "github.com/ipfs/boxo/blockstore"
	offline "github.com/ipfs/boxo/exchange/offline"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-datastore"
	dssync "github.com/ipfs/go-datastore/sync"
	ipld "github.com/ipfs/go-ipld-format"
)

// fixtureEnv names a directory to build the fixture folders in, instead of
// a temporary one, so that they can be handed to Kubo to make
// testdata/kubo-cids.json (see testdata/kubogolden/README.md).
const fixtureEnv = "COMMONS_FOLDER_FIXTURE_DIR"

// newDAG returns a DAG service over an in-memory blockstore.
func newDAG() (ipld.DAGService, blockstore.Blockstore) {
	bs := blockstore.NewBlockstore(dssync.MutexWrap(datastore.NewMapDatastore()))
	return merkledag.NewDAGService(blockservice.New(bs, offline.Exchange(bs))), bs
}

// randBytes returns n pseudo-random bytes that depend only on seed.
func randBytes(seed string, n int) []byte {
	r := rand.NewChaCha8(sha256.Sum256([]byte(seed)))
	b := make([]byte, n)
	r.Read(b)
	return b
}

// fixturePath returns a path, whose parent exists and which does not, for
// the fixture called name.
func fixturePath(t testing.TB, name string) string {
	t.Helper()
	if base := os.Getenv(fixtureEnv); base != "" {
		p := filepath.Join(base, name)
		if err := os.RemoveAll(p); err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(base, 0o755); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return filepath.Join(t.TempDir(), name)
}

// fixtureDir returns an empty directory for the fixture called name.
func fixtureDir(t testing.TB, name string) string {
	t.Helper()
	dir := fixturePath(t, name)
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

// mkfile writes a file, creating its parent directories.
func mkfile(t testing.TB, path string, data []byte) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// mklink makes a symlink, creating its parent directories.
func mklink(t testing.TB, target, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(target, path); err != nil {
		t.Fatal(err)
	}
}

// bigFileSize spans many buzhash chunks (128 KiB to 512 KiB each) and is
// not a multiple of any of them.
const bigFileSize = 3<<20 + 12345

// makeTree builds the round-trip fixture: nested directories, an empty file,
// an empty directory, a multi-MiB file, a non-ASCII name, relative
// symlinks (to a file, climbing with "..", to a directory) and hidden
// entries.
func makeTree(t testing.TB, dir string) {
	t.Helper()
	mkfile(t, filepath.Join(dir, "README.md"), []byte("Brick press: a manual press for compressed-earth blocks.\n"))
	mkfile(t, filepath.Join(dir, ".notes.txt"), []byte("hidden notes\n"))
	mkfile(t, filepath.Join(dir, ".cache", "thumb.png"), []byte("not really a png\n"))
	mkfile(t, filepath.Join(dir, "parts", "frame.stl"), randBytes("frame.stl", bigFileSize))
	mkfile(t, filepath.Join(dir, "parts", "empty.stl"), nil)
	mkfile(t, filepath.Join(dir, "parts", "bolts", "m8x30.txt"), []byte("M8x30 DIN 912, 8 pieces\n"))
	mkfile(t, filepath.Join(dir, "parts", "bolts", "Scheibe-ø8.txt"), []byte("washer\n"))
	mklink(t, "../frame.stl", filepath.Join(dir, "parts", "bolts", "frame.stl"))
	mklink(t, "../../README.md", filepath.Join(dir, "parts", "bolts", "readme"))
	mkfile(t, filepath.Join(dir, "docs", "assembly.md"), bytes.Repeat([]byte("Bolt the frame to the base plate.\n"), 300))
	if err := os.MkdirAll(filepath.Join(dir, "docs", "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	mklink(t, "parts/frame.stl", filepath.Join(dir, "frame-link.stl"))
	mklink(t, "parts/bolts", filepath.Join(dir, "bolts"))
	mklink(t, ".notes.txt", filepath.Join(dir, ".notes-link"))
}

// shardedEntries is enough entries for boxo to shard the directory: with
// Kubo's default "links" size estimate each adds len(name)+36 = 180 bytes,
// and 1500*180 = 270000 is over the 262144-byte threshold (1457 would do; 1456 would not).
const shardedEntries = 1500

// shardedName returns a 144-byte name: long names shard with fewer files.
func shardedName(i int) string {
	return fmt.Sprintf("bolt-%04d-%s.stl", i, strings.Repeat("m8x30-din912-", 10))
}

// makeSharded builds a folder with one directory of shardedEntries files.
func makeSharded(t testing.TB, dir string) {
	t.Helper()
	sub := filepath.Join(dir, "bolts")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	for i := range shardedEntries {
		if err := os.WriteFile(filepath.Join(sub, shardedName(i)), fmt.Appendf(nil, "bolt %d\n", i), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	mkfile(t, filepath.Join(dir, "README.md"), []byte("many bolts\n"))
}

// treeEntry describes one entry of a tree on disk.
type treeEntry struct {
	kind string // "dir", "file", "link"
	data string // file contents hash, or link target
}

// listTree returns every entry under root by slash-separated relative path,
// leaving out hidden ones unless hidden.
func listTree(t testing.TB, root string, hidden bool) map[string]treeEntry {
	t.Helper()
	out := make(map[string]treeEntry)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		rel = filepath.ToSlash(rel)
		if !hidden && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			out[rel] = treeEntry{"link", target}
		case d.IsDir():
			out[rel] = treeEntry{"dir", ""}
		case d.Type().IsRegular():
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			out[rel] = treeEntry{"file", fmt.Sprintf("%d bytes, sha256 %x", len(b), sha256.Sum256(b))}
		default:
			return fmt.Errorf("%s: unexpected type %v", rel, d.Type())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// compareTrees fails unless want and got hold the same entries.
func compareTrees(t testing.TB, want, got map[string]treeEntry) {
	t.Helper()
	var paths []string
	for p := range want {
		paths = append(paths, p)
	}
	for p := range got {
		if _, ok := want[p]; !ok {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	bad := 0
	for _, p := range paths {
		w, wok := want[p]
		g, gok := got[p]
		switch {
		case !gok:
			t.Errorf("%s: missing from the copy (want %v)", p, w)
		case !wok:
			t.Errorf("%s: in the copy but not the original (%v)", p, g)
		case w != g:
			t.Errorf("%s: got %v, want %v", p, g, w)
		default:
			continue
		}
		if bad++; bad > 20 {
			t.Fatal("too many differences")
		}
	}
}

// dirNames lists the names in dir, sorted.
func dirNames(t testing.TB, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

// treeBytes sums the sizes of the regular files under root, leaving out
// hidden entries unless hidden.
func treeBytes(t testing.TB, root string, hidden bool) int64 {
	t.Helper()
	var n int64
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p != root && !hidden && strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.Type().IsRegular() {
			fi, err := d.Info()
			if err != nil {
				return err
			}
			n += fi.Size()
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

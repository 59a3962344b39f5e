package folder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/textproto"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ipfs/boxo/files"
)

// oddNode is a files.Node that is neither file, directory nor symlink.
type oddNode struct{}

func (oddNode) Close() error                 { return nil }
func (oddNode) Mode() os.FileMode            { return 0 }
func (oddNode) ModTime() time.Time           { return time.Time{} }
func (oddNode) Size() (int64, error)         { return 0, nil }
func (oddNode) String() string               { return "odd" }
func bytesFile(s string) files.Node          { return files.NewBytesFile([]byte(s)) }
func link(target string) files.Node          { return files.NewLinkFile(target, nil) }
func dir(m map[string]files.Node) files.Node { return files.NewMapDirectory(m) }

// nest returns n directories nested in each other.
func nest(n int) files.Node {
	var nd files.Node = bytesFile("bottom")
	for range n {
		nd = dir(map[string]files.Node{"d": nd})
	}
	return nd
}

func TestImportHostile(t *testing.T) {
	tests := []struct {
		name string
		node files.Node
		want error
		says string
	}{
		{"dot-dot slash name", dir(map[string]files.Node{"ok": bytesFile("ok"), "../evil": bytesFile("evil")}), ErrUnsafeName, `name "../evil" contains "/"`},
		{"slash name", dir(map[string]files.Node{"a/b": bytesFile("x")}), ErrUnsafeName, `"a/b"`},
		{"dot-dot name", dir(map[string]files.Node{"..": bytesFile("x")}), ErrUnsafeName, `".."`},
		{"dot name", dir(map[string]files.Node{".": bytesFile("x")}), ErrUnsafeName, `"."`},
		{"empty name", dir(map[string]files.Node{"": bytesFile("x")}), ErrUnsafeName, "empty"},
		{"backslash name", dir(map[string]files.Node{`..\evil`: bytesFile("x")}), ErrUnsafeName, `"\"`},
		{"NUL in name", dir(map[string]files.Node{"a\x00b": bytesFile("x")}), ErrUnsafeName, "control"},
		{"nested bad name", dir(map[string]files.Node{"sub": dir(map[string]files.Node{"/etc": bytesFile("x")})}), ErrUnsafeName, "import sub: "},
		{"duplicate names", files.NewSliceDirectory([]files.DirEntry{
			files.FileEntry("a.stl", bytesFile("1")),
			files.FileEntry("a.stl", bytesFile("2")),
		}), ErrDuplicateName, `two entries are named "a.stl"`},
		{"absolute symlink", dir(map[string]files.Node{"l": link("/etc/passwd")}), ErrSymlinkEscapes, "l: -> /etc/passwd points outside"},
		{"climbing symlink", dir(map[string]files.Node{"l": link("../x")}), ErrSymlinkEscapes, "l: -> ../x points outside"},
		{"nested climbing symlink", dir(map[string]files.Node{"s": dir(map[string]files.Node{"l": link("../../x")})}), ErrSymlinkEscapes, "s/l: -> ../../x"},
		{"zigzag symlink", dir(map[string]files.Node{"l": link("s/../../x")}), ErrSymlinkEscapes, "back out"},
		{"lone symlink", link("x"), ErrSymlinkEscapes, "on its own"},
		{"unknown node", dir(map[string]files.Node{"odd": oddNode{}}), ErrUnknownType, "odd"},
		{"too deep", nest(MaxDepth + 1), ErrTooDeep, "levels"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dag, _ := newDAG()
			c, err := Import(context.Background(), dag, tc.node, DefaultOptions())
			if c.Defined() {
				t.Errorf("Import returned CID %s with error %v", c, err)
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Import = %v, want %v", err, tc.want)
			}
			if !strings.Contains(err.Error(), tc.says) {
				t.Errorf("error %q does not say %q", err, tc.says)
			}
		})
	}
}

func TestImportAcceptsDeepButBounded(t *testing.T) {
	dag, _ := newDAG()
	c, err := Import(context.Background(), dag, nest(MaxDepth-1), DefaultOptions())
	if err != nil || !c.Defined() {
		t.Fatalf("Import of %d levels = %v, %v", MaxDepth-1, c, err)
	}
}

// multipartBody encodes d as Kubo's CLI sends it to the daemon.
func multipartBody(t *testing.T, d files.Directory) (body []byte, mediatype string) {
	t.Helper()
	mfr := files.NewMultiFileReader(d, true, false)
	b, err := io.ReadAll(mfr)
	if err != nil {
		t.Fatal(err)
	}
	return b, "multipart/form-data; boundary=" + mfr.Boundary()
}

// fromMultipart decodes a body as the daemon does and returns its first
// top-level entry.
func fromMultipart(t *testing.T, body []byte, contentType string) files.Node {
	t.Helper()
	mt, params, err := mime.ParseMediaType(contentType)
	if err != nil {
		t.Fatal(err)
	}
	d, err := files.NewFileFromPartReader(multipart.NewReader(bytes.NewReader(body), params["boundary"]), mt)
	if err != nil {
		t.Fatal(err)
	}
	it := d.Entries()
	if !it.Next() {
		t.Fatalf("no entries: %v", it.Err())
	}
	return it.Node()
}

// TestImportMultipart sends a folder through the multipart encoding a CLI
// uses to talk to a daemon and checks the CID is the same as a direct import.
func TestImportMultipart(t *testing.T) {
	src := fixtureDir(t, "src")
	makeTree(t, src)
	dag, _ := newDAG()
	want, _ := openImport(t, dag, src, DefaultOptions())

	n, _, err := Open(src, DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	body, ct := multipartBody(t, files.NewSliceDirectory([]files.DirEntry{files.FileEntry("brick-press", n)}))
	got, err := Import(context.Background(), dag, fromMultipart(t, body, ct), DefaultOptions())
	if err != nil {
		t.Fatal(err)
	}
	if got != want {
		t.Errorf("through multipart: %s, direct: %s", got, want)
	}
}

// TestImportHostileMultipart hand-writes multipart bodies with names a
// remote client could send.
func TestImportHostileMultipart(t *testing.T) {
	for _, name := range []string{`dir/..\evil`, "dir/bad\x01name", "dir/new\nline"} {
		t.Run(fmt.Sprintf("%q", name), func(t *testing.T) {
			var buf bytes.Buffer
			mw := multipart.NewWriter(&buf)
			part := func(filename, ctype, body string) {
				h := make(textproto.MIMEHeader)
				h.Set("Content-Disposition", fmt.Sprintf(`form-data; name="file"; filename="%s"`, url.QueryEscape(filename)))
				h.Set("Content-Type", ctype)
				w, err := mw.CreatePart(h)
				if err != nil {
					t.Fatal(err)
				}
				io.WriteString(w, body)
			}
			part("dir", "application/x-directory", "")
			part("dir/ok.stl", "application/octet-stream", "ok")
			part(name, "application/octet-stream", "evil")
			mw.Close()
			dag, _ := newDAG()
			c, err := Import(context.Background(), dag, fromMultipart(t, buf.Bytes(), "multipart/form-data; boundary="+mw.Boundary()), DefaultOptions())
			if !errors.Is(err, ErrUnsafeName) || c.Defined() {
				t.Fatalf("Import = %v, %v; want ErrUnsafeName", c, err)
			}
		})
	}
}

func TestImportCancel(t *testing.T) {
	t.Run("before", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		dag, _ := newDAG()
		c, err := Import(ctx, dag, files.NewBytesFile(randBytes("cancel", 1<<20)), DefaultOptions())
		if !errors.Is(err, context.Canceled) || c.Defined() {
			t.Fatalf("Import = %v, %v; want context.Canceled", c, err)
		}
	})
	t.Run("during", func(t *testing.T) {
		src := t.TempDir()
		for i := range 20 {
			mkfile(t, filepath.Join(src, fmt.Sprintf("part-%02d.stl", i)), randBytes(fmt.Sprint(i), 10<<10))
		}
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		opts := DefaultOptions()
		var seen int64
		opts.Progress = func(p Progress) {
			seen = p.Files
			if p.Files == 3 {
				cancel()
			}
		}
		n, _, err := Open(src, opts)
		if err != nil {
			t.Fatal(err)
		}
		dag, _ := newDAG()
		c, err := Import(ctx, dag, n, opts)
		if !errors.Is(err, context.Canceled) || c.Defined() {
			t.Fatalf("Import = %v, %v; want context.Canceled", c, err)
		}
		if seen != 3 {
			t.Errorf("import went on to file %d after cancellation at 3", seen)
		}
	})
}

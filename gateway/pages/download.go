package pages

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/ipfs/go-cid"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/pkg/folder"
)

// Limits of one zip, the numbers of the gateway's tars
// (gateway.DefaultMaxArchiveEntries and DefaultMaxArchiveBytes): a hostile
// DAG of millions of tiny entries, or of one block linked a million times,
// must not hold a request for ever or deflate gigabytes.
const (
	// maxZipEntries bounds the files and folders one zip holds.
	maxZipEntries = 100_000
	// maxZipBytes bounds the bytes of the files one zip holds.
	maxZipBytes = 4 << 30
)

// ArchiveChecker vets a folder before the pages archive it. The node
// implements it; with a Designs that does not, the zip relies on its own
// limits alone, which it checks as it goes.
type ArchiveChecker interface {
	// CheckArchive walks the UnixFS DAG at p (an /ipfs/ path) as
	// folder.Check does with lim, reading its directories and its files'
	// nodes but not their data. A DAG that could not be written safely, or
	// that expands beyond lim or far beyond its distinct blocks, wraps the
	// folder package's sentinel (folder.ErrUnsafeName, ErrSymlinkEscapes,
	// ErrTooLarge, ErrExpands, ...); a missing path wraps api.ErrNotFound.
	CheckArchive(ctx context.Context, p string, lim folder.Limits) (folder.Summary, error)
}

// serveDownload serves /bundles/{cid}.zip and /bundles/{cid}.car, and
// redirects /bundles/{ref} to its page.
func (h *handler) serveDownload(w http.ResponseWriter, r *http.Request) {
	file := r.PathValue("file")
	ref, ext := file, ""
	if i := strings.LastIndexByte(file, '.'); i > 0 {
		ref, ext = file[:i], file[i:]
	}
	switch ext {
	case ".zip", ".car":
	default:
		http.Redirect(w, r, bundleHref(file), http.StatusMovedPermanently)
		return
	}
	c, err := cid.Decode(ref)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, fmt.Sprintf("%q is not a CID: %v", ref, err))
		return
	}
	info, err := h.d.Show(r.Context(), c.String())
	if err != nil {
		h.failErr(w, r, "download "+ref, err)
		return
	}
	name := safeName(fmt.Sprintf("%s-v%d", info.Name, info.Sequence))
	if ext == ".car" {
		h.serveCAR(w, r, info.CID, name+".car")
		return
	}
	h.serveZip(w, r, info, name)
}

// downloadHeaders are the headers of a download: an attachment, immutable
// because it is named by its CID.
func downloadHeaders(w http.ResponseWriter, ctype, filename string) {
	hd := w.Header()
	hd.Set("Content-Type", ctype)
	hd.Set("Content-Disposition", `attachment; filename="`+filename+`"`)
	hd.Set("Cache-Control", "public, max-age=31536000, immutable")
}

// startedWriter remembers whether anything was written, so that an error
// before the first byte can still be an error page.
type startedWriter struct {
	w       http.ResponseWriter
	started bool
}

func (s *startedWriter) Write(p []byte) (int, error) {
	s.started = true
	return s.w.Write(p)
}

// serveCAR streams the version's DAG as a CARv1.
func (h *handler) serveCAR(w http.ResponseWriter, r *http.Request, root cid.Cid, filename string) {
	downloadHeaders(w, "application/vnd.ipld.car; version=1", filename)
	sw := &startedWriter{w: w}
	if err := h.d.Export(r.Context(), "/ipfs/"+root.String(), sw, nil); err != nil {
		if !sw.started {
			w.Header().Del("Content-Disposition")
			w.Header().Del("Cache-Control")
			h.failErr(w, r, "export "+root.String(), err)
			return
		}
		// The status is sent: cut the connection so the client sees a
		// failed download, not a complete-looking short file.
		h.log.WarnContext(r.Context(), "car download cut off", "subsystem", "pages", "cid", root, "err", err)
		panic(http.ErrAbortHandler)
	}
	if r.Method == http.MethodGet {
		h.count.Download(root, DownloadCAR)
	}
}

// serveZip streams every file of the version (its design files and its
// .commons folder) into a zip under one top folder. Memory stays bounded:
// each file is copied through as it is read.
func (h *handler) serveZip(w http.ResponseWriter, r *http.Request, info api.BundleInfo, name string) {
	ctx := r.Context()
	// A DAG bomb or a folder that could not be unpacked safely is refused
	// before anything is sent, with the reason.
	if c, ok := h.d.(ArchiveChecker); ok {
		lim := folder.Limits{MaxEntries: maxZipEntries, MaxBytes: maxZipBytes}
		if _, err := c.CheckArchive(ctx, "/ipfs/"+info.CID.String(), lim); err != nil {
			if folder.IsRefusal(err) {
				h.fail(w, r, http.StatusUnprocessableEntity, "This version cannot be downloaded as a zip: "+err.Error()+". The CAR download holds it as it is.")
				return
			}
			h.failErr(w, r, "zip "+info.CID.String(), err)
			return
		}
	}
	// List the root before sending anything, so that the commonest
	// failure is an error page.
	top, err := h.d.Ls(ctx, "/ipfs/"+info.CID.String())
	if err != nil {
		h.failErr(w, r, "zip "+info.CID.String(), err)
		return
	}
	downloadHeaders(w, "application/zip", name+".zip")
	mod, err := time.Parse(time.RFC3339, info.Created)
	if err != nil {
		mod = time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	zw := zip.NewWriter(w)
	z := &zipper{h: h, zw: zw, root: info.CID, top: name, mod: mod}
	err = z.dir(ctx, "", top, 1)
	if err == nil {
		err = zw.Close()
	}
	if err != nil {
		h.log.WarnContext(ctx, "zip download cut off", "subsystem", "pages", "cid", info.CID, "err", err)
		panic(http.ErrAbortHandler)
	}
	if r.Method == http.MethodGet {
		h.count.Download(info.CID, DownloadZip)
	}
}

type zipper struct {
	h       *handler
	zw      *zip.Writer
	root    cid.Cid
	top     string
	mod     time.Time
	entries int
	bytes   int64 // file bytes written so far
}

var (
	errTooManyEntries = errors.New("too many files for one zip")
	errTooManyBytes   = errors.New("too many bytes for one zip")
	errNotAsClaimed   = errors.New("the file holds more than its size")
)

// dir adds the entries of the folder rel (already listed) to the zip.
func (z *zipper) dir(ctx context.Context, rel string, entries []api.Entry, depth int) error {
	for _, e := range entries {
		if !safeElement(e.Name) {
			continue // never write a name that could leave the folder
		}
		z.entries++
		if z.entries > maxZipEntries {
			return errTooManyEntries
		}
		p := path.Join(rel, e.Name)
		full := "/ipfs/" + z.root.String() + "/" + p
		switch e.Type {
		case "directory":
			if _, err := z.zw.CreateHeader(&zip.FileHeader{Name: z.top + "/" + p + "/", Modified: z.mod}); err != nil {
				return err
			}
			if depth >= maxDepth {
				continue
			}
			sub, err := z.h.d.Ls(ctx, full)
			if err != nil {
				return err
			}
			if err := z.dir(ctx, p, sub, depth+1); err != nil {
				return err
			}
		case "file", "raw":
			fw, err := z.zw.CreateHeader(&zip.FileHeader{Name: z.top + "/" + p, Method: zip.Deflate, Modified: z.mod})
			if err != nil {
				return err
			}
			// A file is copied up to the size it claims, and the zip up
			// to maxZipBytes, whatever the file's blocks hold.
			if e.Size < 0 || z.bytes+e.Size > maxZipBytes {
				return fmt.Errorf("%s: %w", p, errTooManyBytes)
			}
			rc, err := z.h.d.Cat(ctx, full)
			if err != nil {
				return err
			}
			n, err := io.Copy(fw, io.LimitReader(rc, e.Size+1))
			rc.Close()
			z.bytes += n
			if err == nil && n > e.Size {
				err = errNotAsClaimed
			}
			if err != nil {
				return fmt.Errorf("%s: %w", p, err)
			}
		}
		// Symlinks and other entries are not written: a zip symlink
		// could point outside the folder it is unpacked into.
	}
	return nil
}

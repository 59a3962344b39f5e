package pages

import (
	"context"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/mail"
	"net/url"
	"path"
	"sort"
	"strings"

	"github.com/ipfs/go-cid"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/pkg/bom"
)

// Limits of what one bundle page shows.
const (
	maxFiles   = 2000 // files listed (and walked)
	maxDepth   = 32   // folder depth walked
	maxGallery = 48   // images shown
)

// imageTypes are the file extensions shown in the gallery, as <img>: an
// SVG in an <img> runs no script.
var imageTypes = map[string]bool{".png": true, ".jpg": true, ".jpeg": true, ".gif": true, ".webp": true, ".svg": true, ".avif": true}

func isImage(p string) bool { return imageTypes[strings.ToLower(path.Ext(p))] }

type author struct {
	Name, Contact, Href string
}

type fileRow struct {
	Path, Size, Href, Download string
	Dir                        bool
}

type image struct {
	Src, Alt, Href, Caption string
}

type attachment struct {
	Name, Href string
	Image      bool
}

type logEntry struct {
	Time, Author, Text string
	Attachments        []attachment
}

type versionRow struct {
	CID, Href, Version, Created, Message, Changes, DiffPrev string
	Sequence                                                int64
	Current                                                 bool
}

type lineageRow struct {
	Depth           int
	Href, Title, ID string
	Known           bool
	Version         string
	Publisher       string
}

type bomRow struct {
	Part, PartNumber, Quantity, UnitCost, LineCost, Supplier, Link, Notes string
	Extra                                                                 []string
}

type bomTotal struct {
	Currency, Amount string
	Lines, Missing   int
}

type bomView struct {
	Path, Href string
	Extra      []string // headers of the extra columns
	Rows       []bomRow
	Totals     []bomTotal
}

type bundlePage struct {
	CID, Manifest, Name, Title, Summary, Version, Kind, Created, Publisher, Message string
	Sequence                                                                        int64
	Tags                                                                            []string
	Open                                                                            bool
	Licenses                                                                        []licence
	Authors                                                                         []author
	Head                                                                            bool
	HeadHref                                                                        string
	Size                                                                            string
	Raw, Zip, CAR                                                                   string

	Instructions     template.HTML
	InstructionsPath string
	InstructionsHref string
	InstructionsNote string

	BOM     *bomView
	BOMNote string

	Files     []fileRow
	FilesNote string
	Gallery   []image

	Log []logEntry

	History     []versionRow
	HistoryNote string
	Options     []versionRow // for the diff form, newest first
	DiffOld     string
	DiffNew     string

	DerivedFrom []lineageRow
	Derivatives []lineageRow
	LineageNote string
}

// serveBundle renders a bundle version's page. A ref that is a bundle name
// (or a CID in another form) is redirected to the canonical CID URL.
func (h *handler) serveBundle(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	ref := r.PathValue("ref")
	info, err := h.d.Show(ctx, ref)
	if err != nil {
		l := links{h.contentOrigin(r)}
		if c, cerr := cid.Decode(ref); cerr == nil && statusOf(err) == http.StatusBadRequest {
			// Not a design bundle (or not a valid one): the gateway
			// still serves its files.
			h.failRaw(w, r, http.StatusBadRequest, "show "+ref+": "+err.Error(), l.content(c, ""))
			return
		}
		h.failErr(w, r, "show "+ref, err)
		return
	}
	if canon := info.CID.String(); ref != canon {
		http.Redirect(w, r, bundleHref(canon), http.StatusFound)
		return
	}
	l := links{h.contentOrigin(r)}
	root := info.CID
	p := bundlePage{
		CID: root.String(), Manifest: info.Manifest.String(), Name: info.Name, Title: info.Title, Summary: info.Summary,
		Version: info.Version, Kind: info.Kind, Created: info.Created, Publisher: info.Publisher, Message: info.Message,
		Sequence: info.Sequence, Tags: info.Tags, Open: info.Open, Licenses: licences(info.Licenses), Head: info.Head,
		Size: formatSize(info.Size), Raw: l.content(root, ""),
		Zip: "/bundles/" + root.String() + ".zip", CAR: "/bundles/" + root.String() + ".car",
	}
	if p.Title == "" {
		p.Title = p.Name
	}
	for _, a := range info.Authors {
		p.Authors = append(p.Authors, author{Name: a.Name, Contact: a.Contact, Href: contactHref(a.Contact)})
	}

	if info.Instructions != "" {
		p.InstructionsPath = info.Instructions
		p.InstructionsHref = l.content(root, info.Instructions)
		if data, err := h.readFile(ctx, root, info.Instructions, maxMarkdown); err != nil {
			p.InstructionsNote = "The instructions cannot be read: " + err.Error()
		} else {
			dir := path.Dir(info.Instructions)
			if dir == "." {
				dir = ""
			}
			p.Instructions = h.md.render(data, mdLinks{dir: dir, file: func(fp string) string { return l.content(root, fp) }})
		}
	}
	if info.BOM != "" {
		p.BOM, p.BOMNote = h.bomView(ctx, l, root, info.BOM)
	}

	files, truncated, err := h.walk(ctx, info.Files)
	switch {
	case err != nil:
		p.FilesNote = "The file list cannot be read: " + err.Error()
	case truncated:
		p.FilesNote = fmt.Sprintf("Only the first %d files are listed; the downloads hold them all.", maxFiles)
	}
	for _, f := range files {
		row := fileRow{Path: f.Name, Href: l.content(root, f.Name), Dir: f.Type == "directory"}
		if !row.Dir {
			row.Size = formatSize(f.Size)
			row.Download = l.download(root, f.Name)
		}
		p.Files = append(p.Files, row)
		if f.Type == "file" && isImage(f.Name) && len(p.Gallery) < maxGallery {
			p.Gallery = append(p.Gallery, image{Src: l.content(root, f.Name), Href: l.content(root, f.Name),
				Alt: "Design image " + f.Name, Caption: f.Name})
		}
	}

	for i, e := range info.Log {
		le := logEntry{Time: e.Time, Author: e.Author, Text: e.Text}
		for _, a := range e.Attachments {
			at := attachment{Name: path.Base(a), Href: l.content(root, a), Image: isImage(a)}
			le.Attachments = append(le.Attachments, at)
			if at.Image && len(p.Gallery) < maxGallery {
				p.Gallery = append(p.Gallery, image{Src: at.Href, Href: at.Href,
					Alt: fmt.Sprintf("Photo %s from log entry %d", at.Name, i+1), Caption: at.Name})
			}
		}
		p.Log = append(p.Log, le)
	}
	// Newest entry first: a timeline reads back from now.
	for i, j := 0, len(p.Log)-1; i < j; i, j = i+1, j-1 {
		p.Log[i], p.Log[j] = p.Log[j], p.Log[i]
	}

	h.history(ctx, &p, info)
	h.lineage(ctx, &p, root)
	switch status := h.render(w, r, http.StatusOK, "bundle", p); {
	case r.Method != http.MethodGet:
	case status == http.StatusOK, status == http.StatusNotModified:
		h.count.View(root)
	}
}

// contactHref links an author's contact when it is a web address or an
// e-mail address; anything else is shown as text.
func contactHref(c string) string {
	c = strings.TrimSpace(c)
	if u, err := url.Parse(c); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
		return u.String()
	}
	if a, err := mail.ParseAddress(c); err == nil {
		return "mailto:" + a.Address
	}
	return ""
}

// readFile reads at most max bytes of the file p inside root.
func (h *handler) readFile(ctx context.Context, root cid.Cid, p string, max int64) ([]byte, error) {
	rc, err := h.d.Cat(ctx, "/ipfs/"+root.String()+"/"+p)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, max))
}

// bomView parses the BOM and lays it out as a table with line costs and
// totals per currency.
func (h *handler) bomView(ctx context.Context, l links, root cid.Cid, p string) (*bomView, string) {
	data, err := h.readFile(ctx, root, p, bom.MaxSize+1)
	if err != nil {
		return nil, "The BOM cannot be read: " + err.Error()
	}
	b, err := bom.Parse(p, data)
	if err != nil {
		return nil, "The BOM does not parse: " + err.Error()
	}
	v := &bomView{Path: p, Href: l.content(root, p)}
	extra := map[string]bool{}
	for _, line := range b.Lines {
		for k := range line.Extra {
			extra[k] = true
		}
	}
	for k := range extra {
		v.Extra = append(v.Extra, k)
	}
	sort.Strings(v.Extra)
	if len(v.Extra) > 4 {
		v.Extra = v.Extra[:4]
	}
	for _, line := range b.Lines {
		row := bomRow{Part: line.Part, Quantity: line.Quantity.String(), Supplier: line.Supplier, Notes: line.Notes}
		if line.PartNumber != line.Part {
			row.PartNumber = line.PartNumber
		}
		if line.Unit != "" {
			row.Quantity += " " + line.Unit
		}
		if line.HasCost {
			row.UnitCost = money(line.UnitCost, line.Currency)
			row.LineCost = money(line.Cost(), line.Currency)
		}
		if u, err := url.Parse(line.Link); err == nil && (u.Scheme == "http" || u.Scheme == "https") && u.Host != "" {
			row.Link = u.String()
		}
		for _, k := range v.Extra {
			row.Extra = append(row.Extra, line.Extra[k])
		}
		v.Rows = append(v.Rows, row)
	}
	for _, t := range b.Totals() {
		v.Totals = append(v.Totals, bomTotal{Currency: t.Currency, Amount: money(t.Amount, t.Currency), Lines: t.Lines, Missing: t.Missing})
	}
	return v, ""
}

// money shows an amount with at least two decimals and its currency.
func money(d bom.Decimal, cur string) string {
	s := d.Fixed(2)
	if cur != "" {
		s += " " + cur
	}
	return s
}

// walk lists the files under dir (a design's files), depth first in name
// order, with paths relative to it. truncated says the list stopped at
// maxFiles.
func (h *handler) walk(ctx context.Context, dir cid.Cid) (out []api.Entry, truncated bool, err error) {
	var visit func(rel string, depth int) error
	visit = func(rel string, depth int) error {
		p := "/ipfs/" + dir.String()
		if rel != "" {
			p += "/" + rel
		}
		entries, err := h.d.Ls(ctx, p)
		if err != nil {
			return err
		}
		sort.Slice(entries, func(i, j int) bool { return entries[i].Name < entries[j].Name })
		for _, e := range entries {
			if !safeElement(e.Name) {
				continue
			}
			if len(out) >= maxFiles {
				truncated = true
				return nil
			}
			e.Name = path.Join(rel, e.Name)
			out = append(out, e)
			if e.Type == "directory" && depth < maxDepth {
				if err := visit(e.Name, depth+1); err != nil {
					return err
				}
			}
		}
		return nil
	}
	err = visit("", 1)
	return out, truncated, err
}

// safeElement reports whether a name from a directory can be one element
// of a path: not empty, not . or .., no slash, backslash or control
// character. Names from peers' DAGs may be anything.
func safeElement(name string) bool {
	if name == "" || name == "." || name == ".." {
		return false
	}
	for _, r := range name {
		if r == '/' || r == '\\' || r < 0x20 || r == 0x7f {
			return false
		}
	}
	return true
}

// history fills the version history and the diff form.
func (h *handler) history(ctx context.Context, p *bundlePage, info api.BundleInfo) {
	ref := info.CID.String()
	if !info.Head {
		// Start from the newest version, so the page shows what came
		// after this one too.
		if bs, err := h.d.Bundles(ctx); err == nil {
			for _, b := range bs {
				if b.Name == info.Name && b.Publisher == info.Publisher && b.Sequence > info.Sequence {
					ref = b.CID.String()
					p.HeadHref = bundleHref(ref)
				}
			}
		}
	}
	hist, err := h.d.History(ctx, ref)
	if err != nil {
		p.HistoryNote = "The history cannot be read: " + err.Error()
		return
	}
	if hist.Truncated {
		p.HistoryNote = "Older versions cannot be read here: " + hist.Note
	}
	for i, v := range hist.Versions {
		row := versionRow{CID: v.CID.String(), Href: bundleHref(v.CID.String()), Version: v.Version, Created: v.Created,
			Message: v.Message, Sequence: v.Sequence, Current: v.CID.Equals(info.CID)}
		if c := v.Changes; c != nil {
			row.Changes = fmt.Sprintf("%d added, %d removed, %d changed", c.Added, c.Removed, c.Changed)
		}
		if i+1 < len(hist.Versions) {
			row.DiffPrev = diffHref(hist.Versions[i+1].CID.String(), v.CID.String())
		}
		p.History = append(p.History, row)
	}
	p.Options = p.History
	p.DiffNew = info.CID.String()
	for i, v := range hist.Versions {
		if v.CID.Equals(info.CID) && i+1 < len(hist.Versions) {
			p.DiffOld = hist.Versions[i+1].CID.String()
		}
	}
	if p.DiffOld == "" && len(hist.Versions) > 1 {
		p.DiffOld = hist.Versions[len(hist.Versions)-1].CID.String()
	}
}

func diffHref(old, new string) string {
	return "/diff?old=" + url.QueryEscape(old) + "&new=" + url.QueryEscape(new)
}

// lineage fills the sources and derivatives.
func (h *handler) lineage(ctx context.Context, p *bundlePage, root cid.Cid) {
	lin, err := h.d.Lineage(ctx, root.String())
	if err != nil {
		p.LineageNote = "The lineage cannot be read: " + err.Error()
		return
	}
	row := func(l api.LineageLink) lineageRow {
		r := lineageRow{Depth: l.Depth, Known: l.Known, ID: l.Bundle.CID.String(), Href: bundleHref(l.Bundle.CID.String()),
			Title: l.Bundle.Title, Version: l.Bundle.Version, Publisher: l.Bundle.Publisher}
		if r.Title == "" {
			r.Title = l.Bundle.Name
		}
		return r
	}
	for _, l := range lin.DerivedFrom {
		p.DerivedFrom = append(p.DerivedFrom, row(l))
	}
	for _, l := range lin.Derivatives {
		p.Derivatives = append(p.Derivatives, row(l))
	}
}

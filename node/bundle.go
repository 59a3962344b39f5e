package node

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"
	"time"

	"github.com/ipfs/boxo/files"
	unixfile "github.com/ipfs/boxo/ipld/unixfs/file"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	pin "github.com/ipfs/boxo/pinning/pinner"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/pkg/bom"
	"github.com/commons-p2p/commons/pkg/bundle"
	"github.com/commons-p2p/commons/pkg/folder"
	"github.com/commons-p2p/commons/pkg/license"
	"github.com/commons-p2p/commons/pkg/metadata"
	"github.com/commons-p2p/commons/pkg/textdiff"
)

// Files the node looks for when the metadata names no BOM or instructions,
// in order of preference, matched case-insensitively at the top of the
// design folder.
var (
	bomNames          = []string{"bom.csv", "bom.tsv", "bom.md", "bill-of-materials.csv", "bill_of_materials.csv", "bill-of-materials.md", "parts.csv"}
	instructionsNames = []string{"instructions.md", "build.md", "assembly.md", "building.md", "how-to-build.md", "readme.md"}
)

// maxTextFile bounds the instructions and BOM files the node reads into
// memory to check and compare them.
const maxTextFile = 8 << 20

// bundleError turns a bundle package error into an API error class.
func bundleError(err error) error {
	for _, s := range []error{bundle.ErrInvalidManifest, bundle.ErrBadSignature, bundle.ErrWrongPublisher, bundle.ErrStale, bundle.ErrNotBundle} {
		if errors.Is(err, s) {
			return fmt.Errorf("%w: %w", api.ErrInvalid, err)
		}
	}
	return err
}

// loadBundle reads and verifies the bundle at root, fetching what is
// missing unless local is set. The fetch gives up after fetch.timeout.
func (n *Node) loadBundle(ctx context.Context, root cid.Cid, expect crypto.PubKey, local bool) (*bundle.Bundle, error) {
	dag := n.DAG
	if local {
		dag = n.localDAG
	}
	ctx, wd := n.watch(ctx)
	defer wd.stop()
	b, err := bundle.Load(ctx, dag, root, bundle.LoadOptions{Publisher: expect})
	if err != nil {
		if errors.Is(err, bundle.ErrNotBundle) {
			return nil, fmt.Errorf("%w: %s is not a design bundle (a plain folder or file, with no %s)", api.ErrInvalid, root, bundle.ManifestPath)
		}
		return nil, bundleError(wd.explain(err))
	}
	if err := n.bundles.Seen(ctx, b); err != nil {
		n.log.Warn("index bundle", "subsystem", "bundle", "cid", root, "err", err)
	}
	return b, nil
}

// readBundle is loadBundle for callers that only read the bundle (show,
// history, lineage, diff, the design pages): a root verified once is
// served from a small cache, since its blocks, and so the verdict, never
// change. The cached value is shared: callers must not modify it.
func (n *Node) readBundle(ctx context.Context, root cid.Cid, expect crypto.PubKey) (*bundle.Bundle, error) {
	if b, ok := n.verified.Get(root); ok {
		if pub, err := b.Manifest().PublisherKey(); err == nil && (expect == nil || expect.Equals(pub)) {
			return b, nil
		}
	}
	b, err := n.loadBundle(ctx, root, expect, false)
	if err != nil {
		return nil, err
	}
	n.verified.Add(root, b)
	return b, nil
}

// verifyIfBundle checks the design bundle at c, if c is one, and records
// it in the index: a plain folder or file passes, a bundle that does not
// verify is refused (ErrInvalid).
func (n *Node) verifyIfBundle(ctx context.Context, c cid.Cid, local bool) error {
	dag := n.DAG
	if local {
		dag = n.localDAG
	}
	b, err := bundle.Load(ctx, dag, c, bundle.LoadOptions{})
	switch {
	case errors.Is(err, bundle.ErrNotBundle):
		return nil
	case err != nil:
		return bundleError(err)
	}
	if err := n.bundles.Put(ctx, b); err != nil {
		n.log.Warn("index bundle", "subsystem", "bundle", "cid", c, "err", err)
	}
	return nil
}

// ensureStored makes sure the DAG under c, part of the bundle version at
// root, is stored here: nothing to do when root is pinned (pins are
// complete), else it is fetched (or read through, if it is all here).
func (n *Node) ensureStored(ctx context.Context, root, c cid.Cid) error {
	if _, pinned, err := n.Pinner.IsPinnedWithType(ctx, root, pin.Recursive); err == nil && pinned {
		return nil
	}
	return n.fetchDAG(ctx, c, nil)
}

// refBundle resolves a ref (CID, /ipfs/ path, or bundle name) and loads
// the bundle it names.
func (n *Node) refBundle(ctx context.Context, ref string) (*bundle.Bundle, error) {
	ref = strings.TrimSpace(ref)
	if ref == "" {
		return nil, fmt.Errorf("%w: name a bundle by CID or name", api.ErrInvalid)
	}
	if bundle.ValidName(ref) == nil {
		if _, err := cid.Decode(ref); err != nil {
			r, err := n.headByName(ctx, ref)
			if err != nil {
				return nil, err
			}
			return n.readBundle(ctx, r.Root, nil)
		}
	}
	c, err := n.resolve(ctx, ref)
	if err != nil {
		return nil, err
	}
	return n.readBundle(ctx, c, nil)
}

// headByName finds the newest version of a bundle by name: this node's own
// bundle first, else the only known publisher's.
func (n *Node) headByName(ctx context.Context, name string) (bundle.Record, error) {
	if id := n.publisherID(); id != "" {
		if r, ok, err := n.bundles.Head(ctx, id, name); err != nil || ok {
			return r, err
		}
	}
	heads, err := n.bundles.Heads(ctx)
	if err != nil {
		return bundle.Record{}, err
	}
	var found []bundle.Record
	for _, h := range heads {
		if h.Name == name {
			found = append(found, h)
		}
	}
	switch len(found) {
	case 0:
		return bundle.Record{}, fmt.Errorf("%w: no bundle named %q is known here (publish it, or name a version by CID)", api.ErrNotFound, name)
	case 1:
		return found[0], nil
	}
	var who []string
	for _, f := range found {
		who = append(who, f.Root.String()+" by "+f.Publisher)
	}
	return bundle.Record{}, fmt.Errorf("%w: %d publishers have a bundle named %q; name one by CID: %s", api.ErrInvalid, len(found), name, strings.Join(who, ", "))
}

func (n *Node) publisherID() string {
	if n.publisher == nil {
		return ""
	}
	return peerIDString(n.publisher.GetPublic())
}

// publishBundle is Publish for design bundles: import the folder, merge
// its commons.toml with the options and the parent version, check
// licences, BOM and instructions, sign, store the bundle root, pin it and
// make it the head of its name.
func (n *Node) publishBundle(ctx context.Context, dir files.Node, opts api.PublishOptions, progress func(api.Progress)) (api.PublishResult, error) {
	if n.publisher == nil {
		return api.PublishResult{}, errors.New("publish: this node has no publisher key")
	}
	if _, ok := dir.(files.Directory); !ok {
		return api.PublishResult{}, fmt.Errorf("publish: %w: a design bundle is a folder; publish a single file with --plain, or put it in a folder", api.ErrInvalid)
	}
	filesRoot, totals, err := n.importFolder(ctx, dir, opts.Name, progress)
	if err != nil {
		return api.PublishResult{}, err
	}
	var meta metadata.Metadata
	if c, err := bundle.Resolve(ctx, n.localDAG, filesRoot, metadata.FileName); err == nil {
		data, err := n.readFile(ctx, c, metadata.MaxSize)
		if err != nil {
			return api.PublishResult{}, fmt.Errorf("publish: %w: %s: %v", api.ErrInvalid, metadata.FileName, err)
		}
		if meta, err = metadata.Parse(data); err != nil {
			return api.PublishResult{}, fmt.Errorf("publish: %w: %w", api.ErrInvalid, err)
		}
	}
	meta = meta.Merge(opts.Meta)
	if meta.Name == "" {
		meta.Name = bundle.NameFromFolder(opts.Name)
	}
	if err := bundle.ValidName(meta.Name); err != nil {
		return api.PublishResult{}, fmt.Errorf("publish: %w: %v (set name in %s or use --name)", api.ErrInvalid, err, metadata.FileName)
	}
	var parent *bundle.Bundle
	if head, ok, err := n.bundles.Head(ctx, n.publisherID(), meta.Name); err != nil {
		return api.PublishResult{}, fmt.Errorf("publish %s: %w", meta.Name, err)
	} else if ok {
		// Normally stored here; if it was unpinned and collected, a
		// mirror may still have it.
		if parent, err = n.loadBundle(ctx, head.Root, n.publisher.GetPublic(), false); err != nil {
			return api.PublishResult{}, fmt.Errorf("publish %s: the previous version %s is needed as the parent and cannot be read (re-import or pin it): %w", meta.Name, head.Root, err)
		}
	}
	m, warnings, err := n.manifestFor(ctx, meta, parent, filesRoot, totals.Bytes)
	if err != nil {
		return api.PublishResult{}, fmt.Errorf("publish %s: %w", meta.Name, err)
	}
	if parent != nil {
		cand := m
		cand.Publisher = parent.Manifest().Publisher
		if bundle.SameContent(&cand, parent.Manifest()) {
			res := api.PublishResult{CID: parent.Root, Name: m.Name, Manifest: parent.ManifestCID, Sequence: parent.Manifest().Sequence,
				Open: parent.Manifest().OpenSource, Files: totals.Files, Bytes: totals.Bytes, Unchanged: true, Warnings: warnings}
			// A publish cut off between its commit and the library's
			// update, then done again, finds its version here: the
			// library catches up now rather than at the next start.
			if err := n.addToLibrary(ctx, parent); err != nil {
				res.Warnings = append(res.Warnings, fmt.Sprintf("the library was not updated (it will be at the next daemon start): %v", err))
			}
			if u := n.GatewayURL(); u != "" {
				res.GatewayURL = u + "/ipfs/" + parent.Root.String() + "/"
			}
			return res, nil
		}
	}
	logDir := cid.Undef
	if parent != nil {
		if logDir, err = bundle.LogFolder(ctx, n.localDAG, parent.Root); err != nil {
			return api.PublishResult{}, fmt.Errorf("publish %s: %w", meta.Name, err)
		}
		// The new version carries the log's attachments: they must be
		// stored here before it is pinned.
		if logDir.Defined() {
			if err := n.ensureStored(ctx, parent.Root, logDir); err != nil {
				return api.PublishResult{}, fmt.Errorf("publish %s: the log's attachments: %w", meta.Name, err)
			}
		}
	}
	res, err := n.commitVersion(ctx, m, logDir, parent)
	if err != nil {
		return api.PublishResult{}, err
	}
	res.Files, res.Bytes, res.Warnings = totals.Files, totals.Bytes, warnings
	return res, nil
}

// importFolder imports a folder (without pinning it) and counts it.
func (n *Node) importFolder(ctx context.Context, dir files.Node, name string, progress func(api.Progress)) (cid.Cid, folder.Progress, error) {
	fo := n.FolderOptions()
	var last folder.Progress
	fo.Progress = func(p folder.Progress) {
		last = p
		if progress != nil {
			progress(api.Progress{Phase: "import", Files: p.Files, Bytes: p.Bytes, Path: p.Path})
		}
	}
	root, err := folder.Import(ctx, n.DAG, dir, fo)
	if err != nil {
		if isRefusal(err) {
			return cid.Undef, last, fmt.Errorf("publish %s: %w: %w", name, api.ErrInvalid, err)
		}
		return cid.Undef, last, fmt.Errorf("publish %s: %w", name, err)
	}
	return root, last, nil
}

// manifestFor builds the unsigned manifest of a new version from the
// publisher's metadata, the parent version (whose fields are inherited
// when the metadata leaves them unset) and the imported files.
func (n *Node) manifestFor(ctx context.Context, meta metadata.Metadata, parent *bundle.Bundle, filesRoot cid.Cid, size int64) (bundle.Manifest, []string, error) {
	var m bundle.Manifest
	if parent != nil {
		m = *parent.Manifest()
		m.Parents = []cid.Cid{parent.Root}
		m.Sequence++
		m.Message = ""
	} else {
		m = bundle.Manifest{Sequence: 1, Kind: bundle.KindProductDesign}
	}
	m.Schema = bundle.Schema
	m.Name = meta.Name
	m.Files, m.Size = filesRoot, size
	m.Created = time.Now().UTC().Format(time.RFC3339)
	set := func(dst *string, v string) {
		if v != "" {
			*dst = strings.TrimSpace(v)
		}
	}
	set(&m.Title, meta.Title)
	set(&m.Summary, meta.Summary)
	set(&m.Version, meta.Version)
	set(&m.Message, meta.Message)
	set(&m.Licenses.Hardware, meta.Licenses.Hardware)
	set(&m.Licenses.Software, meta.Licenses.Software)
	set(&m.Licenses.Documentation, meta.Licenses.Documentation)
	if m.Title == "" {
		m.Title = m.Name
	}
	if meta.Kind != "" {
		k, err := bundle.ParseKind(meta.Kind)
		if err != nil {
			return m, nil, fmt.Errorf("%w: %v", api.ErrInvalid, err)
		}
		m.Kind = k
	}
	if len(meta.Tags) > 0 {
		m.Tags = meta.Tags
	}
	if len(meta.Authors) > 0 {
		m.Authors = nil
		for _, a := range meta.Authors {
			m.Authors = append(m.Authors, bundle.Author{Name: a.Name, Contact: a.Contact})
		}
	}
	if len(meta.DerivedFrom) > 0 {
		m.DerivedFrom = nil
		for _, s := range meta.DerivedFrom {
			c, err := n.resolve(ctx, s)
			if err != nil {
				return m, nil, fmt.Errorf("derived_from %q: %w", s, err)
			}
			m.DerivedFrom = append(m.DerivedFrom, c)
		}
	}
	open, err := n.checkLicenses(&m)
	if err != nil {
		return m, nil, err
	}
	m.OpenSource = open
	var warnings []string
	if len(m.Authors) == 0 {
		warnings = append(warnings, "no authors: add [[authors]] to "+metadata.FileName+" or use --author, so that the design's makers are credited")
	}
	bomRef, w, err := n.findText(ctx, filesRoot, meta.BOM, bomNames, "BOM")
	if err != nil {
		return m, nil, err
	}
	warnings = append(warnings, w...)
	if bomRef != nil {
		data, err := n.readFile(ctx, bomRef.Link, maxTextFile)
		if err != nil {
			return m, nil, fmt.Errorf("BOM %s: %w", bomRef.Path, err)
		}
		if _, err := bom.Parse(bomRef.Path, data); err != nil {
			return m, nil, fmt.Errorf("%w: %w (fix the BOM, or name another with bom = in %s)", api.ErrInvalid, err, metadata.FileName)
		}
	}
	m.Bom = bomRef
	instrRef, w, err := n.findText(ctx, filesRoot, meta.Instructions, instructionsNames, "build instructions")
	if err != nil {
		return m, nil, err
	}
	warnings = append(warnings, w...)
	m.Instructions = instrRef
	return m, warnings, nil
}

// checkLicenses normalises and checks the licence triple. Non-open
// licences are refused unless publish.allow_non_open is set.
func (n *Node) checkLicenses(m *bundle.Manifest) (open bool, err error) {
	for _, l := range []*string{&m.Licenses.Hardware, &m.Licenses.Software, &m.Licenses.Documentation} {
		if *l == "" {
			continue
		}
		if norm, err := license.Normalize(*l); err == nil {
			*l = norm
		}
	}
	rep, err := license.CheckTriple(license.Triple{Hardware: m.Licenses.Hardware, Software: m.Licenses.Software, Documentation: m.Licenses.Documentation}, n.settings.Publish.AllowNonOpen)
	if err != nil {
		return false, fmt.Errorf("%w: %w (set [licenses] in %s or use --license-hardware, --license-software, --license-documentation; NONE for a part the design does not have)", api.ErrInvalid, err, metadata.FileName)
	}
	return rep.Open, nil
}

// findText locates the BOM or the instructions: the path the metadata
// names (which must exist), else the first well-known name at the top of
// the files. A missing one is a warning, not an error.
func (n *Node) findText(ctx context.Context, filesRoot cid.Cid, named string, known []string, what string) (*bundle.FileRef, []string, error) {
	if named != "" {
		p := strings.Trim(path.Clean("/"+named), "/")
		c, err := bundle.Resolve(ctx, n.localDAG, filesRoot, p)
		if err != nil {
			return nil, nil, fmt.Errorf("%w: %s %q is not in the folder", api.ErrInvalid, what, named)
		}
		return &bundle.FileRef{Path: p, Link: c}, nil, nil
	}
	nd, err := n.localDAG.Get(ctx, filesRoot)
	if err != nil {
		return nil, nil, err
	}
	dir, err := uio.NewDirectoryFromNode(n.localDAG, nd)
	if err != nil {
		return nil, nil, err
	}
	byLower := make(map[string]*ipld.Link)
	if err := dir.ForEachLink(ctx, func(l *ipld.Link) error {
		lower := strings.ToLower(l.Name)
		if _, ok := byLower[lower]; !ok {
			byLower[lower] = l
		}
		return nil
	}); err != nil {
		return nil, nil, err
	}
	for _, k := range known {
		if l, ok := byLower[k]; ok {
			return &bundle.FileRef{Path: l.Name, Link: l.Cid}, nil, nil
		}
	}
	return nil, []string{fmt.Sprintf("no %s found (looked for %s); name it in %s", what, strings.Join(known, ", "), metadata.FileName)}, nil
}

// readFile reads a whole UnixFS file of at most max bytes.
func (n *Node) readFile(ctx context.Context, c cid.Cid, max int64) ([]byte, error) {
	ctx, wd := n.watch(ctx)
	defer wd.stop()
	nd, err := n.DAG.Get(ctx, c)
	if err != nil {
		return nil, wd.explain(err)
	}
	f, err := unixfile.NewUnixfsFile(ctx, n.DAG, nd)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	file, ok := f.(files.File)
	if !ok {
		return nil, fmt.Errorf("%w: %s is a folder, not a file", api.ErrInvalid, c)
	}
	if sz, err := file.Size(); err == nil && sz > max {
		return nil, fmt.Errorf("%w: %s is %d bytes, more than the %d read here", api.ErrInvalid, c, sz, max)
	}
	data, err := io.ReadAll(io.LimitReader(file, max+1))
	if err != nil {
		return nil, wd.explain(err)
	}
	if int64(len(data)) > max {
		return nil, fmt.Errorf("%w: %s is more than %d bytes", api.ErrInvalid, c, max)
	}
	return data, nil
}

// commitVersion signs m, stores the bundle root, pins it, makes it the head
// of its name and makes all of that durable.
func (n *Node) commitVersion(ctx context.Context, m bundle.Manifest, logDir cid.Cid, parent *bundle.Bundle) (api.PublishResult, error) {
	s, err := bundle.Sign(m, n.publisher)
	if err != nil {
		return api.PublishResult{}, fmt.Errorf("publish %s: %w", m.Name, bundleError(err))
	}
	root, err := bundle.Build(ctx, n.DAG, s, logDir)
	if err != nil {
		return api.PublishResult{}, fmt.Errorf("publish %s: %w", m.Name, bundleError(err))
	}
	b, err := bundle.Load(ctx, n.localDAG, root, bundle.LoadOptions{Publisher: n.publisher.GetPublic()})
	if err != nil {
		return api.PublishResult{}, fmt.Errorf("publish %s: the new version does not verify: %w", m.Name, err)
	}
	if err := n.pinLocal(ctx, root, m.Name, func(ctx context.Context) error { return n.bundles.Advance(ctx, b) }); err != nil {
		return api.PublishResult{}, fmt.Errorf("publish %s: %w", m.Name, bundleError(err))
	}
	res := api.PublishResult{CID: root, Name: m.Name, Manifest: b.ManifestCID, Sequence: m.Sequence, Open: m.OpenSource, Bytes: m.Size}
	// The version is committed; the library follows it. If that fails
	// the next start repairs it (reconcileLibrary), so it is a warning.
	if err := n.addToLibrary(ctx, b); err != nil {
		res.Warnings = append(res.Warnings, fmt.Sprintf("the library was not updated (it will be at the next daemon start): %v", err))
	}
	old := cid.Undef
	if parent != nil {
		res.Parent, old = parent.Root, parent.Root
	}
	if res.NewBytes, res.NewBlocks, err = bundle.NewBytes(ctx, n.localDAG, old, root); err != nil {
		n.log.Warn("count new bytes", "subsystem", "bundle", "cid", root, "err", err)
	}
	if u := n.GatewayURL(); u != "" {
		res.GatewayURL = u + "/ipfs/" + root.String() + "/"
	}
	return res, nil
}

// Show implements api.Service.
func (n *Node) Show(ctx context.Context, ref string) (api.BundleInfo, error) {
	b, err := n.refBundle(ctx, ref)
	if err != nil {
		return api.BundleInfo{}, fmt.Errorf("show %s: %w", ref, err)
	}
	return n.info(ctx, b), nil
}

func (n *Node) info(ctx context.Context, b *bundle.Bundle) api.BundleInfo {
	m := b.Manifest()
	info := api.BundleInfo{
		CID: b.Root, Manifest: b.ManifestCID, Name: m.Name, Title: m.Title, Summary: m.Summary, Version: m.Version,
		Sequence: m.Sequence, Kind: string(m.Kind), Tags: m.Tags, Open: m.OpenSource, Files: m.Files, Size: m.Size,
		Licenses: metadata.Licenses{Hardware: m.Licenses.Hardware, Software: m.Licenses.Software, Documentation: m.Licenses.Documentation},
		Parents:  m.Parents, DerivedFrom: m.DerivedFrom, Message: m.Message, Created: m.Created, Publisher: m.PublisherID(),
	}
	for _, a := range m.Authors {
		info.Authors = append(info.Authors, metadata.Author{Name: a.Name, Contact: a.Contact})
	}
	if m.Bom != nil {
		info.BOM = m.Bom.Path
	}
	if m.Instructions != nil {
		info.Instructions = m.Instructions.Path
	}
	for _, e := range m.Log {
		le := api.LogEntry{Time: e.Time, Author: e.Author, Text: e.Text}
		for _, a := range e.Attachments {
			le.Attachments = append(le.Attachments, a.Path)
		}
		info.Log = append(info.Log, le)
	}
	if h, ok, err := n.bundles.Head(ctx, m.PublisherID(), m.Name); err == nil && ok {
		info.Head = h.Root.Equals(b.Root)
	}
	if u := n.GatewayURL(); u != "" {
		info.GatewayURL = u + "/ipfs/" + b.Root.String() + "/"
	}
	return info
}

func summaryOf(b *bundle.Bundle) api.BundleSummary {
	m := b.Manifest()
	s := api.BundleSummary{
		CID: b.Root, Name: m.Name, Title: m.Title, Summary: m.Summary, Version: m.Version, Sequence: m.Sequence,
		Kind: string(m.Kind), Tags: m.Tags, Created: m.Created, Publisher: m.PublisherID(), Message: m.Message,
		Size: m.Size, Open: m.OpenSource,
		Licenses: metadata.Licenses{Hardware: m.Licenses.Hardware, Software: m.Licenses.Software, Documentation: m.Licenses.Documentation},
	}
	for _, a := range m.Authors {
		s.Authors = append(s.Authors, a.Name)
	}
	return s
}

// Bundles implements api.Service. Each head is verified again from the
// local store; one that no longer verifies or is no longer stored is
// listed with its problem rather than hidden.
func (n *Node) Bundles(ctx context.Context) ([]api.BundleSummary, error) {
	heads, err := n.bundles.Heads(ctx)
	if err != nil {
		return nil, fmt.Errorf("bundles: %w", err)
	}
	out := make([]api.BundleSummary, 0, len(heads))
	for _, h := range heads {
		pub, _ := publicKeyOf(h.Publisher)
		b, err := bundle.Load(ctx, n.localDAG, h.Root, bundle.LoadOptions{Publisher: pub})
		if err != nil {
			s := api.BundleSummary{CID: h.Root, Name: h.Name, Title: h.Title, Version: h.Version, Sequence: h.Sequence,
				Created: h.Created, Publisher: h.Publisher, Size: h.Size, Open: h.Open}
			if ipld.IsNotFound(err) {
				s.Problem = "not stored here any more (unpinned and collected)"
			} else {
				s.Problem = err.Error()
			}
			out = append(out, s)
			continue
		}
		out = append(out, summaryOf(b))
	}
	return out, nil
}

// History implements api.Service.
func (n *Node) History(ctx context.Context, ref string) (api.History, error) {
	b, err := n.refBundle(ctx, ref)
	if err != nil {
		return api.History{}, fmt.Errorf("history %s: %w", ref, err)
	}
	var h api.History
	pub, _ := b.Manifest().PublisherKey()
	for range 100000 {
		s := summaryOf(b)
		m := b.Manifest()
		if len(m.Parents) == 0 {
			h.Versions = append(h.Versions, s)
			return h, nil
		}
		parent, err := n.readBundle(ctx, m.Parents[0], pub)
		if err != nil {
			h.Versions = append(h.Versions, s)
			h.Truncated = true
			h.Note = fmt.Sprintf("version %d's parent %s: %v", m.Sequence, m.Parents[0], err)
			return h, nil
		}
		if parent.Manifest().Sequence >= m.Sequence {
			h.Versions = append(h.Versions, s)
			h.Truncated = true
			h.Note = fmt.Sprintf("version %d names a parent with sequence %d; the chain is not valid past here", m.Sequence, parent.Manifest().Sequence)
			return h, nil
		}
		if d, err := bundle.DiffBundles(ctx, n.DAG, parent.Root, b.Root); err == nil {
			cs := &api.ChangeSummary{SizeDelta: m.Size - parent.Manifest().Size}
			for _, c := range d.Changes {
				switch c.Change {
				case bundle.Added:
					cs.Added++
				case bundle.Removed:
					cs.Removed++
				default:
					cs.Changed++
				}
			}
			s.Changes = cs
		}
		h.Versions = append(h.Versions, s)
		b = parent
	}
	h.Truncated = true
	return h, nil
}

// Diff implements api.Service.
func (n *Node) Diff(ctx context.Context, oldRef, newRef string) (api.DiffResult, error) {
	ob, err := n.refBundle(ctx, oldRef)
	if err != nil {
		return api.DiffResult{}, fmt.Errorf("diff %s: %w", oldRef, err)
	}
	nb, err := n.refBundle(ctx, newRef)
	if err != nil {
		return api.DiffResult{}, fmt.Errorf("diff %s: %w", newRef, err)
	}
	om, nm := ob.Manifest(), nb.Manifest()
	res := api.DiffResult{Old: summaryOf(ob), New: summaryOf(nb)}
	ctx, wd := n.watch(ctx)
	defer wd.stop()
	td, err := bundle.DiffBundles(ctx, n.DAG, ob.Root, nb.Root)
	if err != nil {
		return api.DiffResult{}, wd.explain(fmt.Errorf("diff: %w", err))
	}
	res.Truncated = td.Truncated
	for _, c := range td.Changes {
		res.Files = append(res.Files, api.FileChange{Path: c.Path, Change: c.Change, Type: c.Type, OldSize: c.OldSize, NewSize: c.NewSize})
	}
	if res.NewBytes, res.NewBlocks, err = bundle.NewBytes(ctx, n.DAG, ob.Root, nb.Root); err != nil {
		return api.DiffResult{}, wd.explain(fmt.Errorf("diff: %w", err))
	}
	res.Metadata = metadataChanges(om, nm)
	res.Instructions, res.InstructionsNote = n.instructionsDiff(ctx, om, nm)
	res.BOM = n.bomDiff(ctx, om, nm)
	return res, nil
}

// metadataChanges lists the manifest fields that differ, as "field: old -> new".
func metadataChanges(o, n *bundle.Manifest) []string {
	var out []string
	cmp := func(field, a, b string) {
		if a != b {
			out = append(out, fmt.Sprintf("%s: %q -> %q", field, a, b))
		}
	}
	cmp("name", o.Name, n.Name)
	cmp("title", o.Title, n.Title)
	cmp("summary", o.Summary, n.Summary)
	cmp("version", o.Version, n.Version)
	cmp("kind", string(o.Kind), string(n.Kind))
	cmp("tags", strings.Join(o.Tags, ", "), strings.Join(n.Tags, ", "))
	cmp("licenses.hardware", o.Licenses.Hardware, n.Licenses.Hardware)
	cmp("licenses.software", o.Licenses.Software, n.Licenses.Software)
	cmp("licenses.documentation", o.Licenses.Documentation, n.Licenses.Documentation)
	authors := func(as []bundle.Author) string {
		var s []string
		for _, a := range as {
			s = append(s, metadata.Author{Name: a.Name, Contact: a.Contact}.String())
		}
		return strings.Join(s, ", ")
	}
	cmp("authors", authors(o.Authors), authors(n.Authors))
	if o.PublisherID() != n.PublisherID() {
		cmp("publisher", o.PublisherID(), n.PublisherID())
	}
	if len(n.Log) != len(o.Log) {
		out = append(out, fmt.Sprintf("log: %d entries -> %d", len(o.Log), len(n.Log)))
	}
	return out
}

func (n *Node) instructionsDiff(ctx context.Context, om, nm *bundle.Manifest) (string, string) {
	oi, ni := om.Instructions, nm.Instructions
	switch {
	case oi == nil && ni == nil:
		return "", ""
	case oi != nil && ni != nil && oi.Link.Equals(ni.Link):
		return "", ""
	}
	read := func(r *bundle.FileRef) ([]byte, string, error) {
		if r == nil {
			return nil, "/dev/null", nil
		}
		data, err := n.readFile(ctx, r.Link, maxTextFile)
		return data, r.Path, err
	}
	a, an, err := read(oi)
	if err != nil {
		return "", "the old instructions cannot be read: " + err.Error()
	}
	b, bn, err := read(ni)
	if err != nil {
		return "", "the new instructions cannot be read: " + err.Error()
	}
	var buf bytes.Buffer
	if _, err := textdiff.Unified(&buf, "old/"+an, "new/"+bn, a, b, 3); err != nil {
		return "", err.Error()
	}
	return buf.String(), ""
}

func (n *Node) bomDiff(ctx context.Context, om, nm *bundle.Manifest) *api.BOMDiff {
	if om.Bom == nil && nm.Bom == nil {
		return nil
	}
	if om.Bom != nil && nm.Bom != nil && om.Bom.Link.Equals(nm.Bom.Link) {
		return nil
	}
	parse := func(r *bundle.FileRef, which string) (*bom.BOM, string) {
		if r == nil {
			return nil, "no BOM in the " + which + " version"
		}
		data, err := n.readFile(ctx, r.Link, maxTextFile)
		if err != nil {
			return nil, fmt.Sprintf("the %s BOM cannot be read: %v", which, err)
		}
		b, err := bom.Parse(r.Path, data)
		if err != nil {
			return nil, fmt.Sprintf("the %s BOM does not parse: %v", which, err)
		}
		return b, ""
	}
	ob, onote := parse(om.Bom, "old")
	nb, nnote := parse(nm.Bom, "new")
	d := bom.Compare(ob, nb)
	out := &api.BOMDiff{Note: strings.TrimPrefix(onote+"; "+nnote, "; ")}
	out.Note = strings.TrimSuffix(out.Note, "; ")
	line := func(l bom.Line) api.BOMLine {
		bl := api.BOMLine{Part: l.Part, Quantity: l.Quantity.String(), Unit: l.Unit, Currency: l.Currency, Supplier: l.Supplier}
		if l.HasCost {
			bl.UnitCost = l.UnitCost.String()
		}
		return bl
	}
	for _, l := range d.Added {
		out.Added = append(out.Added, line(l))
	}
	for _, l := range d.Removed {
		out.Removed = append(out.Removed, line(l))
	}
	for _, c := range d.Changed {
		out.Changed = append(out.Changed, api.BOMChange{Part: c.New.Part, Fields: c.Fields, Old: line(c.Old), New: line(c.New)})
	}
	totals := func(ts []bom.Total) []api.BOMTotal {
		out := []api.BOMTotal{}
		for _, t := range ts {
			out = append(out, api.BOMTotal{Currency: t.Currency, Amount: t.Amount.String(), Missing: t.Missing})
		}
		return out
	}
	out.Before, out.After = totals(d.Before), totals(d.After)
	var buf bytes.Buffer
	if err := d.Format(&buf); err == nil {
		out.Text = buf.String()
	}
	return out
}

// Fork implements api.Service.
func (n *Node) Fork(ctx context.Context, src string, opts api.ForkOptions) (api.PublishResult, error) {
	if n.publisher == nil {
		return api.PublishResult{}, errors.New("fork: this node has no publisher key")
	}
	if err := bundle.ValidName(opts.Name); err != nil {
		return api.PublishResult{}, fmt.Errorf("fork: %w: %v", api.ErrInvalid, err)
	}
	defer n.Blockstore.PinLock(ctx).Unlock(ctx)
	sb, err := n.refBundle(ctx, src)
	if err != nil {
		return api.PublishResult{}, fmt.Errorf("fork %s: %w", src, err)
	}
	if _, ok, err := n.bundles.Head(ctx, n.publisherID(), opts.Name); err != nil {
		return api.PublishResult{}, fmt.Errorf("fork %s: %w", src, err)
	} else if ok {
		return api.PublishResult{}, fmt.Errorf("fork %s: %w: you already publish a bundle named %q; choose another --name", src, api.ErrInvalid, opts.Name)
	}
	// The fork carries the source's files: fetch them all, so that this
	// node can serve what it publishes.
	if err := n.ensureStored(ctx, sb.Root, sb.Root); err != nil {
		return api.PublishResult{}, fmt.Errorf("fork %s: %w", src, err)
	}
	if _, err := bundle.FilesNode(ctx, n.localDAG, sb); err != nil {
		return api.PublishResult{}, fmt.Errorf("fork %s: %w", src, bundleError(err))
	}
	sm := sb.Manifest()
	m := bundle.Manifest{
		Schema: bundle.Schema, Name: opts.Name, Title: opts.Title, Summary: sm.Summary, Version: "", Sequence: 1,
		Kind: sm.Kind, Tags: sm.Tags, Licenses: sm.Licenses, Authors: sm.Authors, Files: sm.Files, Size: sm.Size,
		Bom: sm.Bom, Instructions: sm.Instructions, DerivedFrom: []cid.Cid{sb.Root}, Message: opts.Message,
		Created: time.Now().UTC().Format(time.RFC3339),
	}
	if m.Title == "" {
		m.Title = sm.Title + " (fork)"
		if len(m.Title) > bundle.MaxTitleLen {
			m.Title = sm.Title
		}
	}
	if m.Message == "" {
		m.Message = fmt.Sprintf("fork of %s v%d by %s", sm.Name, sm.Sequence, sm.PublisherID())
	}
	if m.OpenSource, err = n.checkLicenses(&m); err != nil {
		return api.PublishResult{}, fmt.Errorf("fork %s: %w", src, err)
	}
	return n.commitVersion(ctx, m, cid.Undef, nil)
}

// LogAdd implements api.Service.
func (n *Node) LogAdd(ctx context.Context, name string, entry api.LogOptions, attachments files.Directory, progress func(api.Progress)) (api.PublishResult, error) {
	if n.publisher == nil {
		return api.PublishResult{}, errors.New("log: this node has no publisher key")
	}
	text := strings.TrimSpace(entry.Text)
	if text == "" {
		return api.PublishResult{}, fmt.Errorf("log %s: %w: the entry has no text", name, api.ErrInvalid)
	}
	if len(text) > bundle.MaxLogText {
		return api.PublishResult{}, fmt.Errorf("log %s: %w: the entry is %d bytes, more than %d", name, api.ErrInvalid, len(text), bundle.MaxLogText)
	}
	defer n.Blockstore.PinLock(ctx).Unlock(ctx)
	head, ok, err := n.bundles.Head(ctx, n.publisherID(), name)
	if err != nil {
		return api.PublishResult{}, fmt.Errorf("log %s: %w", name, err)
	}
	if !ok {
		return api.PublishResult{}, fmt.Errorf("log %s: %w: this node publishes no bundle named %q (see commons bundles)", name, api.ErrNotFound, name)
	}
	parent, err := n.loadBundle(ctx, head.Root, n.publisher.GetPublic(), false)
	if err != nil {
		return api.PublishResult{}, fmt.Errorf("log %s: %w", name, err)
	}
	// The entry's version carries the parent's files: they must all be
	// stored here before it is pinned.
	if err := n.ensureStored(ctx, parent.Root, parent.Root); err != nil {
		return api.PublishResult{}, fmt.Errorf("log %s: %w", name, err)
	}
	if _, err := bundle.FilesNode(ctx, n.localDAG, parent); err != nil {
		return api.PublishResult{}, fmt.Errorf("log %s: %w", name, bundleError(err))
	}
	m := *parent.Manifest()
	seq := len(m.Log) + 1
	le := bundle.LogEntry{Time: time.Now().UTC().Format(time.RFC3339), Author: entry.Author, Text: text}
	if le.Author == "" && len(m.Authors) > 0 {
		le.Author = m.Authors[0].Name
	}
	logDir, err := bundle.LogFolder(ctx, n.localDAG, parent.Root)
	if err != nil {
		return api.PublishResult{}, fmt.Errorf("log %s: %w", name, err)
	}
	if attachments != nil {
		add, refs, err := n.importAttachments(ctx, attachments, seq, progress)
		if err != nil {
			return api.PublishResult{}, fmt.Errorf("log %s: %w", name, err)
		}
		if len(add) > 0 {
			if logDir, err = bundle.AddAttachments(ctx, n.DAG, logDir, add); err != nil {
				return api.PublishResult{}, fmt.Errorf("log %s: %w", name, err)
			}
		}
		le.Attachments = refs
	}
	m.Log = append(append([]bundle.LogEntry(nil), m.Log...), le)
	m.Parents = []cid.Cid{parent.Root}
	m.Sequence++
	m.Created = le.Time
	first, _, _ := strings.Cut(text, "\n")
	if len(first) > 200 {
		first = first[:200]
	}
	m.Message = "log: " + first
	return n.commitVersion(ctx, m, logDir, parent)
}

// importAttachments imports the files of a log entry, named
// "<entry number>-<file name>" in the log folder.
func (n *Node) importAttachments(ctx context.Context, dir files.Directory, seq int, progress func(api.Progress)) (map[string]ipld.Node, []bundle.FileRef, error) {
	add := make(map[string]ipld.Node)
	var refs []bundle.FileRef
	it := dir.Entries()
	for it.Next() {
		if len(refs) >= bundle.MaxAttachments {
			return nil, nil, fmt.Errorf("%w: more than %d attachments", api.ErrInvalid, bundle.MaxAttachments)
		}
		if _, ok := it.Node().(files.File); !ok {
			return nil, nil, fmt.Errorf("%w: attachment %q is not a file", api.ErrInvalid, it.Name())
		}
		name := fmt.Sprintf("%04d-%s", seq, it.Name())
		if err := folder.ValidName(name); err != nil {
			return nil, nil, fmt.Errorf("%w: attachment: %w", api.ErrInvalid, err)
		}
		fo := n.FolderOptions()
		if progress != nil {
			fo.Progress = func(p folder.Progress) {
				progress(api.Progress{Phase: "import", Files: p.Files, Bytes: p.Bytes, Path: it.Name()})
			}
		}
		c, err := folder.Import(ctx, n.DAG, it.Node(), fo)
		if err != nil {
			return nil, nil, fmt.Errorf("attachment %q: %w", it.Name(), err)
		}
		nd, err := n.localDAG.Get(ctx, c)
		if err != nil {
			return nil, nil, err
		}
		add[name] = nd
		refs = append(refs, bundle.FileRef{Path: bundle.LogDir + "/" + name, Link: c})
	}
	if err := it.Err(); err != nil {
		return nil, nil, fmt.Errorf("%w: attachments: %v", api.ErrInvalid, err)
	}
	return add, refs, nil
}

// Lineage implements api.Service.
func (n *Node) Lineage(ctx context.Context, ref string) (api.Lineage, error) {
	b, err := n.refBundle(ctx, ref)
	if err != nil {
		return api.Lineage{}, fmt.Errorf("lineage %s: %w", ref, err)
	}
	all, err := n.bundles.All(ctx)
	if err != nil {
		return api.Lineage{}, fmt.Errorf("lineage %s: %w", ref, err)
	}
	l := api.Lineage{Bundle: summaryOf(b), DerivedFrom: []api.LineageLink{}, Derivatives: []api.LineageLink{}}
	type key struct{ pub, name string }
	versions := make(map[key][]bundle.Record)
	byRoot := make(map[string]bundle.Record)
	for _, r := range all {
		k := key{r.Publisher, r.Name}
		versions[k] = append(versions[k], r)
		byRoot[r.Root.KeyString()] = r
	}
	summary := func(r bundle.Record) api.BundleSummary {
		return api.BundleSummary{CID: r.Root, Name: r.Name, Title: r.Title, Version: r.Version, Sequence: r.Sequence,
			Created: r.Created, Publisher: r.Publisher, Size: r.Size, Open: r.Open}
	}
	// Sources: what any known version of a bundle derives from,
	// transitively, breadth first; every bundle is visited once.
	seen := map[key]bool{{b.Manifest().PublisherID(), b.Manifest().Name}: true}
	frontier := []key{{b.Manifest().PublisherID(), b.Manifest().Name}}
	extra := map[key][]cid.Cid{frontier[0]: b.Manifest().DerivedFrom}
	for depth := 1; len(frontier) > 0 && depth <= 64; depth++ {
		var next []key
		for _, k := range frontier {
			srcs := append([]cid.Cid(nil), extra[k]...)
			for _, v := range versions[k] {
				srcs = append(srcs, v.DerivedFrom...)
			}
			for _, c := range srcs {
				r, ok := byRoot[c.KeyString()]
				if !ok {
					if sb, err := n.loadBundle(ctx, c, nil, true); err == nil {
						r, ok = bundle.RecordOf(sb), true
					}
				}
				if !ok {
					l.DerivedFrom = append(l.DerivedFrom, api.LineageLink{Depth: depth, Bundle: api.BundleSummary{CID: c}, Via: c})
					continue
				}
				sk := key{r.Publisher, r.Name}
				if seen[sk] {
					continue
				}
				seen[sk] = true
				l.DerivedFrom = append(l.DerivedFrom, api.LineageLink{Depth: depth, Bundle: summary(r), Known: true, Via: c})
				extra[sk] = r.DerivedFrom
				next = append(next, sk)
			}
		}
		frontier = next
	}
	// Derivatives: known bundles with a version deriving from any version
	// of a bundle in the frontier, transitively.
	root := key{b.Manifest().PublisherID(), b.Manifest().Name}
	seen = map[key]bool{root: true}
	frontier = []key{root}
	for depth := 1; len(frontier) > 0 && depth <= 64; depth++ {
		roots := make(map[string]bool)
		for _, k := range frontier {
			for _, v := range versions[k] {
				roots[v.Root.KeyString()] = true
			}
		}
		roots[b.Root.KeyString()] = roots[b.Root.KeyString()] || depth == 1
		var next []key
		for k, vs := range versions {
			if seen[k] {
				continue
			}
			for _, v := range vs {
				hit := cid.Undef
				for _, d := range v.DerivedFrom {
					if roots[d.KeyString()] {
						hit = d
					}
				}
				if hit.Defined() {
					seen[k] = true
					head := vs[len(vs)-1]
					l.Derivatives = append(l.Derivatives, api.LineageLink{Depth: depth, Bundle: summary(head), Known: true, Via: hit})
					next = append(next, k)
					break
				}
			}
		}
		frontier = next
	}
	return l, nil
}

// publicKeyOf parses a peer ID string into its (inlined) public key.
func publicKeyOf(id string) (crypto.PubKey, error) {
	p, err := peer.Decode(id)
	if err != nil {
		return nil, err
	}
	return p.ExtractPublicKey()
}

// peerIDString names a public key as a peer ID.
func peerIDString(k crypto.PubKey) string {
	id, err := peer.IDFromPublicKey(k)
	if err != nil {
		return ""
	}
	return id.String()
}

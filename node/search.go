package node

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/ipfs/boxo/files"
	unixfile "github.com/ipfs/boxo/ipld/unixfs/file"
	"github.com/ipfs/go-cid"

	"github.com/commons-p2p/commons/pkg/bundle"
	"github.com/commons-p2p/commons/pkg/search"
)

// errNoSearch is Search's error on a node without a full-text index (an
// offline node, or one without a gateway).
var errNoSearch = errors.New("search: this node keeps no full-text index (it runs no gateway)")

// Search returns up to limit bundle versions that match query, best first
// (see package search for the query language and the ranking). A query
// with nothing to search for wraps search.ErrEmptyQuery.
func (n *Node) Search(ctx context.Context, query string, limit int) ([]search.Hit, error) {
	if n.search == nil {
		return nil, errNoSearch
	}
	return n.search.Search(ctx, query, limit)
}

// indexBundles keeps the full-text index up to date with the bundle index:
// at start it indexes every recorded version the search index lacks (a
// catch-up after a restart, or after the search index was rebuilt), then
// again each time a version is recorded (fetched, pinned, published,
// mirrored). It runs until ctx ends.
func (n *Node) indexBundles(ctx context.Context) error {
	if n.search == nil {
		return nil
	}
	for {
		// Take the channel before the scan, so a version recorded
		// during the scan triggers another.
		changed := n.bundles.Changed()
		if err := n.indexPending(ctx); err != nil && ctx.Err() == nil {
			n.log.Warn("index bundles for search", "subsystem", "search", "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

// indexPending adds to the search index every recorded version it does not
// hold completely.
func (n *Node) indexPending(ctx context.Context) error {
	records, err := n.bundles.All(ctx)
	if err != nil {
		return err
	}
	for _, r := range records {
		has, err := n.search.Has(ctx, r.Root.String())
		if err != nil {
			return err
		}
		if has {
			continue
		}
		if err := n.search.Add(ctx, n.searchDoc(ctx, r)); err != nil {
			return err
		}
	}
	return nil
}

// searchDoc makes the search document of a recorded version from what is
// stored here; it never waits for the network. When the manifest or the
// instructions are not stored (a version seen but not kept), the document
// holds what the record says and is Partial, so it is completed once the
// blocks arrive.
func (n *Node) searchDoc(ctx context.Context, r bundle.Record) search.Doc {
	d := search.Doc{ID: r.Root.String(), Name: r.Name, Title: r.Title, Publisher: r.Publisher, Version: r.Version,
		Sequence: r.Sequence, Created: r.Created, Open: r.Open}
	pub, _ := publicKeyOf(r.Publisher)
	b, err := bundle.Load(ctx, n.localDAG, r.Root, bundle.LoadOptions{Publisher: pub})
	if err != nil {
		d.Partial = true
		return d
	}
	m := b.Manifest()
	d.Title, d.Summary, d.Tags = m.Title, m.Summary, m.Tags
	if m.Instructions != nil {
		text, err := n.readLocal(ctx, m.Instructions.Link, search.MaxInstructions)
		if err != nil {
			d.Partial = true
		}
		d.Instructions = string(text)
	}
	return d
}

// readLocal reads up to max bytes of the UnixFS file c from the local store
// only.
func (n *Node) readLocal(ctx context.Context, c cid.Cid, max int64) ([]byte, error) {
	nd, err := n.localDAG.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	f, err := unixfile.NewUnixfsFile(ctx, n.localDAG, nd)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	file, ok := f.(files.File)
	if !ok {
		return nil, fmt.Errorf("%s is a folder, not a file", c)
	}
	return io.ReadAll(io.LimitReader(file, max))
}

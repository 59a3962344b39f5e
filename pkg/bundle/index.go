package bundle

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"sync"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
)

// Record is what the index keeps of one verified bundle version: enough to
// list, walk history and lineage without reading manifests again.
type Record struct {
	Root        cid.Cid   `json:"root"`
	Manifest    cid.Cid   `json:"manifest"`
	Name        string    `json:"name"`
	Publisher   string    `json:"publisher"` // peer ID of the publisher key
	Sequence    int64     `json:"sequence"`
	Version     string    `json:"version,omitempty"`
	Title       string    `json:"title,omitempty"`
	Created     string    `json:"created"`
	Files       cid.Cid   `json:"files"`
	Size        int64     `json:"size"`
	Open        bool      `json:"open"`
	Parents     []cid.Cid `json:"parents,omitempty"`
	DerivedFrom []cid.Cid `json:"derived_from,omitempty"`
}

// RecordOf summarises a verified bundle.
func RecordOf(b *Bundle) Record {
	m := b.Manifest()
	return Record{
		Root: b.Root, Manifest: b.ManifestCID, Name: m.Name, Publisher: m.PublisherID(), Sequence: m.Sequence,
		Version: m.Version, Title: m.Title, Created: m.Created, Files: m.Files, Size: m.Size, Open: m.OpenSource,
		Parents: m.Parents, DerivedFrom: m.DerivedFrom,
	}
}

// Index remembers the bundle versions a node has verified and, per
// publisher and name, the newest one (the head). It lives in the node's
// datastore under /commons/bundles/.
type Index struct {
	ds ds.Datastore

	mu      sync.Mutex
	changed chan struct{} // closed by the next Put; nil until asked for
}

// NewIndex returns the index kept in d.
func NewIndex(d ds.Datastore) *Index { return &Index{ds: d} }

var (
	versionsKey = ds.NewKey("/commons/bundles/v")
	headsKey    = ds.NewKey("/commons/bundles/head")
)

func headKey(publisher, name string) ds.Key {
	return headsKey.ChildString(publisher).ChildString(name)
}

// Put records a verified version and signals Changed, also when the
// version was recorded before: the callers that store a version's blocks
// (pin, import) call it, and the search indexer completes what it could
// not read before.
func (x *Index) Put(ctx context.Context, b *Bundle) error {
	_, err := x.put(ctx, b, false)
	return err
}

// Seen records a verified version the node has read, as Put does, unless
// the index holds the same record already: then it neither writes nor
// signals Changed. Readers call it (every bundle page loads its bundle a few
// times), so that a version read again costs a read, not a write.
func (x *Index) Seen(ctx context.Context, b *Bundle) error {
	_, err := x.put(ctx, b, true)
	return err
}

func (x *Index) put(ctx context.Context, b *Bundle, skipSame bool) (wrote bool, err error) {
	r := RecordOf(b)
	v, err := json.Marshal(r)
	if err != nil {
		return false, err
	}
	key := versionsKey.ChildString(b.Root.String())
	if skipSame {
		if old, err := x.ds.Get(ctx, key); err == nil && bytes.Equal(old, v) {
			return false, nil
		}
	}
	if err := x.ds.Put(ctx, key, v); err != nil {
		return false, fmt.Errorf("index %s: %w", b, err)
	}
	x.signal()
	return true, nil
}

// signal closes the channel Changed handed out, if any.
func (x *Index) signal() {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.changed != nil {
		close(x.changed)
		x.changed = nil
	}
}

// Changed returns a channel that is closed when a version is next recorded
// (by Put or Advance, or by Seen when it writes), so that a reader of the
// index (the search indexer) can wait for news instead of polling. Take the channel before reading the
// index, and no record is missed.
func (x *Index) Changed() <-chan struct{} {
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.changed == nil {
		x.changed = make(chan struct{})
	}
	return x.changed
}

// Advance records b and makes it the head of its publisher's name if it is
// newer than the head. It refuses (ErrStale) a version whose sequence is
// lower than the head's, or equal to it with other content: an older
// version presented as the newest is never taken. Advancing to the head
// itself is a no-op.
func (x *Index) Advance(ctx context.Context, b *Bundle) error {
	if err := x.Put(ctx, b); err != nil {
		return err
	}
	m := b.Manifest()
	head, ok, err := x.Head(ctx, m.PublisherID(), m.Name)
	if err != nil {
		return err
	}
	if ok {
		if head.Root.Equals(b.Root) {
			return nil
		}
		if head.Sequence >= m.Sequence {
			return fmt.Errorf("bundle %s: version %d is %w (version %d, %s)", b, m.Sequence, ErrStale, head.Sequence, head.Root)
		}
	}
	if err := x.ds.Put(ctx, headKey(m.PublisherID(), m.Name), []byte(b.Root.String())); err != nil {
		return fmt.Errorf("index %s: %w", b, err)
	}
	return nil
}

// Get returns the record of the version at root; ok is false if the index
// has none.
func (x *Index) Get(ctx context.Context, root cid.Cid) (r Record, ok bool, err error) {
	v, err := x.ds.Get(ctx, versionsKey.ChildString(root.String()))
	if errors.Is(err, ds.ErrNotFound) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, err
	}
	if err := json.Unmarshal(v, &r); err != nil {
		return Record{}, false, fmt.Errorf("index: record of %s is damaged: %w", root, err)
	}
	return r, true, nil
}

// Head returns the newest known version of publisher's bundle name.
func (x *Index) Head(ctx context.Context, publisher, name string) (Record, bool, error) {
	v, err := x.ds.Get(ctx, headKey(publisher, name))
	if errors.Is(err, ds.ErrNotFound) {
		return Record{}, false, nil
	}
	if err != nil {
		return Record{}, false, err
	}
	c, err := cid.Decode(string(v))
	if err != nil {
		return Record{}, false, fmt.Errorf("index: head of %s/%s is damaged: %w", publisher, name, err)
	}
	return x.Get(ctx, c)
}

// All returns every recorded version, sorted by name, publisher and
// sequence.
func (x *Index) All(ctx context.Context) ([]Record, error) {
	var out []Record
	err := x.each(ctx, versionsKey, func(k string, v []byte) error {
		var r Record
		if err := json.Unmarshal(v, &r); err != nil {
			return fmt.Errorf("index: record %s is damaged: %w", k, err)
		}
		out = append(out, r)
		return nil
	})
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		if a.Publisher != b.Publisher {
			return a.Publisher < b.Publisher
		}
		return a.Sequence < b.Sequence
	})
	return out, err
}

// Heads returns the head of every publisher's bundle name, sorted by name
// and publisher.
func (x *Index) Heads(ctx context.Context) ([]Record, error) {
	var out []Record
	err := x.each(ctx, headsKey, func(k string, v []byte) error {
		c, err := cid.Decode(string(v))
		if err != nil {
			return fmt.Errorf("index: head %s is damaged: %w", k, err)
		}
		r, ok, err := x.Get(ctx, c)
		if ok {
			out = append(out, r)
		}
		return err
	})
	sort.Slice(out, func(i, j int) bool {
		if out[i].Name != out[j].Name {
			return out[i].Name < out[j].Name
		}
		return out[i].Publisher < out[j].Publisher
	})
	return out, err
}

// each calls fn with every entry under prefix.
func (x *Index) each(ctx context.Context, prefix ds.Key, fn func(key string, value []byte) error) error {
	res, err := x.ds.Query(ctx, query.Query{Prefix: prefix.String()})
	if err != nil {
		return err
	}
	defer res.Close()
	for e := range res.Next() {
		if e.Error != nil {
			return e.Error
		}
		if err := fn(e.Key, e.Value); err != nil {
			return err
		}
	}
	return nil
}

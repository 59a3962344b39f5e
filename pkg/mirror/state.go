// Package mirror keeps what a node needs to follow libraries durably: the
// libraries it follows and with which policy, the newest verified record of
// each, which library holds which pinned version (so an unfollow releases
// only what nothing else holds), and the versions being fetched (so that
// gc keeps a partial download that is still wanted). It also plans what a
// policy keeps of a library. The fetching itself is the node's.
//
// Everything lives in the node's datastore under /commons/mirror/; the
// node's commit point (store Sync) makes it durable with the pins.
package mirror

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/ipfs/go-cid"
	ds "github.com/ipfs/go-datastore"
	"github.com/ipfs/go-datastore/query"
)

// Policy modes.
const (
	All    = "all"
	Latest = "latest"
	Quota  = "quota"
)

// UserHolder is the holder name of a pin the user made (or that existed
// before a mirror wanted the same version): a mirror never releases it.
const UserHolder = "~user"

// ErrStale: a record that is not newer than the one kept.
var ErrStale = errors.New("not newer than the record kept")

// Policy says what a mirror keeps of a library.
type Policy struct {
	Mode  string `json:"mode"`
	Quota int64  `json:"quota,omitempty"`
}

// Validate checks a policy; an empty mode means All.
func (p *Policy) Validate() error {
	switch p.Mode {
	case "":
		p.Mode = All
		fallthrough
	case All, Latest:
		if p.Quota != 0 {
			return fmt.Errorf("a quota goes with the quota policy, not %q", p.Mode)
		}
	case Quota:
		if p.Quota <= 0 {
			return fmt.Errorf("the quota policy needs a quota above 0 bytes")
		}
	default:
		return fmt.Errorf("policy %q: use %q, %q or %q", p.Mode, All, Latest, Quota)
	}
	return nil
}

// Follow is a library the user follows.
type Follow struct {
	Name   string    `json:"name"`
	Policy Policy    `json:"policy"`
	Since  time.Time `json:"since"`
}

// Known is the newest verified record of a library.
type Known struct {
	Name     string    `json:"name"`
	Root     cid.Cid   `json:"root"`
	Sequence int64     `json:"sequence"` // the library record's
	Record   []byte    `json:"record"`   // the marshalled IPNS record
	Taken    time.Time `json:"taken"`    // when this node took it
	Includes []string  `json:"includes,omitempty"`
	Title    string    `json:"title,omitempty"`
}

// State is the mirror's durable state in a datastore.
type State struct {
	ds ds.Datastore
}

// New returns the state kept in d.
func New(d ds.Datastore) *State { return &State{ds: d} }

var (
	followKey = ds.NewKey("/commons/mirror/follow")
	knownKey  = ds.NewKey("/commons/mirror/known")
	holdKey   = ds.NewKey("/commons/mirror/hold") // /hold/<root>/<holder>
	heldKey   = ds.NewKey("/commons/mirror/held") // /held/<holder>/<root>
	wantKey   = ds.NewKey("/commons/mirror/want") // /want/<root>
)

// Follow records that name is followed with p; replaced says it was
// followed already.
func (s *State) Follow(ctx context.Context, name string, p Policy) (replaced bool, err error) {
	if err := p.Validate(); err != nil {
		return false, err
	}
	k := followKey.ChildString(name)
	f := Follow{Name: name, Policy: p, Since: time.Now().UTC()}
	if old, err := s.ds.Get(ctx, k); err == nil {
		var o Follow
		if json.Unmarshal(old, &o) == nil {
			f.Since, replaced = o.Since, true
		}
	}
	v, _ := json.Marshal(f)
	return replaced, s.ds.Put(ctx, k, v)
}

// Unfollow forgets a follow; ok is false if name was not followed.
func (s *State) Unfollow(ctx context.Context, name string) (ok bool, err error) {
	k := followKey.ChildString(name)
	if has, err := s.ds.Has(ctx, k); err != nil || !has {
		return false, err
	}
	return true, s.ds.Delete(ctx, k)
}

// Follows lists the libraries followed directly, by name.
func (s *State) Follows(ctx context.Context) ([]Follow, error) {
	var out []Follow
	err := s.each(ctx, followKey, func(_ string, v []byte) error {
		var f Follow
		if err := json.Unmarshal(v, &f); err != nil {
			return err
		}
		out = append(out, f)
		return nil
	})
	return out, err
}

// Known returns the newest verified record kept for name.
func (s *State) Known(ctx context.Context, name string) (Known, bool, error) {
	v, err := s.ds.Get(ctx, knownKey.ChildString(name))
	if errors.Is(err, ds.ErrNotFound) {
		return Known{}, false, nil
	}
	if err != nil {
		return Known{}, false, err
	}
	var k Known
	if err := json.Unmarshal(v, &k); err != nil {
		return Known{}, false, fmt.Errorf("mirror state of %s: %w", name, err)
	}
	return k, true, nil
}

// PutKnown keeps k as the newest record of its library. It refuses
// (ErrStale) a lower sequence, or the same sequence with another root: an
// older record never replaces a newer one, and a publisher cannot show
// two libraries under one sequence. Putting the kept record again is a
// no-op.
func (s *State) PutKnown(ctx context.Context, k Known) error {
	old, ok, err := s.Known(ctx, k.Name)
	if err != nil {
		return err
	}
	if ok {
		switch {
		case k.Sequence < old.Sequence:
			return fmt.Errorf("library %s record %d: %w (%d)", k.Name, k.Sequence, ErrStale, old.Sequence)
		case k.Sequence == old.Sequence && !k.Root.Equals(old.Root):
			return fmt.Errorf("library %s record %d points at %s, but %s was taken under that sequence: %w", k.Name, k.Sequence, k.Root, old.Root, ErrStale)
		case k.Sequence == old.Sequence:
			return nil
		}
	}
	v, err := json.Marshal(k)
	if err != nil {
		return err
	}
	return s.ds.Put(ctx, knownKey.ChildString(k.Name), v)
}

// ForgetKnown drops the record kept for name (when nothing follows it any
// more).
func (s *State) ForgetKnown(ctx context.Context, name string) error {
	return s.ds.Delete(ctx, knownKey.ChildString(name))
}

// Hold records that holder (a library name or UserHolder) holds the pinned
// version root.
func (s *State) Hold(ctx context.Context, root cid.Cid, holder string) error {
	if err := s.ds.Put(ctx, holdKey.ChildString(root.String()).ChildString(holder), nil); err != nil {
		return err
	}
	return s.ds.Put(ctx, heldKey.ChildString(holder).ChildString(root.String()), nil)
}

// Release drops holder's hold on root and returns the holders left.
func (s *State) Release(ctx context.Context, root cid.Cid, holder string) ([]string, error) {
	if err := s.ds.Delete(ctx, holdKey.ChildString(root.String()).ChildString(holder)); err != nil {
		return nil, err
	}
	if err := s.ds.Delete(ctx, heldKey.ChildString(holder).ChildString(root.String())); err != nil {
		return nil, err
	}
	return s.Holders(ctx, root)
}

// Holders lists who holds root, sorted.
func (s *State) Holders(ctx context.Context, root cid.Cid) ([]string, error) {
	var out []string
	err := s.each(ctx, holdKey.ChildString(root.String()), func(k string, _ []byte) error {
		out = append(out, k)
		return nil
	})
	// Datastores need not return keys in order (the map datastore of the
	// tests does not).
	slices.Sort(out)
	return out, err
}

// Held lists the roots holder holds.
func (s *State) Held(ctx context.Context, holder string) ([]cid.Cid, error) {
	var out []cid.Cid
	err := s.each(ctx, heldKey.ChildString(holder), func(k string, _ []byte) error {
		c, err := cid.Decode(k)
		if err != nil {
			return fmt.Errorf("mirror state: held %q: %w", k, err)
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// Want records that root is being fetched, so gc keeps what of it is
// stored until it is pinned or no longer wanted.
func (s *State) Want(ctx context.Context, root cid.Cid) error {
	return s.ds.Put(ctx, wantKey.ChildString(root.String()), nil)
}

// Unwant drops a Want.
func (s *State) Unwant(ctx context.Context, root cid.Cid) error {
	return s.ds.Delete(ctx, wantKey.ChildString(root.String()))
}

// Wanted lists the roots being fetched.
func (s *State) Wanted(ctx context.Context) ([]cid.Cid, error) {
	var out []cid.Cid
	err := s.each(ctx, wantKey, func(k string, _ []byte) error {
		c, err := cid.Decode(k)
		if err != nil {
			return fmt.Errorf("mirror state: wanted %q: %w", k, err)
		}
		out = append(out, c)
		return nil
	})
	return out, err
}

// each calls fn with the last key element and the value of every entry
// directly under prefix.
func (s *State) each(ctx context.Context, prefix ds.Key, fn func(key string, value []byte) error) error {
	res, err := s.ds.Query(ctx, query.Query{Prefix: prefix.String()})
	if err != nil {
		return err
	}
	defer res.Close()
	for r := range res.Next() {
		if r.Error != nil {
			return r.Error
		}
		rest := strings.TrimPrefix(r.Key, prefix.String()+"/")
		if strings.Contains(rest, "/") {
			continue
		}
		if err := fn(rest, r.Value); err != nil {
			return err
		}
	}
	return nil
}

// PutKnownRecord replaces the IPNS record kept for k's library by one for
// the same root and sequence (signed again with a later validity).
func (s *State) PutKnownRecord(ctx context.Context, k Known) error {
	old, ok, err := s.Known(ctx, k.Name)
	if err != nil {
		return err
	}
	if !ok || !old.Root.Equals(k.Root) || old.Sequence != k.Sequence {
		return fmt.Errorf("library %s: %w: the record is for another library version", k.Name, ErrStale)
	}
	v, err := json.Marshal(k)
	if err != nil {
		return err
	}
	return s.ds.Put(ctx, knownKey.ChildString(k.Name), v)
}

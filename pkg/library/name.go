package library

import (
	"errors"
	"fmt"
	"time"

	"github.com/ipfs/boxo/ipns"
	"github.com/ipfs/boxo/path"
	"github.com/ipfs/go-cid"
	"github.com/libp2p/go-libp2p/core/crypto"
)

// ErrBadRecord: an IPNS record that does not decode, is not signed by the
// name's key, or does not point at an /ipfs/ path.
var ErrBadRecord = errors.New("invalid IPNS record")

// NameRecord is a verified IPNS record of a library name.
type NameRecord struct {
	Name ipns.Name
	// Root is the library root the record points at.
	Root     cid.Cid
	Sequence uint64
	// EOL is when the record stops being valid; an expired record still
	// says which root the publisher signed, but is not re-published.
	EOL time.Time
	TTL time.Duration
	// Data is the marshalled record.
	Data []byte
}

// Expired reports whether the record's validity has passed.
func (r *NameRecord) Expired(now time.Time) bool { return now.After(r.EOL) }

// NewRecord signs an IPNS record for key's name pointing at root. seq is
// the library's sequence, so that records and library versions order
// alike.
func NewRecord(key crypto.PrivKey, root cid.Cid, seq uint64, lifetime, ttl time.Duration) (*NameRecord, error) {
	rec, err := ipns.NewRecord(key, path.FromCid(root), seq, time.Now().Add(lifetime), ttl, ipns.WithV1Compatibility(true))
	if err != nil {
		return nil, fmt.Errorf("sign IPNS record: %w", err)
	}
	data, err := ipns.MarshalRecord(rec)
	if err != nil {
		return nil, fmt.Errorf("sign IPNS record: %w", err)
	}
	n, err := nameOfKey(key.GetPublic())
	if err != nil {
		return nil, err
	}
	return CheckRecord(n, data)
}

func nameOfKey(k crypto.PubKey) (ipns.Name, error) {
	l := Library{}
	var err error
	if l.Publisher, err = crypto.MarshalPublicKey(k); err != nil {
		return ipns.Name{}, err
	}
	return l.Name()
}

// NameOf returns the library name of a publisher key.
func NameOf(k crypto.PubKey) (ipns.Name, error) { return nameOfKey(k) }

// CheckRecord verifies data as an IPNS record of name: it decodes, its
// signature verifies with name's key, and it points at /ipfs/<cid>. An
// expired record passes (Expired tells); a hostile or damaged one fails
// with ErrBadRecord.
func CheckRecord(name ipns.Name, data []byte) (*NameRecord, error) {
	if len(data) > ipns.MaxRecordSize {
		return nil, fmt.Errorf("%w: %d bytes, more than %d", ErrBadRecord, len(data), ipns.MaxRecordSize)
	}
	rec, err := ipns.UnmarshalRecord(data)
	if err != nil {
		return nil, fmt.Errorf("%w for %s: %v", ErrBadRecord, name, err)
	}
	if err := ipns.ValidateWithName(rec, name); err != nil && !errors.Is(err, ipns.ErrExpiredRecord) {
		return nil, fmt.Errorf("%w for %s: %v", ErrBadRecord, name, err)
	}
	seq, err := rec.Sequence()
	if err != nil {
		return nil, fmt.Errorf("%w for %s: %v", ErrBadRecord, name, err)
	}
	eol, err := rec.Validity()
	if err != nil {
		return nil, fmt.Errorf("%w for %s: %v", ErrBadRecord, name, err)
	}
	ttl, _ := rec.TTL()
	p, err := rec.Value()
	if err != nil {
		return nil, fmt.Errorf("%w for %s: %v", ErrBadRecord, name, err)
	}
	ip, err := path.NewImmutablePath(p)
	if err != nil || len(ip.Segments()) != 2 {
		return nil, fmt.Errorf("%w for %s: it points at %s, not at a library root /ipfs/<cid>", ErrBadRecord, name, p)
	}
	return &NameRecord{Name: name, Root: ip.RootCid(), Sequence: seq, EOL: eol, TTL: ttl, Data: data}, nil
}

package library

import (
	"fmt"
	"time"

	"github.com/ipld/go-ipld-prime/codec/dagcbor"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// signingDomain prefixes the signed bytes, so that a library signature can
// never be replayed as a signature over anything else the key signs
// (bundle manifests, IPNS records, libp2p records).
const signingDomain = "commons/library/1 signature\n"

func signedBytes(l *Library) ([]byte, error) {
	enc, err := encode(l, "Library", dagcbor.Encode)
	if err != nil {
		return nil, err
	}
	return append([]byte(signingDomain), enc...), nil
}

// Sign sets l's schema, publisher (key's public half) and, if unset, its
// creation time, validates l and returns it signed. Only ed25519 keys are
// accepted.
func Sign(l Library, key crypto.PrivKey) (*SignedLibrary, error) {
	if key == nil || key.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("sign library: the publisher key must be ed25519")
	}
	pub, err := crypto.MarshalPublicKey(key.GetPublic())
	if err != nil {
		return nil, fmt.Errorf("sign library: %w", err)
	}
	l.Schema, l.Publisher = Schema, pub
	if l.Created == "" {
		l.Created = time.Now().UTC().Format(time.RFC3339)
	}
	if l.Bundles == nil {
		l.Bundles = []Entry{}
	}
	if l.Includes == nil {
		l.Includes = []string{}
	}
	if err := l.Validate(); err != nil {
		return nil, fmt.Errorf("sign library: %w", err)
	}
	msg, err := signedBytes(&l)
	if err != nil {
		return nil, fmt.Errorf("sign library: %w", err)
	}
	sig, err := key.Sign(msg)
	if err != nil {
		return nil, fmt.Errorf("sign library: %w", err)
	}
	s := &SignedLibrary{Library: l, Signature: sig}
	if _, err := s.Encode(); err != nil {
		return nil, fmt.Errorf("sign library: %w", err)
	}
	return s, nil
}

// Verify checks the signature with the publisher key the record names. If
// expected is not nil, the publisher must also be that key
// (ErrWrongPublisher). The error names the library and the key.
func (s *SignedLibrary) Verify(expected crypto.PubKey) error {
	l := &s.Library
	pub, err := l.PublisherKey()
	if err != nil {
		return err
	}
	msg, err := signedBytes(l)
	if err != nil {
		return err
	}
	if ok, err := pub.Verify(msg, s.Signature); err != nil || !ok {
		return fmt.Errorf("library record %d: %w with the publisher key %s", l.Sequence, ErrBadSignature, peerIDOf(pub))
	}
	if expected != nil && !expected.Equals(pub) {
		return fmt.Errorf("library record %d is signed by %s: %w (the name is %s's)", l.Sequence, peerIDOf(pub), ErrWrongPublisher, peerIDOf(expected))
	}
	return nil
}

func peerIDOf(k crypto.PubKey) string {
	id, err := peer.IDFromPublicKey(k)
	if err != nil {
		return "?"
	}
	return id.String()
}

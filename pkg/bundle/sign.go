package bundle

import (
	"fmt"

	"github.com/libp2p/go-libp2p/core/crypto"
	"github.com/libp2p/go-libp2p/core/peer"
)

// signingDomain prefixes the signed bytes, so that a manifest signature can
// never be replayed as a signature over anything else the key signs (libp2p
// records, IPNS records).
const signingDomain = "commons/bundle/1 signature\n"

func signedBytes(m *Manifest) ([]byte, error) {
	enc, err := encodeManifest(m)
	if err != nil {
		return nil, err
	}
	return append([]byte(signingDomain), enc...), nil
}

// Sign sets m's publisher to key's public half, validates m and returns it
// signed. Only ed25519 keys are accepted.
func Sign(m Manifest, key crypto.PrivKey) (*SignedManifest, error) {
	if key == nil || key.Type() != crypto.Ed25519 {
		return nil, fmt.Errorf("sign bundle %q: the publisher key must be ed25519", m.Name)
	}
	pub, err := crypto.MarshalPublicKey(key.GetPublic())
	if err != nil {
		return nil, fmt.Errorf("sign bundle %q: %w", m.Name, err)
	}
	m.Publisher = pub
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("sign bundle %q: %w", m.Name, err)
	}
	msg, err := signedBytes(&m)
	if err != nil {
		return nil, fmt.Errorf("sign bundle %q: %w", m.Name, err)
	}
	sig, err := key.Sign(msg)
	if err != nil {
		return nil, fmt.Errorf("sign bundle %q: %w", m.Name, err)
	}
	s := &SignedManifest{Manifest: m, Signature: sig}
	if _, err := s.Encode(); err != nil {
		return nil, fmt.Errorf("sign bundle %q: %w", m.Name, err)
	}
	return s, nil
}

// Verify checks the signature with the publisher key the manifest names.
// If expected is not nil, the publisher must also be that key
// (ErrWrongPublisher). The error names the bundle and the key.
func (s *SignedManifest) Verify(expected crypto.PubKey) error {
	m := &s.Manifest
	pub, err := m.PublisherKey()
	if err != nil {
		return err
	}
	msg, err := signedBytes(m)
	if err != nil {
		return err
	}
	ok, err := pub.Verify(msg, s.Signature)
	if err != nil || !ok {
		return fmt.Errorf("bundle %q version %d: %w with the publisher key %s", m.Name, m.Sequence, ErrBadSignature, m.PublisherID())
	}
	if expected != nil && !expected.Equals(pub) {
		return fmt.Errorf("bundle %q version %d is signed by %s: %w (expected %s)", m.Name, m.Sequence, m.PublisherID(), ErrWrongPublisher, peerIDOf(expected))
	}
	return nil
}

// peerIDOf names a public key as a peer ID.
func peerIDOf(k crypto.PubKey) string {
	id, err := peer.IDFromPublicKey(k)
	if err != nil {
		return "?"
	}
	return id.String()
}

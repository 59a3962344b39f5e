package store

import (
	"bytes"
	"context"

	"github.com/ipfs/boxo/blockstore"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	mh "github.com/multiformats/go-multihash"
)

// emptyHash is the sha2-256 multihash of zero bytes: the hash of every
// empty file imported with raw leaves (bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku).
var emptyHash = func() mh.Multihash {
	h, err := mh.Sum(nil, mh.SHA2_256, -1)
	if err != nil {
		panic(err)
	}
	return h
}()

// IsEmptyBlock reports whether c names the zero-length block.
func IsEmptyBlock(c cid.Cid) bool { return bytes.Equal(c.Hash(), emptyHash) }

// NewEmptyStore wraps bs so that the zero-length block (under any codec)
// is always present, as identity CIDs are in boxo's IdStore. Its content
// is fully determined by its CID, so it never needs to be fetched, and
// fetching it would fail anyway: boxo's bitswap server (v0.43) never sends
// a block whose size is 0, only HAVE, so a design with an empty file could
// not be fetched from a Kubo node.
func NewEmptyStore(bs blockstore.Blockstore) blockstore.Blockstore {
	return &emptyStore{Blockstore: bs}
}

type emptyStore struct{ blockstore.Blockstore }

func (s *emptyStore) Has(ctx context.Context, c cid.Cid) (bool, error) {
	if IsEmptyBlock(c) {
		return true, nil
	}
	return s.Blockstore.Has(ctx, c)
}

func (s *emptyStore) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	if IsEmptyBlock(c) {
		return blocks.NewBlockWithCid(nil, c)
	}
	return s.Blockstore.Get(ctx, c)
}

func (s *emptyStore) GetSize(ctx context.Context, c cid.Cid) (int, error) {
	if IsEmptyBlock(c) {
		return 0, nil
	}
	return s.Blockstore.GetSize(ctx, c)
}

func (s *emptyStore) View(ctx context.Context, c cid.Cid, callback func([]byte) error) error {
	if IsEmptyBlock(c) {
		return callback(nil)
	}
	if v, ok := s.Blockstore.(blockstore.Viewer); ok {
		return v.View(ctx, c, callback)
	}
	b, err := s.Blockstore.Get(ctx, c)
	if err != nil {
		return err
	}
	return callback(b.RawData())
}

func (s *emptyStore) Put(ctx context.Context, b blocks.Block) error {
	if IsEmptyBlock(b.Cid()) {
		return nil
	}
	return s.Blockstore.Put(ctx, b)
}

func (s *emptyStore) PutMany(ctx context.Context, bs []blocks.Block) error {
	keep := bs[:0:0]
	for _, b := range bs {
		if !IsEmptyBlock(b.Cid()) {
			keep = append(keep, b)
		}
	}
	if len(keep) == 0 {
		return nil
	}
	return s.Blockstore.PutMany(ctx, keep)
}

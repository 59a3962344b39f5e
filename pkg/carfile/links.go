package carfile

import (
	"bytes"
	"fmt"

	"github.com/ipfs/go-cid"
	dagpb "github.com/ipld/go-codec-dagpb"
	"github.com/ipld/go-ipld-prime/codec/dagcbor"
	"github.com/ipld/go-ipld-prime/codec/dagjson"
	"github.com/ipld/go-ipld-prime/datamodel"
	cidlink "github.com/ipld/go-ipld-prime/linking/cid"
	"github.com/ipld/go-ipld-prime/node/basicnode"
	"github.com/ipld/go-ipld-prime/traversal"
	"github.com/multiformats/go-multicodec"
	mh "github.com/multiformats/go-multihash"
)

// Links returns the CIDs a block links to, in the order they appear in it:
// none for raw (and json, cbor, libp2p-key) blocks, the links of dag-pb,
// dag-cbor and dag-json blocks, and an error for any other codec or a
// block that does not decode. Export and Import follow links this way.
func Links(c cid.Cid, data []byte) ([]cid.Cid, error) { return links(c, data) }

// links returns the CIDs a block links to, in the order they appear in the
// block (for dag-pb, the order of its Links list), which is the order the
// trustless gateway's dag-scope=all traversal follows.
//
// Codecs that cannot hold links (raw, json, cbor, libp2p-key) have none;
// dag-pb, dag-cbor and dag-json are decoded; any other codec is an error,
// since a traversal that skipped its links would silently lose data.
func links(c cid.Cid, data []byte) ([]cid.Cid, error) {
	switch c.Type() {
	case cid.Raw, uint64(multicodec.Json), uint64(multicodec.Cbor), uint64(multicodec.Libp2pKey):
		return nil, nil
	case cid.DagProtobuf:
		return dagpbLinks(data)
	case cid.DagCBOR:
		nb := basicnode.Prototype.Any.NewBuilder()
		// Relaxed: we only need the links, and older blocks are not always
		// in strict canonical form.
		opts := dagcbor.DecodeOptions{AllowLinks: true, RelaxedDecode: true}
		if err := opts.Decode(nb, bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("decode dag-cbor: %w", err)
		}
		return nodeLinks(nb.Build())
	case cid.DagJSON:
		nb := basicnode.Prototype.Any.NewBuilder()
		opts := dagjson.DecodeOptions{ParseLinks: true, ParseBytes: true}
		if err := opts.Decode(nb, bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("decode dag-json: %w", err)
		}
		return nodeLinks(nb.Build())
	default:
		return nil, fmt.Errorf("codec %s (0x%x) is not supported", multicodec.Code(c.Type()), c.Type())
	}
}

func dagpbLinks(data []byte) ([]cid.Cid, error) {
	nb := dagpb.Type.PBNode.NewBuilder()
	if err := dagpb.DecodeBytes(nb, data); err != nil {
		return nil, fmt.Errorf("decode dag-pb: %w", err)
	}
	n, ok := nb.Build().(dagpb.PBNode)
	if !ok {
		return nil, fmt.Errorf("decode dag-pb: unexpected node type %T", nb.Build())
	}
	pbLinks := n.FieldLinks()
	out := make([]cid.Cid, 0, pbLinks.Length())
	for it := pbLinks.Iterator(); !it.Done(); {
		_, l := it.Next()
		cl, ok := l.FieldHash().Link().(cidlink.Link)
		if !ok {
			return nil, fmt.Errorf("decode dag-pb: link of unexpected type %T", l.FieldHash().Link())
		}
		out = append(out, cl.Cid)
	}
	return out, nil
}

func nodeLinks(n datamodel.Node) ([]cid.Cid, error) {
	ls, err := traversal.SelectLinks(n)
	if err != nil {
		return nil, fmt.Errorf("collect links: %w", err)
	}
	out := make([]cid.Cid, 0, len(ls))
	for _, l := range ls {
		cl, ok := l.(cidlink.Link)
		if !ok {
			return nil, fmt.Errorf("collect links: link of unexpected type %T", l)
		}
		out = append(out, cl.Cid)
	}
	return out, nil
}

// isIdentity reports whether c's multihash is the identity "hash", whose
// digest is the block itself; such blocks are never written or stored.
func isIdentity(c cid.Cid) bool {
	return c.Prefix().MhType == mh.IDENTITY
}

// identityData returns the block an identity CID inlines.
func identityData(c cid.Cid) ([]byte, error) {
	d, err := mh.Decode(c.Hash())
	if err != nil {
		return nil, fmt.Errorf("decode identity multihash: %w", err)
	}
	return d.Digest, nil
}

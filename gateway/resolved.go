package gateway

import (
	lru "github.com/hashicorp/golang-lru/v2"
	boxogw "github.com/ipfs/boxo/gateway"
	"github.com/ipfs/boxo/path"
	"github.com/ipfs/go-cid"
)

// resolvedPaths remembers what /ipfs/ paths with a subpath resolved to.
// boxo resolves a path again for every request, and every prefix of it
// from the root (for /ipfs/ROOT/a/b: ROOT, ROOT/a, ROOT/a/b), each block
// decoded through an IPLD link system: a fifth of the CPU of a request for
// a small file. An /ipfs/ path names immutable content, so what it
// resolved to once it resolves to always; only paths that resolved whole
// to a UnixFS node are kept (no remainder into other codecs).
type resolvedPaths struct {
	cache *lru.Cache[string, resolvedPath]
}

type resolvedPath struct {
	roots []cid.Cid          // ContentPathMetadata.PathSegmentRoots
	last  path.ImmutablePath // ContentPathMetadata.LastSegment
}

// resolvedPathsSize is how many paths are kept: a few hundred bytes each.
const resolvedPathsSize = 8192

func newResolvedPaths() *resolvedPaths {
	c, err := lru.New[string, resolvedPath](resolvedPathsSize)
	if err != nil {
		panic(err) // only for a size <= 0
	}
	return &resolvedPaths{cache: c}
}

// get runs fetch for p, on the path's last segment alone when p was
// resolved before, and puts back the metadata of the whole path.
func (r *resolvedPaths) get(p path.ImmutablePath, fetch func(path.ImmutablePath) (boxogw.ContentPathMetadata, error)) (boxogw.ContentPathMetadata, error) {
	if r == nil || p.Namespace() != path.IPFSNamespace || len(p.Segments()) <= 2 {
		return fetch(p)
	}
	key := p.String()
	if rp, ok := r.cache.Get(key); ok {
		md, err := fetch(rp.last)
		if err == nil {
			md.PathSegmentRoots = rp.roots
			md.LastSegment = rp.last
		}
		return md, err
	}
	md, err := fetch(p)
	if err == nil && len(md.LastSegmentRemainder) == 0 {
		r.cache.Add(key, resolvedPath{roots: md.PathSegmentRoots, last: md.LastSegment})
	}
	return md, err
}

package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/files"
	boxogw "github.com/ipfs/boxo/gateway"
	"github.com/ipfs/boxo/ipld/unixfs"
	ufile "github.com/ipfs/boxo/ipld/unixfs/file"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/boxo/path"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/ipld/go-ipld-prime/linking"

	"github.com/commons-p2p/commons/pkg/folder"
)

// ErrNoIPNSRecords is the cause of the error that requests for signed IPNS
// records (?format=ipns-record, Accept: application/vnd.ipfs.ipns-record)
// get when the gateway was built without a Records source. Over HTTP it is
// a 501 whose body carries this message.
var ErrNoIPNSRecords = errors.New("IPNS records are not served by this gateway")

// ErrNoRecord is what a Records source wraps when it has no record for a
// name. Over HTTP it is a 404.
var ErrNoRecord = errors.New("no IPNS record for this name")

// Records gives the signed IPNS records the gateway serves for
// ?format=ipns-record (the trustless gateway's verifiable answer for a
// name: the client checks the signature itself).
type Records interface {
	// IPNSRecord returns the signed IPNS record of the name whose CID
	// (libp2p-key) is name, as routing carries it (protobuf bytes): the
	// newest the source holds or can look up before ctx ends. No record
	// wraps ErrNoRecord; ctx ending first returns its error, wrapped. The
	// returned bytes are the caller's.
	IPNSRecord(ctx context.Context, name cid.Cid) ([]byte, error)
}

// ErrUnsupportedCodec is the cause of the error that requests for content
// this gateway cannot decode get (a CID whose codec has no decoder, such as
// git-raw). Over HTTP it is a 501 whose body carries this message; the raw
// block is still available with ?format=raw.
var ErrUnsupportedCodec = errors.New("this gateway cannot decode the codec of this content (?format=raw returns the block as is)")

// backend is boxo's blocks backend with the parts this gateway cannot serve
// answered honestly. It embeds the concrete type, not the interface, so that
// the optional interfaces boxo looks for (per-request block sessions) stay
// visible.
type backend struct {
	*boxogw.BlocksBackend
	records Records // nil: no records are served
	// resolved remembers what /ipfs/ paths resolved to; nil: none.
	resolved *resolvedPaths

	// dag reads what the guards below look at; nil (the trustless
	// handler, which serves no tar and no listing) turns them off.
	dag        ipld.DAGService
	fastCAR    blockservice.BlockService // non-nil: CARs of the bulk path's kinds are written by fastCAR
	archive    folder.Limits             // what a tar may hold
	maxListing int                       // entries of a generated directory listing
}

// GetIPNSRecord implements boxogw.IPFSBackend with the gateway's Records.
// Without them boxo would look the record up in a null router and answer
// 500.
func (b backend) GetIPNSRecord(ctx context.Context, c cid.Cid) ([]byte, error) {
	if b.records == nil {
		return nil, boxogw.NewErrorStatusCode(fmt.Errorf("get IPNS record %s: %w", c, ErrNoIPNSRecords), http.StatusNotImplemented)
	}
	rec, err := b.records.IPNSRecord(ctx, c)
	if errors.Is(err, ErrNoRecord) {
		return nil, boxogw.NewErrorStatusCode(fmt.Errorf("get IPNS record %s: %w", c, err), http.StatusNotFound)
	}
	if err != nil {
		return nil, fmt.Errorf("get IPNS record %s: %w", c, err)
	}
	return rec, nil
}

// Get implements boxogw.IPFSBackend. A directory's listing stops with a
// 422 after maxListing entries: boxo renders every entry of a listing in
// memory, and one hostile dag-pb node of 2 MiB names 40,000 entries (a
// HAMT, any number).
func (b backend) Get(ctx context.Context, p path.ImmutablePath, ranges ...boxogw.ByteRange) (boxogw.ContentPathMetadata, *boxogw.GetResponse, error) {
	var res *boxogw.GetResponse
	md, err := b.resolved.get(p, func(p path.ImmutablePath) (md boxogw.ContentPathMetadata, err error) {
		md, res, err = b.BlocksBackend.Get(ctx, p, ranges...)
		return md, err
	})
	if err != nil || b.dag == nil || len(md.LastSegmentRemainder) > 0 {
		return md, res, unsupported(err)
	}
	// boxo's response does not say whether it is a directory; the node
	// does, and boxo has just read it, so it is in memory or the store.
	nd, err := b.dag.Get(ctx, md.LastSegment.RootCid())
	if err != nil {
		res.Close()
		return md, nil, fmt.Errorf("get %s: %w", p, err)
	}
	dir, err := uio.NewDirectoryFromNode(b.dag, nd)
	if err != nil {
		return md, res, nil // not a directory
	}
	// Our own listing replaces boxo's, which is dropped unread.
	res.Close()
	f, err := ufile.NewUnixfsFile(ctx, b.dag, nd)
	if err != nil {
		return md, nil, fmt.Errorf("get %s: %w", p, err)
	}
	defer f.Close()
	size, err := f.Size()
	if err != nil || size < 0 {
		return md, nil, fmt.Errorf("get %s: directory size %d: %w", p, size, err)
	}
	entries := limitListing(ctx, dir.EnumLinksAsync(ctx), b.maxListing, p)
	return md, boxogw.NewGetResponseFromDirectoryListing(uint64(size), entries, nil), nil
}

// ErrTooManyEntries is the cause of a 422 answer to a directory listing
// of more entries than the gateway lists.
var ErrTooManyEntries = errors.New("too many entries to list on one page")

// limitListing passes on at most max entries of in, then ends with an
// error that boxo answers 422.
func limitListing(ctx context.Context, in <-chan unixfs.LinkResult, max int, p path.ImmutablePath) <-chan unixfs.LinkResult {
	out := make(chan unixfs.LinkResult)
	go func() {
		defer close(out)
		n := 0
		for r := range in {
			if r.Err == nil {
				n++
			}
			if n > max {
				err := fmt.Errorf("list %s: more than %d entries: %w; ask for it as ?format=car", p, max, ErrTooManyEntries)
				r = unixfs.LinkResult{Err: boxogw.NewErrorStatusCode(err, http.StatusUnprocessableEntity)}
			}
			select {
			case out <- r:
			case <-ctx.Done():
				return
			}
			if r.Err != nil {
				return
			}
		}
	}()
	return out
}

// GetAll implements boxogw.IPFSBackend. boxo asks for it to write a tar,
// which is unpacked on someone's disk: the DAG is first checked as `commons
// get` would check it before writing, and against the archive limits, and
// refused with 422 before any byte is sent if it fails. boxo's tar writer
// alone writes names with "/" and control characters, symlinks to
// /etc/passwd, and a DAG bomb to its end.
func (b backend) GetAll(ctx context.Context, p path.ImmutablePath) (boxogw.ContentPathMetadata, files.Node, error) {
	md, nd, err := b.BlocksBackend.GetAll(ctx, p)
	if err != nil || b.dag == nil {
		return md, nd, unsupported(err)
	}
	if len(md.LastSegmentRemainder) > 0 {
		nd.Close()
		return md, nil, boxogw.NewErrorStatusCode(fmt.Errorf("tar %s: not a UnixFS file or directory", p), http.StatusUnprocessableEntity)
	}
	if _, err := folder.Check(ctx, b.dag, md.LastSegment.RootCid(), b.archive); err != nil {
		nd.Close()
		err = fmt.Errorf("tar %s: %w", p, err)
		if folder.IsRefusal(err) {
			err = boxogw.NewErrorStatusCode(fmt.Errorf("%w; ask for it as ?format=car", err), http.StatusUnprocessableEntity)
		}
		return md, nil, err
	}
	return md, nd, nil
}

// GetBlock implements boxogw.IPFSBackend.
func (b backend) GetBlock(ctx context.Context, p path.ImmutablePath) (boxogw.ContentPathMetadata, files.File, error) {
	md, f, err := b.BlocksBackend.GetBlock(ctx, p)
	return md, f, unsupported(err)
}

// Head implements boxogw.IPFSBackend.
func (b backend) Head(ctx context.Context, p path.ImmutablePath) (boxogw.ContentPathMetadata, *boxogw.HeadResponse, error) {
	var res *boxogw.HeadResponse
	md, err := b.resolved.get(p, func(p path.ImmutablePath) (md boxogw.ContentPathMetadata, err error) {
		md, res, err = b.BlocksBackend.Head(ctx, p)
		return md, err
	})
	return md, res, unsupported(err)
}

// ResolvePath implements boxogw.IPFSBackend.
func (b backend) ResolvePath(ctx context.Context, p path.ImmutablePath) (boxogw.ContentPathMetadata, error) {
	md, err := b.BlocksBackend.ResolvePath(ctx, p)
	return md, unsupported(err)
}

// GetCAR implements boxogw.IPFSBackend. Errors met while the CAR streams
// are boxo's to report.
func (b backend) GetCAR(ctx context.Context, p path.ImmutablePath, params boxogw.CarParams) (boxogw.ContentPathMetadata, io.ReadCloser, error) {
	if b.fastCAR != nil {
		if md, err := b.BlocksBackend.ResolvePath(ctx, p); err == nil {
			if rc, ok := fastCAR(ctx, b.fastCAR, p, params); ok {
				return md, rc, nil
			}
		}
	}
	md, rc, err := b.BlocksBackend.GetCAR(ctx, p, params)
	return md, rc, unsupported(err)
}

// unsupported marks errors from content this gateway's IPLD link system
// cannot handle (no decoder for the codec) as 501 with ErrUnsupportedCodec;
// boxo would answer them 500. Other errors pass unchanged.
func unsupported(err error) error {
	if _, ok := errors.AsType[linking.ErrLinkingSetup](err); ok {
		return boxogw.NewErrorStatusCode(fmt.Errorf("%w: %w", ErrUnsupportedCodec, err), http.StatusNotImplemented)
	}
	return err
}

var (
	_ boxogw.IPFSBackend     = backend{}
	_ boxogw.WithContextHint = backend{}
)

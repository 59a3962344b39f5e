package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/ipfs/boxo/files"
	boxogw "github.com/ipfs/boxo/gateway"
	"github.com/ipfs/boxo/path"
	"github.com/ipfs/go-cid"
	"github.com/ipld/go-ipld-prime/linking"
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

// Get implements boxogw.IPFSBackend.
func (b backend) Get(ctx context.Context, p path.ImmutablePath, ranges ...boxogw.ByteRange) (boxogw.ContentPathMetadata, *boxogw.GetResponse, error) {
	md, res, err := b.BlocksBackend.Get(ctx, p, ranges...)
	return md, res, unsupported(err)
}

// GetAll implements boxogw.IPFSBackend.
func (b backend) GetAll(ctx context.Context, p path.ImmutablePath) (boxogw.ContentPathMetadata, files.Node, error) {
	md, nd, err := b.BlocksBackend.GetAll(ctx, p)
	return md, nd, unsupported(err)
}

// GetBlock implements boxogw.IPFSBackend.
func (b backend) GetBlock(ctx context.Context, p path.ImmutablePath) (boxogw.ContentPathMetadata, files.File, error) {
	md, f, err := b.BlocksBackend.GetBlock(ctx, p)
	return md, f, unsupported(err)
}

// Head implements boxogw.IPFSBackend.
func (b backend) Head(ctx context.Context, p path.ImmutablePath) (boxogw.ContentPathMetadata, *boxogw.HeadResponse, error) {
	md, res, err := b.BlocksBackend.Head(ctx, p)
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

// Package carfile moves DAGs in and out of CAR files (Content Addressable
// aRchives, https://ipld.io/specs/transport/car/): Export writes the
// complete DAGs under some roots as a CARv1 stream, in the order of the
// trustless gateway's dag-scope=all responses; Import checks a CARv1 or
// CARv2 completely and only then stores its blocks; Verify makes the same
// checks and stores nothing.
//
// A CAR comes from someone else and is checked as such: every block must
// hash to its CID with an allowed hash function, no block may exceed the
// bitswap size limit, a file cut short is reported as truncated rather
// than read as a shorter file, and the roots (and, on request, every block
// under them) must be present. Failed checks are *Error values that wrap
// one sentinel (ErrTruncated, ErrHashMismatch, ...) and carry the CID and
// byte offset concerned; their messages are meant to be shown to the user
// after the file name.
//
// # Commands
//
// `commons export <cid> -o bundle.car`: Export from the node's blockstore,
// or from its blockservice through GetterFunc(bserv.GetBlock) to fetch
// missing blocks, into the file; remove the file if Export fails.
//
// `commons import bundle.car`: Import from the opened file into the node's
// blockstore, usually with RequireComplete and Have set to the
// blockstore's Has, so that a bundle completed by blocks already stored is
// accepted.
//
// `commons get`: the daemon streams a CAR of the DAG; the CLI must verify
// it before writing a folder from it. The recommended way, with memory
// bounded whatever the bundle's size:
//
//	f, _ := os.CreateTemp("", "get-*.car")     // remove it when done
//	io.Copy(f, body)                            // the CAR stream
//	f.Seek(0, io.SeekStart)
//	res, err := carfile.Verify(ctx, f, carfile.ImportOptions{RequireComplete: true})
//	bs, err := carblockstore.OpenReadOnly(f.Name()) // github.com/ipld/go-car/v2/blockstore
//	dag := merkledag.NewDAGService(blockservice.New(bs, nil))
//	// read res.Roots[0] from dag with boxo's unixfs packages and write the folder
//
// go-car's read-only blockstore indexes the file (one entry per block) and
// reads blocks from it on demand; it also answers identity CIDs. For small
// DAGs, Import into an in-memory boxo blockstore
// (blockstore.NewIdStore(blockstore.NewBlockstore(dssync.MutexWrap(datastore.NewMapDatastore())))),
// or into a go-car read-write blockstore, works just as well: any
// BlockPutter will do.
package carfile

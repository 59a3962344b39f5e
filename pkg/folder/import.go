package folder

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"sync"

	chunker "github.com/ipfs/boxo/chunker"
	"github.com/ipfs/boxo/files"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipld/unixfs"
	"github.com/ipfs/boxo/ipld/unixfs/importer/balanced"
	ihelper "github.com/ipfs/boxo/ipld/unixfs/importer/helpers"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	mh "github.com/multiformats/go-multihash"
)

// defaultChunker is the chunker used when Options.Chunker is "".
const defaultChunker = "buzhash"

// Import adds n to dag as UnixFS and returns the root CID. n comes from
// Open, or from a multipart request sent by a remote client
// (files.NewFileFromPartReader), which Import distrusts.
//
// Files are chunked with opts.Chunker and laid out balanced, with raw leaves
// if opts.RawLeaves; directories are built with boxo's dynamic directory, so
// large ones become HAMT shards exactly as in Kubo; symlinks become UnixFS
// symlinks. For a folder the root CID equals Kubo's for
// `ipfs add -r --cid-version=1 --raw-leaves --chunker=buzhash` of the same
// folder (with Kubo's default Import settings). Modes and modification
// times are not stored.
//
// Import refuses, before returning any CID: names failing ValidName
// (ErrUnsafeName), two entries with the same name in a directory
// (ErrDuplicateName), symlinks whose target is absolute or climbs out of the
// imported tree, or a symlink on its own (ErrSymlinkEscapes), directories
// nested deeper than MaxDepth (ErrTooDeep) and nodes that are neither file,
// directory nor symlink (ErrUnknownType). Errors from reading n are passed
// on wrapped (a file from Open that changed wraps ErrChanged).
//
// Import does not pin. Blocks added before a failure stay in dag, unpinned,
// for garbage collection. When ctx is cancelled Import stops promptly and
// returns an error wrapping ctx.Err(). Import closes every node it reads.
func Import(ctx context.Context, dag ipld.DAGService, n files.Node, opts Options) (cid.Cid, error) {
	prefix, err := cidPrefix(opts)
	if err != nil {
		return cid.Undef, err
	}
	spec := opts.Chunker
	if spec == "" {
		spec = defaultChunker
	}
	if _, err := chunker.FromString(bytes.NewReader(nil), spec); err != nil {
		return cid.Undef, fmt.Errorf("import: chunker %q: %w", spec, err)
	}
	ictx, cancel := context.WithCancelCause(ctx)
	im := &importer{
		ctx:       ictx,
		cancel:    cancel,
		dag:       dag,
		prefix:    prefix,
		chunker:   spec,
		rawLeaves: opts.RawLeaves,
		rep:       newReporter(opts.Progress),
		turns:     make(chan struct{}, max(1, runtime.GOMAXPROCS(0))),
	}
	nd, err := im.node(n, "", 0)
	cancel(nil)
	im.wg.Wait()
	if err != nil {
		if ctx.Err() != nil {
			return cid.Undef, fmt.Errorf("import: %w", ctx.Err())
		}
		if cause := context.Cause(ictx); cause != nil && !errors.Is(cause, context.Canceled) {
			err = cause // a file read in parallel failed first
		}
		return cid.Undef, err
	}
	im.rep.finish()
	return nd.Cid(), nil
}

// cidPrefix returns the CID builder Kubo uses for the options' CID version.
func cidPrefix(opts Options) (cid.Prefix, error) {
	v := opts.CIDVersion
	if v == 0 {
		v = 1
	}
	if v != 1 {
		return cid.Prefix{}, fmt.Errorf("import: CID version %d is not supported; commons uses CIDv1", opts.CIDVersion)
	}
	prefix, err := merkledag.PrefixForCidVersion(v)
	if err != nil {
		return cid.Prefix{}, fmt.Errorf("import: %w", err)
	}
	prefix.MhType = mh.SHA2_256
	prefix.MhLength = -1
	return prefix, nil
}

// importer carries the state of one Import.
type importer struct {
	ctx       context.Context // cancelled, with the error, when a file read in parallel fails
	cancel    context.CancelCauseFunc
	dag       ipld.DAGService
	prefix    cid.Prefix
	chunker   string
	rawLeaves bool
	rep       *reporter

	// Files on the local disk (from Open) are chunked and hashed in
	// parallel, one per CPU: chunking and SHA-256 are most of an
	// import's CPU, and a folder's files are independent. Their nodes
	// are linked into their directory in its order, so the CIDs are the
	// same as a sequential import's. Files from a stream (a multipart
	// request) are read in order, as they arrive.
	turns chan struct{}
	wg    sync.WaitGroup
}

// pending is a directory entry whose node may still be being imported.
type pending struct {
	name, rel string
	nd        ipld.Node
	done      chan struct{} // closed when nd or err is set by a parallel import
	err       error
}

// goFile imports the local file f, found at rel, on a turn of its own.
func (im *importer) goFile(f *diskFile, name, rel string) *pending {
	e := &pending{name: name, rel: rel, done: make(chan struct{})}
	select {
	case im.turns <- struct{}{}:
	case <-im.ctx.Done():
		f.Close()
		e.err = context.Cause(im.ctx)
		close(e.done)
		return e
	}
	im.wg.Add(1)
	go func() {
		defer im.wg.Done()
		defer func() { <-im.turns }()
		defer close(e.done)
		e.nd, e.err = im.node(f, rel, 1)
		if e.err != nil {
			im.cancel(e.err)
		}
	}()
	return e
}

// node imports n, found at rel (slash-separated, "" for the root) depth
// levels below the root, and closes it.
func (im *importer) node(n files.Node, rel string, depth int) (nd ipld.Node, err error) {
	defer func() {
		if cerr := n.Close(); cerr != nil && err == nil {
			nd, err = nil, fmt.Errorf("import %s: close: %w", displayPath(rel), cerr)
		}
	}()
	if err := im.ctx.Err(); err != nil {
		return nil, err
	}
	switch n := n.(type) {
	case files.Directory:
		return im.dir(n, rel, depth)
	case *files.Symlink:
		return im.symlink(n, rel, depth)
	case files.File:
		return im.file(n, rel)
	default:
		return nil, fmt.Errorf("import %s: %T: %w", displayPath(rel), n, ErrUnknownType)
	}
}

func (im *importer) dir(d files.Directory, rel string, depth int) (ipld.Node, error) {
	p, err := im.walkDir(d, "", rel, depth)
	if err != nil {
		return nil, err
	}
	<-p.done
	return p.nd, p.err
}

// entry starts the import of n, the entry name found at rel depth levels
// below the root, and closes n once it is read. Files on the local disk
// and directories are finished in the background (see walkDir); anything
// else (a streamed file, a symlink) is imported before entry returns.
func (im *importer) entry(n files.Node, name, rel string, depth int) (*pending, error) {
	switch n := n.(type) {
	case *diskFile:
		return im.goFile(n, name, rel), nil
	case files.Directory:
		p, err := im.walkDir(n, name, rel, depth)
		if cerr := n.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("import %s: close: %w", displayPath(rel), cerr)
		}
		return p, err
	}
	nd, err := im.node(n, rel, depth)
	if err != nil {
		return nil, err
	}
	return &pending{name: name, rel: rel, nd: nd}, nil
}

// walkDir lists the directory d and starts the import of its entries, in
// order, then returns it pending: its node is built, on a goroutine of its
// own, once all of its entries are done. The walk goes on to the next
// directory meanwhile, so the files of different directories are imported
// in parallel too: before, a directory waited for its own files, and a
// folder of one large file held the import to one CPU. Only files take
// turns; a directory waiting for its entries holds no file open.
func (im *importer) walkDir(d files.Directory, name, rel string, depth int) (*pending, error) {
	if depth >= MaxDepth {
		return nil, fmt.Errorf("import %s: more than %d levels: %w", displayPath(rel), MaxDepth, ErrTooDeep)
	}
	seen := make(map[string]struct{})
	var entries []*pending
	it := d.Entries()
	for it.Next() {
		name := it.Name()
		if err := im.ctx.Err(); err != nil {
			it.Node().Close()
			return nil, context.Cause(im.ctx) // a file or directory failed
		}
		if err := ValidName(name); err != nil {
			it.Node().Close()
			return nil, fmt.Errorf("import %s: %w", displayPath(rel), err)
		}
		if _, dup := seen[name]; dup {
			it.Node().Close()
			return nil, fmt.Errorf("import %s: two entries are named %s: %w", displayPath(rel), quoteName(name), ErrDuplicateName)
		}
		seen[name] = struct{}{}
		e, err := im.entry(it.Node(), name, joinRel(rel, name), depth+1)
		if err != nil {
			return nil, err
		}
		entries = append(entries, e)
	}
	if err := it.Err(); err != nil {
		return nil, fmt.Errorf("import %s: list entries: %w", displayPath(rel), err)
	}
	p := &pending{name: name, rel: rel, done: make(chan struct{})}
	im.wg.Add(1)
	go func() {
		defer im.wg.Done()
		defer close(p.done)
		p.nd, p.err = im.assemble(rel, entries)
		if p.err != nil {
			im.cancel(p.err)
		}
	}()
	return p, nil
}

// assemble builds and stores the directory at rel from its entries, in
// their order, waiting for each to be done.
func (im *importer) assemble(rel string, entries []*pending) (ipld.Node, error) {
	dir, err := uio.NewDirectory(im.dag, uio.WithCidBuilder(im.prefix))
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", displayPath(rel), err)
	}
	for _, e := range entries {
		if e.done != nil {
			<-e.done
			if e.err != nil {
				return nil, e.err
			}
		}
		if err := dir.AddChild(im.ctx, e.name, e.nd); err != nil {
			return nil, fmt.Errorf("import %s: add to directory: %w", displayPath(e.rel), err)
		}
	}
	nd, err := dir.GetNode()
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", displayPath(rel), err)
	}
	if err := im.dag.Add(im.ctx, nd); err != nil {
		return nil, fmt.Errorf("import %s: store directory: %w", displayPath(rel), err)
	}
	return nd, nil
}

// symlink imports a symlink found depth levels below the root, so it lives
// in a directory depth-1 levels below it.
func (im *importer) symlink(l *files.Symlink, rel string, depth int) (ipld.Node, error) {
	if depth == 0 {
		return nil, fmt.Errorf("import: a symlink on its own has nothing inside to point to: %w", ErrSymlinkEscapes)
	}
	if reason := linkTargetProblem(l.Target, depth-1); reason != "" {
		return nil, fmt.Errorf("import %s: -> %s %s: %w", displayPath(rel), displayPath(l.Target), reason, ErrSymlinkEscapes)
	}
	data, err := unixfs.SymlinkData(l.Target)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", displayPath(rel), err)
	}
	nd := merkledag.NodeWithData(data)
	if err := nd.SetCidBuilder(im.prefix); err != nil {
		return nil, fmt.Errorf("import %s: %w", displayPath(rel), err)
	}
	if err := im.dag.Add(im.ctx, nd); err != nil {
		return nil, fmt.Errorf("import %s: store symlink: %w", displayPath(rel), err)
	}
	return nd, nil
}

func (im *importer) file(f files.File, rel string) (ipld.Node, error) {
	r := &importReader{ctx: im.ctx, r: f, rep: im.rep, path: rel}
	spl, err := chunker.FromString(r, im.chunker)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", displayPath(rel), err)
	}
	ahead := newReadAhead(spl)
	defer ahead.stop()
	// File blocks are committed after each file, as Kubo does.
	buf := ipld.NewBufferedDAG(im.ctx, im.dag)
	params := ihelper.DagBuilderParams{
		Dagserv:    buf,
		RawLeaves:  im.rawLeaves,
		Maxlinks:   ihelper.DefaultLinksPerBlock,
		CidBuilder: im.prefix,
	}
	db, err := params.New(ahead)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", displayPath(rel), err)
	}
	nd, err := balanced.Layout(db)
	if err != nil {
		return nil, fmt.Errorf("import %s: %w", displayPath(rel), err)
	}
	if err := buf.Commit(); err != nil {
		return nil, fmt.Errorf("import %s: store blocks: %w", displayPath(rel), err)
	}
	im.rep.fileDone(im.ctx, rel)
	return nd, nil
}

// importReader stops a file's import when ctx ends and reports progress.
type importReader struct {
	ctx  context.Context
	r    files.File
	rep  *reporter
	path string
}

func (r *importReader) Read(p []byte) (int, error) {
	if err := r.ctx.Err(); err != nil {
		return 0, err
	}
	n, err := r.r.Read(p)
	r.rep.addBytes(r.path, n)
	return n, err
}

// readAhead is a splitter that runs another one on a goroutine of its own,
// up to readAheadChunks chunks ahead of the caller: the content-defined
// chunker reads and scans every byte and is a fifth of an import's CPU,
// which then overlaps with hashing and storing the chunks before it. The
// chunks are the same, in the same order.
type readAhead struct {
	spl    chunker.Splitter
	chunks chan chunk // closed when the goroutine ends
	quit   chan struct{}
	err    error // the first error returned, returned again after it
}

type chunk struct {
	data []byte
	err  error
}

// readAheadChunks bounds the memory a file's read-ahead holds: 4 chunks of
// at most 512 KiB (buzhash) or 1 MiB (size-N, by Options' limits).
const readAheadChunks = 4

func newReadAhead(spl chunker.Splitter) *readAhead {
	ra := &readAhead{spl: spl, chunks: make(chan chunk, readAheadChunks), quit: make(chan struct{})}
	go ra.run()
	return ra
}

func (ra *readAhead) run() {
	defer close(ra.chunks)
	for {
		data, err := ra.spl.NextBytes()
		select {
		case ra.chunks <- chunk{data, err}:
		case <-ra.quit:
			return
		}
		if err != nil {
			return
		}
	}
}

// NextBytes returns the next chunk, or the error that ended the file
// (io.EOF at its end).
func (ra *readAhead) NextBytes() ([]byte, error) {
	if ra.err != nil {
		return nil, ra.err
	}
	c, ok := <-ra.chunks
	if !ok { // stopped
		ra.err = io.ErrClosedPipe
		return nil, ra.err
	}
	if c.err != nil {
		ra.err = c.err
	}
	return c.data, c.err
}

// Reader returns the reader under the splitter.
func (ra *readAhead) Reader() io.Reader { return ra.spl.Reader() }

// stop ends the goroutine and waits for it, so that the file is not read
// after its import returns (and is closed).
func (ra *readAhead) stop() {
	close(ra.quit)
	for range ra.chunks {
	}
}

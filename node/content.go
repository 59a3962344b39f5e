package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/files"
	"github.com/ipfs/boxo/ipld/merkledag"
	ft "github.com/ipfs/boxo/ipld/unixfs"
	unixfile "github.com/ipfs/boxo/ipld/unixfs/file"
	uio "github.com/ipfs/boxo/ipld/unixfs/io"
	"github.com/ipfs/boxo/path"
	"github.com/ipfs/boxo/path/resolver"
	pin "github.com/ipfs/boxo/pinning/pinner"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/ipld/go-ipld-prime/datamodel"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/pkg/bundle"
	"github.com/commons-p2p/commons/pkg/carfile"
	"github.com/commons-p2p/commons/pkg/folder"
	"github.com/commons-p2p/commons/pkg/mirror"
)

var _ api.Service = (*Node)(nil)

// FolderOptions returns the import options from the node's configuration.
func (n *Node) FolderOptions() folder.Options {
	o := folder.DefaultOptions()
	o.Chunker = n.settings.Import.Chunker
	o.CIDVersion = n.settings.Import.CIDVersion
	o.RawLeaves = n.settings.Import.RawLeaves
	return o
}

// Publish implements api.Service.
func (n *Node) Publish(ctx context.Context, dir files.Node, opts api.PublishOptions, progress func(api.Progress)) (api.PublishResult, error) {
	defer n.Blockstore.PinLock(ctx).Unlock(ctx)
	// A folder read from disk knows its size (one through the API does
	// not: 0 only checks the reserve); the store checks again as it
	// writes.
	size, err := dir.Size()
	if err != nil || size < 0 {
		size = 0
	}
	if err := n.checkSpace(size); err != nil {
		return api.PublishResult{}, fmt.Errorf("publish %s: %w", opts.Name, err)
	}
	if !opts.Plain {
		return n.publishBundle(ctx, dir, opts, progress)
	}
	root, last, err := n.importFolder(ctx, dir, opts.Name, progress)
	if err != nil {
		return api.PublishResult{}, err
	}
	if err := n.pinLocal(ctx, root, opts.Name, nil); err != nil {
		return api.PublishResult{}, fmt.Errorf("publish %s: %w", opts.Name, err)
	}
	res := api.PublishResult{CID: root, Name: opts.Name, Files: last.Files, Bytes: last.Bytes}
	if u := n.GatewayURL(); u != "" {
		res.GatewayURL = u + "/ipfs/" + root.String() + "/"
	}
	return res, nil
}

func isRefusal(err error) bool {
	for _, s := range []error{
		folder.ErrUnsafeName, folder.ErrSymlinkEscapes, folder.ErrDanglingSymlink, folder.ErrSpecialFile,
		folder.ErrUnreadable, folder.ErrChanged, folder.ErrDuplicateName, folder.ErrUnknownType, folder.ErrTooDeep,
	} {
		if errors.Is(err, s) {
			return true
		}
	}
	return false
}

// pinLocal pins a DAG that is entirely in the local store, makes the pin
// durable and queues its announcement. The caller holds the pin lock and
// guarantees completeness: Publish wrote every block, Pin's fetch walked
// every link, and Import checked the CAR was complete. So the pin is
// recorded without the pinner walking (and reading back) the whole DAG
// again, which cost a fifth of an import's time.
//
// record, if not nil, runs after the pin is written and before the commit
// point, so that what it writes (a bundle's index entry) is durable with
// the pin: a crash keeps both, the pin alone, or neither.
func (n *Node) pinLocal(ctx context.Context, root cid.Cid, name string, record func(context.Context) error) error {
	// The commit is local and short. A caller that goes away (a client
	// that disconnects, a daemon that stops) must not cut it in half: the
	// pin without its record, or a library update without the old root's
	// unpin. record gets this context too.
	commit := context.WithoutCancel(ctx)
	if has, err := n.Blockstore.Has(commit, root); err != nil || !has {
		if err == nil {
			err = fmt.Errorf("root block is not stored")
		}
		return fmt.Errorf("pin %s: %w", root, err)
	}
	if err := n.Pinner.PinWithMode(commit, root, pin.Recursive, name); err != nil {
		return fmt.Errorf("pin %s: %w", root, err)
	}
	if err := n.Pinner.Flush(commit); err != nil {
		return fmt.Errorf("pin %s: %w", root, err)
	}
	if record != nil {
		if err := record(commit); err != nil {
			return fmt.Errorf("pin %s: %w", root, err)
		}
	}
	// The commit point: blocks first (earlier in the log), then the pin.
	if err := n.store.Sync(commit); err != nil {
		return fmt.Errorf("pin %s: %w", root, err)
	}
	if err := n.Provider.Provide(ctx, root); err != nil {
		n.log.Warn("queue announcement", "subsystem", "provider", "cid", root, "err", err)
	}
	return nil
}

// Pin implements api.Service.
func (n *Node) Pin(ctx context.Context, c cid.Cid, name string, progress func(api.Progress)) error {
	unlock, err := n.fetchLocked(ctx, c, progress)
	if err != nil {
		return fmt.Errorf("pin %s: %w", c, err)
	}
	defer unlock.Unlock(ctx)
	// A design bundle is verified before it is pinned: a bundle whose
	// signature or layout is wrong is refused, and nothing is pinned.
	b, err := bundle.Load(ctx, n.localDAG, c, bundle.LoadOptions{})
	// The user's pin is held as the user's, so that unfollowing a
	// library that holds the same version never releases it.
	userHold := func(ctx context.Context) error { return n.mirrorState.Hold(ctx, c, mirror.UserHolder) }
	switch {
	case errors.Is(err, bundle.ErrNotBundle):
		return n.pinLocal(ctx, c, name, userHold)
	case err != nil:
		return fmt.Errorf("pin %s: %w", c, bundleError(err))
	}
	if name == "" {
		name = b.Manifest().Name
	}
	return n.pinLocal(ctx, c, name, func(ctx context.Context) error {
		// An older version pinned for the archive is recorded but does
		// not become the head.
		if err := n.bundles.Advance(ctx, b); err != nil && !errors.Is(err, bundle.ErrStale) {
			return err
		}
		return userHold(ctx)
	})
}

// Unpin implements api.Service.
func (n *Node) Unpin(ctx context.Context, c cid.Cid) error {
	defer n.Blockstore.PinLock(ctx).Unlock(ctx)
	holders, err := n.mirrorState.Holders(ctx, c)
	if err != nil {
		return fmt.Errorf("unpin %s: %w", c, err)
	}
	var libs []string
	for _, h := range holders {
		if h != mirror.UserHolder {
			libs = append(libs, holderLibrary(h))
		}
	}
	if len(libs) > 0 {
		return fmt.Errorf("unpin %s: %w: the mirror of library %s holds it; `commons unfollow` releases it", c, api.ErrInvalid, strings.Join(libs, ", "))
	}
	if len(holders) > 0 {
		if _, err := n.mirrorState.Release(ctx, c, mirror.UserHolder); err != nil {
			return fmt.Errorf("unpin %s: %w", c, err)
		}
	}
	err = n.Pinner.Unpin(ctx, c, true)
	if errors.Is(err, pin.ErrNotPinned) {
		return fmt.Errorf("unpin %s: %w", c, api.ErrNotPinned)
	}
	if err != nil {
		return fmt.Errorf("unpin %s: %w", c, err)
	}
	if err := n.Pinner.Flush(ctx); err != nil {
		return fmt.Errorf("unpin %s: %w", c, err)
	}
	return n.store.Sync(ctx)
}

// Pins implements api.Service.
func (n *Node) Pins(ctx context.Context) ([]api.PinInfo, error) {
	var out []api.PinInfo
	for _, src := range []struct {
		kind string
		ch   <-chan pin.StreamedPin
	}{
		{"recursive", n.Pinner.RecursiveKeys(ctx, true)},
		{"direct", n.Pinner.DirectKeys(ctx, true)},
	} {
		for sp := range src.ch {
			if sp.Err != nil {
				return nil, fmt.Errorf("list pins: %w", sp.Err)
			}
			out = append(out, api.PinInfo{CID: sp.Pin.Key, Type: src.kind, Name: sp.Pin.Name})
		}
	}
	return out, nil
}

// Export implements api.Service.
func (n *Node) Export(ctx context.Context, p string, w io.Writer, progress func(api.Progress)) error {
	ctx, wd := n.watch(ctx)
	defer wd.stop()
	root, err := n.resolve(ctx, p)
	if err != nil {
		return wd.explain(fmt.Errorf("export %s: %w", p, err))
	}
	// Not the pin lock: an export that fetches may take long, and a
	// collection keeps what is stored under a root in flight and what
	// arrives meanwhile; a block it removed first is fetched again.
	defer n.gc.track(root)()
	getter := &watchedGetter{bs: blockservice.NewSession(ctx, n.Blocks), wd: wd}
	// Get the root before writing anything, so that the commonest failure
	// (nobody has it) is an error response rather than a cut-off CAR.
	if _, err := getter.Get(ctx, root); err != nil {
		return wd.explain(fmt.Errorf("export %s: %w", p, err))
	}
	if err := n.verifyIfBundle(ctx, root, false); err != nil {
		return wd.explain(fmt.Errorf("export %s: %w", p, err))
	}
	// The CAR must be written depth-first, one block after another; asked
	// of the network in that order each block would cost a round trip
	// (11 MiB/s over loopback). A parallel fetch of the whole DAG runs
	// ahead of the writer instead, so most reads find the block stored.
	// Its errors are the writer's too, so it only logs.
	pctx, stopPrefetch := context.WithCancel(ctx)
	defer stopPrefetch()
	go func() {
		if err := n.fetchDAG(pctx, root, nil); err != nil && pctx.Err() == nil {
			n.log.Debug("export prefetch", "subsystem", "fetch", "cid", root, "err", err)
		}
	}()
	opts := carfile.ExportOptions{}
	if progress != nil {
		opts.Progress = func(b, by int64) { progress(api.Progress{Phase: "export", Blocks: b, Bytes: by}) }
	}
	if err := carfile.Export(ctx, getter, []cid.Cid{root}, w, opts); err != nil {
		return wd.explain(fmt.Errorf("export %s: %w", p, err))
	}
	return nil
}

// importPlain imports a CAR that is not an export (Import).
func (n *Node) importPlain(ctx context.Context, r io.Reader, progress func(api.Progress)) (api.ImportResult, error) {
	defer n.Blockstore.PinLock(ctx).Unlock(ctx)
	opts := carfile.ImportOptions{
		RequireComplete: true,
		Have:            func(ctx context.Context, c cid.Cid) (bool, error) { return n.Blockstore.Has(ctx, c) },
		// Checked, and not stored yet: refuse a CAR the disk cannot take
		// before it changes anything.
		BeforeStore: func(r carfile.Result) error { return n.checkSpace(r.Bytes) },
	}
	if progress != nil {
		opts.Progress = func(b, by int64) { progress(api.Progress{Phase: "import", Blocks: b, Bytes: by}) }
	}
	res, err := carfile.Import(ctx, r, blockAdder{n.Blocks}, opts)
	if err != nil {
		if ctx.Err() == nil && !api.IsNoSpace(err) {
			return api.ImportResult{}, fmt.Errorf("import: %w: %w", api.ErrInvalid, err)
		}
		return api.ImportResult{}, fmt.Errorf("import: %w", err)
	}
	// A design bundle in the CAR must verify before anything is pinned;
	// the stored blocks of a refused one are left for gc.
	for _, root := range res.Roots {
		if err := n.verifyIfBundle(ctx, root, true); err != nil {
			return api.ImportResult{}, fmt.Errorf("import: %w", err)
		}
	}
	for _, root := range res.Roots {
		// Re-importing what is pinned already keeps its pin and name.
		if _, pinned, err := n.Pinner.IsPinnedWithType(ctx, root, pin.Recursive); err == nil && pinned {
			continue
		}
		if err := n.pinLocal(ctx, root, "imported", nil); err != nil {
			return api.ImportResult{}, fmt.Errorf("import: %w", err)
		}
	}
	return api.ImportResult{Roots: res.Roots, Blocks: res.Blocks, Bytes: res.Bytes}, nil
}

// Cat implements api.Service.
func (n *Node) Cat(ctx context.Context, p string) (io.ReadCloser, error) {
	ctx, cancel := context.WithCancel(ctx)
	ctx, wd := n.watch(ctx)
	fail := func(err error) (io.ReadCloser, error) {
		err = wd.explain(fmt.Errorf("cat %s: %w", p, err))
		wd.stop()
		cancel()
		return nil, err
	}
	c, err := n.resolve(ctx, p)
	if err != nil {
		return fail(err)
	}
	nd, err := n.DAG.Get(ctx, c)
	if err != nil {
		return fail(err)
	}
	f, err := unixfile.NewUnixfsFile(ctx, n.DAG, nd)
	if err != nil {
		return fail(err)
	}
	file, ok := f.(files.File)
	if !ok {
		f.Close()
		return fail(fmt.Errorf("%w: it is a directory; use `commons ls` or `commons get`", api.ErrInvalid))
	}
	return &watchedReader{File: file, wd: wd, cancel: cancel}, nil
}

// Ls implements api.Service.
func (n *Node) Ls(ctx context.Context, p string) ([]api.Entry, error) {
	ctx, wd := n.watch(ctx)
	defer wd.stop()
	c, err := n.resolve(ctx, p)
	if err != nil {
		return nil, wd.explain(fmt.Errorf("ls %s: %w", p, err))
	}
	nd, err := n.DAG.Get(ctx, c)
	if err != nil {
		return nil, wd.explain(fmt.Errorf("ls %s: %w", p, err))
	}
	dir, err := uio.NewDirectoryFromNode(n.DAG, nd)
	if errors.Is(err, uio.ErrNotADir) {
		e, err := n.entry(ctx, "", nd)
		if err != nil {
			return nil, wd.explain(fmt.Errorf("ls %s: %w", p, err))
		}
		return []api.Entry{e}, nil
	}
	if err != nil {
		return nil, fmt.Errorf("ls %s: %w", p, err)
	}
	var out []api.Entry
	// Each child is read once: a hostile folder may link one 1 MiB block
	// under 100,000 names, and reading it for each would copy 100 GB.
	known := make(map[cid.Cid]api.Entry)
	for lr := range dir.EnumLinksAsync(ctx) {
		if lr.Err != nil {
			return nil, wd.explain(fmt.Errorf("ls %s: %w", p, lr.Err))
		}
		e, ok := known[lr.Link.Cid]
		if !ok {
			child, err := n.DAG.Get(ctx, lr.Link.Cid)
			if err != nil {
				return nil, wd.explain(fmt.Errorf("ls %s: %s: %w", p, lr.Link.Name, err))
			}
			wd.kick()
			if e, err = n.entry(ctx, "", child); err != nil {
				return nil, fmt.Errorf("ls %s: %w", p, err)
			}
			known[lr.Link.Cid] = e
		}
		e.Name = lr.Link.Name
		out = append(out, e)
	}
	return out, nil
}

func (n *Node) entry(ctx context.Context, name string, nd ipld.Node) (api.Entry, error) {
	e := api.Entry{Name: name, CID: nd.Cid(), Type: "other", Size: -1}
	switch v := nd.(type) {
	case *merkledag.RawNode:
		e.Type, e.Size = "file", int64(len(v.RawData()))
	case *merkledag.ProtoNode:
		fsn, err := ft.FSNodeFromBytes(v.Data())
		if err != nil {
			return e, nil
		}
		switch fsn.Type() {
		case ft.TFile, ft.TRaw:
			e.Type, e.Size = "file", int64(fsn.FileSize())
		case ft.TDirectory, ft.THAMTShard:
			e.Type = "directory"
		case ft.TSymlink:
			e.Type, e.Size = "symlink", int64(len(fsn.Data()))
		}
	}
	return e, nil
}

// Get writes the DAG at p into target on the local disk (the offline CLI
// path; through a daemon the CLI exports a CAR and writes from that).
func (n *Node) Get(ctx context.Context, p, target string, progress func(api.Progress)) error {
	defer n.Blockstore.PinLock(ctx).Unlock(ctx)
	c, err := n.resolve(ctx, p)
	if err != nil {
		return fmt.Errorf("get %s: %w", p, err)
	}
	if err := n.fetchDAG(ctx, c, progress); err != nil {
		return fmt.Errorf("get %s: %w", p, err)
	}
	if err := n.verifyIfBundle(ctx, c, true); err != nil {
		return fmt.Errorf("get %s: %w", p, err)
	}
	wo := folder.WriteOptions{}
	if progress != nil {
		wo.Progress = func(fp folder.Progress) {
			progress(api.Progress{Phase: "write", Files: fp.Files, Bytes: fp.Bytes, Path: fp.Path})
		}
	}
	if err := folder.Write(ctx, n.localDAG, c, target, wo); err != nil {
		return fmt.Errorf("get %s: %w", p, err)
	}
	return nil
}

// resolve turns a user's path ("<cid>", "<cid>/a/b", "/ipfs/<cid>/a",
// "/ipns/<name>/a") into the CID it names.
func (n *Node) resolve(ctx context.Context, s string) (cid.Cid, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return cid.Undef, fmt.Errorf("%w: empty path", api.ErrInvalid)
	}
	if !strings.HasPrefix(s, "/") {
		s = "/ipfs/" + s
	}
	p, err := path.NewPath(s)
	if err != nil {
		return cid.Undef, fmt.Errorf("%w: %q is not a CID or /ipfs/ path: %v", api.ErrInvalid, s, err)
	}
	if p.Mutable() {
		res, err := n.Names.Resolve(ctx, p)
		if errors.Is(err, api.ErrOffline) {
			return cid.Undef, err
		}
		if err != nil {
			return cid.Undef, fmt.Errorf("resolve %s: %w: %v", s, api.ErrNotFound, err)
		}
		p = res.Path
	}
	ip, err := path.NewImmutablePath(p)
	if err != nil {
		return cid.Undef, fmt.Errorf("%w: %v", api.ErrInvalid, err)
	}
	c, rest, err := n.resolver.ResolveToLastNode(ctx, ip)
	var noLink *resolver.ErrNoLink
	var wrongKind datamodel.ErrWrongKind
	switch {
	case errors.As(err, &noLink):
		return cid.Undef, fmt.Errorf("%w: %s: there is no %q in %s", api.ErrNotFound, s, noLink.Name, noLink.Node)
	case errors.As(err, &wrongKind):
		return cid.Undef, fmt.Errorf("%w: %s: a path element is a file, not a directory", api.ErrNotFound, s)
	case err != nil:
		return cid.Undef, err
	}
	if len(rest) > 0 {
		return cid.Undef, fmt.Errorf("%w: %s: no such file in %s", api.ErrNotFound, strings.Join(rest, "/"), ip.RootCid())
	}
	return c, nil
}

// fetchDAG makes sure every block under root is stored locally, fetching
// what is missing from peers. It fails with api.ErrNotFound when no block
// arrives for fetch.timeout.
//
// While the store refuses new blocks for lack of disk space nothing fetched
// could be kept: the DAG must then be complete here already, or the fetch
// fails at once with the store's reason; and a fetch fails as soon as the
// store starts refusing.
func (n *Node) fetchDAG(ctx context.Context, root cid.Cid, progress func(api.Progress)) error {
	// Offline nothing is fetched, and a missing block is ErrOffline.
	if !n.offline {
		if why := n.refusing(); why != nil {
			if err := n.completeLocally(ctx, root); err != nil {
				if ipld.IsNotFound(err) {
					return fmt.Errorf("fetch %s: %w", root, why)
				}
				return fmt.Errorf("fetch %s: %w", root, err)
			}
			return nil
		}
	}
	ctx, stop := n.stopWhenFull(ctx)
	defer stop()
	err := n.fetchDAGWatched(ctx, root, progress)
	if cause := context.Cause(ctx); err != nil && api.IsNoSpace(cause) {
		return fmt.Errorf("fetch %s: %w", root, cause)
	}
	return err
}

func (n *Node) fetchDAGWatched(ctx context.Context, root cid.Cid, progress func(api.Progress)) error {
	ctx, wd := n.watch(ctx)
	defer wd.stop()
	confirm := false
	if n.bulk != nil && n.settings.Fetch.Bulk {
		// Most of the DAG, often all of it, comes over the bulk path;
		// the walk below then finds it stored, and bitswap fetches only
		// what no peer served that way.
		err := n.bulk.fetch(ctx, root, wd, progress)
		if err == nil {
			progress = nil // the walk below only confirms what is stored
			confirm = true
		} else if ctx.Err() == nil {
			n.log.Debug("bulk fetch incomplete; bitswap fetches the rest", "subsystem", "fetch", "cid", root, "err", err)
		}
	}
	nodes := &watchedNodes{ng: merkledag.NewSession(ctx, n.DAG), wd: wd, progress: progress}
	// Not merkledag.GetLinksWithDAG: it skips raw blocks (they have no
	// links) without fetching them, and raw leaves are the file data.
	getLinks := func(ctx context.Context, c cid.Cid) ([]*ipld.Link, error) {
		if confirm && c.Type() == cid.Raw {
			// Confirming what the bulk path stored: a raw leaf has no
			// links, so that it is stored is all the walk needs, and
			// reading it back would read the whole file again.
			if has, err := n.Blockstore.Has(ctx, c); err == nil && has {
				wd.kick()
				return nil, nil
			}
		}
		nd, err := nodes.Get(ctx, c)
		if err != nil {
			return nil, err
		}
		return nd.Links(), nil
	}
	set := cid.NewSet()
	if err := merkledag.Walk(ctx, getLinks, root, set.Visit, merkledag.Concurrency(16)); err != nil {
		return wd.explain(fmt.Errorf("fetch %s: %w", root, err))
	}
	return nil
}

// watchdog cancels a context when no block has arrived for the fetch
// timeout, and turns that cancellation into a clear not-found error.
type watchdog struct {
	n       *Node
	timeout time.Duration
	cancel  context.CancelFunc
	timer   *time.Timer
	fired   atomic.Bool
	blocks  atomic.Int64
	bytes   atomic.Int64
}

func (n *Node) watch(ctx context.Context) (context.Context, *watchdog) {
	ctx, cancel := context.WithCancel(ctx)
	w := &watchdog{n: n, timeout: n.settings.Fetch.Timeout.D(), cancel: cancel}
	w.timer = time.AfterFunc(w.timeout, func() { w.fired.Store(true); cancel() })
	return ctx, w
}

func (w *watchdog) kick() { w.timer.Reset(w.timeout) }

func (w *watchdog) stop() {
	w.timer.Stop()
	w.cancel()
}

// explain rewrites an error caused by the watchdog, or by a block missing
// while offline, into one that says what happened and what to do.
func (w *watchdog) explain(err error) error {
	if err == nil {
		return nil
	}
	if w.fired.Load() {
		if g, ok := w.n.store.(spaceGuard); ok {
			if why := g.Space().Refusing; why != nil {
				// Blocks may well have arrived and been dropped.
				return fmt.Errorf("%w (nothing that arrived could be stored for %s): %w", why, w.timeout, err)
			}
		}
		peers := 0
		if w.n.Host != nil {
			peers = len(w.n.Host.Network().Peers())
		}
		return fmt.Errorf("%w: no peer sent any block for %s (asked %d connected peers and the DHT; %d blocks had arrived). Is a node that has it online? On a slow link raise fetch.timeout: %w",
			api.ErrNotFound, w.timeout, peers, w.blocks.Load(), err)
	}
	if w.n.offline && ipld.IsNotFound(err) {
		return fmt.Errorf("%w: not stored in this repo; start the daemon (commons daemon) to fetch it from peers: %w", api.ErrOffline, err)
	}
	return err
}

// count records a block that arrived: it feeds the watchdog and reports
// progress.
func (w *watchdog) count(size int, progress func(api.Progress)) {
	w.kick()
	nb := w.blocks.Add(1)
	nby := w.bytes.Add(int64(size))
	if progress != nil {
		progress(api.Progress{Phase: "fetch", Blocks: nb, Bytes: nby})
	}
}

// watchedGetter gets blocks through a session and feeds the watchdog.
type watchedGetter struct {
	bs       blockservice.BlockGetter
	wd       *watchdog
	progress func(api.Progress)
}

func (g *watchedGetter) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	b, err := g.bs.GetBlock(ctx, c)
	if err != nil {
		return nil, err
	}
	g.wd.count(len(b.RawData()), g.progress)
	return b, nil
}

// watchedNodes is a NodeGetter that feeds the watchdog.
type watchedNodes struct {
	ng       ipld.NodeGetter
	wd       *watchdog
	progress func(api.Progress)
}

func (g *watchedNodes) Get(ctx context.Context, c cid.Cid) (ipld.Node, error) {
	nd, err := g.ng.Get(ctx, c)
	if err != nil {
		return nil, err
	}
	g.wd.count(len(nd.RawData()), g.progress)
	return nd, nil
}

func (g *watchedNodes) GetMany(ctx context.Context, cs []cid.Cid) <-chan *ipld.NodeOption {
	out := make(chan *ipld.NodeOption, len(cs))
	go func() {
		defer close(out)
		for no := range g.ng.GetMany(ctx, cs) {
			if no.Err == nil {
				g.wd.count(len(no.Node.RawData()), g.progress)
			}
			out <- no
		}
	}()
	return out
}

// watchedReader is a file being read; each read that returns data feeds the
// watchdog, and Close releases it.
type watchedReader struct {
	files.File
	wd     *watchdog
	cancel context.CancelFunc
}

func (r *watchedReader) Read(p []byte) (int, error) {
	k, err := r.File.Read(p)
	if k > 0 {
		r.wd.kick()
	}
	if err != nil && err != io.EOF {
		err = r.wd.explain(err)
	}
	return k, err
}

func (r *watchedReader) Close() error {
	err := r.File.Close()
	r.wd.stop()
	r.cancel()
	return err
}

// blockAdder stores blocks through the block service, so that bitswap
// serves them at once to peers that were waiting for them.
type blockAdder struct{ bs blockservice.BlockService }

func (a blockAdder) PutMany(ctx context.Context, bl []blocks.Block) error {
	return a.bs.AddBlocks(ctx, bl)
}

// pinnedRoots lists the roots of recursive and direct pins.
func (n *Node) pinnedRoots(ctx context.Context) ([]cid.Cid, error) {
	pins, err := n.Pins(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]cid.Cid, 0, len(pins))
	for _, p := range pins {
		out = append(out, p.CID)
	}
	return out, nil
}

// isPinned reports whether c is pinned itself (not only under another
// pin); an error counts as not pinned.
func (n *Node) isPinned(ctx context.Context, c cid.Cid) bool {
	mode, pinned, err := n.Pinner.IsPinned(ctx, c)
	return err == nil && pinned && mode != "indirect"
}

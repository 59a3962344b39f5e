package node

import (
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/blockstore"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/boxo/ipns"
	pin "github.com/ipfs/boxo/pinning/pinner"
	blocks "github.com/ipfs/go-block-format"
	"github.com/ipfs/go-cid"
	ipld "github.com/ipfs/go-ipld-format"
	"github.com/libp2p/go-libp2p/core/crypto"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/pkg/bundle"
	"github.com/commons-p2p/commons/pkg/carfile"
	"github.com/commons-p2p/commons/pkg/library"
	"github.com/commons-p2p/commons/pkg/mirror"
	"github.com/commons-p2p/commons/pkg/sneakernet"
)

var _ api.SneakernetService = (*Node)(nil)

// maxMissingListed bounds the versions an export result lists as missing
// per library (all are counted).
const maxMissingListed = 100

// Have implements api.SneakernetService.
func (n *Node) Have(ctx context.Context) ([]byte, error) {
	members, err := n.closure(ctx)
	if err != nil {
		return nil, fmt.Errorf("have: %w", err)
	}
	id, _ := n.ID(ctx)
	h := sneakernet.Have{Schema: sneakernet.HaveSchema, Created: time.Now().UTC().Format(time.RFC3339), Node: id.PeerID, Libraries: []sneakernet.HaveLibrary{}}
	for _, mb := range members {
		key := mb.name.String()
		hl := sneakernet.HaveLibrary{Name: key, Policy: sneakernet.PolicyOf(mb.policy)}
		held := cid.NewSet()
		hs, err := n.mirrorState.Held(ctx, key)
		if err != nil {
			return nil, fmt.Errorf("have: library %s: %w", key, err)
		}
		for _, c := range hs {
			held.Add(c)
		}
		if known, ok, err := n.mirrorState.Known(ctx, key); err != nil {
			return nil, fmt.Errorf("have: library %s: %w", key, err)
		} else if ok {
			pub, _ := mb.name.Peer().ExtractPublicKey()
			// A record whose library root is not all here is not
			// claimed: the exporter then sends it again.
			if v, err := library.Load(ctx, n.localDAG, known.Root, pub); err == nil {
				root := known.Root
				hl.Sequence, hl.Root = known.Sequence, &root
				// Versions of the library pinned under another hold (the
				// user's, another library's) are held too: the mirror
				// would only add its hold.
				versions, _, _ := libraryVersions(ctx, v.Library(), mirror.Policy{Mode: mirror.All}, n.recordFrom(n.localDAG))
				for _, ver := range versions {
					if held.Has(ver.Root) {
						continue
					}
					if _, ok, err := n.Pinner.IsPinnedWithType(ctx, ver.Root, pin.Recursive); err == nil && ok {
						held.Add(ver.Root)
					}
				}
			}
		}
		hl.Versions = held.Keys()
		h.Libraries = append(h.Libraries, hl)
	}
	h.Sort()
	b, err := h.Encode()
	if err != nil {
		return nil, fmt.Errorf("have: %w", err)
	}
	return b, nil
}

// recordFrom reads versions from the bundle index, else by loading them
// from dag (never the network): for plans made from what is at hand.
func (n *Node) recordFrom(dag ipld.DAGService) recordFunc {
	return func(ctx context.Context, root cid.Cid, expect crypto.PubKey) (bundle.Record, error) {
		if r, ok, err := n.bundles.Get(ctx, root); err == nil && ok {
			return r, nil
		}
		b, err := bundle.Load(ctx, dag, root, bundle.LoadOptions{Publisher: expect})
		if err != nil {
			return bundle.Record{}, err
		}
		return bundle.RecordOf(b), nil
	}
}

// exportTarget is one library an export was asked for.
type exportTarget struct {
	name   ipns.Name
	policy mirror.Policy
	// What the receiver holds (from its have-file).
	seq     int64
	root    *cid.Cid
	holding *cid.Set
}

// exportLib is a library an export carries.
type exportLib struct {
	entry     sneakernet.ManifestLibrary
	structure []cid.Cid
}

// ExportLibraries implements api.SneakernetService.
func (n *Node) ExportLibraries(ctx context.Context, opts api.LibraryExportOptions, w io.Writer, progress func(api.Progress)) (api.LibraryExportResult, error) {
	fail := func(err error) (api.LibraryExportResult, error) {
		return api.LibraryExportResult{}, fmt.Errorf("export libraries: %w", err)
	}
	targets, err := n.exportTargets(ctx, opts)
	if err != nil {
		return fail(err)
	}
	// No gc while the plan is made and the blocks are read.
	defer n.Blockstore.PinLock(ctx).Unlock(ctx)
	var res api.LibraryExportResult
	var libs []exportLib
	known := 0
	for _, t := range targets {
		info, lib, err := n.exportLibrary(ctx, t)
		if err != nil {
			return fail(err)
		}
		if info.Sequence > 0 {
			known++
		}
		res.Libraries = append(res.Libraries, info)
		res.Missing += info.MissingCount
		if lib != nil {
			libs = append(libs, *lib)
		}
	}
	if known == 0 {
		return fail(fmt.Errorf("%w: this node neither publishes nor follows any of the %d libraries asked for (`commons library`, `commons mirror status`)", api.ErrNotFound, len(targets)))
	}

	// What the receiver holds: every block under the versions it holds
	// and its library roots' own blocks, as far as this node has them.
	exclude := cid.NewSet()
	for _, t := range targets {
		if t.holding != nil {
			for _, c := range t.holding.Keys() {
				if err := n.walkLocal(ctx, c, exclude, nil); err != nil {
					return fail(err)
				}
			}
		}
		if t.root != nil {
			exclude.Add(*t.root)
			pub, _ := t.name.Peer().ExtractPublicKey()
			if v, err := library.Load(ctx, n.localDAG, *t.root, pub); err == nil {
				if st, err := library.Structure(ctx, n.localDAG, v); err == nil {
					for _, c := range st {
						exclude.Add(c)
					}
				}
			}
		}
	}
	// What the CAR carries: the rest of the libraries' own blocks and of
	// the versions.
	include := cid.NewSet()
	var total int64
	count := func(c cid.Cid, size int) {
		if include.Visit(c) {
			total += int64(size)
		}
	}
	m := sneakernet.Manifest{Schema: sneakernet.ManifestSchema, Created: time.Now().UTC().Format(time.RFC3339), Libraries: []sneakernet.ManifestLibrary{}}
	if id, err := n.ID(ctx); err == nil {
		m.Node = id.PeerID
	}
	for _, l := range libs {
		for _, c := range l.structure {
			if !exclude.Has(c) {
				size, err := n.Blockstore.GetSize(ctx, c)
				if err != nil {
					return fail(fmt.Errorf("library %s: block %s: %w", l.entry.Name, c, err))
				}
				count(c, size)
			}
		}
		for _, v := range l.entry.Versions {
			if err := n.walkLocal(ctx, v, include, func(c cid.Cid, size int) bool {
				if exclude.Has(c) {
					return false
				}
				total += int64(size)
				return true
			}); err != nil {
				return fail(fmt.Errorf("library %s: version %s: %w", l.entry.Name, v, err))
			}
		}
		m.Libraries = append(m.Libraries, l.entry)
	}
	m.Sort()
	block, err := m.Encode()
	if err != nil {
		return fail(err)
	}
	mc := sneakernet.CID(block)
	mb, err := blocks.NewBlockWithCid(block, mc)
	if err != nil {
		return fail(err)
	}
	total += int64(len(block))
	getter := carfile.GetterFunc(func(ctx context.Context, c cid.Cid) (blocks.Block, error) {
		if c.Equals(mc) {
			return mb, nil
		}
		return n.Blockstore.Get(ctx, c)
	})
	eo := carfile.ExportOptions{
		Skip: func(c cid.Cid) bool { return !include.Has(c) },
		Progress: func(b, by int64) {
			res.Blocks, res.Bytes = b, by
			if progress != nil {
				progress(api.Progress{Phase: "export", Blocks: b, Bytes: by, TotalBytes: total})
			}
		},
	}
	if err := carfile.Export(ctx, getter, []cid.Cid{mc}, w, eo); err != nil {
		return fail(err)
	}
	res.Manifest = mc
	return res, nil
}

// exportTargets lists the libraries an export is for: the have-file's,
// with what the receiver holds of each, or for a full export the named
// ones (else every library this node publishes or follows); and, as the
// receiver's mirror will follow them, the libraries these include.
func (n *Node) exportTargets(ctx context.Context, opts api.LibraryExportOptions) ([]exportTarget, error) {
	targets, receiver, err := n.askedTargets(ctx, opts)
	if err != nil {
		return nil, err
	}
	return n.withIncludes(ctx, targets, receiver, opts.Policy != nil)
}

// withIncludes adds to targets, transitively, the libraries they include
// as this node's records of them say, leaving out the receiver's own
// library. An included library gets its includer's policy, as the
// receiver's mirror gives it; in a full export without a policy asked
// for, one this node follows keeps this node's policy.
func (n *Node) withIncludes(ctx context.Context, targets []exportTarget, receiver string, fixedPolicy bool) ([]exportTarget, error) {
	in := map[string]bool{}
	for _, t := range targets {
		in[t.name.String()] = true
	}
	for i := 0; i < len(targets); i++ {
		v, _, err := n.heldLibrary(ctx, targets[i].name)
		if err != nil {
			return nil, err
		}
		if v == nil {
			continue
		}
		for _, inc := range v.Library().Includes {
			name, err := library.ParseName(inc)
			if err != nil || in[name.String()] || (receiver != "" && name.Peer().String() == receiver) {
				continue
			}
			in[name.String()] = true
			t := exportTarget{name: name, policy: targets[i].policy}
			if !fixedPolicy {
				if p, ok := n.followPolicy(ctx, name); ok && targets[i].holding == nil {
					t.policy = p
				}
			}
			targets = append(targets, t)
		}
	}
	return targets, nil
}

// followPolicy returns the policy this node follows name with, if it does.
func (n *Node) followPolicy(ctx context.Context, name ipns.Name) (mirror.Policy, bool) {
	members, err := n.closure(ctx)
	if err != nil {
		return mirror.Policy{}, false
	}
	for _, mb := range members {
		if mb.name.Equal(name) {
			return mb.policy, true
		}
	}
	return mirror.Policy{}, false
}

// askedTargets lists the libraries asked for, and the receiver's peer ID
// (from the have-file) if known.
func (n *Node) askedTargets(ctx context.Context, opts api.LibraryExportOptions) ([]exportTarget, string, error) {
	if opts.Have != nil {
		if len(opts.Libraries) > 0 || opts.Policy != nil {
			return nil, "", fmt.Errorf("%w: a have-file says which libraries to export and what to keep of them: name no libraries and no policy with it", api.ErrInvalid)
		}
		h, err := sneakernet.DecodeHave(opts.Have)
		if err != nil {
			return nil, "", fmt.Errorf("%w: %w", api.ErrInvalid, err)
		}
		var out []exportTarget
		for _, hl := range h.Libraries {
			name, err := library.ParseName(hl.Name)
			if err != nil {
				return nil, "", fmt.Errorf("%w: have-file: %w", api.ErrInvalid, err)
			}
			t := exportTarget{name: name, policy: hl.Policy.Mirror(), seq: hl.Sequence, root: hl.Root, holding: cid.NewSet()}
			for _, c := range hl.Versions {
				t.holding.Add(c)
			}
			out = append(out, t)
		}
		if len(out) == 0 {
			return nil, "", fmt.Errorf("%w: the have-file lists no library: its node follows none (`commons follow`)", api.ErrInvalid)
		}
		return out, h.Node, nil
	}
	var policy *mirror.Policy
	if opts.Policy != nil {
		p := toPolicy(*opts.Policy)
		if err := p.Validate(); err != nil {
			return nil, "", fmt.Errorf("%w: %w", api.ErrInvalid, err)
		}
		policy = &p
	}
	members, err := n.closure(ctx)
	if err != nil {
		return nil, "", err
	}
	own, ownErr := n.libraryName()
	policyOf := func(name ipns.Name) mirror.Policy {
		if policy != nil {
			return *policy
		}
		for _, mb := range members {
			if mb.name.Equal(name) {
				return mb.policy
			}
		}
		return mirror.Policy{Mode: mirror.All}
	}
	var out []exportTarget
	if len(opts.Libraries) > 0 {
		seen := map[string]bool{}
		for _, s := range opts.Libraries {
			name, err := library.ParseName(s)
			if err != nil {
				return nil, "", fmt.Errorf("%w: %w", api.ErrInvalid, err)
			}
			if !seen[name.String()] {
				seen[name.String()] = true
				out = append(out, exportTarget{name: name, policy: policyOf(name)})
			}
		}
		return out, "", nil
	}
	if ownErr == nil {
		if _, ok, err := n.ownLibraryState(ctx); err == nil && ok {
			out = append(out, exportTarget{name: own, policy: policyOf(own)})
		}
	}
	for _, mb := range members {
		out = append(out, exportTarget{name: mb.name, policy: policyOf(mb.name)})
	}
	if len(out) == 0 {
		return nil, "", fmt.Errorf("%w: this node publishes no library and follows none", api.ErrNotFound)
	}
	return out, "", nil
}

// exportLibrary plans one library of an export: what t's policy keeps of
// this node's newest record of it, less what the receiver holds, less what
// this node does not hold completely (listed as missing). lib is nil when
// the CAR does not carry the library (info.Reason says why).
func (n *Node) exportLibrary(ctx context.Context, t exportTarget) (api.ExportedLibrary, *exportLib, error) {
	key := t.name.String()
	info := api.ExportedLibrary{Name: key, Policy: fromPolicy(t.policy)}
	v, record, err := n.heldLibrary(ctx, t.name)
	if err != nil {
		return info, nil, err
	}
	if v == nil {
		info.Reason = "this node neither publishes nor follows it"
		return info, nil, nil
	}
	l := v.Library()
	info.Title, info.Sequence = l.Title, l.Sequence
	if t.seq > l.Sequence {
		info.Reason = fmt.Sprintf("the receiver holds a newer record (%d; this node has %d)", t.seq, l.Sequence)
		return info, nil, nil
	}
	versions, _, errs := libraryVersions(ctx, l, t.policy, n.recordFrom(n.localDAG))
	missing := func(mv api.MissingVersion) {
		info.MissingCount++
		if len(info.Missing) < maxMissingListed {
			info.Missing = append(info.Missing, mv)
		}
	}
	for _, err := range errs {
		missing(api.MissingVersion{Reason: err.Error()})
	}
	keep, _ := mirror.Plan(t.policy, versions)
	var carry []cid.Cid
	for _, kv := range keep {
		if t.holding != nil && t.holding.Has(kv.Root) {
			info.Held++
			continue
		}
		if err := n.completeHere(ctx, kv.Root); err != nil {
			if ctx.Err() != nil {
				return info, nil, ctx.Err()
			}
			missing(api.MissingVersion{Bundle: kv.Bundle, Sequence: kv.Sequence, Root: kv.Root, Reason: err.Error()})
			continue
		}
		carry = append(carry, kv.Root)
	}
	info.Versions = len(carry)
	if l.Sequence == t.seq && len(carry) == 0 {
		info.Reason = "the receiver lacks nothing of it"
		return info, nil, nil
	}
	structure, err := library.Structure(ctx, n.localDAG, v)
	if err != nil {
		return info, nil, fmt.Errorf("library %s: %w", key, err)
	}
	info.Included = true
	return info, &exportLib{
		entry:     sneakernet.ManifestLibrary{Name: key, Sequence: l.Sequence, Root: v.Root, Record: record, Versions: carry},
		structure: structure,
	}, nil
}

// heldLibrary returns this node's newest verified library of name and its
// IPNS record: its own, or a followed one's; nil if it has none.
func (n *Node) heldLibrary(ctx context.Context, name ipns.Name) (*library.Version, []byte, error) {
	pub, err := name.Peer().ExtractPublicKey()
	if err != nil {
		return nil, nil, fmt.Errorf("library %s: %w", name, err)
	}
	var root cid.Cid
	var record []byte
	if own, err := n.libraryName(); err == nil && own.Equal(name) {
		o, ok, err := n.ownLibraryState(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("library %s: %w", name, err)
		}
		if !ok || len(o.Record) == 0 {
			return nil, nil, nil
		}
		root, record = o.Root, o.Record
	} else {
		k, ok, err := n.mirrorState.Known(ctx, name.String())
		if err != nil {
			return nil, nil, fmt.Errorf("library %s: %w", name, err)
		}
		if !ok {
			return nil, nil, nil
		}
		root, record = k.Root, k.Record
	}
	v, err := library.Load(ctx, n.localDAG, root, pub)
	if err != nil {
		return nil, nil, fmt.Errorf("library %s: the record kept here does not load: %w", name, err)
	}
	return v, record, nil
}

// completeHere checks that every block under root is stored: a recursive
// pin is complete (verify checks that); anything else is walked.
func (n *Node) completeHere(ctx context.Context, root cid.Cid) error {
	if _, ok, err := n.Pinner.IsPinnedWithType(ctx, root, pin.Recursive); err == nil && ok {
		return nil
	}
	missing := 0
	err := walkDAG(ctx, root, cid.NewSet(), func(ctx context.Context, c cid.Cid) ([]byte, bool, error) {
		if c.Type() == cid.Raw {
			ok, err := n.Blockstore.Has(ctx, c)
			if err == nil && !ok {
				missing++
			}
			return nil, ok, err
		}
		b, err := n.Blockstore.Get(ctx, c)
		if ipld.IsNotFound(err) {
			missing++
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		return b.RawData(), true, nil
	}, nil)
	if err != nil {
		return err
	}
	if missing > 0 {
		return fmt.Errorf("not stored completely here (%d blocks missing): mirror it first", missing)
	}
	return nil
}

// walkLocal adds to set every block of the DAG under root that is stored
// here, skipping what is missing. keep, if set, is asked about each block
// first with its size: false leaves it (and what is under it) out.
func (n *Node) walkLocal(ctx context.Context, root cid.Cid, set *cid.Set, keep func(c cid.Cid, size int) bool) error {
	return walkDAG(ctx, root, set, func(ctx context.Context, c cid.Cid) ([]byte, bool, error) {
		if c.Type() == cid.Raw {
			size, err := n.Blockstore.GetSize(ctx, c)
			if ipld.IsNotFound(err) {
				return nil, false, nil
			}
			if err != nil {
				return nil, false, err
			}
			if keep != nil && !keep(c, size) {
				return nil, false, nil
			}
			return nil, true, nil
		}
		b, err := n.Blockstore.Get(ctx, c)
		if ipld.IsNotFound(err) {
			return nil, false, nil
		}
		if err != nil {
			return nil, false, err
		}
		if keep != nil && !keep(c, len(b.RawData())) {
			return nil, false, nil
		}
		return b.RawData(), true, nil
	}, nil)
}

// walkDAG visits the DAG under root depth first, each block once (set
// remembers them). get returns a block's bytes (nil for a raw block, which
// has no links and need not be read) and whether to visit it: a block it
// declines is not added to set and not descended into. visited, if set,
// is called for each block added.
func walkDAG(ctx context.Context, root cid.Cid, set *cid.Set, get func(context.Context, cid.Cid) ([]byte, bool, error), visited func(cid.Cid)) error {
	stack := []cid.Cid{root}
	for len(stack) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if set.Has(c) {
			continue
		}
		data, ok, err := get(ctx, c)
		if err != nil {
			return err
		}
		if !ok {
			continue
		}
		set.Add(c)
		if visited != nil {
			visited(c)
		}
		if data == nil {
			continue
		}
		links, err := carfile.Links(c, data)
		if err != nil {
			return fmt.Errorf("block %s: %w", c, err)
		}
		for _, l := range slices.Backward(links) {
			if !set.Has(l) {
				stack = append(stack, l)
			}
		}
	}
	return nil
}

// ImportCAR implements api.SneakernetService.
func (n *Node) ImportCAR(ctx context.Context, r io.Reader, opts api.ImportOptions, progress func(api.Progress)) (api.ImportResult, error) {
	r, export, err := peekExport(r)
	if err != nil {
		return api.ImportResult{}, fmt.Errorf("import: %w", err)
	}
	if !export {
		return n.importPlain(ctx, r, progress)
	}
	return n.importExport(ctx, r, opts, progress)
}

// Import implements api.Service: a plain CAR, or an export CAR imported
// with no options.
func (n *Node) Import(ctx context.Context, r io.Reader, progress func(api.Progress)) (api.ImportResult, error) {
	return n.ImportCAR(ctx, r, api.ImportOptions{}, progress)
}

// peekExport reads the start of the CAR in r and reports whether its
// first block is an export manifest; the reader returned yields all of r
// as it was. A manifest that is not the CAR's only root is refused.
func peekExport(r io.Reader) (io.Reader, bool, error) {
	var roots []cid.Cid
	var first blocks.Block
	var err error
	if rs, ok := r.(io.ReadSeeker); ok {
		if pos, serr := rs.Seek(0, io.SeekCurrent); serr == nil {
			roots, first, _, err = carfile.Peek(rs, 0)
			if _, serr := rs.Seek(pos, io.SeekStart); serr != nil {
				return nil, false, serr
			}
			return checkPeek(rs, roots, first, err)
		}
	}
	roots, first, rest, err := carfile.Peek(r, 0)
	return checkPeek(rest, roots, first, err)
}

func checkPeek(r io.Reader, roots []cid.Cid, first blocks.Block, err error) (io.Reader, bool, error) {
	if err != nil || first == nil || !sneakernet.IsManifest(first.Cid(), first.RawData()) {
		return r, false, nil // a plain CAR, or one the plain import reports on
	}
	if len(roots) != 1 || !roots[0].Equals(first.Cid()) {
		return nil, false, fmt.Errorf("%w: the CAR starts with an export manifest that is not its only root: an export CAR has its manifest as its only root and first block", api.ErrInvalid)
	}
	return r, true, nil
}

// importLib is one library of an export CAR while it is imported.
type importLib struct {
	ml     sneakernet.ManifestLibrary
	name   ipns.Name
	info   api.ImportedLibrary
	v      *library.Version // the CAR's, verified
	take   bool             // its record is newer than the one held
	follow bool             // ImportOptions.Follow follows it
	// structure lists the library root's own blocks (the CAR's).
	structure []cid.Cid
	// Versions: verified ones to pin; pinned ones to hold.
	pins  []*bundle.Bundle
	holds []cid.Cid
}

// importExport imports an export CAR: see api.SneakernetService.ImportCAR.
// Every check is made against the CAR and the local store before anything
// is written.
func (n *Node) importExport(ctx context.Context, r io.Reader, opts api.ImportOptions, progress func(api.Progress)) (api.ImportResult, error) {
	refuse := func(err error) (api.ImportResult, error) {
		switch {
		case ctx.Err() != nil:
			return api.ImportResult{}, fmt.Errorf("import: %w", ctx.Err())
		case api.IsNoSpace(err):
			// The spool file's disk, not the CAR, is at fault.
			return api.ImportResult{}, fmt.Errorf("import: %w", err)
		}
		return api.ImportResult{}, fmt.Errorf("import: %w: %w", api.ErrInvalid, err)
	}
	report := func(phase string, blocks, bytes, total int64) {
		if progress != nil {
			progress(api.Progress{Phase: phase, Blocks: blocks, Bytes: bytes, TotalBytes: total})
		}
	}
	if opts.Follow {
		p := toPolicy(opts.Policy)
		if err := p.Validate(); err != nil {
			return refuse(err)
		}
		opts.Policy = fromPolicy(p)
	}
	// Records are taken one at a time (as offerRecord does, in the same
	// lock order), and no gc runs until the pins are made.
	if m := n.mirror; m != nil {
		m.offerMu.Lock()
		defer m.offerMu.Unlock()
	}
	defer n.Blockstore.PinLock(ctx).Unlock(ctx)

	ar, err := carfile.Open(ctx, r, carfile.ImportOptions{CheckProgress: func(s, b int64) { report("check", s, b, 0) }})
	if err != nil {
		return refuse(err)
	}
	defer ar.Close()
	x, err := n.checkExportCAR(ctx, ar, opts, report)
	if err != nil {
		return refuse(err)
	}
	return n.applyExportCAR(ctx, x, opts, report)
}

// exportCAR is an export CAR checked completely, and what importing it
// does.
type exportCAR struct {
	ar       *carfile.Archive
	manifest cid.Cid
	libs     []*importLib
	// store holds the CAR's blocks to store: those of the records taken
	// and of the versions to pin, nothing else.
	store *cid.Set
}

// checkExportCAR makes every check of an export CAR and plans its import,
// writing nothing: see api.SneakernetService.ImportCAR.
func (n *Node) checkExportCAR(ctx context.Context, ar *carfile.Archive, opts api.ImportOptions, report func(phase string, blocks, bytes, total int64)) (*exportCAR, error) {
	mc := ar.Roots()[0]
	mblock, err := ar.Get(ctx, mc)
	if err != nil {
		return nil, err
	}
	man, err := sneakernet.DecodeManifest(mblock.RawData())
	if err != nil {
		return nil, err
	}
	dag := merkledag.NewDAGService(blockservice.New(&archiveStore{ar: ar, local: n.Blockstore}, nil))

	// The libraries: records, roots, what will be followed.
	libs := make([]*importLib, 0, len(man.Libraries))
	byName := map[string]*importLib{}
	for _, ml := range man.Libraries {
		il, err := n.checkExportLibrary(ctx, dag, ml)
		if err != nil {
			return nil, err
		}
		libs = append(libs, il)
		byName[ml.Name] = il
	}

	// Every block of the CAR must belong to a library root or version the
	// manifest lists, and every listed DAG must be complete (from the CAR
	// and the local store).
	seen := cid.NewSet()
	seen.Add(mc)
	var checked int64
	walk := func(root cid.Cid, visited, dst *cid.Set, what string) error {
		err := walkDAG(ctx, root, visited, func(ctx context.Context, c cid.Cid) ([]byte, bool, error) {
			data, err := n.importBlock(ctx, ar, c)
			if err != nil {
				return nil, false, err
			}
			if checked++; checked%256 == 0 {
				report("verify", checked, 0, 0)
			}
			return data, true, nil
		}, func(c cid.Cid) {
			if ar.Has(c) {
				dst.Add(c)
			}
		})
		if err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
		return nil
	}
	walked := cid.NewSet()
	for _, il := range libs {
		for _, c := range il.structure {
			if ar.Has(c) {
				seen.Add(c)
			}
		}
		for _, v := range il.ml.Versions {
			if err := walk(v, walked, seen, fmt.Sprintf("library %s, version %s", il.ml.Name, v)); err != nil {
				return nil, err
			}
		}
	}
	for _, c := range ar.Keys() {
		if !seen.Has(c) {
			return nil, fmt.Errorf("block %s is not part of any library root or version the export manifest lists: a foreign CAR (made by something else than `commons export`, or added to)", c)
		}
	}

	// What this node will follow, and what each policy keeps.
	members, err := n.importClosure(ctx, libs, byName, opts)
	if err != nil {
		return nil, err
	}
	own, _ := n.libraryName()
	for _, il := range libs {
		mb := members[il.ml.Name]
		switch {
		case il.name.Equal(own):
			il.info.Skipped = "this node publishes it"
		case mb == nil:
			il.info.Skipped = fmt.Sprintf("not followed: import again with --follow, or `commons follow %s` first", il.ml.Name)
		}
		if il.info.Skipped != "" {
			il.info.Record, il.take = "skipped", false
			continue
		}
		if err := n.planImport(ctx, dag, il, mb); err != nil {
			return nil, err
		}
	}

	// What is stored: the blocks of the records taken and of the versions
	// pinned, nothing else.
	store, stored := cid.NewSet(), cid.NewSet()
	for _, il := range libs {
		if il.take {
			for _, c := range il.structure {
				if ar.Has(c) {
					store.Add(c)
				}
			}
		}
		for _, b := range il.pins {
			if err := walk(b.Root, stored, store, fmt.Sprintf("library %s, version %s", il.ml.Name, b.Root)); err != nil {
				return nil, err
			}
		}
	}
	return &exportCAR{ar: ar, manifest: mc, libs: libs, store: store}, nil
}

// applyExportCAR imports a checked export CAR: it stores the blocks (one
// commit point), then follows, takes the records and pins, as the mirror
// would. The caller holds the locks importExport takes.
func (n *Node) applyExportCAR(ctx context.Context, x *exportCAR, opts api.ImportOptions, report func(phase string, blocks, bytes, total int64)) (api.ImportResult, error) {
	ar, store, libs := x.ar, x.store, x.libs
	res := api.ImportResult{Roots: ar.Roots(), Manifest: x.manifest}
	var total int64
	for _, c := range store.Keys() {
		if size, ok := ar.Size(c); ok {
			total += int64(size)
		}
	}
	// Everything is checked and nothing written yet: a CAR the disk
	// cannot take is refused here, changing nothing.
	if total > 0 {
		if err := n.checkSpace(total); err != nil {
			return api.ImportResult{}, fmt.Errorf("import: %w", err)
		}
	}
	var batch []blocks.Block
	var batchBytes int64
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		if err := n.Blocks.AddBlocks(ctx, batch); err != nil {
			return fmt.Errorf("store %d blocks: %w", len(batch), err)
		}
		res.Blocks += int64(len(batch))
		res.Bytes += batchBytes
		report("store", res.Blocks, res.Bytes, total)
		batch, batchBytes = batch[:0], 0
		return nil
	}
	for _, c := range ar.Keys() {
		if !store.Has(c) {
			continue
		}
		b, err := ar.Get(ctx, c)
		if err != nil {
			return api.ImportResult{}, fmt.Errorf("import: %w: %w", api.ErrInvalid, err)
		}
		batch = append(batch, b)
		batchBytes += int64(len(b.RawData()))
		if len(batch) >= 256 || batchBytes >= 8<<20 {
			if err := flush(); err != nil {
				return api.ImportResult{}, fmt.Errorf("import: %w", err)
			}
		}
	}
	if err := flush(); err != nil {
		return api.ImportResult{}, fmt.Errorf("import: %w", err)
	}
	if err := n.store.Sync(ctx); err != nil {
		return api.ImportResult{}, fmt.Errorf("import: %w", err)
	}
	for _, il := range libs {
		if il.info.Skipped != "" {
			res.Libraries = append(res.Libraries, il.info)
			continue
		}
		if il.follow {
			if _, err := n.mirrorState.Follow(ctx, il.ml.Name, toPolicy(opts.Policy)); err != nil {
				return res, fmt.Errorf("import: follow %s: %w", il.ml.Name, err)
			}
			il.info.Followed = true
		}
		if il.take {
			err := n.takeRecord(ctx, il.name, il.ml.Record, "import", true)
			switch {
			case errors.Is(err, mirror.ErrStale):
				il.info.Record = "older"
			case err != nil:
				return res, fmt.Errorf("import: library %s: %w", il.ml.Name, err)
			}
		}
		for _, c := range il.holds {
			if err := n.holdPinned(ctx, c, il.ml.Name, pin.Recursive, ""); err != nil {
				return res, fmt.Errorf("import: library %s: hold %s: %w", il.ml.Name, c, err)
			}
		}
		for _, b := range il.pins {
			if err := n.pinVersion(ctx, il.ml.Name, b); err != nil {
				return res, fmt.Errorf("import: library %s: %w", il.ml.Name, err)
			}
			il.info.Pinned = append(il.info.Pinned, b.Root)
		}
		res.Libraries = append(res.Libraries, il.info)
	}
	if err := n.Pinner.Flush(ctx); err != nil {
		return res, fmt.Errorf("import: %w", err)
	}
	if err := n.store.Sync(ctx); err != nil {
		return res, fmt.Errorf("import: %w", err)
	}
	if n.mirror != nil {
		n.mirror.poke()
	}
	return res, nil
}

// checkExportLibrary verifies one library of an export manifest: its IPNS
// record is the name's, it points at the root the manifest names, that
// root is a library signed by the name's key at the manifest's sequence,
// and its own blocks are all at hand (CAR or local store).
func (n *Node) checkExportLibrary(ctx context.Context, dag ipld.DAGService, ml sneakernet.ManifestLibrary) (*importLib, error) {
	name, err := library.ParseName(ml.Name)
	if err != nil {
		return nil, err
	}
	rec, err := library.CheckRecord(name, ml.Record)
	if err != nil {
		return nil, fmt.Errorf("library %s: its IPNS record is not the name's: %w", ml.Name, err)
	}
	if !rec.Root.Equals(ml.Root) {
		return nil, fmt.Errorf("library %s: the manifest names root %s, its record points at %s", ml.Name, ml.Root, rec.Root)
	}
	pub, err := name.Peer().ExtractPublicKey()
	if err != nil {
		return nil, fmt.Errorf("library %s: %w", ml.Name, err)
	}
	v, err := library.Load(ctx, dag, rec.Root, pub)
	if err != nil {
		return nil, fmt.Errorf("library %s: %w", ml.Name, missingBlock(err))
	}
	l := v.Library()
	if l.Sequence != ml.Sequence {
		return nil, fmt.Errorf("library %s: the manifest says record %d, the library root is record %d", ml.Name, ml.Sequence, l.Sequence)
	}
	structure, err := library.Structure(ctx, dag, v)
	if err != nil {
		return nil, fmt.Errorf("library %s: %w", ml.Name, missingBlock(err))
	}
	il := &importLib{ml: ml, name: name, v: v, structure: structure,
		info: api.ImportedLibrary{Name: ml.Name, Title: l.Title, Sequence: l.Sequence}}
	known, ok, err := n.mirrorState.Known(ctx, ml.Name)
	if err != nil {
		return nil, err
	}
	switch {
	case !ok || l.Sequence > known.Sequence:
		il.info.Record, il.take = "taken", true
	case known.Root.Equals(rec.Root):
		il.info.Record = "same"
	default:
		il.info.Record = "older"
	}
	return il, nil
}

// importClosure works out what this node will follow once the import's
// records are taken (and, with opts.Follow, its libraries followed): the
// closure of the follows with each library's includes read from the
// newer of the CAR's record and the one held.
func (n *Node) importClosure(ctx context.Context, libs []*importLib, byName map[string]*importLib, opts api.ImportOptions) (map[string]*member, error) {
	follows, err := n.mirrorState.Follows(ctx)
	if err != nil {
		return nil, err
	}
	includes := func(name string) ([]string, error) {
		if il, ok := byName[name]; ok && il.take {
			return il.v.Library().Includes, nil
		}
		k, ok, err := n.mirrorState.Known(ctx, name)
		if err != nil || !ok {
			return nil, err
		}
		return k.Includes, nil
	}
	members, err := n.closureOf(follows, includes)
	if err != nil {
		return nil, err
	}
	in := map[string]*member{}
	for _, mb := range members {
		in[mb.name.String()] = mb
	}
	if !opts.Follow {
		return in, nil
	}
	own, _ := n.libraryName()
	added := false
	for _, il := range libs {
		if in[il.ml.Name] == nil && !il.name.Equal(own) {
			follows = append(follows, mirror.Follow{Name: il.ml.Name, Policy: toPolicy(opts.Policy)})
			il.follow, added = true, true
		}
	}
	if !added {
		return in, nil
	}
	if members, err = n.closureOf(follows, includes); err != nil {
		return nil, err
	}
	in = map[string]*member{}
	for _, mb := range members {
		in[mb.name.String()] = mb
	}
	return in, nil
}

// planImport works out what an imported library's policy keeps (of the
// newer of the CAR's library and the one held) and checks the CAR's
// versions: each must be a version of the library (in its chains, or
// signed by its bundle's publisher under an earlier sequence) and load
// and verify; those the policy keeps are to be pinned, if they pass the
// mirror's licence checks.
func (n *Node) planImport(ctx context.Context, dag ipld.DAGService, il *importLib, mb *member) error {
	key := il.ml.Name
	record := n.recordFrom(dag)
	lib := il.v
	if il.info.Record == "older" {
		known, _, err := n.mirrorState.Known(ctx, key)
		if err != nil {
			return err
		}
		pub, _ := il.name.Peer().ExtractPublicKey()
		if v, err := library.Load(ctx, dag, known.Root, pub); err == nil {
			lib = v
		}
	}
	// Which versions belong to the library, as the CAR's record says.
	all, expect, _ := libraryVersions(ctx, il.v.Library(), mirror.Policy{Mode: mirror.All}, record)
	belongs := map[cid.Cid]bool{}
	for _, v := range all {
		belongs[v.Root] = true
	}
	carried := map[cid.Cid]*bundle.Bundle{}
	for _, root := range il.ml.Versions {
		b, err := n.checkCarried(ctx, dag, il, root, belongs[root], expect[root], record)
		if err != nil {
			return fmt.Errorf("library %s: version %s: %w", key, root, err)
		}
		carried[root] = b
	}
	// What the policy keeps.
	versions, _, _ := libraryVersions(ctx, lib.Library(), mb.policy, record)
	keep, _ := mirror.Plan(mb.policy, versions)
	held := cid.NewSet()
	hs, err := n.mirrorState.Held(ctx, key)
	if err != nil {
		return err
	}
	for _, c := range hs {
		held.Add(c)
	}
	kept := cid.NewSet()
	for _, kv := range keep {
		kept.Add(kv.Root)
		switch b, inCAR := carried[kv.Root]; {
		case held.Has(kv.Root):
			il.info.Held++
		case n.pinnedRecursive(ctx, kv.Root):
			il.holds = append(il.holds, kv.Root)
			il.info.Held++
		case inCAR:
			err := n.mirrorable(b)
			switch {
			case errors.Is(err, errNotOpen):
				il.info.Refused = append(il.info.Refused, err.Error())
			case err != nil:
				return fmt.Errorf("library %s: %w", key, err)
			default:
				il.pins = append(il.pins, b)
			}
		default:
			il.info.Missing++
		}
	}
	for root := range carried {
		if !kept.Has(root) {
			il.info.Unwanted++
		}
	}
	return nil
}

// checkCarried loads a version an export CAR carries for il and checks it
// belongs to il's library: listed in its chains (belongs, to be signed by
// expect), or else signed, under an earlier sequence, by the publisher of
// the library's bundle of its name (a version past a gap in the chain).
func (n *Node) checkCarried(ctx context.Context, dag ipld.DAGService, il *importLib, root cid.Cid, belongs bool, expect crypto.PubKey, record recordFunc) (*bundle.Bundle, error) {
	if belongs {
		b, err := bundle.Load(ctx, dag, root, bundle.LoadOptions{Publisher: expect})
		if err != nil {
			return nil, err
		}
		return b, nil
	}
	b, err := bundle.Load(ctx, dag, root, bundle.LoadOptions{})
	if err != nil {
		return nil, err
	}
	mf := b.Manifest()
	e, ok := il.v.Library().Entry(mf.Name)
	if !ok || mf.Sequence >= e.Sequence {
		return nil, fmt.Errorf("%s is not a version of library %s (which lists no earlier version of %q)", b, il.ml.Name, mf.Name)
	}
	publisher := il.v.Library().Publisher
	if head, err := record(ctx, e.Root, nil); err == nil {
		pub, err := publicKeyOf(head.Publisher)
		if err != nil {
			return nil, err
		}
		if publisher, err = crypto.MarshalPublicKey(pub); err != nil {
			return nil, err
		}
	}
	pub, err := crypto.UnmarshalPublicKey(publisher)
	if err != nil {
		return nil, err
	}
	if got, err := mf.PublisherKey(); err != nil || !got.Equals(pub) {
		return nil, fmt.Errorf("%s is not a version of library %s: %q there is published by another key", b, il.ml.Name, mf.Name)
	}
	return b, nil
}

func (n *Node) pinnedRecursive(ctx context.Context, c cid.Cid) bool {
	_, ok, err := n.Pinner.IsPinnedWithType(ctx, c, pin.Recursive)
	return err == nil && ok
}

// importBlock returns the bytes of c from the CAR, else from the local
// store (nil for a raw block, which has no links: it need only be there).
// A block in neither is an error: the CAR is incomplete.
func (n *Node) importBlock(ctx context.Context, ar *carfile.Archive, c cid.Cid) ([]byte, error) {
	if ar.Has(c) {
		if c.Type() == cid.Raw {
			return nil, nil
		}
		b, err := ar.Get(ctx, c)
		if err != nil {
			return nil, err
		}
		return b.RawData(), nil
	}
	if c.Type() == cid.Raw {
		ok, err := n.Blockstore.Has(ctx, c)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, incomplete(c)
		}
		return nil, nil
	}
	b, err := n.Blockstore.Get(ctx, c)
	if ipld.IsNotFound(err) {
		return nil, incomplete(c)
	}
	if err != nil {
		return nil, err
	}
	return b.RawData(), nil
}

// missingBlock says plainly that a block missing while a library root was
// read makes the export incomplete.
func missingBlock(err error) error {
	var nf ipld.ErrNotFound
	if errors.As(err, &nf) {
		return incomplete(nf.Cid)
	}
	return err
}

func incomplete(c cid.Cid) error {
	return &carfile.Error{Err: carfile.ErrIncomplete, Cid: c, Offset: -1,
		Msg: fmt.Sprintf("block %s is neither in the file nor stored here: the export is incomplete (cut short, or made for another node's have-file)", c)}
}

// archiveStore reads blocks from an export CAR, else from the local store;
// it writes nothing. Through it the import verifies libraries and versions
// before any block is stored.
type archiveStore struct {
	ar    *carfile.Archive
	local blockstore.Blockstore
}

var _ blockstore.Blockstore = (*archiveStore)(nil)

var errReadOnly = errors.New("the import's view of the CAR is read-only")

func (s *archiveStore) Has(ctx context.Context, c cid.Cid) (bool, error) {
	if s.ar.Has(c) {
		return true, nil
	}
	return s.local.Has(ctx, c)
}

func (s *archiveStore) Get(ctx context.Context, c cid.Cid) (blocks.Block, error) {
	if s.ar.Has(c) {
		return s.ar.Get(ctx, c)
	}
	return s.local.Get(ctx, c)
}

func (s *archiveStore) GetSize(ctx context.Context, c cid.Cid) (int, error) {
	if size, ok := s.ar.Size(c); ok {
		return size, nil
	}
	return s.local.GetSize(ctx, c)
}

func (s *archiveStore) DeleteBlock(context.Context, cid.Cid) error          { return errReadOnly }
func (s *archiveStore) Put(context.Context, blocks.Block) error             { return errReadOnly }
func (s *archiveStore) PutMany(context.Context, []blocks.Block) error       { return errReadOnly }
func (s *archiveStore) HashOnRead(bool)                                     {}
func (s *archiveStore) AllKeysChan(context.Context) (<-chan cid.Cid, error) { return nil, errReadOnly }

package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"github.com/ipfs/boxo/files"
	"github.com/spf13/cobra"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/pkg/bundle"
	"github.com/commons-p2p/commons/pkg/folder"
	"github.com/commons-p2p/commons/pkg/metadata"
)

// publishFlags are the metadata flags of publish.
type publishFlags struct {
	meta                 metadata.Metadata
	tags, authors, deriv []string
	hidden, noInput      bool
}

func (f *publishFlags) register(cmd *cobra.Command) {
	fl := cmd.Flags()
	fl.StringVar(&f.meta.Name, "name", "", "bundle name (default: name in commons.toml, else the folder's name in lower case)")
	fl.StringVar(&f.meta.Title, "title", "", "title")
	fl.StringVar(&f.meta.Summary, "summary", "", "one-paragraph summary")
	fl.StringVar(&f.meta.Version, "version", "", "version label, free form (\"1.2\", \"2026-spring\")")
	fl.StringVar(&f.meta.Kind, "kind", "", "product-design, production-engineering, supply-chain, quality-control, training or operations-manual")
	fl.StringSliceVar(&f.tags, "tag", nil, "tag (repeat, or comma-separated)")
	fl.StringVar(&f.meta.Licenses.Hardware, "license-hardware", "", "SPDX licence of the hardware (e.g. CERN-OHL-S-2.0), or NONE")
	fl.StringVar(&f.meta.Licenses.Software, "license-software", "", "SPDX licence of the software (e.g. GPL-3.0-or-later), or NONE")
	fl.StringVar(&f.meta.Licenses.Documentation, "license-documentation", "", "SPDX licence of the documentation (e.g. CC-BY-SA-4.0), or NONE")
	fl.StringArrayVar(&f.authors, "author", nil, "author as \"Name <contact>\" (repeat for several)")
	fl.StringVar(&f.meta.BOM, "bom", "", "path of the bill of materials in the folder (default: BOM.csv, bom.md, ...)")
	fl.StringVar(&f.meta.Instructions, "instructions", "", "path of the build instructions in the folder (default: instructions.md, build.md, ..., README.md)")
	fl.StringArrayVar(&f.deriv, "derived-from", nil, "CID of a bundle version this one derives from (repeat for several)")
	fl.StringVarP(&f.meta.Message, "message", "m", "", "what changed in this version")
	fl.BoolVar(&f.hidden, "hidden", false, "include files and folders whose names start with '.'")
	fl.BoolVar(&f.noInput, "no-input", false, "never ask questions, even on a terminal")
}

// metadata returns the flags as metadata.
func (f *publishFlags) metadata() (metadata.Metadata, error) {
	m := f.meta
	m.Tags = f.tags
	m.DerivedFrom = f.deriv
	for _, s := range f.authors {
		au, err := metadata.ParseAuthor(s)
		if err != nil {
			return m, usageError{fmt.Errorf("--author: %w", err)}
		}
		m.Authors = append(m.Authors, au)
	}
	return m, nil
}

func (a *app) publishCommand() *cobra.Command {
	var f publishFlags
	cmd := &cobra.Command{
		Use:   "publish DIR",
		Short: "Publish a folder as a signed design bundle (a new version if the name exists)",
		Long: `Publish DIR as a design bundle: import its files (CIDv1, raw leaves, buzhash
chunking, so a new version shares every unchanged block with the old one),
write a manifest (name, title, kind, licences, authors, BOM, instructions,
parents, log), sign it with the publisher key, pin the bundle, make it
durable and announce it. The bundle's CID opens on any IPFS gateway:
/ipfs/<cid>/ shows the design's files, and /ipfs/<cid>/.commons/bundle.cbor
is the signed manifest (see docs/bundle.md).

Metadata comes from DIR/commons.toml, overridden by flags; a name published
before gets a new version whose parent is the previous one, and unset fields
are kept from it. On a terminal, what is still missing (title, licences) is
asked for and can be saved into commons.toml; elsewhere it is an error.

Licences: hardware, software and documentation each take an SPDX expression
(NONE for a part the design does not have). They must be open: OSI-approved
for software, open-hardware (CERN-OHL, TAPR-OHL, Solderpad...) or free
licences for hardware, free documentation licences (CC-BY, CC-BY-SA, CC0,
GFDL) for documentation. NonCommercial, NoDerivatives and proprietary
licences are refused unless publish.allow_non_open is set (private networks).

A BOM (BOM.csv, bom.md, ...) that does not parse is refused with its line and
column; a missing BOM or missing instructions is a warning.

Refused, with nothing pinned: symlinks pointing outside DIR, device files,
FIFOs and sockets, unreadable files, unsafe names. Names starting with '.'
are skipped unless --hidden. Use 'commons add' for a plain folder with no
manifest.`,
		Args: args(1, "one folder"),
		RunE: a.withService(func(ctx context.Context, svc api.Service, argv []string) error {
			dir := argv[0]
			flagMeta, err := f.metadata()
			if err != nil {
				return err
			}
			if err := a.completeMetadata(ctx, svc, dir, flagMeta, &flagMeta, f.noInput); err != nil {
				return err
			}
			fo := folder.DefaultOptions()
			fo.Hidden = f.hidden
			nd, totals, err := folder.Open(dir, fo)
			if err != nil {
				return fmt.Errorf("%w: %w", api.ErrInvalid, err)
			}
			pr := a.progress("import", totals.Bytes)
			res, err := svc.Publish(ctx, nd, api.PublishOptions{Name: folderName(dir), Meta: flagMeta}, pr.update)
			pr.done()
			if err != nil {
				return err
			}
			return a.printPublished(res, "published")
		}),
	}
	f.register(cmd)
	return cmd
}

func folderName(dir string) string {
	abs, _ := filepath.Abs(dir)
	return filepath.Base(abs)
}

// printPublished reports a new bundle version.
func (a *app) printPublished(res api.PublishResult, verb string) error {
	if a.jsonOut {
		return a.printJSON(res)
	}
	if a.quiet {
		fmt.Fprintln(a.stdout, res.CID)
		return nil
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(a.stderr, "warning: %s\n", w)
	}
	if res.Unchanged {
		fmt.Fprintf(a.stdout, "unchanged: %s version %d is the same folder and metadata\ncid      %s\n", res.Name, res.Sequence, res.CID)
		if res.GatewayURL != "" {
			fmt.Fprintf(a.stdout, "gateway  %s\n", res.GatewayURL)
		}
		return nil
	}
	fmt.Fprintf(a.stdout, "%s %s version %d\ncid      %s\n", verb, res.Name, res.Sequence, res.CID)
	if res.Parent.Defined() {
		fmt.Fprintf(a.stdout, "parent   %s\n", res.Parent)
	}
	fmt.Fprintf(a.stdout, "size     %s", humanBytes(res.Bytes))
	if res.Files > 0 {
		fmt.Fprintf(a.stdout, " in %d files", res.Files)
	}
	if res.Parent.Defined() {
		fmt.Fprintf(a.stdout, "\nnew      %s in %d blocks (what a mirror of the previous version fetches)\n", humanBytes(res.NewBytes), res.NewBlocks)
	} else {
		fmt.Fprintf(a.stdout, "\nstored   %s in %d blocks\n", humanBytes(res.NewBytes), res.NewBlocks)
	}
	if !res.Open {
		fmt.Fprintln(a.stdout, "licence  NOT OPEN SOURCE (allowed by publish.allow_non_open; marked non-open everywhere)")
	}
	if res.GatewayURL != "" {
		fmt.Fprintf(a.stdout, "gateway  %s\n", res.GatewayURL)
	} else {
		fmt.Fprintln(a.stdout, "(no daemon running: it will be announced when 'commons daemon' starts)")
	}
	return nil
}

// completeMetadata asks, on a terminal, for what a first version still
// lacks after commons.toml and the flags, and offers to save the answers
// into commons.toml. It changes nothing when not interactive: the node then
// refuses what is missing, with a message saying how to give it.
func (a *app) completeMetadata(ctx context.Context, svc api.Service, dir string, flags metadata.Metadata, out *metadata.Metadata, noInput bool) error {
	path := filepath.Join(dir, metadata.FileName)
	var file metadata.Metadata
	if data, err := os.ReadFile(path); err == nil {
		if file, err = metadata.Parse(data); err != nil {
			return fmt.Errorf("%w: %s: %w", api.ErrInvalid, dir, err)
		}
	}
	stdin, ok := a.stdin.(*os.File)
	if noInput || a.jsonOut || a.quiet || !ok || !isTerminal(stdin) || !isTerminal(a.stderr) {
		return nil
	}
	merged := file.Merge(flags)
	name := merged.Name
	if name == "" {
		name = bundle.NameFromFolder(folderName(dir))
	}
	if _, err := svc.Show(ctx, name); err == nil {
		return nil // a new version: unset fields come from the previous one
	}
	in := bufio.NewReader(stdin)
	ask := func(question, def string) (string, error) {
		if def != "" {
			fmt.Fprintf(a.stderr, "%s [%s]: ", question, def)
		} else {
			fmt.Fprintf(a.stderr, "%s: ", question)
		}
		line, err := in.ReadString('\n')
		if err != nil && line == "" {
			return "", fmt.Errorf("publish: no answer: %w", err)
		}
		if line = strings.TrimSpace(line); line == "" {
			return def, nil
		}
		return line, nil
	}
	asked := metadata.Metadata{}
	fmt.Fprintf(a.stderr, "publishing %q for the first time; a few things are missing (Ctrl-C to stop).\n", name)
	var err error
	if merged.Title == "" {
		if asked.Title, err = ask("title", ""); err != nil {
			return err
		}
	}
	for _, l := range []struct {
		have *string
		set  *string
		q    string
	}{
		{&merged.Licenses.Hardware, &asked.Licenses.Hardware, "hardware licence (SPDX, e.g. CERN-OHL-S-2.0; NONE if there is no hardware)"},
		{&merged.Licenses.Software, &asked.Licenses.Software, "software licence (SPDX, e.g. GPL-3.0-or-later; NONE if there is no software)"},
		{&merged.Licenses.Documentation, &asked.Licenses.Documentation, "documentation licence (SPDX, e.g. CC-BY-SA-4.0)"},
	} {
		if *l.have == "" {
			if *l.set, err = ask(l.q, ""); err != nil {
				return err
			}
		}
	}
	if len(merged.Authors) == 0 {
		s, err := ask("author, as Name <contact> (empty to skip)", "")
		if err != nil {
			return err
		}
		if s != "" {
			au, err := metadata.ParseAuthor(s)
			if err != nil {
				return fmt.Errorf("%w: %w", api.ErrInvalid, err)
			}
			asked.Authors = []metadata.Author{au}
		}
	}
	*out = flags.Merge(asked)
	if asked.Title == "" && asked.Licenses == (metadata.Licenses{}) && len(asked.Authors) == 0 {
		return nil
	}
	save, err := ask("save these answers in "+path+" (published with the design)? y/n", "y")
	if err != nil {
		return err
	}
	if strings.HasPrefix(strings.ToLower(save), "y") {
		saved := file.Merge(asked)
		data, err := metadata.Encode(saved)
		if err != nil {
			return err
		}
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return fmt.Errorf("publish: save %s: %w", path, err)
		}
		fmt.Fprintf(a.stderr, "saved %s\n", path)
	}
	return nil
}

func (a *app) addCommand() *cobra.Command {
	var name string
	var hidden bool
	cmd := &cobra.Command{
		Use:   "add PATH",
		Short: "Import a plain folder or file (no manifest), pin it and announce it",
		Long: `Import PATH as it is, with no manifest, signature or licence check, pin it
and announce it: the same CID as 'ipfs add -r --cid-version=1 --raw-leaves
--chunker=buzhash'. For designs use 'commons publish'.`,
		Args: args(1, "one folder or file"),
		RunE: a.withService(func(ctx context.Context, svc api.Service, argv []string) error {
			fo := folder.DefaultOptions()
			fo.Hidden = hidden
			nd, totals, err := folder.Open(argv[0], fo)
			if err != nil {
				return fmt.Errorf("%w: %w", api.ErrInvalid, err)
			}
			if name == "" {
				name = folderName(argv[0])
			}
			pr := a.progress("import", totals.Bytes)
			res, err := svc.Publish(ctx, nd, api.PublishOptions{Name: name, Plain: true}, pr.update)
			pr.done()
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(res)
			}
			if a.quiet {
				fmt.Fprintln(a.stdout, res.CID)
				return nil
			}
			fmt.Fprintf(a.stdout, "added %s\ncid      %s\nfiles    %d, %s\n", res.Name, res.CID, totals.Files, humanBytes(totals.Bytes))
			if res.GatewayURL != "" {
				fmt.Fprintf(a.stdout, "gateway  %s\n", res.GatewayURL)
			}
			return nil
		}),
	}
	cmd.Flags().StringVar(&name, "name", "", "pin name (default: the folder's name)")
	cmd.Flags().BoolVar(&hidden, "hidden", false, "include files and folders whose names start with '.'")
	return cmd
}

const refHelp = `A bundle is named by the CID of a version, an /ipfs/ path, or a bundle name
this node knows (its newest version; this node's own bundles first).`

func (a *app) showCommand() *cobra.Command {
	var dagJSON bool
	cmd := &cobra.Command{
		Use:   "show BUNDLE",
		Short: "Show a bundle version's verified manifest",
		Long: `Fetch (if needed) and verify a bundle version, and show its manifest.
--dag-json prints the stored manifest itself, as dag-json (see docs/bundle.md).

` + refHelp,
		Args: args(1, "one bundle"),
		RunE: a.withService(func(ctx context.Context, svc api.Service, argv []string) error {
			b, err := svc.Show(ctx, argv[0])
			if err != nil {
				return err
			}
			if dagJSON {
				return a.printManifest(ctx, svc, b)
			}
			if a.jsonOut {
				return a.printJSON(b)
			}
			if a.quiet {
				fmt.Fprintln(a.stdout, b.CID)
				return nil
			}
			open := "open source"
			if !b.Open {
				open = "NOT OPEN SOURCE"
			}
			w := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			fmt.Fprintf(w, "bundle\t%s version %d%s\n", b.Name, b.Sequence, map[bool]string{true: " (newest known)", false: ""}[b.Head])
			fmt.Fprintf(w, "title\t%s\n", b.Title)
			if b.Summary != "" {
				fmt.Fprintf(w, "summary\t%s\n", b.Summary)
			}
			if b.Version != "" {
				fmt.Fprintf(w, "version\t%s\n", b.Version)
			}
			fmt.Fprintf(w, "kind\t%s\n", b.Kind)
			if len(b.Tags) > 0 {
				fmt.Fprintf(w, "tags\t%s\n", strings.Join(b.Tags, ", "))
			}
			fmt.Fprintf(w, "licences\thardware %s, software %s, documentation %s: %s\n", b.Licenses.Hardware, b.Licenses.Software, b.Licenses.Documentation, open)
			for i, au := range b.Authors {
				label := ""
				if i == 0 {
					label = "authors"
				}
				fmt.Fprintf(w, "%s\t%s\n", label, au)
			}
			fmt.Fprintf(w, "publisher\t%s (signature verified)\n", b.Publisher)
			fmt.Fprintf(w, "created\t%s\n", b.Created)
			if b.Message != "" {
				fmt.Fprintf(w, "message\t%s\n", b.Message)
			}
			fmt.Fprintf(w, "size\t%s\n", humanBytes(b.Size))
			if b.BOM != "" {
				fmt.Fprintf(w, "bom\t%s\n", b.BOM)
			}
			if b.Instructions != "" {
				fmt.Fprintf(w, "instructions\t%s\n", b.Instructions)
			}
			fmt.Fprintf(w, "cid\t%s\n", b.CID)
			fmt.Fprintf(w, "manifest\t%s\n", b.Manifest)
			for _, p := range b.Parents {
				fmt.Fprintf(w, "parent\t%s\n", p)
			}
			for _, d := range b.DerivedFrom {
				fmt.Fprintf(w, "derived from\t%s\n", d)
			}
			if b.GatewayURL != "" {
				fmt.Fprintf(w, "gateway\t%s\n", b.GatewayURL)
			}
			w.Flush()
			if len(b.Log) > 0 {
				fmt.Fprintf(a.stdout, "\nlog (%d entries):\n", len(b.Log))
				for _, e := range b.Log {
					fmt.Fprintf(a.stdout, "  %s  %s\n", e.Time, e.Author)
					for _, line := range strings.Split(e.Text, "\n") {
						fmt.Fprintf(a.stdout, "    %s\n", line)
					}
					for _, at := range e.Attachments {
						fmt.Fprintf(a.stdout, "    [attachment] %s\n", at)
					}
				}
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&dagJSON, "dag-json", false, "print the stored, signed manifest as dag-json")
	return cmd
}

// printManifest prints a verified bundle's stored manifest as dag-json.
func (a *app) printManifest(ctx context.Context, svc api.Service, b api.BundleInfo) error {
	rc, err := svc.Cat(ctx, b.CID.String()+"/"+bundle.ManifestPath)
	if err != nil {
		return err
	}
	defer rc.Close()
	block, err := io.ReadAll(io.LimitReader(rc, bundle.MaxManifestSize+1))
	if err != nil {
		return err
	}
	s, err := bundle.Decode(block)
	if err != nil {
		return fmt.Errorf("%w: %w", api.ErrInvalid, err)
	}
	js, err := s.JSON()
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(a.stdout, "%s\n", js)
	return err
}

func (a *app) bundlesCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "bundles",
		Short: "List the newest version of every bundle this node knows, verified",
		Args:  args(0, "no arguments"),
		RunE: a.withService(func(ctx context.Context, svc api.Service, _ []string) error {
			list, err := svc.Bundles(ctx)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(list)
			}
			w := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
			if !a.quiet {
				fmt.Fprintln(w, "NAME\tVERSION\tTITLE\tSIZE\tLICENCE\tPUBLISHER\tCID")
			}
			for _, b := range list {
				lic := "open"
				if !b.Open {
					lic = "NOT OPEN"
				}
				if b.Problem != "" {
					lic = "PROBLEM: " + b.Problem
				}
				fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", b.Name, b.Sequence, b.Title, humanBytes(b.Size), lic, shortID(b.Publisher), b.CID)
			}
			return w.Flush()
		}),
	}
}

func shortID(id string) string {
	if len(id) > 16 {
		return id[:8] + "…" + id[len(id)-6:]
	}
	return id
}

func (a *app) historyCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "history BUNDLE",
		Short: "Show a bundle's versions, newest first, with what changed in each",
		Long:  "Walk a bundle's parents back to its first version, verifying each.\n\n" + refHelp,
		Args:  args(1, "one bundle"),
		RunE: a.withService(func(ctx context.Context, svc api.Service, argv []string) error {
			h, err := svc.History(ctx, argv[0])
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(h)
			}
			for _, v := range h.Versions {
				label := ""
				if v.Version != "" {
					label = " (" + v.Version + ")"
				}
				fmt.Fprintf(a.stdout, "version %d%s  %s\n", v.Sequence, label, v.CID)
				fmt.Fprintf(a.stdout, "  date     %s\n", v.Created)
				if len(v.Authors) > 0 {
					fmt.Fprintf(a.stdout, "  authors  %s\n", strings.Join(v.Authors, ", "))
				}
				if v.Message != "" {
					fmt.Fprintf(a.stdout, "  message  %s\n", v.Message)
				}
				fmt.Fprintf(a.stdout, "  size     %s\n", humanBytes(v.Size))
				if c := v.Changes; c != nil {
					fmt.Fprintf(a.stdout, "  changes  %d added, %d removed, %d changed (%+d bytes)\n", c.Added, c.Removed, c.Changed, c.SizeDelta)
				}
			}
			if h.Truncated {
				fmt.Fprintf(a.stdout, "(history continues but stops here: %s)\n", h.Note)
			}
			return nil
		}),
	}
}

func (a *app) diffCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "Compare two bundle versions: files, new bytes, instructions, BOM",
		Long: `Compare two versions of a bundle (or a bundle and a fork): files added,
removed and changed with their sizes; how many bytes are new (blocks OLD
does not have: what a mirror holding OLD fetches for NEW); changed manifest
fields; a unified diff of the build instructions; and a parts-aware BOM
diff with costs before and after.

` + refHelp,
		Args: args(2, "two bundles"),
		RunE: a.withService(func(ctx context.Context, svc api.Service, argv []string) error {
			d, err := svc.Diff(ctx, argv[0], argv[1])
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(d)
			}
			fmt.Fprintf(a.stdout, "old  %s version %d  %s\nnew  %s version %d  %s\n\n", d.Old.Name, d.Old.Sequence, d.Old.CID, d.New.Name, d.New.Sequence, d.New.CID)
			for _, m := range d.Metadata {
				fmt.Fprintf(a.stdout, "manifest  %s\n", m)
			}
			if len(d.Metadata) > 0 {
				fmt.Fprintln(a.stdout)
			}
			var added, removed, changed int
			for _, f := range d.Files {
				switch f.Change {
				case bundle.Added:
					added++
					fmt.Fprintf(a.stdout, "+ %s  (%s)\n", f.Path, humanBytes(f.NewSize))
				case bundle.Removed:
					removed++
					fmt.Fprintf(a.stdout, "- %s  (%s)\n", f.Path, humanBytes(f.OldSize))
				default:
					changed++
					fmt.Fprintf(a.stdout, "~ %s  (%s -> %s)\n", f.Path, humanBytes(f.OldSize), humanBytes(f.NewSize))
				}
			}
			if d.Truncated {
				fmt.Fprintln(a.stdout, "  ... more changes not listed")
			}
			pct := ""
			if d.New.Size > 0 {
				pct = fmt.Sprintf(", %.3f%% of the new version's %s", 100*float64(d.NewBytes)/float64(d.New.Size), humanBytes(d.New.Size))
			}
			fmt.Fprintf(a.stdout, "\nfiles: %d added, %d removed, %d changed\nnew bytes: %s in %d blocks%s\n", added, removed, changed, humanBytes(d.NewBytes), d.NewBlocks, pct)
			if d.Instructions != "" {
				fmt.Fprintf(a.stdout, "\ninstructions:\n%s", d.Instructions)
			} else if d.InstructionsNote != "" {
				fmt.Fprintf(a.stdout, "\ninstructions: %s\n", d.InstructionsNote)
			}
			if d.BOM != nil {
				fmt.Fprintf(a.stdout, "\n%s", d.BOM.Text)
				if d.BOM.Note != "" {
					fmt.Fprintf(a.stdout, "(%s)\n", d.BOM.Note)
				}
			}
			return nil
		}),
	}
}

func (a *app) forkCommand() *cobra.Command {
	var opts api.ForkOptions
	cmd := &cobra.Command{
		Use:   "fork BUNDLE --name NEW-NAME",
		Short: "Start a derived bundle: version 1 of a new name, derived from BUNDLE",
		Long: `Fork a bundle version: fetch its files, and publish them under a new name,
signed by this node, with derivedFrom naming the source (its licences and
authors are kept, as open licences require). Then 'commons get' it, change
it, and 'commons publish DIR --name NEW-NAME' to add versions.

` + refHelp,
		Args: args(1, "one bundle"),
		PreRunE: func(*cobra.Command, []string) error {
			if opts.Name == "" {
				return usageError{errors.New("fork needs --name NEW-NAME")}
			}
			return nil
		},
		RunE: a.withService(func(ctx context.Context, svc api.Service, argv []string) error {
			res, err := svc.Fork(ctx, argv[0], opts)
			if err != nil {
				return err
			}
			return a.printPublished(res, "forked as")
		}),
	}
	cmd.Flags().StringVar(&opts.Name, "name", "", "the new bundle's name (required)")
	cmd.Flags().StringVar(&opts.Title, "title", "", "the new bundle's title (default: the source's, marked fork)")
	cmd.Flags().StringVarP(&opts.Message, "message", "m", "", "why the fork")
	return cmd
}

func (a *app) lineageCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "lineage BUNDLE",
		Short: "Show what a bundle derives from and what this node knows to derive from it",
		Long:  "Show a bundle's sources (derivedFrom, transitively) and the derivatives this\nnode knows of (bundles it has seen that derive from any version).\n\n" + refHelp,
		Args:  args(1, "one bundle"),
		RunE: a.withService(func(ctx context.Context, svc api.Service, argv []string) error {
			l, err := svc.Lineage(ctx, argv[0])
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(l)
			}
			fmt.Fprintf(a.stdout, "%s (%s)\n", l.Bundle.Name, l.Bundle.CID)
			show := func(title string, links []api.LineageLink) {
				fmt.Fprintf(a.stdout, "%s:\n", title)
				if len(links) == 0 {
					fmt.Fprintln(a.stdout, "  (none known)")
				}
				for _, x := range links {
					ind := strings.Repeat("  ", x.Depth)
					if !x.Known {
						fmt.Fprintf(a.stdout, "%s%s (not known here)\n", ind, x.Via)
						continue
					}
					fmt.Fprintf(a.stdout, "%s%s version %d by %s  %s\n", ind, x.Bundle.Name, x.Bundle.Sequence, shortID(x.Bundle.Publisher), x.Bundle.CID)
				}
			}
			show("derived from", l.DerivedFrom)
			show("derivatives", l.Derivatives)
			return nil
		}),
	}
}

func (a *app) logCommand() *cobra.Command {
	logCmd := &cobra.Command{
		Use:   "log",
		Short: "The in-process log: dated notes and photos kept with a bundle while it is built",
		Args:  args(0, "a subcommand"),
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var photos []string
	var author string
	add := &cobra.Command{
		Use:   "add NAME TEXT",
		Short: "Append a dated entry (and photos) to your bundle NAME, as a new version",
		Long: `Append an entry to the in-process log of a bundle this node publishes. The
entry is a new version whose files are unchanged: it costs only the entry,
its attachments (under .commons/log/ in the bundle) and a new manifest.`,
		Args: args(2, "a bundle name and the text"),
		RunE: a.withService(func(ctx context.Context, svc api.Service, argv []string) error {
			var att files.Directory
			if len(photos) > 0 {
				entries := make(map[string]files.Node)
				for _, p := range photos {
					st, err := os.Stat(p)
					if err != nil {
						return fmt.Errorf("%w: --photo %s: %w", api.ErrInvalid, p, err)
					}
					if !st.Mode().IsRegular() {
						return fmt.Errorf("%w: --photo %s is not a regular file", api.ErrInvalid, p)
					}
					base := filepath.Base(p)
					if _, dup := entries[base]; dup {
						return fmt.Errorf("%w: two attachments are named %s", api.ErrInvalid, base)
					}
					f, err := os.Open(p)
					if err != nil {
						return fmt.Errorf("%w: --photo %s: %w", api.ErrInvalid, p, err)
					}
					defer f.Close()
					entries[base] = files.NewReaderStatFile(f, st)
				}
				att = files.NewMapDirectory(entries)
			}
			pr := a.progress("import", 0)
			res, err := svc.LogAdd(ctx, argv[0], api.LogOptions{Text: argv[1], Author: author}, att, pr.update)
			pr.done()
			if err != nil {
				return err
			}
			return a.printPublished(res, "logged in")
		}),
	}
	add.Flags().StringArrayVar(&photos, "photo", nil, "a photo or other file to attach (repeat for several)")
	add.Flags().StringVar(&author, "author", "", "who writes the entry (default: the bundle's first author)")
	logCmd.AddCommand(add)
	return logCmd
}

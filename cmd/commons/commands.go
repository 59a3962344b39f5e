package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/ipfs/boxo/blockservice"
	"github.com/ipfs/boxo/ipld/merkledag"
	"github.com/ipfs/go-cid"
	carbs "github.com/ipld/go-car/v2/blockstore"
	"github.com/spf13/cobra"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/node"
	"github.com/commons-p2p/commons/pkg/carfile"
	"github.com/commons-p2p/commons/pkg/config"
	"github.com/commons-p2p/commons/pkg/folder"
	"github.com/commons-p2p/commons/pkg/repo"
)

type app struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	repoPath       string
	jsonOut        bool
	quiet          bool
}

const exitCodesHelp = `Exit codes:
  0    success
  1    error not covered below
  2    wrong command line (unknown command or flag, missing argument)
  3    content not found: no peer provided it within fetch.timeout, or it is not pinned
  4    input refused: malformed CID or path, unsafe folder, damaged or foreign CAR
  5    repo problem: no repo (run 'commons init'), repo in use, invalid config
  6    needs the network: start 'commons daemon' first
  7    verify found damage that remains (run 'commons verify --repair')
  130  interrupted`

func (a *app) rootCommand() *cobra.Command {
	root := &cobra.Command{
		Use:   "commons",
		Short: "Share open-hardware design bundles peer to peer, on the IPFS network",
		Long: `commons runs a node that publishes, pins, finds and serves design bundles:
folders of CAD files, bills of materials and build instructions, stored as
content-addressed UnixFS DAGs with ordinary CIDs, so Kubo nodes, public IPFS
gateways and pinning services can read them too.

Start with:
  commons init                      create a repo (identity, config, store) in ~/.commons
  commons daemon                    run the node and its gateway at http://127.0.0.1:8080
  commons publish ./brick-press     sign, pin and announce a design bundle
                                    (its metadata in brick-press/commons.toml)

Commands that change or read content talk to a running daemon through its
local API; with no daemon they open the repo directly, and commands that need
the network say so.

` + exitCodesHelp,
		SilenceUsage:  true,
		SilenceErrors: true,
		// With Args set, cobra hands an unknown command to us instead of
		// failing with an untyped error, so it gets the usage exit code.
		Args: func(cmd *cobra.Command, argv []string) error {
			if len(argv) > 0 {
				return usageError{fmt.Errorf("unknown command %q\nRun 'commons --help' for the list of commands.", argv[0])}
			}
			return nil
		},
		RunE: func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			if a.repoPath == "" {
				p, err := repo.DefaultPath()
				if err != nil {
					return err
				}
				a.repoPath = p
			}
			return nil
		},
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return usageError{fmt.Errorf("%w\nRun '%s --help' for usage.", err, c.CommandPath())}
	})
	root.PersistentFlags().StringVar(&a.repoPath, "repo", "", "repo directory (default $COMMONS_REPO, else ~/.commons)")
	root.PersistentFlags().BoolVar(&a.jsonOut, "json", false, "print results as JSON")
	root.PersistentFlags().BoolVarP(&a.quiet, "quiet", "q", false, "print only the essential result (no progress)")
	root.AddCommand(
		a.initCommand(), a.daemonCommand(), a.publishCommand(), a.addCommand(), a.showCommand(),
		a.bundlesCommand(), a.historyCommand(), a.diffCommand(), a.forkCommand(), a.lineageCommand(),
		a.logCommand(), a.libraryCommand(), a.followCommand(), a.unfollowCommand(), a.mirrorCommand(), a.verifyCommand(),
		a.getCommand(), a.catCommand(),
		a.lsCommand(), a.pinCommand(), a.gcCommand(), a.idCommand(), a.peersCommand(),
		a.connectCommand(), a.exportCommand(), a.importCommand(), a.statsCommand(), a.versionCommand(),
	)
	return root
}

func args(n int, names string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		if len(a) != n {
			return usageError{fmt.Errorf("%s wants %s (got %d arguments)\nRun '%s --help' for usage.", cmd.CommandPath(), names, len(a), cmd.CommandPath())}
		}
		return nil
	}
}

// service returns the running daemon's API if there is one, else the repo
// opened directly as an offline node. The returned func releases it.
//
// A repo locked by another process with no API answering yet is most often
// a daemon that is starting (or a command about to finish): wait for one or
// the other for a while rather than fail, so `commons daemon & commons
// publish DIR` works in a script.
func (a *app) service(ctx context.Context) (api.Service, func(), error) {
	deadline := time.Now().Add(lockWait)
	for {
		if url := repo.ReadAPI(a.repoPath); url != "" {
			c := api.NewClient(url, nil)
			pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			err := c.Ping(pctx)
			cancel()
			if err == nil {
				return c, func() {}, nil
			}
		}
		r, err := repo.Open(a.repoPath)
		if err == nil {
			n, err := node.New(ctx, node.Config{Settings: r.Config, Identity: r.Identity, Publisher: r.Publisher, Store: r.Store, Offline: true})
			if err != nil {
				r.Close()
				return nil, nil, err
			}
			return n, func() { n.Close(); r.Close() }, nil
		}
		if !errors.Is(err, repo.ErrLocked) || !time.Now().Before(deadline) {
			return nil, nil, err
		}
		select {
		case <-ctx.Done():
			return nil, nil, err
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// lockWait is how long a command or a starting daemon waits for a repo
// that another process holds.
const lockWait = 15 * time.Second

// withService wraps a command body that needs the node: it opens the
// running daemon's API, or else the repo, runs fn and releases it.
func (a *app) withService(fn func(ctx context.Context, svc api.Service, argv []string) error) func(*cobra.Command, []string) error {
	return func(cmd *cobra.Command, argv []string) error {
		svc, done, err := a.service(cmd.Context())
		if err != nil {
			return err
		}
		defer done()
		return fn(cmd.Context(), svc, argv)
	}
}

func (a *app) printJSON(v any) error {
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func (a *app) initCommand() *cobra.Command {
	var profile string
	cmd := &cobra.Command{
		Use:   "init",
		Short: "Create a repo: identity key, config file and store",
		Long: `Create a repo: an ed25519 identity, a config file with every key at its
default (see docs/operations.md), and an empty store.

Profiles:
  default  join the public IPFS network (bootstrap peers, dual DHT, mDNS)
  lan      a network with no internet: no bootstrap, mDNS, one DHT over the LAN
  test     loopback only, every port 0, no bootstrap or mDNS: for tests and scripts`,
		Args: args(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := config.FromProfile(profile)
			if err != nil {
				return usageError{err}
			}
			id, err := repo.Init(a.repoPath, cfg)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(map[string]string{"repo": a.repoPath, "peer_id": id.String(), "profile": profile})
			}
			fmt.Fprintf(a.stdout, "initialised repo %s (profile %s)\npeer id %s\nnext: commons --repo %s daemon\n", a.repoPath, profile, id, a.repoPath)
			return nil
		},
	}
	cmd.Flags().StringVar(&profile, "profile", "default", "configuration profile: default, lan or test")
	return cmd
}

func (a *app) daemonCommand() *cobra.Command {
	var logLevel string
	cmd := &cobra.Command{
		Use:   "daemon",
		Short: "Run the node: libp2p host, DHT, bitswap, gateway and API (Ctrl-C stops it)",
		Long: `Run the node until interrupted (Ctrl-C or SIGTERM stop it cleanly).

On start it writes its actual addresses into the repo, so ports given as 0
can be found: 'api' (API URL), 'gateway' (gateway URL) and 'listen' (libp2p
multiaddrs). They are removed on a clean stop.`,
		Args: args(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			var lvl slog.Level
			if err := lvl.UnmarshalText([]byte(logLevel)); err != nil {
				return usageError{fmt.Errorf("--log-level %q: want debug, info, warn or error", logLevel)}
			}
			log := slog.New(slog.NewTextHandler(a.stderr, &slog.HandlerOptions{Level: lvl}))
			return a.runDaemon(cmd.Context(), log)
		},
	}
	cmd.Flags().StringVar(&logLevel, "log-level", "info", "debug, info, warn or error")
	return cmd
}

func (a *app) runDaemon(ctx context.Context, log *slog.Logger) error {
	r, err := repo.OpenWait(ctx, a.repoPath, lockWait)
	if err != nil {
		return err
	}
	defer r.Close()
	n, err := node.New(ctx, node.Config{Settings: r.Config, Identity: r.Identity, Publisher: r.Publisher, Store: r.Store, Logger: log,
		SearchDir: filepath.Join(r.Path, repo.SearchDir)})
	if err != nil {
		return err
	}
	defer n.Close()
	if err := r.WriteAddrs(repo.Addrs{API: n.APIURL(), Gateway: n.GatewayURL(), Listen: n.ListenAddrs()}); err != nil {
		return err
	}
	fmt.Fprintf(a.stdout, "commons daemon running\npeer id  %s\ngateway  %s/\napi      %s\n", r.PeerID(), n.GatewayURL(), n.APIURL())
	for _, l := range n.ListenAddrs() {
		fmt.Fprintf(a.stdout, "listen   %s\n", l)
	}
	if lib, err := n.Library(ctx); err == nil && lib.Sequence > 0 && n.GatewayURL() != "" {
		fmt.Fprintf(a.stdout, "library  %s/ipns/%s/ (%d bundles)\n", n.GatewayURL(), lib.Name, len(lib.Bundles))
	}
	if pins, err := n.Pins(ctx); err == nil && n.GatewayURL() != "" {
		var content []api.PinInfo
		for _, p := range pins {
			if p.Name != "library" && p.Type == "recursive" {
				content = append(content, p)
			}
		}
		if len(content) > 0 {
			fmt.Fprintf(a.stdout, "serving %d pinned roots:\n", len(content))
		}
		for i, p := range content {
			if i == 10 {
				fmt.Fprintf(a.stdout, "  ... and %d more (commons pin ls)\n", len(content)-10)
				break
			}
			name := p.Name
			if name == "" {
				name = "(unnamed)"
			}
			fmt.Fprintf(a.stdout, "  %-20s %s/ipfs/%s/\n", name, n.GatewayURL(), p.CID)
		}
	}
	fmt.Fprintln(a.stdout, "press Ctrl-C to stop")
	err = n.Run(ctx)
	fmt.Fprintln(a.stdout, "stopping")
	if cerr := n.Close(); err == nil && cerr != nil {
		err = cerr
	}
	if err == nil && ctx.Err() != nil {
		return nil // a requested stop is a success
	}
	return err
}

func (a *app) getCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "get CID[/PATH]",
		Short: "Fetch a bundle (from whichever peer has it), verify it and write it to a folder",
		Long: `Fetch the DAG at CID[/PATH] from the local store or from peers, verify every
block, and write it to -o (default: the CID). The target must not exist. Names
in the DAG that would write outside the target ('..', absolute paths, escaping
symlinks) are refused and nothing is written.`,
		Args: args(1, "one CID or path"),
		// Refuse an existing target before opening the repo or fetching.
		PreRunE: func(_ *cobra.Command, argv []string) error {
			if out == "" {
				out = filepath.Base(strings.TrimRight(argv[0], "/"))
			}
			if _, err := os.Lstat(out); err == nil {
				return fmt.Errorf("get: %w: %s already exists; choose another -o", api.ErrInvalid, out)
			}
			return nil
		},
		RunE: a.withService(func(ctx context.Context, svc api.Service, argv []string) error {
			p := argv[0]
			pr := a.progress("fetch", 0)
			var err error
			if n, ok := svc.(*node.Node); ok {
				err = n.Get(ctx, p, out, pr.update)
			} else {
				err = a.getThroughDaemon(ctx, svc, p, out, pr.update)
			}
			pr.done()
			if err != nil {
				return err
			}
			if !a.quiet {
				fmt.Fprintf(a.stdout, "wrote %s\n", out)
			}
			return nil
		}),
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "where to write (default: the last path element)")
	return cmd
}

// getThroughDaemon asks the daemon for a CAR of the DAG, verifies it here
// and writes the folder from it, so that what lands on disk was checked by
// the process that writes it.
func (a *app) getThroughDaemon(ctx context.Context, svc api.Service, p, out string, progress func(api.Progress)) error {
	tmp, err := os.CreateTemp(filepath.Dir(out), ".commons-get-*.car")
	if err != nil {
		return fmt.Errorf("get %s: %w", p, err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	if err := svc.Export(ctx, p, tmp, progress); err != nil {
		return fmt.Errorf("get %s: %w", p, err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return fmt.Errorf("get %s: %w", p, err)
	}
	res, err := carfile.Verify(ctx, tmp, carfile.ImportOptions{RequireComplete: true})
	if err != nil {
		return fmt.Errorf("get %s: the daemon sent a bad CAR: %w", p, err)
	}
	if len(res.Roots) != 1 {
		return fmt.Errorf("get %s: the daemon sent %d roots, want 1", p, len(res.Roots))
	}
	bs, err := carbs.OpenReadOnly(tmp.Name())
	if err != nil {
		return fmt.Errorf("get %s: %w", p, err)
	}
	defer bs.Close()
	dag := merkledag.NewDAGService(blockservice.New(bs, nil))
	wo := folder.WriteOptions{Progress: func(fp folder.Progress) {
		progress(api.Progress{Phase: "write", Files: fp.Files, Bytes: fp.Bytes, Path: fp.Path})
	}}
	if err := folder.Write(ctx, dag, res.Roots[0], out, wo); err != nil {
		return fmt.Errorf("get %s: %w", p, err)
	}
	return nil
}

func (a *app) catCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "cat CID/PATH",
		Short: "Print a file's bytes",
		Args:  args(1, "one CID or path to a file"),
		RunE: a.withService(func(ctx context.Context, svc api.Service, argv []string) error {
			rc, err := svc.Cat(ctx, argv[0])
			if err != nil {
				return err
			}
			defer rc.Close()
			if _, err := io.Copy(a.stdout, rc); err != nil {
				return fmt.Errorf("cat %s: %w", argv[0], err)
			}
			return nil
		}),
	}
}

func (a *app) lsCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "ls CID[/PATH]",
		Short: "List a directory: name, type, size and CID of each entry",
		Args:  args(1, "one CID or path"),
		RunE: a.withService(func(ctx context.Context, svc api.Service, argv []string) error {
			es, err := svc.Ls(ctx, argv[0])
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(es)
			}
			tw := tabwriter.NewWriter(a.stdout, 0, 4, 2, ' ', 0)
			for _, e := range es {
				size := "-"
				if e.Size >= 0 {
					size = humanBytes(e.Size)
				}
				name := e.Name
				if e.Type == "directory" {
					name += "/"
				}
				fmt.Fprintf(tw, "%s\t%s\t%s\n", name, size, e.CID)
			}
			return tw.Flush()
		}),
	}
}

func (a *app) pinCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "pin",
		Short: "Keep content: list, add and remove pins",
		Args:  args(0, "a subcommand: ls, add or rm"),
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var name string
	add := &cobra.Command{
		Use:   "add CID",
		Short: "Fetch the whole DAG (from peers if needed) and pin it",
		Args:  args(1, "one CID"),
		RunE: a.withService(func(ctx context.Context, svc api.Service, argv []string) error {
			c, err := parseCID(argv[0])
			if err != nil {
				return err
			}
			pr := a.progress("fetch", 0)
			err = svc.Pin(ctx, c, name, pr.update)
			pr.done()
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(map[string]any{"pinned": c})
			}
			fmt.Fprintf(a.stdout, "pinned %s\n", c)
			return nil
		}),
	}
	add.Flags().StringVar(&name, "name", "", "a name for the pin")
	rm := &cobra.Command{
		Use:   "rm CID",
		Short: "Remove a pin (blocks are freed by the next 'commons gc')",
		Args:  args(1, "one CID"),
		RunE: a.withService(func(ctx context.Context, svc api.Service, argv []string) error {
			c, err := parseCID(argv[0])
			if err != nil {
				return err
			}
			if err := svc.Unpin(ctx, c); err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(map[string]any{"unpinned": c})
			}
			fmt.Fprintf(a.stdout, "unpinned %s\n", c)
			return nil
		}),
	}
	ls := &cobra.Command{
		Use:   "ls",
		Short: "List pins",
		Args:  args(0, "no arguments"),
		RunE: a.withService(func(ctx context.Context, svc api.Service, argv []string) error {
			pins, err := svc.Pins(ctx)
			if err != nil {
				return err
			}
			if a.jsonOut {
				if pins == nil {
					pins = []api.PinInfo{}
				}
				return a.printJSON(pins)
			}
			for _, p := range pins {
				fmt.Fprintln(a.stdout, strings.TrimSpace(fmt.Sprintf("%s %s %s", p.CID, p.Type, p.Name)))
			}
			return nil
		}),
	}
	cmd.AddCommand(ls, add, rm)
	return cmd
}

func (a *app) gcCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "gc",
		Short: "Remove blocks that no pin needs",
		Args:  args(0, "no arguments"),
		RunE: a.withService(func(ctx context.Context, svc api.Service, argv []string) error {
			res, err := svc.GC(ctx)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(res)
			}
			fmt.Fprintf(a.stdout, "removed %d blocks, kept %d (%s)\n", res.Removed, res.Kept, res.Duration.Round(time.Millisecond))
			return nil
		}),
	}
}

func (a *app) idCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "id",
		Short: "Show this node's peer ID, public key and addresses",
		Args:  args(0, "no arguments"),
		RunE: a.withService(func(ctx context.Context, svc api.Service, argv []string) error {
			info, err := svc.ID(ctx)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(info)
			}
			fmt.Fprintf(a.stdout, "peer id  %s\nagent    %s\nonline   %v\n", info.PeerID, info.AgentVer, info.Online)
			if info.GatewayURL != "" {
				fmt.Fprintf(a.stdout, "gateway  %s/\n", info.GatewayURL)
			}
			for _, ad := range info.Addresses {
				fmt.Fprintf(a.stdout, "address  %s\n", ad)
			}
			return nil
		}),
	}
}

func (a *app) peersCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "peers",
		Short: "List connected peers (needs the daemon)",
		Args:  args(0, "no arguments"),
		RunE: a.withService(func(ctx context.Context, svc api.Service, argv []string) error {
			ps, err := svc.Peers(ctx)
			if err != nil {
				return err
			}
			if a.jsonOut {
				if ps == nil {
					ps = []api.PeerInfo{}
				}
				return a.printJSON(ps)
			}
			for _, p := range ps {
				fmt.Fprintf(a.stdout, "%s/p2p/%s %s\n", p.Address, p.PeerID, p.Direction)
			}
			return nil
		}),
	}
}

func (a *app) connectCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "connect MULTIADDR",
		Short: "Connect to a peer, e.g. /ip4/192.168.1.20/tcp/4101/p2p/12D3KooW... (needs the daemon)",
		Args:  args(1, "one multiaddr ending in /p2p/<peer id>"),
		RunE: a.withService(func(ctx context.Context, svc api.Service, argv []string) error {
			if err := svc.Connect(ctx, argv[0]); err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(map[string]string{"connected": argv[0]})
			}
			fmt.Fprintf(a.stdout, "connected %s\n", argv[0])
			return nil
		}),
	}
}

func (a *app) exportCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "export CID[/PATH] -o FILE.car",
		Short: "Write a whole DAG to a CAR file (fetching what is missing)",
		Args:  args(1, "one CID or path"),
		PreRunE: func(*cobra.Command, []string) error {
			if out == "" {
				return usageError{errors.New("export needs -o FILE.car (use -o - for standard output)")}
			}
			return nil
		},
		RunE: a.withService(func(ctx context.Context, svc api.Service, argv []string) error {
			var w io.Writer = a.stdout
			var f *os.File
			var err error
			if out != "-" {
				// Write beside the target and rename at the end, so an
				// interrupted export never leaves a CAR that looks whole.
				f, err = os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".partial-*")
				if err != nil {
					return fmt.Errorf("export: %w", err)
				}
				defer os.Remove(f.Name())
				defer f.Close()
				w = f
			}
			pr := a.progress("export", 0)
			err = svc.Export(ctx, argv[0], w, pr.update)
			pr.done()
			if err != nil {
				return err
			}
			if f != nil {
				if err := f.Chmod(0o644); err != nil {
					return fmt.Errorf("export: %w", err)
				}
				if err := f.Sync(); err != nil {
					return fmt.Errorf("export: %w", err)
				}
				if err := f.Close(); err != nil {
					return fmt.Errorf("export: %w", err)
				}
				if err := os.Rename(f.Name(), out); err != nil {
					return fmt.Errorf("export: %w", err)
				}
				if !a.quiet {
					fmt.Fprintf(a.stderr, "wrote %s\n", out)
				}
			}
			return nil
		}),
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "CAR file to write, or - for standard output")
	return cmd
}

func (a *app) importCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "import FILE.car",
		Short: "Verify a CAR file completely, store it and pin its roots (nothing is stored from a bad file)",
		Args:  args(1, "one CAR file (or - for standard input)"),
		RunE: a.withService(func(ctx context.Context, svc api.Service, argv []string) error {
			var r io.Reader = a.stdin
			if argv[0] != "-" {
				f, err := os.Open(argv[0])
				if err != nil {
					return fmt.Errorf("import: %w", err)
				}
				defer f.Close()
				r = f
			}
			pr := a.progress("import", 0)
			res, err := svc.Import(ctx, r, pr.update)
			pr.done()
			if err != nil {
				return fmt.Errorf("%s: %w", argv[0], err)
			}
			if a.jsonOut {
				return a.printJSON(res)
			}
			for _, c := range res.Roots {
				fmt.Fprintf(a.stdout, "pinned %s\n", c)
			}
			if !a.quiet {
				fmt.Fprintf(a.stdout, "imported %d blocks, %s\n", res.Blocks, humanBytes(res.Bytes))
			}
			return nil
		}),
	}
}

func (a *app) versionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version",
		Args:  args(0, "no arguments"),
		RunE: func(cmd *cobra.Command, _ []string) error {
			fmt.Fprintln(a.stdout, node.UserAgent)
			return nil
		},
	}
}

func parseCID(s string) (cid.Cid, error) {
	c, err := cid.Decode(strings.TrimPrefix(s, "/ipfs/"))
	if err != nil {
		return cid.Undef, fmt.Errorf("%w: %q is not a CID: %v", api.ErrInvalid, s, err)
	}
	return c, nil
}

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
  8    export wrote a partial CAR: some versions are not stored on this node
  9    not enough disk space for the repo (below datastore.min_free): nothing
       half-done was kept; free space or move the repo, then run it again
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
		a.connectCommand(), a.exportCommand(), a.importCommand(), a.haveCommand(), a.statsCommand(), a.versionCommand(),
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
		var refused error
		if url := repo.ReadAPI(a.repoPath); url != "" {
			c := api.NewClient(url, nil).WithToken(repo.ReadAPIToken(a.repoPath))
			pctx, cancel := context.WithTimeout(ctx, 3*time.Second)
			err := c.Ping(pctx)
			cancel()
			if err == nil {
				return c, func() {}, nil
			}
			// A refusal is only this repo's daemon's if the repo is
			// locked: the api file of a daemon killed with SIGKILL
			// stays behind, and another repo's daemon may listen on
			// its port since. The lock decides, below.
			if errors.Is(err, api.ErrUnauthorized) {
				refused = fmt.Errorf("the daemon of %s refused this command: %w (is the daemon another user's?)", a.repoPath, err)
			}
		}
		r, err := repo.Open(a.repoPath)
		if err != nil && refused != nil && errors.Is(err, repo.ErrLocked) {
			return nil, nil, refused
		}
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
	token, err := repo.APIToken(r.Path)
	if err != nil {
		return err
	}
	n, err := node.New(ctx, node.Config{Settings: r.Config, Identity: r.Identity, Publisher: r.Publisher, Store: r.Store, Logger: log,
		SearchDir: filepath.Join(r.Path, repo.SearchDir), APIToken: token})
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
	var out, haveFile, quota string
	var libraries, latest bool
	cmd := &cobra.Command{
		Use:   "export (CID[/PATH] | --libraries [LIBRARY...] | --for HAVE-FILE) -o FILE.car",
		Short: "Write a DAG, or libraries for a node with no network, to a CAR file",
		Long: `Write a CAR file (CARv1).

  commons export CID[/PATH] -o FILE.car
      the whole DAG at CID[/PATH], fetching what is missing from peers.

  commons export --for HAVE-FILE -o delta.car
      sneakernet: what the node that wrote HAVE-FILE ('commons have') lacks
      of the libraries it follows: their newest signed records and the
      bundle versions its policies keep that it does not hold, less every
      block it holds already. Its own policies decide (a village that keeps
      only the newest versions gets only those).

  commons export --libraries [LIBRARY...] -o full.car [--latest | --quota SIZE]
      sneakernet, for a first install: whole libraries (the named ones, or
      every library this node publishes or follows), each as this node keeps
      it (its own: every version; a followed one: what its follow policy
      keeps), or as --latest or --quota SIZE says.

Only this node's store is read for a sneakernet export. A version the plan
wants that is not stored here completely is left out and named on stderr: the
CAR is still whole and carries the rest, and the exit code is 8 (partial).
'commons import FILE.car' on the other node verifies everything before it
stores anything. -o - writes to standard output, which must not be a terminal.

` + exitCodesHelp,
		Args: func(cmd *cobra.Command, argv []string) error {
			switch {
			case haveFile != "" && libraries:
				return usageError{fmt.Errorf("--for and --libraries exclude each other\nRun '%s --help' for usage.", cmd.CommandPath())}
			case haveFile != "" && len(argv) > 0:
				return usageError{fmt.Errorf("with --for the have-file says which libraries to export: name no CID or library\nRun '%s --help' for usage.", cmd.CommandPath())}
			case haveFile == "" && !libraries:
				if latest || quota != "" {
					return usageError{fmt.Errorf("--latest and --quota go with --libraries\nRun '%s --help' for usage.", cmd.CommandPath())}
				}
				return args(1, "one CID or path, --libraries or --for HAVE-FILE")(cmd, argv)
			case haveFile != "" && (latest || quota != ""):
				return usageError{fmt.Errorf("with --for the have-file's policies decide: --latest and --quota go with --libraries\nRun '%s --help' for usage.", cmd.CommandPath())}
			}
			return nil
		},
		PreRunE: func(*cobra.Command, []string) error {
			if out == "" {
				return usageError{errors.New("export needs -o FILE.car (use -o - for standard output)")}
			}
			if out == "-" && isTerminal(a.stdout) {
				return usageError{errors.New("export writes a binary CAR: standard output is a terminal; give -o FILE.car or redirect it")}
			}
			if out == "-" && a.jsonOut && (libraries || haveFile != "") {
				return usageError{errors.New("--json prints the result on standard output: write the CAR with -o FILE.car")}
			}
			return nil
		},
		RunE: a.withService(func(ctx context.Context, svc api.Service, argv []string) error {
			if haveFile == "" && !libraries {
				return a.writeOutput(out, "export", func(w io.Writer) error {
					pr := a.progress("export", 0)
					defer pr.done()
					return svc.Export(ctx, argv[0], w, pr.update)
				})
			}
			opts := api.LibraryExportOptions{Libraries: argv}
			if haveFile != "" {
				b, err := readHaveFile(haveFile)
				if err != nil {
					return err
				}
				opts.Have = b
			} else if latest || quota != "" {
				p, err := policyFlags(latest, quota)
				if err != nil {
					return err
				}
				opts.Policy = &p
			}
			return a.exportLibraries(ctx, svc, opts, out)
		}),
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "CAR file to write, or - for standard output")
	cmd.Flags().StringVar(&haveFile, "for", "", "export what the node that wrote this have-file ('commons have') lacks")
	cmd.Flags().BoolVar(&libraries, "libraries", false, "export whole libraries: the named ones, or every one this node publishes or follows")
	cmd.Flags().BoolVar(&latest, "latest", false, "with --libraries: only each bundle's newest version")
	cmd.Flags().StringVar(&quota, "quota", "", "with --libraries: newest versions first, up to this size (e.g. 20GiB)")
	return cmd
}

// writeOutput runs write with the file out (or standard output for "-"):
// beside the target, renamed into place at the end, so an interrupted
// command never leaves a file that looks whole. An error of write that is
// a partialError still puts the file in place.
func (a *app) writeOutput(out, op string, write func(w io.Writer) error) error {
	if out == "-" {
		return write(a.stdout)
	}
	f, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".partial-*")
	if err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	defer os.Remove(f.Name())
	defer f.Close()
	werr := write(f)
	var partial partialError
	if werr != nil && !errors.As(werr, &partial) {
		return werr
	}
	if err := f.Chmod(0o644); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if err := os.Rename(f.Name(), out); err != nil {
		return fmt.Errorf("%s: %w", op, err)
	}
	if !a.quiet && !a.jsonOut {
		fmt.Fprintf(a.stderr, "wrote %s\n", out)
	}
	return werr
}

func (a *app) importCommand() *cobra.Command {
	var follow, latest bool
	var quota string
	cmd := &cobra.Command{
		Use:   "import FILE.car [--follow [--latest | --quota SIZE]]",
		Short: "Verify a CAR file completely, store it and pin its roots (nothing is stored from a bad file)",
		Long: `Verify a CAR file completely and only then store it: a damaged, cut short or
foreign file changes nothing and says why (exit 4).

A plain CAR ('commons export CID'): every block is checked, its roots are
pinned.

An export CAR ('commons export --for' or '--libraries', sneakernet): every
block's hash, every library record (signed by the library's key, pointing at
a library signed by the same key), every version to pin (signature, layout,
licences as the mirror checks them), that every DAG is complete (from the
file and this repo), and that the file holds nothing else, are verified
first. Then the blocks are stored, newer library records taken (an older one
is skipped: this node may be newer already), and the versions each followed
library's policy keeps are pinned, as the mirror pins them: 'commons mirror
status' shows them. Libraries this node does not follow are skipped, unless
--follow follows them (a first install; --latest or --quota SIZE for its
policy).

FILE.car may be - for standard input.`,
		Args: args(1, "one CAR file (or - for standard input)"),
		PreRunE: func(*cobra.Command, []string) error {
			if !follow && (latest || quota != "") {
				return usageError{errors.New("--latest and --quota go with --follow")}
			}
			return nil
		},
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
			opts := api.ImportOptions{Follow: follow}
			if follow {
				p, err := policyFlags(latest, quota)
				if err != nil {
					return err
				}
				opts.Policy = p
			}
			pr := a.progress("import", 0)
			res, err := svc.ImportCAR(ctx, r, opts, pr.update)
			pr.done()
			if err != nil {
				return fmt.Errorf("%s: %w", argv[0], err)
			}
			if a.jsonOut {
				return a.printJSON(res)
			}
			if res.Manifest.Defined() {
				a.printImported(res)
			} else {
				for _, c := range res.Roots {
					fmt.Fprintf(a.stdout, "pinned %s\n", c)
				}
			}
			if !a.quiet {
				fmt.Fprintf(a.stdout, "imported %d blocks, %s\n", res.Blocks, humanBytes(res.Bytes))
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&follow, "follow", false, "follow the libraries of an export CAR that this node does not follow yet")
	cmd.Flags().BoolVar(&latest, "latest", false, "with --follow: keep only each bundle's newest version")
	cmd.Flags().StringVar(&quota, "quota", "", "with --follow: keep newest versions first, up to this size (e.g. 20GiB)")
	return cmd
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

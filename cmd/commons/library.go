package main

import (
	"context"
	"fmt"
	"io"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/commons-p2p/commons/gateway/api"
)

func (a *app) libraryCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "library",
		Short: "Show this node's library: the signed index of the bundles it publishes",
		Long: `Show this node's library. A library is a publisher's signed index of its
bundles (each one's newest version) plus the libraries it includes, published
under the IPNS name of the publisher key. Every publish updates it; followers
get the update over pubsub within seconds, or from the DHT.

/ipns/<name>/ opens the library in this node's gateway and in any IPFS
gateway that can reach the record: one folder per bundle.`,
		Args: args(0, "no arguments"),
		RunE: a.withService(func(ctx context.Context, svc api.Service, _ []string) error {
			info, err := svc.Library(ctx)
			if err != nil {
				return err
			}
			return a.printLibrary(info)
		}),
	}
	include := func(remove bool) *cobra.Command {
		use, short := "include LIBRARY", "Include another publisher's library in this one (its followers then follow it too)"
		if remove {
			use, short = "exclude LIBRARY", "Stop including a library"
		}
		return &cobra.Command{
			Use:   use,
			Short: short,
			Long: short + `.

A campus includes its chapters' libraries, a network-wide library includes
campuses: following one library follows what it includes, transitively.
Cycles are harmless. LIBRARY is a library name (k51…, as 'commons library'
prints it), a peer ID, or /ipns/<name>. A new library record is signed and
announced.`,
			Args: args(1, "a library name"),
			RunE: a.withService(func(ctx context.Context, svc api.Service, argv []string) error {
				info, err := svc.Include(ctx, argv[0], remove)
				if err != nil {
					return err
				}
				return a.printLibrary(info)
			}),
		}
	}
	cmd.AddCommand(include(false), include(true))
	return cmd
}

func (a *app) printLibrary(info api.LibraryInfo) error {
	if a.jsonOut {
		return a.printJSON(info)
	}
	if a.quiet {
		_, err := fmt.Fprintln(a.stdout, info.Name)
		return err
	}
	title := info.Title
	if title == "" {
		title = "(no title: set library.title in the config)"
	}
	fmt.Fprintf(a.stdout, "Library   %s\nName      /ipns/%s\nRecord    %d", title, info.Name, info.Sequence)
	if info.Updated != "" {
		fmt.Fprintf(a.stdout, ", signed %s", info.Updated)
	}
	fmt.Fprintln(a.stdout)
	if info.GatewayURL != "" {
		fmt.Fprintf(a.stdout, "Gateway   %s\n", info.GatewayURL)
	}
	for _, inc := range info.Includes {
		fmt.Fprintf(a.stdout, "Includes  %s\n", inc)
	}
	if len(info.Bundles) == 0 {
		_, err := fmt.Fprintln(a.stdout, "\nNo bundles yet: 'commons publish DIR' adds one.")
		return err
	}
	fmt.Fprintln(a.stdout)
	w := tabwriter.NewWriter(a.stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(w, "NAME\tVERSION\tTITLE\tSIZE\tLICENCE\tUPDATED\tCID")
	for _, e := range info.Bundles {
		lic := "open"
		if !e.Open {
			lic = "NOT OPEN"
		}
		fmt.Fprintf(w, "%s\t%d\t%s\t%s\t%s\t%s\t%s\n", e.Name, e.Sequence, e.Title, humanBytes(e.Size), lic, e.Updated, e.Root)
	}
	return w.Flush()
}

func (a *app) followCommand() *cobra.Command {
	var latest bool
	var quota string
	cmd := &cobra.Command{
		Use:   "follow LIBRARY [--latest | --quota SIZE]",
		Short: "Mirror a library: keep a complete, verified copy pinned as it changes",
		Long: `Follow (mirror) a library and every library it includes. The daemon fetches
each new version as it appears, verifies its signature and licences, pins it,
and then serves and announces it: every mirror is a read-only public copy.

Policies:
  (default)      every version of every bundle: the archival mirror
  --latest       only each bundle's newest version
  --quota SIZE   newest versions first, then older ones, up to SIZE
                 (e.g. 20GiB, 500MB; counted by the bundles' file sizes)

Following again replaces the policy. An interrupted mirror resumes from the
blocks it has; nothing is pinned before it is complete and verified. Without
a running daemon the follow is recorded and the daemon mirrors at its start.
'commons mirror status' shows the progress.`,
		Args: args(1, "a library name"),
		RunE: a.withService(func(ctx context.Context, svc api.Service, argv []string) error {
			p, err := policyFlags(latest, quota)
			if err != nil {
				return err
			}
			info, err := svc.Follow(ctx, argv[0], p)
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(info)
			}
			verb := "Following"
			if info.Replaced {
				verb = "Policy replaced: following"
			}
			desc := map[string]string{api.PolicyAll: "every version", api.PolicyLatest: "newest versions only"}[info.Policy.Mode]
			if info.Policy.Mode == api.PolicyQuota {
				desc = "newest first, up to " + humanBytes(info.Policy.Quota)
			}
			fmt.Fprintf(a.stdout, "%s %s (%s)\n", verb, info.Name, desc)
			if _, daemon := svc.(*api.Client); !daemon && !a.quiet {
				fmt.Fprintln(a.stderr, "No daemon is running: 'commons daemon' starts mirroring it.")
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&latest, "latest", false, "keep only each bundle's newest version")
	cmd.Flags().StringVar(&quota, "quota", "", "keep newest versions first, up to this size (e.g. 20GiB)")
	return cmd
}

func (a *app) unfollowCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "unfollow LIBRARY",
		Short: "Stop mirroring a library; release what nothing else holds",
		Long: `Stop following a library (and the libraries only it included). Pins that no
other followed library and no user pin holds are released; 'commons gc' then
frees the space. Exits 3 if the library is not followed.`,
		Args: args(1, "a library name"),
		RunE: a.withService(func(ctx context.Context, svc api.Service, argv []string) error {
			res, err := svc.Unfollow(ctx, argv[0])
			if err != nil {
				return err
			}
			if a.jsonOut {
				return a.printJSON(res)
			}
			fmt.Fprintf(a.stdout, "Unfollowed %s", res.Name)
			if len(res.Libraries) > 1 {
				fmt.Fprintf(a.stdout, " and %d libraries it included", len(res.Libraries)-1)
			}
			fmt.Fprintf(a.stdout, ": %d versions released, %d kept (held by another library or pinned by you).\n", res.Unpinned, res.Kept)
			if res.Unpinned > 0 && !a.quiet {
				fmt.Fprintln(a.stdout, "Run 'commons gc' to free the space.")
			}
			return nil
		}),
	}
}

func (a *app) mirrorCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "mirror",
		Short: "Followed libraries: progress of the mirrors",
		Args:  args(0, "a subcommand (status)"),
		RunE:  func(cmd *cobra.Command, _ []string) error { return cmd.Help() },
	}
	var once bool
	status := &cobra.Command{
		Use:   "status",
		Short: "Show each followed library's mirror: versions pinned, bytes to go, rate, errors",
		Long: `Show each followed library's mirror: bundles and versions known and wanted by
the policy, versions pinned, bytes done and to go, the current transfer rate,
the last update and the last errors.

In a terminal the display refreshes every second until every library is
current (or Ctrl-C); --once prints it once. With --json (or when the output
is not a terminal) it prints once. Without a running daemon the numbers come
from the local store (state "stopped").

States: resolving (no record yet), fetching, current (everything the policy
wants is pinned), stalled (the last attempts failed; retried with backoff),
stopped (no daemon).`,
		Args: args(0, "no arguments"),
		RunE: a.withService(func(ctx context.Context, svc api.Service, _ []string) error {
			live := !once && !a.jsonOut && !a.quiet && isTerminal(a.stdout)
			if live {
				var stop context.CancelFunc
				ctx, stop = signal.NotifyContext(ctx, syscall.SIGINT, syscall.SIGTERM)
				defer stop()
			}
			lines := 0
			for {
				st, err := svc.MirrorStatus(ctx)
				if err != nil {
					if live && ctx.Err() != nil {
						return nil
					}
					return err
				}
				if a.jsonOut {
					return a.printJSON(st)
				}
				if live && lines > 0 {
					fmt.Fprintf(a.stdout, "\x1b[%dA\x1b[J", lines) // redraw in place
				}
				var b strings.Builder
				writeMirrorStatus(&b, st, a.quiet)
				fmt.Fprint(a.stdout, b.String())
				lines = strings.Count(b.String(), "\n")
				if !live || allCurrent(st) {
					return nil
				}
				select {
				case <-ctx.Done():
					return nil
				case <-time.After(time.Second):
				}
			}
		}),
	}
	status.Flags().BoolVar(&once, "once", false, "print once, even in a terminal")
	cmd.AddCommand(status)
	return cmd
}

func allCurrent(st api.MirrorStatus) bool {
	for _, l := range st.Libraries {
		if l.State != api.MirrorCurrent {
			return false
		}
	}
	return true
}

func writeMirrorStatus(out io.Writer, st api.MirrorStatus, quiet bool) {
	if len(st.Libraries) == 0 {
		fmt.Fprintln(out, "This node follows no library: 'commons follow LIBRARY' starts a mirror.")
		return
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	if !quiet {
		fmt.Fprintln(w, "LIBRARY\tSTATE\tRECORD\tBUNDLES\tPINNED\tDONE\tTO GO\tRATE\tUPDATED\tPOLICY")
	}
	for _, l := range st.Libraries {
		name := shortID(l.Name)
		if l.Title != "" {
			name += " (" + l.Title + ")"
		}
		if !l.Direct && len(l.Via) > 0 {
			name += " via " + shortID(l.Via[0])
		}
		policy := l.Policy.Mode
		if l.Policy.Mode == api.PolicyQuota {
			policy += " " + humanBytes(l.Policy.Quota)
		}
		updated := "-"
		if !l.LastUpdate.IsZero() {
			updated = time.Since(l.LastUpdate).Round(time.Second).String() + " ago"
		}
		pinned := fmt.Sprintf("%d/%d", l.Pinned, l.Versions)
		if l.Skipped > 0 {
			pinned += fmt.Sprintf(" (%d over quota)", l.Skipped)
		}
		fmt.Fprintf(w, "%s\t%s\t%d\t%d\t%s\t%s\t%s\t%s/s\t%s\t%s\n", name, l.State, l.Sequence, l.Bundles, pinned,
			humanBytes(l.BytesDone), humanBytes(l.BytesToGo), humanBytes(int64(l.Rate)), updated, policy)
	}
	w.Flush()
	for _, l := range st.Libraries {
		for _, e := range l.Errors {
			fmt.Fprintf(out, "  %s: %s\n", shortID(l.Name), e)
		}
	}
}

// policyFlags turns --latest and --quota into a follow policy (all when
// neither is given).
func policyFlags(latest bool, quota string) (api.FollowPolicy, error) {
	switch {
	case latest && quota != "":
		return api.FollowPolicy{}, usageError{fmt.Errorf("--latest and --quota exclude each other")}
	case latest:
		return api.FollowPolicy{Mode: api.PolicyLatest}, nil
	case quota != "":
		q, err := parseSize(quota)
		if err != nil {
			return api.FollowPolicy{}, usageError{fmt.Errorf("--quota %q: %w", quota, err)}
		}
		return api.FollowPolicy{Mode: api.PolicyQuota, Quota: q}, nil
	}
	return api.FollowPolicy{Mode: api.PolicyAll}, nil
}

// parseSize reads a size such as 500MB, 20GiB, 1.5TB or 1048576 (bytes).
// KB, MB, GB, TB are powers of 1000; KiB, MiB, GiB, TiB (and K, M, G, T)
// powers of 1024.
func parseSize(s string) (int64, error) {
	s = strings.TrimSpace(s)
	lower := strings.ToLower(s)
	mult := 1.0
	for _, u := range []struct {
		suffix string
		mult   float64
	}{
		{"kib", 1 << 10}, {"mib", 1 << 20}, {"gib", 1 << 30}, {"tib", 1 << 40},
		{"kb", 1e3}, {"mb", 1e6}, {"gb", 1e9}, {"tb", 1e12},
		{"k", 1 << 10}, {"m", 1 << 20}, {"g", 1 << 30}, {"t", 1 << 40}, {"b", 1},
	} {
		if strings.HasSuffix(lower, u.suffix) {
			s, mult = strings.TrimSpace(s[:len(s)-len(u.suffix)]), u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil || v <= 0 || v*mult > 1<<62 {
		return 0, fmt.Errorf("not a size: use a number with B, KB, MB, GB, TB, KiB, MiB, GiB or TiB")
	}
	return int64(v * mult), nil
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/commons-p2p/commons/gateway/api"
)

func (a *app) statsCommand() *cobra.Command {
	var top int
	cmd := &cobra.Command{
		Use:   "stats [--top N]",
		Short: "Show the reach of the bundles this node holds: page views and downloads per version",
		Long: `Show how often the design pages on this node's gateway showed each bundle
version and how often it was downloaded: as a zip or a CAR from its page, or
file by file with the page's download links. Bundles with the most downloads
come first, then the most page views; each bundle's versions newest first.

Only versions this node holds (pinned) are counted. The daemon writes the
counts to the store every few seconds; without a running daemon this shows
what it last wrote. The same counts are exported as Prometheus counters at
GET /metrics on the API address (docs/operations.md).`,
		Args: args(0, "no arguments"),
		PreRunE: func(*cobra.Command, []string) error {
			if top < 0 {
				return usageError{errors.New("--top wants 0 (all) or more")}
			}
			return nil
		},
		RunE: a.withService(func(ctx context.Context, svc api.Service, _ []string) error {
			st, err := svc.Stats(ctx)
			if err != nil {
				return err
			}
			if top > 0 && len(st.Bundles) > top {
				st.Bundles = st.Bundles[:top]
			}
			if a.jsonOut {
				return a.printJSON(st)
			}
			return writeStats(a.stdout, st, a.quiet)
		}),
	}
	cmd.Flags().IntVar(&top, "top", 10, "show the first N bundles; 0 shows all")
	return cmd
}

// writeStats prints one line per bundle with its totals, then one line per
// version. Counts come first, right-aligned; names and CIDs follow.
func writeStats(out io.Writer, st api.Stats, quiet bool) error {
	if len(st.Bundles) == 0 {
		if quiet {
			return nil
		}
		_, err := fmt.Fprintln(out, "Nothing counted yet: page views and downloads are counted when people read\nthe design pages on this node's gateway.")
		return err
	}
	w := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	if !quiet {
		fmt.Fprintln(w, "VIEWS\tDOWNLOADS\tZIP\tCAR\tFILE\t  BUNDLE")
	}
	for _, b := range st.Bundles {
		var sum api.DownloadCounts
		for _, v := range b.Versions {
			sum.Zip += v.Downloads.Zip
			sum.CAR += v.Downloads.CAR
			sum.File += v.Downloads.File
		}
		name := b.Name
		if !quiet {
			if b.Title != "" && b.Title != b.Name {
				name += ": " + b.Title
			}
			name += " (publisher " + shortID(b.Publisher) + ")"
		}
		fmt.Fprintf(w, "%d\t%d\t%d\t%d\t%d\t  %s\n", b.Views, b.Downloads, sum.Zip, sum.CAR, sum.File, name)
		for _, v := range b.Versions {
			d := v.Downloads
			label := fmt.Sprintf("  version %d", v.Sequence)
			if v.Version != "" {
				label += " (" + v.Version + ")"
			}
			fmt.Fprintf(w, "%d\t%d\t%d\t%d\t%d\t  %s  %s\n", v.Views, d.Total(), d.Zip, d.CAR, d.File, label, v.CID)
		}
	}
	return w.Flush()
}

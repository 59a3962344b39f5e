package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/commons-p2p/commons/gateway/api"
	"github.com/commons-p2p/commons/pkg/sneakernet"
)

// partialError is an export that wrote its CAR without some versions: the
// file is put in place, and the exit code is exitPartial.
type partialError struct{ error }

func (a *app) haveCommand() *cobra.Command {
	var out string
	cmd := &cobra.Command{
		Use:   "have [-o FILE]",
		Short: "Write what this node holds of the libraries it follows, for a sneakernet export",
		Long: `Write this node's have-file: a small binary file (dag-cbor, "commons/have/1")
that lists every library this node follows (directly or through an include),
each with the newest record it holds, its follow policy, and the bundle
versions it holds pinned.

Carry it to a node that has the network and the libraries, and there:
  commons export --for have.file -o delta.car
writes only what this node lacks. Bring delta.car back and:
  commons import delta.car

The have-file goes to standard output (which must not be a terminal) unless
-o FILE is given; then a summary goes to stderr, or with --json to stdout.`,
		Args: args(0, "no arguments"),
		PreRunE: func(*cobra.Command, []string) error {
			if out == "" || out == "-" {
				if isTerminal(a.stdout) {
					return usageError{errors.New("the have-file is binary and standard output is a terminal: give -o FILE or redirect it")}
				}
				if a.jsonOut {
					return usageError{errors.New("--json prints a summary on standard output: write the have-file with -o FILE")}
				}
			}
			return nil
		},
		RunE: a.withService(func(ctx context.Context, svc api.Service, _ []string) error {
			b, err := svc.Have(ctx)
			if err != nil {
				return err
			}
			h, err := sneakernet.DecodeHave(b)
			if err != nil {
				return fmt.Errorf("have: the node wrote a have-file that does not decode: %w", err)
			}
			if out == "" {
				out = "-"
			}
			if err := a.writeOutput(out, "have", func(w io.Writer) error {
				_, err := w.Write(b)
				return err
			}); err != nil {
				return err
			}
			if out == "-" {
				return nil
			}
			type lib struct {
				Name     string           `json:"name"`
				Sequence int64            `json:"sequence"`
				Policy   api.FollowPolicy `json:"policy"`
				Versions int              `json:"versions"`
			}
			summary := struct {
				File      string `json:"file"`
				Bytes     int    `json:"bytes"`
				Libraries []lib  `json:"libraries"`
			}{File: out, Bytes: len(b), Libraries: []lib{}}
			for _, l := range h.Libraries {
				summary.Libraries = append(summary.Libraries, lib{l.Name, l.Sequence, api.FollowPolicy{Mode: l.Policy.Mode, Quota: l.Policy.Quota}, len(l.Versions)})
			}
			if a.jsonOut {
				return a.printJSON(summary)
			}
			if a.quiet {
				return nil
			}
			versions := 0
			for _, l := range summary.Libraries {
				versions += l.Versions
			}
			fmt.Fprintf(a.stderr, "%d libraries, %d versions held, %s\n", len(summary.Libraries), versions, humanBytes(int64(len(b))))
			for _, l := range summary.Libraries {
				fmt.Fprintf(a.stderr, "  %s  record %d, %d versions, policy %s\n", l.Name, l.Sequence, l.Versions, l.Policy.Mode)
			}
			if len(summary.Libraries) == 0 {
				fmt.Fprintln(a.stderr, "This node follows no library: 'commons follow LIBRARY' first (it works offline).")
			}
			return nil
		}),
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "file to write (default: standard output)")
	return cmd
}

// readHaveFile reads a have-file given on the command line.
func readHaveFile(name string) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("export --for: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, sneakernet.MaxHaveSize+1))
	if err != nil {
		return nil, fmt.Errorf("export --for %s: %w", name, err)
	}
	if _, err := sneakernet.DecodeHave(b); err != nil {
		return nil, fmt.Errorf("export --for %s: %w: %w", name, api.ErrInvalid, err)
	}
	return b, nil
}

// exportLibraries runs a sneakernet export into out and reports it: on
// stderr (or as JSON on stdout), naming what was left out; a partial
// export still writes its file and exits exitPartial.
func (a *app) exportLibraries(ctx context.Context, svc api.Service, opts api.LibraryExportOptions, out string) error {
	var res api.LibraryExportResult
	err := a.writeOutput(out, "export", func(w io.Writer) error {
		pr := a.progress("export", 0)
		var err error
		res, err = svc.ExportLibraries(ctx, opts, w, pr.update)
		pr.done()
		if err != nil {
			return err
		}
		if res.Missing > 0 {
			return partialError{fmt.Errorf("export is partial: %d versions wanted are not stored completely on this node and were left out (listed above); the CAR carries the rest. Mirror them here first ('commons mirror status') for a complete export", res.Missing)}
		}
		return nil
	})
	var partial partialError
	if err != nil && !errors.As(err, &partial) {
		return err
	}
	if a.jsonOut {
		if perr := a.printJSON(res); perr != nil {
			return perr
		}
		return err
	}
	if a.quiet && err == nil {
		return nil
	}
	w := a.stderr
	fmt.Fprintf(w, "export %s: %d blocks, %s\n", res.Manifest, res.Blocks, humanBytes(res.Bytes))
	for _, l := range res.Libraries {
		name := l.Name
		if l.Title != "" {
			name += " (" + l.Title + ")"
		}
		if !l.Included {
			fmt.Fprintf(w, "  %s: left out: %s\n", name, l.Reason)
			continue
		}
		fmt.Fprintf(w, "  %s: record %d, %d versions", name, l.Sequence, l.Versions)
		if l.Held > 0 {
			fmt.Fprintf(w, " (%d more held by the receiver already)", l.Held)
		}
		fmt.Fprintf(w, ", policy %s\n", l.Policy.Mode)
		for _, m := range l.Missing {
			if m.Root.Defined() {
				fmt.Fprintf(w, "    missing %s v%d %s: %s\n", m.Bundle, m.Sequence, m.Root, m.Reason)
			} else {
				fmt.Fprintf(w, "    missing: %s\n", m.Reason)
			}
		}
		if l.MissingCount > len(l.Missing) {
			fmt.Fprintf(w, "    ... and %d more missing\n", l.MissingCount-len(l.Missing))
		}
	}
	return err
}

// printImported reports what an export CAR's import did.
func (a *app) printImported(res api.ImportResult) {
	for _, l := range res.Libraries {
		name := l.Name
		if l.Title != "" {
			name += " (" + l.Title + ")"
		}
		if l.Skipped != "" {
			fmt.Fprintf(a.stdout, "library %s: skipped: %s\n", name, l.Skipped)
			continue
		}
		var parts []string
		if l.Followed {
			parts = append(parts, "now followed")
		}
		parts = append(parts, fmt.Sprintf("record %d %s", l.Sequence, l.Record))
		parts = append(parts, fmt.Sprintf("%d versions pinned", len(l.Pinned)))
		if l.Held > 0 {
			parts = append(parts, fmt.Sprintf("%d held already", l.Held))
		}
		if l.Unwanted > 0 {
			parts = append(parts, fmt.Sprintf("%d not kept by the policy", l.Unwanted))
		}
		if l.Missing > 0 {
			parts = append(parts, fmt.Sprintf("%d still missing (the daemon fetches them when it has peers)", l.Missing))
		}
		fmt.Fprintf(a.stdout, "library %s: %s\n", name, strings.Join(parts, ", "))
		for _, r := range l.Refused {
			fmt.Fprintf(a.stdout, "  not pinned: %s\n", r)
		}
		if !a.quiet {
			for _, c := range l.Pinned {
				fmt.Fprintf(a.stdout, "  pinned %s\n", c)
			}
		}
	}
}

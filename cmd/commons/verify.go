package main

import (
	"context"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/commons-p2p/commons/gateway/api"
)

func (a *app) verifyCommand() *cobra.Command {
	var repair bool
	cmd := &cobra.Command{
		Use:   "verify [--repair]",
		Short: "Re-hash every stored block and check that every pin is complete",
		Long: `Re-hash every stored block (a block whose bytes no longer hash to its CID is
corrupt: a failing disk, a bad copy) and check that every pinned DAG is
complete. No gc runs meanwhile.

With --repair (the daemon must run) corrupt blocks are deleted, and what
pins lack is fetched again from peers, every block checked on arrival;
corrupt blocks no pin needs are only deleted. What cannot be repaired (no
peer has it within fetch.timeout) is listed.

Exits 0 when nothing is wrong (any more), 7 when damage remains.`,
		Args: args(0, "no arguments"),
		RunE: a.withService(func(ctx context.Context, svc api.Service, _ []string) error {
			pl := a.progress("verify", 0)
			res, err := svc.Verify(ctx, api.VerifyOptions{Repair: repair}, pl.update)
			pl.done()
			if err != nil {
				return err
			}
			if a.jsonOut {
				if err := a.printJSON(res); err != nil {
					return err
				}
			} else {
				fmt.Fprintf(a.stdout, "checked %d blocks (%s) and %d pins: %d corrupt blocks, %d incomplete pins\n",
					res.Blocks, humanBytes(res.Bytes), res.Pins, len(res.Corrupt), len(res.Incomplete))
				if repair {
					fmt.Fprintf(a.stdout, "repaired: %d blocks fetched again, %d corrupt blocks no pin needed deleted\n", res.Repaired, res.Removed)
				}
				for _, u := range res.Unrepaired {
					fmt.Fprintf(a.stdout, "  %s\n", u)
				}
				switch {
				case res.OK && (len(res.Corrupt) > 0 || len(res.Incomplete) > 0):
					fmt.Fprintln(a.stdout, "the repo is whole again")
				case res.OK:
					fmt.Fprintln(a.stdout, "the repo is whole")
				case !repair:
					fmt.Fprintln(a.stdout, "run 'commons verify --repair' with the daemon running to fetch what is damaged from peers")
				}
			}
			if !res.OK {
				return fmt.Errorf("%w: %d problems remain", api.ErrDamaged, len(res.Unrepaired))
			}
			return nil
		}),
	}
	cmd.Flags().BoolVar(&repair, "repair", false, "delete corrupt blocks and fetch what pins lack from peers (needs the daemon)")
	return cmd
}

package main

import (
	"fmt"
	"sort"
	"time"

	"github.com/spf13/cobra"

	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/store"
)

func init() { register(newSyncCmd) }

func newSyncCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "sync", Short: "Show Odoo change capture and task ↔ card sync (works on the database directly)"}
	var asJSON bool
	var state string
	status := &cobra.Command{
		Use:   "status",
		Short: "Count sync links by state, show change-capture cursors and list conflicts",
		Example: `  ipai sync status
  ipai sync status --state error --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			switch state {
			case "", store.SyncSynced, store.SyncPending, store.SyncConflict, store.SyncError:
			default:
				return fmt.Errorf("--state %q: expected synced, pending, conflict or error", state)
			}
			return withStore(cmd.Context(), func(db *store.DB, _ config.Config) error {
				counts, err := db.SyncLinkCounts(cmd.Context())
				if err != nil {
					return err
				}
				cursors, err := db.SyncCursors(cmd.Context())
				if err != nil {
					return err
				}
				show := state
				if show == "" {
					show = store.SyncConflict
				}
				links, err := db.ListSyncLinks(cmd.Context(), store.SyncLinkFilter{State: show, Limit: 200})
				if err != nil {
					return err
				}
				if asJSON {
					if links == nil {
						links = []store.SyncLink{}
					}
					return printJSON(cmd.OutOrStdout(), map[string]any{"links": counts, "cursors": cursors, show: links})
				}
				out := cmd.OutOrStdout()
				fmt.Fprintf(out, "links: %d synced, %d pending, %d conflict, %d error\n", counts[store.SyncSynced],
					counts[store.SyncPending], counts[store.SyncConflict], counts[store.SyncError])
				names := make([]string, 0, len(cursors))
				for n := range cursors {
					names = append(names, n)
				}
				sort.Strings(names)
				for _, n := range names {
					fmt.Fprintf(out, "cursor %s: %s\n", n, cursors[n])
				}
				if len(links) == 0 {
					return nil
				}
				fmt.Fprintf(out, "\n%s links:\n", show)
				w := newTable(out, "ID\tPAIR\tTASK\tCARD\tSINCE\tERROR")
				for _, l := range links {
					w.Row("%s\t%s\t%s\t%s\t%s\t%s", l.ID, l.Pair, l.LocalID, l.RemoteID, l.UpdatedAt.Local().Format(time.DateTime), l.LastError)
				}
				return w.Flush()
			})
		},
	}
	status.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	status.Flags().StringVar(&state, "state", "", "list links in this state (default: conflict)")
	cmd.AddCommand(status)
	return cmd
}

package main

import (
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/store"
)

func init() { register(newEventsCmd) }

func newEventsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "events", Short: "Keep the event store (works on the database directly)"}
	var days int
	purge := &cobra.Command{
		Use: "purge",
		Short: "Delete events older than the retention whose deliveries all finished, with those deliveries and " +
			"their attempts, and expired dedupe keys; serve runs this hourly",
		Example: `  ipai events purge                      # delivery.retention_days (default 30)
  ipai events purge --days 7 --config ipai.yaml`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd.Context(), func(db *store.DB, cfg config.Config) error {
				if !cmd.Flags().Changed("days") {
					days = cfg.Delivery.RetentionDays
				}
				if days < 2 {
					return fmt.Errorf("--days %d is too small; expected at least 2 (longer than the 24 h dedupe window)", days)
				}
				now := time.Now()
				p, err := db.PurgeEvents(cmd.Context(), now.Add(-time.Duration(days)*24*time.Hour))
				if err != nil {
					return fmt.Errorf("purge events (%d deleted before the error; run it again): %w", p.Events, err)
				}
				keys, err := db.PurgeEventKeys(cmd.Context(), now)
				if err != nil {
					return err
				}
				msg := fmt.Sprintf("purged %d events older than %d days, %d deliveries, %d attempts, %d expired dedupe keys",
					p.Events, days, p.Deliveries, p.Attempts, keys)
				if err := writeAudit(cmd.Context(), db, audit.Entry{Action: "events.purge", Message: msg}); err != nil {
					return err
				}
				cmd.Println(msg)
				return nil
			})
		},
	}
	purge.Flags().IntVar(&days, "days", 0, "retention in days (default: delivery.retention_days)")
	cmd.AddCommand(purge)
	return cmd
}

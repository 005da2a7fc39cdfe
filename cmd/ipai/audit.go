package main

import (
	"errors"
	"fmt"
	"net/url"
	"time"

	"github.com/spf13/cobra"

	"github.com/insightpulseai/ipai/internal/api"
	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/store"
)

func init() { register(newAuditCmd) }

func newAuditCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "audit", Short: "Read, verify and purge the audit log (works on the database directly)"}

	var level, action, target, actor, since, until string
	var limit int
	var asJSON bool
	list := &cobra.Command{
		Use:   "list",
		Short: "List audit entries, newest first",
		Example: `  ipai audit list --level warning
  ipai audit list --action 'token.*' --since 2026-11-01T00:00:00Z --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q := url.Values{}
			for k, v := range map[string]string{"level": level, "action": action, "target": target, "actor": actor, "since": since, "until": until} {
				if v != "" {
					q.Set(k, v)
				}
			}
			q.Set("limit", fmt.Sprint(limit))
			f, err := api.ParseAuditFilter(q)
			if err != nil {
				return fmt.Errorf("--%v", err)
			}
			return withStore(cmd.Context(), func(db *store.DB, _ config.Config) error {
				rows, err := db.ListAudit(cmd.Context(), f)
				if err != nil {
					return err
				}
				if asJSON {
					return printJSON(cmd.OutOrStdout(), rows)
				}
				w := newTable(cmd.OutOrStdout(), "SEQ\tTIME\tLEVEL\tACTION\tACTOR\tTARGET\tMESSAGE")
				for _, e := range rows {
					w.Row("%d\t%s\t%s\t%s\t%s\t%s\t%s", e.Seq, e.At.Local().Format(time.DateTime), e.Level, e.Action, e.Actor, e.Target, e.Message)
				}
				return w.Flush()
			})
		},
	}
	list.Flags().StringVar(&level, "level", "", "debug, info, warning or error")
	list.Flags().StringVar(&action, "action", "", "action, or a prefix ending in * (e.g. 'token.*')")
	list.Flags().StringVar(&target, "target", "", "target, e.g. a connector code")
	list.Flags().StringVar(&actor, "actor", "", "actor id")
	list.Flags().StringVar(&since, "since", "", "RFC 3339 time")
	list.Flags().StringVar(&until, "until", "", "RFC 3339 time")
	list.Flags().IntVar(&limit, "limit", 50, "at most this many entries (1-1000)")
	list.Flags().BoolVar(&asJSON, "json", false, "print JSON")

	verify := &cobra.Command{
		Use:   "verify",
		Short: "Recompute the hash chain; exits 1 and names the first bad entry when it was tampered with",
		Example: `  ipai audit verify
  ipai audit verify --db postgres://ipai@db/ipai`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd.Context(), func(db *store.DB, _ config.Config) error {
				rep, err := audit.Verify(cmd.Context(), db)
				var p *audit.Problem
				if errors.As(err, &p) {
					return &exitError{code: 1, msg: p.Error()}
				}
				if err != nil {
					return err
				}
				cmd.Printf("audit chain intact: %d entries, %d purge gaps accounted for; head %d %s\n", rep.Entries, rep.Gaps, rep.HeadSeq, rep.HeadHash)
				return nil
			})
		},
	}

	purge := &cobra.Command{
		Use:   "purge",
		Short: "Delete debug/info entries older than the retention (warning/error are kept); serve runs this daily",
		Example: `  ipai audit purge
  ipai audit purge --config ipai.yaml   # audit.retention_days from the file`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd.Context(), func(db *store.DB, cfg config.Config) error {
				res, err := audit.Purge(cmd.Context(), db, time.Duration(cfg.Audit.RetentionDays)*24*time.Hour, time.Now())
				if err != nil {
					return err
				}
				cmd.Printf("purged %d entries older than %d days", res.Deleted, cfg.Audit.RetentionDays)
				if res.Checkpoint > 0 {
					cmd.Printf("; checkpoint entry %d", res.Checkpoint)
				}
				cmd.Println()
				return nil
			})
		},
	}
	cmd.AddCommand(list, verify, purge)
	return cmd
}

package main

import (
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/mcpserver"
	"github.com/insightpulseai/ipai/internal/store"
)

func init() { register(newTokenCmd) }

func newTokenCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "token", Short: "Create, list and revoke API tokens (works on the database directly)"}

	var name, role, scopes string
	var ttl time.Duration
	create := &cobra.Command{
		Use:   "create",
		Short: "Create an API token; it is printed once",
		Example: `  ipai token create --name ci --role admin
  ipai token create --name grafana --role user --ttl 720h
  ipai token create --name agent --role user --scopes mcp:odoo:read,mcp:odoo:write`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := auth.ParseRole(role)
			if err != nil {
				return fmt.Errorf("--role: %v", err)
			}
			return withStore(cmd.Context(), func(db *store.DB, _ config.Config) error {
				sc := splitList(strings.Split(scopes, ","))
				raw, rec, err := auth.NewTokens(db).Create(cmd.Context(), auth.CreateOptions{Name: name, Role: r, Scopes: sc, Known: mcpserver.Scopes(), CreatedBy: "cli", TTL: ttl})
				if err != nil {
					if msg, ok := strings.CutPrefix(err.Error(), "scopes: "); ok {
						return fmt.Errorf("--scopes: %s", msg)
					}
					return err
				}
				if err := writeAudit(cmd.Context(), db, audit.Entry{Action: "token.create", Target: rec.ID,
					Message: "token " + rec.Name + " created with role " + rec.Role}); err != nil {
					return err
				}
				cmd.Println(raw)
				cmd.PrintErrf("token %s (id %s, role %s) created; store it now: it is not shown again\n", rec.Name, rec.ID, rec.Role)
				if r == auth.RoleAdmin {
					cmd.PrintErrln("note: an admin token carries every MCP scope, including every :write scope, whatever --scopes says; " +
						"give an agent a user token with only the scopes it needs (--role user --scopes mcp:odoo:read)")
				}
				return nil
			})
		},
	}
	create.Flags().StringVar(&name, "name", "", "what or who uses the token (required)")
	create.Flags().StringVar(&role, "role", "", "user (read), manager (configure) or admin (required)")
	create.Flags().StringVar(&scopes, "scopes", "", "comma-separated MCP scopes mcp:<server>:read|write, e.g. mcp:odoo:read (admin tokens carry all)")
	create.Flags().DurationVar(&ttl, "ttl", 0, "expire after this long (e.g. 720h); default never")
	_ = create.MarkFlagRequired("name")
	_ = create.MarkFlagRequired("role")

	list := &cobra.Command{
		Use:     "list",
		Short:   "List tokens (never their values)",
		Example: "  ipai token list",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd.Context(), func(db *store.DB, _ config.Config) error {
				toks, err := db.ListTokens(cmd.Context())
				if err != nil {
					return err
				}
				w := newTable(cmd.OutOrStdout(), "ID\tNAME\tROLE\tPREFIX\tCREATED\tLAST USED\tSTATE")
				for _, t := range toks {
					state := "active"
					if !t.RevokedAt.IsZero() {
						state = "revoked"
					} else if !t.ExpiresAt.IsZero() && time.Now().After(t.ExpiresAt) {
						state = "expired"
					}
					w.Row("%s\t%s\t%s\t%s…\t%s\t%s\t%s", t.ID, t.Name, t.Role, t.Prefix,
						t.CreatedAt.Format(time.DateTime), fmtTime(t.LastUsedAt), state)
				}
				return w.Flush()
			})
		},
	}

	revoke := &cobra.Command{
		Use:     "revoke ID",
		Short:   "Revoke a token",
		Example: "  ipai token revoke 0193a2b4-…",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return withStore(cmd.Context(), func(db *store.DB, _ config.Config) error {
				if err := db.RevokeToken(cmd.Context(), args[0], time.Now()); err != nil {
					return fmt.Errorf("revoke %s: %w (see `ipai token list` for ids)", args[0], err)
				}
				if err := writeAudit(cmd.Context(), db, audit.Entry{Action: "token.revoke", Target: args[0]}); err != nil {
					return err
				}
				cmd.Printf("token %s revoked\n", args[0])
				return nil
			})
		},
	}
	cmd.AddCommand(create, list, revoke)
	return cmd
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.Local().Format(time.DateTime)
}

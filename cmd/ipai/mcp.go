package main

import (
	"fmt"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/spf13/cobra"

	"github.com/insightpulseai/ipai/internal/app"
	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/mcpserver"
	"github.com/insightpulseai/ipai/internal/outbound"
)

func init() { register(newMcpCmd) }

func newMcpCmd() *cobra.Command {
	var scopes []string
	var write bool
	var policyPath, repo string
	cmd := &cobra.Command{
		Use:   "mcp SERVER",
		Short: "Serve one MCP server over stdio (" + strings.Join(mcpserver.Names, ", ") + ")",
		Long: `Serve one MCP server over stdio for an AI agent. ipai serve mounts the same servers over
Streamable HTTP at /mcp/{server}, with bearer tokens carrying MCP scopes.

Services come from the environment: ODOO_URL, ODOO_DB, ODOO_USERNAME, ODOO_API_KEY;
SUPERSET_URL, SUPERSET_USERNAME, SUPERSET_PASSWORD; N8N_URL, N8N_API_KEY; DIGITALOCEAN_TOKEN.
Tool calls are written to the audit log of the configured store (--db / --config).
Over stdio the caller may read; writes need --write (scope mcp:SERVER:write), and Odoo
writes also need the model in the policy's odoo.write_models.`,
		Example: `  ODOO_URL=https://erp.example.com ODOO_DB=prod ODOO_USERNAME=bot ODOO_API_KEY=… ipai mcp odoo
  ipai mcp odoo --write --mcp-policy /etc/ipai/mcp-policy.yaml
  ipai mcp speckit --repo ~/src/platform`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: mcpserver.Names,
		RunE: func(cmd *cobra.Command, args []string) error {
			name := args[0]
			if !slices.Contains(mcpserver.Names, name) {
				return fmt.Errorf("unknown MCP server %q; choose one of: %s", name, strings.Join(mcpserver.Names, ", "))
			}
			ctx := cmd.Context()
			db, cfg, err := openStore(ctx)
			if err != nil {
				return fmt.Errorf("open the store for the audit log: %w", err)
			}
			defer db.Close()
			// Flag > environment > file, as for every setting.
			if policyPath == "" {
				policyPath = cfg.MCP.Policy
			}
			if repo == "" {
				repo = cfg.MCP.SpecRepo
			}
			policy, err := mcpserver.LoadPolicy(policyPath)
			if err != nil {
				return err
			}
			guard, err := outbound.New(cfg.Outbound.Allow)
			if err != nil {
				return fmt.Errorf("outbound.allow: %w", err)
			}
			alog := audit.New(db)
			defer alog.Close()
			if len(scopes) == 0 {
				scopes = []string{mcpserver.ReadScope(name)}
			}
			if write {
				scopes = append(scopes, mcpserver.WriteScope(name))
			}
			log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
			env := &mcpserver.Env{Audit: alog, Local: mcpserver.LocalPrincipal(scopes), Log: log, Version: app.Version}
			defer env.Flush()
			d := mcpserver.Deps{Env: env, Policy: policy, SpecRepo: repo, Guard: guard}
			if err := mcpserver.ClientsFromEnv(ctx, &d); err != nil {
				return err
			}
			if name == mcpserver.Pulser {
				d.Pulser = &mcpserver.PulserService{DB: db, N8N: d.N8N, HTTP: guard.Client(outbound.Options{Timeout: 5 * time.Minute})}
				defer d.Pulser.Wait()
			}
			srv, err := d.Build(name)
			if err != nil {
				return err
			}
			return srv.Run(ctx, &mcp.StdioTransport{})
		},
	}
	cmd.Flags().StringSliceVar(&scopes, "scopes", nil, "scopes of the local caller (default mcp:SERVER:read)")
	cmd.Flags().BoolVar(&write, "write", false, "allow write tools (adds mcp:SERVER:write)")
	cmd.Flags().StringVar(&policyPath, "mcp-policy", "", "MCP policy file: allow-lists and rate limit (env IPAI_MCP_POLICY; mcp.policy)")
	cmd.Flags().StringVar(&repo, "repo", "", "repository folder of the speckit server (env IPAI_SPEC_REPO; mcp.spec_repo; default the working directory)")
	return cmd
}

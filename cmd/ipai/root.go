package main

import (
	"os"

	"github.com/spf13/cobra"
)

// commands holds the constructors of the top-level subcommands; each file of
// this package registers its own in an init function, so adding a command
// never touches this file.
var commands []func() *cobra.Command

func register(f func() *cobra.Command) { commands = append(commands, f) }

// globalFlags are shared by every command.
type globalFlags struct {
	config string
	db     string
}

var global globalFlags

func newRootCmd() *cobra.Command {
	root := &cobra.Command{
		Use:   "ipai",
		Short: "InsightPulse AI platform: the hub, the stack tools and the MCP servers",
		Long: `ipai ties an Odoo CE ERP to its ops stack (Mattermost, Focalboard, n8n, Superset,
Keycloak, Supabase, Caddy) and keeps them running.`,
		Example:       "  ipai serve\n  ipai config check --config ipai.yaml\n  ipai token create --name ci --role admin",
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.PersistentFlags().StringVar(&global.config, "config", "", "path of ipai.yaml (env IPAI_CONFIG; none needed)")
	root.PersistentFlags().StringVar(&global.db, "db", "", "database URL: postgres://… or a SQLite path / sqlite:PATH (env IPAI_DATABASE_URL; default ./data/ipai.db)")
	root.SetOut(os.Stdout) // cobra prints to stderr unless told otherwise
	for _, f := range commands {
		root.AddCommand(f())
	}
	return root
}

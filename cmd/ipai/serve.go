package main

import (
	"context"
	"os"

	"github.com/spf13/cobra"

	"github.com/insightpulseai/ipai/internal/app"
	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/buildinfo"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/store"
)

func init() {
	register(newServeCmd)
	register(newMigrateCmd)
	register(newVersionCmd)
}

// loadConfig reads the config and applies the global flags.
func loadConfig() (config.Config, error) {
	cfg, err := config.Load(global.config)
	if err != nil {
		return cfg, err
	}
	if global.db != "" {
		cfg.Database.URL = global.db
	}
	return cfg, cfg.Validate()
}

// openStore opens and migrates the configured database for CLI commands that
// work on the store directly (they work before the server ever ran).
func openStore(ctx context.Context) (*store.DB, config.Config, error) {
	cfg, err := loadConfig()
	if err != nil {
		return nil, cfg, err
	}
	db, err := app.OpenStore(ctx, cfg)
	return db, cfg, err
}

// withStore runs f on the opened store and closes it afterwards.
func withStore(ctx context.Context, f func(db *store.DB, cfg config.Config) error) error {
	db, cfg, err := openStore(ctx)
	if err != nil {
		return err
	}
	defer db.Close()
	return f(db, cfg)
}

// writeAudit writes e, as done by the CLI (actor "cli"), to the audit log of db.
func writeAudit(ctx context.Context, db *store.DB, e audit.Entry) error {
	al := audit.New(db)
	defer al.Close()
	e.Actor = "cli"
	return al.Write(ctx, e)
}

func newServeCmd() *cobra.Command {
	var addr string
	var setupPublic bool
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Run the hub: REST API, webhooks, workers",
		Example: `  ipai serve
  ipai serve --addr :8080 --db postgres://ipai:secret@localhost/ipai
  IPAI_CONFIG=/etc/ipai/ipai.yaml ipai serve`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			if addr != "" {
				cfg.Listen = addr
				if err := cfg.Validate(); err != nil {
					return err
				}
			}
			app.TuneGC()
			a, err := app.New(cmd.Context(), cfg, os.Stderr)
			if err != nil {
				return err
			}
			defer a.Close()
			if a.UI != nil {
				a.UI.SetupPublic = setupPublic
			}
			return a.Run(cmd.Context())
		},
	}
	cmd.Flags().StringVar(&addr, "addr", "", "listen address host:port (env IPAI_LISTEN; default 127.0.0.1:8080)")
	cmd.Flags().BoolVar(&setupPublic, "setup-public", false, "let the first-run setup URL answer clients other than loopback (e.g. in a container)")
	return cmd
}

func newMigrateCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "migrate",
		Short:   "Apply database migrations (serve also does this at start)",
		Example: "  ipai migrate --db postgres://ipai:secret@localhost/ipai",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := loadConfig()
			if err != nil {
				return err
			}
			db, err := store.Open(cmd.Context(), cfg.DatabaseURL())
			if err != nil {
				return err
			}
			defer db.Close()
			applied, err := db.Migrate(cmd.Context())
			if err != nil {
				return err
			}
			v, _, _ := db.SchemaStatus(cmd.Context())
			cmd.Printf("%s: %d migration(s) applied; schema version %d\n", db.Kind(), len(applied), v)
			return nil
		},
	}
}

func newVersionCmd() *cobra.Command {
	return &cobra.Command{
		Use:     "version",
		Short:   "Print the version, the VCS revision and the Go toolchain of this build",
		Example: "  ipai version",
		Args:    cobra.NoArgs,
		Run: func(cmd *cobra.Command, args []string) {
			cmd.Println("ipai", buildinfo.Current())
		},
	}
}

package main

import (
	"github.com/spf13/cobra"

	"github.com/insightpulseai/ipai/internal/config"
)

func init() { register(newConfigCmd) }

func newConfigCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "config", Short: "Work with ipai.yaml"}
	cmd.AddCommand(&cobra.Command{
		Use:   "check [FILE]",
		Short: "Validate a config file; exits non-zero on errors",
		Example: `  ipai config check ipai.yaml
  ipai config check --config /etc/ipai/ipai.yaml`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			path := global.config
			if len(args) == 1 {
				path = args[0]
			}
			cfg, err := config.Load(path)
			if err != nil {
				return err
			}
			src := cfg.Path
			if src == "" {
				src = "(no file: defaults and environment)"
			}
			cmd.Printf("%s: ok\n", src)
			return nil
		},
	})
	return cmd
}

package main

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/insightpulseai/ipai/internal/chatops"
	"github.com/insightpulseai/ipai/internal/rule/action"
)

func init() { register(newChatOpsCmd) }

func newChatOpsCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "chatops", Short: "Mattermost bots and slash commands"}
	var hubURL string
	var asJSON bool
	reg := &cobra.Command{
		Use:     "register BOT",
		Example: "  ipai chatops register ipai --config ipai.yaml",
		Short:   "Create BOT's slash commands in Mattermost (through its API) and store their tokens",
		Long: `register creates each slash command of BOT in the Mattermost team of the bot's connector
(setting "team"), with the request URL <hub URL>/integrations/slash/BOT/<trigger>, and stores the
command tokens Mattermost returns (sealed). Commands that already exist with the same URL are reused.
Bots declared in ipai.yaml are applied first.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			return withConnectors(ctx, true, func(env *connectorEnv) error {
				base := hubURL
				if base == "" {
					base = env.cfg.BaseURL()
				}
				if !strings.HasPrefix(base, "http://") && !strings.HasPrefix(base, "https://") {
					return fmt.Errorf("--url %q: expected the hub's external URL, e.g. https://ipai.example.com", base)
				}
				co := &chatops.Service{DB: env.svc.DB, Box: env.svc.Box, Audit: env.audit, Clients: action.FromConfigs(env.svc),
					Cfg: env.cfg.ChatOps, BaseURL: base}
				if err := co.Init(ctx); err != nil {
					return err
				}
				if err := co.ApplyConfig(ctx); err != nil {
					return err
				}
				out, err := co.Register(ctx, args[0])
				if asJSON {
					_ = printJSON(cmd.OutOrStdout(), out)
				} else {
					for _, r := range out {
						verb := "created"
						if r.Reused {
							verb = "reused"
						}
						fmt.Fprintf(cmd.OutOrStdout(), "%s %s → %s (token stored)\n", verb, r.Trigger, r.URL)
					}
				}
				return err
			})
		},
	}
	reg.Flags().StringVar(&hubURL, "url", "", "hub URL Mattermost calls (default: public_url from the config)")
	reg.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.AddCommand(reg)
	return cmd
}

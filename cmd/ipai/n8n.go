package main

import (
	"context"
	"fmt"
	"os"

	"github.com/insightpulseai/ipai/internal/connector/n8n"
	"github.com/spf13/cobra"
)

func init() { register(newN8NCmd) }

func newN8NCmd() *cobra.Command {
	var url, key, dir, code string
	var activate bool
	cmd := &cobra.Command{
		Use:   "n8n",
		Short: "Sync n8n workflow JSON between a folder and n8n (public API)",
	}
	cmd.PersistentFlags().StringVar(&url, "url", os.Getenv("IPAI_N8N_URL"), "n8n base URL (env IPAI_N8N_URL)")
	cmd.PersistentFlags().StringVar(&key, "api-key", os.Getenv("IPAI_N8N_API_KEY"), "n8n API key (env IPAI_N8N_API_KEY)")
	cmd.PersistentFlags().StringVar(&dir, "dir", "", "folder of workflow JSON files (required)")
	cmd.PersistentFlags().StringVar(&code, "connector", "", "take URL and API key from this stored n8n connector (instead of --url/--api-key)")
	// client returns the n8n client and what to close when the command is
	// done (a stored connector's client checks the store before it
	// connects to a private address).
	client := func(ctx context.Context) (*n8n.Client, func(), error) {
		if code != "" {
			return n8nFromConnector(ctx, code, dir)
		}
		if url == "" || key == "" {
			return nil, nil, &exitError{code: 2, msg: "n8n URL and API key are needed: --url and --api-key (or IPAI_N8N_URL, IPAI_N8N_API_KEY)"}
		}
		if dir == "" {
			return nil, nil, &exitError{code: 2, msg: "--dir is required"}
		}
		return n8n.New(url, key, nil), func() {}, nil
	}
	export := &cobra.Command{
		Use:   "export --dir DIR",
		Short: "Write every workflow as <name>.json into DIR",
		Example: `  ipai n8n export --url http://127.0.0.1:5678 --api-key "$N8N_KEY" --dir workflows
  ipai n8n export --connector wf --dir workflows`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, done, err := client(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			res, err := n8n.Export(cmd.Context(), c, dir)
			for _, e := range res {
				fmt.Fprintf(cmd.OutOrStdout(), "exported %s (%s) → %s\n", e.Name, e.ID, e.File)
			}
			if err != nil {
				return &exitError{code: 1, msg: "export: " + err.Error()}
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d workflows exported\n", len(res))
			return nil
		},
	}
	imp := &cobra.Command{
		Use:   "import --dir DIR [--activate]",
		Short: "Create or replace (matched by name) the workflows of DIR/*.json",
		Example: `  ipai n8n import --dir workflows --activate
  ipai n8n import --connector wf --dir workflows`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			c, done, err := client(cmd.Context())
			if err != nil {
				return err
			}
			defer done()
			res, err := n8n.Import(cmd.Context(), c, dir, n8n.ImportOptions{Activate: activate})
			for _, r := range res {
				act := ""
				if r.Activated {
					act = ", activated"
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s %s (%s)%s\n", r.Action, r.Name, r.ID, act)
			}
			if err != nil {
				return &exitError{code: 1, msg: "import: " + err.Error()}
			}
			return nil
		},
	}
	imp.Flags().BoolVar(&activate, "activate", false, "activate each imported workflow")
	cmd.AddCommand(export, imp)
	return cmd
}

// n8nFromConnector builds an n8n client from a stored n8n connector: its
// base URL and sealed API key, through the outbound guard.
func n8nFromConnector(ctx context.Context, code, dir string) (_ *n8n.Client, done func(), err error) {
	if dir == "" {
		return nil, nil, &exitError{code: 2, msg: "--dir is required"}
	}
	env, err := openConnectors(ctx, true)
	if err != nil {
		return nil, nil, err
	}
	defer func() {
		if err != nil {
			env.close()
		}
	}()
	cfg, err := env.svc.Config(ctx, code)
	if err != nil {
		return nil, nil, &exitError{code: 1, msg: err.Error()}
	}
	if cfg.Type != "n8n" {
		return nil, nil, &exitError{code: 2, msg: fmt.Sprintf("connector %s is a %s connector; --connector needs an n8n one", code, cfg.Type)}
	}
	if cfg.Secret("api_key") == "" {
		return nil, nil, &exitError{code: 2, msg: fmt.Sprintf("connector %s has no api_key secret set; an admin can set it with PATCH /api/v1/connectors/%s", code, code)}
	}
	c := n8n.New(cfg.BaseURL, cfg.Secret("api_key"), env.svc.HTTPClient(cfg))
	if w := cfg.Setting("webhook_url"); w != "" {
		c.SetWebhookBase(w)
	}
	return c, env.close, nil
}

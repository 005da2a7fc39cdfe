package main

import (
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/spf13/cobra"

	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/connector/odoo"
	"github.com/insightpulseai/ipai/internal/odoosource"
	"github.com/insightpulseai/ipai/internal/problem"
)

func init() { register(newOdooCmd) }

func newOdooCmd() *cobra.Command {
	cmd := &cobra.Command{Use: "odoo", Short: "Odoo as an event source: install webhook automation rules"}
	var in odoo.WebhookInstall
	var fields, hubURL string
	install := &cobra.Command{
		Use:   "install-webhooks CONNECTOR --model MODEL --trigger TRIGGER",
		Short: "Create an Odoo automation rule that posts record changes to this hub as odoo.<model>.<verb> events",
		Long: `Creates, through the Odoo API of the connector, a base.automation rule on MODEL with a
"Send Webhook Notification" server action (Odoo 17+) posting to
<hub URL>/integrations/odoo/CONNECTOR?token=<new token>&action=<verb>. The token is
stored here only as a SHA-256. create_date and write_date are always sent, so
on_create_or_write events become odoo.<model>.create or odoo.<model>.write;
on_archive, on_unarchive and on_unlink give odoo.<model>.archive, .unarchive, .unlink.

Odoo sends each notification once (1 s timeout, no retry): while the hub is down
or slow the change is not delivered. Add the watcher this command prints
(sync.watchers in ipai.yaml) as the safety net; its events dedupe against the
webhooks' when it reads the same fields.

With --filter-domain, Odoo makes the domain's fields the trigger fields of an
on_create_or_write rule: it then fires only when one of them changes.`,
		Example: `  ipai odoo install-webhooks odoo --model purchase.order --trigger on_create_or_write --fields name,state,amount_total,partner_id
  ipai odoo install-webhooks odoo --model hr.expense --trigger on_create --url https://hub.example.com`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			code := args[0]
			if in.Model == "" || in.Trigger == "" {
				return &exitError{code: 2, msg: "--model and --trigger are required"}
			}
			in.Fields = strings.Split(fields, ",")
			return installOdooWebhooks(cmd, code, hubURL, in)
		},
	}
	install.Flags().StringVar(&in.Model, "model", "", "Odoo model, e.g. purchase.order (required)")
	install.Flags().StringVar(&in.Trigger, "trigger", "", "on_create, on_write, on_create_or_write, on_unlink, on_archive or on_unarchive (required)")
	install.Flags().StringVar(&fields, "fields", "", "comma-separated fields to send, e.g. name,state,amount_total")
	install.Flags().StringVar(&hubURL, "url", "", "this hub's URL as Odoo reaches it (default: public_url from ipai.yaml)")
	install.Flags().StringVar(&in.FilterDomain, "filter-domain", "", `only records matching this Odoo domain, e.g. [("state", "=", "to approve")]`)
	install.Flags().BoolVar(&in.Replace, "replace", false, "replace an automation rule this command installed before")
	cmd.AddCommand(install)
	return cmd
}

func installOdooWebhooks(cmd *cobra.Command, code, hubURL string, in odoo.WebhookInstall) error {
	ctx := cmd.Context()
	env, err := openConnectors(ctx, true)
	if err != nil {
		return err
	}
	defer env.close()
	if hubURL == "" {
		hubURL = env.cfg.BaseURL()
	}
	svc := &odoosource.Service{DB: env.svc.DB, Connectors: env.svc, Audit: env.audit}
	got, err := svc.Install(ctx, odoosource.Install{Connector: code, HubURL: hubURL, Actor: "cli", WebhookInstall: in})
	if p, ok := problem.As(err); ok && p.Status == http.StatusUnprocessableEntity {
		msg := p.Message
		if p.Field == "hub_url" {
			msg += "; pass --url https://hub.example.com"
		}
		return &exitError{code: 2, msg: msg}
	}
	if errors.Is(err, odoo.ErrInstalled) {
		return &exitError{code: 1, msg: err.Error()}
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(cmd.OutOrStdout(), "installed %q (automation id %d) on %s\n", got.Name, got.AutomationID, got.OdooURL)
	fmt.Fprintf(cmd.OutOrStdout(), "Odoo posts %s to %s (token stored as a hash)\n", strings.Join(got.Fields, ", "), got.HookURL)
	fmt.Fprintf(cmd.OutOrStdout(), "events: odoo.%s.<verb>; route them with rules matching type odoo.%s.*\n", in.Model, in.Model)
	fmt.Fprint(cmd.OutOrStdout(), watcherAdvice(got.Watcher))
	return nil
}

// watcherAdvice tells that Odoo's webhooks are fire-and-forget and gives
// the sync.watchers entry that catches what they miss.
func watcherAdvice(w config.SyncWatcher) string {
	return fmt.Sprintf(`
note: Odoo sends each notification once (1 s timeout, no retry): while this hub is down
or slow, changes are lost. Add this watcher to ipai.yaml as the safety net; it polls
the same fields, so a change seen by both gives one event:
sync:
  watchers:
    - {connector: %s, model: %s, fields: [%s]}
`, w.Connector, w.Model, strings.Join(w.Fields, ", "))
}

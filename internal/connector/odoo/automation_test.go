package odoo_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/connector/odoo"
	fake "github.com/insightpulseai/ipai/internal/fake/odoo"
)

func TestInstallWebhookCreatesAutomationAndServerAction(t *testing.T) {
	s := fake.New()
	defer s.Close()
	s.EnableAutomation(map[string][]string{"purchase.order": {"state", "amount_total", "partner_id"}})
	c := odoo.New(s.URL, fake.DB, fake.Login, fake.APIKey, nil)
	ctx := context.Background()
	in := odoo.WebhookInstall{Model: "purchase.order", Trigger: "on_create_or_write", Fields: []string{"state", "amount_total"},
		URL: "https://hub.example.com/integrations/odoo/odoo?token=t0k"}
	got, err := c.InstallWebhook(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	autos := s.Records("base.automation")
	if len(autos) != 1 || autos[0]["id"] != got.AutomationID || autos[0]["trigger"] != "on_create_or_write" || autos[0]["name"] != "ipai: purchase.order on_create_or_write" {
		t.Fatalf("automation = %v", autos)
	}
	// As Odoo 18 keeps it: the server action renamed, the URL as given.
	acts := s.Records("ir.actions.server")
	if ids, _ := autos[0]["action_server_ids"].([]any); len(ids) != 1 || len(acts) != 1 {
		t.Fatalf("server actions = %v / %v", autos[0]["action_server_ids"], acts)
	}
	act := acts[0]
	if act["state"] != "webhook" || act["name"] != "Send Webhook Notification" {
		t.Fatalf("server action = %v", act)
	}
	// The verb travels in the URL, which Odoo keeps.
	u, _ := url.Parse(act["webhook_url"].(string))
	if u.Query().Get("action") != "create_or_write" || u.Query().Get("token") != "t0k" || u.Host != "hub.example.com" {
		t.Fatalf("webhook_url = %v; want the verb in the query", act["webhook_url"])
	}
	ids := act["webhook_field_ids"].([]any)
	if len(ids) != 4 || strings.Join(got.Fields, ",") != "amount_total,create_date,state,write_date" {
		t.Fatalf("fields = %v (%v)", ids, got.Fields)
	}
	// Again: refused unless replacing.
	if _, err := c.InstallWebhook(ctx, in); !errors.Is(err, odoo.ErrInstalled) {
		t.Fatalf("second install: %v", err)
	}
	in.Replace = true
	if _, err := c.InstallWebhook(ctx, in); err != nil {
		t.Fatal(err)
	}
	if n := len(s.Records("base.automation")); n != 1 {
		t.Fatalf("after replace: %d automation rules", n)
	}
	for _, bad := range []struct {
		mod  func(*odoo.WebhookInstall)
		want string
	}{
		{func(w *odoo.WebhookInstall) { w.Trigger = "on_change" }, "not supported"},
		{func(w *odoo.WebhookInstall) { w.Model = "sale.nothing" }, "no model"},
		{func(w *odoo.WebhookInstall) { w.Fields = []string{"nope"} }, `no field "nope"`},
	} {
		w := in
		bad.mod(&w)
		if _, err := c.InstallWebhook(ctx, w); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("err = %v; want %q", err, bad.want)
		}
	}
}

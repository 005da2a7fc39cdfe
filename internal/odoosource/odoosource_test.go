package odoosource

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/connector/odoo"
	fakeodoo "github.com/insightpulseai/ipai/internal/fake/odoo"
	"github.com/insightpulseai/ipai/internal/integration"
	"github.com/insightpulseai/ipai/internal/outbound"
	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/secret"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/storetest"
)

// fixture is a service over a fake Odoo 18 that runs automation rules on
// purchase.order, as connector "erp"; "chat" is a Mattermost connector.
type fixture struct {
	svc *Service
	db  *store.DB
	od  *fakeodoo.Server
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, filepath.Join(t.TempDir(), "ipai.db"))
	box, err := secret.Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	od := fakeodoo.New()
	t.Cleanup(od.Close)
	od.EnableAutomation(map[string][]string{"purchase.order": {"state", "amount_total"}})
	guard, err := outbound.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	conns := integration.New(db, box, guard, 0)
	for _, in := range []integration.Input{
		{Code: "erp", Type: "odoo", BaseURL: od.URL, Settings: map[string]string{"database": fakeodoo.DB, "login": fakeodoo.Login},
			Secrets: map[string]string{"api_key": fakeodoo.APIKey}},
		{Code: "chat", Type: "mattermost", BaseURL: "http://127.0.0.1:1", Secrets: map[string]string{"token": "t"}},
	} {
		if _, err := conns.Create(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	al := audit.New(db)
	t.Cleanup(al.Close)
	return &fixture{svc: &Service{DB: db, Connectors: conns, Audit: al}, db: db, od: od}
}

func (f *fixture) tokens(t *testing.T) []store.OdooToken {
	t.Helper()
	toks, err := f.db.ListOdooTokens(context.Background(), "erp")
	if err != nil {
		t.Fatal(err)
	}
	return toks
}

func po(replace bool) Install {
	return Install{Connector: "erp", HubURL: "https://hub.example.com/", Actor: "cli", WebhookInstall: odoo.WebhookInstall{
		Model: "purchase.order", Trigger: "on_create_or_write", Fields: []string{"state", "amount_total"}, Replace: replace}}
}

// Install creates the rule posting to the hub with a token only its hash
// of is stored, says where Odoo posts (without the token) and which
// watcher backs it up, and audits the install.
func TestInstallPostsToTheHubWithAHashedToken(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	got, err := f.svc.Install(ctx, po(false))
	if err != nil {
		t.Fatal(err)
	}
	if got.Name != "ipai: purchase.order on_create_or_write" || got.OdooURL != f.od.URL ||
		got.HookURL != "https://hub.example.com/integrations/odoo/erp" {
		t.Fatalf("installed = %+v", got)
	}
	acts := f.od.Records("ir.actions.server")
	if len(acts) != 1 {
		t.Fatalf("server actions: %v", acts)
	}
	u, err := url.Parse(acts[0]["webhook_url"].(string))
	if err != nil || u.Scheme+"://"+u.Host+u.Path != got.HookURL || u.Query().Get("action") != "create_or_write" {
		t.Fatalf("webhook url = %v (%v)", acts[0]["webhook_url"], err)
	}
	token := u.Query().Get("token")
	toks := f.tokens(t)
	if len(token) < 40 || len(toks) != 1 || toks[0].Hash != TokenHash(token) || strings.Contains(toks[0].Hash, token) {
		t.Fatalf("token %q, stored %+v", token, toks)
	}
	if w := got.Watcher; w.Connector != "erp" || w.Model != "purchase.order" || !slices.Equal(w.Fields, []string{"amount_total", "state"}) {
		t.Fatalf("watcher = %+v; want erp purchase.order [amount_total state] (no create_date, write_date)", w)
	}
	rows, err := f.db.ListAudit(ctx, store.AuditFilter{Action: "odoo.install_webhooks"})
	if err != nil || len(rows) != 1 || rows[0].Actor != "cli" || rows[0].Target != "erp" || strings.Contains(rows[0].Message, token) {
		t.Fatalf("audit = %+v, %v", rows, err)
	}
}

// A rule already there is odoo.ErrInstalled and leaves no stray token;
// Replace recreates it and drops the replaced rule's token.
func TestInstallAgainNeedsReplace(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	if _, err := f.svc.Install(ctx, po(false)); err != nil {
		t.Fatal(err)
	}
	first := f.tokens(t)
	if _, err := f.svc.Install(ctx, po(false)); !errors.Is(err, odoo.ErrInstalled) {
		t.Fatalf("second install: %v; want odoo.ErrInstalled", err)
	}
	if toks := f.tokens(t); len(toks) != 1 || toks[0].ID != first[0].ID {
		t.Fatalf("tokens after a refused install: %+v", toks)
	}
	if _, err := f.svc.Install(ctx, po(true)); err != nil {
		t.Fatalf("replace: %v", err)
	}
	if toks := f.tokens(t); len(toks) != 1 || toks[0].ID == first[0].ID {
		t.Fatalf("tokens after replace: %+v; want only the new rule's", toks)
	}
	if autos := f.od.Records("base.automation"); len(autos) != 1 {
		t.Fatalf("automation rules after replace: %v", autos)
	}
}

// Bad input is a 422 naming the field, and Odoo's refusal an error; none
// of them leaves a token behind.
func TestInstallRefusesBadInputAndKeepsNoToken(t *testing.T) {
	ctx := context.Background()
	f := newFixture(t)
	for _, c := range []struct {
		name  string
		tweak func(*Install)
		field string
	}{
		{"no model", func(in *Install) { in.Model = "" }, "model"},
		{"no trigger", func(in *Install) { in.Trigger = "" }, "trigger"},
		{"not odoo", func(in *Install) { in.Connector = "chat" }, "connector"},
		{"hub URL not http", func(in *Install) { in.HubURL = "hub.example.com" }, "hub_url"},
	} {
		in := po(false)
		c.tweak(&in)
		_, err := f.svc.Install(ctx, in)
		if p, ok := problem.As(err); !ok || p.Status != http.StatusUnprocessableEntity || p.Field != c.field {
			t.Errorf("%s: %v; want a 422 on %s", c.name, err, c.field)
		}
	}
	in := po(false)
	in.Trigger = "on_change"
	if _, err := f.svc.Install(ctx, in); err == nil || !strings.Contains(err.Error(), "not supported") {
		t.Errorf("trigger Odoo does not have: %v", err)
	}
	if _, err := f.svc.Install(ctx, Install{Connector: "nope", HubURL: "https://hub.example.com", WebhookInstall: po(false).WebhookInstall}); err == nil {
		t.Error("install on a connector that does not exist succeeded")
	}
	if toks := f.tokens(t); len(toks) != 0 {
		t.Fatalf("tokens left: %+v", toks)
	}
}

// TokenHash is the hex SHA-256 the receiver compares (stable: stored
// hashes must keep matching).
func TestTokenHash(t *testing.T) {
	if got := TokenHash("t0k"); got != "98e4e27695754ae0d421e3a5a48b69d8fab2b3af4383a5c318201f8a92eb9fd0" {
		t.Fatalf("TokenHash = %q", got)
	}
}

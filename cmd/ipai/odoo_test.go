package main

import (
	"context"
	"net/url"
	"path/filepath"
	"strings"
	"testing"

	fakeodoo "github.com/insightpulseai/ipai/internal/fake/odoo"
	"github.com/insightpulseai/ipai/internal/integration"
	"github.com/insightpulseai/ipai/internal/secret"
	"github.com/insightpulseai/ipai/internal/store"
)

func TestOdooInstallWebhooks(t *testing.T) {
	dataDir := t.TempDir()
	t.Setenv("IPAI_DATA_DIR", dataDir)
	t.Setenv(secret.EnvKey, "")
	db := filepath.Join(dataDir, "ipai.db")
	od := fakeodoo.New()
	t.Cleanup(od.Close)
	od.EnableAutomation(map[string][]string{"purchase.order": {"state", "amount_total"}})
	seedConnectors(t, db, dataDir, integration.Input{Code: "erp", Type: "odoo", BaseURL: od.URL,
		Settings: map[string]string{"database": fakeodoo.DB, "login": fakeodoo.Login}, Secrets: map[string]string{"api_key": fakeodoo.APIKey}})

	out, _, err := run(t, "odoo", "install-webhooks", "erp", "--db", db, "--model", "purchase.order",
		"--trigger", "on_create_or_write", "--fields", "state,amount_total", "--url", "https://hub.example.com/")
	if err != nil || !strings.Contains(out, "ipai: purchase.order on_create_or_write") {
		t.Fatalf("install: %q %v", out, err)
	}
	autos := od.Records("base.automation")
	if len(autos) != 1 {
		t.Fatalf("automation rules: %v", autos)
	}
	acts := od.Records("ir.actions.server")
	if len(acts) != 1 {
		t.Fatalf("server actions: %v", acts)
	}
	hookURL, _ := acts[0]["webhook_url"].(string)
	u, err := url.Parse(hookURL)
	token := u.Query().Get("token")
	if err != nil || u.Scheme+"://"+u.Host+u.Path != "https://hub.example.com/integrations/odoo/erp" || len(token) < 40 ||
		u.Query().Get("action") != "create_or_write" {
		t.Fatalf("webhook url = %q", hookURL)
	}
	// Odoo's webhooks are fire-and-forget: the watcher that backs them up is offered.
	if !strings.Contains(out, "no retry") || !strings.Contains(out, "- {connector: erp, model: purchase.order, fields: [amount_total, state]}") {
		t.Fatalf("install output does not offer the safety-net watcher:\n%s", out)
	}
	if strings.Contains(out, token) {
		t.Fatal("the token was printed")
	}
	s, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	toks, _ := s.ListOdooTokens(context.Background(), "erp")
	if len(toks) != 1 || toks[0].Hash == token || len(toks[0].Hash) != 64 {
		t.Fatalf("stored tokens: %+v", toks)
	}
	// Installing again fails with exit 1 and leaves no stray token.
	if _, _, err := run(t, "odoo", "install-webhooks", "erp", "--db", db, "--model", "purchase.order",
		"--trigger", "on_create_or_write", "--url", "https://hub.example.com"); exitCode(err) != 1 || !strings.Contains(err.Error(), "--replace") {
		t.Fatalf("second install: %v", err)
	}
	if toks, _ := s.ListOdooTokens(context.Background(), "erp"); len(toks) != 1 {
		t.Fatalf("tokens after a failed install: %d", len(toks))
	}
	if _, _, err := run(t, "odoo", "install-webhooks", "erp", "--db", db, "--model", "purchase.order", "--trigger", "on_change"); err == nil ||
		!strings.Contains(err.Error(), "not supported") {
		t.Fatalf("bad trigger: %v", err)
	}
}

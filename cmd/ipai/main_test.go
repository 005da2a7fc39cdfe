package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/spf13/cobra"

	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/testpg"
)

func TestMain(m *testing.M) { testpg.Main(m) }

// run executes the CLI in-process and returns stdout, stderr and the error.
func run(t *testing.T, args ...string) (string, string, error) {
	t.Helper()
	global = globalFlags{}
	root := newRootCmd()
	var out, errb bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetArgs(args)
	err := root.ExecuteContext(context.Background())
	return out.String(), errb.String(), err
}

func TestTokenCommandsOnBothBackends(t *testing.T) {
	for _, kind := range []string{store.SQLite, store.Postgres} {
		t.Run(kind, func(t *testing.T) {
			db := filepath.Join(t.TempDir(), "ipai.db")
			if kind == store.Postgres {
				db = testpg.URL(t)
			}
			out, _, err := run(t, "token", "create", "--db", db, "--name", "ci", "--role", "admin")
			if err != nil || !strings.HasPrefix(out, "ipai_") {
				t.Fatalf("token create: %q %v", out, err)
			}
			tok := strings.TrimSpace(out)
			list, _, err := run(t, "token", "list", "--db", db)
			if err != nil || !strings.Contains(list, "ci") || !strings.Contains(list, "active") || strings.Contains(list, tok) {
				t.Fatalf("token list: %q %v", list, err)
			}
			id := strings.Fields(strings.Split(list, "\n")[1])[0]
			if _, _, err := run(t, "token", "revoke", "--db", db, id); err != nil {
				t.Fatal(err)
			}
			if list, _, _ := run(t, "token", "list", "--db", db); !strings.Contains(list, "revoked") {
				t.Fatalf("after revoke: %q", list)
			}
			if _, _, err := run(t, "token", "revoke", "--db", db, "no-such-id"); err == nil {
				t.Fatal("revoking an unknown id succeeded")
			}
			out, _, err = run(t, "audit", "list", "--db", db, "--action", "token.*")
			if err != nil || strings.Count(out, "token.") != 2 {
				t.Fatalf("audit list: %q %v", out, err)
			}
		})
	}
}

func TestAuditVerifyExitsNonZeroAfterTampering(t *testing.T) {
	db := filepath.Join(t.TempDir(), "ipai.db")
	for i := 0; i < 3; i++ {
		if _, _, err := run(t, "token", "create", "--db", db, "--name", "n", "--role", "user"); err != nil {
			t.Fatal(err)
		}
	}
	if out, _, err := run(t, "audit", "verify", "--db", db); err != nil || !strings.Contains(out, "intact: 3 entries") {
		t.Fatalf("verify: %q %v", out, err)
	}
	s, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Exec(context.Background(), "UPDATE audit_log SET actor = 'someone-else' WHERE seq = 2"); err != nil {
		t.Fatal(err)
	}
	s.Close()
	_, _, err = run(t, "audit", "verify", "--db", db)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 || !strings.Contains(ee.msg, "entry 2") {
		t.Fatalf("verify after tampering: %v; want exit 1 naming entry 2", err)
	}
}

func TestConfigCheck(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.yaml")
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(good, []byte("listen: 127.0.0.1:9090\naudit:\n  retention_days: 30\n"), 0o600)
	os.WriteFile(bad, []byte("listen: 127.0.0.1:9090\naudit:\n  retension_days: 30\n"), 0o600)
	if out, _, err := run(t, "config", "check", good); err != nil || !strings.Contains(out, "ok") {
		t.Fatalf("good config: %q %v", out, err)
	}
	_, _, err := run(t, "config", "check", bad)
	if err == nil || !strings.Contains(err.Error(), `unknown key "audit.retension_days"`) {
		t.Fatalf("bad config: %v", err)
	}
	// --show: the check, then the effective settings with secrets masked.
	withSecret := filepath.Join(dir, "secret.yaml")
	os.WriteFile(withSecret, []byte("listen: 127.0.0.1:9090\nsentry:\n  dsn: https://k3y@sentry.example.com/1\n"), 0o600)
	out, _, err := run(t, "config", "check", "--show", withSecret)
	if err != nil || !strings.Contains(out, withSecret+": ok") || !strings.Contains(out, "listen: 127.0.0.1:9090") ||
		!strings.Contains(out, "sentry.dsn: (set)") || strings.Contains(out, "k3y") {
		t.Fatalf("config check --show: %q %v", out, err)
	}
	if out, _, _ := run(t, "config", "check", withSecret); strings.Contains(out, "listen:") {
		t.Fatalf("config check without --show printed the settings: %q", out)
	}
}

// config show prints a declared webhook's spec too, defaults filled in and
// header values masked (they are sealed at rest and never shown).
func TestConfigShowWebhookSpec(t *testing.T) {
	p := filepath.Join(t.TempDir(), "ipai.yaml")
	os.WriteFile(p, []byte("webhooks:\n  - name: out\n    direction: outgoing\n    target_url: https://example.com/x\n"+
		"    secret: 0123456789abcdef\n    headers: {Authorization: Bearer h3ader}\n"), 0o600)
	out, _, err := run(t, "config", "show", p)
	for _, want := range []string{"webhooks[0].target_url: https://example.com/x", "webhooks[0].timeout: 15s",
		"webhooks[0].disable_after: 120h", "webhooks[0].headers.Authorization: (set)", "webhooks[0].secret: (set)"} {
		if err != nil || !strings.Contains(out, want+"\n") {
			t.Errorf("config show: want %q in\n%s (err %v)", want, out, err)
		}
	}
	if strings.Contains(out, "h3ader") {
		t.Errorf("config show printed a header value:\n%s", out)
	}
}

func TestMigrateRefusesNewerDatabase(t *testing.T) {
	db := filepath.Join(t.TempDir(), "ipai.db")
	if out, _, err := run(t, "migrate", "--db", db); err != nil || !strings.Contains(out, "schema version") {
		t.Fatalf("migrate: %q %v", out, err)
	}
	s, _ := store.Open(context.Background(), db)
	s.Exec(context.Background(), "INSERT INTO ipai_schema_migrations (version, name, applied_at) VALUES (9000, 'future', 0)")
	s.Close()
	_, _, err := run(t, "migrate", "--db", db)
	if err == nil || !strings.Contains(err.Error(), "newer than this ipai binary") {
		t.Fatalf("migrate on newer db: %v", err)
	}
}

func TestEveryCommandHasAnExample(t *testing.T) {
	root := newRootCmd()
	var missing []string
	var visit func(c *cobra.Command)
	visit = func(c *cobra.Command) {
		if c.Runnable() && c.Example == "" {
			missing = append(missing, c.CommandPath())
		}
		for _, sub := range c.Commands() {
			visit(sub)
		}
	}
	visit(root)
	if len(missing) > 0 {
		t.Fatalf("commands without an example in --help: %v", missing)
	}
}

func TestEventsPurge(t *testing.T) {
	db := filepath.Join(t.TempDir(), "ipai.db")
	if _, _, err := run(t, "migrate", "--db", db); err != nil {
		t.Fatal(err)
	}
	s, err := store.Open(context.Background(), db)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	err = s.InTx(ctx, func(tx *store.Tx) error {
		var evs []store.Event
		for i, age := range []time.Duration{40 * 24 * time.Hour, 10 * 24 * time.Hour, time.Hour} {
			evs = append(evs, store.Event{ID: fmt.Sprint("e", i), Source: "s", Type: "t", ReceivedAt: time.Now().Add(-age), IdempotencyKey: fmt.Sprint(i), Payload: "{}"})
		}
		return tx.InsertEvents(ctx, evs)
	})
	s.Close()
	if err != nil {
		t.Fatal(err)
	}
	if out, _, err := run(t, "events", "purge", "--db", db); err != nil || !strings.Contains(out, "purged 1 events older than 30 days") {
		t.Fatalf("purge with the default retention: %q %v", out, err)
	}
	if out, _, err := run(t, "events", "purge", "--db", db, "--days", "7"); err != nil || !strings.Contains(out, "purged 1 events older than 7 days") {
		t.Fatalf("purge --days 7: %q %v", out, err)
	}
	if _, _, err := run(t, "events", "purge", "--db", db, "--days", "1"); err == nil || !strings.Contains(err.Error(), "at least 2") {
		t.Fatalf("purge --days 1: %v; want a refusal", err)
	}
	if out, _, err := run(t, "audit", "list", "--db", db, "--action", "events.purge"); err != nil || strings.Count(out, "events.purge") != 2 {
		t.Fatalf("audit: %q %v", out, err)
	}
}

// ipai mcp takes its policy like ipai serve: --mcp-policy, else
// IPAI_MCP_POLICY, else mcp.policy of the config file (which it ignored).
func TestMCPPolicyFromConfigFile(t *testing.T) {
	t.Setenv("IPAI_MCP_POLICY", "")
	dir := t.TempDir()
	cfg := filepath.Join(dir, "ipai.yaml")
	missing := filepath.Join(dir, "no-such-policy.yaml")
	os.WriteFile(cfg, []byte("data_dir: "+dir+"\nmcp:\n  policy: "+missing+"\n"), 0o600)
	_, _, err := run(t, "mcp", "speckit", "--config", cfg)
	if err == nil || !strings.Contains(err.Error(), "read mcp policy") || !strings.Contains(err.Error(), "no-such-policy.yaml") {
		t.Fatalf("ipai mcp with mcp.policy naming a missing file: %v; want it read (and refused)", err)
	}
}

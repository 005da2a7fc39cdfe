package config

import (
	"strings"
	"testing"
	"time"
)

// Load hands out settings ready to use: every default filled in, every
// duration parsed (also those of the declared webhooks' specs).
func TestLoadFillsEveryDefault(t *testing.T) {
	t.Setenv("IPAI_DATABASE_URL", "")
	cfg, err := Load(write(t, `sync:
  watchers:
    - {connector: erp, model: project.task}
  boards:
    - {name: close, odoo: erp, focalboard: fb, project: 1, board: b1}
webhooks:
  - {name: shop, direction: incoming, scheme: standard, secret: 0123456789abcdef}
  - {name: out, direction: outgoing, target_url: "https://example.com/x", secret: 0123456789abcdef}
`))
	if err != nil {
		t.Fatal(err)
	}
	s := cfg.Sync
	if s.Interval != 30*time.Second || s.SweepEvery != 10*time.Minute {
		t.Errorf("sync interval %v, sweep_every %v; want 30s, 10m", s.Interval, s.SweepEvery)
	}
	if w := s.Watchers[0]; w.Start != "now" || w.Overlap != time.Minute {
		t.Errorf("watcher start %q, overlap %v; want now, 1m", w.Start, w.Overlap)
	}
	if b := s.Boards[0]; b.Direction != "both" || b.FullSweepEvery != 10 || b.StageProperty != "Status" || b.AssigneesProperty != "Assignees" {
		t.Errorf("board = %+v; want direction both, full_sweep_every 10, the default property names", b)
	}
	if u := cfg.UI; u.SessionTTL != 12*time.Hour || u.LoginWindow != 15*time.Minute || u.SecureCookies != "auto" {
		t.Errorf("ui = %+v; want its defaults", u)
	}
	if cfg.ChatOps.N8N.SyncInterval != 5*time.Minute {
		t.Errorf("chatops.n8n.sync_interval = %v; want 5m", cfg.ChatOps.N8N.SyncInterval)
	}
	if h := cfg.Webhooks[0].HookSpec; h.DedupeWindow != "24h" || h.RotationGrace != "24h" || h.EventType != "webhook.received" {
		t.Errorf("incoming spec = %+v; want its defaults", h)
	}
	if e := cfg.Webhooks[1].EndpointSpec; e.Timeout != "15s" || e.DisableAfter != "120h" || e.ContentType != "application/json" {
		t.Errorf("outgoing spec = %+v; want its defaults", e)
	}
}

// Validate checks without changing the config it was given, nor the lists
// it shares with it.
func TestValidateChangesNothing(t *testing.T) {
	cfg := Defaults()
	cfg.Webhooks = []WebhookSpec{{Name: "a", Direction: "outgoing", Secret: "0123456789abcdef"}}
	cfg.Webhooks[0].TargetURL = "https://example.com/x"
	cfg.Sync.Watchers = []SyncWatcher{{Connector: "erp", Model: "res.partner"}}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	if cfg.Webhooks[0].Timeout != "" || cfg.Sync.Watchers[0].Overlap != 0 || cfg.Sync.Interval != 0 || cfg.UI.SessionTTL != 0 {
		t.Fatalf("Validate changed the config: %+v %+v", cfg.Webhooks[0], cfg.Sync)
	}
	if err := cfg.ValidateAndSetDefaults(); err != nil || cfg.Webhooks[0].Timeout != "15s" || cfg.Sync.Watchers[0].Overlap != time.Minute {
		t.Fatalf("ValidateAndSetDefaults: %v %+v %+v", err, cfg.Webhooks[0], cfg.Sync)
	}
}

// A bad setting stops the start with an error naming the key and how to
// write it; ${VAR} works for every kind of value.
func TestBadSettingsNameTheKey(t *testing.T) {
	t.Setenv("IPAI_DATABASE_URL", "")
	t.Setenv("IPAI_TEST_LEASE", "2m")
	cfg, err := Load(write(t, "delivery:\n  lease: ${IPAI_TEST_LEASE}\n  poll: ${IPAI_TEST_UNSET_POLL:-1s}\n"))
	if err != nil || cfg.Delivery.Lease != 2*time.Minute || cfg.Delivery.Poll != time.Second {
		t.Fatalf("durations from the environment: %v, lease %v, poll %v", err, cfg.Delivery.Lease, cfg.Delivery.Poll)
	}
	cases := []struct{ body, want string }{
		{"delivery:\n  lease: 90\n", `line 2: delivery.lease: "90" is not a duration (write it with a unit, like 90s, 5m or 1h)`},
		{"delivery:\n  workers: ${IPAI_TEST_SURELY_UNSET}\n", `delivery.workers: refers to ${IPAI_TEST_SURELY_UNSET}, which is not set`},
		{"webhooks:\n  - {name: a, direction: outgoing, target_url: 'https://x.example.com', secret: 0123456789abcdef, rate_limit: NaN}\n",
			`webhooks[0].rate_limit: "NaN" is not a number`},
		{"webhooks:\n  - {name: a, direction: incoming, scheme: standard, secret: 0123456789abcdef, dedupe_window: 90}\n",
			`webhooks[0].dedupe_window: "90" is not a duration`},
		{"webhooks:\n  - {name: a, direction: outgoing, target_url: 'https://x.example.com', secret: 0123456789abcdef, timeout: 2h}\n",
			`webhooks[0].timeout: "2h": expected a duration from 1ms to 60s`},
		{"sync:\n  sweep_every: 10ms\n", `sync.sweep_every: 10ms: expected at least 1s`},
		{"sync:\n  watchers:\n    - {connector: erp, model: res.partner, overlap: -1s}\n", `sync.watchers[0].overlap: -1s: expected a duration of 0s or more`},
		{"sync:\n  boards:\n    - {name: b, odoo: erp, focalboard: fb, project: 1, board: b1, full_sweep_every: -1}\n",
			`sync.boards[0].full_sweep_every: -1: expected a number of rounds ≥ 1`},
	}
	for _, c := range cases {
		_, err := Load(write(t, c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("config %q: err = %v; want it to contain %q", c.body, err, c.want)
		}
	}
}

// The MCP servers' settings are read from the file, an environment
// variable overriding each (flag > env > file > default, as for the rest).
func TestMCPSettingsFileAndEnv(t *testing.T) {
	for k := range Env {
		t.Setenv(k, "")
	}
	p := write(t, "mcp:\n  policy: /etc/ipai/mcp.yaml\n  spec_repo: /src/platform\n  backup_dir: /backups\n  stack_domain: example.com\n")
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	want := MCP{Policy: "/etc/ipai/mcp.yaml", SpecRepo: "/src/platform", BackupDir: "/backups", StackDomain: "example.com"}
	if cfg.MCP != want {
		t.Fatalf("mcp = %+v; want %+v", cfg.MCP, want)
	}
	t.Setenv("IPAI_MCP_POLICY", "/run/policy.yaml")
	t.Setenv("IPAI_SPEC_REPO", "/work/repo")
	t.Setenv("IPAI_BACKUP_DIR", "/mnt/backups")
	t.Setenv("IPAI_STACK_DOMAIN", "example.org")
	if cfg, err = Load(p); err != nil {
		t.Fatal(err)
	}
	want = MCP{Policy: "/run/policy.yaml", SpecRepo: "/work/repo", BackupDir: "/mnt/backups", StackDomain: "example.org"}
	if cfg.MCP != want {
		t.Fatalf("mcp with the environment = %+v; want %+v", cfg.MCP, want)
	}
	t.Setenv("IPAI_STACK_DOMAIN", "https://example.org")
	if _, err := Load(p); err == nil || !strings.Contains(err.Error(), `mcp.stack_domain: "https://example.org" is not a domain name`) {
		t.Fatalf("stack_domain with a scheme: %v", err)
	}
}

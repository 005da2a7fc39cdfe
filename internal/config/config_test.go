package config

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, body string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "ipai.yaml")
	if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestDefaultsWithoutFile(t *testing.T) {
	t.Setenv("IPAI_CONFIG", "")
	t.Setenv("IPAI_DATABASE_URL", "")
	cfg, err := Load("")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Listen != "127.0.0.1:8080" || cfg.Audit.RetentionDays != 90 || cfg.DatabaseURL() != "./data/ipai.db" {
		t.Fatalf("defaults = %+v", cfg)
	}
}

func TestFileEnvExpansionAndOverride(t *testing.T) {
	t.Setenv("IPAI_DATABASE_URL", "")
	t.Setenv("PGPASS", "s3cret")
	p := write(t, "listen: 0.0.0.0:9000\ndatabase:\n  url: postgres://ipai:${PGPASS}@db/ipai\naudit:\n  retention_days: ${DAYS:-30}\n")
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Database.URL != "postgres://ipai:s3cret@db/ipai" || cfg.Audit.RetentionDays != 30 || cfg.Listen != "0.0.0.0:9000" {
		t.Fatalf("got %+v", cfg)
	}
	t.Setenv("IPAI_DATABASE_URL", "/tmp/x.db")
	cfg, err = Load(p)
	if err != nil || cfg.DatabaseURL() != "/tmp/x.db" {
		t.Fatalf("env override: %v %v", cfg.Database.URL, err)
	}
}

func TestErrorsNameTheKey(t *testing.T) {
	t.Setenv("IPAI_DATABASE_URL", "")
	cases := []struct{ body, want string }{
		{"lisen: :80\n", `unknown key "lisen"; expected one of:`},
		{"audit:\n  retention: 3\n", `unknown key "audit.retention" in audit; expected one of: retention_days`},
		{"audit:\n  retention_days: lots\n", `line 2: audit.retention_days: "lots" is not a whole number`},
		{"delivery:\n  retention_days: 1\n", `delivery.retention_days: 1 is too small; expected a number of days ≥ 2`},
		{"delivery:\n  lease: 3s\n  heartbeat: 2s\n", `delivery.heartbeat: 2s: expected at least 100ms and less than half of delivery.lease (3s)`},
		{"log:\n  level: loud\n", `log.level: "loud" is not a level`},
		{"listen: nonsense\n", `listen: "nonsense" is not host:port`},
		{"database:\n  url: mysql://x\n", `database.url: unknown scheme`},
		{"database:\n  url: ${IPAI_TEST_SURELY_UNSET}\n", `refers to ${IPAI_TEST_SURELY_UNSET}, which is not set`},
		{"log: [a, b]\n", `log: expected a section of keys`},
		{"webhooks:\n  - name: a\n    direction: incoming\n    scheme: rot13\n    secret: 0123456789abcdef\n", `webhooks[0].scheme: "rot13" is not a scheme`},
		{"webhooks:\n  - name: a\n    direction: outgoing\n    target_url: ftp://x\n    secret: 0123456789abcdef\n", `webhooks[0].target_url: "ftp://x" is not an http(s) URL`},
		{"webhooks:\n  - name: a\n    direction: incoming\n    scheme: bearer\n", `webhooks[0].secret: set the secret`},
		{"listen: [\n", `not valid YAML`},
	}
	for _, c := range cases {
		_, err := Load(write(t, c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("config %q: err = %v; want it to contain %q", c.body, err, c.want)
		}
	}
}

func TestLiteralDollarBrace(t *testing.T) {
	got, err := expandEnv("a$${B}c")
	if err != nil || got != "a${B}c" {
		t.Fatalf("expandEnv = %q, %v", got, err)
	}
}

func TestConnectorsAndHealthSections(t *testing.T) {
	t.Setenv("IPAI_DATABASE_URL", "")
	t.Setenv("MM_TOKEN", "tok-from-env")
	p := write(t, `connectors:
  - code: chat
    type: mattermost
    base_url: https://chat.example.com
    settings: {team: ipai}
    secrets: {token: "${MM_TOKEN}"}
health:
  interval: 30s
  concurrency: 2
`)
	cfg, err := Load(p)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Connectors) != 1 || cfg.Connectors[0].Secrets["token"] != "tok-from-env" || cfg.Connectors[0].Settings["team"] != "ipai" {
		t.Fatalf("connectors = %+v", cfg.Connectors)
	}
	if cfg.Health.Interval.Seconds() != 30 || cfg.Health.Concurrency != 2 || cfg.Health.Timeout.Seconds() != 10 {
		t.Fatalf("health = %+v", cfg.Health)
	}
	cases := []struct{ body, want string }{
		{"connectors:\n  - code: Chat!\n    type: mattermost\n    base_url: https://x\n", `connectors[0].code: "Chat!" is not a slug`},
		{"connectors:\n  - code: a\n    type: irc\n    base_url: https://x\n", `connectors[0].type: "irc" is not a connector type`},
		{"connectors:\n  - code: a\n    type: n8n\n    base_url: ftp://x\n", `connectors[0].base_url: "ftp://x" is not an absolute http(s) URL`},
		{"connectors:\n  - code: a\n    type: n8n\n    base_url: https://u:p@x\n", `connectors[0].base_url: must not contain credentials`},
		{"connectors:\n  - {code: a, type: n8n, base_url: https://x}\n  - {code: a, type: n8n, base_url: https://y}\n", `connectors[1].code: "a" is already used by connectors[0]`},
		{"connectors:\n  - code: a\n    type: n8n\n    base_url: https://x\n    secret: {}\n", `unknown key "connectors[0].secret"`},
		{"health:\n  interval: 10ms\n", `health.interval: 10ms is too short`},
		{"health:\n  concurrency: 0\n", `health.concurrency: 0 is too small`},
	}
	for _, c := range cases {
		_, err := Load(write(t, c.body))
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("config %q: err = %v; want it to contain %q", c.body, err, c.want)
		}
	}
}

// ${VAR} expansion reads a value once, left to right: "$${" is a literal
// "${" (also in a default), text that is no reference stays as written,
// and nothing in a value is taken for an internal marker.
func TestExpandEnv(t *testing.T) {
	t.Setenv("IPAI_TEST_X", "x")
	for in, want := range map[string]string{
		"a${IPAI_TEST_X}b":             "axb",
		"${IPAI_TEST_UNSET_Y:-d$${e}}": "d${e}",
		"$$${IPAI_TEST_X}":             "$${IPAI_TEST_X}",
		"${1}${IPAI_TEST_X}":           "${1}x",
		"\x00lit\x00 ${IPAI_TEST_X}":   "\x00lit\x00 x",
	} {
		if got, err := expandEnv(in); err != nil || got != want {
			t.Errorf("expandEnv(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := expandEnv("${IPAI_TEST_UNSET_Y}"); err == nil || !strings.Contains(err.Error(), "IPAI_TEST_UNSET_Y") {
		t.Errorf("unset variable: %v", err)
	}
}

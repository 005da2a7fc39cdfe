// Package config reads ipai.yaml: its schema, defaults, ${ENV} expansion and
// validation. Every error names the key at fault and says what is expected.
//
// Precedence: command-line flag > environment (IPAI_*) > file > default.
package config

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strings"
	"time"

	"github.com/insightpulseai/ipai/internal/rule"
)

// Config is the whole of ipai.yaml.
type Config struct {
	Listen string `yaml:"listen"`
	// PublicURL is how senders reach this hub (used in hook URLs); default http://<listen>.
	PublicURL string   `yaml:"public_url"`
	Database  Database `yaml:"database"`
	DataDir   string   `yaml:"data_dir"`
	Log       Log      `yaml:"log"`
	Audit     Audit    `yaml:"audit"`
	Sentry    Sentry   `yaml:"sentry"`
	Outbound  Outbound `yaml:"outbound"`
	Delivery  Delivery `yaml:"delivery"`
	// Connectors are applied idempotently at start and shown as managed.
	Connectors []ConnectorSpec `yaml:"connectors"`
	// Webhooks are incoming hooks and outgoing endpoints, applied by name at
	// start and shown as managed.
	Webhooks []WebhookSpec `yaml:"webhooks"`
	// Rules are routing rules, applied idempotently at start and shown as
	// managed (see package rule).
	Rules  []rule.Spec `yaml:"rules"`
	Health Health      `yaml:"health"`
	// ChatOps configures bots, slash commands, approvals and n8n flows.
	ChatOps ChatOps `yaml:"chatops"`
	UI      UI      `yaml:"ui"`
	// Sync: change capture and task ↔ card sync; Superset: embedding.
	Sync     Sync     `yaml:"sync"`
	Superset Superset `yaml:"superset"`
	MCP      MCP      `yaml:"mcp"`

	// Path is the file the config came from ("" when none).
	Path string `yaml:"-"`
}

// Database selects the store.
type Database struct {
	// URL: postgres://… for PostgreSQL; a file path or sqlite:PATH for SQLite.
	URL string `yaml:"url"`
}

// Log configures log/slog output.
type Log struct {
	Level  string `yaml:"level"`  // debug, info, warn, error
	Format string `yaml:"format"` // auto (text on a terminal, JSON otherwise), text, json
}

// Audit configures the audit log.
type Audit struct {
	RetentionDays int `yaml:"retention_days"`
}

// Sentry optionally reports errors to Sentry.
type Sentry struct {
	DSN string `yaml:"dsn"`
}

// Delivery tunes the outbound delivery workers of each hub process.
type Delivery struct {
	Workers int           `yaml:"workers"` // concurrent attempts; default 64
	Poll    time.Duration `yaml:"poll"`    // look for due work this often; default 250ms
	Lease   time.Duration `yaml:"lease"`   // a claim lasts this long before another process may retry it; default 90s
	// Heartbeat: each hub records that it is alive this often; the claims of
	// a hub silent for 5 heartbeats are taken back by the others at once.
	// Default 1s.
	Heartbeat time.Duration `yaml:"heartbeat"`
	// RetentionDays: events older than this, with every delivery they caused
	// finished (succeeded or dead), are deleted hourly with those deliveries
	// and their attempts; default 30. Dead deliveries can be replayed until then.
	RetentionDays int `yaml:"retention_days"`
}

// Outbound shapes calls ipai makes to other services.
type Outbound struct {
	// Allow lists what outbound calls may reach even though it is not
	// globally reachable (loopback, private, …): CIDRs and IPs on any port,
	// IP:port ([::1]:9000) on that port only, host names on any port,
	// host:port on that port only. It is the only way to open such addresses
	// to endpoints and agents (a connector's client may reach its own URLs).
	// Env IPAI_OUTBOUND_ALLOW, comma-separated, adds to it.
	Allow []string `yaml:"allow"`
}

// Defaults returns the configuration used when nothing is set.
func Defaults() Config {
	return Config{
		Listen:   "127.0.0.1:8080",
		Database: Database{URL: ""},
		DataDir:  "./data",
		Log:      Log{Level: "info", Format: "auto"},
		Audit:    Audit{RetentionDays: 90},
		Delivery: Delivery{Workers: 64, Poll: 250 * time.Millisecond, Lease: 90 * time.Second, Heartbeat: time.Second, RetentionDays: 30},
		Health:   Health{Interval: 60 * time.Second, Concurrency: 4, Timeout: 10 * time.Second},
	}
}

// Env lists every environment variable `ipai serve` reads, and what it sets.
// A deployment that hands the hub any other IPAI_* variable is wrong (unless
// the config file names it as ${VAR}).
var Env = map[string]string{
	"IPAI_CONFIG":         "the config file",
	"IPAI_DATABASE_URL":   "database.url",
	"IPAI_LISTEN":         "listen",
	"IPAI_PUBLIC_URL":     "public_url",
	"IPAI_DATA_DIR":       "data_dir",
	"IPAI_LOG_LEVEL":      "log.level",
	"IPAI_OUTBOUND_ALLOW": "outbound.allow (comma-separated, added to the file's)",
	"IPAI_SENTRY_DSN":     "sentry.dsn",
	"IPAI_MASTER_KEY":     "the master key sealing secrets (base64 of 32 bytes); default data_dir/master.key",
	"IPAI_MCP_POLICY":     "mcp.policy (also the policy file of `ipai mcp`)",
	"IPAI_SPEC_REPO":      "mcp.spec_repo",
	"IPAI_BACKUP_DIR":     "mcp.backup_dir",
	"IPAI_STACK_DOMAIN":   "mcp.stack_domain",
}

// Load reads the config file at path (or $IPAI_CONFIG; none is fine), applies
// environment overrides and validates the result.
func Load(path string) (Config, error) {
	if path == "" {
		path = os.Getenv("IPAI_CONFIG")
	}
	if path == "" {
		return load(nil, "")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Defaults(), fmt.Errorf("read config: %w", err)
	}
	return load(data, path)
}

// load is Load of the file text data read from path ("" when none).
func load(data []byte, path string) (Config, error) {
	cfg := Defaults()
	if path != "" {
		if err := decode(data, &cfg); err != nil {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
		cfg.Path = path
	}
	if v := os.Getenv("IPAI_DATABASE_URL"); v != "" {
		cfg.Database.URL = v
	}
	if v := os.Getenv("IPAI_LISTEN"); v != "" {
		cfg.Listen = v
	}
	if v := os.Getenv("IPAI_PUBLIC_URL"); v != "" {
		cfg.PublicURL = v
	}
	if v := os.Getenv("IPAI_DATA_DIR"); v != "" {
		cfg.DataDir = v
	}
	if v := os.Getenv("IPAI_LOG_LEVEL"); v != "" {
		cfg.Log.Level = v
	}
	if v := os.Getenv("IPAI_OUTBOUND_ALLOW"); v != "" {
		for _, a := range strings.Split(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				cfg.Outbound.Allow = append(cfg.Outbound.Allow, a)
			}
		}
	}
	if v := os.Getenv("IPAI_SENTRY_DSN"); v != "" {
		cfg.Sentry.DSN = v
	}
	for env, set := range map[string]*string{"IPAI_MCP_POLICY": &cfg.MCP.Policy, "IPAI_SPEC_REPO": &cfg.MCP.SpecRepo,
		"IPAI_BACKUP_DIR": &cfg.MCP.BackupDir, "IPAI_STACK_DOMAIN": &cfg.MCP.StackDomain} {
		if v := os.Getenv(env); v != "" {
			*set = v
		}
	}
	if err := cfg.ValidateAndSetDefaults(); err != nil {
		if path != "" {
			return cfg, fmt.Errorf("config %s: %w", path, err)
		}
		return cfg, err
	}
	return cfg, nil
}

// BaseURL is the hub's external base URL without a trailing slash.
func (c Config) BaseURL() string {
	if c.PublicURL != "" {
		return strings.TrimSuffix(c.PublicURL, "/")
	}
	return "http://" + c.Listen
}

// DatabaseURL is the configured database, defaulting to data_dir/ipai.db.
func (c Config) DatabaseURL() string {
	if c.Database.URL != "" {
		return c.Database.URL
	}
	return strings.TrimSuffix(c.DataDir, "/") + "/ipai.db"
}

// ValidateAndSetDefaults checks every value, fills in the defaults of the
// unset ones (so that each service is handed settings ready to use, never
// text to parse) and returns all problems at once, each naming its key.
// Load calls it; a Config built in code calls it before use. It never writes
// into the lists of a Config c was copied from.
func (c *Config) ValidateAndSetDefaults() error {
	var errs []error
	bad := func(key, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", key, fmt.Sprintf(format, args...)))
	}
	if _, port, err := net.SplitHostPort(c.Listen); err != nil || port == "" {
		bad("listen", "%q is not host:port; expected e.g. 127.0.0.1:8080 or :8080", c.Listen)
	}
	if u := c.Database.URL; u != "" && strings.Contains(u, "://") &&
		!strings.HasPrefix(u, "postgres://") && !strings.HasPrefix(u, "postgresql://") {
		bad("database.url", "unknown scheme; expected postgres://user:pass@host/db, a file path, or sqlite:PATH")
	}
	if u := c.PublicURL; u != "" && !strings.HasPrefix(u, "http://") && !strings.HasPrefix(u, "https://") {
		bad("public_url", "%q: expected the hub's external base URL, e.g. https://ipai.example.com", u)
	}
	if c.Delivery.Workers < 1 || c.Delivery.Workers > 4096 {
		bad("delivery.workers", "%d: expected 1 to 4096", c.Delivery.Workers)
	}
	if c.Delivery.Poll < time.Millisecond || c.Delivery.Poll > time.Minute {
		bad("delivery.poll", "%s: expected 1ms to 1m", c.Delivery.Poll)
	}
	if c.Delivery.Lease < 2*time.Second {
		bad("delivery.lease", "%s: expected at least 2s (longer than the slowest endpoint timeout, 60s, is safest)", c.Delivery.Lease)
	}
	if c.Delivery.Heartbeat < 100*time.Millisecond || c.Delivery.Heartbeat*2 >= c.Delivery.Lease {
		bad("delivery.heartbeat", "%s: expected at least 100ms and less than half of delivery.lease (%s); default 1s", c.Delivery.Heartbeat, c.Delivery.Lease)
	}
	if c.Delivery.RetentionDays < 2 {
		bad("delivery.retention_days", "%d is too small; expected a number of days ≥ 2 (longer than the 24 h dedupe window; default 30)", c.Delivery.RetentionDays)
	}
	if c.DataDir == "" {
		bad("data_dir", "must not be empty; expected a directory such as ./data")
	}
	switch c.Log.Level {
	case "debug", "info", "warn", "error":
	default:
		bad("log.level", "%q is not a level; expected debug, info, warn or error", c.Log.Level)
	}
	switch c.Log.Format {
	case "auto", "text", "json":
	default:
		bad("log.format", "%q is not a format; expected auto, text or json", c.Log.Format)
	}
	if c.Audit.RetentionDays < 1 {
		bad("audit.retention_days", "%d is too small; expected a number of days ≥ 1 (default 90)", c.Audit.RetentionDays)
	}
	if d := c.Sentry.DSN; d != "" && !strings.HasPrefix(d, "https://") && !strings.HasPrefix(d, "http://") {
		bad("sentry.dsn", "expected a Sentry DSN URL (https://key@host/project)")
	}
	c.validateConnectors(bad)
	c.validateWebhooks(bad)
	c.Health.validate(bad)
	c.validateRules(bad)
	c.UI.validateAndSetDefaults(bad)
	c.validateChatOps(bad)
	c.validateSync(bad)
	c.validateMCP(bad)
	return errors.Join(errs...)
}

// Validate reports the problems ValidateAndSetDefaults would, leaving c as
// it is.
func (c Config) Validate() error { return c.ValidateAndSetDefaults() }

// validateRules checks every rule (condition, actions, templates) and that
// names are unique.
func (c Config) validateRules(bad func(key, format string, args ...any)) {
	seen := map[string]int{}
	for i, r := range c.Rules {
		key := fmt.Sprintf("rules[%d]", i)
		if j, dup := seen[r.Name]; dup && r.Name != "" {
			bad(key+".name", "%q is also the name of rules[%d]; rule names must be unique", r.Name, j)
		} else {
			seen[r.Name] = i
		}
		if fe := r.Validate(); fe != nil {
			bad(key+"."+fe.Field, "%s", fe.Message)
		}
	}
}

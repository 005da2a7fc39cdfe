package stack

import (
	"context"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/compose-spec/compose-go/v2/types"

	"github.com/insightpulseai/ipai/internal/secret"
)

func initDir(t *testing.T, opts InitOptions) (string, []FileResult) {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	res, err := Init(opts)
	if err != nil {
		t.Fatalf("init: %v", err)
	}
	return opts.Dir, res
}

func actionOf(t *testing.T, res []FileResult, path string) Action {
	t.Helper()
	for _, r := range res {
		if r.Path == path {
			return r.Action
		}
	}
	t.Fatalf("no result for %s in %+v", path, res)
	return ""
}

func loadCompose(t *testing.T, dir string) *types.Project {
	t.Helper()
	p, err := loadProject(context.Background(), dir)
	if err != nil {
		t.Fatalf("generated compose file does not load with compose-go: %v", err)
	}
	return p
}

func TestInitComposeValidatesAndFollowsSecurityBoundaries(t *testing.T) {
	dir, _ := initDir(t, InitOptions{Domain: "example.com", Editions: AllEditions, TZ: "Asia/Manila"})
	p := loadCompose(t, dir)
	env, err := ReadEnv(dir)
	if err != nil {
		t.Fatal(err)
	}

	want := []string{"postgres", "redis", "caddy", "mattermost", "focalboard", "n8n", "superset", "superset-worker",
		"superset-init", "keycloak", "hub", "odoo-core", "odoo-marketing", "odoo-accounting",
		"odoo-core-init", "odoo-marketing-extended-init"}
	for _, s := range want {
		if _, ok := p.Services[s]; !ok {
			t.Errorf("service %s missing; have %v", s, p.ServiceNames())
		}
	}
	if !p.Networks["backend"].Internal {
		t.Errorf("backend network must be internal")
	}
	for name, s := range p.Services {
		if len(s.Ports) > 0 && name != "caddy" {
			t.Errorf("%s publishes ports %v: only caddy may", name, s.Ports)
		}
		if strings.Contains(s.Image, ":latest") || !strings.Contains(s.Image, ":") {
			t.Errorf("%s image %q is not pinned", name, s.Image)
		}
		oneShot := strings.HasSuffix(name, "-init")
		if !oneShot && s.Restart != "unless-stopped" {
			t.Errorf("%s restart = %q, want unless-stopped", name, s.Restart)
		}
		if !oneShot && s.HealthCheck == nil {
			t.Errorf("%s has no healthcheck", name)
		}
	}
	for _, s := range []string{"postgres", "redis"} {
		nets := p.Services[s].Networks
		if _, ok := nets["backend"]; !ok || len(nets) != 1 {
			t.Errorf("%s networks = %v, want only backend", s, nets)
		}
	}
	// n8n runs on the shared PostgreSQL, with the password from .env.
	n8n := p.Services["n8n"].Environment
	if *n8n["DB_TYPE"] != "postgresdb" || *n8n["DB_POSTGRESDB_PASSWORD"] != env["N8N_DB_PASSWORD"] || env["N8N_DB_PASSWORD"] == "" {
		t.Errorf("n8n database env wrong: %v", n8n)
	}
	hub := p.Services["hub"]
	if *hub.Environment["IPAI_MASTER_KEY"] != env["IPAI_MASTER_KEY"] || !slices.Equal(hub.Command, []string{"serve"}) {
		t.Errorf("hub must run `serve` with the master key from .env")
	}
	if *hub.Environment["IPAI_CONFIG"] != "/etc/ipai/ipai.yaml" || *hub.Environment["IPAI_DB_PASSWORD"] != env["IPAI_DB_PASSWORD"] {
		t.Errorf("hub must read the mounted ipai.yaml, with the database password from .env: %v", hub.Environment)
	}
	if hub.Build == nil || hub.Build.Context != FindHubSource(".") {
		t.Errorf("hub must be built from the checkout %s: build = %+v", FindHubSource("."), hub.Build)
	}
	if got := p.Services["odoo-marketing"].Command; !slices.Contains(got, "--database=odoo_marketing") {
		t.Errorf("odoo-marketing command = %v", got)
	}
	if p.Services["odoo-core-init"].Profiles[0] != "init" {
		t.Errorf("odoo-core-init must be in the init profile")
	}
}

func TestInitEnvHasSecretsAndPrivateMode(t *testing.T) {
	dir, _ := initDir(t, InitOptions{Domain: "example.com", Editions: []string{"core", "accounting"}})
	fi, err := os.Stat(Abs(dir, EnvFile))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf(".env mode = %v, want 0600", fi.Mode().Perm())
	}
	env, err := ReadEnv(dir)
	if err != nil {
		t.Fatal(err)
	}
	keys := []string{"POSTGRES_PASSWORD", "MATTERMOST_DB_PASSWORD", "ODOO_CORE_DB_PASSWORD", "ODOO_ACCOUNTING_DB_PASSWORD",
		"N8N_ENCRYPTION_KEY", "SUPERSET_SECRET_KEY", "KEYCLOAK_ADMIN_PASSWORD", "IPAI_MASTER_KEY"}
	seen := map[string]bool{}
	for _, k := range keys {
		if len(env[k]) < 32 {
			t.Errorf("%s = %q: want a generated secret", k, env[k])
		}
		if seen[env[k]] {
			t.Errorf("%s repeats another secret", k)
		}
		seen[env[k]] = true
	}
	if _, err := secret.ParseKey(env["IPAI_MASTER_KEY"]); err != nil {
		t.Errorf("the hub would refuse IPAI_MASTER_KEY: %v", err)
	}
	if _, ok := env["ODOO_MARKETING_DB_PASSWORD"]; ok {
		t.Errorf("marketing edition not selected but has a password")
	}
	example, _ := os.ReadFile(Abs(dir, EnvExample))
	for _, k := range keys {
		if strings.Contains(string(example), env[k]) {
			t.Errorf(".env.example leaks %s", k)
		}
	}
	gi, _ := os.ReadFile(Abs(dir, ".gitignore"))
	if !strings.Contains(string(gi), "docker/.env") {
		t.Errorf(".gitignore does not ignore docker/.env")
	}
	// The init script creates one database per service, with the password variable the compose file passes.
	sh, _ := os.ReadFile(Abs(dir, "postgres/init/10-databases.sh"))
	for _, db := range []string{"mattermost", "focalboard", "n8n", "superset", "keycloak", "ipai", "odoo_core", "odoo_accounting"} {
		if !strings.Contains(string(sh), "create_db "+db+` "${`+strings.ToUpper(db)+"_DB_PASSWORD:-}\"") {
			t.Errorf("init script does not create %s", db)
		}
	}
}

func TestInitRerunKeepsSecretsAndUserEdits(t *testing.T) {
	dir, _ := initDir(t, InitOptions{Domain: "example.com"})
	env1, _ := ReadEnv(dir)
	caddy := Abs(dir, "caddy/Caddyfile")
	edited := []byte("# mine\n")
	if err := os.WriteFile(caddy, edited, 0o644); err != nil {
		t.Fatal(err)
	}

	// Same inputs: nothing changes, the edit is kept and reported.
	_, res := initDir(t, InitOptions{Dir: dir, Domain: "example.com"})
	if a := actionOf(t, res, "caddy/Caddyfile"); a != SkippedEdited {
		t.Errorf("edited Caddyfile: action %s, want %s", a, SkippedEdited)
	}
	if a := actionOf(t, res, ComposeFile); a != Unchanged {
		t.Errorf("compose: action %s, want unchanged", a)
	}

	// New edition without --force: .env gains only the new password, stale files are reported, not rewritten.
	_, res = initDir(t, InitOptions{Dir: dir, Editions: []string{"core", "marketing"}})
	env2, _ := ReadEnv(dir)
	for k, v := range env1 {
		if env2[k] != v {
			t.Errorf("re-run changed %s", k)
		}
	}
	if env2["ODOO_MARKETING_DB_PASSWORD"] == "" || actionOf(t, res, EnvFile) != EnvUpdated {
		t.Errorf("new edition's password not appended to .env")
	}
	if a := actionOf(t, res, ComposeFile); a != SkippedStale {
		t.Errorf("compose without --force: %s, want %s", a, SkippedStale)
	}

	// --force regenerates unchanged files but never the edited one.
	_, res = initDir(t, InitOptions{Dir: dir, Editions: []string{"core", "marketing"}, Force: true})
	if a := actionOf(t, res, ComposeFile); a != Regenerated {
		t.Errorf("compose with --force: %s, want regenerated", a)
	}
	if got, _ := os.ReadFile(caddy); string(got) != string(edited) {
		t.Errorf("--force overwrote the user's Caddyfile")
	}
	if _, ok := loadCompose(t, dir).Services["odoo-marketing"]; !ok {
		t.Errorf("regenerated compose lacks odoo-marketing")
	}
	env3, _ := ReadEnv(dir)
	if env3["POSTGRES_PASSWORD"] != env1["POSTGRES_PASSWORD"] {
		t.Errorf("--force regenerated a secret")
	}
}

func TestInitRejectsBadInput(t *testing.T) {
	for _, o := range []InitOptions{
		{Domain: ""},
		{Domain: "not a domain"},
		{Domain: "example.com", Editions: []string{"payroll"}},
		{Domain: "example.com", TZ: "Mars/Olympus"},
	} {
		o.Dir = t.TempDir()
		if _, err := Init(o); err == nil {
			t.Errorf("Init(%+v) succeeded", o)
		}
	}
}

func TestInitCaddyfileValidatesWithCaddy(t *testing.T) {
	caddy, err := exec.LookPath("caddy")
	if err != nil {
		t.Fatalf("caddy not on PATH: install it (Debian: apt-get install -y caddy); CI installs it")
	}
	dir, _ := initDir(t, InitOptions{Domain: "example.com", Editions: AllEditions})
	file := Abs(dir, "caddy/Caddyfile")
	cmd := exec.Command(caddy, "validate", "--adapter", "caddyfile", "--config", file)
	cmd.Env = append(os.Environ(), "HOME="+t.TempDir(), "XDG_DATA_HOME="+t.TempDir(), "XDG_CONFIG_HOME="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("caddy validate: %v\n%s", err, out)
	}
	b, _ := os.ReadFile(file)
	for _, host := range []string{"chat.example.com", "boards.example.com", "n8n.example.com", "superset.example.com",
		"auth.example.com", "erp.example.com", "marketing.example.com", "accounting.example.com", "ipai.example.com"} {
		if !strings.Contains(string(b), "\n"+host+" {") {
			t.Errorf("Caddyfile has no site %s", host)
		}
	}
	if strings.Count(string(b), "health_uri") != 9 {
		t.Errorf("want a health_uri per site")
	}
}

func TestInitHubImageOrSource(t *testing.T) {
	dir, _ := initDir(t, InitOptions{Domain: "example.com", HubImage: "registry.example.com/ipai:1.2.0"})
	hub := loadCompose(t, dir).Services["hub"]
	if hub.Image != "registry.example.com/ipai:1.2.0" || hub.Build != nil {
		t.Errorf("--hub-image: image %q, build %+v", hub.Image, hub.Build)
	}
	// A later init keeps the choice.
	if _, err := Init(InitOptions{Dir: dir, Force: true}); err != nil {
		t.Fatal(err)
	}
	if got := loadCompose(t, dir).Services["hub"].Image; got != "registry.example.com/ipai:1.2.0" {
		t.Errorf("re-init forgot --hub-image: %q", got)
	}
	for _, o := range []InitOptions{
		{HubImage: "ipai"},
		{HubImage: "r/ipai:1", HubSource: "."},
		{HubSource: t.TempDir()},
	} {
		o.Dir, o.Domain = t.TempDir(), "example.com"
		_, err := Init(o)
		if err == nil || !strings.Contains(err.Error(), "--hub-") {
			t.Errorf("Init(%+v) = %v, want an error naming the --hub- flag", o, err)
		}
		if _, statErr := os.Stat(Abs(o.Dir, ComposeFile)); statErr == nil {
			t.Errorf("Init(%+v) wrote a compose file although it failed", o)
		}
	}
}

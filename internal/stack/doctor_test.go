package stack

import (
	"context"
	"os"
	"strings"
	"testing"
)

func doctor(t *testing.T, dir string) []Finding {
	t.Helper()
	f, err := Doctor(context.Background(), DoctorOptions{Dir: dir, IPAI: hubBinary(t)})
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestDoctorPassesAFreshInit(t *testing.T) {
	for _, eds := range [][]string{nil, AllEditions} {
		dir, _ := initDir(t, InitOptions{Domain: "example.com", Editions: eds})
		if f := doctor(t, dir); len(f) != 0 {
			t.Errorf("editions %v: doctor found %q on a fresh init", eds, f)
		}
	}
}

// edit replaces old by new in a deployment file (which must contain old).
func edit(t *testing.T, dir, file, old, new string) {
	t.Helper()
	path := Abs(dir, file)
	b, err := os.ReadFile(path)
	if err != nil || !strings.Contains(string(b), old) {
		t.Fatalf("%s lacks %q (%v)", file, old, err)
	}
	if err := os.WriteFile(path, []byte(strings.Replace(string(b), old, new, 1)), 0o600); err != nil {
		t.Fatal(err)
	}
}

func TestDoctorNamesEachDefect(t *testing.T) {
	cases := []struct {
		name  string
		spoil func(t *testing.T, dir string)
		want  string
	}{
		{"env readable", func(t *testing.T, dir string) { os.Chmod(Abs(dir, EnvFile), 0o644) }, "docker/.env: mode 0644 lets other users read the secrets"},
		{"env key missing", func(t *testing.T, dir string) {
			edit(t, dir, EnvFile, "SUPERSET_SECRET_KEY=", "X_SUPERSET_SECRET_KEY=")
		}, "docker/.env: SUPERSET_SECRET_KEY is missing or empty"},
		{"image unpinned", func(t *testing.T, dir string) {
			edit(t, dir, ComposeFile, "image: "+DefaultImages.Redis, "image: redis")
		}, `service redis runs "redis", which is not pinned`},
		{"image latest", func(t *testing.T, dir string) {
			edit(t, dir, ComposeFile, "image: "+DefaultImages.Redis, "image: redis:latest")
		}, `service redis runs "redis:latest", which is not pinned`},
		{"variable undefined", func(t *testing.T, dir string) {
			edit(t, dir, ComposeFile, "POSTGRES_USER: postgres", "POSTGRES_USER: postgres\n      EXTRA: ${NOT_IN_ENV}")
		}, "docker/docker-compose.yml: ${NOT_IN_ENV} is not defined"},
		{"site missing", func(t *testing.T, dir string) {
			edit(t, dir, "caddy/Caddyfile", "boards.example.com {", "boards.example.org {")
		}, "boards.example.com (focalboard) is not served"},
		{"upstream missing", func(t *testing.T, dir string) {
			edit(t, dir, "caddy/Caddyfile", "reverse_proxy n8n:5678", "reverse_proxy workflows:5678")
		}, "compose has no service workflows"},
		{"unknown hub variable", func(t *testing.T, dir string) {
			edit(t, dir, ComposeFile, "IPAI_CONFIG: /etc/ipai/ipai.yaml", "IPAI_CONFIG: /etc/ipai/ipai.yaml\n      IPAI_OIDC_ISSUER: https://auth.example.com/realms/ipai")
		}, "the hub is given IPAI_OIDC_ISSUER, which ipai does not read"},
		{"hub settings", func(t *testing.T, dir string) {
			edit(t, dir, "hub/ipai.yaml", "public_url:", "publicurl:")
		}, "hub/ipai.yaml: the hub's settings do not load"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir, _ := initDir(t, InitOptions{Domain: "example.com"})
			c.spoil(t, dir)
			f := doctor(t, dir)
			var found bool
			for _, x := range f {
				found = found || strings.Contains(x.String(), c.want)
			}
			if !found {
				t.Errorf("doctor found %q, want a finding containing %q", f, c.want)
			}
		})
	}
}

package stack

import (
	"strconv"
	"strings"
	"testing"
)

// TestComposeRunsTestedVersions: the generated stack runs the versions the
// project's tests ran against (README, "Tested versions").
func TestComposeRunsTestedVersions(t *testing.T) {
	dir, _ := initDir(t, InitOptions{Domain: "example.com", Editions: AllEditions})
	p := loadCompose(t, dir)
	want := map[string]string{
		"n8n":             "n8nio/n8n:2.41.1",
		"superset":        "apache/superset:6.1.0",
		"superset-worker": "apache/superset:6.1.0",
		"superset-init":   "apache/superset:6.1.0",
		"keycloak":        "quay.io/keycloak/keycloak:26.7.3",
		"odoo-core":       "odoo:18.0",
		"odoo-marketing":  "odoo:18.0",
		"odoo-accounting": "odoo:18.0",
		"odoo-core-init":  "odoo:18.0",
	}
	for svc, img := range want {
		if got := p.Services[svc].Image; got != img {
			t.Errorf("%s runs %q, want %q (the version the tests ran against)", svc, got, img)
		}
	}
	// Mattermost: at least 9.5 (the v4 API contract the client was checked on).
	mm := p.Services["mattermost"].Image
	_, tag, _ := strings.Cut(mm, ":")
	parts := strings.Split(tag, ".")
	major, err1 := strconv.Atoi(parts[0])
	minor := 0
	var err2 error
	if len(parts) > 1 {
		minor, err2 = strconv.Atoi(parts[1])
	}
	if !strings.HasPrefix(mm, "mattermost/mattermost-team-edition:") || err1 != nil || err2 != nil || major < 9 || major == 9 && minor < 5 {
		t.Errorf("mattermost runs %q, want mattermost-team-edition ≥ 9.5", mm)
	}
	// Focalboard: 8.0.0, built from its release tag.
	fb := p.Services["focalboard"]
	if fb.Build == nil || fb.Build.Context != "https://github.com/mattermost/focalboard.git#v8.0.0" || fb.Build.Dockerfile != "docker/Dockerfile" {
		t.Errorf("focalboard build = %+v, want the v8.0.0 tag of its repository with docker/Dockerfile", fb.Build)
	}
}

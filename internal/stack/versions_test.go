package stack

import (
	"encoding/json"
	"os"
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
	// Its Dockerfile's final stage is debian slim without curl: the health
	// check must not need it.
	if hc := fb.HealthCheck; hc == nil || strings.Contains(strings.Join(hc.Test, " "), "curl") || !strings.Contains(strings.Join(hc.Test, " "), "/ping") {
		t.Errorf("focalboard healthcheck %v: want /ping without curl", hc)
	}
}

// TestRealmHasConnectorClient: the Keycloak connector authenticates with
// client credentials, so the realm carries a confidential client with a
// service account and the generated secret, which compose hands Keycloak.
func TestRealmHasConnectorClient(t *testing.T) {
	dir, _ := initDir(t, InitOptions{Domain: "example.com"})
	b, err := os.ReadFile(Abs(dir, "keycloak/import/realm-ipai.json"))
	if err != nil {
		t.Fatal(err)
	}
	var realm struct {
		Clients []map[string]any `json:"clients"`
	}
	if err := json.Unmarshal(b, &realm); err != nil {
		t.Fatalf("realm file is not JSON: %v", err)
	}
	var c map[string]any
	for _, cl := range realm.Clients {
		if cl["clientId"] == "ipai-connector" {
			c = cl
		}
	}
	if c == nil || c["serviceAccountsEnabled"] != true || c["publicClient"] != false || c["secret"] != "${KEYCLOAK_CONNECTOR_SECRET}" ||
		c["standardFlowEnabled"] != false {
		t.Fatalf("realm client ipai-connector = %v, want a confidential service-account client with secret ${KEYCLOAK_CONNECTOR_SECRET}", c)
	}
	env, _ := ReadEnv(dir)
	kc := loadCompose(t, dir).Services["keycloak"].Environment["KEYCLOAK_CONNECTOR_SECRET"]
	if env["KEYCLOAK_CONNECTOR_SECRET"] == "" || kc == nil || *kc != env["KEYCLOAK_CONNECTOR_SECRET"] {
		t.Errorf("keycloak is not given the generated KEYCLOAK_CONNECTOR_SECRET")
	}
}

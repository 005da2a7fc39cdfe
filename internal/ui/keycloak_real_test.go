package ui_test

// Tests against a real Keycloak (internal/testkc, installed by
// scripts/test.d/keycloak.sh) with the realm `ipai stack init` writes.

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/insightpulseai/ipai/internal/stack"
	"github.com/insightpulseai/ipai/internal/testkc"
)

func TestMain(m *testing.M) { testkc.Main(m) }

// realmSecret is the IPAI_OIDC_CLIENT_SECRET Keycloak substitutes into the
// generated realm file, as docker-compose.yml passes it.
var realmSecret = struct {
	once sync.Once
	v    string
}{}

// realKeycloak starts (once) the real Keycloak with the realm file that
// `ipai stack init` generates, imported as in the compose file.
func realKeycloak(t *testing.T) *testkc.Server {
	t.Helper()
	dir := t.TempDir()
	if _, err := stack.Init(stack.InitOptions{Dir: dir, Domain: "example.test", HubImage: "ipai:test"}); err != nil {
		t.Fatal(err)
	}
	realm, err := os.ReadFile(filepath.Join(dir, "keycloak", "import", "realm-ipai.json"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := stack.ReadEnv(dir)
	if err != nil {
		t.Fatal(err)
	}
	realmSecret.once.Do(func() { realmSecret.v = env["IPAI_OIDC_CLIENT_SECRET"] })
	if realmSecret.v == "" {
		t.Fatal("stack init wrote no IPAI_OIDC_CLIENT_SECRET")
	}
	return testkc.Get(t, testkc.Options{Realms: map[string][]byte{"realm-ipai.json": realm},
		Env: []string{"IPAI_OIDC_CLIENT_SECRET=" + realmSecret.v}})
}

// TestKeycloakImportsGeneratedRealm: the realm file of `ipai stack init` is
// imported by the real Keycloak, with the hub's client, its secret from the
// environment and the three realm roles the hub maps.
func TestKeycloakImportsGeneratedRealm(t *testing.T) {
	kc := realKeycloak(t)
	t.Logf("Keycloak %s ready in %s", testkc.Version, kc.StartTime)
	ctx := context.Background()
	var clients []struct {
		ID, ClientID            string
		PublicClient            bool
		StandardFlowEnabled     bool
		ClientAuthenticatorType string
	}
	if _, err := kc.Admin(ctx, "GET", "/ipai/clients?clientId=ipai-hub", nil, &clients); err != nil {
		t.Fatalf("realm ipai was not imported: %v\n%s", err, kc.Log())
	}
	if len(clients) != 1 || clients[0].PublicClient || !clients[0].StandardFlowEnabled {
		t.Fatalf("client ipai-hub: %+v", clients)
	}
	var secret struct{ Value string }
	if _, err := kc.Admin(ctx, "GET", "/ipai/clients/"+clients[0].ID+"/client-secret", nil, &secret); err != nil {
		t.Fatal(err)
	}
	if secret.Value != realmSecret.v {
		t.Fatalf("client secret is %q, want the IPAI_OIDC_CLIENT_SECRET of docker/.env", secret.Value)
	}
	for _, r := range []string{"ipai-admin", "ipai-manager", "ipai-user"} {
		var role struct{ Name string }
		if _, err := kc.Admin(ctx, "GET", "/ipai/roles/"+r, nil, &role); err != nil || role.Name != r {
			t.Errorf("realm role %s: %+v %v", r, role, err)
		}
	}
}

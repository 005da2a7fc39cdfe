package ui_test

// Tests against a real Keycloak (internal/testkc, installed by
// scripts/test.d/keycloak.sh) with the realm `ipai stack init` writes.

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/connector"
	keycloakconn "github.com/insightpulseai/ipai/internal/connector/keycloak"
	"github.com/insightpulseai/ipai/internal/fake/transcript"
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

// TestKeycloakConnectorTestConnection: Test Connection of the keycloak
// connector against the real Keycloak passes with a confidential client that
// has service accounts (created here: the generated realm's ipai-hub has
// none), and fails on auth for ipai-hub itself.
func TestKeycloakConnectorTestConnection(t *testing.T) {
	kc := realKeycloak(t)
	ctx := context.Background()
	const id, secret = "ipai-connector-check", "connector-check-secret"
	if _, err := kc.Admin(ctx, "POST", "/ipai/clients", map[string]any{"clientId": id, "enabled": true, "publicClient": false,
		"clientAuthenticatorType": "client-secret", "secret": secret, "serviceAccountsEnabled": true,
		"standardFlowEnabled": false}, nil); err != nil {
		t.Fatal(err)
	}
	rep := connector.Test(ctx, keycloakconn.New(kc.URL, "ipai", id, secret, nil), 30*time.Second)
	if !rep.OK || len(rep.Checks) != 3 {
		t.Fatalf("Test Connection with a service-account client: %+v", rep)
	}
	if !strings.Contains(rep.Checks[0].Detail, kc.Issuer("ipai")) {
		t.Errorf("reachable check: %q", rep.Checks[0].Detail)
	}
	// ipai-hub (standard flow only) may not use client_credentials.
	rep = connector.Test(ctx, keycloakconn.New(kc.URL, "ipai", "ipai-hub", realmSecret.v, nil), 30*time.Second)
	if rep.OK || !errors.Is(rep.Err, connector.ErrAuth) || !strings.Contains(rep.Error(), "auth:") {
		t.Fatalf("Test Connection as ipai-hub: %+v", rep)
	}
	// A wrong secret is an auth failure too.
	rep = connector.Test(ctx, keycloakconn.New(kc.URL, "ipai", id, "wrong", nil), 30*time.Second)
	if rep.OK || !errors.Is(rep.Err, connector.ErrAuth) {
		t.Fatalf("Test Connection with a wrong secret: %+v", rep)
	}
	t.Logf("wrong secret: %s", rep.Error())
}

// pointClientAt rewrites the generated client's URLs (https://ipai.example.test)
// to the hub under test, keeping everything else the realm file set.
func pointClientAt(t *testing.T, kc *testkc.Server, hubURL string) {
	t.Helper()
	ctx := context.Background()
	var clients []map[string]any
	if _, err := kc.Admin(ctx, "GET", "/ipai/clients?clientId=ipai-hub", nil, &clients); err != nil || len(clients) != 1 {
		t.Fatalf("client ipai-hub: %v %v", clients, err)
	}
	b, _ := json.Marshal(clients[0])
	b = []byte(strings.ReplaceAll(string(b), "https://ipai.example.test", hubURL))
	var c map[string]any
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.Admin(ctx, "PUT", "/ipai/clients/"+c["id"].(string), c, nil); err != nil {
		t.Fatal(err)
	}
}

// TestKeycloakSSOInBrowser drives "Sign in with SSO" in Chromium through the
// real Keycloak's login form: a realm ipai-manager lands as manager, logout
// ends the Keycloak session too (the next sign-in asks for the password),
// and a user without a mapped realm role is refused.
func TestKeycloakSSOInBrowser(t *testing.T) {
	kc := realKeycloak(t)
	ctx := browser(t)
	h := newHub(t, func(c *config.Config) {
		// As hub-ipai.yaml of `ipai stack init` configures it.
		c.UI.OIDC = config.OIDC{Issuer: kc.Issuer("ipai"), ClientID: "ipai-hub", ClientSecret: realmSecret.v,
			Roles: map[string]string{"ipai-admin": "admin", "ipai-manager": "manager", "ipai-user": "user"}}
	})
	pointClientAt(t, kc, h.URL)
	bg := context.Background()
	if _, err := kc.AddUser(bg, "ipai", testkc.User{Username: "mona", Password: "mona-kc-password", Email: "mona@example.test",
		FirstName: "Mona", LastName: "Manager", RealmRoles: []string{"ipai-manager"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := kc.AddUser(bg, "ipai", testkc.User{Username: "nora", Password: "nora-kc-password", Email: "nora@example.test",
		FirstName: "Nora", LastName: "Norole"}); err != nil {
		t.Fatal(err)
	}
	shots := shooter{t, artifacts(t)}
	kcLogin := func(user, password string) chromedp.Action[chromedp.Void] {
		return chromedp.Steps(
			chromedp.WaitVisible(chromedp.CSS(`#kc-form-login`)),
			chromedp.SendKeys(chromedp.CSS(`#username`), user), chromedp.SendKeys(chromedp.CSS(`#password`), password),
			chromedp.Click(chromedp.CSS(`#kc-login`)))
	}
	var text string
	run(t, ctx, "sso as manager", chromedp.Navigate(h.URL+"/login"), chromedp.WaitVisible(chromedp.CSS(`#sso`)),
		chromedp.Click(chromedp.CSS(`#sso`)), shots.shot("kc-01-login-form"), kcLogin("mona", "mona-kc-password"),
		chromedp.WaitVisible(chromedp.CSS(`header.top, .alert`)), textInto(`body`, &text), shots.shot("kc-02-signed-in"))
	if !strings.Contains(text, "mona") || !strings.Contains(text, "manager") {
		t.Fatalf("after SSO as a realm ipai-manager: %.600s", text)
	}
	u, err := h.DB.UserByName(bg, "mona")
	if err != nil || u.Source != auth.SourceOIDC || u.OIDCIssuer != kc.Issuer("ipai") || u.Role != "manager" {
		t.Fatalf("SSO user: %+v %v", u, err)
	}

	// Sign out: the Keycloak session ends too, so SSO asks for the password.
	run(t, ctx, "sign out", chromedp.Click(chromedp.CSS(`.who button`)), chromedp.WaitVisible(chromedp.CSS(`#sso`)),
		shots.shot("kc-03-signed-out"),
		chromedp.Click(chromedp.CSS(`#sso`)), chromedp.WaitVisible(chromedp.CSS(`#kc-form-login, header.top`)),
		shots.shot("kc-04-sso-again"))
	var hasForm bool
	run(t, ctx, "after logout", evalInto(`document.querySelector('#kc-form-login') !== null`, &hasForm))
	if !hasForm {
		t.Fatal("after signing out, SSO signed in again without asking for the password: the Keycloak session survived the logout")
	}

	// A user whose realm roles map to no ipai role is refused.
	run(t, ctx, "sso without role", kcLogin("nora", "nora-kc-password"),
		chromedp.WaitVisible(chromedp.CSS(`header.top, .alert`)), textInto(`body`, &text), shots.shot("kc-05-refused"))
	if !strings.Contains(text, "no role that maps") {
		t.Fatalf("a user without a mapped role: %.600s", text)
	}
	if _, err := h.DB.UserByName(bg, "nora"); err == nil {
		t.Fatal("a refused SSO user was created")
	}
	if rss, err := kc.RSS(); err == nil {
		t.Logf("Keycloak RSS after the sign-ins: %d MiB", rss>>20)
	}
}

// TestKeycloakTranscript records what the real Keycloak answers to the
// requests ipai's keycloak connector and OIDC sign-in make without a browser
// (discovery, the token endpoint's success and failures, the admin
// serverinfo, the JWKS), and checks them; with IPAI_TEST_RECORD=1 it
// writes them to internal/fake/keycloak/testdata, where the fake's tests
// replay them against the fake.
func TestKeycloakTranscript(t *testing.T) {
	kc := realKeycloak(t)
	ctx := context.Background()
	const sa, saSecret = "ipai-transcript-sa", "transcript-sa-secret"
	if _, err := kc.Admin(ctx, "POST", "/ipai/clients", map[string]any{"clientId": sa, "enabled": true, "publicClient": false,
		"clientAuthenticatorType": "client-secret", "secret": saSecret, "serviceAccountsEnabled": true,
		"standardFlowEnabled": false}, nil); err != nil {
		t.Fatal(err)
	}
	rec := transcript.NewRecorder(http.DefaultTransport, "keycloak")
	rec.Secret("base_url", kc.URL)
	rec.Secret("client_id", sa)
	rec.Secret("client_secret", saSecret)
	rec.Secret("standard_client_id", "ipai-hub")
	rec.Secret("standard_client_secret", realmSecret.v)
	hc := &http.Client{Transport: rec}
	call := func(method, path, auth string, form url.Values) (int, map[string]any) {
		t.Helper()
		var body io.Reader
		if form != nil {
			body = strings.NewReader(form.Encode())
		}
		req, _ := http.NewRequest(method, kc.URL+path, body)
		if form != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	tokenPath := "/realms/ipai/protocol/openid-connect/token"
	rec.Case("discovery", "token_endpoint_auth_methods_supported", "code_challenge_methods_supported")
	if st, d := call("GET", "/realms/ipai/.well-known/openid-configuration", "", nil); st != 200 || d["end_session_endpoint"] != kc.Issuer("ipai")+"/protocol/openid-connect/logout" {
		t.Fatalf("discovery: %d %v", st, d)
	}
	rec.Case("unknown realm")
	if st, _ := call("GET", "/realms/nope/.well-known/openid-configuration", "", nil); st != 404 {
		t.Fatalf("unknown realm: %d", st)
	}
	rec.Case("client credentials", "token_type")
	st, tok := call("POST", tokenPath, "", url.Values{"grant_type": {"client_credentials"}, "client_id": {sa}, "client_secret": {saSecret}})
	access, _ := tok["access_token"].(string)
	if st != 200 || access == "" {
		t.Fatalf("client credentials: %d %v", st, tok)
	}
	rec.Secret("access_token", access)
	if err := rec.Bind("access_token", "access_token"); err != nil {
		t.Fatal(err)
	}
	rec.Case("client credentials, wrong secret", "error")
	if st, e := call("POST", tokenPath, "", url.Values{"grant_type": {"client_credentials"}, "client_id": {sa}, "client_secret": {"wrong"}}); st != 401 || e["error"] != "unauthorized_client" {
		t.Fatalf("wrong secret: %d %v", st, e)
	}
	rec.Case("client credentials, no service account", "error", "error_description")
	if st, e := call("POST", tokenPath, "", url.Values{"grant_type": {"client_credentials"}, "client_id": {"ipai-hub"}, "client_secret": {realmSecret.v}}); st != 401 || e["error"] != "unauthorized_client" {
		t.Fatalf("no service account: %d %v", st, e)
	}
	rec.Case("serverinfo without a role")
	st, _ = call("GET", "/admin/serverinfo", "Bearer "+access, nil)
	t.Logf("serverinfo as a plain service account: %d", st)
	// The browser sign-in's provider side (the fake's OIDC server).
	connRec := rec
	rec = transcript.NewRecorder(http.DefaultTransport, "keycloak")
	rec.Secret("base_url", kc.URL)
	hc.Transport = rec
	rec.Case("discovery", "token_endpoint_auth_methods_supported", "code_challenge_methods_supported")
	call("GET", "/realms/ipai/.well-known/openid-configuration", "", nil)
	rec.Case("jwks")
	if st, jwks := call("GET", "/realms/ipai/protocol/openid-connect/certs", "", nil); st != 200 || jwks["keys"] == nil {
		t.Fatalf("jwks: %d %v", st, jwks)
	}
	save(t, connRec, "connector", access)
	save(t, rec, "oidc", access)
}

func save(t *testing.T, rec *transcript.Recorder, name, access string) {
	t.Helper()
	f := rec.File(testkc.Version, time.Now().UTC().Format("2006-01-02"), "recorded by internal/ui TestKeycloakTranscript (IPAI_TEST_RECORD=1) against the real Keycloak with the realm of ipai stack init")
	b, _ := json.MarshalIndent(f, "", "  ")
	if strings.Contains(string(b), "transcript-sa-secret") || strings.Contains(string(b), realmSecret.v) || strings.Contains(string(b), access) {
		t.Fatal("a secret reached the transcript")
	}
	if os.Getenv("IPAI_TEST_RECORD") == "1" {
		if err := f.Save(filepath.Join("..", "fake", "keycloak", "testdata", "keycloak-26.7-"+name+".json")); err != nil {
			t.Fatal(err)
		}
	}
}

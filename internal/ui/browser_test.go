package ui_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/fake/keycloak"
	"github.com/insightpulseai/ipai/internal/fake/mattermost"
	"github.com/insightpulseai/ipai/internal/store"
)

// chromium finds Debian's chromium. Browser tests fail without it (install
// it with scripts/test.d/chromium.sh); IPAI_SKIP_BROWSER=1 skips them for
// local runs.
func chromium(t *testing.T) string {
	t.Helper()
	if os.Getenv("IPAI_SKIP_BROWSER") == "1" {
		t.Skip("IPAI_SKIP_BROWSER=1")
	}
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: run scripts/test.d/chromium.sh (apt-get install -y chromium), or set IPAI_SKIP_BROWSER=1 to skip browser tests locally")
	return ""
}

// artifacts is where screenshots go: $IPAI_ARTIFACTS or artifacts/screenshots.
func artifacts(t *testing.T) string {
	dir := os.Getenv("IPAI_ARTIFACTS")
	if dir == "" {
		dir = filepath.Join("..", "..", "artifacts")
	}
	dir = filepath.Join(dir, "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return dir
}

func browser(t *testing.T) context.Context {
	exe := chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(exe), chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU, chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()), chromedp.WindowSize(1280, 900),
		chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-quic", true),
	}
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelC := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelC(); cancelA() })
	if err := chromedp.Do(ctx); err != nil {
		t.Fatalf("start chromium: %v", err)
	}
	return ctx
}

type shooter struct {
	t   *testing.T
	dir string
}

// shot saves a full-page screenshot named name.png.
func (s shooter) shot(name string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		buf, err := chromedp.FullScreenshot(100)(ctx, tg)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(s.dir, name+".png"), buf, 0o644)
	})
}

func run(t *testing.T, ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	sctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := chromedp.Do(sctx, actions...); err != nil {
		var loc, body string
		_ = chromedp.Do(ctx, textInto("body", &body), chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			l, err := chromedp.Location()(ctx, tg)
			loc = l
			return err
		}))
		t.Fatalf("%s: %v\nat %s:\n%.1500s", step, err, loc, body)
	}
}

func signIn(base, name, password string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Navigate(base+"/login"),
		chromedp.WaitVisible(chromedp.CSS(`input[name=name]`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), name),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), password),
		chromedp.Click(chromedp.CSS(`#signin`)),
		chromedp.WaitVisible(chromedp.CSS(`header.top`)),
	)
}

func signOut() chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		chromedp.Click(chromedp.CSS(`.who button`)),
		chromedp.WaitVisible(chromedp.CSS(`#signin`)),
	)
}

func TestBrowser(t *testing.T) {
	ctx := browser(t)
	kc := keycloak.NewOIDC()
	defer kc.Close()
	mm := mattermost.New()
	defer mm.Close()
	h := newHub(t, func(c *config.Config) {
		c.UI.OIDC = config.OIDC{Issuer: kc.Issuer(), ClientID: "ipai-hub", ClientSecret: "hub-secret",
			Roles: map[string]string{"ipai-admin": "admin", "ipai-ops": "manager"}}
	})
	kc.AddClient("ipai-hub", keycloak.OIDCClient{Secret: "hub-secret", RedirectURIs: []string{h.URL + "/auth/oidc/callback"},
		PostLogoutRedirectURIs: []string{h.URL + "/login"}, RealmRolesInIDToken: true})
	kc.AddUser(keycloak.OIDCUser{Username: "kate", Password: "kc-password", Email: "kate@example.com", Name: "Kate Keycloak",
		RealmRoles: []string{"default-roles-ipai", "ipai-admin"}})
	h.addUser(t, "admin", auth.RoleAdmin)
	h.addUser(t, "viewer", auth.RoleUser)
	ep, dead := h.seed(t, 120)
	shots := shooter{t, artifacts(t)}
	base := h.URL

	// Sign in as admin and look at the dashboard.
	var text string
	run(t, ctx, "sign in as admin", signIn(base, "admin", "admin-password"),
		textInto(`main h1`, &text), shots.shot("01-dashboard"))
	if text != "Dashboard" {
		t.Fatalf("after sign-in: %q", text)
	}

	// Create a connector against the fake Mattermost, test it, activate it.
	run(t, ctx, "create connector",
		chromedp.Navigate(base+"/ui/connectors"), chromedp.WaitVisible(chromedp.CSS(`#new-connector`)),
		chromedp.Click(chromedp.CSS(`#new-connector`)), chromedp.WaitVisible(chromedp.CSS(`#choose-type`)),
		chromedp.SetValue(chromedp.CSS(`#type`), "mattermost"), chromedp.Click(chromedp.CSS(`#choose-type`)),
		chromedp.WaitVisible(chromedp.CSS(`#connector-form`)),
		chromedp.SendKeys(chromedp.CSS(`#code`), "chat"),
		chromedp.SendKeys(chromedp.CSS(`#name`), "Team chat"),
		chromedp.SendKeys(chromedp.CSS(`#base_url`), mm.URL),
		chromedp.SendKeys(chromedp.CSS(`#setting-team`), mattermost.TeamName),
		chromedp.SendKeys(chromedp.CSS(`#secret-token`), mattermost.AdminToken),
		shots.shot("02-connector-new"),
		chromedp.Click(chromedp.CSS(`#save`)), chromedp.WaitVisible(chromedp.CSS(`#test-connection`)),
		chromedp.Click(chromedp.CSS(`#test-connection`)), chromedp.WaitVisible(chromedp.CSS(`#test-result`)),
		textInto(`#test-result`, &text), shots.shot("03-connector-tested"))
	if !strings.Contains(text, "passed") || !strings.Contains(text, "9.11.1") || !strings.Contains(text, "auth") {
		t.Fatalf("test result: %q", text)
	}
	run(t, ctx, "activate", chromedp.Click(chromedp.CSS(`#activate`)), chromedp.WaitVisible(chromedp.CSS(`.flash`)),
		textInto(`.flash`, &text))
	if c, err := h.DB.Connector(context.Background(), "chat"); err != nil || c.State != "active" || len(c.Secrets) != 1 {
		t.Fatalf("connector after activate: %+v %v", c, err)
	}
	run(t, ctx, "connectors list", chromedp.Navigate(base+"/ui/connectors"), chromedp.WaitVisible(chromedp.CSS(`table`)), shots.shot("04-connectors"))

	// Replay a dead delivery.
	run(t, ctx, "replay dead delivery",
		chromedp.Navigate(base+"/ui/deliveries?state=dead"), chromedp.WaitVisible(chromedp.CSS(`button.replay`)),
		shots.shot("05-deliveries-dead"),
		chromedp.Navigate(base+"/ui/deliveries/"+dead), chromedp.WaitVisible(chromedp.CSS(`#replay`)),
		shots.shot("06-delivery"),
		chromedp.Click(chromedp.CSS(`#replay`)), chromedp.WaitVisible(chromedp.CSS(`.flash`)),
		textInto(`.flash`, &text))
	if d, err := h.DB.Delivery(context.Background(), dead); err != nil || d.State != store.DeliveryPending {
		t.Fatalf("delivery after replay: %s %v (flash %q)", d.State, err, text)
	}

	// The other pages, for the record.
	run(t, ctx, "pages",
		chromedp.Navigate(base+"/ui/webhooks"), chromedp.WaitVisible(chromedp.CSS(`main h1`)), shots.shot("07-webhooks"),
		chromedp.Navigate(base+"/ui/webhooks/"+ep.ID), chromedp.WaitVisible(chromedp.CSS(`main h1`)), shots.shot("08-webhook-outgoing"),
		chromedp.Navigate(base+"/ui/rules"), chromedp.WaitVisible(chromedp.CSS(`main h1`)), shots.shot("09-rules"),
		chromedp.Navigate(base+"/ui/mcp"), chromedp.WaitVisible(chromedp.CSS(`main h1`)), shots.shot("10-mcp"),
		chromedp.Navigate(base+"/ui/users"), chromedp.WaitVisible(chromedp.CSS(`#user-form`)), shots.shot("11-users"),
		chromedp.Navigate(base+"/ui/audit"), chromedp.WaitVisible(chromedp.CSS(`#verify`)),
		chromedp.Click(chromedp.CSS(`#verify`)), chromedp.WaitVisible(chromedp.CSS(`#verify-result`)),
		textInto(`#verify-result`, &text), shots.shot("12-audit-verified"),
		chromedp.Navigate(base+"/ui/"), chromedp.WaitVisible(chromedp.CSS(`main h1`)), shots.shot("13-dashboard-after"))
	if !strings.Contains(text, "chain verifies") {
		t.Fatalf("verify result: %q", text)
	}
	var evID string
	if err := h.DB.QueryRow(context.Background(), "SELECT id FROM events LIMIT 1").Scan(&evID); err != nil {
		t.Fatal(err)
	}
	run(t, ctx, "event", chromedp.Navigate(base+"/ui/events/"+evID), chromedp.WaitVisible(chromedp.CSS(`pre.payload`)), shots.shot("14-event"))

	// A user does not see, and cannot open, Users & tokens.
	var hidden bool
	run(t, ctx, "user role", signOut(), signIn(base, "viewer", "viewer-password"),
		evalInto(`document.querySelector('nav.menu a[href="/ui/users"]') === null && document.querySelector('nav.menu a[href="/ui/deliveries"]') !== null`, &hidden),
		shots.shot("15-dashboard-user"),
		chromedp.Navigate(base+"/ui/users"), chromedp.WaitVisible(chromedp.CSS(`.error-page`)),
		textInto(`.error-page`, &text), shots.shot("16-forbidden"))
	if !hidden {
		t.Fatal("the user's menu shows Users & tokens (or lacks Deliveries)")
	}
	if !strings.Contains(text, "403") || !strings.Contains(text, "needs the admin role") {
		t.Fatalf("forbidden page: %q", text)
	}
	var replayButtons int
	run(t, ctx, "no replay for user", chromedp.Navigate(base+"/ui/deliveries?state=dead"), chromedp.WaitVisible(chromedp.CSS(`table`)),
		evalInto(`document.querySelectorAll('button.replay').length`, &replayButtons))
	if replayButtons != 0 {
		t.Fatalf("a user sees %d replay buttons", replayButtons)
	}

	// Single sign-on through the fake Keycloak.
	var who string
	run(t, ctx, "sso", signOut(), shots.shot("17-login"),
		chromedp.Click(chromedp.CSS(`#sso`)), chromedp.WaitVisible(chromedp.CSS(`#kc-form-login`)),
		chromedp.SendKeys(chromedp.CSS(`#username`), "kate"), chromedp.SendKeys(chromedp.CSS(`#password`), "kc-password"),
		chromedp.Click(chromedp.CSS(`#kc-login`)), chromedp.WaitVisible(chromedp.CSS(`header.top`)),
		textInto(`.who`, &who), shots.shot("18-dashboard-sso"))
	if !strings.Contains(who, "kate") || !strings.Contains(who, "admin") {
		t.Fatalf("signed in via SSO as %q, want kate with role admin", who)
	}
	u, err := h.DB.UserByName(context.Background(), "kate")
	if err != nil || u.Source != auth.SourceOIDC || u.OIDCIssuer != kc.Issuer() || u.Role != "admin" {
		t.Fatalf("SSO user: %+v %v", u, err)
	}

	// Signing out ends the provider's session too: SSO asks for the password again.
	var form bool
	run(t, ctx, "sso logout", signOut(), chromedp.Click(chromedp.CSS(`#sso`)),
		chromedp.WaitVisible(chromedp.CSS(`#kc-form-login, header.top`)),
		evalInto(`document.querySelector('#kc-form-login') !== null`, &form))
	if !form || kc.Sessions() != 0 {
		t.Fatalf("after signing out, SSO passed without the password (form %v, %d provider sessions)", form, kc.Sessions())
	}
}

func textInto(sel string, dst *string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		v, err := chromedp.Text(chromedp.CSS(sel))(ctx, tg)
		*dst = strings.TrimSpace(v)
		return err
	})
}

func evalInto[T any](expr string, dst *T) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		v, err := chromedp.Evaluate[T](expr)(ctx, tg)
		*dst = v
		return err
	})
}

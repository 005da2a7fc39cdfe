package testsuperset_test

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/insightpulseai/ipai/internal/api"
	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/embed"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/testsuperset"
)

// TestEmbedPageRealSDK: the hub's /embed/dashboards/{id}, opened in
// headless Chromium with an admin UI session, loads the real
// @superset-ui/embedded-sdk bundle (served by the hub as /embed/sdk.js from
// the configured path, as an operator installs it), which mounts the real
// Superset's embedded dashboard in an iframe with the hub's guest token.
// Superset sends the stack's CSP (frame-ancestors) and checks the
// embedding's allowed_domains against the hub's origin. The dashboard's
// table chart renders company 1's rows and none of company 2's (RLS from
// the registry's rls_clause). A screenshot goes to $IPAI_ARTIFACTS (else
// the test's temp dir).
func TestEmbedPageRealSDK(t *testing.T) {
	exe := chromiumPath(t)
	sdk, err := testsuperset.SDKBundle()
	if err != nil {
		t.Fatal(err)
	}
	s, c := client(t, nil)
	f := salesFixture(t, c)
	ctx := context.Background()

	// The hub, with the UI session the page works with.
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "ipai.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	al := audit.New(db)
	sessions := auth.NewSessions(db, 0)
	srv := &api.Server{DB: db, Audit: al, Tokens: auth.NewTokens(db), Log: slog.New(slog.DiscardHandler), Sessions: sessions,
		EmbedSDKPath: sdk}
	srv.Embed = &embed.Service{Audit: al,
		Dashboards: []embed.Dashboard{{ID: "sales", Name: "Sales", SupersetID: "sales", EmbeddedUUID: f.EmbeddedUUID,
			RLSClause: "company_id = 1", HideFilters: true}},
		Config: func(context.Context) (connector.Config, error) {
			return connector.Config{Type: "superset", BaseURL: s.URL, Settings: map[string]string{"username": testsuperset.Username},
				Secrets: map[string]string{"password": testsuperset.Password}}, nil
		}}
	h := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { h.Close(); al.Close() })
	u, err := auth.NewUsers(db).Create(ctx, auth.NewUser{Name: "ana", Email: "ana@example.com", Role: auth.RoleUser, Password: "a-long-password-1"})
	if err != nil {
		t.Fatal(err)
	}
	cookie, _, err := sessions.Create(ctx, u, "127.0.0.1", "test")
	if err != nil {
		t.Fatal(err)
	}

	// Superset serves /embedded/{uuid} only to a referrer in the
	// embedding's allowed_domains: the hub's origin.
	allow := func(domains []string) error {
		return c.Post(ctx, fmt.Sprintf("/api/v1/dashboard/%d/embedded", f.DashboardID), map[string]any{"allowed_domains": domains}, nil)
	}
	if err := allow([]string{h.URL}); err != nil {
		t.Fatalf("allowed_domains: %v", err)
	}
	t.Cleanup(func() { _ = allow([]string{}) })
	// The CSP the frame is sent with names the hub's origin.
	resp, err := http.Get(s.URL + "/health")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if csp := resp.Header.Get("Content-Security-Policy"); !strings.Contains(csp, testsuperset.FrameAncestors) {
		t.Fatalf("superset's CSP = %q, want %q", csp, testsuperset.FrameAncestors)
	}

	bctx := headless(t, exe)
	t0 := time.Now()
	// The UI session cookie, as the admin UI's sign-in sets it.
	if err := chromedp.Do(bctx, chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		return tg.Call(ctx, "Network.setCookie", map[string]any{"name": api.SessionCookie, "value": cookie, "url": h.URL,
			"httpOnly": true, "sameSite": "Lax"}, nil)
	})); err != nil {
		t.Fatal(err)
	}
	var sdkLoaded bool
	if err := chromedp.Do(bctx, chromedp.Navigate(h.URL+"/embed/dashboards/sales"), chromedp.WaitReady(chromedp.CSS("#dash iframe")),
		chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
			v, err := chromedp.Evaluate[bool](`typeof window.supersetEmbeddedSdk.embedDashboard === "function"`)(ctx, tg)
			sdkLoaded = v
			return err
		})); err != nil {
		t.Fatalf("embed page: %v", err)
	}
	if !sdkLoaded {
		t.Fatal("the page has no window.supersetEmbeddedSdk")
	}
	src, err := chromedp.Run(bctx, chromedp.AttributeValue(chromedp.CSS("#dash iframe"), "src"))
	if err != nil || !strings.HasPrefix(src.Value, s.URL+"/embedded/"+f.EmbeddedUUID) {
		t.Fatalf("iframe src = %+v (%v), want %s/embedded/%s", src, err, s.URL, f.EmbeddedUUID)
	}

	// Wait until the chart has rendered its rows inside the frame.
	want := []string{"Azure Interior", "Deco Addict"}
	others := []string{"Gemini Furniture", "Lumber Inc", "Ready Mat"}
	var text string
	const wait = 4 * time.Minute // a loaded 2-core machine; warm runs take seconds
	deadline := time.Now().Add(wait)
	for {
		text = frameText(bctx)
		if strings.Contains(text, want[0]) && strings.Contains(text, want[1]) {
			break
		}
		if time.Now().After(deadline) {
			log := s.Log()
			t.Fatalf("the chart's rows did not render within %s; frame text:\n%.2000s\nsuperset log:\n%s", wait, text, log[max(0, len(log)-3000):])
		}
		select {
		case <-bctx.Done():
			t.Fatal(bctx.Err())
		case <-time.After(500 * time.Millisecond):
		}
	}
	rendered := time.Since(t0)
	for _, o := range others {
		if strings.Contains(text, o) {
			t.Fatalf("company 2's row %q is visible to company 1's viewer:\n%s", o, text)
		}
	}
	shot, err := chromedp.Run(bctx, chromedp.FullScreenshot(100)) // 100: PNG
	if err != nil {
		t.Fatal(err)
	}
	dir := os.Getenv("IPAI_ARTIFACTS")
	if dir == "" {
		dir = t.TempDir()
	}
	dir = filepath.Join(dir, "screenshots")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	png := filepath.Join(dir, "superset-embed-real-sdk.png")
	if err := os.WriteFile(png, shot, 0o644); err != nil {
		t.Fatal(err)
	}
	t.Logf("embed page rendered the chart in %s; screenshot %s", rendered.Round(time.Millisecond), png)
}

// frameText is the text of the embedded dashboard's document ("" while the
// frame has none yet).
func frameText(ctx context.Context) string {
	qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	nodes, err := chromedp.Run(qctx, chromedp.Nodes(chromedp.CSS("#dash iframe")))
	if err != nil || len(nodes) == 0 {
		return ""
	}
	// innerText: what is rendered (not script or hidden text), of the
	// table chart's cells.
	text, _ := chromedp.Run(qctx, chromedp.Text(chromedp.CSS("body"), chromedp.FromNode(nodes[0])))
	return text
}

// chromiumPath finds Debian's chromium (scripts/test.d/chromium.sh). The
// test fails without it.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Fatal("chromium is not installed: run scripts/test.d/chromium.sh (apt-get install -y chromium)")
	return ""
}

// headless starts Chromium as internal/ui's browser tests do.
func headless(t *testing.T, exe string) context.Context {
	t.Helper()
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

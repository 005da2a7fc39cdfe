package ui_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/fake/mattermost"
	"github.com/insightpulseai/ipai/internal/store"
)

// TestBrowserFirstRun walks a fresh hub from the setup URL to a delivered
// test event. Screenshots go to $IPAI_ARTIFACTS/screenshots/firstrun, or
// the test's temp dir.
func TestBrowserFirstRun(t *testing.T) {
	ctx := browser(t)
	mm := mattermost.New()
	defer mm.Close()
	got := make(chan string, 4)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got <- r.Header.Get("Content-Type")
		w.WriteHeader(http.StatusNoContent)
	}))
	defer receiver.Close()
	h := newHub(t, func(c *config.Config) { c.Outbound.Allow = []string{strings.TrimPrefix(receiver.URL, "http://")} })
	dctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { h.Dispatcher.Run(dctx); close(done) }()
	defer func() { stop(); <-done }()

	dir := t.TempDir()
	if a := os.Getenv("IPAI_ARTIFACTS"); a != "" {
		dir = filepath.Join(a, "screenshots", "firstrun")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots in %s", dir)
	shots := shooter{t, dir}
	base := h.URL
	path, err := h.UI.ArmSetup(context.Background())
	if err != nil || path == "" {
		t.Fatalf("a fresh hub armed no setup URL: %q %v", path, err)
	}

	var text string
	run(t, ctx, "sign-in page points to the setup URL", chromedp.Navigate(base+"/ui/"),
		chromedp.WaitVisible(chromedp.CSS(`#first-run`)), textInto(`#first-run`, &text), shots.shot("01-login-first-run"))
	if !strings.Contains(text, "setup URL") {
		t.Fatalf("first-run hint: %q", text)
	}
	run(t, ctx, "setup", chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS(`#setup`)),
		chromedp.SendKeys(chromedp.CSS(`input[name=name]`), "owner"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password]`), "owner-password"),
		chromedp.SendKeys(chromedp.CSS(`input[name=password2]`), "owner-password"),
		shots.shot("02-setup"),
		chromedp.Click(chromedp.CSS(`#create-admin`)), chromedp.WaitVisible(chromedp.CSS(`#getting-started`)),
		textInto(`.who`, &text), shots.shot("03-get-started"))
	if !strings.Contains(text, "owner") || !strings.Contains(text, "admin") {
		t.Fatalf("after setup, signed in as %q; want owner (admin)", text)
	}

	// Step 1: a connector, tested before it is activated.
	run(t, ctx, "connector", chromedp.Click(chromedp.CSS(`#start-connector`)), chromedp.WaitVisible(chromedp.CSS(`#choose-type`)),
		chromedp.SetValue(chromedp.CSS(`#type`), "mattermost"), chromedp.Click(chromedp.CSS(`#choose-type`)),
		chromedp.WaitVisible(chromedp.CSS(`#connector-form`)),
		chromedp.SendKeys(chromedp.CSS(`#code`), "chat"),
		chromedp.SendKeys(chromedp.CSS(`#name`), "Team chat"),
		chromedp.SendKeys(chromedp.CSS(`#base_url`), mm.URL),
		chromedp.SendKeys(chromedp.CSS(`#setting-team`), mattermost.TeamName),
		chromedp.SendKeys(chromedp.CSS(`#secret-token`), mattermost.AdminToken),
		chromedp.Click(chromedp.CSS(`#save`)), chromedp.WaitVisible(chromedp.CSS(`#test-connection`)),
		chromedp.Click(chromedp.CSS(`#test-connection`)), chromedp.WaitVisible(chromedp.CSS(`#test-result`)),
		textInto(`#test-result`, &text), shots.shot("04-connector-tested"))
	if !strings.Contains(text, "passed") {
		t.Fatalf("Test Connection: %q", text)
	}

	// Step 2: an incoming hook and an outgoing endpoint, the way the page
	// says (the API with an admin token).
	raw, _, err := h.API.Tokens.Create(context.Background(), auth.CreateOptions{Name: "first-steps", Role: auth.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	for _, body := range []string{`{"direction":"incoming","name":"odoo-invoices","scheme":"standard"}`,
		`{"direction":"outgoing","name":"receiver","target_url":"` + receiver.URL + `/hook","event_types":["*"]}`} {
		req, _ := http.NewRequest("POST", base+"/api/v1/webhooks", strings.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+raw)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusCreated {
			t.Fatalf("POST /api/v1/webhooks %s: %d", body, resp.StatusCode)
		}
	}
	run(t, ctx, "webhooks", chromedp.Navigate(base+"/ui/start"), chromedp.Click(chromedp.CSS(`#start-webhooks`)),
		chromedp.WaitVisible(chromedp.CSS(`main h1`)), textInto(`main`, &text), shots.shot("05-webhooks"))
	if !strings.Contains(text, "odoo-invoices") || !strings.Contains(text, "receiver") {
		t.Fatalf("webhooks page lacks the hook or the endpoint:\n%s", text)
	}

	// Step 3: the test event, delivered to the receiver.
	run(t, ctx, "test event", chromedp.Navigate(base+"/ui/start"), chromedp.Click(chromedp.CSS(`#send-test-event`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)), textInto(`.flash`, &text))
	if !strings.Contains(text, "Test event sent") {
		t.Fatalf("after the test event: %q", text)
	}
	select {
	case <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("the receiver got no delivery within 30 s")
	}
	var evID string
	if err := h.DB.QueryRow(context.Background(), "SELECT id FROM events WHERE type = 'ipai.test'").Scan(&evID); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		var st string
		if err := h.DB.QueryRow(context.Background(), "SELECT state FROM deliveries WHERE event_id = ?", evID).Scan(&st); err != nil {
			t.Fatal(err)
		}
		if st == store.DeliverySucceeded {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the test event's delivery is %s after 30 s", st)
		}
		time.Sleep(50 * time.Millisecond)
	}
	run(t, ctx, "delivery shown", chromedp.Navigate(base+"/ui/events/"+evID), chromedp.WaitVisible(chromedp.CSS(`.st-succeeded`)),
		shots.shot("06-test-event-delivered"))

	// The setup URL is spent.
	run(t, ctx, "setup URL spent", chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS(`.error-page`)),
		textInto(`.error-page`, &text), shots.shot("07-setup-spent"))
	if !strings.Contains(text, "404") {
		t.Fatalf("setup URL after setup: %q", text)
	}
}

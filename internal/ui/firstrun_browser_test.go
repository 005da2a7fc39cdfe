package ui_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/fake/mattermost"
	"github.com/insightpulseai/ipai/internal/webhooksig"
)

// TestBrowserFirstRun walks a fresh hub from the setup URL to a delivered
// test event. Screenshots go to $IPAI_ARTIFACTS/screenshots/firstrun, or
// the test's temp dir.
func TestBrowserFirstRun(t *testing.T) {
	ctx := browser(t)
	mm := mattermost.New()
	defer mm.Close()
	type received struct {
		hdr  http.Header
		body []byte
	}
	got := make(chan received, 4)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got <- received{r.Header.Clone(), b}
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

	// Step 2: an outgoing endpoint to the receiver and an incoming hook,
	// from the forms the page links to; each secret is shown once.
	var epSecret, hookSecret string
	run(t, ctx, "outgoing endpoint", chromedp.Navigate(base+"/ui/start"), chromedp.Click(chromedp.CSS(`#start-outgoing`)),
		chromedp.WaitVisible(chromedp.CSS(`#webhook-form`)),
		chromedp.SendKeys(chromedp.CSS(`#wh-name`), "receiver"),
		chromedp.SendKeys(chromedp.CSS(`#wh-target`), receiver.URL+"/hook"),
		shots.shot("05-endpoint-new"),
		chromedp.Click(chromedp.CSS(`#save-webhook`)), chromedp.WaitVisible(chromedp.CSS(`#new-secret`)),
		textInto(`#new-secret`, &epSecret), shots.shot("06-endpoint-created"))
	run(t, ctx, "incoming hook", chromedp.Click(chromedp.CSS(`#back-to-start`)), chromedp.WaitVisible(chromedp.CSS(`#getting-started`)),
		chromedp.Click(chromedp.CSS(`#start-incoming`)), chromedp.WaitVisible(chromedp.CSS(`#webhook-form`)),
		chromedp.SendKeys(chromedp.CSS(`#wh-name`), "odoo-invoices"),
		chromedp.SendKeys(chromedp.CSS(`#wh-event-type`), "odoo.invoice.posted"),
		shots.shot("07-hook-new"),
		chromedp.Click(chromedp.CSS(`#save-webhook`)), chromedp.WaitVisible(chromedp.CSS(`#new-secret`)),
		textInto(`#new-secret`, &hookSecret), shots.shot("08-hook-created"))
	if !strings.HasPrefix(epSecret, "whsec_") || !strings.HasPrefix(hookSecret, "whsec_") || epSecret == hookSecret {
		t.Fatalf("secrets shown: endpoint %q, hook %q", epSecret, hookSecret)
	}
	run(t, ctx, "webhooks", chromedp.Click(chromedp.CSS(`#back-to-start`)), chromedp.WaitVisible(chromedp.CSS(`#getting-started`)),
		textInto(`#step-webhooks`, &text), shots.shot("09-get-started-webhooks"))
	if !strings.Contains(text, "odoo-invoices") || !strings.Contains(text, "receiver") {
		t.Fatalf("the guided start does not list the hook and the endpoint:\n%s", text)
	}
	run(t, ctx, "webhooks page", chromedp.Click(chromedp.CSS(`#start-webhooks`)), chromedp.WaitVisible(chromedp.CSS(`main h1`)),
		textInto(`main`, &text), shots.shot("10-webhooks"))
	if !strings.Contains(text, "odoo-invoices") || !strings.Contains(text, "receiver") {
		t.Fatalf("webhooks page lacks the hook or the endpoint:\n%s", text)
	}
	if strings.Contains(text, epSecret) || strings.Contains(text, hookSecret) {
		t.Fatal("the webhooks page shows a secret again")
	}

	// Step 3: the test event, delivered to the receiver, signed with the
	// secret the page showed.
	var evURL string
	run(t, ctx, "test event", chromedp.Navigate(base+"/ui/start"), chromedp.Click(chromedp.CSS(`#send-test-event`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)), textInto(`.flash`, &text), locationInto(&evURL))
	if !strings.Contains(text, "Test event sent") || !strings.Contains(evURL, "/ui/events/") {
		t.Fatalf("after the test event: %q at %s", text, evURL)
	}
	select {
	case rec := <-got:
		if _, err := webhooksig.Verify(webhooksig.SchemeStandard, []string{epSecret}, rec.hdr, rec.body, time.Now()); err != nil {
			t.Fatalf("the delivery does not verify with the secret the page showed: %v", err)
		}
		if !strings.Contains(string(rec.body), "ipai.test") {
			t.Fatalf("delivered body: %s", rec.body)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the receiver got no delivery within 30 s")
	}
	// The event's page shows the delivery delivered (it is marked a moment
	// after the receiver answers).
	deadline := time.Now().Add(30 * time.Second)
	for {
		var ok bool
		run(t, ctx, "delivery state", chromedp.Navigate(evURL), chromedp.WaitVisible(chromedp.CSS(`main h1`)),
			evalInto(`document.querySelector('.st-succeeded') !== null`, &ok))
		if ok {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the event page shows no succeeded delivery after 30 s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	run(t, ctx, "delivery shown", shots.shot("11-test-event-delivered"))

	// Step 4: the endpoint edited from its page: renamed and narrowed to
	// ipai.* events. The edit keeps its secret: the next test event still
	// verifies with the one shown at creation.
	eps, err := h.DB.ListWebhooks(context.Background(), "outgoing")
	if err != nil || len(eps) != 1 {
		t.Fatalf("stored endpoints: %+v %v", eps, err)
	}
	run(t, ctx, "edit endpoint", chromedp.Navigate(base+"/ui/webhooks/"+eps[0].ID), chromedp.WaitVisible(chromedp.CSS(`#edit-webhook`)),
		chromedp.Click(chromedp.CSS(`#edit-webhook`)), chromedp.WaitVisible(chromedp.CSS(`#webhook-form`)),
		chromedp.SetValue(chromedp.CSS(`#wh-name`), "receiver-renamed"),
		chromedp.SetValue(chromedp.CSS(`#wh-event-types`), "ipai.*"), shots.shot("12-endpoint-edit"),
		chromedp.Click(chromedp.CSS(`#save-webhook`)), chromedp.WaitVisible(chromedp.CSS(`#edit-webhook`)),
		textInto(`main`, &text), shots.shot("13-endpoint-edited"))
	if !strings.Contains(text, "receiver-renamed") || strings.Contains(text, epSecret) {
		t.Fatalf("endpoint page after the edit (want the new name, no secret):\n%s", text)
	}
	eps, err = h.DB.ListWebhooks(context.Background(), "outgoing")
	if err != nil || len(eps) != 1 || eps[0].Name != "receiver-renamed" || !strings.Contains(eps[0].Spec, `"ipai.*"`) {
		t.Fatalf("stored endpoint after the edit: %+v %v", eps, err)
	}
	run(t, ctx, "second test event", chromedp.Navigate(base+"/ui/start"), chromedp.Click(chromedp.CSS(`#send-test-event`)),
		chromedp.WaitVisible(chromedp.CSS(`.flash`)))
	select {
	case rec := <-got:
		if _, err := webhooksig.Verify(webhooksig.SchemeStandard, []string{epSecret}, rec.hdr, rec.body, time.Now()); err != nil {
			t.Fatalf("after the edit the delivery does not verify with the secret shown at creation: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the receiver got no delivery within 30 s of the second test event")
	}

	// The setup URL is spent.
	run(t, ctx, "setup URL spent", chromedp.Navigate(base+path), chromedp.WaitVisible(chromedp.CSS(`.error-page`)),
		textInto(`.error-page`, &text), shots.shot("14-setup-spent"))
	if !strings.Contains(text, "404") {
		t.Fatalf("setup URL after setup: %q", text)
	}
}

// locationInto stores the page's URL in *u.
func locationInto(u *string) chromedp.Action[chromedp.Void] {
	return chromedp.Func(func(ctx context.Context, tg *chromedp.Target) error {
		l, err := chromedp.Location()(ctx, tg)
		*u = l
		return err
	})
}

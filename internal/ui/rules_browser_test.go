package ui_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/store"
)

// TestBrowserRules creates a rule with a bad expression (refused, nothing
// stored), fixes it, dry-runs it, disables, edits and deletes it, all with
// the rule forms. Screenshots go to $IPAI_ARTIFACTS/screenshots/rules, or
// the test's temp dir.
func TestBrowserRules(t *testing.T) {
	ctx := browser(t)
	h := newHub(t, nil)
	h.addUser(t, "admin", auth.RoleAdmin)
	bg := context.Background()
	ep, _, err := h.Endpoints.Create(bg, "finance-n8n", delivery.EndpointSpec{TargetURL: "https://n8n.example.com/webhook/finance"}, false)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if a := os.Getenv("IPAI_ARTIFACTS"); a != "" {
		dir = filepath.Join(a, "screenshots", "rules")
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("screenshots in %s", dir)
	shots := shooter{t, dir}
	base := h.URL
	rules := func() []store.Rule {
		rs, err := h.DB.ListRules(bg)
		if err != nil {
			t.Fatal(err)
		}
		return rs
	}

	var text string
	actions := `[{"kind": "webhook", "endpoint": "` + ep.ID + `"}]`
	run(t, ctx, "new rule with a bad expression", signIn(base, "admin", "admin-password"),
		chromedp.Navigate(base+"/ui/rules"), chromedp.WaitVisible(chromedp.CSS(`#new-rule`)),
		chromedp.Click(chromedp.CSS(`#new-rule`)), chromedp.WaitVisible(chromedp.CSS(`#rule-form`)),
		chromedp.SendKeys(chromedp.CSS(`#rule-name`), "big invoices"),
		chromedp.SetValue(chromedp.CSS(`#rule-type`), "odoo.invoice.*"),
		chromedp.SendKeys(chromedp.CSS(`#rule-condition`), "data.amount_total >"),
		chromedp.SetValue(chromedp.CSS(`#rule-actions`), actions),
		shots.shot("01-rule-new"),
		chromedp.Click(chromedp.CSS(`#save-rule`)), chromedp.WaitVisible(chromedp.CSS(`.field-error`)),
		textInto(`.field-error`, &text), shots.shot("02-rule-bad-expression"))
	if !strings.Contains(text, "invalid expression") {
		t.Fatalf("field error: %q", text)
	}
	var kept string
	run(t, ctx, "input kept", evalInto(`document.querySelector('#rule-name').value + '|' + document.querySelector('#rule-condition').value`, &kept))
	if kept != "big invoices|data.amount_total >" {
		t.Fatalf("the form lost the input: %q", kept)
	}
	if rs := rules(); len(rs) != 0 {
		t.Fatalf("a rule with a bad expression was stored: %+v", rs)
	}

	run(t, ctx, "fix and create", chromedp.SetValue(chromedp.CSS(`#rule-condition`), "data.amount_total > 10000"),
		chromedp.Click(chromedp.CSS(`#save-rule`)), chromedp.WaitVisible(chromedp.CSS(`#test-form`)),
		textInto(`.flash`, &text), shots.shot("03-rule-created"))
	rs := rules()
	if len(rs) != 1 || rs[0].Condition != "data.amount_total > 10000" || !rs[0].Enabled || !strings.Contains(text, "created") {
		t.Fatalf("after the fix: %+v (flash %q)", rs, text)
	}
	id := rs[0].ID

	run(t, ctx, "dry run", chromedp.SetValue(chromedp.CSS(`#test-type`), "odoo.invoice.posted"),
		chromedp.SetValue(chromedp.CSS(`#test-payload`), `{"amount_total": 25000, "partner": "ACME"}`),
		chromedp.Click(chromedp.CSS(`#run-test`)), chromedp.WaitVisible(chromedp.CSS(`#test-result`)),
		textInto(`#test-result`, &text), shots.shot("04-rule-tested"))
	if !strings.Contains(text, "Matches") || !strings.Contains(text, ep.ID) {
		t.Fatalf("dry run: %q", text)
	}
	var gone bool // the next page's result, not this one's
	run(t, ctx, "dry run, no match", evalInto(`document.querySelector('#test-result').remove(); true`, &gone),
		chromedp.SetValue(chromedp.CSS(`#test-payload`), `{"amount_total": 50}`),
		chromedp.Click(chromedp.CSS(`#run-test`)), chromedp.WaitVisible(chromedp.CSS(`#test-result`)),
		textInto(`#test-result`, &text))
	if !strings.Contains(text, "No match") || !strings.Contains(text, "condition is false") {
		t.Fatalf("dry run below the threshold: %q", text)
	}
	if n, _ := h.DB.CountEvents(bg); n != 0 {
		t.Fatalf("the dry run stored %d events", n)
	}

	run(t, ctx, "disable", chromedp.Click(chromedp.CSS(`#disable-rule`)), chromedp.WaitVisible(chromedp.CSS(`#enable-rule`)),
		textInto(`.flash`, &text), shots.shot("05-rule-disabled"))
	if x, _ := h.DB.Rule(bg, id); x.Enabled || !strings.Contains(text, "disabled") {
		t.Fatalf("after disable: %+v (flash %q)", x, text)
	}

	run(t, ctx, "edit", chromedp.Click(chromedp.CSS(`#edit-rule`)), chromedp.WaitVisible(chromedp.CSS(`#rule-form`)),
		chromedp.SetValue(chromedp.CSS(`#rule-name`), "very big invoices"),
		chromedp.SetValue(chromedp.CSS(`#rule-condition`), "data.amount_total > 100000"),
		shots.shot("06-rule-edit"),
		chromedp.Click(chromedp.CSS(`#save-rule`)), chromedp.WaitVisible(chromedp.CSS(`#test-form`)),
		textInto(`main h1`, &text), shots.shot("07-rule-edited"))
	if x, _ := h.DB.Rule(bg, id); x.Name != "very big invoices" || x.Condition != "data.amount_total > 100000" || x.Enabled {
		t.Fatalf("after the edit: %+v", x)
	}

	// The delete button asks for confirmation (app.js); answer yes as a user would.
	var stubbed bool
	run(t, ctx, "delete", evalInto(`window.confirm = (msg) => msg.includes("very big invoices"); true`, &stubbed),
		chromedp.Click(chromedp.CSS(`#delete-rule`)), chromedp.WaitVisible(chromedp.CSS(`#new-rule`)),
		textInto(`.flash`, &text), shots.shot("08-rule-deleted"))
	if rs := rules(); len(rs) != 0 || !strings.Contains(text, "deleted") {
		t.Fatalf("after delete: %+v (flash %q)", rs, text)
	}
}

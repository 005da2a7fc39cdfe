package ui_test

import (
	"context"
	"encoding/json"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/event"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/store"
)

// auditEntries lists the audit entries of action, newest first.
func auditEntries(t *testing.T, h *hub, action string) []store.AuditRow {
	t.Helper()
	rows, err := h.DB.ListAudit(context.Background(), store.AuditFilter{Action: action, Limit: 50})
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// fieldErrorAfter reports whether a field error containing msg follows the
// form field named name.
func fieldErrorAfter(body, name, msg string) bool {
	i := strings.Index(body, `name="`+name+`"`)
	if i < 0 {
		return false
	}
	j := strings.Index(body[i:], `class="field-error"`)
	if j < 0 {
		return false
	}
	end := min(len(body), i+j+400)
	return strings.Contains(html.UnescapeString(body[i+j:end]), msg)
}

func TestRuleForms(t *testing.T) {
	h := newHub(t, nil)
	h.addUser(t, "mgr", auth.RoleManager)
	h.addUser(t, "admin", auth.RoleAdmin)
	ctx := context.Background()
	c := newClient(t, h.URL)
	mustStatus(t, c.login("mgr", "mgr-password"), http.StatusSeeOther, "")
	_, page := c.get("/ui/rules/new")
	tok := csrfOf(t, page)
	actions := `[{"kind":"n8n.trigger","connector":"flows","path":"po/{{.data.name}}","body":{"total":"{{.data.amount_total}}"}}]`
	form := url.Values{"csrf": {tok}, "name": {"po approval"}, "enabled": {"true"}, "match_source": {"odoo"},
		"match_type": {"odoo.purchase.order.*"}, "condition": {"data.amount_total >"}, "actions": {actions}}

	// A bad expression: the API's error next to the field, input kept, nothing stored.
	resp, body := c.post("/ui/rules", form)
	mustStatus(t, resp, http.StatusUnprocessableEntity, body)
	if !fieldErrorAfter(body, "condition", "invalid expression") {
		t.Fatalf("no expression error after the condition field:\n%s", body)
	}
	if !strings.Contains(body, "data.amount_total &gt;") || !strings.Contains(body, `value="po approval"`) || !strings.Contains(html.UnescapeString(body), `"path":"po/{{.data.name}}"`) {
		t.Fatalf("the form lost the user's input:\n%s", body)
	}
	// A bad template in an action, and actions that are not JSON.
	bad := cloneForm(form, "condition", "")
	bad.Set("actions", `[{"kind":"n8n.trigger","connector":"flows","path":"{{.data.name"}]`)
	resp, body = c.post("/ui/rules", bad)
	mustStatus(t, resp, http.StatusUnprocessableEntity, body)
	if !fieldErrorAfter(body, "actions", "actions[0].path: template") {
		t.Fatalf("no template error after the actions field:\n%s", body)
	}
	bad.Set("actions", `{"kind":`)
	resp, body = c.post("/ui/rules", bad)
	mustStatus(t, resp, http.StatusUnprocessableEntity, body)
	if !fieldErrorAfter(body, "actions", "is not a JSON list of actions") {
		t.Fatalf("no JSON error after the actions field:\n%s", body)
	}
	if rs, _ := h.DB.ListRules(ctx); len(rs) != 0 {
		t.Fatalf("invalid rules stored: %+v", rs)
	}

	// Fixed: created, routed by the hub's router, audited.
	form.Set("condition", "data.amount_total > 1000")
	resp, body = c.post("/ui/rules", form)
	mustStatus(t, resp, http.StatusSeeOther, body)
	rs, _ := h.DB.ListRules(ctx)
	if len(rs) != 1 || rs[0].Condition != "data.amount_total > 1000" || !rs[0].Enabled {
		t.Fatalf("stored rules: %+v", rs)
	}
	id := rs[0].ID
	if loc := resp.Header.Get("Location"); loc != "/ui/rules/"+id {
		t.Fatalf("redirect to %q", loc)
	}
	ev := &store.Event{ID: "e1", Source: "odoo", Type: "odoo.purchase.order.write", Payload: `{"amount_total":5000,"name":"P1"}`}
	if ds := h.Router.Route(ev, rs[0].CreatedAt); len(ds) != 1 || ds[0].RuleID != id {
		t.Fatalf("the router does not route by the new rule: %+v", ds)
	}
	if a := auditEntries(t, h, "rule.create"); len(a) != 1 || a[0].Target != id || !strings.Contains(a[0].Message, "po approval") {
		t.Fatalf("create audit: %+v", a)
	}
	// The same name again: the API's conflict, next to the name.
	resp, body = c.post("/ui/rules", form)
	mustStatus(t, resp, http.StatusUnprocessableEntity, body)
	if !fieldErrorAfter(body, "name", "already exists") {
		t.Fatalf("no conflict error after the name field:\n%s", body)
	}

	// Dry run: what matches and what the action would send; nothing stored.
	resp, body = c.post("/ui/rules/"+id+"/test", url.Values{"csrf": {tok}, "type": {"odoo.purchase.order.write"}, "source": {"odoo"},
		"payload": {`{"amount_total": 5000, "name": "P9"}`}})
	mustStatus(t, resp, http.StatusOK, body)
	res := html.UnescapeString(body)
	if !strings.Contains(res, `id="test-result"`) || !strings.Contains(res, "Matches:") || !strings.Contains(res, `"path": "po/P9"`) || !strings.Contains(res, `"total": "5000"`) {
		t.Fatalf("dry run result:\n%s", body)
	}
	resp, body = c.post("/ui/rules/"+id+"/test", url.Values{"csrf": {tok}, "type": {"odoo.purchase.order.write"}, "source": {"odoo"},
		"payload": {`{"amount_total": 10}`}})
	mustStatus(t, resp, http.StatusOK, body)
	if !strings.Contains(body, "No match") {
		t.Fatalf("dry run below the threshold:\n%s", body)
	}
	resp, body = c.post("/ui/rules/"+id+"/test", url.Values{"csrf": {tok}, "type": {""}, "payload": {`{nope`}})
	mustStatus(t, resp, http.StatusUnprocessableEntity, body)
	if !fieldErrorAfter(body, "type", "is required") {
		t.Fatalf("no error after the sample type:\n%s", body)
	}
	if n, _ := h.DB.CountEvents(ctx); n != 0 {
		t.Fatalf("the dry run stored %d events", n)
	}
	if a := auditEntries(t, h, "rule.test"); len(a) != 2 {
		t.Fatalf("test audit: %+v", a)
	}

	// Disable, then edit (a bad edit keeps the stored rule), as a manager.
	resp, body = c.post("/ui/rules/"+id+"/state", url.Values{"csrf": {tok}, "enabled": {"false"}})
	mustStatus(t, resp, http.StatusSeeOther, body)
	if x, _ := h.DB.Rule(ctx, id); x.Enabled {
		t.Fatal("rule still enabled")
	}
	if ds := h.Router.Route(ev, rs[0].CreatedAt); len(ds) != 0 {
		t.Fatalf("a disabled rule still routes: %+v", ds)
	}
	_, body = c.get("/ui/rules/" + id + "/edit")
	if !strings.Contains(body, `value="po approval"`) || strings.Contains(body, `id="rule-enabled" value="true" checked`) {
		t.Fatalf("edit form not filled from the stored rule:\n%s", body)
	}
	edit := cloneForm(form, "condition", "data.amount_total > 100000")
	edit.Del("enabled")
	edit.Set("name", "po approval (large)")
	edit.Set("match_type", "odoo purchase")
	resp, body = c.post("/ui/rules/"+id, edit)
	mustStatus(t, resp, http.StatusUnprocessableEntity, body)
	if !fieldErrorAfter(body, "match_type", "is not an event type pattern") || !strings.Contains(body, `value="po approval (large)"`) {
		t.Fatalf("bad edit:\n%s", body)
	}
	if x, _ := h.DB.Rule(ctx, id); x.Name != "po approval" || x.MatchType != "odoo.purchase.order.*" {
		t.Fatalf("a refused edit changed the rule: %+v", x)
	}
	edit.Set("match_type", "odoo.purchase.order.*")
	resp, body = c.post("/ui/rules/"+id, edit)
	mustStatus(t, resp, http.StatusSeeOther, body)
	if x, _ := h.DB.Rule(ctx, id); x.Name != "po approval (large)" || x.Condition != "data.amount_total > 100000" || x.Enabled {
		t.Fatalf("edited rule: %+v", x)
	}
	if a := auditEntries(t, h, "rule.update"); len(a) != 2 {
		t.Fatalf("update audit: %+v", a)
	}

	// Delete needs admin, as DELETE /api/v1/rules/{id} does.
	_, page = c.get("/ui/rules/" + id)
	if strings.Contains(page, `id="delete-rule"`) {
		t.Fatal("a manager sees the delete button")
	}
	resp, body = c.post("/ui/rules/"+id+"/delete", url.Values{"csrf": {tok}})
	mustStatus(t, resp, http.StatusForbidden, body)
	a := newClient(t, h.URL)
	mustStatus(t, a.login("admin", "admin-password"), http.StatusSeeOther, "")
	_, page = a.get("/ui/rules/" + id)
	if !strings.Contains(page, `id="delete-rule"`) {
		t.Fatal("an admin sees no delete button")
	}
	resp, body = a.post("/ui/rules/"+id+"/delete", url.Values{"csrf": {csrfOf(t, page)}})
	mustStatus(t, resp, http.StatusSeeOther, body)
	if _, err := h.DB.Rule(ctx, id); err != store.ErrNotFound {
		t.Fatalf("deleted rule: %v", err)
	}
	if a := auditEntries(t, h, "rule.delete"); len(a) != 1 || a[0].Target != id {
		t.Fatalf("delete audit: %+v", a)
	}

	// A rule from ipai.yaml is changed there, not here.
	var sp rule.Spec
	if err := json.Unmarshal([]byte(`{"name":"from yaml","actions":[{"kind":"webhook","endpoint":"e"}]}`), &sp); err != nil {
		t.Fatal(err)
	}
	if _, err := h.Rules.ApplyConfig(ctx, []rule.Spec{sp}, time.Now()); err != nil {
		t.Fatal(err)
	}
	rs, _ = h.DB.ListRules(ctx)
	managed := rs[0]
	_, page = a.get("/ui/rules/" + managed.ID)
	if strings.Contains(page, `id="edit-rule"`) || strings.Contains(page, `id="delete-rule"`) || !strings.Contains(page, "Declared in ipai.yaml") {
		t.Fatalf("managed rule page:\n%s", page)
	}
	for _, p := range []string{"/state", "/delete"} {
		resp, body := a.post("/ui/rules/"+managed.ID+p, url.Values{"csrf": {csrfOf(t, page)}, "enabled": {"false"}})
		mustStatus(t, resp, http.StatusSeeOther, body)
	}
	resp, body = a.post("/ui/rules/"+managed.ID, cloneForm(form, "csrf", csrfOf(t, page), "name", "renamed"))
	mustStatus(t, resp, http.StatusUnprocessableEntity, body)
	if !strings.Contains(body, "managed by ipai.yaml") {
		t.Fatalf("edit of a managed rule:\n%s", body)
	}
	if x, err := h.DB.Rule(ctx, managed.ID); err != nil || !x.Enabled || x.Name != "from yaml" {
		t.Fatalf("the managed rule changed: %+v %v", x, err)
	}
}

func cloneForm(f url.Values, kv ...string) url.Values {
	out := url.Values{}
	for k, v := range f {
		out[k] = append([]string(nil), v...)
	}
	for i := 0; i+1 < len(kv); i += 2 {
		out.Set(kv[i], kv[i+1])
	}
	return out
}

var secretRe = regexp.MustCompile(`id="new-secret">([^<]+)<`)

func TestWebhookForms(t *testing.T) {
	h := newHub(t, nil)
	h.addUser(t, "admin", auth.RoleAdmin)
	ctx := context.Background()
	c := newClient(t, h.URL)
	mustStatus(t, c.login("admin", "admin-password"), http.StatusSeeOther, "")
	_, page := c.get("/ui/webhooks")
	if !strings.Contains(page, `id="new-incoming"`) || !strings.Contains(page, `id="new-outgoing"`) {
		t.Fatalf("an admin sees no create buttons:\n%s", page)
	}
	_, page = c.get("/ui/webhooks/new?direction=outgoing")
	tok := csrfOf(t, page)

	// An outgoing endpoint: the API's validation, errors next to fields, input kept.
	ep := url.Values{"csrf": {tok}, "direction": {"outgoing"}, "name": {"n8n-finance"}, "target_url": {"ftp://n8n.example.com/x"},
		"event_types": {"*, odoo.invoice.*"}, "headers": {"Authorization: Bearer top-secret-header"}}
	resp, body := c.post("/ui/webhooks", ep)
	mustStatus(t, resp, http.StatusUnprocessableEntity, body)
	if !fieldErrorAfter(body, "target_url", "is not an http(s) URL") || !strings.Contains(body, `value="*, odoo.invoice.*"`) {
		t.Fatalf("bad target URL:\n%s", body)
	}
	bad := cloneForm(ep, "target_url", "https://n8n.example.com/webhook/finance", "template", "{{.Data")
	resp, body = c.post("/ui/webhooks", bad)
	mustStatus(t, resp, http.StatusUnprocessableEntity, body)
	if !fieldErrorAfter(body, "template", "unclosed action") {
		t.Fatalf("bad template:\n%s", body)
	}
	if ws, _ := h.DB.ListWebhooks(ctx, ""); len(ws) != 0 {
		t.Fatalf("invalid webhooks stored: %+v", ws)
	}
	ep.Set("target_url", "https://n8n.example.com/webhook/finance")
	resp, body = c.post("/ui/webhooks", ep)
	mustStatus(t, resp, http.StatusOK, body)
	m := secretRe.FindStringSubmatch(body)
	if m == nil || !strings.Contains(body, `id="created"`) {
		t.Fatalf("no secret shown after creating the endpoint:\n%s", body)
	}
	epSecret := html.UnescapeString(m[1])
	outs, _ := h.DB.ListWebhooks(ctx, store.Outgoing)
	if len(outs) != 1 || outs[0].Name != "n8n-finance" || strings.Contains(outs[0].Spec, "top-secret-header") {
		t.Fatalf("stored endpoints: %+v", outs)
	}
	epID := outs[0].ID

	// An incoming hook; the secret shown is the one the hook checks.
	_, page = c.get("/ui/webhooks/new?direction=incoming")
	in := url.Values{"csrf": {tok}, "direction": {"incoming"}, "name": {"odoo-invoices"}, "scheme": {"hmac-sha1"}, "event_type": {"odoo.invoice"}}
	resp, body = c.post("/ui/webhooks", in)
	mustStatus(t, resp, http.StatusUnprocessableEntity, body)
	if !fieldErrorAfter(body, "scheme", "is not a scheme") || !strings.Contains(body, `value="odoo.invoice"`) {
		t.Fatalf("bad scheme:\n%s", body)
	}
	in.Set("scheme", "bearer")
	resp, body = c.post("/ui/webhooks", in)
	mustStatus(t, resp, http.StatusOK, body)
	m = secretRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no secret shown after creating the hook:\n%s", body)
	}
	hookSecret := html.UnescapeString(m[1])
	ins, _ := h.DB.ListWebhooks(ctx, store.Incoming)
	if len(ins) != 1 {
		t.Fatalf("stored hooks: %+v", ins)
	}
	hookID := ins[0].ID
	for sec, want := range map[string]int{"wrong-secret-wrong-secret": http.StatusUnauthorized, hookSecret: http.StatusOK} {
		req, _ := http.NewRequest("POST", h.URL+"/hooks/"+hookID, strings.NewReader(`{"id":1}`))
		req.Header.Set("Authorization", "Bearer "+sec)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Fatalf("post to the hook with secret %q: %d, want %d", sec, resp.StatusCode, want)
		}
	}

	// The secrets are shown once: not on the pages after, not in the audit log.
	for _, p := range []string{"/ui/webhooks/" + epID, "/ui/webhooks/" + hookID, "/ui/webhooks", "/ui/audit"} {
		_, body := c.get(p)
		body = html.UnescapeString(body)
		if strings.Contains(body, epSecret) || strings.Contains(body, hookSecret) || strings.Contains(body, "top-secret-header") {
			t.Fatalf("%s shows a secret again", p)
		}
	}
	created := auditEntries(t, h, "webhook.create")
	if len(created) != 2 {
		t.Fatalf("create audit: %+v", created)
	}
	var all []store.AuditRow
	all, _ = h.DB.ListAudit(ctx, store.AuditFilter{Limit: 500})
	for _, a := range all {
		if line := a.Message + a.Fields; strings.Contains(line, epSecret) || strings.Contains(line, hookSecret) || strings.Contains(line, "top-secret-header") {
			t.Fatalf("audit entry %s holds a secret: %+v", a.Action, a)
		}
	}

	// Edit the endpoint: header values redacted in the form and kept.
	_, page = c.get("/ui/webhooks/" + epID + "/edit")
	if page = html.UnescapeString(page); strings.Contains(page, "top-secret-header") || !strings.Contains(page, "Authorization: ••••") || !strings.Contains(page, `value="*, odoo.invoice.*"`) {
		t.Fatalf("edit form:\n%s", page)
	}
	edit := url.Values{"csrf": {tok}, "name": {"n8n-finance"}, "target_url": {"https://n8n.example.com/webhook/finance2"},
		"event_types": {"ipai.test"}, "headers": {"Authorization: ••••\nX-Team: finance"}, "timeout": {"90s"}}
	resp, body = c.post("/ui/webhooks/"+epID, edit)
	mustStatus(t, resp, http.StatusUnprocessableEntity, body)
	if !fieldErrorAfter(body, "timeout", "from 1ms to 60s") {
		t.Fatalf("bad timeout:\n%s", body)
	}
	edit.Set("timeout", "20s")
	edit.Set("name", " ")
	resp, body = c.post("/ui/webhooks/"+epID, edit)
	mustStatus(t, resp, http.StatusUnprocessableEntity, body)
	if !fieldErrorAfter(body, "name", "give the webhook a name") {
		t.Fatalf("empty name:\n%s", body)
	}
	edit.Set("name", "n8n-finance")
	resp, body = c.post("/ui/webhooks/"+epID, edit)
	mustStatus(t, resp, http.StatusSeeOther, body)
	w, _ := h.DB.Webhook(ctx, epID)
	var spec delivery.EndpointSpec
	_ = json.Unmarshal([]byte(w.Spec), &spec)
	if spec.TargetURL != "https://n8n.example.com/webhook/finance2" || len(spec.EventTypes) != 1 || spec.Timeout != "20s" || len(spec.SealedHeaders) != 2 {
		t.Fatalf("edited spec: %+v", spec)
	}
	for _, k := range []string{"Authorization", "X-Team"} {
		v, err := h.Box.Open(spec.SealedHeaders[k], "webhook:"+epID+":header:"+strings.ToLower(k))
		if want := map[string]string{"Authorization": "Bearer top-secret-header", "X-Team": "finance"}[k]; err != nil || v != want {
			t.Fatalf("header %s after the edit: %q %v, want %q", k, v, err, want)
		}
	}

	// Delete.
	resp, body = c.post("/ui/webhooks/"+epID+"/delete", url.Values{"csrf": {tok}})
	mustStatus(t, resp, http.StatusSeeOther, body)
	if _, err := h.DB.Webhook(ctx, epID); err != store.ErrNotFound {
		t.Fatalf("deleted endpoint: %v", err)
	}
	if a := auditEntries(t, h, "webhook.delete"); len(a) != 1 || a[0].Target != epID {
		t.Fatalf("delete audit: %+v", a)
	}
}

// TestFormRolesAndCSRF: every form post needs the role of the API route
// doing the same, and the session's CSRF token; refused posts change nothing.
func TestFormRolesAndCSRF(t *testing.T) {
	h := newHub(t, nil)
	for _, u := range []struct {
		name string
		role auth.Role
	}{{"viewer", auth.RoleUser}, {"mgr", auth.RoleManager}, {"admin", auth.RoleAdmin}} {
		h.addUser(t, u.name, u.role)
	}
	ctx := context.Background()
	ep, _ := h.seed(t, 1)
	admin := newClient(t, h.URL)
	mustStatus(t, admin.login("admin", "admin-password"), http.StatusSeeOther, "")
	_, page := admin.get("/ui/rules/new")
	resp, body := admin.post("/ui/rules", url.Values{"csrf": {csrfOf(t, page)}, "name": {"fwd"}, "enabled": {"true"},
		"actions": {`[{"kind":"webhook","endpoint":"` + ep.ID + `"}]`}})
	mustStatus(t, resp, http.StatusSeeOther, body)
	rs, _ := h.DB.ListRules(ctx)
	ruleID := rs[0].ID
	snapshot := func() string {
		rs, _ := h.DB.ListRules(ctx)
		ws, _ := h.DB.ListWebhooks(ctx, "")
		b, _ := json.Marshal([]any{rs, ws})
		return string(b)
	}
	before := snapshot()

	type post struct {
		path string
		form url.Values
	}
	ruleForm := url.Values{"name": {"changed"}, "actions": {`[{"kind":"webhook","endpoint":"` + ep.ID + `"}]`}}
	posts := []post{
		{"/ui/rules", ruleForm},
		{"/ui/rules/" + ruleID, ruleForm},
		{"/ui/rules/" + ruleID + "/state", url.Values{"enabled": {"false"}}},
		{"/ui/rules/" + ruleID + "/test", url.Values{"type": {"ipai.test"}}},
		{"/ui/rules/" + ruleID + "/delete", url.Values{}},
		{"/ui/webhooks", url.Values{"direction": {"outgoing"}, "name": {"x"}, "target_url": {"https://example.com/x"}, "event_types": {"*"}}},
		{"/ui/webhooks", url.Values{"direction": {"incoming"}, "name": {"x"}, "scheme": {"standard"}}},
		{"/ui/webhooks/" + ep.ID, url.Values{"name": {"changed"}, "target_url": {"https://example.com/y"}}},
		{"/ui/webhooks/" + ep.ID + "/delete", url.Values{}},
	}
	// The least role of each post, from the API's route table.
	need := map[string]auth.Role{"/ui/rules": auth.RoleManager, "/ui/rules/" + ruleID: auth.RoleManager,
		"/ui/rules/" + ruleID + "/state": auth.RoleManager, "/ui/rules/" + ruleID + "/test": auth.RoleManager,
		"/ui/rules/" + ruleID + "/delete": auth.RoleAdmin, "/ui/webhooks": auth.RoleAdmin,
		"/ui/webhooks/" + ep.ID: auth.RoleManager, "/ui/webhooks/" + ep.ID + "/delete": auth.RoleAdmin}

	for _, who := range []struct {
		name string
		role auth.Role
	}{{"viewer", auth.RoleUser}, {"mgr", auth.RoleManager}} {
		c := newClient(t, h.URL)
		mustStatus(t, c.login(who.name, who.name+"-password"), http.StatusSeeOther, "")
		_, page := c.get("/ui/rules/" + ruleID)
		tok := csrfOf(t, page) // the sign-out form's token: the session's
		for _, p := range posts {
			if who.role.Allows(need[p.path]) {
				continue
			}
			f := cloneForm(p.form, "csrf", tok)
			resp, body := c.post(p.path, f)
			mustStatus(t, resp, http.StatusForbidden, body)
		}
		if who.role == auth.RoleUser {
			for _, p := range []string{"/ui/rules", "/ui/rules/" + ruleID, "/ui/webhooks", "/ui/webhooks/" + ep.ID, "/ui/start"} {
				_, body := c.get(p)
				for _, id := range []string{`id="new-rule"`, `id="edit-rule"`, `id="disable-rule"`, `id="delete-rule"`, `id="run-test"`,
					`id="new-incoming"`, `id="new-outgoing"`, `id="edit-webhook"`, `id="delete-webhook"`, `id="start-incoming"`, `action="/ui/`} {
					if strings.Contains(body, id) {
						t.Errorf("a viewer sees %s on %s", id, p)
					}
				}
			}
			for _, p := range []string{"/ui/rules/new", "/ui/rules/" + ruleID + "/edit", "/ui/webhooks/new", "/ui/webhooks/" + ep.ID + "/edit"} {
				resp, body := c.get(p)
				mustStatus(t, resp, http.StatusForbidden, body)
			}
		}
	}
	if got := snapshot(); got != before {
		t.Fatalf("refused posts changed the store:\nbefore %s\nafter  %s", before, got)
	}
	if n := len(auditEntries(t, h, "ui.denied")); n == 0 {
		t.Fatal("denied posts not audited")
	}

	// Without the CSRF token, or from another site: refused even for an admin.
	for _, p := range posts {
		resp, body := admin.post(p.path, p.form)
		mustStatus(t, resp, http.StatusForbidden, body)
		if !strings.Contains(body, "security token") {
			t.Fatalf("%s: the refusal does not say why:\n%.600s", p.path, body)
		}
		f := cloneForm(p.form, "csrf", csrfOf(t, page))
		req, _ := http.NewRequest("POST", h.URL+p.path, strings.NewReader(f.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		resp, err := admin.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("%s from another origin: %d", p.path, resp.StatusCode)
		}
	}
	if got := snapshot(); got != before {
		t.Fatalf("posts without a valid CSRF token changed the store:\nbefore %s\nafter  %s", before, got)
	}
}

// TestManagedHookRotate: a hook declared in ipai.yaml keeps its secret, as
// the API's rotate-secret route refuses it.
func TestManagedHookRotate(t *testing.T) {
	h := newHub(t, nil)
	h.addUser(t, "admin", auth.RoleAdmin)
	ctx := context.Background()
	hk, err := h.Hooks.Create(ctx, "from-yaml", "", event.HookSpec{Scheme: "standard"}, "", true)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, h.URL)
	mustStatus(t, c.login("admin", "admin-password"), http.StatusSeeOther, "")
	_, page := c.get("/ui/webhooks/" + hk.Hook.ID)
	if strings.Contains(page, `id="rotate"`) || strings.Contains(page, `id="edit-webhook"`) || strings.Contains(page, `id="delete-webhook"`) {
		t.Fatalf("a managed hook offers changes:\n%s", page)
	}
	for _, p := range []string{"/rotate", "/delete"} {
		resp, body := c.post("/ui/webhooks/"+hk.Hook.ID+p, url.Values{"csrf": {csrfOf(t, page)}})
		mustStatus(t, resp, http.StatusSeeOther, body)
	}
	w, err := h.DB.Webhook(ctx, hk.Hook.ID)
	if err != nil || w.SecretSealed != hk.Hook.SecretSealed || !w.OldSecretUntil.IsZero() {
		t.Fatalf("the managed hook changed: %+v %v", w, err)
	}
}

package ui_test

import (
	"context"
	"html"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/store"
)

// auditActions lists the audit entries of action, newest first.
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

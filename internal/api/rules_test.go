package api

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/event"
	"github.com/insightpulseai/ipai/internal/inbound"
	"github.com/insightpulseai/ipai/internal/odoosource"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/testproc"
)

// rulesHarness is a server with the event path (router, ingester) wired.
func rulesHarness(t *testing.T) (*harness, *rule.Router) {
	t.Helper()
	db := tempDB(t)
	logs := &testproc.Buffer{}
	al := audit.New(db)
	router := rule.NewRouter()
	in := event.NewIngester(db, router, event.IngesterOptions{})
	s := &Server{DB: db, Audit: al, Tokens: auth.NewTokens(db), Log: slog.New(slog.NewJSONHandler(logs, nil)),
		Endpoints: &delivery.Endpoints{Router: router}, Hooks: &inbound.Hooks{Ingester: in}, Rules: rule.NewService(db, router, nil)}
	return serveHarness(t, s, logs, in.Close), router
}

const poRule = `{"name":"po approval","match":{"source":"odoo","type":"odoo.purchase.order.*"},
	"condition":"data.state == \"to approve\"",
	"actions":[{"kind":"mattermost.post","connector":"mm","channel":"finance","text":"{{.mention}} {{.data.name}}",
		"mention":{"amount":"data.amount_total","thresholds":[{"over":50000,"mention":"@senior"},{"over":10000,"mention":"@approver"}],"default":"@finance-team"}}]}`

func TestRulesAPI(t *testing.T) {
	h, router := rulesHarness(t)
	mgr, admin, user := h.tokens[auth.RoleManager], h.tokens[auth.RoleAdmin], h.tokens[auth.RoleUser]
	ev := &store.Event{ID: "e1", Source: "odoo", Type: "odoo.purchase.order.write", Payload: `{"state":"to approve","amount_total":20000,"name":"P1"}`}

	st, out := h.do(t, "POST", "/api/v1/rules", mgr, poRule)
	if st != 201 || out["id"] == nil || out["managed"] != false {
		t.Fatalf("create: %d %v", st, out)
	}
	id := out["id"].(string)
	if ds := router.Route(ev, time.Now()); len(ds) != 1 || ds[0].Kind != "mattermost.post" || ds[0].RuleID != id {
		t.Fatalf("router not reloaded after create: %+v", ds)
	}
	if st, out := h.do(t, "POST", "/api/v1/rules", mgr, poRule); st != 409 || errField(out) != "name" {
		t.Fatalf("duplicate name: %d %v", st, out)
	}
	if st, out := h.do(t, "GET", "/api/v1/rules", user, ""); st != 200 || len(out["items"].([]any)) != 1 {
		t.Fatalf("list: %d %v", st, out)
	}

	// Validation errors name the field.
	for body, field := range map[string]string{
		`{"name":"x","condition":"data.(","actions":[{"kind":"webhook","endpoint":"e"}]}`:                 "condition",
		`{"name":"x","actions":[{"kind":"fax.send"}]}`:                                                    "actions[0].kind",
		`{"name":"x","actions":[{"kind":"mattermost.post","connector":"mm","text":"hi"}]}`:                "actions[0].channel",
		`{"name":"x","actions":[{"kind":"n8n.trigger","connector":"n","path":"p","body":{"a":"{{"}}]}`:    "actions[0].body.a",
		`{"name":"x","actions":[{"kind":"workitem","endpoint":"e","title":"t"}]}`:                         "actions[0].lane",
		`{"name":"x","actions":[{"kind":"workitem","endpoint":"e","title":"t","lane":"F","amount":"x"}]}`: "actions[0].priority_thresholds",
		`{"name":"x","actions":[{"kind":"webhook","endpoint":"e","lane":"FIN"}]}`:                         "actions[0].lane",
	} {
		st, out := h.do(t, "POST", "/api/v1/rules", mgr, body)
		if st != 422 || errField(out) != field {
			t.Errorf("%s: %d %v; want 422 on %s", body, st, out, field)
		}
	}
	_, out = h.do(t, "POST", "/api/v1/rules", mgr, `{"name":"x","condition":"data.(","actions":[{"kind":"webhook","endpoint":"e"}]}`)
	if msg := errMessage(out); !strings.Contains(msg, "invalid expression") || !strings.Contains(msg, "expected name") {
		t.Errorf("expr error not shown: %q", msg)
	}

	// Dry run: match, condition, rendered action; nothing stored.
	st, out = h.do(t, "POST", "/api/v1/rules/"+id+"/test", mgr,
		`{"type":"odoo.purchase.order.write","source":"odoo","payload":{"state":"to approve","amount_total":75000,"name":"P9"}}`)
	acts, _ := out["actions"].([]any)
	if st != 200 || out["matched"] != true || len(acts) != 1 {
		t.Fatalf("test: %d %v", st, out)
	}
	if text := acts[0].(map[string]any)["rendered"].(map[string]any)["text"]; text != "@senior P9" {
		t.Fatalf("rendered text = %v", text)
	}
	if n, _ := h.db.CountEvents(context.Background()); n != 0 {
		t.Fatalf("dry run stored %d events", n)
	}

	// PATCH disables; the router stops planning.
	if st, out := h.do(t, "PATCH", "/api/v1/rules/"+id, mgr, `{"enabled":false}`); st != 200 || out["enabled"] != false {
		t.Fatalf("patch: %d %v", st, out)
	}
	if ds := router.Route(ev, time.Now()); len(ds) != 0 {
		t.Fatalf("disabled rule still routes: %+v", ds)
	}
	if st, _ := h.do(t, "PATCH", "/api/v1/rules/"+id, mgr, `{"condition":"1 +"}`); st != 422 {
		t.Fatalf("bad patch: %d", st)
	}
	if st, _ := h.do(t, "DELETE", "/api/v1/rules/"+id, mgr, ""); st != 403 {
		t.Fatalf("manager delete: %d; want 403", st)
	}
	if st, _ := h.do(t, "DELETE", "/api/v1/rules/"+id, admin, ""); st != 204 {
		t.Fatalf("delete: %d", st)
	}
	if st, _ := h.do(t, "GET", "/api/v1/rules/"+id, user, ""); st != 404 {
		t.Fatalf("get deleted: %d", st)
	}
}

func TestManagedRulesRefuseEdits(t *testing.T) {
	h, router := rulesHarness(t)
	var sp rule.Spec
	if err := json.Unmarshal([]byte(poRule), &sp); err != nil {
		t.Fatal(err)
	}
	svc := rule.NewService(h.db, router, nil)
	if _, err := svc.ApplyConfig(context.Background(), []rule.Spec{sp}, time.Now()); err != nil {
		t.Fatal(err)
	}
	list, _ := h.db.ListRules(context.Background())
	id := list[0].ID
	for _, c := range []struct{ method, token, body string }{
		{"PATCH", h.tokens[auth.RoleManager], `{"enabled":false}`},
		{"DELETE", h.tokens[auth.RoleAdmin], ""},
	} {
		st, out := h.do(t, c.method, "/api/v1/rules/"+id, c.token, c.body)
		if st != 409 || !strings.Contains(errMessage(out), "ipai.yaml") {
			t.Errorf("%s managed rule: %d %v; want 409 naming ipai.yaml", c.method, st, out)
		}
	}
}

func TestOdooSource(t *testing.T) {
	h, router := rulesHarness(t)
	ctx := context.Background()
	if err := h.db.CreateOdooToken(ctx, store.OdooToken{ID: "ot1", Connector: "odoo", Hash: odoosource.TokenHash("s3cret"), CreatedAt: time.Now()}); err != nil {
		t.Fatal(err)
	}
	var sp rule.Spec
	_ = json.Unmarshal([]byte(poRule), &sp)
	if _, err := rule.NewService(h.db, router, nil).ApplyConfig(ctx, []rule.Spec{sp}, time.Now()); err != nil {
		t.Fatal(err)
	}
	post := func(path, body string, hdr map[string]string) (int, map[string]any) {
		req, _ := http.NewRequest("POST", h.srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	body := `{"_action":"Send Webhook Notification(#12)","_id":7,"_model":"purchase.order","amount_total":60000.0,` +
		`"create_date":"2026-03-01 09:00:00","name":"P00007","state":"to approve","write_date":"2026-03-02 10:00:00"}`
	if st, _ := post("/integrations/odoo/odoo", body, nil); st != 401 {
		t.Fatalf("no token: %d", st)
	}
	if st, _ := post("/integrations/odoo/odoo?token=wrong", body, nil); st != 401 {
		t.Fatalf("wrong token: %d", st)
	}
	if st, _ := post("/integrations/odoo/other?token=s3cret", body, nil); st != 401 {
		t.Fatalf("another connector's token: %d", st)
	}
	if n, _ := h.db.CountEvents(ctx); n != 0 {
		t.Fatalf("refused posts stored %d events", n)
	}
	if st, _ := post("/integrations/odoo/odoo?token=s3cret", `{"hello":1}`, nil); st != 400 {
		t.Fatalf("not a notification: %d", st)
	}
	st, out := post("/integrations/odoo/odoo?token=s3cret", body, nil)
	if st != 200 || out["type"] != "odoo.purchase.order.write" || out["duplicate"] != false {
		t.Fatalf("accepted: %d %v", st, out)
	}
	evID := out["event_id"].(string)
	ev, err := h.db.Event(ctx, evID)
	if err != nil || ev.Source != "odoo" || ev.Type != "odoo.purchase.order.write" || !strings.Contains(ev.Payload, "P00007") {
		t.Fatalf("stored event: %+v %v", ev, err)
	}
	ds, _ := h.db.ListDeliveries(ctx, store.DeliveryFilter{EventID: evID})
	if len(ds) != 1 || ds[0].Kind != "mattermost.post" {
		t.Fatalf("rule delivery not enqueued with the event: %+v", ds)
	}
	// Same body again: a duplicate, nothing new. Header token works too.
	st, out = post("/integrations/odoo/odoo", body, map[string]string{"X-Ipai-Token": "s3cret"})
	if st != 200 || out["duplicate"] != true || out["event_id"] != evID {
		t.Fatalf("duplicate: %d %v", st, out)
	}
	st, out = post("/integrations/odoo/odoo?token=s3cret&action=approved", `{"_model":"purchase.order","_id":8}`, nil)
	if st != 200 || out["type"] != "odoo.purchase.order.approved" {
		t.Fatalf("action override: %d %v", st, out)
	}
}

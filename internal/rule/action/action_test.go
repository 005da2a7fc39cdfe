package action

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/delivery"
	fakefb "github.com/insightpulseai/ipai/internal/fake/focalboard"
	fakemm "github.com/insightpulseai/ipai/internal/fake/mattermost"
	fakeodoo "github.com/insightpulseai/ipai/internal/fake/odoo"
	fakesb "github.com/insightpulseai/ipai/internal/fake/supabase"
	"github.com/insightpulseai/ipai/internal/outbound"
	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/store"
)

// configs is a ConfigSource over fixed configs.
type configs map[string]connector.Config

func (c configs) Config(_ context.Context, code string) (connector.Config, error) {
	cfg, ok := c[code]
	if !ok {
		return cfg, problem.NotFound("no connector with code %q", code)
	}
	return cfg, nil
}

// HTTPClient is what integration.Service gives: a guarded client whose own
// allowance is the connector's base URL (the fakes listen on loopback).
func (c configs) HTTPClient(cfg connector.Config) *http.Client {
	return outbound.ClientFor(nil, outbound.Options{Timeout: 5 * time.Second}, cfg.BaseURL)
}

func claimed(t *testing.T, a rule.Action, payload string) *store.Claimed {
	t.Helper()
	if fe := (rule.Spec{Name: "t", Actions: []rule.Action{a}}).Validate(); fe != nil && !strings.Contains(fe.Field, "text") {
		t.Fatalf("test action invalid: %v", fe)
	}
	return &store.Claimed{
		Delivery: store.Delivery{ID: "msg_1", EventID: "evt_1", Kind: a.Kind, Action: rule.ActionJSON(a)},
		Event:    store.Event{ID: "evt_1", Source: "odoo", Type: "odoo.purchase.order.write", Payload: payload},
	}
}

const poPayload = `{"_model":"purchase.order","_id":42,"name":"P00042","state":"to approve","amount_total":60000}`

func TestMattermostPostByChannelNameWithMention(t *testing.T) {
	mm := fakemm.New()
	defer mm.Close()
	chID := mm.AddChannel(fakemm.TeamName, "finance")
	x := New(FromConfigs(configs{"mm": {Code: "mm", Type: "mattermost", BaseURL: mm.URL,
		Settings: map[string]string{"team": fakemm.TeamName}, Secrets: map[string]string{"token": fakemm.AdminToken}}}))
	exec := x.All()[rule.KindMattermost]
	a := rule.Action{Kind: rule.KindMattermost, Connector: "mm", Channel: "finance",
		Text:        "{{.mention}} approval needed: {{.data.name}} PHP {{money .data.amount_total}}",
		Attachments: []any{map[string]any{"color": "#ff9900", "title": "{{.data.name}}"}},
		Mention: &rule.Mention{Amount: "data.amount_total", Default: "@finance-team",
			Thresholds: []rule.Threshold{{Over: 50000, Mention: "@senior-approver"}, {Over: 10000, Mention: "@approver"}}}}
	res := exec.Execute(context.Background(), claimed(t, a, poPayload))
	if res.Err != nil {
		t.Fatalf("execute: %+v", res)
	}
	posts := mm.Posts()
	if len(posts) != 1 || posts[0].ChannelID != chID || posts[0].Message != "@senior-approver approval needed: P00042 PHP 60,000.00" {
		t.Fatalf("posts = %+v", posts)
	}
	att, _ := posts[0].Props["attachments"].([]any)
	if len(att) != 1 || att[0].(map[string]any)["title"] != "P00042" {
		t.Fatalf("attachments not posted: %+v", posts[0].Props)
	}
	if !strings.Contains(res.Response, posts[0].ID) {
		t.Fatalf("response %q lacks the post id", res.Response)
	}
}

func TestErrorMapping(t *testing.T) {
	mm := fakemm.New()
	defer mm.Close()
	mm.AddChannel(fakemm.TeamName, "finance")
	down := httptest.NewServer(nil)
	downURL := down.URL
	down.Close()
	var mu sync.Mutex
	status, retryAfter := 0, ""
	flaky := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		if retryAfter != "" {
			w.Header().Set("Retry-After", retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_, _ = io.WriteString(w, `{"id":"x.app_error","message":"nope","status_code":0}`)
	}))
	defer flaky.Close()
	cfgs := configs{
		"mm":      {Code: "mm", Type: "mattermost", BaseURL: mm.URL, Settings: map[string]string{"team": fakemm.TeamName}, Secrets: map[string]string{"token": fakemm.AdminToken}},
		"badtok":  {Code: "badtok", Type: "mattermost", BaseURL: mm.URL, Settings: map[string]string{"team": fakemm.TeamName}, Secrets: map[string]string{"token": "wrong"}},
		"down":    {Code: "down", Type: "mattermost", BaseURL: downURL, Settings: map[string]string{"team": "t"}},
		"flaky":   {Code: "flaky", Type: "mattermost", BaseURL: flaky.URL},
		"n8nconn": {Code: "n8nconn", Type: "n8n", BaseURL: flaky.URL},
	}
	exec := New(FromConfigs(cfgs)).All()[rule.KindMattermost]
	run := func(a rule.Action) Result {
		r := exec.Execute(context.Background(), claimed(t, a, poPayload))
		return Result{r.Status, r.Err, r.RetryAfter, r.Permanent}
	}
	post := func(conn, channel, text string) rule.Action {
		return rule.Action{Kind: rule.KindMattermost, Connector: conn, Channel: channel, Text: text}
	}
	const chID = "abcdefghijklmnopqrstuvwxyz"
	if r := run(post("badtok", "finance", "hi")); r.Err == nil || !r.Permanent {
		t.Errorf("bad token: %+v; want permanent", r)
	}
	if r := run(post("down", "finance", "hi")); r.Err == nil || r.Permanent {
		t.Errorf("unreachable: %+v; want retry", r)
	}
	if r := run(post("nosuch", "finance", "hi")); !errors.Is(r.Err, ErrNoConnector) || !r.Permanent {
		t.Errorf("unknown connector: %+v; want permanent ErrNoConnector", r)
	}
	if r := run(post("n8nconn", "finance", "hi")); !errors.Is(r.Err, ErrNoConnector) || !r.Permanent {
		t.Errorf("wrong connector type: %+v", r)
	}
	if r := run(post("mm", "finance", "{{.data.missing_field}}")); r.Err == nil || !r.Permanent || !strings.Contains(r.Err.Error(), "missing_field") {
		t.Errorf("template error: %+v; want permanent naming the field", r)
	}
	for _, tc := range []struct {
		status    int
		after     string
		permanent bool
		wait      time.Duration
	}{{500, "", false, 0}, {502, "", false, 0}, {400, "", true, 0}, {404, "", true, 0}, {408, "", false, 0},
		{429, "7", false, 7 * time.Second}, {503, "120", false, 2 * time.Minute}} {
		mu.Lock()
		status, retryAfter = tc.status, tc.after
		mu.Unlock()
		r := run(post("flaky", chID, "hi"))
		if r.Err == nil || r.Permanent != tc.permanent || r.RetryAfter != tc.wait || r.Status != tc.status {
			t.Errorf("status %d: %+v; want permanent=%v retry-after %v", tc.status, r, tc.permanent, tc.wait)
		}
	}
}

// Result mirrors delivery.Result's fields for comparisons.
type Result struct {
	Status     int
	Err        error
	RetryAfter time.Duration
	Permanent  bool
}

func TestSupabaseInsertFocalboardCardOdooCallN8NTrigger(t *testing.T) {
	sb := fakesb.New()
	defer sb.Close()
	fb := fakefb.New()
	defer fb.Close()
	board := fb.AddBoard("Approvals")
	od := fakeodoo.New()
	defer od.Close()
	moveID := od.Add("account.move", fakeodoo.Record{"name": "BILL/1", "state": "draft"})
	var n8nBody map[string]any
	n8n := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/webhook/po-approval" {
			w.WriteHeader(404)
			_, _ = io.WriteString(w, `{"code":404,"message":"The requested webhook \"POST x\" is not registered."}`)
			return
		}
		_ = json.NewDecoder(r.Body).Decode(&n8nBody)
		_, _ = io.WriteString(w, `{"message":"Workflow was started"}`)
	}))
	defer n8n.Close()
	x := New(FromConfigs(configs{
		"sb":   {Code: "sb", Type: "supabase", BaseURL: sb.URL, Secrets: map[string]string{"api_key": fakesb.ServiceKey}},
		"fb":   {Code: "fb", Type: "focalboard", BaseURL: fb.URL, Settings: map[string]string{"board": board}, Secrets: map[string]string{"token": fakefb.Token}},
		"odoo": {Code: "odoo", Type: "odoo", BaseURL: od.URL, Settings: map[string]string{"database": fakeodoo.DB, "login": fakeodoo.Login}, Secrets: map[string]string{"api_key": fakeodoo.APIKey}},
		"n8n":  {Code: "n8n", Type: "n8n", BaseURL: n8n.URL},
	}))
	ctx := context.Background()
	payload := `{"_model":"account.move","_id":` + itoa(moveID) + `,"name":"BILL/1","amount_total":1500.5}`

	r := x.All()[rule.KindSupabase].Execute(ctx, claimed(t, rule.Action{Kind: rule.KindSupabase, Connector: "sb", Table: "todos",
		Row: map[string]any{"title": "{{.data.name}}", "done": false}}, payload))
	if r.Err != nil {
		t.Fatalf("supabase: %+v", r)
	}
	if rows := sb.Rows("todos"); len(rows) != 1 || rows[0]["title"] != "BILL/1" {
		t.Fatalf("supabase rows = %v", rows)
	}

	r = x.All()[rule.KindFocalboard].Execute(ctx, claimed(t, rule.Action{Kind: rule.KindFocalboard, Connector: "fb", Title: "Review {{.data.name}}"}, payload))
	if r.Err != nil {
		t.Fatalf("focalboard: %+v", r)
	}
	if cards := fb.Cards(board); len(cards) != 1 || cards[0]["title"] != "Review BILL/1" {
		t.Fatalf("cards = %v", cards)
	}

	r = x.All()[rule.KindOdoo].Execute(ctx, claimed(t, rule.Action{Kind: rule.KindOdoo, Connector: "odoo", Model: "account.move", Method: "write",
		Args: `[[{{.data._id}}], {"ref": {{json .data.name}}}]`}, payload))
	if r.Err != nil {
		t.Fatalf("odoo: %+v", r)
	}
	for _, rec := range od.Records("account.move") {
		if rec["id"] == moveID && rec["ref"] != "BILL/1" {
			t.Fatalf("odoo record not written: %v", rec)
		}
	}
	r = x.All()[rule.KindOdoo].Execute(ctx, claimed(t, rule.Action{Kind: rule.KindOdoo, Connector: "odoo", Model: "account.move", Method: "write",
		Args: []any{[]any{99999}, map[string]any{"ref": "x"}}}, payload))
	if r.Err == nil || !r.Permanent || !strings.Contains(r.Err.Error(), "MissingError") {
		t.Fatalf("odoo missing record: %+v; want permanent MissingError", r)
	}

	r = x.All()[rule.KindN8N].Execute(ctx, claimed(t, rule.Action{Kind: rule.KindN8N, Connector: "n8n", Path: "po-approval"}, payload))
	if r.Err != nil || n8nBody["event_id"] != "evt_1" || n8nBody["data"].(map[string]any)["name"] != "BILL/1" {
		t.Fatalf("n8n default body: %+v %v", r, n8nBody)
	}
	r = x.All()[rule.KindN8N].Execute(ctx, claimed(t, rule.Action{Kind: rule.KindN8N, Connector: "n8n", Path: "inactive"}, payload))
	if r.Err == nil || r.Permanent || r.Status != 404 {
		t.Fatalf("n8n inactive workflow: %+v; want a retry", r)
	}
}

func itoa(i int) string { b, _ := json.Marshal(i); return string(b) }

// A receiver's Retry-After postpones a rule action's retry as it does a
// webhook delivery's: seconds or a date, and never more than 24 h (a huge
// number of seconds once overflowed into a negative wait, or a year).
func TestActionRetryAfter(t *testing.T) {
	for h, want := range map[string]time.Duration{
		"30":         30 * time.Second,
		"soon":       0,
		"31536000":   delivery.MaxRetryAfter,
		"9999999999": delivery.MaxRetryAfter,
	} {
		rec := &recorder{}
		req := httptest.NewRequest("POST", "http://receiver.test/", nil)
		req = req.WithContext(context.WithValue(req.Context(), recKey{}, rec))
		base := roundTripFunc(func(*http.Request) (*http.Response, error) {
			return &http.Response{StatusCode: 429, Header: http.Header{"Retry-After": {h}}, Body: http.NoBody}, nil
		})
		if _, err := Transport(base).RoundTrip(req); err != nil {
			t.Fatal(err)
		}
		if rec.status != 429 || rec.retryAfter != want {
			t.Errorf("Retry-After %q: status %d, wait %v; want 429, %v", h, rec.status, rec.retryAfter, want)
		}
	}
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// A focalboard.card action on a basic-auth connector logs in (Focalboard
// answers 401 "no session token" otherwise) and logs in again when the
// session has expired.
func TestFocalboardCardBasicAuth(t *testing.T) {
	fb := fakefb.New()
	defer fb.Close()
	x := New(FromConfigs(configs{
		"fb": {Code: "fb", Type: "focalboard", BaseURL: fb.URL, AuthType: connector.AuthBasic,
			Settings: map[string]string{"board": fb.BoardID, "username": fakefb.Username}, Secrets: map[string]string{"password": fakefb.Password}},
	}))
	ctx := context.Background()
	act := rule.Action{Kind: rule.KindFocalboard, Connector: "fb", Title: "Review {{.data.name}}"}
	if r := x.All()[rule.KindFocalboard].Execute(ctx, claimed(t, act, `{"name":"BILL/1"}`)); r.Err != nil {
		t.Fatalf("first card: %+v", r)
	}
	fb.ExpireSessions()
	if r := x.All()[rule.KindFocalboard].Execute(ctx, claimed(t, act, `{"name":"BILL/2"}`)); r.Err != nil {
		t.Fatalf("card after the session expired: %+v", r)
	}
	if cards := fb.Cards(fb.BoardID); len(cards) != 2 || cards[1]["title"] != "Review BILL/2" {
		t.Fatalf("cards = %v", cards)
	}
	if n := fb.Logins(); n != 2 {
		t.Fatalf("logins = %d, want 2 (one, then one renewal)", n)
	}
}

// A method that returns None (Odoo omits "result") is delivered, once: not
// an error that the dispatcher would retry, running the method again.
func TestOdooCallReturningNoneIsDeliveredOnce(t *testing.T) {
	od := fakeodoo.New()
	defer od.Close()
	var mu sync.Mutex
	calls := 0
	od.SetMethod("purchase.order", "button_cancel", func(recs map[int]fakeodoo.Record, args []any, _ map[string]any) (any, *fakeodoo.Error) {
		mu.Lock()
		calls++
		mu.Unlock()
		for _, id := range args[0].([]any) {
			recs[int(id.(float64))]["state"] = "cancel"
		}
		return nil, nil // purchase.order.button_cancel returns None
	})
	po := od.Add("purchase.order", fakeodoo.Record{"name": "P00042", "state": "to approve"})
	x := New(FromConfigs(configs{
		"odoo": {Code: "odoo", Type: "odoo", BaseURL: od.URL, Settings: map[string]string{"database": fakeodoo.DB, "login": fakeodoo.Login}, Secrets: map[string]string{"api_key": fakeodoo.APIKey}},
	}))
	payload := `{"_model":"purchase.order","_id":` + itoa(po) + `}`
	r := x.All()[rule.KindOdoo].Execute(context.Background(), claimed(t, rule.Action{Kind: rule.KindOdoo, Connector: "odoo",
		Model: "purchase.order", Method: "button_cancel", Args: `[[{{.data._id}}]]`}, payload))
	if r.Err != nil || r.Permanent || r.RetryAfter != 0 {
		t.Fatalf("button_cancel (returns None) = %+v; want delivered", r)
	}
	mu.Lock()
	defer mu.Unlock()
	if calls != 1 || od.Records("purchase.order")[0]["state"] != "cancel" {
		t.Fatalf("button_cancel ran %d times, order %v", calls, od.Records("purchase.order")[0])
	}
}

// On Odoo 19 (JSON-2) a positional argument ipai cannot name is refused,
// permanently: the rule has to change, no retry helps.
func TestOdooCallUnnamedPositionalIsPermanent(t *testing.T) {
	od := fakeodoo.New()
	defer od.Close()
	od.SetSerie("19.0")
	x := New(FromConfigs(configs{
		"odoo": {Code: "odoo", Type: "odoo", BaseURL: od.URL, Settings: map[string]string{"database": fakeodoo.DB, "login": fakeodoo.Login}, Secrets: map[string]string{"api_key": fakeodoo.APIKey}},
	}))
	r := x.All()[rule.KindOdoo].Execute(context.Background(), claimed(t, rule.Action{Kind: rule.KindOdoo, Connector: "odoo",
		Model: "res.partner", Method: "action_custom", Args: `[[1], "extra"]`}, `{}`))
	if r.Err == nil || !r.Permanent || !strings.Contains(r.Err.Error(), "kwargs") {
		t.Fatalf("unnamed positional argument = %+v; want a permanent error asking for kwargs", r)
	}
}

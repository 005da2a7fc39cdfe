package chatops_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/api"
	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/chatops"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/delivery"
	fakemm "github.com/insightpulseai/ipai/internal/fake/mattermost"
	fakeodoo "github.com/insightpulseai/ipai/internal/fake/odoo"
	"github.com/insightpulseai/ipai/internal/inbound"
	"github.com/insightpulseai/ipai/internal/integration"
	"github.com/insightpulseai/ipai/internal/outbound"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/rule/action"
	"github.com/insightpulseai/ipai/internal/secret"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/storetest"
)

type hub struct {
	srv   *httptest.Server
	db    *store.DB
	co    *chatops.Service
	mm    *fakemm.Server
	odoo  *fakeodoo.Server
	audit *audit.Log
	town  string
}

func newHub(t testing.TB) *hub {
	t.Helper()
	ctx := context.Background()
	db := storetest.Open(t, storetest.URL(t, store.SQLite))
	box, _ := secret.New(bytes.Repeat([]byte{7}, 32))
	guard, _ := outbound.New([]string{"127.0.0.1"})
	al := audit.New(db)
	mm, od := fakemm.New(), fakeodoo.New()
	od.EnablePurchase()
	svc := integration.New(db, box, guard, 5*time.Second)
	for _, in := range []integration.Input{
		{Code: "chat", Type: "mattermost", BaseURL: mm.URL, AuthType: connector.AuthToken, Settings: map[string]string{"team": fakemm.TeamName},
			Secrets: map[string]string{"token": fakemm.AdminToken}},
		{Code: "erp", Type: "odoo", BaseURL: od.URL, AuthType: connector.AuthAPIKey,
			Settings: map[string]string{"database": fakeodoo.DB, "login": fakeodoo.Login}, Secrets: map[string]string{"api_key": fakeodoo.APIKey}},
	} {
		if _, err := svc.Create(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
	disp := delivery.NewDispatcher(db, nil, al, nil, delivery.Options{Poll: 20 * time.Millisecond, Workers: 4})
	ing := inbound.NewIngester(db, rule.NewRouter(), inbound.IngesterOptions{OnCommit: func(int) { disp.Wake() }})
	cfg := config.ChatOps{Odoo: "erp",
		Approvals: config.Approvals{Odoo: "erp", Group: "purchase.group_purchase_manager", Default: "@finance-team",
			Thresholds: []config.MentionStep{{Over: 50000, Mention: "@senior-approver"}, {Over: 10000, Mention: "@approver"}}},
		Outgoing: []config.OutgoingSpec{{Name: "agent", Token: "outgoing0token0aaaaaaaaaaa", Reply: "got it: {{event_id}}"}}}
	co := &chatops.Service{DB: db, Box: box, Audit: al, Clients: action.FromConfigs(svc), HTTP: svc.HTTPClient, Cfg: cfg, Wake: disp.Wake}
	if err := co.Init(ctx); err != nil {
		t.Fatal(err)
	}
	for kind, e := range co.Executors() {
		disp.Register(kind, e)
	}
	s := &api.Server{DB: db, Audit: al, Tokens: auth.NewTokens(db), Log: slog.New(slog.DiscardHandler), ChatOps: co, Ingest: ing.Ingest}
	srv := httptest.NewServer(s.Handler())
	co.BaseURL = srv.URL
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { disp.Run(runCtx); close(done) }()
	t.Cleanup(func() {
		srv.Close()
		cancel()
		<-done
		ing.Close()
		al.Close()
		db.Close()
		mm.Close()
		od.Close()
	})
	h := &hub{srv: srv, db: db, co: co, mm: mm, odoo: od, audit: al, town: mm.ChannelID(fakemm.TeamName, "town-square")}
	if _, err := co.PutBot(ctx, chatops.BotInput{Username: "ipai-bot", DisplayName: "IPAI", Connector: "chat"}, false); err != nil {
		t.Fatal(err)
	}
	for _, c := range []chatops.CommandInput{{Trigger: "/ipai", Description: "ipai"}, {Trigger: "/opex", Hint: "[status|closing|help]"},
		{Trigger: "/secret", Handler: "ipai", Allow: chatops.Allow{Users: []string{"carol"}}}} {
		if _, err := co.PutCommand(ctx, "ipai-bot", c, false); err != nil {
			t.Fatal(err)
		}
	}
	regs, err := co.Register(ctx, "ipai-bot")
	if err != nil || len(regs) != 3 {
		t.Fatalf("register = %+v, %v", regs, err)
	}
	return h
}

func waitFor(t *testing.T, what string, f func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !f() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSlashCommandRoundTripAndDelayedReply(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	alice := h.mm.AddUser("alice", "pw")

	// Registration again reuses the commands (and keeps the tokens working).
	if regs, err := h.co.Register(ctx, "ipai-bot"); err != nil || !regs[0].Reused {
		t.Fatalf("second register = %+v, %v", regs, err)
	}
	resp, err := h.mm.RunCommand(ctx, http.DefaultClient, alice.ID, h.town, "/ipai help")
	if err != nil || resp.ResponseType != "ephemeral" || !strings.Contains(resp.Text, "/ipai odoo MODEL QUERY") {
		t.Fatalf("/ipai help = %+v, %v", resp, err)
	}
	if resp, err = h.mm.RunCommand(ctx, http.DefaultClient, alice.ID, h.town, "/ipai frobnicate"); err != nil || !strings.Contains(resp.Text, "Unknown command") {
		t.Fatalf("unknown subcommand = %+v, %v", resp, err)
	}
	if resp, _ = h.mm.RunCommand(ctx, http.DefaultClient, alice.ID, h.town, "/secret help"); !strings.Contains(resp.Text, "not allowed") {
		t.Fatalf("restricted command = %+v", resp)
	}

	// Long work: ephemeral ack now, the answer through response_url later.
	resp, err = h.mm.RunCommand(ctx, http.DefaultClient, alice.ID, h.town, "/ipai odoo res.partner deco")
	if err != nil || !strings.Contains(resp.Text, "Working") {
		t.Fatalf("ack = %+v, %v", resp, err)
	}
	waitFor(t, "the delayed reply", func() bool {
		for _, e := range h.mm.Ephemerals() {
			if e.UserID == alice.ID && strings.Contains(e.Text, "Deco Addict") && strings.Contains(e.Text, "| id | display_name |") {
				return true
			}
		}
		return false
	})
	// /opex status reads Odoo tasks, also later.
	if _, err := h.mm.RunCommand(ctx, http.DefaultClient, alice.ID, h.town, "/opex status"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "opex status", func() bool {
		for _, e := range h.mm.Ephemerals() {
			if strings.Contains(e.Text, "open tasks") {
				return true
			}
		}
		return false
	})

	// Wrong and missing tokens are refused; unknown commands answer as Mattermost expects.
	form := url.Values{"token": {"wrong0token0aaaaaaaaaaaaaa"}, "user_id": {alice.ID}, "channel_id": {h.town}, "command": {"/ipai"}, "text": {"help"}}
	st, body := post(t, h.srv.URL+"/integrations/slash/ipai-bot/ipai", "application/x-www-form-urlencoded", form.Encode())
	if st != 401 || !strings.Contains(body, "ipai chatops register") {
		t.Fatalf("wrong token = %d %s", st, body)
	}
	form.Del("token")
	if st, _ = post(t, h.srv.URL+"/integrations/slash/ipai-bot/ipai", "application/x-www-form-urlencoded", form.Encode()); st != 401 {
		t.Fatalf("no token = %d", st)
	}
	form.Set("token", "x")
	if st, body = post(t, h.srv.URL+"/integrations/slash/ipai-bot/nope", "application/json", `{"token":"x","user_id":"u","channel_id":"c"}`); st != 200 || !strings.Contains(body, "Unknown command: /nope") {
		t.Fatalf("unknown command = %d %s", st, body)
	}
}

func post(t *testing.T, u, ct, body string) (int, string) {
	t.Helper()
	resp, err := http.Post(u, ct, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestApprovalButtons(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	alice := h.mm.AddUser("alice", "pw") // alice@example.com
	bob := h.mm.AddUser("bob", "pw")
	h.odoo.Add("res.users", fakeodoo.Record{"name": "Alice Approver", "login": "alice@example.com", "email": "alice@example.com",
		"groups": []any{"purchase.group_purchase_manager"}})
	po := h.odoo.Add("purchase.order", fakeodoo.Record{"name": "P00042", "state": "to approve", "amount_total": 60000.0})

	a := rule.Action{Kind: rule.KindApproval, Connector: "chat", Channel: "town-square", Model: "purchase.order",
		Args: []any{"{{.data.id}}"}, Title: "Approve {{.data.name}}", Text: "PO {{.data.name}} for {{.data.amount_total}}"}
	payload, _ := json.Marshal(map[string]any{"id": po, "name": "P00042", "amount_total": 60000})
	cl := &store.Claimed{Delivery: store.Delivery{ID: "msg_1", Kind: rule.KindApproval, Action: rule.ActionJSON(a)},
		Event: store.Event{ID: "evt_1", Type: "odoo.purchase.order.to_approve", Payload: string(payload)}}
	res := h.co.Executors()[rule.KindApproval].Execute(ctx, cl)
	if res.Err != nil {
		t.Fatalf("approval post: %v", res.Err)
	}
	var out struct {
		PostID string `json:"post_id"`
	}
	_ = json.Unmarshal([]byte(res.Response), &out)
	p, ok := h.mm.Post(out.PostID)
	if !ok || !strings.Contains(p.Message, "@senior-approver") {
		t.Fatalf("post = %+v (want the senior approver mentioned for 60,000)", p)
	}
	state := func() any { return h.odoo.Records("purchase.order")[0]["state"] }

	// A forged context (reject turned into approve of another record) is refused.
	atts := p.Props["attachments"].([]any)
	acts := atts[0].(map[string]any)["actions"].([]any)
	ctxMap := acts[1].(map[string]any)["integration"].(map[string]any)["context"].(map[string]any)
	forged := map[string]any{}
	for k, v := range ctxMap {
		forged[k] = v
	}
	forged["method"] = "button_approve"
	forged["op"] = "approve"
	click, _ := json.Marshal(map[string]any{"user_id": alice.ID, "user_name": "alice", "post_id": p.ID, "context": forged})
	st, body := post(t, h.srv.URL+"/integrations/mattermost/actions", "application/json", string(click))
	if st != 403 || !strings.Contains(body, "signature") || state() != "to approve" {
		t.Fatalf("forged click = %d %s, state %v", st, body, state())
	}

	// Bob has no Odoo user: told so, nothing changes.
	ar, err := h.mm.Click(ctx, http.DefaultClient, p.ID, "approve", bob.ID)
	if err != nil || ar.Update != nil || !strings.Contains(ar.EphemeralText, "no single Odoo user") || state() != "to approve" {
		t.Fatalf("bob's click = %+v, %v, state %v", ar, err, state())
	}
	// Alice may approve: Odoo's button_approve runs, the post shows who decided.
	ar, err = h.mm.Click(ctx, http.DefaultClient, p.ID, "approve", alice.ID)
	if err != nil || ar.Update == nil || state() != "purchase" {
		t.Fatalf("alice's click = %+v, %v, state %v", ar, err, state())
	}
	p, _ = h.mm.Post(p.ID)
	if !strings.Contains(p.Message, "approved by @alice") {
		t.Fatalf("updated post = %q", p.Message)
	}
	waitFor(t, "the audit entry", func() bool {
		rows, _ := h.db.ListAudit(ctx, store.AuditFilter{Action: "chatops.approval.approve"})
		return len(rows) == 1 && rows[0].Actor == "mattermost:alice"
	})
}

func TestOutgoingWebhookBridge(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	alice := h.mm.AddUser("alice", "pw")
	for _, asJSON := range []bool{false, true} {
		or, err := h.mm.Outgoing(ctx, http.DefaultClient, h.srv.URL+"/integrations/mattermost/outgoing", "outgoing0token0aaaaaaaaaaa",
			alice.ID, h.town, "@agent what is due?", "@agent", asJSON)
		if err != nil || or.ResponseType != "comment" || !strings.HasPrefix(or.Text, "got it: evt_") {
			t.Fatalf("outgoing (json=%v) = %+v, %v", asJSON, or, err)
		}
	}
	evs, err := h.db.ListEvents(ctx, store.EventFilter{Limit: 10})
	if err != nil || len(evs) != 2 || evs[0].Type != "mattermost.outgoing.agent" || strings.Contains(evs[0].Payload, "outgoing0token") {
		t.Fatalf("events = %+v, %v", evs, err)
	}
	if _, err := h.mm.Outgoing(ctx, http.DefaultClient, h.srv.URL+"/integrations/mattermost/outgoing", "forged0token0aaaaaaaaaaaaa",
		alice.ID, h.town, "@agent hi", "@agent", false); err == nil || !strings.Contains(err.Error(), "401") {
		t.Fatalf("forged outgoing token: %v", err)
	}
}

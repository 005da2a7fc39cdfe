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
	"sync"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/api"
	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/chatops"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/event"
	fakemm "github.com/insightpulseai/ipai/internal/fake/mattermost"
	fakeodoo "github.com/insightpulseai/ipai/internal/fake/odoo"
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
		// Only active connectors are used (README, Connectors).
		if rep, err := svc.Test(ctx, in.Code); err != nil || !rep.OK {
			t.Fatalf("test connector %s: %+v %v", in.Code, rep, err)
		}
		if _, err := svc.Activate(ctx, in.Code); err != nil {
			t.Fatal(err)
		}
	}
	disp := delivery.NewDispatcher(db, nil, al, nil, delivery.Options{Poll: 20 * time.Millisecond, Workers: 4})
	ing := event.NewIngester(db, rule.NewRouter(), event.IngesterOptions{OnCommit: func(int) { disp.Wake() }})
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

// postApproval runs the mattermost.approval executor for purchase.order
// po and returns the post and its buttons' signed contexts by id.
func (h *hub) postApproval(t *testing.T, po int, name string) (fakemm.Post, map[string]map[string]any) {
	t.Helper()
	a := rule.Action{Kind: rule.KindApproval, Connector: "chat", Channel: "town-square", Model: "purchase.order",
		Args: []any{"{{.data.id}}"}, Title: "Approve {{.data.name}}", Text: "PO {{.data.name}}"}
	payload, _ := json.Marshal(map[string]any{"id": po, "name": name, "amount_total": 100})
	cl := &store.Claimed{Delivery: store.Delivery{ID: "msg_" + name, Kind: rule.KindApproval, Action: rule.ActionJSON(a)},
		Event: store.Event{ID: "evt_" + name, Type: "odoo.purchase.order.to_approve", Payload: string(payload)}}
	res := h.co.Executors()[rule.KindApproval].Execute(context.Background(), cl)
	if res.Err != nil {
		t.Fatalf("approval post: %v", res.Err)
	}
	var out struct {
		PostID string `json:"post_id"`
	}
	_ = json.Unmarshal([]byte(res.Response), &out)
	p, ok := h.mm.Post(out.PostID)
	if !ok {
		t.Fatalf("no post %s", out.PostID)
	}
	ctxs := map[string]map[string]any{}
	for _, act := range p.Props["attachments"].([]any)[0].(map[string]any)["actions"].([]any) {
		am := act.(map[string]any)
		ctxs[am["id"].(string)] = am["integration"].(map[string]any)["context"].(map[string]any)
	}
	return p, ctxs
}

// click posts a button's context to the hub as Mattermost does for a post
// that still shows it.
func (h *hub) click(t *testing.T, userID, postID string, ctxMap map[string]any) (int, chatops.ActionResponse) {
	t.Helper()
	b, _ := json.Marshal(map[string]any{"user_id": userID, "post_id": postID, "type": "button", "context": ctxMap})
	st, body := post(t, h.srv.URL+"/integrations/mattermost/actions", "application/json", string(b))
	var ar chatops.ActionResponse
	if err := json.Unmarshal([]byte(body), &ar); err != nil {
		t.Fatalf("click answer %d %q: %v", st, body, err)
	}
	return st, ar
}

func hasActions(p fakemm.Post) bool {
	atts, _ := p.Props["attachments"].([]any)
	for _, a := range atts {
		if acts, _ := a.(map[string]any)["actions"].([]any); len(acts) > 0 {
			return true
		}
	}
	return false
}

// Issue 19 6a: after Reject, a stale Approve must not approve the
// cancelled order (Odoo's button_approve checks no state); a button works
// once; a record that left the posted state is not acted on; a double
// click calls Odoo once; the used post loses its buttons and says who
// decided.
func TestApprovalButtonsWorkOnceAndOnlyInThePostedState(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	alice := h.mm.AddUser("alice", "pw")
	h.odoo.Add("res.users", fakeodoo.Record{"name": "Alice Approver", "login": "alice@example.com", "email": "alice@example.com",
		"groups": []any{"purchase.group_purchase_manager"}})
	stateOf := func(id int) any {
		for _, r := range h.odoo.Records("purchase.order") {
			if r["id"] == id {
				return r["state"]
			}
		}
		return nil
	}

	// Reject, then the still-shown Approve: the order stays cancelled.
	po1 := h.odoo.Add("purchase.order", fakeodoo.Record{"name": "P00001", "state": "to approve"})
	p1, ctx1 := h.postApproval(t, po1, "P00001")
	if ctx1["approve"]["state"] != "to approve" {
		t.Fatalf("the signed context lacks the posted state: %v", ctx1["approve"])
	}
	fr, err := h.mm.Click(ctx, http.DefaultClient, p1.ID, "reject", alice.ID)
	if err != nil || fr.Update == nil || stateOf(po1) != "cancel" {
		t.Fatalf("reject = %+v %v, state %v", fr, err, stateOf(po1))
	}
	if _, err := h.mm.Click(ctx, http.DefaultClient, p1.ID, "reject", alice.ID); err == nil {
		t.Fatal("the rejected post still has its buttons")
	}
	if eph := h.mm.Ephemerals(); len(eph) == 0 || eph[len(eph)-1].Text != "Rejected." || eph[len(eph)-1].RootID != p1.ID {
		t.Fatalf("the click's ephemeral answer = %+v; want it in the post's thread", eph)
	}
	got, _ := h.mm.Post(p1.ID)
	if hasActions(got) || !strings.Contains(got.Message, "rejected by @alice") {
		t.Fatalf("post after reject = %q %v", got.Message, got.Props)
	}
	st, ar := h.click(t, alice.ID, p1.ID, ctx1["approve"])
	if st != 200 || stateOf(po1) != "cancel" || !strings.Contains(ar.EphemeralText, "Already decided") ||
		!strings.Contains(ar.EphemeralText, "Rejected by @alice") {
		t.Fatalf("stale approve = %d %+v, state %v (want the cancelled order left alone)", st, ar, stateOf(po1))
	}

	// The record left the posted state elsewhere (cancelled in Odoo): refused.
	po2 := h.odoo.Add("purchase.order", fakeodoo.Record{"name": "P00002", "state": "to approve"})
	p2, _ := h.postApproval(t, po2, "P00002")
	od, err := h.co.Clients.Odoo(ctx, "erp")
	if err != nil {
		t.Fatal(err)
	}
	if err := od.Write(ctx, "purchase.order", []int{po2}, map[string]any{"state": "cancel"}); err != nil {
		t.Fatal(err)
	}
	fr, err = h.mm.Click(ctx, http.DefaultClient, p2.ID, "approve", alice.ID)
	if err != nil || stateOf(po2) != "cancel" || !strings.Contains(fr.EphemeralText, "now in state `cancel`") || fr.Update == nil {
		t.Fatalf("approve of a cancelled order = %+v %v, state %v", fr, err, stateOf(po2))
	}
	got, _ = h.mm.Post(p2.ID)
	if hasActions(got) || !strings.Contains(got.Message, "no longer awaiting a decision") {
		t.Fatalf("post after a stale click = %q", got.Message)
	}

	// A double click calls Odoo once.
	var mu sync.Mutex
	calls := 0
	h.odoo.SetMethod("purchase.order", "button_approve", func(recs map[int]fakeodoo.Record, args []any, _ map[string]any) (any, *fakeodoo.Error) {
		mu.Lock()
		calls++
		mu.Unlock()
		time.Sleep(50 * time.Millisecond) // hold the call open so the clicks overlap
		for _, id := range args[0].([]any) {
			recs[int(id.(float64))]["state"] = "purchase"
		}
		return map[string]any{}, nil
	})
	po3 := h.odoo.Add("purchase.order", fakeodoo.Record{"name": "P00003", "state": "to approve"})
	p3, ctx3 := h.postApproval(t, po3, "P00003")
	var wg sync.WaitGroup
	answers := make([]chatops.ActionResponse, 4)
	for i := range answers {
		wg.Add(1)
		go func() { defer wg.Done(); _, answers[i] = h.click(t, alice.ID, p3.ID, ctx3["approve"]) }()
	}
	wg.Wait()
	approved := 0
	for _, a := range answers {
		if a.EphemeralText == "Approved." {
			approved++
		}
	}
	if calls != 1 || approved != 1 || stateOf(po3) != "purchase" {
		t.Fatalf("double click: %d Odoo calls, %d approvals (%+v), state %v; want exactly one", calls, approved, answers, stateOf(po3))
	}
}

// Issue 19 6b: only active connectors are used (README, Connectors). A
// connector whose Test Connection failed (state error) is not used by
// approvals or chat replies; the delivery is retried (not dead), and goes
// through once the connector is tested and activated again.
func TestConnectorInErrorIsNotUsed(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	alice := h.mm.AddUser("alice", "pw")
	po := h.odoo.Add("purchase.order", fakeodoo.Record{"name": "P00009", "state": "to approve"})
	if err := h.db.RecordConnectorTest(ctx, "chat", connector.StateError, time.Now(), "dial tcp: connection refused", 0, ""); err != nil {
		t.Fatal(err)
	}
	a := rule.Action{Kind: rule.KindApproval, Connector: "chat", Channel: "town-square", Model: "purchase.order", Args: []any{po}}
	cl := &store.Claimed{Delivery: store.Delivery{ID: "msg_x", Kind: rule.KindApproval, Action: rule.ActionJSON(a)},
		Event: store.Event{ID: "evt_x", Type: "odoo.purchase.order.to_approve", Payload: `{}`}}
	res := h.co.Executors()[rule.KindApproval].Execute(ctx, cl)
	if res.Err == nil || res.Permanent || !strings.Contains(res.Err.Error(), `connector "chat" is error, not active`) || len(h.mm.Posts()) != 0 {
		t.Fatalf("approval through a connector in error = %+v (posts %d); want a retried failure and no post", res, len(h.mm.Posts()))
	}
	resp, err := h.mm.RunCommand(ctx, http.DefaultClient, alice.ID, h.town, "/ipai status")
	if err != nil || !strings.Contains(resp.Text, "not active") {
		t.Fatalf("/ipai status through a connector in error = %+v, %v", resp, err)
	}
	if err := h.db.RecordConnectorTest(ctx, "chat", connector.StateTesting, time.Now(), "", 1, "9.11.1"); err != nil {
		t.Fatal(err)
	}
	if err := h.db.TransitionConnector(ctx, "chat", connector.StateTesting, connector.StateActive, time.Now()); err != nil {
		t.Fatal(err)
	}
	if res := h.co.Executors()[rule.KindApproval].Execute(ctx, cl); res.Err != nil || len(h.mm.Posts()) != 1 {
		t.Fatalf("approval after re-activation = %+v", res)
	}
}

// Issue 19 item 6: /opex counts only open tasks (Odoo 17+ project.task
// state: done and cancelled are closed), and /bir-status reads the
// deadline_date field the MCP tool odoo_bir_deadlines reads.
func TestOpexAndBIRStatusReadTheRealFields(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	alice := h.mm.AddUser("alice", "pw")
	if _, err := h.co.PutCommand(ctx, "ipai-bot", chatops.CommandInput{Trigger: "/bir-status"}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := h.co.Register(ctx, "ipai-bot"); err != nil {
		t.Fatal(err)
	}
	for name, state := range map[string]string{"Close AP": "01_in_progress", "Accrue payroll": "04_waiting_normal",
		"Post depreciation": "1_done", "Old checklist": "1_canceled"} {
		h.odoo.Add("project.task", fakeodoo.Record{"name": name, "state": state, "active": true, "date_deadline": "2020-01-31"})
	}
	h.odoo.Add("bir.filing_deadline", fakeodoo.Record{"name": "1601-C Feb", "form_type": "1601-C", "deadline_date": "2026-03-10", "status": "pending"})
	h.odoo.Add("bir.filing_deadline", fakeodoo.Record{"name": "1601-C Jan", "form_type": "1601-C", "deadline_date": "2026-02-10", "status": "filed"})
	reply := func(line, want string) string {
		t.Helper()
		n := len(h.mm.Ephemerals())
		if _, err := h.mm.RunCommand(ctx, http.DefaultClient, alice.ID, h.town, line); err != nil {
			t.Fatal(err)
		}
		var text string
		waitFor(t, line, func() bool {
			for _, e := range h.mm.Ephemerals()[n:] {
				if strings.Contains(e.Text, want) {
					text = e.Text
					return true
				}
			}
			return false
		})
		return text
	}
	closing := reply("/opex closing", "Open month-end tasks")
	if !strings.Contains(closing, "Close AP") || !strings.Contains(closing, "Accrue payroll") ||
		strings.Contains(closing, "Post depreciation") || strings.Contains(closing, "Old checklist") {
		t.Fatalf("/opex closing lists closed tasks or misses open ones:\n%s", closing)
	}
	if st := reply("/opex status", "open tasks"); !strings.Contains(st, ": 3 open tasks, 2 overdue") {
		t.Fatalf("/opex status = %q; want the seeded task and the two open ones (those two overdue)", st)
	}
	bir := reply("/bir-status", "BIR filing deadlines")
	if !strings.Contains(bir, "2026-03-10") || strings.Contains(bir, "2026-02-10") {
		t.Fatalf("/bir-status = %q; want the unfiled deadline's date", bir)
	}
}

// A method that changes the record but answers with an error (as Odoo
// 18's button_cancel, returning None, did to ipai's client): the request
// is used up and its buttons go, so no stale button can act later.
func TestApprovalErrorAfterTheRecordChanged(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	alice := h.mm.AddUser("alice", "pw")
	h.odoo.Add("res.users", fakeodoo.Record{"name": "Alice Approver", "login": "alice@example.com", "email": "alice@example.com",
		"groups": []any{"purchase.group_purchase_manager"}})
	h.odoo.SetMethod("purchase.order", "button_cancel", func(recs map[int]fakeodoo.Record, args []any, _ map[string]any) (any, *fakeodoo.Error) {
		for _, id := range args[0].([]any) {
			recs[int(id.(float64))]["state"] = "cancel"
		}
		return nil, &fakeodoo.Error{Name: "builtins.RuntimeError", Message: "lost answer"}
	})
	po := h.odoo.Add("purchase.order", fakeodoo.Record{"name": "P00077", "state": "to approve"})
	p, ctxs := h.postApproval(t, po, "P00077")
	ar, err := h.mm.Click(ctx, http.DefaultClient, p.ID, "reject", alice.ID)
	if err != nil || ar.Update == nil || !strings.Contains(ar.EphemeralText, "now in state `cancel`") {
		t.Fatalf("reject answering an error = %+v, %v", ar, err)
	}
	if got, _ := h.mm.Post(p.ID); hasActions(got) {
		t.Fatal("the post keeps its buttons after the record changed")
	}
	if _, ar := h.click(t, alice.ID, p.ID, ctxs["approve"]); h.odoo.Records("purchase.order")[0]["state"] != "cancel" ||
		!strings.Contains(ar.EphemeralText, "Nothing was done") {
		t.Fatalf("stale approve = %+v, state %v", ar, h.odoo.Records("purchase.order")[0]["state"])
	}
}

// A claim left by a hub that died mid-call does not block the buttons for
// good: after the claim timeout a click takes it over (the state check
// still keeps the method from running twice).
func TestApprovalDeadClaimIsTakenOver(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	alice := h.mm.AddUser("alice", "pw")
	h.odoo.Add("res.users", fakeodoo.Record{"name": "Alice Approver", "login": "alice@example.com", "email": "alice@example.com",
		"groups": []any{"purchase.group_purchase_manager"}})
	po := h.odoo.Add("purchase.order", fakeodoo.Record{"name": "P00088", "state": "to approve"})
	p, ctxs := h.postApproval(t, po, "P00088")
	nonce := ctxs["approve"]["nonce"].(string)
	if ok, _, err := h.db.ClaimApproval(ctx, store.ApprovalUse{Nonce: nonce, Model: "purchase.order", RecordID: int64(po), Op: "approve",
		Actor: "bob", ClaimedAt: time.Now().Add(-10 * time.Minute)}, time.Now().Add(-time.Hour)); !ok || err != nil {
		t.Fatal(ok, err)
	}
	if ar, err := h.mm.Click(ctx, http.DefaultClient, p.ID, "approve", alice.ID); err != nil || ar.EphemeralText != "Approved." ||
		h.odoo.Records("purchase.order")[0]["state"] != "purchase" {
		t.Fatalf("click after a dead claim = %+v, %v", ar, err)
	}
}

// An approval for a record that no longer exists fails for good (no
// retries, no post).
func TestApprovalOfAMissingRecord(t *testing.T) {
	h := newHub(t)
	a := rule.Action{Kind: rule.KindApproval, Connector: "chat", Channel: "town-square", Model: "purchase.order", Args: []any{9999}}
	cl := &store.Claimed{Delivery: store.Delivery{ID: "msg_m", Kind: rule.KindApproval, Action: rule.ActionJSON(a)},
		Event: store.Event{ID: "evt_m", Payload: `{}`}}
	res := h.co.Executors()[rule.KindApproval].Execute(context.Background(), cl)
	if res.Err == nil || !res.Permanent || !strings.Contains(res.Err.Error(), "does not exist") || len(h.mm.Posts()) != 0 {
		t.Fatalf("approval of a missing record = %+v", res)
	}
}

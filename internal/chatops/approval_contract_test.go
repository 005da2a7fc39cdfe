package chatops_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
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
	"github.com/insightpulseai/ipai/internal/connector/mattermost"
	"github.com/insightpulseai/ipai/internal/connector/odoo"
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

// capture keeps the bodies of the posts the hub creates, so a test can
// replay a button's signed context as a client still showing it would.
type capture struct {
	*integration.Service
	mu    sync.Mutex
	posts []map[string]any
}

func (c *capture) HTTPClient(cfg connector.Config) *http.Client {
	base := c.Service.HTTPClient(cfg)
	hc := *base
	next := base.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	hc.Transport = roundTrip(func(r *http.Request) (*http.Response, error) {
		if r.Method == http.MethodPost && strings.HasSuffix(r.URL.Path, "/api/v4/posts") && r.Body != nil {
			b, _ := io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
			var m map[string]any
			if json.Unmarshal(b, &m) == nil {
				c.mu.Lock()
				c.posts = append(c.posts, m)
				c.mu.Unlock()
			}
		}
		return next.RoundTrip(r)
	})
	return &hc
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

// world is ipai's hub wired to a real Mattermost and Odoo (from the
// IPAI_TEST_* variables) or to the fakes.
type world struct {
	real                        bool
	team                        string
	mmURL, mmToken, channel     string
	odURL, odDB, odLogin, odKey string
	db                          *store.DB
	svc                         *capture
	co                          *chatops.Service
	srv                         *httptest.Server
}

func newWorld(t *testing.T) *world {
	ctx := context.Background()
	mmURL, mmToken := os.Getenv("IPAI_TEST_MATTERMOST_URL"), os.Getenv("IPAI_TEST_MATTERMOST_TOKEN")
	team, channel := os.Getenv("IPAI_TEST_MATTERMOST_TEAM"), os.Getenv("IPAI_TEST_MATTERMOST_CHANNEL")
	odURL, odDB, odLogin, odKey := os.Getenv("IPAI_TEST_ODOO_URL"), os.Getenv("IPAI_TEST_ODOO_DB"), os.Getenv("IPAI_TEST_ODOO_LOGIN"), os.Getenv("IPAI_TEST_ODOO_KEY")
	real := mmURL != "" && odURL != ""
	if !real {
		mm, od := fakemm.New(), fakeodoo.New()
		od.EnablePurchase()
		t.Cleanup(func() { mm.Close(); od.Close() })
		mmURL, mmToken, team, channel = mm.URL, fakemm.AdminToken, fakemm.TeamName, "town-square"
		odURL, odDB, odLogin, odKey = od.URL, fakeodoo.DB, fakeodoo.Login, fakeodoo.APIKey
	}
	if team == "" {
		team = "ipai"
	}
	if channel == "" {
		channel = "town-square"
	}
	db := storetest.Open(t, storetest.URL(t, store.SQLite))
	box, _ := secret.New(bytes.Repeat([]byte{5}, 32))
	guard, _ := outbound.New([]string{"127.0.0.1"})
	al := audit.New(db)
	t.Cleanup(func() { al.Close() })
	svc := &capture{Service: integration.New(db, box, guard, 20*time.Second)}
	for _, in := range []integration.Input{
		{Code: "chat", Type: "mattermost", BaseURL: mmURL, AuthType: connector.AuthToken, Settings: map[string]string{"team": team},
			Secrets: map[string]string{"token": mmToken}},
		{Code: "erp", Type: "odoo", BaseURL: odURL, AuthType: connector.AuthAPIKey,
			Settings: map[string]string{"database": odDB, "login": odLogin}, Secrets: map[string]string{"api_key": odKey}},
	} {
		if _, err := svc.Create(ctx, in); err != nil {
			t.Fatal(err)
		}
		// Test Connection refuses Mattermost < 9.5 by design; this test
		// exercises the flow on older servers too, so it marks the
		// connectors tested directly.
		if err := db.RecordConnectorTest(ctx, in.Code, connector.StateTesting, time.Now(), "", 1, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := svc.Activate(ctx, in.Code); err != nil {
			t.Fatal(err)
		}
	}
	disp := delivery.NewDispatcher(db, nil, al, nil, delivery.Options{Poll: 20 * time.Millisecond, Workers: 2})
	co := &chatops.Service{DB: db, Box: box, Audit: al, Clients: action.FromConfigs(svc), HTTP: svc.HTTPClient,
		Cfg: config.ChatOps{Odoo: "erp", Approvals: config.Approvals{Odoo: "erp"}}, Wake: disp.Wake}
	if err := co.Init(ctx); err != nil {
		t.Fatal(err)
	}
	for kind, e := range co.Executors() {
		disp.Register(kind, e)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { disp.Run(runCtx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	ing := event.NewIngester(db, rule.NewRouter(), event.IngesterOptions{})
	t.Cleanup(ing.Close)
	s := &api.Server{DB: db, Audit: al, Tokens: auth.NewTokens(db), Log: slog.New(slog.DiscardHandler), ChatOps: co, Ingest: ing.Ingest}
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	co.BaseURL = srv.URL

	return &world{real: real, mmURL: mmURL, mmToken: mmToken, team: team, channel: channel, odURL: odURL, odDB: odDB, odLogin: odLogin,
		odKey: odKey, db: db, svc: svc, co: co, srv: srv}
}

// TestApprovalEndToEnd runs an approval through a real Mattermost and a
// real Odoo when IPAI_TEST_MATTERMOST_URL (+ _TOKEN, a system admin's) and
// IPAI_TEST_ODOO_URL (+ _DB, _LOGIN, _KEY) are set, else through the fakes:
// a purchase order in "to approve" is posted, rejected with the real
// button (POST /api/v4/posts/{id}/actions/{action}), and a stale Approve
// (the context replayed, as a client still showing the button would send
// it) must leave the cancelled order cancelled. A second order cancelled
// in Odoo behind the post's back must not be approved by its button.
func TestApprovalEndToEnd(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	real, mmURL, mmToken, channel, svc, co, srv := w.real, w.mmURL, w.mmToken, w.channel, w.svc, w.co, w.srv
	odURL, odDB, odLogin, odKey := w.odURL, w.odDB, w.odLogin, w.odKey
	od := odoo.New(odURL, odDB, odLogin, odKey, nil)
	mmc, _, err := co.Clients.Mattermost(ctx, "chat")
	if err != nil {
		t.Fatal(err)
	}
	me, err := mmc.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// The clicking Mattermost user must be one Odoo user (by email).
	var users []map[string]any
	if err := od.SearchRead(ctx, "res.users", []any{"|", []any{"email", "=ilike", me.Email}, []any{"login", "=ilike", me.Email}},
		map[string]any{"fields": []string{"login"}, "limit": 2}, &users); err != nil {
		t.Fatal(err)
	}
	if len(users) == 0 {
		if _, err := od.Create(ctx, "res.users", map[string]any{"name": "ipai approver " + me.Username, "login": me.Email, "email": me.Email}); err != nil {
			t.Fatalf("create the Odoo user of %s: %v", me.Email, err)
		}
	}
	var partners []map[string]any
	if err := od.SearchRead(ctx, "res.partner", []any{}, map[string]any{"fields": []string{"name"}, "limit": 1}, &partners); err != nil || len(partners) == 0 {
		if !real {
			partners = []map[string]any{{"id": 1.0}}
		} else {
			t.Fatalf("no partner: %v", err)
		}
	}
	newPO := func() int {
		t.Helper()
		b := make([]byte, 3)
		_, _ = rand.Read(b)
		id, err := od.Create(ctx, "purchase.order", map[string]any{"partner_id": int(partners[0]["id"].(float64)), "origin": "ipai-e2e-" + hex.EncodeToString(b)})
		if err != nil {
			t.Fatal(err)
		}
		if err := od.Write(ctx, "purchase.order", []int{id}, map[string]any{"state": "to approve"}); err != nil {
			t.Fatal(err)
		}
		return id
	}
	stateOf := func(id int) string {
		var rows []map[string]any
		if err := od.Read(ctx, "purchase.order", []int{id}, []string{"state"}, &rows); err != nil || len(rows) != 1 {
			t.Fatalf("read PO %d: %v", id, err)
		}
		return rows[0]["state"].(string)
	}
	postFor := func(id int) (string, map[string]map[string]any) {
		t.Helper()
		a := rule.Action{Kind: rule.KindApproval, Connector: "chat", Channel: channel, Model: "purchase.order",
			Args: []any{id}, Title: "ipai e2e: approve PO {{.data.id}}"}
		payload, _ := json.Marshal(map[string]any{"id": id})
		res := co.Executors()[rule.KindApproval].Execute(ctx, &store.Claimed{
			Delivery: store.Delivery{ID: "msg", Kind: rule.KindApproval, Action: rule.ActionJSON(a)},
			Event:    store.Event{ID: "evt", Payload: string(payload)}})
		if res.Err != nil {
			t.Fatalf("approval post: %v", res.Err)
		}
		var out struct {
			PostID string `json:"post_id"`
		}
		_ = json.Unmarshal([]byte(res.Response), &out)
		svc.mu.Lock()
		last := svc.posts[len(svc.posts)-1]
		svc.mu.Unlock()
		ctxs := map[string]map[string]any{}
		for _, act := range last["props"].(map[string]any)["attachments"].([]any)[0].(map[string]any)["actions"].([]any) {
			am := act.(map[string]any)
			ctxs[am["id"].(string)] = am["integration"].(map[string]any)["context"].(map[string]any)
		}
		return out.PostID, ctxs
	}
	doAction := func(postID, actionID string) int {
		t.Helper()
		req, _ := http.NewRequest(http.MethodPost, mmURL+"/api/v4/posts/"+postID+"/actions/"+actionID, strings.NewReader(`{}`))
		req.Header.Set("Authorization", "Bearer "+mmToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}

	// Reject through Mattermost: Odoo cancels the order.
	po := newPO()
	postID, ctxs := postFor(po)
	if ctxs["approve"]["state"] != "to approve" {
		t.Fatalf("the buttons do not carry the posted state: %v", ctxs["approve"])
	}
	if st := doAction(postID, "reject"); st != 200 {
		t.Fatalf("reject click = %d", st)
	}
	if st := stateOf(po); st != "cancel" {
		t.Fatalf("after Reject the order is %s, want cancel", st)
	}
	if p, err := mmc.GetPost(ctx, postID); err != nil || strings.Contains(toJSON(p.Props), `"actions"`) {
		t.Fatalf("after Reject the post still has buttons: %v %v", p.Props, err)
	}
	// The stale Approve (a client still showing it): the order stays cancelled.
	b, _ := json.Marshal(map[string]any{"user_id": me.ID, "post_id": postID, "type": "button", "context": ctxs["approve"]})
	resp, err := http.Post(srv.URL+"/integrations/mattermost/actions", "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	var ar chatops.ActionResponse
	_ = json.NewDecoder(resp.Body).Decode(&ar)
	resp.Body.Close()
	if st := stateOf(po); st != "cancel" {
		t.Fatalf("the stale Approve moved the cancelled order to %s (answer %+v)", st, ar)
	}
	t.Logf("stale Approve answered: %q", ar.EphemeralText)

	// Cancelled in Odoo behind the post's back: its Approve is refused and
	// the post loses its buttons.
	po2 := newPO()
	post2, _ := postFor(po2)
	if err := od.Write(ctx, "purchase.order", []int{po2}, map[string]any{"state": "cancel"}); err != nil {
		t.Fatal(err)
	}
	if st := doAction(post2, "approve"); st != 200 {
		t.Fatalf("approve click = %d", st)
	}
	if st := stateOf(po2); st != "cancel" {
		t.Fatalf("Approve moved an order cancelled in Odoo to %s", st)
	}
	p2, err := mmc.GetPost(ctx, post2)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(toJSON(p2.Props), `"actions"`) || !strings.Contains(p2.Message, "no longer awaiting a decision") {
		t.Fatalf("post after the refused click = %q %v", p2.Message, p2.Props)
	}
	if st := doAction(post2, "approve"); st != 404 {
		t.Fatalf("a click on the removed button = %d, want 404", st)
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

// TestSlashEndToEnd registers a bot's command in a real Mattermost (or the
// fake), runs it as a user does (POST /api/v4/commands/execute), and
// checks the quick answer and the delayed in_channel reply, which
// Mattermost posts as the invoking user with the bot's name as
// override_username.
func TestSlashEndToEnd(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	trigger := "ipaie2e" + hex.EncodeToString(b)
	if _, err := w.co.PutBot(ctx, chatops.BotInput{Username: "ipai-e2e-bot", Connector: "chat"}, false); err != nil {
		t.Fatal(err)
	}
	if _, err := w.co.PutCommand(ctx, "ipai-e2e-bot", chatops.CommandInput{Trigger: trigger, Handler: "ipai", ResponseType: "in_channel"}, false); err != nil {
		t.Fatal(err)
	}
	regs, err := w.co.Register(ctx, "ipai-e2e-bot")
	if err != nil || len(regs) != 1 {
		t.Fatalf("register = %+v, %v", regs, err)
	}
	mmc, _, err := w.co.Clients.Mattermost(ctx, "chat")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = mmc.DeleteCommand(context.Background(), regs[0].ID) })
	ch, err := mmc.ChannelByName(ctx, w.team, w.channel)
	if err != nil {
		t.Fatal(err)
	}
	me, err := mmc.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	execute := func(text string) (int, map[string]any) {
		t.Helper()
		body, _ := json.Marshal(map[string]any{"channel_id": ch.ID, "command": "/" + trigger + " " + text})
		req, _ := http.NewRequest(http.MethodPost, w.mmURL+"/api/v4/commands/execute", bytes.NewReader(body))
		req.Header.Set("Authorization", "Bearer "+w.mmToken)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp.StatusCode, out
	}
	if st, out := execute("help"); st != 200 || !strings.Contains(fmt.Sprint(out["text"]), "/"+trigger+" odoo MODEL QUERY") {
		t.Fatalf("/%s help = %d %v", trigger, st, out)
	}
	if st, out := execute("status"); st != 200 || !strings.Contains(fmt.Sprint(out["text"]), "Working") {
		t.Fatalf("/%s status = %d %v", trigger, st, out)
	}
	p := w.waitForPost(t, ch.ID, func(p channelPost) bool {
		return strings.Contains(p.Message, "No health checks run on this hub") && p.Props["override_username"] == "ipai-e2e-bot"
	}, "the delayed in_channel reply of /"+trigger+" status")
	if p.UserID != me.ID || p.Props["from_webhook"] != "true" {
		t.Fatalf("delayed reply = %+v; want it posted as the invoking user %s", p, me.ID)
	}
}

// TestOutgoingEndToEnd creates an outgoing webhook in a real Mattermost
// (or the fake) pointing at the hub, posts its trigger word, and waits for
// the hub's reply, which Mattermost posts in the post's thread as the
// hook's creator (from_webhook).
func TestOutgoingEndToEnd(t *testing.T) {
	w := newWorld(t)
	ctx := context.Background()
	mmc, _, err := w.co.Clients.Mattermost(ctx, "chat")
	if err != nil {
		t.Fatal(err)
	}
	team, err := mmc.TeamByName(ctx, w.team)
	if err != nil {
		t.Fatal(err)
	}
	ch, err := mmc.ChannelByName(ctx, w.team, w.channel)
	if err != nil {
		t.Fatal(err)
	}
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	word := "#ipaie2e" + hex.EncodeToString(b)
	hook, err := mmc.CreateOutgoingHook(ctx, mattermost.OutgoingHook{TeamID: team.ID, ChannelID: ch.ID, TriggerWords: []string{word},
		CallbackURLs: []string{w.srv.URL + "/integrations/mattermost/outgoing"}, DisplayName: "ipai e2e", ContentType: "application/json"})
	if err != nil || hook.Token == "" {
		t.Fatalf("create outgoing hook = %+v, %v", hook, err)
	}
	t.Cleanup(func() {
		req, _ := http.NewRequest(http.MethodDelete, w.mmURL+"/api/v4/hooks/outgoing/"+hook.ID, nil)
		req.Header.Set("Authorization", "Bearer "+w.mmToken)
		if resp, err := http.DefaultClient.Do(req); err == nil {
			resp.Body.Close()
		}
	})
	w.co.Cfg.Outgoing = []config.OutgoingSpec{{Name: "e2e", Token: hook.Token, Reply: "got it: {{event_id}}"}}
	p, err := mmc.CreatePost(ctx, mattermost.Post{ChannelID: ch.ID, Message: word + " what is due?"})
	if err != nil {
		t.Fatal(err)
	}
	r := w.waitForPost(t, ch.ID, func(r channelPost) bool {
		return r.RootID == p.ID && strings.HasPrefix(r.Message, "got it: evt_")
	}, "a reply in the thread of "+p.ID)
	if r.Props["from_webhook"] != "true" {
		t.Fatalf("reply props = %v; want from_webhook", r.Props)
	}
	evs, err := w.db.ListEvents(ctx, store.EventFilter{Limit: 5})
	if err != nil || len(evs) != 1 || !strings.HasPrefix(evs[0].Type, "mattermost.outgoing.") {
		t.Fatalf("events = %+v, %v", evs, err)
	}
	t.Logf("event type %s; reply props %v", evs[0].Type, r.Props)
}

// channelPost is what these tests read of a Mattermost post.
type channelPost struct {
	UserID  string         `json:"user_id"`
	RootID  string         `json:"root_id"`
	Message string         `json:"message"`
	Props   map[string]any `json:"props"`
}

// waitForPost polls the channel's last 20 posts until one matches, for up
// to 15 s, and returns it; what names the post in the failure.
func (w *world) waitForPost(t *testing.T, channelID string, match func(channelPost) bool, what string) channelPost {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		var list struct {
			Posts map[string]channelPost `json:"posts"`
		}
		req, _ := http.NewRequest(http.MethodGet, w.mmURL+"/api/v4/channels/"+channelID+"/posts?per_page=20", nil)
		req.Header.Set("Authorization", "Bearer "+w.mmToken)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		for _, p := range list.Posts {
			if match(p) {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s never appeared", what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

package ui_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/boardsync"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/connector/focalboard"
	"github.com/insightpulseai/ipai/internal/connector/odoo"
	"github.com/insightpulseai/ipai/internal/embed"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/ui"
)

func sessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == ui.SessionCookie {
			return c
		}
	}
	return nil
}

func TestSessionCookieFlags(t *testing.T) {
	for _, tc := range []struct {
		mode   string
		secure bool
	}{{"auto", false}, {"always", true}} {
		t.Run(tc.mode, func(t *testing.T) {
			h := newHub(t, func(c *config.Config) { c.UI.SecureCookies = tc.mode })
			h.addUser(t, "admin", auth.RoleAdmin)
			resp := newClient(t, h.URL).login("admin", "admin-password")
			mustStatus(t, resp, http.StatusSeeOther, "")
			c := sessionCookie(resp)
			if c == nil {
				t.Fatal("no session cookie")
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure != tc.secure || c.MaxAge <= 0 {
				t.Fatalf("cookie flags: HttpOnly=%v SameSite=%v Path=%q Secure=%v MaxAge=%d", c.HttpOnly, c.SameSite, c.Path, c.Secure, c.MaxAge)
			}
			if len(c.Value) < 40 {
				t.Fatalf("session token too short: %d", len(c.Value))
			}
			// Only the hash is stored.
			var n int
			if err := h.DB.QueryRow(context.Background(), "SELECT count(*) FROM ui_sessions WHERE hash = ?", c.Value).Scan(&n); err != nil || n != 0 {
				t.Fatalf("raw token stored: %d %v", n, err)
			}
		})
	}
}

func TestCSRF(t *testing.T) {
	h := newHub(t, nil)
	h.addUser(t, "admin", auth.RoleAdmin)
	c := newClient(t, h.URL)
	// The login form needs its own token.
	resp, body := c.post("/login", url.Values{"name": {"admin"}, "password": {"admin-password"}})
	mustStatus(t, resp, http.StatusForbidden, body)
	if sessionCookie(resp) != nil {
		t.Fatal("signed in without the login form's token")
	}
	mustStatus(t, c.login("admin", "admin-password"), http.StatusSeeOther, "")
	_, page := c.get("/ui/users")
	tok := csrfOf(t, page)

	form := url.Values{"name": {"ci"}, "role": {"user"}}
	resp, body = c.post("/ui/tokens", form)
	mustStatus(t, resp, http.StatusForbidden, body)
	if !strings.Contains(body, "security token") {
		t.Fatalf("refusal does not say why:\n%.600s", body)
	}
	form.Set("csrf", "forged-"+tok)
	resp, body = c.post("/ui/tokens", form)
	mustStatus(t, resp, http.StatusForbidden, body)
	toks, _ := h.DB.ListTokens(context.Background())
	if len(toks) != 0 {
		t.Fatalf("a form without a valid token created %d tokens", len(toks))
	}
	// A cross-site post with the right token is refused too.
	form.Set("csrf", tok)
	req, _ := http.NewRequest("POST", h.URL+"/ui/tokens", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	r2, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	mustStatus(t, r2, http.StatusForbidden, "")
	// With the token it works.
	resp, body = c.post("/ui/tokens", form)
	mustStatus(t, resp, http.StatusOK, body)
	if !strings.Contains(body, auth.TokenPrefix) {
		t.Fatal("the new token is not shown")
	}
}

func TestLogoutRoleChangeAndRateLimit(t *testing.T) {
	h := newHub(t, func(c *config.Config) { c.UI.LoginAttempts = 3 })
	h.addUser(t, "viewer", auth.RoleUser)
	c := newClient(t, h.URL)
	mustStatus(t, c.login("viewer", "viewer-password"), http.StatusSeeOther, "")
	resp, body := c.get("/ui/users")
	mustStatus(t, resp, http.StatusForbidden, body)
	if strings.Contains(body, `href="/ui/users"`) {
		t.Fatal("menu shows Users & tokens to a user")
	}
	// Promote: applies to the next request.
	u, _ := h.DB.UserByName(context.Background(), "viewer")
	if _, err := auth.NewUsers(h.DB).SetRole(context.Background(), u.ID, auth.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	resp, body = c.get("/ui/users")
	mustStatus(t, resp, http.StatusOK, body)
	// Logout ends the session server-side: the old cookie no longer works.
	var old *http.Cookie
	for _, ck := range c.Jar.Cookies(mustURL(h.URL)) {
		if ck.Name == ui.SessionCookie {
			old = ck
		}
	}
	resp, _ = c.post("/logout", url.Values{"csrf": {csrfOf(t, body)}})
	mustStatus(t, resp, http.StatusSeeOther, "")
	req, _ := http.NewRequest("GET", h.URL+"/ui/", nil)
	req.AddCookie(old)
	r2, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusFound || !strings.HasPrefix(r2.Header.Get("Location"), "/login") {
		t.Fatalf("old session after logout: %d %s", r2.StatusCode, r2.Header.Get("Location"))
	}
	// Rate limit: 3 failures, then even the right password is refused.
	for i := 0; i < 3; i++ {
		mustStatus(t, c.login("viewer", "wrong-password"), http.StatusUnauthorized, "")
	}
	mustStatus(t, c.login("viewer", "viewer-password"), http.StatusTooManyRequests, "")
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

func TestFormErrorsNextToFields(t *testing.T) {
	h := newHub(t, nil)
	h.addUser(t, "admin", auth.RoleAdmin)
	c := newClient(t, h.URL)
	c.login("admin", "admin-password")
	_, page := c.get("/ui/connectors/new?type=mattermost")
	resp, body := c.post("/ui/connectors", url.Values{"csrf": {csrfOf(t, page)}, "type": {"mattermost"}, "code": {"chat"},
		"base_url": {"ftp://nope"}})
	mustStatus(t, resp, http.StatusUnprocessableEntity, body)
	i := strings.Index(body, `name="base_url"`)
	j := strings.Index(body, `class="field-error"`)
	if i < 0 || j < i || !strings.Contains(body[j:j+200], "not an absolute http(s) URL") {
		t.Fatalf("no field error after the base_url field:\n%s", body)
	}
	if _, err := h.DB.Connector(context.Background(), "chat"); err != store.ErrNotFound {
		t.Fatalf("invalid connector stored: %v", err)
	}
	// The API's routes still answer beside the UI.
	resp, body = c.get("/api/v1/me")
	mustStatus(t, resp, http.StatusUnauthorized, body)
	resp, body = c.get("/healthz")
	mustStatus(t, resp, http.StatusOK, body)
}

// fakeOdoo serves one task (id 7) of the synced project.
type fakeOdoo struct{}

func (fakeOdoo) SearchRead(_ context.Context, model string, _ []any, _ map[string]any, out any) error {
	var recs []map[string]any
	if model == "project.task" {
		recs = []map[string]any{{"id": 7, "name": "Close Q3 books", "stage_id": []any{3, "Doing"}, "priority": "1",
			"date_deadline": "2026-12-01", "active": true, "write_date": "2026-11-20 10:00:00"}}
	}
	b, _ := json.Marshal(recs)
	return json.Unmarshal(b, out)
}
func (fakeOdoo) Search(context.Context, string, []any, map[string]any) ([]int, error) {
	return nil, nil
}
func (fakeOdoo) FieldsGet(context.Context, string) (map[string]odoo.Field, error) { return nil, nil }
func (fakeOdoo) Create(context.Context, string, map[string]any) (int, error)      { return 0, nil }
func (fakeOdoo) Write(context.Context, string, []int, map[string]any) error       { return nil }
func (fakeOdoo) ExecuteKW(context.Context, string, string, []any, map[string]any, any) error {
	return nil
}

type unusedBoard = boardsync.Board

// fakeBoard is a board with one card (c1) and records card patches. The
// embedded interface (nil) stands for the methods a resolve does not use.
type fakeBoard struct {
	unusedBoard
	mu      sync.Mutex
	patched map[string]focalboard.CardPatch
}

func (f *fakeBoard) Board(context.Context, string) (focalboard.Board, error) {
	return focalboard.Board{ID: "b1", Title: "Finance", CardProperties: []focalboard.CardProperty{
		{ID: "st", Name: "Status", Type: "select", Options: []focalboard.PropertyOpt{{ID: "o1", Value: "Doing"}, {ID: "o4", Value: "Done"}}},
		{ID: "pr", Name: "Priority", Type: "select", Options: []focalboard.PropertyOpt{{ID: "o2", Value: "High"}, {ID: "o3", Value: "Normal"}}},
		{ID: "dl", Name: "Deadline", Type: "date"}}}, nil
}
func (f *fakeBoard) PatchBoard(ctx context.Context, id string, _ focalboard.BoardPatch) (focalboard.Board, error) {
	return f.Board(ctx, id)
}
func (f *fakeBoard) AllCards(context.Context, string) ([]focalboard.Card, error) {
	return []focalboard.Card{{ID: "c1", BoardID: "b1", Title: "Close Q3 books (board edit)", Properties: map[string]any{"st": "o4", "pr": "o3"}}}, nil
}
func (f *fakeBoard) CreateCard(_ context.Context, _ string, c focalboard.Card) (focalboard.Card, error) {
	return c, nil
}
func (f *fakeBoard) PatchCard(_ context.Context, id string, p focalboard.CardPatch) (focalboard.Card, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.patched == nil {
		f.patched = map[string]focalboard.CardPatch{}
	}
	f.patched[id] = p
	return focalboard.Card{ID: id}, nil
}
func (f *fakeBoard) DeleteCard(context.Context, string, string) error { return nil }

// ChangeCard (read-modify-write of the properties) records the patch.
func (f *fakeBoard) ChangeCard(ctx context.Context, id string, ch focalboard.CardChange) (focalboard.Card, error) {
	return f.PatchCard(ctx, id, focalboard.CardPatch{Title: ch.Title, UpdatedProperties: ch.Set})
}

// Card content: no text blocks; writes are accepted.
func (f *fakeBoard) Blocks(context.Context, string, string, string) ([]focalboard.Block, error) {
	return nil, nil
}
func (f *fakeBoard) InsertBlocks(_ context.Context, _ string, bs []focalboard.Block) ([]focalboard.Block, error) {
	return bs, nil
}
func (f *fakeBoard) PatchBlock(context.Context, string, string, focalboard.BlockPatch) error {
	return nil
}
func (f *fakeBoard) DeleteBlock(context.Context, string, string) error { return nil }

// integrationHub is a hub with board sync (fake Odoo and Focalboard),
// two Superset dashboards (one admin-only), a bot with a command, an n8n
// workflow with an execution, and sync links in every state. The sync
// service is given to the API and the UI, as setupSync and setupUI do.
func integrationHub(t testing.TB) (*hub, *fakeBoard, map[string]string) {
	t.Helper()
	h := newHub(t, func(c *config.Config) {
		c.Superset.Connector = "superset"
		c.Superset.Dashboards = []embed.Dashboard{
			{ID: "sales", Name: "Sales overview", SupersetID: "1", EmbeddedUUID: "11111111-1111-1111-1111-111111111111"},
			{ID: "payroll", Name: "Payroll secrets", SupersetID: "2", EmbeddedUUID: "22222222-2222-2222-2222-222222222222", Roles: []string{"admin"}}}
	})
	board := &fakeBoard{}
	svc := &boardsync.Service{DB: h.DB, Pairs: map[string]*boardsync.Pair{"finance": {Name: "finance", DB: h.DB, Odoo: fakeOdoo{},
		Board: board, ProjectID: 1, BoardID: "b1", Audit: h.Audit}}}
	h.API.Sync, h.UI.Sync = svc, svc
	// A server started after the change (the hub's own was started before).
	srv := httptest.NewServer(h.Handler())
	t.Cleanup(srv.Close)
	h.URL = srv.URL

	ctx := context.Background()
	now := time.Now().UTC()
	snap, _ := json.Marshal(boardsync.Fields{Title: "Close Q3 books", Stage: "Todo", Priority: "0"})
	ids := map[string]string{}
	for i, st := range []string{store.SyncSynced, store.SyncPending, store.SyncError, store.SyncConflict} {
		l := store.SyncLink{ID: "link-" + st, Pair: "finance", LocalSystem: "odoo", LocalModel: "project.task", LocalID: "7",
			RemoteSystem: "focalboard", RemoteType: "card", RemoteID: "c1", State: st, Direction: "both", Snapshot: string(snap),
			CreatedAt: now.Add(time.Duration(i) * time.Second), UpdatedAt: now}
		if st != store.SyncConflict {
			l.LocalID, l.RemoteID = "1"+l.LocalID+st, "c-"+st
		}
		if st == store.SyncError {
			l.LastError = "board unreachable"
		}
		if err := h.DB.CreateSyncLink(ctx, l); err != nil {
			t.Fatal(err)
		}
		ids[st] = l.ID
	}
	if err := h.DB.UpsertBot(ctx, store.Bot{Username: "ipai-bot", DisplayName: "ipai", Connector: "chat", TokenSealed: "SEALED-BOT-TOKEN",
		Permissions: `["post"]`, State: "active", CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := h.DB.UpsertCommand(ctx, store.BotCommand{Bot: "ipai-bot", Command: "deploy", Description: "deploy a service",
		Handler: "n8n", Method: "P", Allow: `{"teams":["ops"]}`, TokenSealed: "SEALED-CMD-TOKEN", Active: true, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	if err := h.DB.SyncN8NWorkflows(ctx, "", []store.N8NWorkflow{{ID: "wf1", Name: "Invoice approval", Active: true, Tags: `["finance"]`,
		TriggerType: "webhook", WebhookPath: "invoice", LastSync: now}}); err != nil {
		t.Fatal(err)
	}
	if err := h.DB.InsertN8NExecution(ctx, store.N8NExecution{ID: "ex1", WorkflowID: "wf1", Source: "rule", Status: store.ExecError,
		StartedAt: now.Add(-time.Minute), FinishedAt: now, Error: "node Odoo failed", ResModel: "account.move", ResID: 42}); err != nil {
		t.Fatal(err)
	}
	return h, board, ids
}

// TestIntegrationPages: the sync, bots, n8n and Superset pages render for
// the role of their API GET route, with menu entries; lower roles get the
// 403 page and no menu entry; the manager-only forms are hidden from and
// refused to a user.
func TestIntegrationPages(t *testing.T) {
	h, _, ids := integrationHub(t)
	pages := []struct {
		path, apiGET, menu string
		want               []string
		never              []string
	}{
		{"/ui/sync", "/api/v1/sync/links", "Sync links", []string{"project.task/7", "board unreachable"}, nil},
		{"/ui/bots", "/api/v1/bots", "Bots", []string{"ipai-bot", "/deploy", "teams ops", "/integrations/slash/ipai-bot/deploy"},
			[]string{"SEALED-BOT-TOKEN", "SEALED-CMD-TOKEN"}},
		{"/ui/n8n", "/api/v1/n8n/workflows", "n8n", []string{"Invoice approval", "finance", "node Odoo failed", "account.move/42"}, nil},
		{"/ui/superset", "/api/v1/superset/dashboards", "Superset", []string{"Sales overview", `href="/embed/dashboards/sales"`},
			[]string{"Payroll secrets"}},
	}
	for _, r := range auth.Roles {
		h.addUser(t, string(r), r)
	}
	for _, p := range pages {
		need := ui.APIRole("GET", p.apiGET)
		for _, r := range auth.Roles {
			c := newClient(t, h.URL)
			mustStatus(t, c.login(string(r), string(r)+"-password"), http.StatusSeeOther, "")
			resp, body := c.get(p.path)
			menu := `href="` + p.path + `"`
			if !r.Allows(need) {
				mustStatus(t, resp, http.StatusForbidden, body)
				if strings.Contains(body, menu) {
					t.Fatalf("%s: menu entry shown to %s", p.path, r)
				}
				continue
			}
			mustStatus(t, resp, http.StatusOK, body)
			if !strings.Contains(body, menu) || !strings.Contains(body, ">"+p.menu+"<") {
				t.Fatalf("%s: no menu entry for %s", p.path, r)
			}
			for _, w := range p.want {
				if !strings.Contains(body, w) {
					t.Fatalf("%s as %s: %q missing\n%s", p.path, r, w, body)
				}
			}
			for _, w := range p.never {
				if r != auth.RoleAdmin || strings.HasPrefix(w, "SEALED") {
					if strings.Contains(body, w) {
						t.Fatalf("%s as %s shows %q", p.path, r, w)
					}
				}
			}
		}
	}
	// Signed out: every page sends to the sign-in.
	for _, p := range pages {
		resp, _ := newClient(t, h.URL).get(p.path)
		if resp.StatusCode != http.StatusFound || !strings.HasPrefix(resp.Header.Get("Location"), "/login") {
			t.Fatalf("%s signed out: %d %s", p.path, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	// The admin-only dashboard is listed for an admin.
	admin := newClient(t, h.URL)
	admin.login("admin", "admin-password")
	if _, body := admin.get("/ui/superset"); !strings.Contains(body, "Payroll secrets") {
		t.Fatal("admin does not see the admin-only dashboard")
	}
	// Conflicts come first, then pending, error, synced.
	_, body := admin.get("/ui/sync")
	last := -1
	for _, st := range []string{store.SyncConflict, store.SyncPending, store.SyncError, store.SyncSynced} {
		i := strings.Index(body, `id="link-`+ids[st]+`"`)
		if i < last {
			t.Fatalf("link %s out of order:\n%s", st, body)
		}
		last = i
	}
	// Resolve and Re-sync need manager (as the API): a user sees neither
	// form and a forged post is refused.
	if ui.APIRole("POST", "/api/v1/sync/links/{id}/resolve") != auth.RoleManager {
		t.Fatal("resolve is expected to need manager")
	}
	user := newClient(t, h.URL)
	user.login("user", "user-password")
	_, body = user.get("/ui/sync")
	if strings.Contains(body, "/resolve") || strings.Contains(body, "/resync") {
		t.Fatal("a user sees the resolve or re-sync form")
	}
	resp, body := user.post("/ui/sync/"+ids[store.SyncConflict]+"/resolve", url.Values{"csrf": {csrfOf(t, body)}, "keep": {"odoo"}})
	mustStatus(t, resp, http.StatusForbidden, body)
	if l, _ := h.DB.SyncLink(context.Background(), ids[store.SyncConflict]); l.State != store.SyncConflict {
		t.Fatalf("a user's post changed the link to %s", l.State)
	}
}

// TestSyncResolveForm: a manager resolves a conflict link with the form;
// the link is synced, the board card got the ERP's values, the write is
// audited as the API's sync.resolve.
func TestSyncResolveForm(t *testing.T) {
	h, board, ids := integrationHub(t)
	h.addUser(t, "mgr", auth.RoleManager)
	c := newClient(t, h.URL)
	c.login("mgr", "mgr-password")
	id := ids[store.SyncConflict]
	_, page := c.get("/ui/sync")
	if !strings.Contains(page, `action="/ui/sync/`+id+`/resolve"`) || !strings.Contains(page, `action="/ui/sync/`+ids[store.SyncError]+`/resync"`) {
		t.Fatalf("no resolve or re-sync form:\n%s", page)
	}
	// Without the CSRF token: refused, nothing changes.
	resp, body := c.post("/ui/sync/"+id+"/resolve", url.Values{"keep": {"odoo"}})
	mustStatus(t, resp, http.StatusForbidden, body)
	// A side that is neither: refused by the same rule as the API.
	resp, body = c.post("/ui/sync/"+id+"/resolve", url.Values{"csrf": {csrfOf(t, page)}, "keep": {"both"}})
	mustStatus(t, resp, http.StatusUnprocessableEntity, body)
	if l, _ := h.DB.SyncLink(context.Background(), id); l.State != store.SyncConflict {
		t.Fatalf("refused posts changed the link to %s", l.State)
	}
	resp, body = c.post("/ui/sync/"+id+"/resolve", url.Values{"csrf": {csrfOf(t, page)}, "keep": {"odoo"}})
	mustStatus(t, resp, http.StatusSeeOther, body)
	l, err := h.DB.SyncLink(context.Background(), id)
	if err != nil || l.State != store.SyncSynced {
		t.Fatalf("link after resolve: %s %v", l.State, err)
	}
	board.mu.Lock()
	p, ok := board.patched["c1"]
	board.mu.Unlock()
	if !ok || p.Title == nil || *p.Title != "Close Q3 books" {
		t.Fatalf("card not given the ERP's values: %+v", p)
	}
	_, body = c.get("/ui/sync")
	if !strings.Contains(body, "resolved keeping odoo") {
		t.Fatalf("no flash after resolve:\n%.1500s", body)
	}
	// Resolving again: not in conflict any more.
	resp, _ = c.post("/ui/sync/"+id+"/resolve", url.Values{"csrf": {csrfOf(t, body)}, "keep": {"board"}})
	mustStatus(t, resp, http.StatusSeeOther, "")
	u, _ := h.DB.UserByName(context.Background(), "mgr")
	rows, err := h.DB.ListAudit(context.Background(), store.AuditFilter{Action: "sync.resolve", Limit: 10})
	if err != nil {
		t.Fatal(err)
	}
	var ok1, refused bool
	for _, r := range rows {
		if r.Actor == u.ID && r.Target == id && r.Method == "POST" {
			ok1 = ok1 || r.Level == "info"
			refused = refused || r.Level == "warning"
		}
	}
	if !ok1 || !refused {
		t.Fatalf("audit of the resolves by the manager: ok=%v refused=%v in %+v", ok1, refused, rows)
	}
}

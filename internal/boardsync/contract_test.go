package boardsync

import (
	"context"
	"net/http"
	"os"
	"reflect"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/connector/focalboard"
	"github.com/insightpulseai/ipai/internal/connector/odoo"
	fakefb "github.com/insightpulseai/ipai/internal/fake/focalboard"
	fakeodoo "github.com/insightpulseai/ipai/internal/fake/odoo"
	"github.com/insightpulseai/ipai/internal/store"
)

// TestPairContract runs task ↔ card sync rounds against the real
// Focalboard named by IPAI_TEST_FOCALBOARD_URL (+ _TOKEN and _USER), on a
// board of its own that it deletes, and the real Odoo named by
// IPAI_TEST_ODOO_URL (+ _DB, _LOGIN, _KEY), on a project of its own that it
// deletes; against the fakes otherwise: a task with a description makes
// one card however many rounds run, a property ipai does not map survives
// an Odoo → card update, and the Focalboard user whose username is an Odoo
// login is its assignee.
func TestPairContract(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, store.SQLite)
	url, token, user := os.Getenv("IPAI_TEST_FOCALBOARD_URL"), os.Getenv("IPAI_TEST_FOCALBOARD_TOKEN"), os.Getenv("IPAI_TEST_FOCALBOARD_USER")
	if url == "" {
		user = fakefb.Username
	}
	tk := newTaskSource(t, user)
	ocl := tk.client
	hc := &http.Client{Timeout: 30 * time.Second}
	if url == "" {
		fb := fakefb.New()
		t.Cleanup(fb.Close)
		url, token, hc = fb.URL, fakefb.Token, fb.Client()
	}
	board := focalboard.New(url, token, hc)
	me, err := board.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	b, err := board.CreateBoard(ctx, focalboard.Board{TeamID: "0", Type: "P", Title: "ipai sync contract " + time.Now().UTC().Format(time.RFC3339Nano)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		req, _ := http.NewRequest("DELETE", url+"/api/v2/boards/"+b.ID, nil)
		req.Header.Set("X-Requested-With", "XMLHttpRequest")
		req.Header.Set("Authorization", "Bearer "+token)
		if resp, err := hc.Do(req); err == nil {
			resp.Body.Close()
		}
	})
	if err := ocl.Write(ctx, "project.task", []int{tk.task}, map[string]any{"description": "<p>Check all accounts</p>", "priority": "1",
		"user_ids": []any{[]any{6, 0, []any{tk.uid}}}}); err != nil {
		t.Fatal(err)
	}
	p := &Pair{Name: "contract", DB: db, Odoo: ocl, Board: board, ProjectID: tk.project, BoardID: b.ID, Now: tk.now}
	round := func() Report {
		t.Helper()
		tk.advance()
		rep, err := p.SyncOnce(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return rep
	}
	for range 4 {
		round()
	}
	cards, err := board.AllCards(ctx, b.ID)
	if err != nil || len(cards) != 1 {
		t.Fatalf("%d cards after 4 rounds (%v), want 1", len(cards), err)
	}
	card := cards[0]
	texts, err := board.Blocks(ctx, b.ID, card.ID, "text")
	if err != nil || len(texts) != 1 || texts[0].Title != "Check all accounts" {
		t.Fatalf("card text %+v, %v", texts, err)
	}
	got, err := board.Board(ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	assignees := prop(got, "Assignees")
	if assignees == nil || !reflect.DeepEqual(card.Properties[assignees.ID], []any{me.ID}) {
		t.Fatalf("assignees of the card: %v (property %+v)", card.Properties, assignees)
	}
	l, err := db.ListSyncLinks(ctx, store.SyncLinkFilter{})
	if err != nil || len(l) != 1 || l[0].State != store.SyncSynced || l[0].LastError != "" {
		t.Fatalf("links: %+v, %v", l, err)
	}
	// A user's own property, then an Odoo edit: the property stays.
	if _, err := board.ChangeCard(ctx, card.ID, focalboard.CardChange{Set: map[string]any{"estimate-by-hand": "3"}}); err != nil {
		t.Fatal(err)
	}
	round()
	if err := ocl.Write(ctx, "project.task", []int{tk.task}, map[string]any{"name": "Reconcile bank (BPI)", "priority": "0"}); err != nil {
		t.Fatal(err)
	}
	if rep := round(); rep.CardsUpdated != 1 {
		t.Fatalf("round after the Odoo edit: %+v", rep)
	}
	after, err := board.Card(ctx, card.ID)
	if err != nil {
		t.Fatal(err)
	}
	if after.Title != "Reconcile bank (BPI)" || after.Properties["estimate-by-hand"] != "3" || !reflect.DeepEqual(after.Properties[assignees.ID], []any{me.ID}) {
		t.Fatalf("card after the Odoo edit: %+v", after)
	}
	if rep := round(); rep != (Report{}) {
		t.Fatalf("idle round: %+v", rep)
	}
	if cards, _ := board.AllCards(ctx, b.ID); len(cards) != 1 {
		t.Fatalf("%d cards at the end, want 1", len(cards))
	}
}

// taskSource is the Odoo side of the pair contract: a project with a stage
// and a task "Reconcile bank", and a user whose login is the Focalboard
// username.
type taskSource struct {
	client             *odoo.Client
	project, task, uid int
	now                func() time.Time
	advance            func()
}

// newTaskSource makes the Odoo side: in the real Odoo named by
// IPAI_TEST_ODOO_URL (a project of its own, deleted after the test; the
// user found or made), else in a fake whose clock a round advances by a
// second.
func newTaskSource(t *testing.T, login string) *taskSource {
	t.Helper()
	ctx := context.Background()
	if u := os.Getenv("IPAI_TEST_ODOO_URL"); u != "" {
		c := odoo.New(u, os.Getenv("IPAI_TEST_ODOO_DB"), os.Getenv("IPAI_TEST_ODOO_LOGIN"), os.Getenv("IPAI_TEST_ODOO_KEY"), nil)
		name := "ipai sync contract " + time.Now().UTC().Format(time.RFC3339Nano)
		project, err := c.Create(ctx, "project.project", map[string]any{"name": name})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			_ = c.ExecuteKW(context.Background(), "project.project", "unlink", []any{[]int{project}}, nil, nil)
		})
		if _, err := c.Create(ctx, "project.task.type", map[string]any{"name": "To do", "project_ids": []any{[]any{6, 0, []any{project}}}}); err != nil {
			t.Fatal(err)
		}
		task, err := c.Create(ctx, "project.task", map[string]any{"name": "Reconcile bank", "project_id": project})
		if err != nil {
			t.Fatal(err)
		}
		var users []int
		if err := c.ExecuteKW(ctx, "res.users", "search", []any{[]any{[]any{"login", "=", login}}}, nil, &users); err != nil {
			t.Fatal(err)
		}
		if len(users) == 0 {
			uid, err := c.Create(ctx, "res.users", map[string]any{"name": "Board user", "login": login})
			if err != nil {
				t.Fatal(err)
			}
			users = []int{uid}
		}
		return &taskSource{client: c, project: project, task: task, uid: users[0], now: time.Now, advance: func() {}}
	}
	clk := newClock()
	od, c := newOdoo(t, clk)
	od.Add("project.task.type", map[string]any{"name": "To do"})
	uid := od.Add("res.users", fakeodoo.Record{"name": "Board user", "login": login})
	return &taskSource{client: c, project: 1, task: 1, uid: uid, now: clk.Now, advance: func() { clk.Advance(time.Second) }}
}

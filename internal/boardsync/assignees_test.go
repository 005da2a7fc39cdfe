package boardsync

import (
	"context"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/insightpulseai/ipai/internal/connector/focalboard"
	fakeodoo "github.com/insightpulseai/ipai/internal/fake/odoo"
	"github.com/insightpulseai/ipai/internal/store"
)

// withUsers adds users on both sides: ana and ben on both (ana by the same
// name, in another case; ben's Odoo login ben@example.com mapped to the
// Focalboard username ben), carl only in Odoo, dora only on the board.
// Focalboard never tells emails, so equal emails do not match: carl's
// Focalboard namesake "carl.f" with the same email stays unmatched.
func withUsers(e *pairEnv) (ana, ben, carl int) {
	ana = e.odoo.Add("res.users", fakeodoo.Record{"name": "Ana", "login": "Ana", "email": "ana@example.com"})
	ben = e.odoo.Add("res.users", fakeodoo.Record{"name": "Ben", "login": "ben@example.com"})
	carl = e.odoo.Add("res.users", fakeodoo.Record{"name": "Carl", "login": "carl@example.com", "email": "carl@example.com"})
	e.fb.AddUser("ana", "ana@example.com")
	e.fb.AddUser("ben", "ben@example.com")
	e.fb.AddUser("dora", "dora@example.com")
	e.fb.AddUser("carl.f", "carl@example.com")
	e.pair.Users = map[string]string{"ben@example.com": "ben"}
	return
}

func (e *pairEnv) assigneeProp(t *testing.T) string {
	t.Helper()
	b, err := e.board.Board(context.Background(), e.fb.BoardID)
	if err != nil {
		t.Fatal(err)
	}
	p := prop(b, "Assignees")
	if p == nil || p.Type != "multiPerson" {
		t.Fatalf("assignees property: %+v", p)
	}
	return p.ID
}

func (e *pairEnv) onlyLink(t *testing.T) store.SyncLink {
	t.Helper()
	links, err := e.db.ListSyncLinks(context.Background(), store.SyncLinkFilter{})
	if err != nil || len(links) != 1 {
		t.Fatalf("links: %+v %v", links, err)
	}
	return links[0]
}

func TestPairAssigneesByName(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newPairEnv(t, db)
		ana, ben, carl := withUsers(e)
		if err := e.pair.Odoo.Write(ctx, "project.task", []int{1}, map[string]any{"user_ids": []any{[]any{6, 0, []any{ana, carl}}}}); err != nil {
			t.Fatal(err)
		}
		// Odoo → board: ana matches by name (case-insensitive); carl has no
		// Focalboard user of his name and is left out, named on the link.
		if rep := e.round(t); rep.CardsCreated != 1 {
			t.Fatalf("round 1: %+v", rep)
		}
		pid := e.assigneeProp(t)
		c := e.card(t, "Reconcile bank")
		if got := c["properties"].(map[string]any)[pid]; !reflect.DeepEqual(got, []any{"u-ana"}) {
			t.Fatalf("card assignees %v", got)
		}
		if l := e.onlyLink(t); l.State != store.SyncSynced || !strings.HasSuffix(l.LastError, "on the task carl@example.com; on the card none") {
			t.Fatalf("link after round 1: %+v", l)
		}
		if rep := e.round(t); rep != (Report{}) {
			t.Fatalf("idle round: %+v", rep)
		}
		// Board → Odoo: ben is added (by the mapping); dora has no Odoo user
		// and is left out; carl (unmatched on the task) is kept.
		if _, err := e.board.ChangeCard(ctx, c["id"].(string), focalboard.CardChange{Set: map[string]any{pid: []string{"u-ana", "u-ben", "u-dora"}}}); err != nil {
			t.Fatal(err)
		}
		if rep := e.round(t); rep.TasksUpdated != 1 || rep.CardsUpdated != 0 {
			t.Fatalf("round 3: %+v", rep)
		}
		if got := e.task(t, 1)["user_ids"]; !reflect.DeepEqual(got, []any{float64(ana), float64(ben), float64(carl)}) {
			t.Fatalf("task user_ids %v", got)
		}
		if l := e.onlyLink(t); !strings.HasSuffix(l.LastError, "on the task carl@example.com; on the card dora") {
			t.Fatalf("link after round 3: %+v", l)
		}
		// Odoo → board: ana removed in Odoo; dora (unmatched on the card) stays.
		if err := e.pair.Odoo.Write(ctx, "project.task", []int{1}, map[string]any{"user_ids": []any{[]any{3, ana}}}); err != nil {
			t.Fatal(err)
		}
		if rep := e.round(t); rep.CardsUpdated != 1 || rep.TasksUpdated != 0 {
			t.Fatalf("round 4: %+v", rep)
		}
		c = e.card(t, "Reconcile bank")
		if got := c["properties"].(map[string]any)[pid]; !reflect.DeepEqual(got, []any{"u-ben", "u-dora"}) {
			t.Fatalf("card assignees after Odoo edit %v", got)
		}
		if rep := e.round(t); rep != (Report{}) {
			t.Fatalf("idle round after edits: %+v", rep)
		}
		// A card with only unmatched assignees makes a task without users.
		nc, err := e.board.CreateCard(ctx, e.fb.BoardID, focalboard.Card{Title: "Dora's card", Properties: map[string]any{pid: []string{"u-dora"}}})
		if err != nil {
			t.Fatal(err)
		}
		if rep := e.round(t); rep.TasksCreated != 1 {
			t.Fatalf("round 6: %+v", rep)
		}
		for _, r := range e.odoo.Records("project.task") {
			if r["name"] == "Dora's card" && !reflect.DeepEqual(r["user_ids"], []any{}) {
				t.Fatalf("task from card: %v", r)
			}
		}
		l, err := db.ListSyncLinks(ctx, store.SyncLinkFilter{})
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range l {
			if x.RemoteID == nc.ID && !strings.HasSuffix(x.LastError, "on the task none; on the card dora") {
				t.Fatalf("link of the new card: %+v", x)
			}
		}
	})
}

func TestPairAssigneesConflict(t *testing.T) {
	db := openDB(t, store.SQLite)
	ctx := context.Background()
	e := newPairEnv(t, db)
	ana, ben, _ := withUsers(e)
	e.round(t)
	pid := e.assigneeProp(t)
	c := e.card(t, "Reconcile bank")
	// Both sides assign someone different between two polls.
	if err := e.pair.Odoo.Write(ctx, "project.task", []int{1}, map[string]any{"user_ids": []any{[]any{6, 0, []any{ana}}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.board.ChangeCard(ctx, c["id"].(string), focalboard.CardChange{Set: map[string]any{pid: []string{"u-ben"}}}); err != nil {
		t.Fatal(err)
	}
	if rep := e.round(t); rep.Conflicts != 1 || rep.CardsUpdated+rep.TasksUpdated != 0 {
		t.Fatalf("round: %+v", rep)
	}
	l := e.onlyLink(t)
	if l.State != store.SyncConflict || !strings.Contains(l.LastError, "assignees") || !strings.Contains(l.LastError, `Odoo "ana"`) {
		t.Fatalf("link: %+v", l)
	}
	if got := e.task(t, 1)["user_ids"]; !reflect.DeepEqual(got, []any{float64(ana)}) {
		t.Fatalf("task overwritten: %v", got)
	}
	if got := e.card(t, "Reconcile bank")["properties"].(map[string]any)[pid]; !reflect.DeepEqual(got, []any{"u-ben"}) {
		t.Fatalf("card overwritten: %v", got)
	}
	// Keeping the board's side gives the task ben.
	if _, err := e.pair.Resolve(ctx, l, KeepBoard); err != nil {
		t.Fatal(err)
	}
	if got := e.task(t, 1)["user_ids"]; !reflect.DeepEqual(got, []any{float64(ben)}) {
		t.Fatalf("task after resolve: %v", got)
	}
	if rep := e.round(t); rep != (Report{}) {
		t.Fatalf("round after resolve: %+v", rep)
	}
}

// countingBoard and countingOdoo count the writes a pair makes.
type countingBoard struct {
	*focalboard.Client
	writes atomic.Int64
}

func (b *countingBoard) PatchBoard(ctx context.Context, id string, p focalboard.BoardPatch) (focalboard.Board, error) {
	b.writes.Add(1)
	return b.Client.PatchBoard(ctx, id, p)
}
func (b *countingBoard) CreateCard(ctx context.Context, id string, c focalboard.Card) (focalboard.Card, error) {
	b.writes.Add(1)
	return b.Client.CreateCard(ctx, id, c)
}
func (b *countingBoard) PatchCard(ctx context.Context, id string, p focalboard.CardPatch) (focalboard.Card, error) {
	b.writes.Add(1)
	return b.Client.PatchCard(ctx, id, p)
}
func (b *countingBoard) ChangeCard(ctx context.Context, id string, ch focalboard.CardChange) (focalboard.Card, error) {
	b.writes.Add(1)
	return b.Client.ChangeCard(ctx, id, ch)
}
func (b *countingBoard) DeleteCard(ctx context.Context, board, id string) error {
	b.writes.Add(1)
	return b.Client.DeleteCard(ctx, board, id)
}
func (b *countingBoard) InsertBlocks(ctx context.Context, id string, bs []focalboard.Block) ([]focalboard.Block, error) {
	b.writes.Add(1)
	return b.Client.InsertBlocks(ctx, id, bs)
}
func (b *countingBoard) PatchBlock(ctx context.Context, board, id string, p focalboard.BlockPatch) error {
	b.writes.Add(1)
	return b.Client.PatchBlock(ctx, board, id, p)
}
func (b *countingBoard) DeleteBlock(ctx context.Context, board, id string) error {
	b.writes.Add(1)
	return b.Client.DeleteBlock(ctx, board, id)
}

type countingOdoo struct {
	Odoo
	writes atomic.Int64
}

func (o *countingOdoo) Create(ctx context.Context, model string, vals map[string]any) (int, error) {
	o.writes.Add(1)
	return o.Odoo.Create(ctx, model, vals)
}
func (o *countingOdoo) Write(ctx context.Context, model string, ids []int, vals map[string]any) error {
	o.writes.Add(1)
	return o.Odoo.Write(ctx, model, ids, vals)
}

func TestPairPollsBoardByUpdateAt(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newPairEnv(t, db)
		withUsers(e)
		cb := &countingBoard{Client: e.board}
		co := &countingOdoo{Odoo: e.pair.Odoo}
		e.pair.Board, e.pair.Odoo, e.pair.FullSweepEvery = cb, co, 1000
		for range 3 { // settle: card created, then our own writes seen once
			e.round(t)
		}
		links, _ := db.ListSyncLinks(ctx, store.SyncLinkFilter{})
		cb.writes.Store(0)
		co.writes.Store(0)
		// An unchanged board and project: no link compared, nothing written.
		if rep := e.round(t); rep != (Report{}) || e.pair.examined.Load() != 0 || cb.writes.Load()+co.writes.Load() != 0 {
			t.Fatalf("idle round: %+v examined %d writes %d/%d", rep, e.pair.examined.Load(), cb.writes.Load(), co.writes.Load())
		}
		if again, _ := db.ListSyncLinks(ctx, store.SyncLinkFilter{}); !reflect.DeepEqual(again, links) {
			t.Fatalf("links changed in an idle round:\n%+v\n%+v", links, again)
		}
		cur, err := db.SyncCursor(ctx, boardCursorName(e.pair.Name))
		if err != nil || cur == "" {
			t.Fatalf("cursor %q %v", cur, err)
		}
		// A card edit after the cursor is picked up.
		c := e.card(t, "Reconcile bank")
		title := "Reconcile bank (edited)"
		if _, err := e.board.PatchCard(ctx, c["id"].(string), focalboard.CardPatch{Title: &title}); err != nil {
			t.Fatal(err)
		}
		if rep := e.round(t); rep.TasksUpdated != 1 || e.pair.examined.Load() != 1 {
			t.Fatalf("round after card edit: %+v examined %d", rep, e.pair.examined.Load())
		}
		e.round(t) // sees its own task write once
		// An edit the cursor cannot see (same millisecond as the cursor,
		// simulated by moving the cursor ahead) waits for the full sweep.
		if err := db.InTx(ctx, func(tx *store.Tx) error {
			return tx.SetSyncCursor(ctx, boardCursorName(e.pair.Name), "99999999999999", e.clk.Now())
		}); err != nil {
			t.Fatal(err)
		}
		title = "Reconcile bank (hidden edit)"
		if _, err := e.board.PatchCard(ctx, c["id"].(string), focalboard.CardPatch{Title: &title}); err != nil {
			t.Fatal(err)
		}
		if rep := e.round(t); rep != (Report{}) {
			t.Fatalf("non-sweep round saw a card older than the cursor: %+v", rep)
		}
		e.pair.FullSweepEvery = 1
		if rep := e.round(t); rep.TasksUpdated != 1 || e.task(t, 1)["name"] != title {
			t.Fatalf("full sweep: %+v %v", rep, e.task(t, 1))
		}
		// Deletions are seen in rounds between sweeps too.
		e.pair.FullSweepEvery = 1000
		e.round(t)
		if err := e.board.DeleteCard(ctx, e.fb.BoardID, c["id"].(string)); err != nil {
			t.Fatal(err)
		}
		if rep := e.round(t); rep.TasksArchived != 1 {
			t.Fatalf("deletion between sweeps: %+v", rep)
		}
	})
}

// An explicit mapping wins over equal names: with ana@example.com mapped
// to the Focalboard user ana, the Odoo user whose login is "ana" is not
// ana on the board.
func TestUsersMappingWinsOverEqualNames(t *testing.T) {
	u := &users{odooLogin: map[int]string{1: "ana", 2: "ana@example.com", 3: "ben"}, odooID: map[string]int{"ana": 1, "ana@example.com": 2, "ben": 3},
		fbName: map[string]string{"u-ana": "ana", "u-ben": "ben"}, fbID: map[string]string{"ana": "u-ana", "ben": "u-ben"},
		toFB: map[string]string{"ana@example.com": "ana"}, toOdoo: map[string]string{"ana": "ana@example.com"}}
	logins, unmatched, names := u.taskAssignees([]int{1, 2, 3})
	if !reflect.DeepEqual(logins, []string{"ana@example.com", "ben"}) || !reflect.DeepEqual(unmatched, []int{1}) || !reflect.DeepEqual(names, []string{"ana"}) {
		t.Fatalf("task side: %v %v %v", logins, unmatched, names)
	}
	if got, un := u.cardAssignees([]string{"u-ana", "u-ben", "u-gone"}); !reflect.DeepEqual(got, []string{"ana@example.com", "ben"}) || !reflect.DeepEqual(un, []string{"u-gone"}) {
		t.Fatalf("card side: %v %v", got, un)
	}
}

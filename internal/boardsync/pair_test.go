package boardsync

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/connector/focalboard"
	fakefb "github.com/insightpulseai/ipai/internal/fake/focalboard"
	fakeodoo "github.com/insightpulseai/ipai/internal/fake/odoo"
	"github.com/insightpulseai/ipai/internal/store"
)

type pairEnv struct {
	db     *store.DB
	clk    *clock
	odoo   *fakeodoo.Server
	fb     *fakefb.Server
	board  *focalboard.Client
	pair   *Pair
	notes  []string
	noteMu sync.Mutex
}

func newPairEnv(t *testing.T, db *store.DB) *pairEnv {
	t.Helper()
	e := &pairEnv{db: db, clk: newClock()}
	var ocl Odoo
	e.odoo, ocl = func() (*fakeodoo.Server, Odoo) { f, c := newOdoo(t, e.clk); return f, c }()
	e.odoo.Add("project.task.type", map[string]any{"name": "To do"})
	e.odoo.Add("project.task.type", map[string]any{"name": "Done"})
	e.fb = fakefb.New()
	front := e.fb.WithBoardEdits()
	t.Cleanup(func() { front.Close(); e.fb.Close() })
	e.board = focalboard.New(front.URL, fakefb.Token, front.Client())
	al := audit.New(db)
	t.Cleanup(al.Close)
	e.pair = &Pair{Name: "close", DB: db, Odoo: ocl, Board: e.board, ProjectID: 1, BoardID: e.fb.BoardID, Audit: al, Now: e.clk.Now,
		Notify: func(_ context.Context, text string) error {
			e.noteMu.Lock()
			e.notes = append(e.notes, text)
			e.noteMu.Unlock()
			return nil
		}}
	return e
}

func (e *pairEnv) round(t *testing.T) Report {
	t.Helper()
	e.clk.Advance(time.Second)
	rep, err := e.pair.SyncOnce(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

func (e *pairEnv) task(t *testing.T, id int) map[string]any {
	t.Helper()
	for _, r := range e.odoo.Records("project.task") {
		if r["id"] == id {
			return r
		}
	}
	return nil
}

func (e *pairEnv) card(t *testing.T, title string) map[string]any {
	t.Helper()
	for _, c := range e.fb.Cards(e.fb.BoardID) {
		if c["title"] == title {
			return c
		}
	}
	return nil
}

// Odoo's write_date has whole seconds: a task edited again within the
// second a round read it keeps its write_date, and the next round still
// carries the edit to the card (not only the next full sweep).
func TestPairSeesAnEditInTheSecondItLastRead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newPairEnv(t, db)
		e.pair.FullSweepEvery = 1000
		if rep := e.round(t); rep.CardsCreated != 1 {
			t.Fatalf("round 1: %+v", rep)
		}
		sameSecond := func() Report { // a round without moving the clock
			t.Helper()
			rep, err := e.pair.SyncOnce(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return rep
		}
		sameSecond() // the link's versions catch up with the new card
		if rep := sameSecond(); rep != (Report{}) || e.pair.examined.Load() != 0 {
			t.Fatalf("idle round: %+v, %d links compared (an unchanged link is skipped)", rep, e.pair.examined.Load())
		}
		edit := func(name string) Report { // an Odoo edit, then a round, in the same second
			t.Helper()
			if err := e.pair.Odoo.Write(ctx, "project.task", []int{1}, map[string]any{"name": name}); err != nil {
				t.Fatal(err)
			}
			return sameSecond()
		}
		if rep := edit("Reconcile bank (BPI)"); rep.CardsUpdated != 1 {
			t.Fatalf("round after the first edit: %+v", rep)
		}
		sameSecond() // the card ipai wrote is seen; the link's versions catch up
		if rep := sameSecond(); rep != (Report{}) || e.pair.examined.Load() != 0 {
			t.Fatalf("idle round after the first edit: %+v, %d links compared", rep, e.pair.examined.Load())
		}
		read := e.task(t, 1)["write_date"]
		if rep := edit("Reconcile bank (BDO)"); rep.CardsUpdated != 1 || e.card(t, "Reconcile bank (BDO)") == nil {
			t.Fatalf("round after a second edit in the same second: %+v, cards %v", rep, e.fb.Cards(e.fb.BoardID))
		}
		if w := e.task(t, 1)["write_date"]; w != read {
			t.Fatalf("write_date moved (%v → %v): the case needs an edit within the second", read, w)
		}
	})
}

func TestPairPropagatesBothWays(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newPairEnv(t, db)
		// The seeded task becomes a card.
		if rep := e.round(t); rep.CardsCreated != 1 {
			t.Fatalf("round 1: %+v", rep)
		}
		if e.card(t, "Reconcile bank") == nil {
			t.Fatalf("no card for the task: %v", e.fb.Cards(e.fb.BoardID))
		}
		if rep := e.round(t); rep != (Report{}) {
			t.Fatalf("idle round did something: %+v", rep)
		}
		// A card made on the board becomes a task in the project, with its stage.
		nc, err := e.board.CreateCard(ctx, e.fb.BoardID, focalboard.Card{Title: "Accrue payroll", Properties: map[string]any{"status": "done"}})
		if err != nil {
			t.Fatal(err)
		}
		if rep := e.round(t); rep.TasksCreated != 1 {
			t.Fatalf("round 3: %+v", rep)
		}
		var newTask map[string]any
		for _, r := range e.odoo.Records("project.task") {
			if r["name"] == "Accrue payroll" {
				newTask = r
			}
		}
		if newTask == nil || newTask["project_id"] != float64(1) || newTask["stage_id"] != float64(2) {
			t.Fatalf("task from card: %v", newTask)
		}
		// Odoo edits reach the card: title, stage (option created), priority, deadline.
		e.odoo.Add("project.task.type", map[string]any{"name": "Review"})
		ocl := e.pair.Odoo
		if err := ocl.Write(ctx, "project.task", []int{1}, map[string]any{"name": "Reconcile bank (BPI)", "stage_id": 3,
			"priority": "1", "date_deadline": "2026-04-30 00:00:00"}); err != nil {
			t.Fatal(err)
		}
		if rep := e.round(t); rep.CardsUpdated != 1 {
			t.Fatalf("round 4: %+v", rep)
		}
		c := e.card(t, "Reconcile bank (BPI)")
		if c == nil {
			t.Fatalf("card not renamed: %v", e.fb.Cards(e.fb.BoardID))
		}
		b, _ := e.board.Board(ctx, e.fb.BoardID)
		f := cardFields(&props{board: b, stage: prop(b, "Status"), priority: prop(b, "Priority"), deadline: prop(b, "Deadline")},
			toCard(c))
		if f != (Fields{Title: "Reconcile bank (BPI)", Stage: "Review", Priority: "1", Deadline: "2026-04-30"}) {
			t.Fatalf("card fields %+v", f)
		}
		// Board edits reach the task.
		title := "Accrue payroll (Mar)"
		if _, err := e.board.PatchCard(ctx, nc.ID, focalboard.CardPatch{Title: &title, UpdatedProperties: map[string]any{"status": "todo"}}); err != nil {
			t.Fatal(err)
		}
		if rep := e.round(t); rep.TasksUpdated != 1 {
			t.Fatalf("round 5: %+v", rep)
		}
		nt := e.task(t, newTask["id"].(int))
		if nt["name"] != title || nt["stage_id"] != float64(1) {
			t.Fatalf("task after card edit: %v", nt)
		}
		// A deleted card archives its task; an archived task deletes its card.
		if err := e.board.DeleteCard(ctx, e.fb.BoardID, nc.ID); err != nil {
			t.Fatal(err)
		}
		if err := ocl.Write(ctx, "project.task", []int{1}, map[string]any{"active": false}); err != nil {
			t.Fatal(err)
		}
		if rep := e.round(t); rep.TasksArchived != 1 || rep.CardsDeleted != 1 {
			t.Fatalf("round 6: %+v", rep)
		}
		if nt := e.task(t, newTask["id"].(int)); nt["active"] != false {
			t.Fatalf("task not archived: %v", nt)
		}
		if n := len(e.fb.Cards(e.fb.BoardID)); n != 0 {
			t.Fatalf("%d cards left", n)
		}
		if links, _ := db.ListSyncLinks(ctx, store.SyncLinkFilter{}); len(links) != 0 {
			t.Fatalf("links left: %+v", links)
		}
	})
}

func TestPairConflictOverwritesNothing(t *testing.T) {
	db := openDB(t, store.SQLite)
	ctx := context.Background()
	e := newPairEnv(t, db)
	e.round(t)
	c := e.card(t, "Reconcile bank")
	// Both sides change between two polls.
	if err := e.pair.Odoo.Write(ctx, "project.task", []int{1}, map[string]any{"name": "Odoo title"}); err != nil {
		t.Fatal(err)
	}
	title := "Board title"
	if _, err := e.board.PatchCard(ctx, c["id"].(string), focalboard.CardPatch{Title: &title}); err != nil {
		t.Fatal(err)
	}
	if rep := e.round(t); rep.Conflicts != 1 || rep.CardsUpdated+rep.TasksUpdated != 0 {
		t.Fatalf("round: %+v", rep)
	}
	if e.task(t, 1)["name"] != "Odoo title" || e.card(t, "Board title") == nil {
		t.Fatal("a side was overwritten")
	}
	links, _ := db.ListSyncLinks(ctx, store.SyncLinkFilter{State: store.SyncConflict})
	if len(links) != 1 || !strings.Contains(links[0].LastError, "title") {
		t.Fatalf("conflict links: %+v", links)
	}
	if len(e.notes) != 1 || !strings.Contains(e.notes[0], links[0].ID) {
		t.Fatalf("notices: %v", e.notes)
	}
	e.pair.Audit.Close()
	rows, err := db.ListAudit(ctx, store.AuditFilter{Action: "sync.conflict"})
	if err != nil || len(rows) != 1 || rows[0].Level != audit.Warning {
		t.Fatalf("audit: %+v %v", rows, err)
	}
	// Still in conflict on the next round, still nothing written.
	if rep := e.round(t); rep != (Report{}) {
		t.Fatalf("round while in conflict: %+v", rep)
	}
	// Resolution keeps the board's side.
	al := audit.New(db)
	defer al.Close()
	e.pair.Audit = al
	l, err := e.pair.Resolve(ctx, links[0], KeepBoard)
	if err != nil || l.State != store.SyncSynced {
		t.Fatalf("resolve: %+v %v", l, err)
	}
	if e.task(t, 1)["name"] != "Board title" {
		t.Fatalf("task after resolve: %v", e.task(t, 1))
	}
	if rep := e.round(t); rep != (Report{}) {
		t.Fatalf("round after resolve: %+v", rep)
	}
	if _, err := e.pair.Resolve(ctx, l, KeepOdoo); err != ErrNotConflict {
		t.Fatalf("resolving a synced link: %v", err)
	}
}

func prop(b focalboard.Board, name string) *focalboard.CardProperty {
	for i := range b.CardProperties {
		if b.CardProperties[i].Name == name {
			return &b.CardProperties[i]
		}
	}
	return nil
}

func toCard(m map[string]any) focalboard.Card {
	c := focalboard.Card{Title: m["title"].(string), Properties: map[string]any{}}
	if p, ok := m["properties"].(map[string]any); ok {
		c.Properties = p
	}
	return c
}

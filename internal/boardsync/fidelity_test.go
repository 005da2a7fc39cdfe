package boardsync

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/connector/focalboard"
	fakefb "github.com/insightpulseai/ipai/internal/fake/focalboard"
	"github.com/insightpulseai/ipai/internal/store"
)

// failingText refuses text blocks while fail is set, as Focalboard refused
// ipai's blocks without createAt (400 "invalid createAt for block id …").
type failingText struct {
	*focalboard.Client
	fail atomic.Bool
}

func (b *failingText) InsertBlocks(ctx context.Context, id string, bs []focalboard.Block) ([]focalboard.Block, error) {
	if b.fail.Load() {
		return nil, errors.New("service answered 400: invalid createAt for block id ipai-text")
	}
	return b.Client.InsertBlocks(ctx, id, bs)
}

// Issue 19 item 7: a task with a description makes exactly one card even
// when its text block fails; the description is retried on the link.
func TestPairTextFailureMakesNoDuplicateCard(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newPairEnv(t, db)
		fb := &failingText{Client: e.board}
		fb.fail.Store(true)
		e.pair.Board = fb
		if err := e.pair.Odoo.Write(ctx, "project.task", []int{1}, map[string]any{"description": "<p>Check all accounts</p>"}); err != nil {
			t.Fatal(err)
		}
		for i := range 4 {
			rep := e.round(t)
			if (i == 0) != (rep.CardsCreated == 1) || rep.CardsCreated > 1 {
				t.Fatalf("round %d: %+v", i+1, rep)
			}
		}
		if n := len(e.fb.Cards(e.fb.BoardID)); n != 1 {
			t.Fatalf("%d cards after 4 rounds, want 1", n)
		}
		l := e.onlyLink(t)
		if l.State != store.SyncError || !strings.Contains(l.LastError, "invalid createAt") {
			t.Fatalf("link while the text fails: %+v", l)
		}
		fb.fail.Store(false)
		e.round(t)
		cardID := e.card(t, "Reconcile bank")["id"].(string)
		if text, n := e.content(t, cardID); text != "Check all accounts" || n != 1 {
			t.Fatalf("card content after retry %q in %d blocks", text, n)
		}
		if l := e.onlyLink(t); l.State != store.SyncSynced || l.LastError != "" {
			t.Fatalf("link after retry: %+v", l)
		}
		if rep := e.round(t); rep != (Report{}) || len(e.fb.Cards(e.fb.BoardID)) != 1 {
			t.Fatalf("idle round: %+v, %d cards", rep, len(e.fb.Cards(e.fb.BoardID)))
		}
	})
}

// Issue 19 item 8: an Odoo → card update keeps the card properties ipai
// does not map (Focalboard's card patch replaces the whole map).
func TestPairKeepsUnmappedCardProperties(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newPairEnv(t, db)
		if err := e.pair.Odoo.Write(ctx, "project.task", []int{1}, map[string]any{"priority": "1", "date_deadline": "2026-01-31"}); err != nil {
			t.Fatal(err)
		}
		if rep := e.round(t); rep.CardsCreated != 1 {
			t.Fatalf("round 1: %+v", rep)
		}
		// A user sets a property ipai does not map ("Estimate"), as the web
		// app does: the whole map with the new key.
		c := e.card(t, "Reconcile bank")
		id := c["id"].(string)
		if _, err := e.board.ChangeCard(ctx, id, focalboard.CardChange{Set: map[string]any{"estimate": "3"}}); err != nil {
			t.Fatal(err)
		}
		e.round(t)
		// Odoo renames the task and clears its deadline.
		if err := e.pair.Odoo.Write(ctx, "project.task", []int{1}, map[string]any{"name": "Reconcile bank (BPI)", "date_deadline": false}); err != nil {
			t.Fatal(err)
		}
		if rep := e.round(t); rep.CardsUpdated != 1 {
			t.Fatalf("round after Odoo edit: %+v", rep)
		}
		got := e.card(t, "Reconcile bank (BPI)")
		props := got["properties"].(map[string]any)
		b, _ := e.board.Board(ctx, e.fb.BoardID)
		if props["estimate"] != "3" {
			t.Fatalf("unmapped property lost: %v", props)
		}
		if _, ok := props[prop(b, "Deadline").ID]; ok {
			t.Fatalf("cleared deadline still on the card: %v", props)
		}
		if props[prop(b, "Priority").ID] == nil || props[prop(b, "Status").ID] != c["properties"].(map[string]any)[prop(b, "Status").ID] {
			t.Fatalf("mapped properties lost: %v (before %v)", props, c["properties"])
		}
	})
}

// Issue 19 item 11: the card properties ipai adds to a board have an
// "options" list, as the Focalboard web app makes them.
func TestPairAddsPropertiesWithOptions(t *testing.T) {
	e := newPairEnv(t, openDB(t, store.SQLite))
	e.round(t)
	req, _ := http.NewRequest("GET", e.fb.URL+"/api/v2/boards/"+e.fb.BoardID, nil)
	req.Header.Set("X-Requested-With", "XMLHttpRequest")
	req.Header.Set("Authorization", "Bearer "+fakefb.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var board struct {
		CardProperties []map[string]any `json:"cardProperties"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&board); err != nil {
		t.Fatal(err)
	}
	names := []string{}
	for _, p := range board.CardProperties {
		names = append(names, p["name"].(string))
		if _, ok := p["options"].([]any); !ok {
			t.Fatalf("property without an options list: %v", p)
		}
	}
	if !reflect.DeepEqual(names, []string{"Status", "Priority", "Deadline", "Assignees"}) {
		t.Fatalf("properties %v", names)
	}
}

// editingBoard makes a user's edit to a card just before ipai writes it
// (after the round listed the cards).
type editingBoard struct {
	*focalboard.Client
	edit func(cardID string)
}

func (b *editingBoard) ChangeCard(ctx context.Context, id string, ch focalboard.CardChange) (focalboard.Card, error) {
	if b.edit != nil {
		b.edit(id)
		b.edit = nil
	}
	return b.Client.ChangeCard(ctx, id, ch)
}

// A user's edit made after the round read the card is not overwritten:
// the push stops, and the next round sees both changes (a conflict).
func TestPairDoesNotOverwriteAConcurrentEdit(t *testing.T) {
	ctx := context.Background()
	e := newPairEnv(t, openDB(t, store.SQLite))
	if rep := e.round(t); rep.CardsCreated != 1 {
		t.Fatalf("round 1: %+v", rep)
	}
	eb := &editingBoard{Client: e.board}
	e.pair.Board = eb
	if err := e.pair.Odoo.Write(ctx, "project.task", []int{1}, map[string]any{"name": "Odoo title"}); err != nil {
		t.Fatal(err)
	}
	eb.edit = func(id string) {
		c, err := e.board.Card(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		for deadline := time.Now().Add(time.Second); time.Now().UnixMilli() <= c.UpdateAt; { // a later millisecond
			if time.Now().After(deadline) {
				t.Fatal("clock did not advance")
			}
		}
		title := "User title"
		if _, err := e.board.PatchCard(ctx, id, focalboard.CardPatch{Title: &title}); err != nil {
			t.Fatal(err)
		}
	}
	if rep := e.round(t); rep.CardsUpdated != 0 || rep.Errors != 1 {
		t.Fatalf("round with the concurrent edit: %+v", rep)
	}
	if c := e.card(t, "User title"); c == nil {
		t.Fatalf("the user's edit was overwritten: %v", e.fb.Cards(e.fb.BoardID))
	}
	if l := e.onlyLink(t); l.State != store.SyncError || !strings.Contains(l.LastError, "changed since it was read") {
		t.Fatalf("link: %+v", l)
	}
	if rep := e.round(t); rep.Conflicts != 1 {
		t.Fatalf("next round: %+v", rep)
	}
}

package boardsync

import (
	"context"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/connector/focalboard"
	"github.com/insightpulseai/ipai/internal/store"
)

func (e *pairEnv) content(t *testing.T, cardID string) (string, int) {
	t.Helper()
	bs, err := e.board.Blocks(context.Background(), e.fb.BoardID, cardID, "text")
	if err != nil {
		t.Fatal(err)
	}
	c, err := e.board.Card(context.Background(), cardID)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range bs {
		found := false
		for _, id := range c.ContentOrder {
			found = found || id == b.ID
		}
		if !found {
			t.Fatalf("text block %s is not in the card's contentOrder %v", b.ID, c.ContentOrder)
		}
	}
	return cardText(c, bs), len(bs)
}

func TestPairSyncsDescriptionAndCardContent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		e := newPairEnv(t, db)
		ocl := e.pair.Odoo
		if err := ocl.Write(ctx, "project.task", []int{1}, map[string]any{
			"description": `<p data-oe-version="1.0">Check <b>all</b> BPI &amp; BDO accounts</p><p><br></p><p>Then file</p>`}); err != nil {
			t.Fatal(err)
		}
		// A new task's description becomes the card's content.
		if rep := e.round(t); rep.CardsCreated != 1 {
			t.Fatalf("round 1: %+v", rep)
		}
		cardID := e.card(t, "Reconcile bank")["id"].(string)
		if text, n := e.content(t, cardID); text != "Check all BPI & BDO accounts\n\nThen file" || n != 1 {
			t.Fatalf("card content %q in %d blocks", text, n)
		}
		if rep := e.round(t); rep != (Report{}) {
			t.Fatalf("idle round did something: %+v", rep)
		}
		// Editing the card's content (a second text block too) updates the description.
		bs, _ := e.board.Blocks(ctx, e.fb.BoardID, cardID, "text")
		edited := "Check all accounts <today>"
		if err := e.board.PatchBlock(ctx, e.fb.BoardID, bs[0].ID, focalboard.BlockPatch{Title: &edited}); err != nil {
			t.Fatal(err)
		}
		more, err := e.board.InsertBlocks(ctx, e.fb.BoardID, []focalboard.Block{{ParentID: cardID, Type: "text", Title: "Ask Ana"}})
		if err != nil {
			t.Fatal(err)
		}
		order := []string{bs[0].ID, more[0].ID}
		if _, err := e.board.PatchCard(ctx, cardID, focalboard.CardPatch{ContentOrder: &order}); err != nil {
			t.Fatal(err)
		}
		if rep := e.round(t); rep.TasksUpdated != 1 {
			t.Fatalf("round 3: %+v", rep)
		}
		if d := e.task(t, 1)["description"]; d != "<p>Check all accounts &lt;today&gt;</p><p><br></p><p>Ask Ana</p>" {
			t.Fatalf("description %q", d)
		}
		if rep := e.round(t); rep != (Report{}) {
			t.Fatalf("idle round after a board edit: %+v", rep)
		}
		// An Odoo edit replaces the content, merged into one block.
		if err := ocl.Write(ctx, "project.task", []int{1}, map[string]any{"description": "<p>Done by Ana</p>"}); err != nil {
			t.Fatal(err)
		}
		if rep := e.round(t); rep.CardsUpdated != 1 {
			t.Fatalf("round 5: %+v", rep)
		}
		if text, n := e.content(t, cardID); text != "Done by Ana" || n != 1 {
			t.Fatalf("card content %q in %d blocks", text, n)
		}
		// A card made with content on the board gives a task with a description.
		nc, err := e.board.CreateCard(ctx, e.fb.BoardID, focalboard.Card{Title: "Accrue payroll"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.board.InsertBlocks(ctx, e.fb.BoardID, []focalboard.Block{{ParentID: nc.ID, Type: "text", Title: "March run"}}); err != nil {
			t.Fatal(err)
		}
		if rep := e.round(t); rep.TasksCreated != 1 {
			t.Fatalf("round 6: %+v", rep)
		}
		found := false
		for _, r := range e.odoo.Records("project.task") {
			found = found || (r["name"] == "Accrue payroll" && r["description"] == "<p>March run</p>")
		}
		if !found {
			t.Fatalf("no task with the card's content: %v", e.odoo.Records("project.task"))
		}
		// Both sides change the description: a conflict, nothing overwritten.
		if err := ocl.Write(ctx, "project.task", []int{1}, map[string]any{"description": "<p>Odoo note</p>"}); err != nil {
			t.Fatal(err)
		}
		bs, _ = e.board.Blocks(ctx, e.fb.BoardID, cardID, "text")
		boardNote := "Board note"
		if err := e.board.PatchBlock(ctx, e.fb.BoardID, bs[0].ID, focalboard.BlockPatch{Title: &boardNote}); err != nil {
			t.Fatal(err)
		}
		if rep := e.round(t); rep.Conflicts != 1 || rep.CardsUpdated+rep.TasksUpdated != 0 {
			t.Fatalf("round 7: %+v", rep)
		}
		if text, _ := e.content(t, cardID); text != boardNote || e.task(t, 1)["description"] != "<p>Odoo note</p>" {
			t.Fatal("a side was overwritten")
		}
		links, _ := db.ListSyncLinks(ctx, store.SyncLinkFilter{State: store.SyncConflict})
		if len(links) != 1 || !strings.Contains(links[0].LastError, `description (Odoo "Odoo note", board "Board note")`) {
			t.Fatalf("conflict links: %+v", links)
		}
		// Keeping Odoo's side writes it onto the card.
		if _, err := e.pair.Resolve(ctx, links[0], KeepOdoo); err != nil {
			t.Fatal(err)
		}
		if text, _ := e.content(t, cardID); text != "Odoo note" {
			t.Fatalf("card content after resolve: %q", text)
		}
		if rep := e.round(t); rep != (Report{}) {
			t.Fatalf("round after resolve: %+v", rep)
		}
	})
}

func TestHTMLTextRoundTrip(t *testing.T) {
	for in, want := range map[string]string{
		"":                                  "",
		"<p>a</p>":                          "a",
		"<p>a<br>b</p><p><br/></p><p>c</p>": "a\nb\n\nc",
		"<ul><li>x</li><li>y &lt;z&gt;</li></ul>": "x\ny <z>",
	} {
		if got := htmlText(in); got != want {
			t.Errorf("htmlText(%q) = %q; want %q", in, got, want)
		}
		if got := htmlText(textHTML(want)); got != want {
			t.Errorf("round trip of %q gave %q", want, got)
		}
	}
	if textHTML(" \n") != false || htmlText(false) != "" {
		t.Error("empty is not Odoo's false")
	}
}

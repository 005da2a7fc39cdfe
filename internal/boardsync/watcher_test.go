package boardsync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/connector/odoo"
	"github.com/insightpulseai/ipai/internal/event"
	"github.com/insightpulseai/ipai/internal/store"
)

func events(t *testing.T, db *store.DB) map[string]int {
	t.Helper()
	evs, err := db.ListEvents(context.Background(), store.EventFilter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, e := range evs {
		out[e.Type]++
	}
	return out
}

func TestWatcherCapturesCreateWriteDelete(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := newClock()
		f, cl := newOdoo(t, clk)
		w := &Watcher{DB: db, Odoo: cl, Source: "odoo", Model: "res.partner", Batch: 2, Now: clk.Now}
		// First poll (start "now"): the two seeded partners are remembered, no events.
		res, err := w.Poll(ctx)
		if err != nil || res.Events != 0 {
			t.Fatalf("first poll: %+v %v", res, err)
		}
		clk.Advance(time.Second)
		id3 := f.Add("res.partner", map[string]any{"name": "New Co"})
		if err := cl.Write(ctx, "res.partner", []int{1}, map[string]any{"phone": "123"}); err != nil {
			t.Fatal(err)
		}
		f.Add("res.partner", map[string]any{"name": "Third"})
		res, err = w.Poll(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if res.Events != 3 || res.Pages != 2 {
			t.Fatalf("poll: %+v", res)
		}
		got := events(t, db)
		if got["odoo.res.partner.create"] != 2 || got["odoo.res.partner.write"] != 1 {
			t.Fatalf("events %v", got)
		}
		// Nothing new: nothing emitted (the cursor's second is read again).
		if res, err := w.Poll(ctx); err != nil || res.Events != 0 {
			t.Fatalf("idle poll: %+v %v", res, err)
		}
		// Deletion by sweep.
		var ok bool
		if err := cl.ExecuteKW(ctx, "res.partner", "unlink", []any{[]int{id3}}, nil, &ok); err != nil {
			t.Fatal(err)
		}
		n, err := w.Sweep(ctx)
		if err != nil || n != 1 {
			t.Fatalf("sweep: %d %v", n, err)
		}
		if n, _ := w.Sweep(ctx); n != 0 {
			t.Fatalf("second sweep found %d", n)
		}
		if got := events(t, db); got["odoo.res.partner.unlink"] != 1 {
			t.Fatalf("events %v", got)
		}
	})
}

func TestWatcherCrashBeforeCommitLosesAndDuplicatesNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := newClock()
		f, cl := newOdoo(t, clk)
		w := &Watcher{DB: db, Odoo: cl, Source: "odoo", Model: "res.partner", Batch: 3, Start: StartAll, Now: clk.Now}
		for i := 0; i < 5; i++ {
			f.Add("res.partner", map[string]any{"name": "P"})
		}
		// 7 partners; crash on the second page's commit.
		pages := 0
		w.beforeCommit = func() error {
			pages++
			if pages == 2 {
				return errStop
			}
			return nil
		}
		if _, err := w.Poll(ctx); !errors.Is(err, errStop) {
			t.Fatalf("poll: %v, want the simulated crash", err)
		}
		if n, _ := db.CountEvents(ctx); n != 3 {
			t.Fatalf("after crash: %d events, want the first page's 3", n)
		}
		// "Restart": a fresh watcher resumes from the committed cursor.
		w2 := &Watcher{DB: db, Odoo: cl, Source: "odoo", Model: "res.partner", Batch: 3, Start: StartAll, Now: clk.Now}
		res, err := w2.Poll(ctx)
		if err != nil || res.Events != 4 { // the cursor's second is read again: duplicates, no events
			t.Fatalf("resume: %+v %v", res, err)
		}
		evs, _ := db.ListEvents(ctx, store.EventFilter{Limit: 100})
		ids := map[float64]int{}
		for _, e := range evs {
			var p map[string]any
			_ = json.Unmarshal([]byte(e.Payload), &p)
			ids[p["_id"].(float64)]++
		}
		if len(ids) != 7 {
			t.Fatalf("records with events: %v", ids)
		}
		for id, n := range ids {
			if n != 1 {
				t.Fatalf("record %v has %d events", id, n)
			}
		}
	})
}

func TestWatcherAndWebhookDedupe(t *testing.T) {
	db := openDB(t, store.SQLite)
	ctx := context.Background()
	clk := newClock()
	f, cl := newOdoo(t, clk)
	// The watcher reads the fields the webhook sends (as install-webhooks
	// tells the user to).
	w := &Watcher{DB: db, Odoo: cl, Source: "odoo", Model: "res.partner", Fields: []string{"name"}, Now: clk.Now}
	if _, err := w.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second + 123456*time.Microsecond)
	id := f.Add("res.partner", map[string]any{"name": "Hooked", "parent_id": []any{1, "Deco Addict"}})
	rec := f.Records("res.partner")[id-1]
	// The Odoo automation's webhook arrives first (as the receiver stores
	// it): microseconds in the dates, the many2one as a bare id.
	us := clk.Now().Format("2006-01-02 15:04:05.000000")
	body, _ := json.Marshal(map[string]any{"_model": "res.partner", "_id": id, "_action": "Send Webhook Notification(#5)",
		"id": id, "name": "Hooked", "create_date": us, "write_date": us})
	n, err := odoo.ParseWebhook(body)
	if err != nil {
		t.Fatal(err)
	}
	in := event.NewIngester(db, nil, event.IngesterOptions{})
	defer in.Close()
	r, err := in.Ingest(ctx, event.Request{Source: "odoo", Type: "odoo.res.partner.create", IdemKey: odoo.NotificationKey(n), Payload: n.Body})
	if err != nil || r.Duplicate {
		t.Fatalf("webhook ingest: %+v %v", r, err)
	}
	res, err := w.Poll(ctx)
	if err != nil || res.Events != 0 || res.Duplicates != 1 {
		t.Fatalf("poll after webhook: %+v %v", res, err)
	}
	// And the other way round: polled first, then the webhook is a duplicate.
	clk.Advance(time.Second)
	if err := cl.Write(ctx, "res.partner", []int{id}, map[string]any{"name": "Hooked 2"}); err != nil {
		t.Fatal(err)
	}
	if res, err := w.Poll(ctx); err != nil || res.Events != 1 {
		t.Fatalf("poll: %+v %v", res, err)
	}
	rec = f.Records("res.partner")[id-1]
	body, _ = json.Marshal(map[string]any{"_model": "res.partner", "_id": id, "_action": "Send Webhook Notification(#6)",
		"id": id, "name": rec["name"], "create_date": us, "write_date": rec["write_date"].(string) + ".5"})
	n, _ = odoo.ParseWebhook(body)
	n.SetAction("create_or_write")
	r, err = in.Ingest(ctx, event.Request{Source: "odoo", Type: "odoo.res.partner.write", IdemKey: odoo.NotificationKey(n), Payload: n.Body})
	if err != nil || !r.Duplicate {
		t.Fatalf("webhook after poll: %+v %v", r, err)
	}
}

func TestChangeKeyNormalizes(t *testing.T) {
	vals := map[string]any{"name": "A", "partner_id": []any{3.0, "Azure"}, "date_order": "2026-03-01 09:00:01"}
	a := odoo.ChangeKey("res.partner", 7, "write", "2026-03-01 09:00:01", vals)
	for _, s := range []string{"2026-03-01 09:00:01.123456", "2026-03-01T09:00:01Z", "2026-03-01T09:00:01+00:00"} {
		hooked := map[string]any{"name": "A", "partner_id": json.Number("3"), "date_order": "2026-03-01 09:00:01.5", "_action": "x"}
		if b := odoo.ChangeKey("res.partner", 7, "create", s, hooked); b != a {
			t.Errorf("%s: %s != %s", s, b, a)
		}
	}
	// What must never collide: another kind of change, other values.
	for _, b := range []string{
		odoo.ChangeKey("res.partner", 7, "archive", "2026-03-01 09:00:01", vals),
		odoo.ChangeKey("res.partner", 7, "unarchive", "2026-03-01 09:00:01", vals),
		odoo.ChangeKey("res.partner", 7, "unlink", "2026-03-01 09:00:01", vals),
		odoo.ChangeKey("res.partner", 7, "write", "2026-03-01 09:00:01", map[string]any{"name": "B", "partner_id": []any{3.0, "Azure"}, "date_order": "2026-03-01 09:00:01"}),
	} {
		if b == a {
			t.Errorf("%s collides with the write's key", b)
		}
	}
}

// Issue 19 item 3: a second change of a record within the second of the
// previous poll is a later state: it must be reported.
func TestWatcherReportsSecondChangeInSameSecond(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := newClock()
		_, cl := newOdoo(t, clk)
		w := &Watcher{DB: db, Odoo: cl, Source: "odoo", Model: "res.partner", Fields: []string{"name", "phone"}, Now: clk.Now}
		if _, err := w.Poll(ctx); err != nil {
			t.Fatal(err)
		}
		clk.Advance(time.Second)
		if err := cl.Write(ctx, "res.partner", []int{1}, map[string]any{"phone": "1"}); err != nil {
			t.Fatal(err)
		}
		if res, err := w.Poll(ctx); err != nil || res.Events != 1 {
			t.Fatalf("first write: %+v %v", res, err)
		}
		clk.Advance(300 * time.Millisecond) // same second
		if err := cl.Write(ctx, "res.partner", []int{1}, map[string]any{"phone": "2"}); err != nil {
			t.Fatal(err)
		}
		if res, err := w.Poll(ctx); err != nil || res.Events != 1 {
			t.Fatalf("second write in the same second: %+v %v; want 1 new event", res, err)
		}
		evs, _ := db.ListEvents(ctx, store.EventFilter{Limit: 10})
		phones := map[string]bool{}
		for _, e := range evs {
			var p map[string]any
			_ = json.Unmarshal([]byte(e.Payload), &p)
			phones[fmt.Sprint(p["phone"])] = true
		}
		if !phones["1"] || !phones["2"] {
			t.Fatalf("states reported: %v; want phone 1 and phone 2", phones)
		}
		if res, err := w.Poll(ctx); err != nil || res.Events != 0 {
			t.Fatalf("idle poll: %+v %v", res, err)
		}
	})
}

// Issue 19 item 4: a watcher started "now" reports nothing older than its
// start, overlap or not.
func TestWatcherStartNowReplaysNothing(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *store.DB) {
		ctx := context.Background()
		clk := newClock()
		f, cl := newOdoo(t, clk)
		clk.Advance(-30 * time.Second)
		f.Add("res.partner", map[string]any{"name": "Before start"})
		clk.Advance(30 * time.Second)
		w := &Watcher{DB: db, Odoo: cl, Source: "odoo", Model: "res.partner", Overlap: time.Hour, Now: clk.Now}
		if res, err := w.Poll(ctx); err != nil || res.Events != 0 {
			t.Fatalf("start: %+v %v", res, err)
		}
		clk.Advance(time.Second)
		if res, err := w.Poll(ctx); err != nil || res.Events != 0 {
			t.Fatalf("first round after start: %+v %v; want nothing older than the start", res, err)
		}
		f.Add("res.partner", map[string]any{"name": "After start"})
		if res, err := w.Poll(ctx); err != nil || res.Events != 1 {
			t.Fatalf("after a change: %+v %v", res, err)
		}
		clk.Advance(2 * time.Second)
		if res, err := w.Poll(ctx); err != nil || res.Events != 0 {
			t.Fatalf("later round (overlap re-read): %+v %v", res, err)
		}
	})
}

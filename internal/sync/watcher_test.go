package sync

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/connector/odoo"
	"github.com/insightpulseai/ipai/internal/inbound"
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
		// Nothing new: nothing emitted.
		if res, err := w.Poll(ctx); err != nil || res.Events != 0 || res.Records != 0 {
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
		if err != nil || res.Events != 4 || res.Duplicates != 0 {
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
	w := &Watcher{DB: db, Odoo: cl, Source: "odoo", Model: "res.partner", Now: clk.Now}
	if _, err := w.Poll(ctx); err != nil {
		t.Fatal(err)
	}
	clk.Advance(time.Second)
	id := f.Add("res.partner", map[string]any{"name": "Hooked"})
	rec := f.Records("res.partner")[id-1]
	// The Odoo automation's webhook arrives first (as the receiver stores it).
	body, _ := json.Marshal(map[string]any{"_model": "res.partner", "_id": id, "_action": "ipai:create(#5)",
		"name": "Hooked", "create_date": rec["create_date"], "write_date": rec["write_date"]})
	n, err := odoo.ParseWebhook(body)
	if err != nil {
		t.Fatal(err)
	}
	in := inbound.NewIngester(db, nil, inbound.IngesterOptions{})
	defer in.Close()
	r, err := in.Ingest(ctx, inbound.Request{Source: "odoo", Type: "odoo.res.partner.create", IdemKey: odoo.NotificationKey(n), Payload: n.Body})
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
	body, _ = json.Marshal(map[string]any{"_model": "res.partner", "_id": id, "_action": "ipai:write(#6)", "write_date": rec["write_date"]})
	n, _ = odoo.ParseWebhook(body)
	r, err = in.Ingest(ctx, inbound.Request{Source: "odoo", Type: "odoo.res.partner.write", IdemKey: odoo.NotificationKey(n), Payload: n.Body})
	if err != nil || !r.Duplicate {
		t.Fatalf("webhook after poll: %+v %v", r, err)
	}
}

func TestChangeKeyNormalizes(t *testing.T) {
	a := odoo.ChangeKey("res.partner", 7, "2026-03-01 09:00:01")
	for _, s := range []string{"2026-03-01 09:00:01.123456", "2026-03-01T09:00:01Z", "2026-03-01T09:00:01+00:00"} {
		if b := odoo.ChangeKey("res.partner", 7, s); b != a {
			t.Errorf("%s: %s != %s", s, b, a)
		}
	}
}

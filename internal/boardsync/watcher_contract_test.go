package boardsync

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/connector/odoo"
	"github.com/insightpulseai/ipai/internal/store"
)

// TestWatcherContract runs a watcher over res.partner in the real Odoo
// named by IPAI_TEST_ODOO_URL (+ _DB, _LOGIN, _KEY), on a partner of its
// own that it deletes, else in the fake (whose clock stays in one second):
// a create, two writes, an archive and an unarchive — on a real Odoo
// mostly within one second, the unarchive setting the partner back to the
// values of the second write — are each one event (a create, then writes),
// an idle poll reports nothing, and the deletion is one.
func TestWatcherContract(t *testing.T) {
	ctx := context.Background()
	db := openDB(t, store.SQLite)
	var cl Odoo
	now := time.Now
	if u := os.Getenv("IPAI_TEST_ODOO_URL"); u != "" {
		cl = odoo.New(u, os.Getenv("IPAI_TEST_ODOO_DB"), os.Getenv("IPAI_TEST_ODOO_LOGIN"), os.Getenv("IPAI_TEST_ODOO_KEY"), nil)
	} else {
		clk := newClock()
		_, fc := newOdoo(t, clk)
		cl, now = fc, clk.Now
	}
	oc := cl.(*odoo.Client)
	w := &Watcher{DB: db, Odoo: cl, Source: "odoo", Model: "res.partner", Fields: []string{"name", "active"}, Now: now}
	poll := func(what string, want int) {
		t.Helper()
		res, err := w.Poll(ctx)
		if err != nil || res.Events != want {
			t.Fatalf("%s: %+v, %v; want %d events", what, res, err, want)
		}
	}
	poll("first poll (start now)", 0)
	id, err := oc.Create(ctx, "res.partner", map[string]any{"name": "ipai watcher " + time.Now().UTC().Format(time.RFC3339Nano)})
	if err != nil {
		t.Fatal(err)
	}
	deleted := false
	t.Cleanup(func() {
		if !deleted {
			_ = oc.ExecuteKW(context.Background(), "res.partner", "unlink", []any{[]int{id}}, nil, nil)
		}
	})
	poll("after a create", 1)
	write := func(name string) {
		t.Helper()
		if err := oc.Write(ctx, "res.partner", []int{id}, map[string]any{"name": name}); err != nil {
			t.Fatal(err)
		}
	}
	var dates []string
	readDate := func() {
		var rows []map[string]any
		if err := oc.Read(ctx, "res.partner", []int{id}, []string{"write_date"}, &rows); err == nil && len(rows) == 1 {
			d, _ := rows[0]["write_date"].(string)
			dates = append(dates, d)
		}
	}
	write("ipai watcher one")
	readDate()
	poll("after a write", 1)
	write("ipai watcher two")
	readDate()
	poll("after a second write", 1)
	poll("idle", 0)
	for _, step := range []struct{ method, what string }{{"action_archive", "after an archive"}, {"action_unarchive", "after an unarchive"}} {
		if err := oc.ExecuteKW(ctx, "res.partner", step.method, []any{[]int{id}}, nil, nil); err != nil {
			t.Fatal(err)
		}
		poll(step.what, 1)
	}
	if err := oc.ExecuteKW(ctx, "res.partner", "unlink", []any{[]int{id}}, nil, nil); err != nil {
		t.Fatal(err)
	}
	deleted = true
	if n, err := w.Sweep(ctx); err != nil || n != 1 {
		t.Fatalf("sweep after the deletion: %d, %v; want 1", n, err)
	}
	got := events(t, db)
	want := map[string]int{"odoo.res.partner.create": 1, "odoo.res.partner.write": 4, "odoo.res.partner.unlink": 1}
	for k, n := range want {
		if got[k] != n {
			t.Fatalf("events %v; want %v", got, want)
		}
	}
	t.Logf("write_dates of the two writes: %v (same second: %t)", dates, len(dates) == 2 && dates[0] == dates[1])
}

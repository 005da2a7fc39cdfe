package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// The event retention deletes old events whose deliveries are all finished,
// with those deliveries and their attempts, and nothing else.
func TestPurgeEvents(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		now := time.Now()
		old, recent := now.Add(-40*24*time.Hour), now.Add(-24*time.Hour)
		seed := func(id string, at time.Time, states ...string) {
			t.Helper()
			var ds []Delivery
			for i, st := range states {
				d := newDel(fmt.Sprintf("%s-d%d", id, i), id, at)
				d.State = st
				ds = append(ds, d)
			}
			err := db.InTx(ctx, func(tx *Tx) error {
				if err := tx.InsertEvents(ctx, []Event{{ID: id, Source: "s", Type: "t", ReceivedAt: at, IdempotencyKey: id, Payload: `{}`}}); err != nil {
					return err
				}
				return tx.InsertDeliveries(ctx, ds)
			})
			if err != nil {
				t.Fatal(err)
			}
			var outs []Outcome
			for _, d := range ds {
				outs = append(outs, Outcome{Attempt: Attempt{DeliveryID: d.ID, N: 1, At: at, Status: 200}, State: d.State})
			}
			if err := db.CompleteDeliveries(ctx, at, outs); err != nil {
				t.Fatal(err)
			}
		}
		seed("done", old, DeliverySucceeded, DeliveryDead)
		seed("waiting", old, DeliverySucceeded, DeliveryFailed)
		seed("running", old, DeliveryRunning)
		seed("pending", old, DeliveryPending)
		seed("bare", old)
		seed("recent", recent, DeliverySucceeded)
		p, err := db.PurgeEvents(ctx, now.Add(-30*24*time.Hour))
		if err != nil || p != (Purged{Events: 2, Deliveries: 2, Attempts: 2}) {
			t.Fatalf("purge: %+v %v; want the events done and bare, done's 2 deliveries and their 2 attempts", p, err)
		}
		for _, id := range []string{"done", "bare"} {
			if _, err := db.Event(ctx, id); err != ErrNotFound {
				t.Errorf("event %s survived: %v", id, err)
			}
		}
		if _, err := db.Delivery(ctx, "done-d1"); err != ErrNotFound {
			t.Errorf("a purged event's delivery survived: %v", err)
		}
		for _, id := range []string{"waiting", "running", "pending", "recent"} {
			if _, err := db.Event(ctx, id); err != nil {
				t.Errorf("event %s was purged: %v", id, err)
			}
		}
		// An unfinished delivery keeps its event and every sibling delivery, with attempts.
		for _, id := range []string{"waiting-d0", "waiting-d1", "running-d0", "pending-d0", "recent-d0"} {
			if _, err := db.Delivery(ctx, id); err != nil {
				t.Errorf("delivery %s was purged: %v", id, err)
			}
		}
		if as, err := db.Attempts(ctx, "waiting-d0"); err != nil || len(as) != 1 {
			t.Errorf("attempts of a kept event's delivery: %v %v", as, err)
		}
		if p, err := db.PurgeEvents(ctx, now.Add(-30*24*time.Hour)); err != nil || p != (Purged{}) {
			t.Fatalf("second purge: %+v %v; want nothing", p, err)
		}
	})
}

// More old events than one transaction takes are all purged.
func TestPurgeEventsInBatches(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		old := time.Now().Add(-40 * 24 * time.Hour)
		const n = 1234
		err := db.InTx(ctx, func(tx *Tx) error {
			var evs []Event
			var ds []Delivery
			for i := 0; i < n; i++ {
				id := fmt.Sprintf("e%04d", i)
				evs = append(evs, Event{ID: id, Source: "s", Type: "t", ReceivedAt: old, IdempotencyKey: id, Payload: `{}`})
				d := newDel("d"+id, id, old)
				d.State = DeliverySucceeded
				ds = append(ds, d)
			}
			if err := tx.InsertEvents(ctx, evs); err != nil {
				return err
			}
			return tx.InsertDeliveries(ctx, ds)
		})
		if err != nil {
			t.Fatal(err)
		}
		p, err := db.PurgeEvents(ctx, time.Now().Add(-30*24*time.Hour))
		if err != nil || p.Events != n || p.Deliveries != n {
			t.Fatalf("purge: %+v %v; want %d events and deliveries", p, err, n)
		}
		if left, _ := db.CountEvents(ctx); left != 0 {
			t.Fatalf("%d events left", left)
		}
	})
}

// The queue's state: counts of unfinished and dead deliveries, and the
// oldest due one (a running delivery only once its lease ran out).
func TestQueueStats(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		now := time.Now().Truncate(time.Microsecond)
		q, err := db.QueueStats(ctx, now)
		if err != nil || len(q.Counts) != 0 || !q.OldestDue.IsZero() {
			t.Fatalf("empty queue: %+v %v", q, err)
		}
		mk := func(id, state string, next time.Time, ordered string) Delivery {
			d := newDel(id, "ev", next)
			d.State, d.OrderedKey = state, ordered
			return d
		}
		seedEvent(t, db, "ev",
			mk("p-future", DeliveryPending, now.Add(time.Minute), ""),
			mk("f-due", DeliveryFailed, now.Add(-time.Minute), ""),
			mk("o-due", DeliveryPending, now.Add(-3*time.Minute), "ep"),
			mk("s", DeliverySucceeded, now.Add(-time.Hour), ""),
			mk("dead", DeliveryDead, now.Add(-time.Hour), ""))
		q, err = db.QueueStats(ctx, now)
		if err != nil || fmt.Sprint(q.Counts) != "map[dead:1 failed:1 pending:2]" || !q.OldestDue.Equal(now.Add(-3*time.Minute)) {
			t.Fatalf("queue: %+v %v; want the ordered delivery due 3 min ago as the oldest", q, err)
		}
		// Claimed, the due ones are running until their lease ends.
		if cs, err := db.ClaimDeliveries(ctx, now, time.Minute, 10); err != nil || len(cs) != 2 {
			t.Fatalf("claim: %d %v", len(cs), err)
		}
		q, _ = db.QueueStats(ctx, now)
		if q.Counts[DeliveryRunning] != 2 || !q.OldestDue.IsZero() {
			t.Fatalf("after the claim: %+v; want 2 running and nothing due", q)
		}
		q, _ = db.QueueStats(ctx, now.Add(2*time.Minute))
		if !q.OldestDue.Equal(now.Add(time.Minute)) {
			t.Fatalf("2 min later: oldest due %v; want the future pending one, due 1 min after now (leases end then too)", q.OldestDue)
		}
	})
}

// Text is what both backends can store; texts changes only what it must and
// never the caller's slices.
func TestText(t *testing.T) {
	for in, want := range map[string]string{"plain": "plain", "café": "café", "a\x00b": "ab", "x\xff\xfey": "x\uFFFDy", "": ""} {
		if got := Text(in); got != want {
			t.Errorf("Text(%q) = %q; want %q", in, got, want)
		}
	}
	list := []string{"ok", "bad\xff"}
	args := []any{"a\x00", 7, list, []string{"fine"}}
	out := texts(args)
	if args[0] != "a\x00" || list[1] != "bad\xff" {
		t.Fatalf("texts changed the caller's arguments: %q %q", args[0], list)
	}
	if out[0] != "a" || out[1] != 7 || fmt.Sprint(out[2]) != "[ok bad\uFFFD]" || fmt.Sprint(out[3]) != "[fine]" {
		t.Fatalf("texts: %q", out)
	}
	if clean := []any{"x", 1}; &texts(clean)[0] != &clean[0] {
		t.Fatal("texts copied arguments that needed no change")
	}
}

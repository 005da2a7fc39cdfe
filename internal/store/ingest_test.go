package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"
)

// batchOf builds a batch of one event per key (event id = "e"+key+suffix),
// each causing the given number of deliveries.
func batchOf(now time.Time, suffix string, ndel int, keys ...string) EventBatch {
	b := EventBatch{Now: now}
	for _, k := range keys {
		id := "e" + k + suffix
		b.Claims = append(b.Claims, KeyClaim{Source: "s", Key: k, EventID: id, Expires: now.Add(time.Hour)})
		b.Events = append(b.Events, Event{ID: id, Source: "s", Type: "t", ReceivedAt: now, IdempotencyKey: k, Payload: `{"k":"` + k + `"}`})
		for j := 0; j < ndel; j++ {
			d := newDel(fmt.Sprintf("d%s%d", id, j), id, now)
			if j == 1 {
				d.OrderedKey = "ep"
			}
			b.Deliveries = append(b.Deliveries, d)
		}
	}
	return b
}

// Both ways of storing a batch — the caller's transaction and the store's
// own (one statement on PostgreSQL) — claim keys, store only the winners'
// events and deliveries, and report the holder of every lost key.
func TestStoreEvents(t *testing.T) {
	ways := map[string]func(db *DB, b EventBatch) (Stored, error){
		"db": func(db *DB, b EventBatch) (Stored, error) { return db.StoreEvents(context.Background(), b) },
		"tx": func(db *DB, b EventBatch) (st Stored, err error) {
			err = db.InTx(context.Background(), func(tx *Tx) error {
				st, err = tx.StoreEvents(context.Background(), b)
				return err
			})
			return st, err
		},
	}
	for name, store := range ways {
		t.Run(name, func(t *testing.T) {
			forEachBackend(t, func(t *testing.T, db *DB) {
				ctx := context.Background()
				now := time.Now().Truncate(time.Microsecond)
				st, err := store(db, batchOf(now, "1", 2, "a", "b"))
				if err != nil || fmt.Sprint(st.IDs, st.Dups, st.Deliveries) != "[ea1 eb1] [false false] 4" {
					t.Fatalf("first batch: %+v %v", st, err)
				}
				// a is held by ea1; c is new.
				st, err = store(db, batchOf(now.Add(time.Minute), "2", 2, "a", "c"))
				if err != nil || fmt.Sprint(st.IDs, st.Dups, st.Deliveries) != "[ea1 ec2] [true false] 2" {
					t.Fatalf("second batch: %+v %v; want a held by ea1", st, err)
				}
				if _, err := db.Event(ctx, "ea2"); err != ErrNotFound {
					t.Fatalf("the duplicate's event was stored: %v", err)
				}
				if _, err := db.Delivery(ctx, "dea20"); err != ErrNotFound {
					t.Fatalf("the duplicate's delivery was stored: %v", err)
				}
				ev, err := db.Event(ctx, "ec2")
				if err != nil || ev.Payload != `{"k":"c"}` || ev.IdempotencyKey != "c" || !ev.ReceivedAt.Equal(now.Add(time.Minute)) {
					t.Fatalf("stored event: %+v %v", ev, err)
				}
				d, err := db.Delivery(ctx, "dec21")
				if err != nil || d.EventID != "ec2" || d.OrderedKey != "ep" || d.State != DeliveryPending || !d.NextAttemptAt.Equal(now.Add(time.Minute)) {
					t.Fatalf("stored delivery: %+v %v", d, err)
				}
				if d, _ := db.Delivery(ctx, "dec20"); d.OrderedKey != "" {
					t.Fatalf("an unordered delivery got ordered key %q", d.OrderedKey)
				}
				// After the window the key is free again.
				st, err = store(db, batchOf(now.Add(2*time.Hour), "3", 0, "a"))
				if err != nil || fmt.Sprint(st.IDs, st.Dups) != "[ea3] [false]" {
					t.Fatalf("after the window: %+v %v", st, err)
				}
				// A batch without deliveries (on PostgreSQL a statement of its own) stores its event.
				if ev, err := db.Event(ctx, "ea3"); err != nil || ev.Payload != `{"k":"a"}` {
					t.Fatalf("event of a batch without deliveries: %+v %v", ev, err)
				}
				// A malformed batch is refused before anything is written.
				bad := batchOf(now, "4", 1, "x")
				bad.Events[0].ID = "other"
				if _, err := store(db, bad); err == nil {
					t.Fatal("a batch whose event does not match its claim was accepted")
				}
				if st, err := store(db, batchOf(now.Add(2*time.Hour), "5", 0, "x")); err != nil || st.Dups[0] {
					t.Fatalf("the refused batch claimed its key: %+v %v", st, err)
				}
			})
		})
	}
}

// Concurrent batches racing for one key: exactly one stores its event, and
// every other learns the winner's id, also when the loser's statement had
// to wait for the winner's commit.
func TestStoreEventsRace(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		now := time.Now()
		const n = 12
		sts := make([]Stored, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		for i := 0; i < n; i++ {
			wg.Add(1)
			go func(i int) {
				defer wg.Done()
				sts[i], errs[i] = db.StoreEvents(context.Background(), batchOf(now, fmt.Sprint(i), 1, "k", fmt.Sprint("own", i)))
			}(i)
		}
		wg.Wait()
		winner := ""
		for i := 0; i < n; i++ {
			if errs[i] != nil {
				t.Fatal(errs[i])
			}
			if !sts[i].Dups[0] {
				if winner != "" {
					t.Fatalf("two batches won key k: %s and %s", winner, sts[i].IDs[0])
				}
				winner = sts[i].IDs[0]
			}
			if sts[i].Dups[1] {
				t.Fatalf("batch %d lost its own key: %+v", i, sts[i])
			}
		}
		for i := 0; i < n; i++ {
			if sts[i].IDs[0] != winner {
				t.Fatalf("batch %d says k is held by %q; the winner is %q", i, sts[i].IDs[0], winner)
			}
		}
		var events int
		if err := db.QueryRow(context.Background(), "SELECT count(*) FROM events WHERE idempotency_key = 'k'").Scan(&events); err != nil || events != 1 {
			t.Fatalf("%d events stored for key k (%v); want 1", events, err)
		}
	})
}

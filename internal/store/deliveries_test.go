package store

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"testing"
	"time"
)

func seedEvent(t *testing.T, db *DB, id string, dels ...Delivery) {
	t.Helper()
	ctx := context.Background()
	err := db.InTx(ctx, func(tx *Tx) error {
		if err := tx.InsertEvents(ctx, []Event{{ID: id, Source: "s", Type: "t", ReceivedAt: time.Now(), IdempotencyKey: id, Payload: `{}`}}); err != nil {
			return err
		}
		return tx.InsertDeliveries(ctx, dels)
	})
	if err != nil {
		t.Fatal(err)
	}
}

func newDel(id, ev string, at time.Time) Delivery {
	return Delivery{ID: id, EventID: ev, Kind: "webhook", EndpointID: "ep", State: DeliveryPending, NextAttemptAt: at, CreatedAt: at, UpdatedAt: at}
}

func TestEventKeysDedupeWithinWindow(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		now := time.Now()
		claim := func(ev string, at time.Time) (string, bool) {
			var got string
			var dup bool
			err := db.InTx(ctx, func(tx *Tx) error {
				var err error
				ids, dups, err := tx.ClaimEventKeys(ctx, []KeyClaim{{"src", "k1", ev, at.Add(time.Hour)}}, at)
				if err == nil {
					got, dup = ids[0], dups[0]
				}
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return got, dup
		}
		if got, dup := claim("e1", now); got != "e1" || dup {
			t.Fatalf("first claim: %s %v", got, dup)
		}
		if got, dup := claim("e2", now.Add(time.Minute)); got != "e1" || !dup {
			t.Fatalf("claim within window: %s %v; want e1 duplicate", got, dup)
		}
		if got, dup := claim("e3", now.Add(2*time.Hour)); got != "e3" || dup {
			t.Fatalf("claim after window: %s %v; want e3 new", got, dup)
		}
	})
}

func TestClaimCompleteReplay(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		now := time.Now().Truncate(time.Microsecond)
		seedEvent(t, db, "ev1", newDel("d1", "ev1", now), newDel("d2", "ev1", now.Add(time.Hour)))
		cs, err := db.ClaimDeliveries(ctx, now, time.Minute, 10)
		if err != nil || len(cs) != 1 || cs[0].ID != "d1" || cs[0].Attempts != 1 || cs[0].Event.Payload != `{}` {
			t.Fatalf("claim: %+v %v; want only the due d1 with its event", cs, err)
		}
		if again, _ := db.ClaimDeliveries(ctx, now, time.Minute, 10); len(again) != 0 {
			t.Fatalf("claimed a leased delivery again: %+v", again)
		}
		// The lease runs out (the worker died): it is claimable again.
		re, _ := db.ClaimDeliveries(ctx, now.Add(2*time.Minute), time.Minute, 10)
		if len(re) != 1 || re[0].Attempts != 2 {
			t.Fatalf("after lease expiry: %+v", re)
		}
		// The stale first worker's outcome is recorded but does not win.
		stale := Outcome{Attempt: Attempt{DeliveryID: "d1", N: 1, At: now}, State: DeliverySucceeded}
		fresh := Outcome{Attempt: Attempt{DeliveryID: "d1", N: 2, At: now, Status: 500, Error: "boom"}, State: DeliveryDead, LastError: "boom"}
		if err := db.CompleteDeliveries(ctx, now, []Outcome{stale}); err != nil {
			t.Fatal(err)
		}
		if d, _ := db.Delivery(ctx, "d1"); d.State != DeliveryRunning {
			t.Fatalf("stale outcome changed state to %s", d.State)
		}
		if err := db.CompleteDeliveries(ctx, now, []Outcome{fresh}); err != nil {
			t.Fatal(err)
		}
		d, _ := db.Delivery(ctx, "d1")
		as, _ := db.Attempts(ctx, "d1")
		if d.State != DeliveryDead || d.LastError != "boom" || len(as) != 2 {
			t.Fatalf("after completion: %+v, %d attempts", d, len(as))
		}
		n, err := db.ReplayDeliveries(ctx, DeliveryFilter{State: DeliveryDead, EndpointID: "ep"}, nil, now)
		if err != nil || n != 1 {
			t.Fatalf("replay: %d %v", n, err)
		}
		d, _ = db.Delivery(ctx, "d1")
		if d.State != DeliveryPending || d.RoundBase != 2 {
			t.Fatalf("replayed: %+v", d)
		}
		counts, _ := db.CountDeliveries(ctx, DeliveryFilter{})
		if counts[DeliveryPending] != 2 {
			t.Fatalf("counts %v", counts)
		}
	})
}

func TestOrderedClaimsOnlyTheHead(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		now := time.Now()
		var ds []Delivery
		for i := 0; i < 3; i++ {
			d := newDel(fmt.Sprintf("o%d", i), "ev", now.Add(time.Duration(i)*time.Millisecond))
			d.OrderedKey = "ep"
			ds = append(ds, d)
		}
		seedEvent(t, db, "ev", ds...)
		later := now.Add(time.Second)
		cs, _ := db.ClaimDeliveries(ctx, later, time.Minute, 10)
		if len(cs) != 1 || cs[0].ID != "o0" {
			t.Fatalf("ordered claim: %+v; want only o0", cs)
		}
		db.CompleteDeliveries(ctx, later, []Outcome{{Attempt: Attempt{DeliveryID: "o0", N: 1, At: later}, State: DeliveryFailed, Next: later}})
		if cs, _ := db.ClaimDeliveries(ctx, later, time.Minute, 10); len(cs) != 1 || cs[0].ID != "o0" {
			t.Fatalf("after a failure the head must be retried first: %+v", cs)
		}
		db.CompleteDeliveries(ctx, later, []Outcome{{Attempt: Attempt{DeliveryID: "o0", N: 2, At: later}, State: DeliverySucceeded}})
		if cs, _ := db.ClaimDeliveries(ctx, later, time.Minute, 10); len(cs) != 1 || cs[0].ID != "o1" {
			t.Fatalf("next head: %+v; want o1", cs)
		}
	})
}

// A claim takes the heads of ordered queues first, then unordered deliveries
// in due order, never more than the limit, each with its event; claimed
// deliveries wait for their lease.
func TestClaimMixesOrderedHeadsAndUnordered(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		now := time.Now()
		var ds []Delivery
		for i, key := range []string{"ep", "ep", "ep2"} {
			d := newDel(fmt.Sprintf("o%d", i), "ev", now.Add(time.Duration(i)*time.Millisecond))
			d.OrderedKey = key
			ds = append(ds, d)
		}
		for i := 0; i < 5; i++ {
			ds = append(ds, newDel(fmt.Sprintf("u%d", i), "ev", now.Add(time.Duration(i)*time.Millisecond)))
		}
		seedEvent(t, db, "ev", ds...)
		later := now.Add(time.Second)
		ids := func(cs []Claimed) string {
			var out []string
			for _, c := range cs {
				if c.Event.ID != "ev" || c.Event.Payload != `{}` || c.State != DeliveryRunning {
					t.Fatalf("claimed %s without its event or not running: %+v", c.ID, c)
				}
				out = append(out, c.ID)
			}
			sort.Strings(out)
			return fmt.Sprint(out)
		}
		cs, err := db.ClaimDeliveries(ctx, later, time.Minute, 3)
		if err != nil || ids(cs) != "[o0 o2 u0]" {
			t.Fatalf("first claim: %s %v; want the two heads and the earliest unordered", ids(cs), err)
		}
		cs, err = db.ClaimDeliveries(ctx, later, time.Minute, 10)
		if err != nil || ids(cs) != "[u1 u2 u3 u4]" {
			t.Fatalf("second claim: %s %v; want the rest of the unordered (o1 waits for o0)", ids(cs), err)
		}
		if cs, _ := db.ClaimDeliveries(ctx, later.Add(30*time.Second), time.Minute, 10); len(cs) != 0 {
			t.Fatalf("claimed within the lease: %s", ids(cs))
		}
		if cs, _ := db.ClaimDeliveries(ctx, later.Add(2*time.Minute), time.Minute, 10); ids(cs) != "[o0 o2 u0 u1 u2 u3 u4]" {
			t.Fatalf("after the lease: %s; want every running delivery again", ids(cs))
		}
	})
}

// Two processes claiming at once never get the same delivery.
func TestConcurrentClaimersOnPostgres(t *testing.T) {
	db1 := openTest(t, Postgres)
	ctx := context.Background()
	now := time.Now()
	var ds []Delivery
	for i := 0; i < 600; i++ {
		ds = append(ds, newDel(fmt.Sprintf("c%04d", i), "ev", now))
	}
	seedEvent(t, db1, "ev", ds...)
	var mu sync.Mutex
	seen := map[string]int{}
	var wg sync.WaitGroup
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				cs, err := db1.ClaimDeliveries(ctx, now, time.Minute, 25)
				if err != nil {
					t.Error(err)
					return
				}
				if len(cs) == 0 {
					return
				}
				mu.Lock()
				for _, c := range cs {
					seen[c.ID]++
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(seen) != 600 {
		t.Fatalf("claimed %d distinct deliveries; want 600", len(seen))
	}
	for id, n := range seen {
		if n != 1 {
			t.Fatalf("%s claimed %d times", id, n)
		}
	}
}

func TestWebhooksCRUD(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		now := time.Now().Truncate(time.Microsecond)
		w := Webhook{ID: "w1", Direction: Outgoing, Name: "n", State: WebhookActive, Spec: `{}`, CreatedAt: now, UpdatedAt: now}
		if err := db.CreateWebhook(ctx, w); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateWebhook(ctx, w); !IsConflict(err) {
			t.Fatalf("duplicate id: %v", err)
		}
		since, _ := db.MarkEndpointFailing(ctx, "w1", now)
		again, _ := db.MarkEndpointFailing(ctx, "w1", now.Add(time.Hour))
		if !since.Equal(now) || !again.Equal(now) {
			t.Fatalf("failing streak start %s then %s; want both %s", since, again, now)
		}
		changed, _ := db.SetWebhookState(ctx, "w1", WebhookDisabled, "gone", now)
		unchanged, _ := db.SetWebhookState(ctx, "w1", WebhookDisabled, "gone", now)
		got, _ := db.Webhook(ctx, "w1")
		if !changed || unchanged || got.State != WebhookDisabled || got.DisabledReason != "gone" || !got.FailingSince.IsZero() {
			t.Fatalf("disable: %v %v %+v", changed, unchanged, got)
		}
		list, _ := db.ListWebhooks(ctx, Incoming)
		if len(list) != 0 {
			t.Fatalf("incoming list has %d", len(list))
		}
		if err := db.DeleteWebhook(ctx, "w1"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.Webhook(ctx, "w1"); err != ErrNotFound {
			t.Fatalf("after delete: %v", err)
		}
	})
}

func TestClaimEventKeysInBulk(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		now := time.Now()
		claim := func(at time.Time, cs ...KeyClaim) ([]string, []bool) {
			var ids []string
			var dups []bool
			err := db.InTx(ctx, func(tx *Tx) error {
				var err error
				ids, dups, err = tx.ClaimEventKeys(ctx, cs, at)
				return err
			})
			if err != nil {
				t.Fatal(err)
			}
			return ids, dups
		}
		exp := now.Add(time.Hour)
		ids, dups := claim(now, KeyClaim{"s", "a", "e1", exp}, KeyClaim{"s", "b", "e2", exp}, KeyClaim{"t", "a", "e3", exp})
		if fmt.Sprint(ids, dups) != "[e1 e2 e3] [false false false]" {
			t.Fatalf("first claims: %v %v", ids, dups)
		}
		ids, dups = claim(now.Add(time.Minute), KeyClaim{"s", "b", "e4", exp}, KeyClaim{"s", "c", "e5", exp})
		if fmt.Sprint(ids, dups) != "[e2 e5] [true false]" {
			t.Fatalf("second claims: %v %v; want b held by e2", ids, dups)
		}
		ids, dups = claim(now.Add(2*time.Hour), KeyClaim{"s", "a", "e6", now.Add(3 * time.Hour)})
		if fmt.Sprint(ids, dups) != "[e6] [false]" {
			t.Fatalf("after the window: %v %v", ids, dups)
		}
	})
}

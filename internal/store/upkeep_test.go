package store

import (
	"context"
	"fmt"
	"testing"
	"time"
)

// The failing streak of an endpoint: it starts once, ends when a delivery
// succeeds, and the next failure starts a new one (the dispatcher disables
// an endpoint whose streak is older than its disable_after).
func TestEndpointFailingStreak(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		t0 := time.Now().UTC().Truncate(time.Microsecond)
		for _, id := range []string{"w1", "w2"} {
			if err := db.CreateWebhook(ctx, Webhook{ID: id, Direction: Outgoing, Name: id, State: WebhookActive, Spec: `{}`, CreatedAt: t0, UpdatedAt: t0}); err != nil {
				t.Fatal(err)
			}
		}
		// Healthy already: nothing to end, no error.
		if err := db.MarkEndpointHealthy(ctx, "w1"); err != nil {
			t.Fatal(err)
		}
		if since, err := db.MarkEndpointFailing(ctx, "w1", t0); err != nil || !since.Equal(t0) {
			t.Fatalf("streak start = %s, %v; want %s", since, err, t0)
		}
		db.MarkEndpointFailing(ctx, "w2", t0)
		if err := db.MarkEndpointHealthy(ctx, "w1"); err != nil {
			t.Fatal(err)
		}
		if w, _ := db.Webhook(ctx, "w1"); !w.FailingSince.IsZero() || w.State != WebhookActive {
			t.Fatalf("after a success: failing since %s, state %s; want no streak, still active", w.FailingSince, w.State)
		}
		if w, _ := db.Webhook(ctx, "w2"); !w.FailingSince.Equal(t0) {
			t.Fatalf("another endpoint's streak changed: failing since %s; want %s", w.FailingSince, t0)
		}
		t1 := t0.Add(time.Hour)
		if since, err := db.MarkEndpointFailing(ctx, "w1", t1); err != nil || !since.Equal(t1) {
			t.Fatalf("streak after recovery starts at %s, %v; want %s (not the old streak)", since, err, t1)
		}
		// An endpoint deleted meanwhile is no error to the dispatcher.
		if err := db.MarkEndpointHealthy(ctx, "gone"); err != nil {
			t.Fatalf("healthy of a missing endpoint: %v", err)
		}
	})
}

// Disabling an endpoint moves its waiting deliveries (pending or failed) to
// dead with the reason, and leaves alone those running, finished, or of
// other endpoints.
func TestKillEndpointDeliveries(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		t0 := time.Now().UTC().Truncate(time.Microsecond)
		var ds []Delivery
		for _, st := range []string{DeliveryPending, DeliveryFailed, DeliveryRunning, DeliverySucceeded, DeliveryDead} {
			d := newDel("ep1-"+st, "ev", t0)
			d.EndpointID, d.State, d.LastError = "ep1", st, "before"
			if st == DeliveryRunning {
				d.LeaseUntil = t0.Add(24 * time.Hour) // an attempt in flight
			}
			ds = append(ds, d)
		}
		other := newDel("ep2-pending", "ev", t0)
		other.EndpointID = "ep2"
		seedEvent(t, db, "ev", append(ds, other)...)

		now := t0.Add(time.Minute)
		n, err := db.KillEndpointDeliveries(ctx, "ep1", "endpoint disabled: failing", now)
		if err != nil || n != 2 {
			t.Fatalf("killed %d, %v; want the 2 waiting ones", n, err)
		}
		want := map[string]string{
			"ep1-pending": DeliveryDead, "ep1-failed": DeliveryDead, "ep1-running": DeliveryRunning,
			"ep1-succeeded": DeliverySucceeded, "ep1-dead": DeliveryDead, "ep2-pending": DeliveryPending,
		}
		for id, st := range want {
			d, err := db.Delivery(ctx, id)
			if err != nil || d.State != st {
				t.Errorf("%s: state %s, %v; want %s", id, d.State, err, st)
				continue
			}
			killed := id == "ep1-pending" || id == "ep1-failed"
			if killed && (d.LastError != "endpoint disabled: failing" || !d.UpdatedAt.Equal(now)) {
				t.Errorf("%s: last error %q, updated %s; want the reason at %s", id, d.LastError, d.UpdatedAt, now)
			}
			if !killed && id != "ep2-pending" && d.LastError != "before" {
				t.Errorf("%s: last error changed to %q", id, d.LastError)
			}
		}
		// Nothing of the endpoint is claimed any more; the other endpoint's is.
		cs, err := db.ClaimDeliveries(ctx, now.Add(time.Hour), time.Minute, 10)
		if err != nil || len(cs) != 1 || cs[0].ID != "ep2-pending" {
			t.Fatalf("claimed %+v, %v; want only ep2-pending", cs, err)
		}
		if n, err := db.KillEndpointDeliveries(ctx, "ep1", "again", now); err != nil || n != 0 {
			t.Fatalf("second kill: %d, %v; want 0", n, err)
		}
	})
}

// The hourly upkeep deletes the dedupe keys whose window has passed (at now
// included) and keeps the others: a retry within its window is still a
// duplicate after a purge.
func TestPurgeEventKeys(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		claim := func(at time.Time, cs ...KeyClaim) string {
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
			return fmt.Sprint(ids, dups)
		}
		claim(now.Add(-2*time.Hour),
			KeyClaim{"s", "old", "e1", now.Add(-time.Hour)},
			KeyClaim{"s", "edge", "e2", now},
			KeyClaim{"s", "live", "e3", now.Add(time.Microsecond)},
			KeyClaim{"t", "live", "e4", now.Add(time.Hour)})
		if n, err := db.PurgeEventKeys(ctx, now); err != nil || n != 2 {
			t.Fatalf("purged %d, %v; want the 2 keys expired at or before now", n, err)
		}
		if got := claim(now, KeyClaim{"s", "live", "e5", now.Add(time.Hour)}, KeyClaim{"t", "live", "e6", now.Add(time.Hour)}); got != "[e3 e4] [true true]" {
			t.Fatalf("claims within their window after the purge: %s; want duplicates of e3 e4", got)
		}
		if got := claim(now, KeyClaim{"s", "old", "e7", now.Add(time.Hour)}, KeyClaim{"s", "edge", "e8", now.Add(time.Hour)}); got != "[e7 e8] [false false]" {
			t.Fatalf("claims of purged keys: %s; want new events", got)
		}
		if n, err := db.PurgeEventKeys(ctx, now); err != nil || n != 0 {
			t.Fatalf("second purge: %d, %v; want 0", n, err)
		}
	})
}

// UI sessions: activity slides the expiry, sign-out deletes one session,
// the upkeep purges those expired at now.
func TestSessionTouchDeleteAndPurge(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		if err := db.CreateUser(ctx, User{ID: "u1", Name: "alice", Role: "user", Source: "local", CreatedAt: now, UpdatedAt: now}); err != nil {
			t.Fatal(err)
		}
		for _, h := range []string{"a", "b", "c"} {
			if err := db.CreateSession(ctx, Session{Hash: h, UserID: "u1", CSRF: "x", CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}); err != nil {
				t.Fatal(err)
			}
		}
		later := now.Add(30 * time.Minute)
		if err := db.TouchSession(ctx, "a", later, later.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		s, _, err := db.SessionUser(ctx, "a", now.Add(time.Hour))
		if err != nil || !s.LastSeenAt.Equal(later) || !s.ExpiresAt.Equal(later.Add(time.Hour)) {
			t.Fatalf("touched session: %+v, %v; want seen %s, expiring %s", s, err, later, later.Add(time.Hour))
		}
		if err := db.DeleteSession(ctx, "b"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := db.SessionUser(ctx, "b", now); err != ErrNotFound {
			t.Fatalf("signed-out session: %v; want ErrNotFound", err)
		}
		if n, err := db.PurgeSessions(ctx, now.Add(time.Hour)); err != nil || n != 1 {
			t.Fatalf("purged %d, %v; want only c (expired at now)", n, err)
		}
		if _, _, err := db.SessionUser(ctx, "a", now.Add(time.Hour)); err != nil {
			t.Fatalf("the touched session was purged: %v", err)
		}
	})
}

// NextDueDelivery is when the earliest waiting delivery is due; running and
// finished ones do not count; zero when nothing waits.
func TestNextDueDelivery(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		if next, err := db.NextDueDelivery(ctx); err != nil || !next.IsZero() {
			t.Fatalf("empty queue: %s, %v; want zero", next, err)
		}
		t0 := time.Now().UTC().Truncate(time.Microsecond)
		mk := func(id, st string, at time.Time) Delivery {
			d := newDel(id, "ev", at)
			d.State = st
			return d
		}
		seedEvent(t, db, "ev",
			mk("running", DeliveryRunning, t0.Add(-time.Hour)), mk("dead", DeliveryDead, t0.Add(-time.Hour)),
			mk("done", DeliverySucceeded, t0.Add(-time.Hour)), mk("later", DeliveryPending, t0.Add(time.Hour)),
			mk("retry", DeliveryFailed, t0.Add(time.Minute)))
		if next, err := db.NextDueDelivery(ctx); err != nil || !next.Equal(t0.Add(time.Minute)) {
			t.Fatalf("next due = %s, %v; want the failed one's retry at %s", next, err, t0.Add(time.Minute))
		}
	})
}

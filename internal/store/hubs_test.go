package store

import (
	"context"
	"testing"
	"time"
)

func regHub(t *testing.T, db *DB, id string, pid int, at time.Time) {
	t.Helper()
	if _, err := db.RegisterHub(context.Background(), Hub{ID: id, Host: "h", PID: pid, StartedAt: at, HeartbeatAt: at}, nil); err != nil {
		t.Fatal(err)
	}
}

// twoHubs registers hubs A and B at now and seeds event ev1 with a
// delivery for each of ids.
func twoHubs(t *testing.T, db *DB, now time.Time, ids ...string) {
	t.Helper()
	regHub(t, db, "A", 1, now)
	regHub(t, db, "B", 2, now)
	var ds []Delivery
	for _, id := range ids {
		ds = append(ds, newDel(id, "ev1", now))
	}
	seedEvent(t, db, "ev1", ds...)
}

// The claims of a hub that stopped beating are taken back at once, not
// after their lease; its late outcome is fenced and the new claim's wins.
func TestDeadHubClaimsReleasedAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx, now := context.Background(), time.Now().Truncate(time.Microsecond)
		twoHubs(t, db, now, "d1")
		lease := 90 * time.Second
		cs, err := db.ClaimDeliveriesFor(ctx, "A", now, lease, 10)
		if err != nil || len(cs) != 1 {
			t.Fatalf("A claims: %v %v", cs, err)
		}
		// A is alive (heartbeat within 5 s): nothing is taken back.
		at := now.Add(4 * time.Second)
		if ok, err := db.HubHeartbeat(ctx, "B", at); !ok || err != nil {
			t.Fatalf("B heartbeat: %v %v", ok, err)
		}
		if n, err := db.ReleaseDeadHubs(ctx, at, at.Add(-5*time.Second)); n != 0 || err != nil {
			t.Fatalf("released %d (%v) of a live hub", n, err)
		}
		if cs, _ := db.ClaimDeliveriesFor(ctx, "B", at, lease, 10); len(cs) != 0 {
			t.Fatalf("B claimed a live hub's delivery before its lease: %+v", cs)
		}
		// A misses its heartbeats: 6 s later B takes its claim back at once.
		at = now.Add(6 * time.Second)
		db.HubHeartbeat(ctx, "B", at)
		if n, err := db.ReleaseDeadHubs(ctx, at, at.Add(-5*time.Second)); n != 1 || err != nil {
			t.Fatalf("released %d (%v); want A's one claim", n, err)
		}
		hubs, _ := db.Hubs(ctx)
		if len(hubs) != 1 || hubs[0].ID != "B" {
			t.Fatalf("hubs after release: %+v; want only B", hubs)
		}
		// A resumes (it was paused) and reports success before anyone claimed
		// d1 again: fenced all the same (the claim is no longer A's), and d1
		// stays due.
		late := Outcome{Attempt: Attempt{DeliveryID: "d1", N: 1, At: now, Status: 200}, State: DeliverySucceeded}
		fenced, err := db.CompleteDeliveriesFor(ctx, "A", at, []Outcome{late})
		if err != nil || len(fenced) != 1 || fenced[0] != "d1" {
			t.Fatalf("A's late outcome: fenced %v, %v; want d1 fenced", fenced, err)
		}
		cs, err = db.ClaimDeliveriesFor(ctx, "B", at, lease, 10)
		if err != nil || len(cs) != 1 || cs[0].ID != "d1" || cs[0].Attempts != 2 {
			t.Fatalf("B claims A's delivery: %+v %v", cs, err)
		}
		// And after B claimed it.
		if fenced, err := db.CompleteDeliveriesFor(ctx, "A", at, []Outcome{late}); err != nil || len(fenced) != 1 {
			t.Fatalf("A's late outcome after B's claim: fenced %v, %v; want d1 fenced", fenced, err)
		}
		if d, _ := db.Delivery(ctx, "d1"); d.State != DeliveryRunning || d.Attempts != 2 {
			t.Fatalf("A's fenced outcome changed the delivery: %+v", d)
		}
		mine := Outcome{Attempt: Attempt{DeliveryID: "d1", N: 2, At: at, Status: 500, Error: "boom"}, State: DeliveryFailed, Next: at.Add(time.Second), LastError: "boom"}
		if fenced, err := db.CompleteDeliveriesFor(ctx, "B", at, []Outcome{mine}); len(fenced) != 0 || err != nil {
			t.Fatalf("B's outcome: fenced %v, %v", fenced, err)
		}
		if d, _ := db.Delivery(ctx, "d1"); d.State != DeliveryFailed || d.LastError != "boom" {
			t.Fatalf("after B's outcome: %+v", d)
		}
	})
}

// A hub leaving (clean shutdown) releases what it still holds at once;
// claims made without an identity are left to their lease.
func TestRemovedHubClaimsReleased(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx, now := context.Background(), time.Now().Truncate(time.Microsecond)
		twoHubs(t, db, now, "d1", "d2")
		if cs, _ := db.ClaimDeliveriesFor(ctx, "A", now, time.Hour, 1); len(cs) != 1 {
			t.Fatalf("A's claim: %+v", cs)
		}
		if cs, _ := db.ClaimDeliveriesFor(ctx, "", now, time.Hour, 1); len(cs) != 1 {
			t.Fatalf("anonymous claim: %+v", cs)
		}
		if n, err := db.RemoveHub(ctx, "A", now); n != 1 || err != nil {
			t.Fatalf("A leaving released %d (%v); want its one claim", n, err)
		}
		if n, err := db.ReleaseDeadHubs(ctx, now, now.Add(-5*time.Second)); n != 0 || err != nil {
			t.Fatalf("released %d (%v); want none", n, err)
		}
		cs, _ := db.ClaimDeliveriesFor(ctx, "B", now, time.Hour, 10)
		if len(cs) != 1 {
			t.Fatalf("B claims %+v; want A's delivery only", cs)
		}
		if hs, _ := db.Hubs(ctx); len(hs) != 1 || hs[0].ID != "B" {
			t.Fatalf("hubs %+v; want B only", hs)
		}
	})
}

// A live hub's claims are bounded by their lease (a hub stuck on a slow
// receiver), and a live hub extending its lease keeps them.
func TestLiveHubClaimsBoundByLease(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx, now := context.Background(), time.Now().Truncate(time.Microsecond)
		twoHubs(t, db, now, "d1", "d2")
		lease := 90 * time.Second
		if cs, _ := db.ClaimDeliveriesFor(ctx, "A", now, lease, 10); len(cs) != 2 {
			t.Fatalf("A claims %+v", cs)
		}
		// A extends d1 at 50 s (its attempt still runs), not d2.
		if err := db.ExtendLeases(ctx, "A", []string{"d1"}, now.Add(50*time.Second+lease)); err != nil {
			t.Fatal(err)
		}
		// B may not extend A's claims.
		if err := db.ExtendLeases(ctx, "B", []string{"d2"}, now.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		at := now.Add(91 * time.Second)
		db.HubHeartbeat(ctx, "A", at)
		db.HubHeartbeat(ctx, "B", at)
		if n, _ := db.ReleaseDeadHubs(ctx, at, at.Add(-5*time.Second)); n != 0 {
			t.Fatalf("released %d claims of a live hub", n)
		}
		cs, _ := db.ClaimDeliveriesFor(ctx, "B", at, lease, 10)
		if len(cs) != 1 || cs[0].ID != "d2" {
			t.Fatalf("B after d2's lease: %+v; want d2 only (d1's lease was extended)", cs)
		}
		if cs, _ := db.ClaimDeliveriesFor(ctx, "B", now.Add(141*time.Second), lease, 10); len(cs) != 1 || cs[0].ID != "d1" {
			t.Fatalf("B after d1's extended lease: %+v", cs)
		}
	})
}

// A hub restarting on the same host removes its earlier process's row, so
// that process's claims are taken back at once.
func TestRegisterRemovesEarlierProcess(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		now := time.Now().Truncate(time.Microsecond)
		regHub(t, db, "old", 41, now)
		regHub(t, db, "other", 42, now)
		seedEvent(t, db, "ev1", newDel("d1", "ev1", now))
		if cs, _ := db.ClaimDeliveriesFor(ctx, "old", now, time.Hour, 10); len(cs) != 1 {
			t.Fatalf("claim %+v", cs)
		}
		at := now.Add(100 * time.Millisecond)
		dead := func(h Hub) bool { return h.PID == 41 }
		if n, err := db.RegisterHub(ctx, Hub{ID: "new", Host: "h", PID: 43, StartedAt: at, HeartbeatAt: at}, dead); n != 1 || err != nil {
			t.Fatalf("registering released %d (%v); want the earlier process's claim", n, err)
		}
		if cs, _ := db.ClaimDeliveriesFor(ctx, "new", at, time.Hour, 10); len(cs) != 1 {
			t.Fatalf("the restarted hub claims %+v", cs)
		}
		hubs, _ := db.Hubs(ctx)
		if len(hubs) != 2 || hubs[0].ID != "other" && hubs[1].ID != "other" {
			t.Fatalf("hubs %+v; the other live hub must stay", hubs)
		}
	})
}

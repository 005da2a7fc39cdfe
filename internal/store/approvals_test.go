package store

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"
)

// A button works once: of many concurrent claims of one approval request
// exactly one wins; a failed call releases the claim; a decided request
// stays decided; a deciding claim left by a dead hub is taken over.
func TestApprovalClaimOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		u := ApprovalUse{Nonce: "n1", PostID: "p1", Model: "purchase.order", RecordID: 7, Op: "approve", ClaimedAt: now}
		var wg sync.WaitGroup
		var mu sync.Mutex
		won := 0
		for i := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				v := u
				v.Actor = fmt.Sprint("user", i)
				ok, _, err := db.ClaimApproval(ctx, v, now.Add(-time.Minute))
				if err != nil {
					t.Error(err)
				}
				if ok {
					mu.Lock()
					won++
					mu.Unlock()
				}
			}()
		}
		wg.Wait()
		if won != 1 {
			t.Fatalf("%d concurrent claims won, want exactly 1", won)
		}
		ok, cur, err := db.ClaimApproval(ctx, u, now.Add(-time.Minute))
		if ok || err != nil || cur.State != ApprovalDeciding || cur.RecordID != 7 {
			t.Fatalf("claim of a deciding request = %v %+v %v", ok, cur, err)
		}
		// Released (Odoo refused): usable again.
		if err := db.ReleaseApproval(ctx, "n1"); err != nil {
			t.Fatal(err)
		}
		if _, err := db.ApprovalUse(ctx, "n1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("released use still there: %v", err)
		}
		u.Actor = "alice"
		if ok, _, err := db.ClaimApproval(ctx, u, now.Add(-time.Minute)); !ok || err != nil {
			t.Fatalf("claim after release = %v %v", ok, err)
		}
		if err := db.FinishApproval(ctx, "n1", ApprovalDecided, "approved", now); err != nil {
			t.Fatal(err)
		}
		// Decided: never claimed again, however old.
		if ok, cur, err := db.ClaimApproval(ctx, u, now.Add(time.Hour)); ok || err != nil || cur.State != ApprovalDecided || cur.Actor != "alice" {
			t.Fatalf("claim of a decided request = %v %+v %v", ok, cur, err)
		}
		// A deciding claim older than staleBefore is taken over.
		old := ApprovalUse{Nonce: "n2", Model: "m.x", RecordID: 1, Op: "reject", Actor: "bob", ClaimedAt: now.Add(-time.Hour)}
		if ok, _, err := db.ClaimApproval(ctx, old, now.Add(-2*time.Hour)); !ok || err != nil {
			t.Fatal(ok, err)
		}
		old.Actor, old.ClaimedAt = "carol", now
		if ok, _, err := db.ClaimApproval(ctx, old, now.Add(-time.Minute)); !ok || err != nil {
			t.Fatalf("take-over of a dead claim = %v %v", ok, err)
		}
		if cur, _ := db.ApprovalUse(ctx, "n2"); cur.Actor != "carol" || cur.State != ApprovalDeciding {
			t.Fatalf("after take-over: %+v", cur)
		}
	})
}

package delivery

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/storetest"
)

// A live hub extends the lease of a long attempt while it runs (so no other
// hub takes it back), beats in the hubs table while it runs, and removes its
// row when it stops.
func TestLongAttemptLeaseExtended(t *testing.T) {
	for _, kind := range []string{store.SQLite, store.Postgres} {
		t.Run(kind, func(t *testing.T) {
			ctx := context.Background()
			db := storetest.Open(t, storetest.URL(t, kind))
			now := time.Now()
			err := db.InTx(ctx, func(tx *store.Tx) error {
				if err := tx.InsertEvents(ctx, []store.Event{{ID: "ev", Source: "s", Type: "t", ReceivedAt: now, IdempotencyKey: "k", Payload: "{}"}}); err != nil {
					return err
				}
				return tx.InsertDeliveries(ctx, []store.Delivery{{ID: "d", EventID: "ev", Kind: "slow", State: store.DeliveryPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}})
			})
			if err != nil {
				t.Fatal(err)
			}
			const lease = 3 * time.Second
			started, finish := make(chan struct{}), make(chan struct{})
			d := NewDispatcher(db, nil, nil, nil, Options{Lease: lease, Heartbeat: 100 * time.Millisecond, Poll: 20 * time.Millisecond})
			// The hub's clock, which the test moves on instead of waiting.
			var ahead atomic.Int64
			d.now = func() time.Time { return time.Now().Add(time.Duration(ahead.Load())) }
			d.Register("slow", ExecutorFunc(func(ctx context.Context, c *store.Claimed) Result {
				close(started)
				select {
				case <-finish:
					return Result{Status: 200}
				case <-ctx.Done():
					return Result{Err: ctx.Err()}
				}
			}))
			runCtx, stop := context.WithCancel(ctx)
			done := make(chan struct{})
			go func() { d.Run(runCtx); close(done) }()
			<-started
			first, err := db.Delivery(ctx, "d")
			if err != nil || first.State != store.DeliveryRunning {
				t.Fatalf("claimed: %+v %v", first, err)
			}
			if hs, _ := db.Hubs(ctx); len(hs) != 1 || hs[0].ID != d.HubID() {
				t.Fatalf("hubs while running: %+v; want this hub", hs)
			}
			// Past half its lease, the claim is extended at the next beat:
			// before the attempt is cut (at 4/5 of the lease, by the real
			// clock, since it started).
			ahead.Store(int64(lease * 3 / 5))
			deadline := time.Now().Add(lease * 3 / 4)
			for {
				cur, _ := db.Delivery(ctx, "d")
				if cur.LeaseUntil.After(first.LeaseUntil) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("lease not extended while the attempt ran: still %v", cur.LeaseUntil)
				}
				time.Sleep(20 * time.Millisecond)
			}
			close(finish)
			deadline = time.Now().Add(10 * time.Second)
			for {
				if cur, _ := db.Delivery(ctx, "d"); cur.State == store.DeliverySucceeded {
					break
				}
				if time.Now().After(deadline) {
					t.Fatal("outcome not recorded")
				}
				time.Sleep(20 * time.Millisecond)
			}
			stop()
			<-done
			if hs, _ := db.Hubs(ctx); len(hs) != 0 {
				t.Fatalf("hubs after stop: %+v; want none", hs)
			}
		})
	}
}

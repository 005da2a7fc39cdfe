package delivery

import (
	"context"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/storetest"
	"github.com/insightpulseai/ipai/internal/testpg"
)

func TestMain(m *testing.M) { testpg.MainNoLeaks(m) }

// An outcome the database refuses is not recorded, and does not keep the
// others of its batch from being recorded.
func TestRefusedOutcomeDoesNotFailItsBatch(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, storetest.URL(t, store.Postgres))
	now := time.Now()
	var dels []store.Delivery
	for _, id := range []string{"a", "b", "c"} {
		dels = append(dels, store.Delivery{ID: id, EventID: "ev", Kind: "webhook", State: store.DeliveryPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now})
	}
	err := db.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.InsertEvents(ctx, []store.Event{{ID: "ev", Source: "s", Type: "t", ReceivedAt: now, IdempotencyKey: "k", Payload: "{}"}}); err != nil {
			return err
		}
		return tx.InsertDeliveries(ctx, dels)
	})
	if err != nil {
		t.Fatal(err)
	}
	d := NewDispatcher(db, nil, nil, nil, Options{})
	if cs, err := db.ClaimDeliveriesFor(ctx, d.HubID(), now, time.Minute, 10); err != nil || len(cs) != 3 {
		t.Fatalf("claim: %d %v", len(cs), err)
	}
	ok := func(id string) outcome {
		return outcome{o: store.Outcome{Attempt: store.Attempt{DeliveryID: id, N: 1, At: now, Status: 200}, State: store.DeliverySucceeded}}
	}
	bad := ok("b")
	bad.o.Attempt.N = 1 << 40 // out of the attempt number's range: PostgreSQL refuses the row
	d.record([]outcome{ok("a"), bad, ok("c")})
	for id, want := range map[string]string{"a": store.DeliverySucceeded, "b": store.DeliveryRunning, "c": store.DeliverySucceeded} {
		if got, err := db.Delivery(ctx, id); err != nil || got.State != want {
			t.Errorf("delivery %s: %q %v; want %s", id, got.State, err, want)
		}
	}
}

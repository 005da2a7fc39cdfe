package delivery

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/storetest"
)

// /metrics reports the shared queue: deliveries by state and the lag of the
// oldest due one.
func TestQueueMetrics(t *testing.T) {
	ctx := context.Background()
	db := storetest.Open(t, storetest.URL(t, store.SQLite))
	now := time.Now().Truncate(time.Microsecond)
	d := func(id, state string, next time.Time) store.Delivery {
		return store.Delivery{ID: id, EventID: "ev", Kind: "webhook", State: state, NextAttemptAt: next, CreatedAt: now, UpdatedAt: now}
	}
	err := db.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.InsertEvents(ctx, []store.Event{{ID: "ev", Source: "s", Type: "t", ReceivedAt: now, IdempotencyKey: "k", Payload: "{}"}}); err != nil {
			return err
		}
		return tx.InsertDeliveries(ctx, []store.Delivery{d("a", store.DeliveryPending, now.Add(-90*time.Second)),
			d("b", store.DeliveryFailed, now.Add(time.Hour)), d("c", store.DeliveryDead, now)})
	})
	if err != nil {
		t.Fatal(err)
	}
	c := queueCollector{db, func() time.Time { return now }}
	want := `
# HELP ipai_deliveries Deliveries waiting (pending; failed = retry scheduled), running, or dead (dead letter), by state.
# TYPE ipai_deliveries gauge
ipai_deliveries{state="dead"} 1
ipai_deliveries{state="failed"} 1
ipai_deliveries{state="pending"} 1
ipai_deliveries{state="running"} 0
# HELP ipai_delivery_lag_seconds How long the oldest due delivery has been due and not taken (0 when none is): alert on this.
# TYPE ipai_delivery_lag_seconds gauge
ipai_delivery_lag_seconds 90
`
	if err := testutil.CollectAndCompare(c, strings.NewReader(want)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if n := testutil.CollectAndCount(c); n != 0 {
		t.Fatalf("%d metrics from a closed database; want none (and no panic)", n)
	}
}

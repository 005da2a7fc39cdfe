package delivery

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/insightpulseai/ipai/internal/store"
)

var (
	queueDesc = prometheus.NewDesc("ipai_deliveries",
		"Deliveries waiting (pending; failed = retry scheduled), running, or dead (dead letter), by state.", []string{"state"}, nil)
	lagDesc = prometheus.NewDesc("ipai_delivery_lag_seconds",
		"How long the oldest due delivery has been due and not taken (0 when none is): alert on this.", nil, nil)
)

// queueCollector reads the queue's state from the database at each scrape,
// so every hub process reports the shared queue.
type queueCollector struct {
	db  *store.DB
	now func() time.Time
}

func (c queueCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- queueDesc
	ch <- lagDesc
}

// Collect reports nothing when the database does not answer within 2 s:
// /readyz says so, and the process's other metrics are still served.
func (c queueCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	now := c.now()
	q, err := c.db.QueueStats(ctx, now)
	if err != nil {
		return
	}
	for _, s := range []string{store.DeliveryPending, store.DeliveryFailed, store.DeliveryRunning, store.DeliveryDead} {
		ch <- prometheus.MustNewConstMetric(queueDesc, prometheus.GaugeValue, float64(q.Counts[s]), s)
	}
	lag := 0.0
	if !q.OldestDue.IsZero() {
		lag = now.Sub(q.OldestDue).Seconds()
	}
	ch <- prometheus.MustNewConstMetric(lagDesc, prometheus.GaugeValue, lag)
}

package boardsync

import (
	"context"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/store"
)

// BenchmarkChangeCapture measures change capture of 10,000 modified Odoo
// records (fake Odoo over HTTP, JSON-RPC) into committed events, per store
// backend; the metric is records/s.
func BenchmarkChangeCapture(b *testing.B) {
	for _, kind := range []string{store.SQLite, store.Postgres} {
		b.Run(kind, func(b *testing.B) {
			const n = 10000
			ctx := context.Background()
			db := openDB(b, kind)
			clk := newClock()
			f, cl := newOdoo(b, clk)
			ids := make([]int, 0, n)
			for i := 0; i < n; i++ {
				ids = append(ids, f.Add("project.task", map[string]any{"name": "task", "priority": "0", "active": true}))
			}
			w := &Watcher{DB: db, Odoo: cl, Source: "odoo", Model: "project.task", Fields: []string{"name", "priority", "stage_id"}, Now: clk.Now}
			if _, err := w.Poll(ctx); err != nil { // start: remember the records
				b.Fatal(err)
			}
			b.ResetTimer()
			var total time.Duration
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				clk.Advance(time.Second)
				if err := cl.Write(ctx, "project.task", ids, map[string]any{"priority": "1"}); err != nil {
					b.Fatal(err)
				}
				b.StartTimer()
				start := time.Now()
				res, err := w.Poll(ctx)
				total += time.Since(start)
				if err != nil || res.Events != n {
					b.Fatalf("poll: %+v %v", res, err)
				}
			}
			b.ReportMetric(float64(n*b.N)/total.Seconds(), "records/s")
		})
	}
}

package store

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/testpg"
)

func openBench(b *testing.B, kind string) *DB {
	url := filepath.Join(b.TempDir(), "ipai.db")
	if kind == Postgres {
		url = testpg.URL(b)
	}
	db, err := Open(context.Background(), url)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(context.Background()); err != nil {
		b.Fatal(err)
	}
	return db
}

// BenchmarkClaimComplete: claim 100 due deliveries and record their
// outcomes, from a backlog of 10,000 (one op = one delivery).
func BenchmarkClaimComplete(b *testing.B) {
	for _, kind := range []string{SQLite, Postgres} {
		b.Run(kind, func(b *testing.B) {
			ctx := context.Background()
			db := openBench(b, kind)
			now := time.Now().Truncate(time.Microsecond)
			seed := func(from, n int) {
				err := db.InTx(ctx, func(tx *Tx) error {
					if err := tx.InsertEvents(ctx, []Event{{ID: fmt.Sprintf("ev%d", from), Source: "s", Type: "t", ReceivedAt: now, IdempotencyKey: fmt.Sprint(from), Payload: `{}`}}); err != nil {
						return err
					}
					ds := make([]Delivery, n)
					for i := range ds {
						ds[i] = newDel(fmt.Sprintf("d%09d", from+i), fmt.Sprintf("ev%d", from), now)
					}
					return tx.InsertDeliveries(ctx, ds)
				})
				if err != nil {
					b.Fatal(err)
				}
			}
			total := max(b.N, 10000)
			for i := 0; i < total; i += 1000 {
				seed(i, min(1000, total-i))
			}
			b.ResetTimer()
			start := time.Now()
			done := 0
			for done < b.N {
				cs, err := db.ClaimDeliveries(ctx, now.Add(time.Second), time.Minute, 100)
				if err != nil || len(cs) == 0 {
					b.Fatalf("claim: %d %v", len(cs), err)
				}
				outs := make([]Outcome, len(cs))
				for i, c := range cs {
					outs[i] = Outcome{Attempt: Attempt{DeliveryID: c.ID, N: c.Attempts, At: now, Status: 200}, State: DeliverySucceeded}
				}
				if err := db.CompleteDeliveries(ctx, now, outs); err != nil {
					b.Fatal(err)
				}
				done += len(cs)
			}
			b.ReportMetric(float64(done)/time.Since(start).Seconds(), "deliveries/s")
		})
	}
}

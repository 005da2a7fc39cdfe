package store

import (
	"context"
	"time"
)

// DeliveryBucket counts the deliveries created in one time bucket, by state.
type DeliveryBucket struct {
	Start  time.Time
	States map[string]int64
}

// DeliveryBuckets counts deliveries created in [since, since+n*width) in n
// buckets of width, by state (for the dashboard chart).
func (db *DB) DeliveryBuckets(ctx context.Context, since time.Time, width time.Duration, n int) ([]DeliveryBucket, error) {
	out := make([]DeliveryBucket, n)
	for i := range out {
		out[i] = DeliveryBucket{Start: since.Add(time.Duration(i) * width), States: map[string]int64{}}
	}
	from, w := Micros(since), width.Microseconds()
	rows, err := db.Query(ctx, `SELECT (created_at - ?) / ?, state, count(*) FROM deliveries
		WHERE created_at >= ? AND created_at < ? GROUP BY 1, 2`,
		from, w, from, from+w*int64(n))
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var b, c int64
		var st string
		if err := rows.Scan(&b, &st, &c); err != nil {
			return nil, err
		}
		if b >= 0 && b < int64(n) {
			out[b].States[st] += c
		}
	}
	return out, rows.Err()
}

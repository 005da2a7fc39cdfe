package connector

import (
	"context"
	"sync"
	"time"
)

// TestMany runs Test Connection of several connectors concurrently, each
// bounded by timeout, with at most limit in flight (0 or less: all at once).
// Reports come back in the order of cs.
func TestMany(ctx context.Context, cs []Connector, timeout time.Duration, limit int) []Report {
	out := make([]Report, len(cs))
	if limit <= 0 || limit > len(cs) {
		limit = len(cs)
	}
	sem := make(chan struct{}, limit)
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			out[i] = Test(ctx, c, timeout)
		}()
	}
	wg.Wait()
	return out
}

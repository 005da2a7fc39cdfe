// Package loop runs a job on a schedule until its context is done: the one
// "every d until ctx is done" of the hub's background workers (upkeep,
// endpoint reload, rules watch, dispatcher heartbeat, connector health,
// board sync, n8n workflow sync). It imports nothing of ipai, so any package
// may use it.
package loop

import (
	"context"
	"time"
)

// Every calls f after first, then every d, until ctx is done, and returns
// when ctx is done and f is not running. Calls never overlap: like a
// time.Ticker, the next call is due d after the previous one started, and
// a call that took longer than d is followed at once by the next (the
// periods missed meanwhile are dropped, not caught up). first may be 0 (f
// runs at once); d must be positive. f is not called once ctx is done.
func Every(ctx context.Context, first, d time.Duration, f func(context.Context)) {
	if d <= 0 {
		panic("loop.Every: period must be positive")
	}
	t := time.NewTimer(first)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if ctx.Err() != nil {
			return
		}
		start := time.Now()
		f(ctx)
		t.Reset(max(0, d-time.Since(start)))
	}
}

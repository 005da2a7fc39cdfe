package delivery

import (
	"context"
	"time"

	"github.com/insightpulseai/ipai/internal/store"
)

// Result is the outcome of one attempt.
type Result struct {
	Status     int           // HTTP status from the target, 0 if none
	Response   string        // response snippet (cut to 4 KiB)
	Err        error         // nil on success
	RetryAfter time.Duration // the target asked to wait this long (429/503 Retry-After)
	Permanent  bool          // retrying cannot help: the delivery goes dead now
}

// Executor performs one attempt of a delivery of its kind. Executors must
// honour ctx (the attempt's timeout) and must not retry by themselves: the
// dispatcher owns retries, attempt records and dead letters.
type Executor interface {
	Execute(ctx context.Context, c *store.Claimed) Result
}

// ExecutorFunc adapts a function to Executor.
type ExecutorFunc func(ctx context.Context, c *store.Claimed) Result

// Execute calls f.
func (f ExecutorFunc) Execute(ctx context.Context, c *store.Claimed) Result { return f(ctx, c) }

package event

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"time"

	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/store"
)

// IngestTx stores events inside the caller's transaction, exactly as the
// Ingester does (dedupe by source and idempotency key within the window,
// insert, plan deliveries), so that callers can commit other state — a
// change-capture cursor — atomically with the events it produced. It
// returns one Result per request (in the order given) and the number of
// deliveries enqueued; wake the dispatcher after the commit.
func IngestTx(ctx context.Context, tx *store.Tx, router *rule.Router, now time.Time, reqs []Request) ([]Result, int, error) {
	b, claimOf, err := plan(router, now, reqs)
	if err != nil {
		return nil, 0, err
	}
	st, err := tx.StoreEvents(ctx, b)
	if err != nil {
		return nil, 0, err
	}
	return results(claimOf, st), st.Deliveries, nil
}

// plan turns requests into a batch: one key claim and candidate event per
// distinct (source, key), in a stable key order (concurrent transactions
// then never deadlock on the dedupe index), and the deliveries each event
// would cause. claimOf maps a request to its claim, or to -1-c when it
// repeats claim c within the batch.
func plan(router *rule.Router, now time.Time, reqs []Request) (store.EventBatch, []int, error) {
	now = now.UTC()
	order := make([]int, len(reqs))
	for i := range reqs {
		r := &reqs[i]
		if r.Source == "" || r.Type == "" {
			return store.EventBatch{}, nil, errors.New("ingest: source and type are required")
		}
		if r.IdemKey == "" {
			r.IdemKey = bodyKey(r.Payload)
		}
		order[i] = i
	}
	slices.SortFunc(order, func(i, j int) int {
		a, b := &reqs[i], &reqs[j]
		return cmp.Or(strings.Compare(a.Source, b.Source), strings.Compare(a.IdemKey, b.IdemKey))
	})
	claimOf := make([]int, len(reqs))
	b := store.EventBatch{Now: now, Claims: make([]store.KeyClaim, 0, len(reqs)), Events: make([]store.Event, 0, len(reqs))}
	for n, i := range order {
		r := reqs[i]
		if n > 0 {
			// In key order a repeated key follows its first request, whose
			// claim is the last one made.
			if p := reqs[order[n-1]]; p.Source == r.Source && p.IdemKey == r.IdemKey {
				claimOf[i] = -len(b.Claims)
				continue
			}
		}
		window := r.Window
		if window <= 0 {
			window = DefaultWindow
		}
		claimOf[i] = len(b.Claims)
		ev := store.Event{ID: NewEventID(), Source: r.Source, Type: r.Type, HookID: r.HookID, ReceivedAt: now, IdempotencyKey: r.IdemKey, Payload: string(r.Payload)}
		b.Claims = append(b.Claims, store.KeyClaim{Source: r.Source, Key: r.IdemKey, EventID: ev.ID, Expires: now.Add(window)})
		b.Events = append(b.Events, ev)
		if router != nil {
			b.Deliveries = append(b.Deliveries, router.Route(&ev, now)...)
		}
	}
	return b, claimOf, nil
}

// results maps what the store did back to the requests.
func results(claimOf []int, st store.Stored) []Result {
	res := make([]Result, len(claimOf))
	for i, c := range claimOf {
		if c < 0 {
			res[i] = Result{EventID: st.IDs[-1-c], Duplicate: true}
			continue
		}
		res[i] = Result{EventID: st.IDs[c], Duplicate: st.Dups[c]}
	}
	return res
}

// bodyKey is the idempotency key of a request that names none.
func bodyKey(payload []byte) string {
	sum := sha256.Sum256(payload)
	return "sha256:" + hex.EncodeToString(sum[:])
}

package inbound

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sort"
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
	now = now.UTC()
	order := make([]int, len(reqs))
	for i := range reqs {
		r := &reqs[i]
		if r.Source == "" || r.Type == "" {
			return nil, 0, errors.New("ingest: source and type are required")
		}
		if r.IdemKey == "" {
			r.IdemKey = bodyKey(r.Payload)
		}
		order[i] = i
	}
	// A stable key order keeps concurrent transactions from deadlocking on
	// the dedupe index.
	sort.Slice(order, func(i, j int) bool {
		a, b := reqs[order[i]], reqs[order[j]]
		return a.Source < b.Source || (a.Source == b.Source && a.IdemKey < b.IdemKey)
	})
	// One claim per distinct key; a later request with the same key is a
	// duplicate of the first.
	type sk struct{ s, k string }
	first := map[sk]int{}
	claimOf := make([]int, len(reqs)) // request -> claim; -1-c for a repeat of claim c
	var claims []store.KeyClaim
	for _, i := range order {
		r := reqs[i]
		key := sk{r.Source, r.IdemKey}
		if c, ok := first[key]; ok {
			claimOf[i] = -1 - c
			continue
		}
		window := r.Window
		if window <= 0 {
			window = DefaultWindow
		}
		first[key] = len(claims)
		claimOf[i] = len(claims)
		claims = append(claims, store.KeyClaim{Source: r.Source, Key: r.IdemKey, EventID: NewEventID(), Expires: now.Add(window)})
	}
	ids, dups, err := tx.ClaimEventKeys(ctx, claims, now)
	if err != nil {
		return nil, 0, err
	}
	res := make([]Result, len(reqs))
	var evs []store.Event
	var dels []store.Delivery
	for _, i := range order {
		c := claimOf[i]
		if c < 0 {
			res[i] = Result{EventID: ids[-1-c], Duplicate: true}
			continue
		}
		res[i] = Result{EventID: ids[c], Duplicate: dups[c]}
		if dups[c] {
			continue
		}
		r := reqs[i]
		ev := store.Event{ID: ids[c], Source: r.Source, Type: r.Type, HookID: r.HookID, ReceivedAt: now, IdempotencyKey: r.IdemKey, Payload: string(r.Payload)}
		evs = append(evs, ev)
		if router != nil {
			dels = append(dels, router.Route(&ev, now)...)
		}
	}
	if err := tx.InsertEvents(ctx, evs); err != nil {
		return nil, 0, err
	}
	if err := tx.InsertDeliveries(ctx, dels); err != nil {
		return nil, 0, err
	}
	return res, len(dels), nil
}

// bodyKey is the idempotency key of a request that names none.
func bodyKey(payload []byte) string {
	sum := sha256.Sum256(payload)
	return "sha256:" + hex.EncodeToString(sum[:])
}

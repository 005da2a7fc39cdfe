package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Event is something that entered the hub.
type Event struct {
	ID             string
	Source         string
	Type           string
	HookID         string
	ReceivedAt     time.Time
	IdempotencyKey string
	Payload        string // raw JSON
}

const eventCols = "id, source, type, hook_id, received_at, idempotency_key, payload"

func scanEvent(s scanner) (Event, error) {
	var e Event
	var at int64
	err := s.Scan(&e.ID, &e.Source, &e.Type, &e.HookID, &at, &e.IdempotencyKey, &e.Payload)
	e.ReceivedAt = Time(at)
	return e, err
}

// KeyClaim asks for (Source, Key) to be reserved for EventID until Expires.
type KeyClaim struct {
	Source, Key, EventID string
	Expires              time.Time
}

// ClaimEventKeys reserves each claim's (source, key) for its event until
// its expiry, in two statements. It returns, per claim, the id of the event
// holding the key and whether that is an earlier event (a duplicate: the
// key was held and unexpired, nothing is written). Keys must be distinct
// within one call.
func (tx *Tx) ClaimEventKeys(ctx context.Context, claims []KeyClaim, now time.Time) ([]string, []bool, error) {
	ids := make([]string, len(claims))
	dups := make([]bool, len(claims))
	if len(claims) == 0 {
		return ids, dups, nil
	}
	type sk struct{ s, k string }
	idx := make(map[sk]int, len(claims))
	const per = 200
	for start := 0; start < len(claims); start += per {
		end := min(start+per, len(claims))
		args := make([]any, 0, (end-start)*4+1)
		for i := start; i < end; i++ {
			c := claims[i]
			idx[sk{c.Source, c.Key}] = i
			args = append(args, c.Source, c.Key, c.EventID, Micros(c.Expires))
		}
		args = append(args, Micros(now))
		err := keyRows(tx.Query(ctx, `INSERT INTO event_keys (source, idempotency_key, event_id, expires_at) VALUES `+
			strings.TrimSuffix(strings.Repeat("(?,?,?,?),", end-start), ",")+`
			ON CONFLICT (source, idempotency_key) DO UPDATE SET event_id = excluded.event_id, expires_at = excluded.expires_at
			WHERE event_keys.expires_at <= ? RETURNING source, idempotency_key, event_id`, args...))(func(s, k, id string) {
			ids[idx[sk{s, k}]] = id
		})
		if err != nil {
			return nil, nil, err
		}
	}
	// Keys not claimed are held by an earlier event: look those up.
	for i := range claims {
		dups[i] = ids[i] == ""
	}
	return ids, dups, keyHolders(ctx, tx, claims, dups, ids)
}

// keyHolders fills ids[i], for each i with held[i], with the id of the event
// holding claims[i]'s key.
func keyHolders(ctx context.Context, q Querier, claims []KeyClaim, held []bool, ids []string) error {
	const per = 200
	type sk struct{ s, k string }
	idx := map[sk]int{}
	var args []any
	for i, c := range claims {
		if held[i] {
			idx[sk{c.Source, c.Key}] = i
			args = append(args, c.Source, c.Key)
		}
	}
	for start := 0; start < len(args); start += 2 * per {
		end := min(start+2*per, len(args))
		err := keyRows(q.Query(ctx, "SELECT source, idempotency_key, event_id FROM event_keys WHERE (source, idempotency_key) IN (VALUES "+
			strings.TrimSuffix(strings.Repeat("(?,?),", (end-start)/2), ",")+")", args[start:end]...))(func(s, k, id string) {
			ids[idx[sk{s, k}]] = id
		})
		if err != nil {
			return err
		}
	}
	for i, c := range claims {
		if held[i] && ids[i] == "" {
			// The key expired and was purged between the claim and the lookup.
			return fmt.Errorf("event key %q of %q: its holder is gone; retry", c.Key, c.Source)
		}
	}
	return nil
}

// keyRows reads (source, key, event_id) rows, calling fn for each.
func keyRows(rows *sql.Rows, err error) func(fn func(s, k, id string)) error {
	return func(fn func(s, k, id string)) error {
		if err != nil {
			return err
		}
		defer rows.Close()
		for rows.Next() {
			var s, k, id string
			if err := rows.Scan(&s, &k, &id); err != nil {
				return err
			}
			fn(s, k, id)
		}
		return rows.Err()
	}
}

// InsertEvents stores events in one statement per 200.
func (tx *Tx) InsertEvents(ctx context.Context, evs []Event) error {
	return insertMany(ctx, tx, "events", eventCols, 7, len(evs), func(i int) []any {
		e := evs[i]
		return []any{e.ID, e.Source, e.Type, e.HookID, Micros(e.ReceivedAt), e.IdempotencyKey, e.Payload}
	})
}

// insertMany runs multi-row INSERTs of n rows, per rows at a time.
func insertMany(ctx context.Context, q Querier, table, cols string, ncols, n int, row func(i int) []any) error {
	return execMany(ctx, q, "insert "+table, "INSERT INTO "+table+" ("+cols+") VALUES %s", "(?"+strings.Repeat(",?", ncols-1)+")", nil, n, row)
}

// execMany runs stmt (with %s standing for the rows) for n rows, 200 at a
// time; each row is tuple with the values row(i) returns, followed by tail.
func execMany(ctx context.Context, q Querier, what, stmt, tuple string, tail []any, n int, row func(i int) []any) error {
	const per = 200
	for start := 0; start < n; start += per {
		end := min(start+per, n)
		var args []any
		for i := start; i < end; i++ {
			args = append(args, row(i)...)
		}
		args = append(args, tail...)
		if _, err := q.Exec(ctx, fmt.Sprintf(stmt, strings.TrimSuffix(strings.Repeat(tuple+",", end-start), ",")), args...); err != nil {
			return fmt.Errorf("%s: %w", what, err)
		}
	}
	return nil
}

// Event returns one event.
func (db *DB) Event(ctx context.Context, id string) (Event, error) {
	return scanEvent(db.QueryRow(ctx, "SELECT "+eventCols+" FROM events WHERE id = ?", id))
}

// EventFilter selects events, newest first; Before is the id cursor.
type EventFilter struct {
	HookID, Source, Type string
	Before               string
	Limit                int
}

// ListEvents returns events matching f, newest first.
func (db *DB) ListEvents(ctx context.Context, f EventFilter) ([]Event, error) {
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{{"hook_id", f.HookID}, {"source", f.Source}, {"type", f.Type}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	if f.Before != "" {
		where = append(where, "id < ?")
		args = append(args, f.Before)
	}
	q := "SELECT " + eventCols + " FROM events"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	if f.Limit <= 0 {
		f.Limit = 50
	}
	rows, err := db.Query(ctx, q+fmt.Sprintf(" ORDER BY id DESC LIMIT %d", f.Limit), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Event
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

// PurgeEventKeys deletes dedupe keys whose window has passed.
func (db *DB) PurgeEventKeys(ctx context.Context, now time.Time) (int64, error) {
	res, err := db.Exec(ctx, "DELETE FROM event_keys WHERE expires_at <= ?", Micros(now))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// CountEvents returns the number of stored events.
func (db *DB) CountEvents(ctx context.Context) (int64, error) {
	var n int64
	err := db.QueryRow(ctx, "SELECT count(*) FROM events").Scan(&n)
	return n, err
}

// Purged counts what PurgeEvents deleted.
type Purged struct{ Events, Deliveries, Attempts int64 }

// PurgeEvents deletes events received before cutoff whose deliveries are
// all finished (succeeded or dead), together with those deliveries and
// their attempts, in transactions of at most 500 events. An event with a
// delivery still pending, failed (to be retried) or running is kept, also
// when a replay revives a delivery while the purge runs: the deliveries are
// locked before they are deleted.
func (db *DB) PurgeEvents(ctx context.Context, cutoff time.Time) (Purged, error) {
	const per = 500
	var total Purged
	lock := ""
	if db.kind == Postgres {
		lock = " FOR UPDATE"
	}
	for ctx.Err() == nil {
		var ids []any
		rows, err := db.Query(ctx, fmt.Sprintf(`SELECT id FROM events e WHERE e.received_at < ? AND NOT EXISTS
			(SELECT 1 FROM deliveries d WHERE d.event_id = e.id AND d.state NOT IN ('succeeded','dead'))
			ORDER BY e.received_at LIMIT %d`, per), Micros(cutoff))
		if err != nil {
			return total, err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return total, err
			}
			ids = append(ids, id)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return total, err
		}
		if len(ids) == 0 {
			break
		}
		in := "(" + strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",") + ")"
		var got Purged
		err = db.InTx(ctx, func(tx *Tx) error {
			got = Purged{}
			drows, err := tx.Query(ctx, "SELECT id FROM deliveries WHERE event_id IN "+in+" AND state IN ('succeeded','dead')"+lock, ids...)
			if err != nil {
				return err
			}
			var dels []any
			for drows.Next() {
				var id string
				if err := drows.Scan(&id); err != nil {
					drows.Close()
					return err
				}
				dels = append(dels, id)
			}
			drows.Close()
			if err := drows.Err(); err != nil {
				return err
			}
			for start := 0; start < len(dels); start += per {
				chunk := dels[start:min(start+per, len(dels))]
				din := "(" + strings.TrimSuffix(strings.Repeat("?,", len(chunk)), ",") + ")"
				r, err := tx.Exec(ctx, "DELETE FROM delivery_attempts WHERE delivery_id IN "+din, chunk...)
				if err != nil {
					return err
				}
				n, _ := r.RowsAffected()
				got.Attempts += n
				if r, err = tx.Exec(ctx, "DELETE FROM deliveries WHERE id IN "+din, chunk...); err != nil {
					return err
				}
				n, _ = r.RowsAffected()
				got.Deliveries += n
			}
			r, err := tx.Exec(ctx, "DELETE FROM events WHERE id IN "+in+" AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.event_id = events.id)", ids...)
			if err != nil {
				return err
			}
			got.Events, _ = r.RowsAffected()
			return nil
		})
		if err != nil {
			return total, err
		}
		total.Events, total.Deliveries, total.Attempts = total.Events+got.Events, total.Deliveries+got.Deliveries, total.Attempts+got.Attempts
		if len(ids) < per || got.Events == 0 {
			break
		}
	}
	return total, ctx.Err()
}

package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// Delivery states. A delivery is claimable while pending or failed (a retry
// is scheduled) and due; running ones whose lease ran out (their worker
// died) are claimable again.
const (
	DeliveryPending   = "pending"
	DeliveryRunning   = "running"
	DeliveryFailed    = "failed"
	DeliverySucceeded = "succeeded"
	DeliveryDead      = "dead"
)

// Delivery is one durable job: an event to one target.
type Delivery struct {
	ID            string
	EventID       string
	Kind          string // "webhook", or a rule action kind such as "mattermost.post"
	EndpointID    string // outgoing webhook for kind webhook
	RuleID        string
	Action        string // the rule action's JSON spec
	OrderedKey    string // deliveries with the same key run one at a time, in order
	State         string
	Attempts      int
	RoundBase     int // attempts before the last replay; the retry schedule counts from here
	NextAttemptAt time.Time
	LeaseUntil    time.Time
	LastStatus    int
	LastError     string
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

const deliveryCols = "id, event_id, kind, endpoint_id, rule_id, action, ordered_key, state, attempts, round_base, next_attempt_at, lease_until, last_status, last_error, created_at, updated_at"

func scanDelivery(s scanner) (Delivery, error) {
	var d Delivery
	var ordered sql.NullString
	var next, lease, created, updated int64
	err := s.Scan(&d.ID, &d.EventID, &d.Kind, &d.EndpointID, &d.RuleID, &d.Action, &ordered, &d.State, &d.Attempts, &d.RoundBase,
		&next, &lease, &d.LastStatus, &d.LastError, &created, &updated)
	d.OrderedKey = ordered.String
	d.NextAttemptAt, d.LeaseUntil, d.CreatedAt, d.UpdatedAt = Time(next), Time(lease), Time(created), Time(updated)
	return d, err
}

func nullString(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// InsertDeliveries enqueues deliveries (in the caller's transaction, with
// the event that caused them).
func (tx *Tx) InsertDeliveries(ctx context.Context, ds []Delivery) error {
	return insertMany(ctx, tx, "deliveries", deliveryCols, 16, len(ds), func(i int) []any {
		d := ds[i]
		return []any{d.ID, d.EventID, d.Kind, d.EndpointID, d.RuleID, d.Action, nullString(d.OrderedKey), d.State, d.Attempts, d.RoundBase,
			Micros(d.NextAttemptAt), Micros(d.LeaseUntil), d.LastStatus, d.LastError, Micros(d.CreatedAt), Micros(d.UpdatedAt)}
	})
}

// Claimed is a delivery taken for an attempt, with its event.
type Claimed struct {
	Delivery
	Event Event
}

// ClaimDeliveries takes up to limit due deliveries for one attempt each:
// they become running with a lease until now+lease and their attempt count
// goes up by one. On PostgreSQL rows are locked with SKIP LOCKED, so several
// processes never claim the same delivery; SQLite has a single writer.
// Deliveries with an ordered key are claimed only when no earlier delivery
// with that key is still pending, failed or running.
func (db *DB) ClaimDeliveries(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]Claimed, error) {
	return db.ClaimDeliveriesFor(ctx, "", now, lease, limit)
}

// ClaimDeliveriesFor claims as ClaimDeliveries does, naming the hub that
// holds the claims (see RegisterHub): while that hub beats, only the lease
// bounds them; once it stops, any live hub takes them back at once. An
// empty hub makes claims only the lease bounds.
func (db *DB) ClaimDeliveriesFor(ctx context.Context, hub string, now time.Time, lease time.Duration, limit int) ([]Claimed, error) {
	until, at := Micros(now.Add(lease)), Micros(now)
	if db.kind == Postgres {
		return db.claimPG(ctx, hub, until, at, limit)
	}
	var out []Claimed
	err := db.InTx(ctx, func(tx *Tx) error {
		for _, which := range []string{claimOrderedHeads, claimUnordered} {
			n := limit - len(out)
			if n <= 0 {
				break
			}
			rows, err := tx.Query(ctx, fmt.Sprintf(claimStmt, which, fmt.Sprint(n), ""), hub, until, until, at, at, at)
			if err != nil {
				return err
			}
			for rows.Next() {
				d, err := scanDelivery(rows)
				if err != nil {
					rows.Close()
					return err
				}
				out = append(out, Claimed{Delivery: d})
			}
			rows.Close()
			if err := rows.Err(); err != nil {
				return err
			}
		}
		return attachEvents(ctx, tx, out)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// claimStmt claims due deliveries that also match the condition (first
// %s) in due order, at most the limit (second %s; the third is the row
// locking clause), and returns them. A claimed delivery's next attempt is its lease's
// end: if its worker dies, that is when it is due again, and meanwhile it
// sits behind the due ones in the claim order instead of in front of them.
const claimStmt = `UPDATE deliveries SET state = 'running', claimed_by = ?, attempts = attempts + 1, lease_until = ?, next_attempt_at = ?, updated_at = ?
	WHERE id IN (SELECT d.id FROM deliveries d WHERE d.state IN ('pending','failed','running') AND d.next_attempt_at <= ? AND d.lease_until < ?
		AND %s ORDER BY d.next_attempt_at LIMIT %s%s)
	RETURNING ` + deliveryCols

// Ordered deliveries are claimed only at the head of their key's queue (at
// most one per ordered endpoint, so claiming them first starves nothing).
const (
	claimOrderedHeads = `d.ordered_key IS NOT NULL AND NOT EXISTS (SELECT 1 FROM deliveries p WHERE p.ordered_key = d.ordered_key
		AND p.state IN ('pending','failed','running') AND (p.created_at < d.created_at OR (p.created_at = d.created_at AND p.id < d.id)))`
	claimUnordered = "d.ordered_key IS NULL"
)

// claimPG claims in one statement — ordered heads, then unordered
// deliveries up to the limit, each with its event — so one round trip and
// one implicit transaction; rows are locked with SKIP LOCKED, so several
// processes never claim the same delivery.
func (db *DB) claimPG(ctx context.Context, hub string, until, at int64, limit int) ([]Claimed, error) {
	rows, err := db.Query(ctx, `WITH o AS (`+fmt.Sprintf(claimStmt, claimOrderedHeads, "?", " FOR UPDATE SKIP LOCKED")+`),
		u AS (`+fmt.Sprintf(claimStmt, claimUnordered, "? - (SELECT count(*) FROM o)", " FOR UPDATE SKIP LOCKED")+`),
		c AS (SELECT * FROM o UNION ALL SELECT * FROM u)
		SELECT c.*, COALESCE(e.id, ''), COALESCE(e.source, ''), COALESCE(e.type, ''), COALESCE(e.hook_id, ''),
			COALESCE(e.received_at, 0), COALESCE(e.idempotency_key, ''), COALESCE(e.payload, '')
		FROM c LEFT JOIN events e ON e.id = c.event_id`,
		hub, until, until, at, at, at, limit, hub, until, until, at, at, at, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Claimed
	for rows.Next() {
		var c Claimed
		var ev Event
		var recv int64
		c.Delivery, err = scanDelivery(scanTail{rows, []any{&ev.ID, &ev.Source, &ev.Type, &ev.HookID, &recv, &ev.IdempotencyKey, &ev.Payload}})
		if err != nil {
			return nil, err
		}
		if ev.ID != "" { // else the event is gone (as attachEvents leaves it)
			ev.ReceivedAt = Time(recv)
			c.Event = ev
		}
		out = append(out, c)
	}
	return out, mapErr(rows.Err())
}

// scanTail scans a row into the destinations given followed by tail.
type scanTail struct {
	s    scanner
	tail []any
}

func (t scanTail) Scan(dest ...any) error { return t.s.Scan(append(dest, t.tail...)...) }

func attachEvents(ctx context.Context, q Querier, cs []Claimed) error {
	if len(cs) == 0 {
		return nil
	}
	ids := map[string]bool{}
	args := []any{}
	for _, c := range cs {
		if !ids[c.EventID] {
			ids[c.EventID] = true
			args = append(args, c.EventID)
		}
	}
	rows, err := q.Query(ctx, "SELECT "+eventCols+" FROM events WHERE id IN ("+strings.TrimSuffix(strings.Repeat("?,", len(args)), ",")+")", args...)
	if err != nil {
		return err
	}
	defer rows.Close()
	evs := map[string]Event{}
	for rows.Next() {
		e, err := scanEvent(rows)
		if err != nil {
			return err
		}
		evs[e.ID] = e
	}
	for i := range cs {
		cs[i].Event = evs[cs[i].EventID]
	}
	return rows.Err()
}

// Attempt is one try of a delivery.
type Attempt struct {
	DeliveryID string    `json:"delivery_id"`
	N          int       `json:"n"`
	At         time.Time `json:"at"`
	Status     int       `json:"status"`
	DurationMS int64     `json:"duration_ms"`
	Response   string    `json:"response"` // at most 4 KiB
	Error      string    `json:"error"`
}

// Outcome is the result of one claimed attempt: the attempt record and the
// delivery's next state.
type Outcome struct {
	Attempt   Attempt
	State     string    // succeeded, failed (retry at Next) or dead
	Next      time.Time // when State is failed
	LastError string
}

// CompleteDeliveries records outcomes of claims made without a hub identity
// (see CompleteDeliveriesFor).
func (db *DB) CompleteDeliveries(ctx context.Context, now time.Time, outs []Outcome) error {
	_, err := db.CompleteDeliveriesFor(ctx, "", now, outs)
	return err
}

// CompleteDeliveriesFor records the outcomes of hub's claims in one
// transaction. The attempt is always recorded (it was made), but the
// delivery's state changes only while the claim is still this one — same
// hub, same attempt number, still running: an outcome whose claim was taken
// back meanwhile (its lease ran out, or its hub was taken for dead and
// another hub claimed it again) is fenced, and its delivery id is returned
// in fenced, so a hub paused and resumed never overwrites the state another
// hub's newer claim owns.
func (db *DB) CompleteDeliveriesFor(ctx context.Context, hub string, now time.Time, outs []Outcome) (fenced []string, err error) {
	if len(outs) == 0 {
		return nil, nil
	}
	done := map[string]bool{}
	if db.kind == Postgres {
		// One statement: one round trip and one implicit transaction.
		n := len(outs)
		id, resp, errs, state := make([]string, n), make([]string, n), make([]string, n), make([]string, n)
		num, at, status, dur, next := make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n), make([]int64, n)
		lastErr := make([]string, n)
		for i, o := range outs {
			a := o.Attempt
			id[i], num[i], at[i], status[i], dur[i], resp[i], errs[i] = a.DeliveryID, int64(a.N), Micros(a.At), int64(a.Status), a.DurationMS, a.Response, a.Error
			state[i], next[i], lastErr[i] = o.State, Micros(o.Next), o.LastError
		}
		rows, err := db.Query(ctx, `WITH a AS (
			INSERT INTO delivery_attempts (delivery_id, n, at, status, duration_ms, response, error)
			SELECT * FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::bigint[], $5::bigint[], $6::text[], $7::text[])
			ON CONFLICT (delivery_id, n) DO NOTHING)
			UPDATE deliveries SET state = v.state, next_attempt_at = v.next_at, lease_until = 0, last_status = v.status,
				last_error = v.err, updated_at = $8
			FROM unnest($1::text[], $2::bigint[], $9::text[], $10::bigint[], $4::bigint[], $11::text[]) AS v(id, n, state, next_at, status, err)
			WHERE deliveries.id = v.id AND deliveries.attempts = v.n AND deliveries.state = 'running' AND deliveries.claimed_by = $12
			RETURNING deliveries.id`,
			id, num, at, status, dur, resp, errs, Micros(now), state, next, lastErr, hub)
		if err != nil {
			return nil, fmt.Errorf("record outcomes: %w", err)
		}
		if err := collectIDs(rows, done); err != nil {
			return nil, fmt.Errorf("record outcomes: %w", err)
		}
		return fencedOf(outs, done), nil
	}
	err = db.InTx(ctx, func(tx *Tx) error {
		err := execMany(ctx, tx, "record attempts", `INSERT INTO delivery_attempts (delivery_id, n, at, status, duration_ms, response, error)
			VALUES %s ON CONFLICT (delivery_id, n) DO NOTHING`, "(?,?,?,?,?,?,?)", nil, len(outs), func(i int) []any {
			a := outs[i].Attempt
			return []any{a.DeliveryID, a.N, Micros(a.At), a.Status, a.DurationMS, a.Response, a.Error}
		})
		if err != nil {
			return err
		}
		const per = 200
		for start := 0; start < len(outs); start += per {
			end := min(start+per, len(outs))
			var args []any
			for _, o := range outs[start:end] {
				args = append(args, o.Attempt.DeliveryID, o.Attempt.N, o.State, Micros(o.Next), o.Attempt.Status, o.LastError)
			}
			args = append(args, Micros(now), hub)
			rows, err := tx.Query(ctx, `WITH v (id, n, state, next_at, status, err) AS (VALUES `+
				strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?),", end-start), ",")+`)
				UPDATE deliveries SET state = v.state, next_attempt_at = v.next_at, lease_until = 0, last_status = v.status,
				last_error = v.err, updated_at = ? FROM v WHERE deliveries.id = v.id AND deliveries.attempts = v.n AND deliveries.state = 'running'
				AND deliveries.claimed_by = ? RETURNING deliveries.id`, args...)
			if err == nil {
				err = collectIDs(rows, done)
			}
			if err != nil {
				return fmt.Errorf("record outcomes: %w", err)
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return fencedOf(outs, done), nil
}

// collectIDs adds the ids rows return (one column) to done and closes rows.
func collectIDs(rows *sql.Rows, done map[string]bool) error {
	defer rows.Close()
	for rows.Next() {
		var d string
		if err := rows.Scan(&d); err != nil {
			return err
		}
		done[d] = true
	}
	return mapErr(rows.Err())
}

func fencedOf(outs []Outcome, done map[string]bool) []string {
	var fenced []string
	for _, o := range outs {
		if !done[o.Attempt.DeliveryID] {
			fenced = append(fenced, o.Attempt.DeliveryID)
		}
	}
	return fenced
}

// Delivery returns one delivery.
func (db *DB) Delivery(ctx context.Context, id string) (Delivery, error) {
	return scanDelivery(db.QueryRow(ctx, "SELECT "+deliveryCols+" FROM deliveries WHERE id = ?", id))
}

// Attempts returns a delivery's attempts, oldest first.
func (db *DB) Attempts(ctx context.Context, id string) ([]Attempt, error) {
	rows, err := db.Query(ctx, "SELECT delivery_id, n, at, status, duration_ms, response, error FROM delivery_attempts WHERE delivery_id = ? ORDER BY n", id)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Attempt
	for rows.Next() {
		var a Attempt
		var at int64
		if err := rows.Scan(&a.DeliveryID, &a.N, &at, &a.Status, &a.DurationMS, &a.Response, &a.Error); err != nil {
			return nil, err
		}
		a.At = Time(at)
		out = append(out, a)
	}
	return out, rows.Err()
}

// DeliveryFilter selects deliveries, newest first. Before is an id cursor.
type DeliveryFilter struct {
	State, EndpointID, EventID, Kind string
	Since, Until                     time.Time
	Before                           string
	Limit                            int
}

func (f DeliveryFilter) where() (string, []any) {
	var where []string
	var args []any
	for _, c := range []struct{ col, v string }{{"state", f.State}, {"endpoint_id", f.EndpointID}, {"event_id", f.EventID}, {"kind", f.Kind}} {
		if c.v != "" {
			where = append(where, c.col+" = ?")
			args = append(args, c.v)
		}
	}
	if !f.Since.IsZero() {
		where = append(where, "created_at >= ?")
		args = append(args, Micros(f.Since))
	}
	if !f.Until.IsZero() {
		where = append(where, "created_at < ?")
		args = append(args, Micros(f.Until))
	}
	if f.Before != "" {
		where = append(where, "id < ?")
		args = append(args, f.Before)
	}
	if len(where) == 0 {
		return "", nil
	}
	return " WHERE " + strings.Join(where, " AND "), args
}

// ListDeliveries returns deliveries matching f, newest first (ids are time-ordered).
func (db *DB) ListDeliveries(ctx context.Context, f DeliveryFilter) ([]Delivery, error) {
	w, args := f.where()
	if f.Limit <= 0 {
		f.Limit = 50
	}
	rows, err := db.Query(ctx, "SELECT "+deliveryCols+" FROM deliveries"+w+fmt.Sprintf(" ORDER BY id DESC LIMIT %d", f.Limit), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Delivery
	for rows.Next() {
		d, err := scanDelivery(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, d)
	}
	return out, rows.Err()
}

// CountDeliveries counts deliveries by state matching f (f.State ignored).
func (db *DB) CountDeliveries(ctx context.Context, f DeliveryFilter) (map[string]int64, error) {
	f.State, f.Before = "", ""
	w, args := f.where()
	rows, err := db.Query(ctx, "SELECT state, count(*) FROM deliveries"+w+" GROUP BY state", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int64{}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}

// ReplayDeliveries makes finished deliveries matching f (state must be dead,
// failed or succeeded; f.State narrows it) due again now, with a fresh retry
// schedule. It returns how many it replayed.
func (db *DB) ReplayDeliveries(ctx context.Context, f DeliveryFilter, ids []string, now time.Time) (int64, error) {
	w, args := f.where()
	cond := "state IN ('dead','failed','succeeded')"
	if w == "" {
		w = " WHERE " + cond
	} else {
		w += " AND " + cond
	}
	if len(ids) > 0 {
		w += " AND id IN (" + strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",") + ")"
		for _, id := range ids {
			args = append(args, id)
		}
	}
	res, err := db.Exec(ctx, "UPDATE deliveries SET state = 'pending', next_attempt_at = ?, lease_until = 0, round_base = attempts, updated_at = ?"+w,
		append([]any{Micros(now), Micros(now)}, args...)...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// KillEndpointDeliveries moves an endpoint's waiting deliveries to dead
// (e.g. when the endpoint is disabled), with reason as the last error.
func (db *DB) KillEndpointDeliveries(ctx context.Context, endpointID, reason string, now time.Time) (int64, error) {
	res, err := db.Exec(ctx, "UPDATE deliveries SET state = 'dead', last_error = ?, updated_at = ? WHERE endpoint_id = ? AND state IN ('pending','failed')",
		reason, Micros(now), endpointID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// NextDueDelivery returns when the earliest waiting delivery is due (zero when none).
func (db *DB) NextDueDelivery(ctx context.Context) (time.Time, error) {
	var next sql.NullInt64
	err := db.QueryRow(ctx, "SELECT min(next_attempt_at) FROM deliveries WHERE state IN ('pending','failed')").Scan(&next)
	return Time(next.Int64), err
}

// Queue is the state of the delivery queue: deliveries waiting (pending,
// failed = retry scheduled), running, or dead, and when the oldest delivery
// that is due now became due (zero when none is).
type Queue struct {
	Counts    map[string]int64
	OldestDue time.Time
}

// QueueStats reads the queue's state at now. It reads only the indexes of
// unfinished and dead deliveries, not the (large) history of succeeded ones.
func (db *DB) QueueStats(ctx context.Context, now time.Time) (Queue, error) {
	q := Queue{Counts: map[string]int64{}}
	rows, err := db.Query(ctx, "SELECT state, count(*) FROM deliveries WHERE state IN ('pending','failed','running','dead') GROUP BY state")
	if err != nil {
		return q, err
	}
	for rows.Next() {
		var s string
		var n int64
		if err := rows.Scan(&s, &n); err != nil {
			rows.Close()
			return q, err
		}
		q.Counts[s] = n
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return q, err
	}
	// A running delivery's next attempt is its lease's end, so a running one
	// counts only once its lease ran out (its worker died).
	var oldest sql.NullInt64
	err = db.QueryRow(ctx, `SELECT min(m) FROM (
		SELECT min(next_attempt_at) AS m FROM deliveries WHERE state IN ('pending','failed','running') AND ordered_key IS NULL
		UNION ALL
		SELECT min(next_attempt_at) FROM deliveries WHERE state IN ('pending','failed','running') AND ordered_key IS NOT NULL) x`).Scan(&oldest)
	if err != nil {
		return q, err
	}
	if oldest.Valid && oldest.Int64 <= Micros(now) {
		q.OldestDue = Time(oldest.Int64)
	}
	return q, nil
}

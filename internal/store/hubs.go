package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Hub is one running hub process: a random identity per start, where it
// runs, and its last heartbeat.
type Hub struct {
	ID          string
	Host        string
	PID         int
	StartedAt   time.Time
	HeartbeatAt time.Time
}

// RegisterHub records a hub process as alive. Rows of earlier processes on
// the same host that dead says are gone (e.g. this very hub before a
// restart: same host, a process id no longer running or equal to this
// one's) are removed first and their claims released at once, without
// waiting for their heartbeat to age. It returns how many deliveries it
// released.
func (db *DB) RegisterHub(ctx context.Context, h Hub, dead func(Hub) bool) (int64, error) {
	var released int64
	err := db.InTx(ctx, func(tx *Tx) error {
		released = 0
		rows, err := tx.Query(ctx, "SELECT id, pid, started_at FROM hubs WHERE host = ? AND id <> ?", h.Host, h.ID)
		if err != nil {
			return err
		}
		var gone []string
		for rows.Next() {
			var o Hub
			var started int64
			if err := rows.Scan(&o.ID, &o.PID, &started); err != nil {
				rows.Close()
				return err
			}
			o.Host, o.StartedAt = h.Host, Time(started)
			if dead != nil && dead(o) {
				gone = append(gone, o.ID)
			}
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		if released, err = releaseHubs(ctx, tx, gone, h.HeartbeatAt, time.Time{}); err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO hubs (id, host, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)
			ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`,
			h.ID, h.Host, h.PID, Micros(h.StartedAt), Micros(h.HeartbeatAt))
		return err
	})
	return released, err
}

// releaseHubs removes the rows of hubs ids and makes their running
// deliveries due at now (their attempt count stays; the next claim counts a
// new attempt). With a non-zero staleBefore, a hub whose heartbeat is no
// longer older than that (it came back meanwhile) keeps its row; its claims
// are released all the same.
func releaseHubs(ctx context.Context, q Querier, ids []string, now, staleBefore time.Time) (int64, error) {
	if len(ids) == 0 {
		return 0, nil
	}
	in := strings.TrimSuffix(strings.Repeat("?,", len(ids)), ",")
	args := []any{Micros(now), Micros(now)}
	for _, id := range ids {
		args = append(args, id)
	}
	res, err := q.Exec(ctx, `UPDATE deliveries SET next_attempt_at = ?, lease_until = 0, claimed_by = '', updated_at = ?
		WHERE state = 'running' AND claimed_by IN (`+in+")", args...)
	if err != nil {
		return 0, fmt.Errorf("release claims of dead hubs: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	del, dargs := "DELETE FROM hubs WHERE id IN ("+in+")", args[2:]
	if !staleBefore.IsZero() {
		del += " AND heartbeat_at < ?"
		dargs = append(dargs, Micros(staleBefore))
	}
	if _, err := q.Exec(ctx, del, dargs...); err != nil {
		return n, fmt.Errorf("remove dead hubs: %w", err)
	}
	return n, nil
}

// HubHeartbeat records that hub id is alive at now. It reports false when
// the hub's row is gone: another hub took it for dead (it missed its
// heartbeats, e.g. while paused) and released its claims.
func (db *DB) HubHeartbeat(ctx context.Context, id string, now time.Time) (bool, error) {
	res, err := db.Exec(ctx, "UPDATE hubs SET heartbeat_at = ? WHERE id = ?", Micros(now), id)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// ReleaseDeadHubs takes back, at once, the claims of hubs whose heartbeat
// is older than aliveSince: their running deliveries become due now and
// their rows are removed. A hub's row is removed only with its claims
// (here, by RegisterHub or RemoveHub), so no claim names a missing hub
// except the new claims of a hub that comes back from a pause before it
// registers again; claims made without an identity are left to their
// lease. It returns how many deliveries it released.
func (db *DB) ReleaseDeadHubs(ctx context.Context, now, aliveSince time.Time) (int64, error) {
	// The common case — every hub alive — is one read of the small hubs table.
	rows, err := db.Query(ctx, "SELECT id FROM hubs WHERE heartbeat_at < ?", Micros(aliveSince))
	if err != nil {
		return 0, err
	}
	var dead []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return 0, err
		}
		dead = append(dead, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil || len(dead) == 0 {
		return 0, err
	}
	var n int64
	err = db.InTx(ctx, func(tx *Tx) error {
		var err error
		n, err = releaseHubs(ctx, tx, dead, now, aliveSince)
		return err
	})
	return n, err
}

// RemoveHub removes a hub's row (at a clean shutdown) and releases what it
// still holds (outcomes it could not record) at once.
func (db *DB) RemoveHub(ctx context.Context, id string, now time.Time) (int64, error) {
	var n int64
	err := db.InTx(ctx, func(tx *Tx) error {
		var err error
		n, err = releaseHubs(ctx, tx, []string{id}, now, time.Time{})
		return err
	})
	return n, err
}

// ExtendLeases moves the lease of hub's running claims among ids to until
// (a live hub keeps the claims of its long attempts). Claims another hub
// has taken over are left alone.
func (db *DB) ExtendLeases(ctx context.Context, hub string, ids []string, until time.Time) error {
	const per = 500
	for start := 0; start < len(ids); start += per {
		end := min(start+per, len(ids))
		args := []any{Micros(until), Micros(until), hub}
		for _, id := range ids[start:end] {
			args = append(args, id)
		}
		_, err := db.Exec(ctx, `UPDATE deliveries SET lease_until = ?, next_attempt_at = ?
			WHERE claimed_by = ? AND state = 'running' AND lease_until > 0 AND id IN (`+strings.TrimSuffix(strings.Repeat("?,", end-start), ",")+")", args...)
		if err != nil {
			return fmt.Errorf("extend leases: %w", err)
		}
	}
	return nil
}

// Hubs lists the hubs that have a row, oldest first.
func (db *DB) Hubs(ctx context.Context) ([]Hub, error) {
	rows, err := db.Query(ctx, "SELECT id, host, pid, started_at, heartbeat_at FROM hubs ORDER BY started_at, id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Hub
	for rows.Next() {
		var h Hub
		var s, b int64
		if err := rows.Scan(&h.ID, &h.Host, &h.PID, &s, &b); err != nil {
			return nil, err
		}
		h.StartedAt, h.HeartbeatAt = Time(s), Time(b)
		out = append(out, h)
	}
	return out, rows.Err()
}

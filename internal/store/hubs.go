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
// one's) are removed first, so their claims are released by the
// ReleaseDeadHubs that follows, without waiting for their heartbeat to age.
func (db *DB) RegisterHub(ctx context.Context, h Hub, dead func(Hub) bool) error {
	rows, err := db.Query(ctx, "SELECT id, pid, started_at FROM hubs WHERE host = ? AND id <> ?", h.Host, h.ID)
	if err != nil {
		return err
	}
	var gone []any
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
	if len(gone) > 0 {
		if _, err := db.Exec(ctx, "DELETE FROM hubs WHERE id IN ("+strings.TrimSuffix(strings.Repeat("?,", len(gone)), ",")+")", gone...); err != nil {
			return err
		}
	}
	_, err = db.Exec(ctx, `INSERT INTO hubs (id, host, pid, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at`,
		h.ID, h.Host, h.PID, Micros(h.StartedAt), Micros(h.HeartbeatAt))
	return err
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

// ReleaseDeadHubs takes back, at once, the claims of hubs that are not
// alive: whose heartbeat is older than aliveSince, or whose identity has no
// row at all (it was removed). Their running deliveries become due now
// (their attempt count stays; the next claim counts a new attempt), and the
// rows of the dead hubs are removed. Claims made without an identity are
// left to their lease. It returns how many deliveries it released.
func (db *DB) ReleaseDeadHubs(ctx context.Context, now, aliveSince time.Time) (int64, error) {
	res, err := db.Exec(ctx, `UPDATE deliveries SET next_attempt_at = ?, lease_until = 0, claimed_by = '', updated_at = ?
		WHERE state = 'running' AND claimed_by <> ''
		AND NOT EXISTS (SELECT 1 FROM hubs h WHERE h.id = deliveries.claimed_by AND h.heartbeat_at >= ?)`,
		Micros(now), Micros(now), Micros(aliveSince))
	if err != nil {
		return 0, fmt.Errorf("release claims of dead hubs: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, err
	}
	if _, err := db.Exec(ctx, "DELETE FROM hubs WHERE heartbeat_at < ?", Micros(aliveSince)); err != nil {
		return n, fmt.Errorf("remove dead hubs: %w", err)
	}
	return n, nil
}

// RemoveHub removes a hub's row (at a clean shutdown): whatever it still
// holds is released by the next ReleaseDeadHubs of any hub.
func (db *DB) RemoveHub(ctx context.Context, id string) error {
	_, err := db.Exec(ctx, "DELETE FROM hubs WHERE id = ?", id)
	return err
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

package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// Sync link states.
const (
	SyncSynced   = "synced"
	SyncPending  = "pending"
	SyncConflict = "conflict"
	SyncError    = "error"
)

// SyncLink pairs a local (ERP) record with a remote object.
type SyncLink struct {
	ID            string    `json:"id"`
	Pair          string    `json:"pair"`
	LocalSystem   string    `json:"local_system"`
	LocalModel    string    `json:"local_model"`
	LocalID       string    `json:"local_id"`
	RemoteSystem  string    `json:"remote_system"`
	RemoteType    string    `json:"remote_type"`
	RemoteID      string    `json:"remote_id"`
	State         string    `json:"state"`
	Direction     string    `json:"direction"`
	LastSyncedAt  time.Time `json:"last_synced_at"`
	LocalVersion  string    `json:"local_version"`
	RemoteVersion string    `json:"remote_version"`
	LastError     string    `json:"last_error"`
	Snapshot      string    `json:"-"`
	CreatedAt     time.Time `json:"created_at"`
	UpdatedAt     time.Time `json:"updated_at"`
}

const syncLinkCols = "id, pair, local_system, local_model, local_id, remote_system, remote_type, remote_id, state, direction, " +
	"last_synced_at, local_version, remote_version, last_error, snapshot, created_at, updated_at"

func scanSyncLink(s scanner) (SyncLink, error) {
	var l SyncLink
	var synced, created, updated int64
	err := s.Scan(&l.ID, &l.Pair, &l.LocalSystem, &l.LocalModel, &l.LocalID, &l.RemoteSystem, &l.RemoteType, &l.RemoteID,
		&l.State, &l.Direction, &synced, &l.LocalVersion, &l.RemoteVersion, &l.LastError, &l.Snapshot, &created, &updated)
	if synced != 0 {
		l.LastSyncedAt = Time(synced)
	}
	l.CreatedAt, l.UpdatedAt = Time(created), Time(updated)
	return l, err
}

func syncMicros(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return Micros(t)
}

// CreateSyncLink stores a new link; ErrConflict when either side is
// already linked.
func (db *DB) CreateSyncLink(ctx context.Context, l SyncLink) error {
	_, err := db.Exec(ctx, "INSERT INTO sync_links ("+syncLinkCols+") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
		l.ID, l.Pair, l.LocalSystem, l.LocalModel, l.LocalID, l.RemoteSystem, l.RemoteType, l.RemoteID, l.State, l.Direction,
		syncMicros(l.LastSyncedAt), l.LocalVersion, l.RemoteVersion, l.LastError, l.Snapshot, Micros(l.CreatedAt), Micros(l.UpdatedAt))
	return err
}

// UpdateSyncLink rewrites a link's state, versions, error and snapshot.
func (db *DB) UpdateSyncLink(ctx context.Context, l SyncLink) error {
	res, err := db.Exec(ctx, `UPDATE sync_links SET state=?, direction=?, last_synced_at=?, local_version=?, remote_version=?,
		last_error=?, snapshot=?, updated_at=? WHERE id=?`, l.State, l.Direction, syncMicros(l.LastSyncedAt), l.LocalVersion,
		l.RemoteVersion, l.LastError, l.Snapshot, Micros(l.UpdatedAt), l.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteSyncLink removes a link.
func (db *DB) DeleteSyncLink(ctx context.Context, id string) error {
	res, err := db.Exec(ctx, "DELETE FROM sync_links WHERE id = ?", id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// SyncLink returns one link.
func (db *DB) SyncLink(ctx context.Context, id string) (SyncLink, error) {
	return scanSyncLink(db.QueryRow(ctx, "SELECT "+syncLinkCols+" FROM sync_links WHERE id = ?", id))
}

// SyncLinkFilter selects links; empty fields match all.
type SyncLinkFilter struct {
	Pair, State string
	Limit       int
	Offset      int // skipped rows (with Limit)
}

// ListSyncLinks returns links oldest first.
func (db *DB) ListSyncLinks(ctx context.Context, f SyncLinkFilter) ([]SyncLink, error) {
	var where []string
	var args []any
	if f.Pair != "" {
		where = append(where, "pair = ?")
		args = append(args, f.Pair)
	}
	if f.State != "" {
		where = append(where, "state = ?")
		args = append(args, f.State)
	}
	q := "SELECT " + syncLinkCols + " FROM sync_links"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += " ORDER BY created_at, id"
	if f.Limit > 0 {
		q += fmt.Sprintf(" LIMIT %d", f.Limit)
		if f.Offset > 0 {
			q += fmt.Sprintf(" OFFSET %d", f.Offset)
		}
	}
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []SyncLink
	for rows.Next() {
		l, err := scanSyncLink(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// SyncLinkCounts returns the number of links per state.
func (db *DB) SyncLinkCounts(ctx context.Context) (map[string]int, error) {
	rows, err := db.Query(ctx, "SELECT state, count(*) FROM sync_links GROUP BY state")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]int{}
	for rows.Next() {
		var s string
		var n int
		if err := rows.Scan(&s, &n); err != nil {
			return nil, err
		}
		out[s] = n
	}
	return out, rows.Err()
}

// SyncCursor returns a cursor's value ("" when never set).
func (db *DB) SyncCursor(ctx context.Context, name string) (string, error) {
	var v string
	err := db.QueryRow(ctx, "SELECT value FROM sync_cursors WHERE name = ?", name).Scan(&v)
	if err == ErrNotFound {
		return "", nil
	}
	return v, err
}

// SyncCursors returns every cursor by name.
func (db *DB) SyncCursors(ctx context.Context) (map[string]string, error) {
	rows, err := db.Query(ctx, "SELECT name, value FROM sync_cursors ORDER BY name")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := map[string]string{}
	for rows.Next() {
		var n, v string
		if err := rows.Scan(&n, &v); err != nil {
			return nil, err
		}
		out[n] = v
	}
	return out, rows.Err()
}

// SetSyncCursor stores a cursor inside the transaction of the events it covers.
func (tx *Tx) SetSyncCursor(ctx context.Context, name, value string, now time.Time) error {
	_, err := tx.Exec(ctx, `INSERT INTO sync_cursors (name, value, updated_at) VALUES (?, ?, ?)
		ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at`, name, value, Micros(now))
	return err
}

// AddSeen records record ids a watcher has seen.
func (tx *Tx) AddSeen(ctx context.Context, watcher string, ids []int64) error {
	const per = 400
	for start := 0; start < len(ids); start += per {
		end := min(start+per, len(ids))
		args := make([]any, 0, 2*(end-start))
		for _, id := range ids[start:end] {
			args = append(args, watcher, id)
		}
		q := "INSERT INTO sync_seen (watcher, record_id) VALUES " + strings.TrimSuffix(strings.Repeat("(?,?),", end-start), ",") +
			" ON CONFLICT (watcher, record_id) DO NOTHING"
		if _, err := tx.Exec(ctx, q, args...); err != nil {
			return fmt.Errorf("insert sync_seen: %w", err)
		}
	}
	return nil
}

// SeenAmong returns which of ids a watcher has seen.
func (tx *Tx) SeenAmong(ctx context.Context, watcher string, ids []int64) (map[int64]bool, error) {
	const per = 400
	out := map[int64]bool{}
	for start := 0; start < len(ids); start += per {
		end := min(start+per, len(ids))
		args := make([]any, 0, 1+end-start)
		args = append(args, watcher)
		for _, id := range ids[start:end] {
			args = append(args, id)
		}
		rows, err := tx.Query(ctx, "SELECT record_id FROM sync_seen WHERE watcher = ? AND record_id IN ("+
			strings.TrimSuffix(strings.Repeat("?,", end-start), ",")+")", args...)
		if err != nil {
			return nil, fmt.Errorf("read sync_seen: %w", err)
		}
		for rows.Next() {
			var id int64
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return nil, err
			}
			out[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// RemoveSeen forgets record ids (they were deleted).
func (tx *Tx) RemoveSeen(ctx context.Context, watcher string, ids []int64) error {
	for _, id := range ids {
		if _, err := tx.Exec(ctx, "DELETE FROM sync_seen WHERE watcher = ? AND record_id = ?", watcher, id); err != nil {
			return err
		}
	}
	return nil
}

// Seen returns the ids a watcher has seen, ascending.
func (db *DB) Seen(ctx context.Context, watcher string) ([]int64, error) {
	rows, err := db.Query(ctx, "SELECT record_id FROM sync_seen WHERE watcher = ? ORDER BY record_id", watcher)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

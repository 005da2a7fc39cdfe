package store

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// AuditRow is one stored audit entry. Seq, PrevHash and Hash are assigned by
// AppendAudit.
type AuditRow struct {
	Seq        int64
	At         time.Time
	Actor      string
	ActorIP    string
	Action     string
	Level      string
	Target     string
	Message    string
	Method     string
	URL        string
	Status     int
	DurationMS int64
	Fields     string // JSON object or ""
	PrevHash   string
	Hash       string
}

const auditCols = "seq, at, actor, actor_ip, action, level, target, message, method, url, status, duration_ms, fields, prev_hash, hash"

// auditLockKey serialises chain writers across processes.
const auditLockKey = "ipai_audit_chain"

// AppendAudit appends rows to the chain in one transaction: it takes the
// chain lock, reads the head, and for each row assigns the next seq and the
// previous hash, then calls seal to compute the row's Hash.
func (db *DB) AppendAudit(ctx context.Context, rows []*AuditRow, seal func(*AuditRow)) error {
	return db.InTx(ctx, func(tx *Tx) error { return tx.AppendAudit(ctx, rows, seal) })
}

// AppendAudit is DB.AppendAudit inside an existing transaction.
func (tx *Tx) AppendAudit(ctx context.Context, rows []*AuditRow, seal func(*AuditRow)) error {
	if len(rows) == 0 {
		return nil
	}
	if err := tx.Lock(ctx, auditLockKey); err != nil {
		return err
	}
	head, err := auditHead(ctx, tx)
	if err != nil && err != ErrNotFound {
		return err
	}
	return appendAfter(ctx, tx, head, rows, seal)
}

// AppendAuditAfter appends rows after head, the newest entry the caller
// knows of, holding the chain lock but without reading the head again: the
// seq primary key refuses a stale head (another process appended), and
// then it returns ErrConflict with nothing written; append with AppendAudit,
// which reads the head under the lock.
func (db *DB) AppendAuditAfter(ctx context.Context, head AuditRow, rows []*AuditRow, seal func(*AuditRow)) error {
	return db.InTx(ctx, func(tx *Tx) error {
		if err := tx.Lock(ctx, auditLockKey); err != nil {
			return err
		}
		return appendAfter(ctx, tx, head, rows, seal)
	})
}

const auditPerStmt = 200

func appendAfter(ctx context.Context, q Querier, head AuditRow, rows []*AuditRow, seal func(*AuditRow)) error {
	seq, prev := head.Seq, head.Hash
	for _, r := range rows {
		seq++
		r.Seq, r.PrevHash = seq, prev
		r.At = r.At.UTC().Truncate(time.Microsecond)
		seal(r)
		prev = r.Hash
	}
	return execMany(ctx, q, "append audit", "INSERT INTO audit_log ("+auditCols+") VALUES %s", "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
		nil, len(rows), func(i int) []any {
			r := rows[i]
			return []any{r.Seq, Micros(r.At), r.Actor, r.ActorIP, r.Action, r.Level, r.Target, r.Message,
				r.Method, r.URL, r.Status, r.DurationMS, r.Fields, r.PrevHash, r.Hash}
		})
}

// AuditHead returns the newest entry of the chain (ErrNotFound when empty).
func (db *DB) AuditHead(ctx context.Context) (AuditRow, error) { return auditHead(ctx, db) }

func auditHead(ctx context.Context, q Querier) (AuditRow, error) {
	rows, err := q.Query(ctx, "SELECT "+auditCols+" FROM audit_log ORDER BY seq DESC LIMIT 1")
	if err != nil {
		return AuditRow{}, err
	}
	defer rows.Close()
	if !rows.Next() {
		return AuditRow{}, ErrNotFound
	}
	r, err := scanAudit(rows)
	return r, err
}

type scanner interface{ Scan(dest ...any) error }

func scanAudit(s scanner) (AuditRow, error) {
	var r AuditRow
	var at int64
	err := s.Scan(&r.Seq, &at, &r.Actor, &r.ActorIP, &r.Action, &r.Level, &r.Target, &r.Message,
		&r.Method, &r.URL, &r.Status, &r.DurationMS, &r.Fields, &r.PrevHash, &r.Hash)
	r.At = Time(at)
	return r, err
}

// AuditFilter selects audit entries. Zero fields do not filter. Before is a
// cursor: only entries with a smaller seq (the list is newest first).
type AuditFilter struct {
	Level, Action, Target, Actor string
	Since, Until                 time.Time
	Before                       int64
	Limit                        int
}

// ListAudit returns entries matching f, newest first.
func (db *DB) ListAudit(ctx context.Context, f AuditFilter) ([]AuditRow, error) {
	var where []string
	var args []any
	add := func(cond string, v any) { where = append(where, cond); args = append(args, v) }
	if f.Level != "" {
		add("level = ?", f.Level)
	}
	if f.Action != "" {
		if strings.HasSuffix(f.Action, "*") {
			add("action LIKE ?", strings.TrimSuffix(f.Action, "*")+"%")
		} else {
			add("action = ?", f.Action)
		}
	}
	if f.Target != "" {
		add("target = ?", f.Target)
	}
	if f.Actor != "" {
		add("actor = ?", f.Actor)
	}
	if !f.Since.IsZero() {
		add("at >= ?", Micros(f.Since))
	}
	if !f.Until.IsZero() {
		add("at < ?", Micros(f.Until))
	}
	if f.Before > 0 {
		add("seq < ?", f.Before)
	}
	if f.Limit <= 0 {
		f.Limit = 100
	}
	q := "SELECT " + auditCols + " FROM audit_log"
	if len(where) > 0 {
		q += " WHERE " + strings.Join(where, " AND ")
	}
	q += fmt.Sprintf(" ORDER BY seq DESC LIMIT %d", f.Limit)
	rows, err := db.Query(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []AuditRow
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ScanAudit calls fn for every entry in chain order (oldest first), reading
// in pages so memory stays flat.
func (db *DB) ScanAudit(ctx context.Context, fn func(AuditRow) error) error {
	return scanAuditFrom(ctx, db, fn)
}

// ScanAudit is DB.ScanAudit inside a transaction.
func (tx *Tx) ScanAudit(ctx context.Context, fn func(AuditRow) error) error {
	return scanAuditFrom(ctx, tx, fn)
}

func scanAuditFrom(ctx context.Context, q Querier, fn func(AuditRow) error) error {
	var after int64 = -1 << 62
	for {
		rows, err := q.Query(ctx, "SELECT "+auditCols+" FROM audit_log WHERE seq > ? ORDER BY seq LIMIT 5000", after)
		if err != nil {
			return err
		}
		n := 0
		var batch []AuditRow
		for rows.Next() {
			r, err := scanAudit(rows)
			if err != nil {
				rows.Close()
				return err
			}
			batch = append(batch, r)
			n++
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		for _, r := range batch {
			if err := fn(r); err != nil {
				return err
			}
			after = r.Seq
		}
		if n < 5000 {
			return nil
		}
	}
}

// DeleteAudit removes entries older than cutoff whose level is one of levels,
// except those whose action is keepAction, and returns how many it removed.
// It runs in tx, which should hold the chain lock (LockAudit).
func (tx *Tx) DeleteAudit(ctx context.Context, cutoff time.Time, levels []string, keepAction string) (int64, error) {
	ph := strings.TrimSuffix(strings.Repeat("?,", len(levels)), ",")
	args := []any{Micros(cutoff)}
	for _, l := range levels {
		args = append(args, l)
	}
	args = append(args, keepAction)
	res, err := tx.Exec(ctx, "DELETE FROM audit_log WHERE at < ? AND level IN ("+ph+") AND action <> ?", args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// LockAudit takes the chain lock in tx.
func (tx *Tx) LockAudit(ctx context.Context) error { return tx.Lock(ctx, auditLockKey) }

// CountAudit returns the number of stored entries.
func (db *DB) CountAudit(ctx context.Context) (int64, error) {
	var n int64
	err := db.QueryRow(ctx, "SELECT count(*) FROM audit_log").Scan(&n)
	return n, err
}

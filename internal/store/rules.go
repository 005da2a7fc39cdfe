package store

import (
	"context"
	"fmt"
	"time"
)

// Rule is a routing rule as stored. Actions is the JSON list of actions.
type Rule struct {
	ID          string
	Name        string
	Enabled     bool
	Managed     bool
	MatchSource string
	MatchType   string
	Condition   string
	Actions     string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

const ruleCols = "id, name, enabled, managed, match_source, match_type, condition, actions, created_at, updated_at"

func scanRule(s scanner) (Rule, error) {
	var r Rule
	var created, updated int64
	err := s.Scan(&r.ID, &r.Name, &r.Enabled, &r.Managed, &r.MatchSource, &r.MatchType, &r.Condition, &r.Actions, &created, &updated)
	r.CreatedAt, r.UpdatedAt = Time(created), Time(updated)
	return r, err
}

func ruleArgs(r Rule) []any {
	return []any{r.ID, r.Name, r.Enabled, r.Managed, r.MatchSource, r.MatchType, r.Condition, r.Actions, Micros(r.CreatedAt), Micros(r.UpdatedAt)}
}

// CreateRule stores a new rule; ErrConflict when the id or name exists.
func (db *DB) CreateRule(ctx context.Context, r Rule) error {
	_, err := db.Exec(ctx, "INSERT INTO rules ("+ruleCols+") VALUES (?,?,?,?,?,?,?,?,?,?)", ruleArgs(r)...)
	return err
}

// UpdateRule rewrites a rule (all but id and created_at); ErrNotFound when
// missing, ErrConflict when the new name is taken.
func (db *DB) UpdateRule(ctx context.Context, r Rule) error {
	return updateRule(ctx, db, r)
}

func updateRule(ctx context.Context, q Querier, r Rule) error {
	res, err := q.Exec(ctx, `UPDATE rules SET name=?, enabled=?, managed=?, match_source=?, match_type=?, condition=?, actions=?,
		updated_at=? WHERE id=?`, r.Name, r.Enabled, r.Managed, r.MatchSource, r.MatchType, r.Condition, r.Actions, Micros(r.UpdatedAt), r.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// Rule returns one rule by id.
func (db *DB) Rule(ctx context.Context, id string) (Rule, error) {
	return scanRule(db.QueryRow(ctx, "SELECT "+ruleCols+" FROM rules WHERE id = ?", id))
}

// ListRules returns every rule, oldest first (the order rules are applied in).
func (db *DB) ListRules(ctx context.Context) ([]Rule, error) {
	return listRules(ctx, db)
}

func listRules(ctx context.Context, q Querier) ([]Rule, error) {
	rows, err := q.Query(ctx, "SELECT "+ruleCols+" FROM rules ORDER BY created_at, id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []Rule{}
	for rows.Next() {
		r, err := scanRule(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// DeleteRule removes a rule; ErrNotFound when missing.
func (db *DB) DeleteRule(ctx context.Context, id string) error {
	res, err := db.Exec(ctx, "DELETE FROM rules WHERE id = ?", id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// RulesVersion is a fingerprint of the rules table that changes with every
// create, update and delete (replicas poll it to reload their rules).
func (db *DB) RulesVersion(ctx context.Context) (string, error) {
	var n, sum, max int64
	err := db.QueryRow(ctx, "SELECT count(*), COALESCE(sum(updated_at % 1000000007), 0), COALESCE(max(updated_at), 0) FROM rules").Scan(&n, &sum, &max)
	return fmt.Sprintf("%d:%d:%d", n, sum, max), err
}

// ApplyResult counts what ApplyManagedRules changed.
type ApplyResult struct {
	Created, Updated, Deleted, Unchanged int
}

// ApplyManagedRules makes the managed rules exactly want (matched by name),
// in one transaction: new names are created, changed ones updated (their id
// and created_at kept), managed rules no longer wanted deleted, and rules
// that are already as wanted left alone. A rule created through the API with
// the same name as a wanted one is taken over (becomes managed).
func (db *DB) ApplyManagedRules(ctx context.Context, want []Rule, now time.Time) (ApplyResult, error) {
	var res ApplyResult
	err := db.InTx(ctx, func(tx *Tx) error {
		res = ApplyResult{}
		if err := tx.Lock(ctx, "ipai_rules_apply"); err != nil {
			return err
		}
		have, err := listRules(ctx, tx)
		if err != nil {
			return err
		}
		byName := map[string]Rule{}
		for _, r := range have {
			byName[r.Name] = r
		}
		wanted := map[string]bool{}
		for _, w := range want {
			wanted[w.Name] = true
			w.Managed = true
			cur, ok := byName[w.Name]
			if !ok {
				w.CreatedAt, w.UpdatedAt = now, now
				if _, err := tx.Exec(ctx, "INSERT INTO rules ("+ruleCols+") VALUES (?,?,?,?,?,?,?,?,?,?)", ruleArgs(w)...); err != nil {
					return fmt.Errorf("rule %s: %w", w.Name, err)
				}
				res.Created++
				continue
			}
			w.ID, w.CreatedAt, w.UpdatedAt = cur.ID, cur.CreatedAt, now
			if cur.Managed && cur.Enabled == w.Enabled && cur.MatchSource == w.MatchSource && cur.MatchType == w.MatchType &&
				cur.Condition == w.Condition && cur.Actions == w.Actions {
				res.Unchanged++
				continue
			}
			if err := updateRule(ctx, tx, w); err != nil {
				return fmt.Errorf("rule %s: %w", w.Name, err)
			}
			res.Updated++
		}
		for _, r := range have {
			if r.Managed && !wanted[r.Name] {
				if _, err := tx.Exec(ctx, "DELETE FROM rules WHERE id = ?", r.ID); err != nil {
					return err
				}
				res.Deleted++
			}
		}
		return nil
	})
	return res, err
}

// OdooToken is a token an Odoo database uses to post events for a
// connector. Only the SHA-256 of the token is stored.
type OdooToken struct {
	ID         string
	Connector  string
	Label      string
	Hash       string
	CreatedAt  time.Time
	LastUsedAt time.Time
}

const odooTokenCols = "id, connector, label, hash, created_at, last_used_at"

func scanOdooToken(s scanner) (OdooToken, error) {
	var t OdooToken
	var created, used int64
	err := s.Scan(&t.ID, &t.Connector, &t.Label, &t.Hash, &created, &used)
	t.CreatedAt, t.LastUsedAt = Time(created), Time(used)
	return t, err
}

// CreateOdooToken stores a token record.
func (db *DB) CreateOdooToken(ctx context.Context, t OdooToken) error {
	_, err := db.Exec(ctx, "INSERT INTO odoo_source_tokens ("+odooTokenCols+") VALUES (?,?,?,?,?,?)",
		t.ID, t.Connector, t.Label, t.Hash, Micros(t.CreatedAt), Micros(t.LastUsedAt))
	return err
}

// OdooTokenByHash finds a connector's token by the SHA-256 of its value.
func (db *DB) OdooTokenByHash(ctx context.Context, connector, hash string) (OdooToken, error) {
	return scanOdooToken(db.QueryRow(ctx, "SELECT "+odooTokenCols+" FROM odoo_source_tokens WHERE connector = ? AND hash = ?", connector, hash))
}

// ListOdooTokens returns a connector's tokens ("" for all), oldest first.
func (db *DB) ListOdooTokens(ctx context.Context, connector string) ([]OdooToken, error) {
	q, args := "SELECT "+odooTokenCols+" FROM odoo_source_tokens", []any{}
	if connector != "" {
		q += " WHERE connector = ?"
		args = append(args, connector)
	}
	rows, err := db.Query(ctx, q+" ORDER BY created_at, id", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []OdooToken{}
	for rows.Next() {
		t, err := scanOdooToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// DeleteOdooToken removes a token; ErrNotFound when missing.
func (db *DB) DeleteOdooToken(ctx context.Context, id string) error {
	res, err := db.Exec(ctx, "DELETE FROM odoo_source_tokens WHERE id = ?", id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// TouchOdooToken records a token's last use.
func (db *DB) TouchOdooToken(ctx context.Context, id string, at time.Time) error {
	_, err := db.Exec(ctx, "UPDATE odoo_source_tokens SET last_used_at = ? WHERE id = ?", Micros(at), id)
	return err
}

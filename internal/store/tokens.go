package store

import (
	"context"
	"database/sql"
	"time"
)

// Token is an API token's stored record; the token itself is never stored,
// only its SHA-256 (Hash) and a short Prefix to recognise it.
type Token struct {
	ID         string
	Name       string
	Role       string
	Scopes     string // space-separated (e.g. MCP scopes)
	Prefix     string
	Hash       string
	CreatedBy  string
	CreatedAt  time.Time
	ExpiresAt  time.Time // zero: never
	LastUsedAt time.Time
	RevokedAt  time.Time
}

const tokenCols = "id, name, role, scopes, prefix, hash, created_by, created_at, expires_at, last_used_at, revoked_at"

func scanToken(s scanner) (Token, error) {
	var t Token
	var created int64
	var expires, used, revoked sql.NullInt64
	err := s.Scan(&t.ID, &t.Name, &t.Role, &t.Scopes, &t.Prefix, &t.Hash, &t.CreatedBy, &created, &expires, &used, &revoked)
	t.CreatedAt, t.ExpiresAt, t.LastUsedAt, t.RevokedAt = Time(created), Time(expires.Int64), Time(used.Int64), Time(revoked.Int64)
	return t, err
}

// CreateToken stores a new token record.
func (db *DB) CreateToken(ctx context.Context, t Token) error {
	_, err := db.Exec(ctx, "INSERT INTO api_tokens ("+tokenCols+") VALUES (?,?,?,?,?,?,?,?,?,?,?)",
		t.ID, t.Name, t.Role, t.Scopes, t.Prefix, t.Hash, t.CreatedBy, Micros(t.CreatedAt),
		NullMicros(t.ExpiresAt), NullMicros(t.LastUsedAt), NullMicros(t.RevokedAt))
	return err
}

// TokenByHash finds a token by the SHA-256 of its value.
func (db *DB) TokenByHash(ctx context.Context, hash string) (Token, error) {
	return scanToken(db.QueryRow(ctx, "SELECT "+tokenCols+" FROM api_tokens WHERE hash = ?", hash))
}

// Token finds a token by id.
func (db *DB) Token(ctx context.Context, id string) (Token, error) {
	return scanToken(db.QueryRow(ctx, "SELECT "+tokenCols+" FROM api_tokens WHERE id = ?", id))
}

// ListTokens returns every token record, newest first.
func (db *DB) ListTokens(ctx context.Context) ([]Token, error) {
	rows, err := db.Query(ctx, "SELECT "+tokenCols+" FROM api_tokens ORDER BY created_at DESC, id")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, t)
	}
	return out, rows.Err()
}

// RevokeToken marks a token revoked; ErrNotFound when no such live token.
func (db *DB) RevokeToken(ctx context.Context, id string, at time.Time) error {
	res, err := db.Exec(ctx, "UPDATE api_tokens SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", Micros(at), id)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// TouchToken records a token's last use.
func (db *DB) TouchToken(ctx context.Context, id string, at time.Time) error {
	_, err := db.Exec(ctx, "UPDATE api_tokens SET last_used_at = ? WHERE id = ?", Micros(at), id)
	return err
}

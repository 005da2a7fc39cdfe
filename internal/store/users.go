package store

import (
	"context"
	"time"
)

// User is a person who signs in to the admin UI. Source is "local"
// (PasswordHash set) or "oidc" (OIDCIssuer and OIDCSubject set).
type User struct {
	ID           string
	Name         string
	DisplayName  string
	Email        string
	Role         string
	Source       string
	PasswordHash string
	OIDCIssuer   string
	OIDCSubject  string
	Disabled     bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
	LastLoginAt  time.Time
}

const userCols = "id, name, display_name, email, role, source, password_hash, oidc_issuer, oidc_subject, disabled, created_at, updated_at, last_login_at"

func scanUser(s scanner) (User, error) {
	var u User
	var created, updated, last int64
	err := s.Scan(&u.ID, &u.Name, &u.DisplayName, &u.Email, &u.Role, &u.Source, &u.PasswordHash, &u.OIDCIssuer, &u.OIDCSubject,
		&u.Disabled, &created, &updated, &last)
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = Time(created), Time(updated), Time(last)
	return u, err
}

// CreateUser stores a new user; ErrConflict when the name is taken.
func (db *DB) CreateUser(ctx context.Context, u User) error {
	_, err := db.Exec(ctx, "INSERT INTO users ("+userCols+") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
		u.ID, u.Name, u.DisplayName, u.Email, u.Role, u.Source, u.PasswordHash, u.OIDCIssuer, u.OIDCSubject, u.Disabled,
		Micros(u.CreatedAt), Micros(u.UpdatedAt), Micros(u.LastLoginAt))
	return err
}

// UpdateUser rewrites a user's mutable fields; ErrNotFound when missing.
func (db *DB) UpdateUser(ctx context.Context, u User) error {
	res, err := db.Exec(ctx, `UPDATE users SET display_name=?, email=?, role=?, password_hash=?, disabled=?, updated_at=?
		WHERE id=?`, u.DisplayName, u.Email, u.Role, u.PasswordHash, u.Disabled, Micros(u.UpdatedAt), u.ID)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// TouchUserLogin records a successful sign-in.
func (db *DB) TouchUserLogin(ctx context.Context, id string, at time.Time) error {
	_, err := db.Exec(ctx, "UPDATE users SET last_login_at = ? WHERE id = ?", Micros(at), id)
	return err
}

// User finds a user by id.
func (db *DB) User(ctx context.Context, id string) (User, error) {
	return scanUser(db.QueryRow(ctx, "SELECT "+userCols+" FROM users WHERE id = ?", id))
}

// UserByName finds a user by login name.
func (db *DB) UserByName(ctx context.Context, name string) (User, error) {
	return scanUser(db.QueryRow(ctx, "SELECT "+userCols+" FROM users WHERE name = ?", name))
}

// UserByOIDC finds the user of an OIDC identity.
func (db *DB) UserByOIDC(ctx context.Context, issuer, subject string) (User, error) {
	return scanUser(db.QueryRow(ctx, "SELECT "+userCols+" FROM users WHERE oidc_issuer = ? AND oidc_subject = ?", issuer, subject))
}

// ListUsers returns users ordered by name, after the name cursor (exclusive).
func (db *DB) ListUsers(ctx context.Context, after string, limit int) ([]User, error) {
	if limit <= 0 {
		limit = 100
	}
	rows, err := db.Query(ctx, "SELECT "+userCols+" FROM users WHERE name > ? ORDER BY name LIMIT ?", after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// Session is a signed-in browser. Hash is the SHA-256 of the cookie value.
type Session struct {
	Hash       string
	UserID     string
	CSRF       string
	IP         string
	UserAgent  string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time
}

const sessionCols = "hash, user_id, csrf, ip, user_agent, created_at, last_seen_at, expires_at"

// CreateSession stores a session.
func (db *DB) CreateSession(ctx context.Context, s Session) error {
	_, err := db.Exec(ctx, "INSERT INTO ui_sessions ("+sessionCols+") VALUES (?,?,?,?,?,?,?,?)",
		s.Hash, s.UserID, s.CSRF, s.IP, s.UserAgent, Micros(s.CreatedAt), Micros(s.LastSeenAt), Micros(s.ExpiresAt))
	return err
}

// SessionUser returns a live session (not expired at now) and its user in
// one query; ErrNotFound otherwise.
func (db *DB) SessionUser(ctx context.Context, hash string, now time.Time) (Session, User, error) {
	var s Session
	var created, seen, expires int64
	var u User
	var ucreated, uupdated, ulast int64
	err := db.QueryRow(ctx, `SELECT s.hash, s.user_id, s.csrf, s.ip, s.user_agent, s.created_at, s.last_seen_at, s.expires_at,
		u.id, u.name, u.display_name, u.email, u.role, u.source, u.password_hash, u.oidc_issuer, u.oidc_subject, u.disabled,
		u.created_at, u.updated_at, u.last_login_at
		FROM ui_sessions s JOIN users u ON u.id = s.user_id WHERE s.hash = ? AND s.expires_at > ?`, hash, Micros(now)).Scan(
		&s.Hash, &s.UserID, &s.CSRF, &s.IP, &s.UserAgent, &created, &seen, &expires,
		&u.ID, &u.Name, &u.DisplayName, &u.Email, &u.Role, &u.Source, &u.PasswordHash, &u.OIDCIssuer, &u.OIDCSubject, &u.Disabled,
		&ucreated, &uupdated, &ulast)
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = Time(created), Time(seen), Time(expires)
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = Time(ucreated), Time(uupdated), Time(ulast)
	return s, u, err
}

// TouchSession records activity and slides the expiry.
func (db *DB) TouchSession(ctx context.Context, hash string, seen, expires time.Time) error {
	_, err := db.Exec(ctx, "UPDATE ui_sessions SET last_seen_at = ?, expires_at = ? WHERE hash = ?", Micros(seen), Micros(expires), hash)
	return err
}

// DeleteSession removes one session (sign-out).
func (db *DB) DeleteSession(ctx context.Context, hash string) error {
	_, err := db.Exec(ctx, "DELETE FROM ui_sessions WHERE hash = ?", hash)
	return err
}

// DeleteUserSessions signs a user out everywhere and returns how many
// sessions ended.
func (db *DB) DeleteUserSessions(ctx context.Context, userID string) (int64, error) {
	res, err := db.Exec(ctx, "DELETE FROM ui_sessions WHERE user_id = ?", userID)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// PurgeSessions deletes sessions that expired before now.
func (db *DB) PurgeSessions(ctx context.Context, now time.Time) (int64, error) {
	res, err := db.Exec(ctx, "DELETE FROM ui_sessions WHERE expires_at <= ?", Micros(now))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

package auth

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"time"

	"github.com/insightpulseai/ipai/internal/store"
)

// ErrNoSession means the session cookie is unknown, expired, signed out or
// belongs to a disabled user.
var ErrNoSession = errors.New("not signed in, or the session ended")

// Sessions issues and checks admin UI sessions, stored server-side.
type Sessions struct {
	db *store.DB
	// TTL is how long an idle session lives (each request slides it).
	TTL time.Duration
	Now func() time.Time
}

// NewSessions returns a session service on db.
func NewSessions(db *store.DB, ttl time.Duration) *Sessions {
	if ttl <= 0 {
		ttl = 12 * time.Hour
	}
	return &Sessions{db: db, TTL: ttl, Now: time.Now}
}

func randomToken() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// Create starts a session for u and returns the cookie value (only its
// hash is stored) and the session with its CSRF token.
func (s *Sessions) Create(ctx context.Context, u store.User, ip, userAgent string) (string, store.Session, error) {
	raw, err := randomToken()
	if err != nil {
		return "", store.Session{}, err
	}
	csrf, err := randomToken()
	if err != nil {
		return "", store.Session{}, err
	}
	if len(userAgent) > 300 {
		userAgent = userAgent[:300]
	}
	now := s.Now().UTC()
	sess := store.Session{Hash: HashToken(raw), UserID: u.ID, CSRF: csrf, IP: ip, UserAgent: userAgent,
		CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(s.TTL)}
	_, _ = s.db.PurgeSessions(ctx, now)
	return raw, sess, s.db.CreateSession(ctx, sess)
}

// Lookup returns the principal of a session cookie. The user's role and
// state are read on every call, so role changes, disabling and sign-out
// apply to the next request.
func (s *Sessions) Lookup(ctx context.Context, raw string) (Principal, store.Session, error) {
	if raw == "" {
		return Principal{}, store.Session{}, ErrNoSession
	}
	now := s.Now().UTC()
	sess, u, err := s.db.SessionUser(ctx, HashToken(raw), now)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, sess, ErrNoSession
	}
	if err != nil {
		return Principal{}, sess, err
	}
	if u.Disabled || Role(u.Role).rank() == 0 {
		return Principal{}, sess, ErrNoSession
	}
	if now.Sub(sess.LastSeenAt) > time.Minute { // slide the expiry, at most once a minute
		_ = s.db.TouchSession(ctx, sess.Hash, now, now.Add(s.TTL))
	}
	name := u.Name
	return Principal{ID: u.ID, Name: name, Kind: "user", Role: Role(u.Role)}, sess, nil
}

// Delete ends the session of a cookie value.
func (s *Sessions) Delete(ctx context.Context, raw string) error {
	if raw == "" {
		return nil
	}
	return s.db.DeleteSession(ctx, HashToken(raw))
}

// Package auth holds who may do what: roles, principals, API tokens (stored
// as SHA-256 only), and the context that carries the caller through a request.
package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/insightpulseai/ipai/internal/store"
)

// Role is what a principal may do. user = read; manager = configure (no
// secrets, no deletes); admin = everything.
type Role string

// Roles, lowest first. RolePublic marks routes that need no token.
const (
	RolePublic  Role = ""
	RoleUser    Role = "user"
	RoleManager Role = "manager"
	RoleAdmin   Role = "admin"
)

// Roles lists the assignable roles, lowest first.
var Roles = []Role{RoleUser, RoleManager, RoleAdmin}

func (r Role) rank() int {
	switch r {
	case RoleUser:
		return 1
	case RoleManager:
		return 2
	case RoleAdmin:
		return 3
	}
	return 0
}

// Allows reports whether a principal with role r may use something that
// needs role need.
func (r Role) Allows(need Role) bool {
	return need == RolePublic || (r.rank() > 0 && r.rank() >= need.rank())
}

// ParseRole validates a role name.
func ParseRole(s string) (Role, error) {
	r := Role(strings.ToLower(strings.TrimSpace(s)))
	if r.rank() == 0 {
		return "", fmt.Errorf("role %q is not known; expected user, manager or admin", s)
	}
	return r, nil
}

// Principal is the authenticated caller.
type Principal struct {
	ID     string   `json:"id"`   // token or user id; used as the audit actor
	Name   string   `json:"name"` // token name or user login
	Kind   string   `json:"kind"` // "token" or "user"
	Role   Role     `json:"role"`
	Scopes []string `json:"scopes,omitempty"`
	IP     string   `json:"-"`
}

// HasScope reports whether the principal carries scope (admins carry all).
func (p Principal) HasScope(scope string) bool {
	if p.Role == RoleAdmin {
		return true
	}
	for _, s := range p.Scopes {
		if s == scope {
			return true
		}
	}
	return false
}

type ctxKey struct{}

// WithPrincipal returns ctx carrying p.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// FromContext returns the principal of the request, if any.
func FromContext(ctx context.Context) (Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(Principal)
	return p, ok
}

// Token errors.
var (
	ErrBadToken = errors.New("the token is not valid: it is unknown, revoked or expired")
)

// TokenPrefix starts every API token, so leaked tokens are recognisable.
const TokenPrefix = "ipai_"

// Tokens issues and checks API tokens.
type Tokens struct {
	db  *store.DB
	Now func() time.Time

	mu      sync.Mutex
	touched map[string]time.Time // last_used_at writes are throttled
}

// NewTokens returns a token service on db.
func NewTokens(db *store.DB) *Tokens {
	return &Tokens{db: db, Now: time.Now, touched: map[string]time.Time{}}
}

// HashToken is the stored form of a token.
func HashToken(raw string) string {
	sum := sha256.Sum256([]byte(raw))
	return hex.EncodeToString(sum[:])
}

// CreateOptions describe a new token.
type CreateOptions struct {
	Name   string
	Role   Role
	Scopes []string
	// Known, when not nil, is every scope there is (mcpserver.Scopes());
	// a scope outside it is refused, the error listing them.
	Known     []string
	CreatedBy string
	TTL       time.Duration // 0: never expires
}

// Create issues a token. The raw token is returned once and never stored.
func (t *Tokens) Create(ctx context.Context, o CreateOptions) (string, store.Token, error) {
	o.Name = strings.TrimSpace(o.Name)
	if o.Name == "" || len(o.Name) > 100 {
		return "", store.Token{}, errors.New("name: give the token a name of 1 to 100 characters (what or who uses it)")
	}
	if o.Role.rank() == 0 {
		return "", store.Token{}, fmt.Errorf("role: %q is not known; expected user, manager or admin", o.Role)
	}
	if o.Known != nil {
		for _, sc := range o.Scopes {
			if !slices.Contains(o.Known, sc) {
				return "", store.Token{}, fmt.Errorf("scopes: %q is not a known scope; known scopes: %s", sc, strings.Join(o.Known, ", "))
			}
		}
	}
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", store.Token{}, err
	}
	raw := TokenPrefix + base64.RawURLEncoding.EncodeToString(b)
	now := t.Now().UTC()
	rec := store.Token{
		ID: uuid.Must(uuid.NewV7()).String(), Name: o.Name, Role: string(o.Role), Scopes: strings.Join(o.Scopes, " "),
		Prefix: raw[:len(TokenPrefix)+6], Hash: HashToken(raw), CreatedBy: o.CreatedBy, CreatedAt: now,
	}
	if o.TTL > 0 {
		rec.ExpiresAt = now.Add(o.TTL)
	}
	if err := t.db.CreateToken(ctx, rec); err != nil {
		return "", store.Token{}, err
	}
	return raw, rec, nil
}

// Authenticate checks a raw token and returns its principal.
func (t *Tokens) Authenticate(ctx context.Context, raw string) (Principal, error) {
	if !strings.HasPrefix(raw, TokenPrefix) {
		return Principal{}, ErrBadToken
	}
	h := HashToken(raw)
	rec, err := t.db.TokenByHash(ctx, h)
	if errors.Is(err, store.ErrNotFound) {
		return Principal{}, ErrBadToken
	}
	if err != nil {
		return Principal{}, err
	}
	// The lookup is by hash; compare again in constant time for good measure.
	if subtle.ConstantTimeCompare([]byte(rec.Hash), []byte(h)) != 1 {
		return Principal{}, ErrBadToken
	}
	now := t.Now()
	if !rec.RevokedAt.IsZero() || (!rec.ExpiresAt.IsZero() && now.After(rec.ExpiresAt)) {
		return Principal{}, ErrBadToken
	}
	t.touch(ctx, rec.ID, now)
	var scopes []string
	if rec.Scopes != "" {
		scopes = strings.Fields(rec.Scopes)
	}
	return Principal{ID: rec.ID, Name: rec.Name, Kind: "token", Role: Role(rec.Role), Scopes: scopes}, nil
}

// touch records last use at most once a minute per token.
func (t *Tokens) touch(ctx context.Context, id string, now time.Time) {
	t.mu.Lock()
	last, ok := t.touched[id]
	if ok && now.Sub(last) < time.Minute {
		t.mu.Unlock()
		return
	}
	t.touched[id] = now
	t.mu.Unlock()
	_ = t.db.TouchToken(ctx, id, now)
}

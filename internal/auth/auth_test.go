package auth

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/storetest"
)

func newTokens(t *testing.T) (*Tokens, *store.DB) {
	db := storetest.Open(t, storetest.URL(t, store.SQLite))
	return NewTokens(db), db
}

func TestTokenLifecycle(t *testing.T) {
	ctx := context.Background()
	tk, db := newTokens(t)
	raw, rec, err := tk.Create(ctx, CreateOptions{Name: "ci", Role: RoleManager, TTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(raw, TokenPrefix) || strings.Contains(rec.Hash, raw) || rec.Hash == raw {
		t.Fatalf("token %q stored as %q", raw, rec.Hash)
	}
	p, err := tk.Authenticate(ctx, raw)
	if err != nil || p.Role != RoleManager || p.ID != rec.ID {
		t.Fatalf("authenticate = %+v, %v", p, err)
	}
	if _, err := tk.Authenticate(ctx, raw+"x"); !errors.Is(err, ErrBadToken) {
		t.Fatalf("altered token: %v", err)
	}
	tk.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if _, err := tk.Authenticate(ctx, raw); !errors.Is(err, ErrBadToken) {
		t.Fatalf("expired token accepted: %v", err)
	}
	tk.Now = time.Now
	if err := db.RevokeToken(ctx, rec.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if _, err := tk.Authenticate(ctx, raw); !errors.Is(err, ErrBadToken) {
		t.Fatalf("revoked token accepted: %v", err)
	}
}

func TestCreateValidates(t *testing.T) {
	tk, _ := newTokens(t)
	if _, _, err := tk.Create(context.Background(), CreateOptions{Name: "", Role: RoleUser}); err == nil {
		t.Fatal("empty name accepted")
	}
	if _, _, err := tk.Create(context.Background(), CreateOptions{Name: "x", Role: "root"}); err == nil {
		t.Fatal("unknown role accepted")
	}
}

func TestRoleOrder(t *testing.T) {
	if !RoleAdmin.Allows(RoleManager) || RoleUser.Allows(RoleManager) || !RoleManager.Allows(RoleUser) || Role("").Allows(RoleUser) {
		t.Fatal("role order wrong")
	}
	if _, err := ParseRole("Admin"); err != nil {
		t.Fatal(err)
	}
}

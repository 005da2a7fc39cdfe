package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestUsersSessionsAndBuckets(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		u := User{ID: "u1", Name: "alice", Role: "user", Source: "local", PasswordHash: "h", CreatedAt: now, UpdatedAt: now}
		if err := db.CreateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateUser(ctx, User{ID: "u2", Name: "alice", Role: "user", Source: "local", CreatedAt: now, UpdatedAt: now}); !IsConflict(err) {
			t.Fatalf("duplicate name: %v", err)
		}
		o := User{ID: "u3", Name: "kate", Role: "admin", Source: "oidc", OIDCIssuer: "https://kc/realms/x", OIDCSubject: "sub-1", CreatedAt: now, UpdatedAt: now}
		if err := db.CreateUser(ctx, o); err != nil {
			t.Fatal(err)
		}
		if got, err := db.UserByOIDC(ctx, o.OIDCIssuer, "sub-1"); err != nil || got.ID != "u3" {
			t.Fatalf("by oidc: %+v %v", got, err)
		}
		list, err := db.ListUsers(ctx, "", 1)
		if err != nil || len(list) != 1 || list[0].Name != "alice" {
			t.Fatalf("list page 1: %+v %v", list, err)
		}
		if list, _ = db.ListUsers(ctx, "alice", 10); len(list) != 1 || list[0].Name != "kate" {
			t.Fatalf("list page 2: %+v", list)
		}
		s := Session{Hash: "h1", UserID: "u1", CSRF: "c", CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
		if err := db.CreateSession(ctx, s); err != nil {
			t.Fatal(err)
		}
		got, gu, err := db.SessionUser(ctx, "h1", now)
		if err != nil || got.CSRF != "c" || gu.Name != "alice" || !got.ExpiresAt.Equal(s.ExpiresAt) {
			t.Fatalf("session: %+v %+v %v", got, gu, err)
		}
		u.Role, u.UpdatedAt = "admin", now
		if err := db.UpdateUser(ctx, u); err != nil {
			t.Fatal(err)
		}
		if _, gu, _ = db.SessionUser(ctx, "h1", now); gu.Role != "admin" {
			t.Fatalf("role after update: %s", gu.Role)
		}
		if _, _, err := db.SessionUser(ctx, "h1", now.Add(2*time.Hour)); !errors.Is(err, ErrNotFound) {
			t.Fatalf("expired session: %v", err)
		}
		if n, err := db.DeleteUserSessions(ctx, "u1"); err != nil || n != 1 {
			t.Fatalf("delete sessions: %d %v", n, err)
		}

		// Delivery buckets.
		since := now.Truncate(time.Hour).Add(-2 * time.Hour)
		ev := Event{ID: "e1", Source: "s", Type: "t", ReceivedAt: now, IdempotencyKey: "k", Payload: "{}"}
		ds := []Delivery{
			{ID: "d1", EventID: "e1", Kind: "webhook", State: DeliverySucceeded, CreatedAt: since.Add(10 * time.Minute), UpdatedAt: now},
			{ID: "d2", EventID: "e1", Kind: "webhook", State: DeliveryDead, CreatedAt: since.Add(70 * time.Minute), UpdatedAt: now},
			{ID: "d3", EventID: "e1", Kind: "webhook", State: DeliveryDead, CreatedAt: since.Add(80 * time.Minute), UpdatedAt: now},
			{ID: "d4", EventID: "e1", Kind: "webhook", State: DeliveryDead, CreatedAt: since.Add(-time.Minute), UpdatedAt: now},
		}
		if err := db.InTx(ctx, func(tx *Tx) error {
			if err := tx.InsertEvents(ctx, []Event{ev}); err != nil {
				return err
			}
			return tx.InsertDeliveries(ctx, ds)
		}); err != nil {
			t.Fatal(err)
		}
		bs, err := db.DeliveryBuckets(ctx, since, time.Hour, 3)
		if err != nil {
			t.Fatal(err)
		}
		if bs[0].States[DeliverySucceeded] != 1 || bs[1].States[DeliveryDead] != 2 || len(bs[2].States) != 0 || bs[0].States[DeliveryDead] != 0 {
			t.Fatalf("buckets: %+v", bs)
		}
	})
}

package store

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"
)

func idsOf[T any](xs []T, id func(T) string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = id(x)
	}
	return out
}

// The deliveries and events lists behind the API: filters, newest first,
// the id cursor, the limit.
func TestListDeliveriesAndEvents(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		t0 := time.Now().UTC().Truncate(time.Microsecond)
		mk := func(id, ev, ep, kind, st string, at time.Time) Delivery {
			d := newDel(id, ev, at)
			d.EndpointID, d.Kind, d.State = ep, kind, st
			return d
		}
		seedEvent(t, db, "ev1", mk("d1", "ev1", "ep1", "webhook", DeliverySucceeded, t0), mk("d2", "ev1", "ep2", "webhook", DeliveryDead, t0.Add(time.Minute)))
		seedEvent(t, db, "ev2", mk("d3", "ev2", "ep1", "webhook", DeliveryDead, t0.Add(2*time.Minute)), mk("d4", "ev2", "", "mattermost.post", DeliveryPending, t0.Add(3*time.Minute)))
		did := func(d Delivery) string { return d.ID }
		for _, tc := range []struct {
			f    DeliveryFilter
			want []string
		}{
			{DeliveryFilter{}, []string{"d4", "d3", "d2", "d1"}},
			{DeliveryFilter{State: DeliveryDead}, []string{"d3", "d2"}},
			{DeliveryFilter{State: DeliveryDead, EndpointID: "ep1"}, []string{"d3"}},
			{DeliveryFilter{EventID: "ev1"}, []string{"d2", "d1"}},
			{DeliveryFilter{Kind: "mattermost.post"}, []string{"d4"}},
			{DeliveryFilter{Since: t0.Add(time.Minute), Until: t0.Add(3 * time.Minute)}, []string{"d3", "d2"}},
			{DeliveryFilter{Before: "d3"}, []string{"d2", "d1"}},
			{DeliveryFilter{Limit: 1}, []string{"d4"}},
			{DeliveryFilter{Limit: 2, Before: "d4"}, []string{"d3", "d2"}},
			{DeliveryFilter{EndpointID: "none"}, nil},
		} {
			got, err := db.ListDeliveries(ctx, tc.f)
			if err != nil || !slices.Equal(idsOf(got, did), tc.want) {
				t.Errorf("ListDeliveries(%+v) = %v, %v; want %v", tc.f, idsOf(got, did), err, tc.want)
			}
		}

		err := db.InTx(ctx, func(tx *Tx) error {
			return tx.InsertEvents(ctx, []Event{
				{ID: "ev3", Source: "odoo", Type: "odoo.x", HookID: "h1", ReceivedAt: t0, IdempotencyKey: "k3", Payload: `{"a":1}`},
				{ID: "ev4", Source: "odoo", Type: "odoo.y", HookID: "h2", ReceivedAt: t0, IdempotencyKey: "k4", Payload: `{}`},
			})
		})
		if err != nil {
			t.Fatal(err)
		}
		eid := func(e Event) string { return e.ID }
		for _, tc := range []struct {
			f    EventFilter
			want []string
		}{
			{EventFilter{}, []string{"ev4", "ev3", "ev2", "ev1"}},
			{EventFilter{Source: "odoo"}, []string{"ev4", "ev3"}},
			{EventFilter{Source: "odoo", Type: "odoo.x"}, []string{"ev3"}},
			{EventFilter{HookID: "h2"}, []string{"ev4"}},
			{EventFilter{Before: "ev3", Limit: 1}, []string{"ev2"}},
			{EventFilter{Type: "none"}, nil},
		} {
			got, err := db.ListEvents(ctx, tc.f)
			if err != nil || !slices.Equal(idsOf(got, eid), tc.want) {
				t.Errorf("ListEvents(%+v) = %v, %v; want %v", tc.f, idsOf(got, eid), err, tc.want)
			}
		}
		if got, _ := db.ListEvents(ctx, EventFilter{Type: "odoo.x"}); len(got) == 1 && (got[0].Payload != `{"a":1}` || got[0].HookID != "h1" || !got[0].ReceivedAt.Equal(t0)) {
			t.Errorf("listed event %+v; want its payload, hook and time as stored", got[0])
		}
	})
}

// UpdateWebhook rewrites every field but the id and the creation time, and
// says when the webhook is gone.
func TestUpdateWebhook(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		t0 := time.Now().UTC().Truncate(time.Microsecond)
		w := Webhook{ID: "w1", Direction: Incoming, Name: "a", State: WebhookActive, Spec: `{}`, SecretSealed: "s1", CreatedAt: t0, UpdatedAt: t0}
		if err := db.CreateWebhook(ctx, w); err != nil {
			t.Fatal(err)
		}
		t1 := t0.Add(time.Hour)
		u := Webhook{ID: "w1", Direction: Incoming, Name: "b", Connector: "mm", State: WebhookDisabled, Managed: true, Spec: `{"x":1}`,
			SecretSealed: "s2", OldSecretSealed: "s1", OldSecretUntil: t1.Add(time.Hour), FailingSince: t1, DisabledReason: "why",
			CreatedAt: t1, UpdatedAt: t1}
		if err := db.UpdateWebhook(ctx, u); err != nil {
			t.Fatal(err)
		}
		got, err := db.Webhook(ctx, "w1")
		u.CreatedAt = t0 // not rewritten
		if err != nil || got.Name != u.Name || got.Connector != u.Connector || got.State != u.State || !got.Managed || got.Spec != u.Spec ||
			got.SecretSealed != u.SecretSealed || got.OldSecretSealed != u.OldSecretSealed || !got.OldSecretUntil.Equal(u.OldSecretUntil) ||
			!got.FailingSince.Equal(u.FailingSince) || got.DisabledReason != u.DisabledReason || !got.CreatedAt.Equal(t0) || !got.UpdatedAt.Equal(t1) {
			t.Fatalf("after update: %+v, %v; want %+v", got, err, u)
		}
		u.ID = "missing"
		if err := db.UpdateWebhook(ctx, u); !errors.Is(err, ErrNotFound) {
			t.Fatalf("update of a missing webhook: %v; want ErrNotFound", err)
		}
	})
}

// SealedData guards the master key: it names what is sealed, "" when
// nothing is.
func TestSealedData(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		if s, err := db.SealedData(ctx); err != nil || s != "" {
			t.Fatalf("empty database: %q, %v; want nothing sealed", s, err)
		}
		t0 := time.Now().UTC()
		if err := db.CreateWebhook(ctx, Webhook{ID: "w0", Direction: Incoming, Name: "plain", State: WebhookActive, Spec: `{}`, CreatedAt: t0, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if s, _ := db.SealedData(ctx); s != "" {
			t.Fatalf("a webhook without secret: %q; want nothing sealed", s)
		}
		for _, w := range []Webhook{
			{ID: "w1", Direction: Incoming, Name: "in", State: WebhookActive, Spec: `{}`, SecretSealed: "sealed", CreatedAt: t0, UpdatedAt: t0},
			{ID: "w2", Direction: Outgoing, Name: "out", State: WebhookActive, Spec: `{"target_url":"https://x","sealed_headers":{"A":"s"}}`, CreatedAt: t0, UpdatedAt: t0},
		} {
			if err := db.CreateWebhook(ctx, w); err != nil {
				t.Fatal(err)
			}
		}
		if s, err := db.SealedData(ctx); err != nil || s != "1 webhook secret(s), 1 endpoint(s) with sealed headers" {
			t.Fatalf("sealed data: %q, %v", s, err)
		}
	})
}

// Lookups by id and name, and the last-use stamps the UI shows.
func TestTokenAndUserLookups(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		t0 := time.Now().UTC().Truncate(time.Microsecond)
		if err := db.CreateToken(ctx, Token{ID: "t1", Name: "ci", Role: "admin", Prefix: "abcd", Hash: "h1", CreatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if tok, err := db.Token(ctx, "t1"); err != nil || tok.Name != "ci" || !tok.LastUsedAt.IsZero() {
			t.Fatalf("token: %+v, %v", tok, err)
		}
		if err := db.TouchToken(ctx, "t1", t0.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		if tok, _ := db.Token(ctx, "t1"); !tok.LastUsedAt.Equal(t0.Add(time.Minute)) {
			t.Fatalf("last used %s; want %s", tok.LastUsedAt, t0.Add(time.Minute))
		}
		if _, err := db.Token(ctx, "t2"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing token: %v; want ErrNotFound", err)
		}

		if err := db.CreateUser(ctx, User{ID: "u1", Name: "alice", Role: "user", Source: "local", CreatedAt: t0, UpdatedAt: t0}); err != nil {
			t.Fatal(err)
		}
		if err := db.TouchUserLogin(ctx, "u1", t0.Add(time.Hour)); err != nil {
			t.Fatal(err)
		}
		u, err := db.User(ctx, "u1")
		if err != nil || u.Name != "alice" || !u.LastLoginAt.Equal(t0.Add(time.Hour)) {
			t.Fatalf("user: %+v, %v; want alice, last login %s", u, err, t0.Add(time.Hour))
		}
		if u, err := db.UserByName(ctx, "alice"); err != nil || u.ID != "u1" {
			t.Fatalf("by name: %+v, %v", u, err)
		}
		if _, err := db.UserByName(ctx, "bob"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing user: %v; want ErrNotFound", err)
		}
		if _, err := db.User(ctx, "u2"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing user id: %v; want ErrNotFound", err)
		}
	})
}

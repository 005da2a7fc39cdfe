package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestRulesCRUD(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		v0, err := db.RulesVersion(ctx)
		if err != nil {
			t.Fatal(err)
		}
		r := Rule{ID: "r1", Name: "po approval", Enabled: true, MatchSource: "odoo", MatchType: "odoo.purchase.order.*",
			Condition: `data.state == "to approve"`, Actions: `[{"kind":"mattermost.post"}]`, CreatedAt: now, UpdatedAt: now}
		if err := db.CreateRule(ctx, r); err != nil {
			t.Fatal(err)
		}
		dup := r
		dup.ID = "r2"
		if err := db.CreateRule(ctx, dup); !IsConflict(err) {
			t.Fatalf("same name twice: err = %v; want conflict", err)
		}
		got, err := db.Rule(ctx, "r1")
		if err != nil || got != r {
			t.Fatalf("Rule = %+v, %v; want %+v", got, err, r)
		}
		v1, _ := db.RulesVersion(ctx)
		if v1 == v0 {
			t.Fatal("version did not change after create")
		}
		r.Enabled, r.Condition, r.UpdatedAt = false, "", now.Add(time.Minute)
		if err := db.UpdateRule(ctx, r); err != nil {
			t.Fatal(err)
		}
		if got, _ := db.Rule(ctx, "r1"); got.Enabled || got.Condition != "" || !got.UpdatedAt.Equal(r.UpdatedAt) {
			t.Fatalf("after update: %+v", got)
		}
		v2, _ := db.RulesVersion(ctx)
		if v2 == v1 {
			t.Fatal("version did not change after update")
		}
		if err := db.UpdateRule(ctx, Rule{ID: "nope", Name: "x", Actions: "[]"}); !errors.Is(err, ErrNotFound) {
			t.Fatalf("update missing: %v", err)
		}
		if err := db.DeleteRule(ctx, "r1"); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteRule(ctx, "r1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
		if v3, _ := db.RulesVersion(ctx); v3 == v2 {
			t.Fatal("version did not change after delete")
		}
		if list, err := db.ListRules(ctx); err != nil || len(list) != 0 {
			t.Fatalf("list after delete: %v %v", list, err)
		}
	})
}

func TestApplyManagedRulesIsIdempotent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		t0 := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		// A rule made through the API stays; one of the same name as a
		// config rule is taken over.
		for _, r := range []Rule{
			{ID: "api1", Name: "hand made", Enabled: true, Actions: "[]", CreatedAt: t0, UpdatedAt: t0},
			{ID: "api2", Name: "expense", Enabled: true, Actions: "[]", CreatedAt: t0, UpdatedAt: t0},
		} {
			if err := db.CreateRule(ctx, r); err != nil {
				t.Fatal(err)
			}
		}
		want := []Rule{
			{ID: "c1", Name: "po", Enabled: true, MatchType: "odoo.purchase.order.*", Actions: `[{"kind":"webhook"}]`},
			{ID: "c2", Name: "expense", Enabled: true, MatchType: "odoo.hr.expense.create", Actions: `[{"kind":"webhook"}]`},
		}
		res, err := db.ApplyManagedRules(ctx, want, t0.Add(time.Hour))
		if err != nil || res != (ApplyResult{Created: 1, Updated: 1}) {
			t.Fatalf("first apply: %+v, %v", res, err)
		}
		v1, _ := db.RulesVersion(ctx)
		res, err = db.ApplyManagedRules(ctx, want, t0.Add(2*time.Hour))
		if err != nil || res != (ApplyResult{Unchanged: 2}) {
			t.Fatalf("second apply: %+v, %v; want all unchanged", res, err)
		}
		if v2, _ := db.RulesVersion(ctx); v2 != v1 {
			t.Fatal("an unchanged apply changed the rules")
		}
		exp, _ := db.Rule(ctx, "api2")
		if !exp.Managed || exp.MatchType != "odoo.hr.expense.create" || !exp.CreatedAt.Equal(t0) {
			t.Fatalf("taken-over rule: %+v", exp)
		}
		// Dropping "po" from the config deletes it; the API rule stays.
		res, err = db.ApplyManagedRules(ctx, want[1:], t0.Add(3*time.Hour))
		if err != nil || res != (ApplyResult{Deleted: 1, Unchanged: 1}) {
			t.Fatalf("third apply: %+v, %v", res, err)
		}
		list, _ := db.ListRules(ctx)
		if len(list) != 2 || list[0].Name != "hand made" || list[0].Managed || list[1].Name != "expense" {
			t.Fatalf("rules left: %+v", list)
		}
	})
}

func TestOdooTokens(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		now := time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)
		tok := OdooToken{ID: "ot1", Connector: "odoo", Label: "purchase.order", Hash: "h1", CreatedAt: now}
		if err := db.CreateOdooToken(ctx, tok); err != nil {
			t.Fatal(err)
		}
		if got, err := db.OdooTokenByHash(ctx, "odoo", "h1"); err != nil || got != tok {
			t.Fatalf("by hash: %+v %v", got, err)
		}
		if _, err := db.OdooTokenByHash(ctx, "other", "h1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("another connector's token matched: %v", err)
		}
		if err := db.TouchOdooToken(ctx, "ot1", now.Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		list, err := db.ListOdooTokens(ctx, "odoo")
		if err != nil || len(list) != 1 || !list[0].LastUsedAt.Equal(now.Add(time.Minute)) {
			t.Fatalf("list: %+v %v", list, err)
		}
		if err := db.DeleteOdooToken(ctx, "ot1"); err != nil {
			t.Fatal(err)
		}
		if err := db.DeleteOdooToken(ctx, "ot1"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("second delete: %v", err)
		}
	})
}

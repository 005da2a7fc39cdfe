package store

import (
	"context"
	"errors"
	"testing"
	"time"
)

func TestPulserAgentsAndRuns(t *testing.T) {
	forEachBackend(t, func(t *testing.T, db *DB) {
		ctx := context.Background()
		now := time.Now().UTC().Truncate(time.Microsecond)
		a := Agent{ID: "a1", Name: "finance", Kind: "http", Endpoint: "https://agent.example.com", AllowedTools: "odoo_search_read", CreatedAt: now, UpdatedAt: now}
		if err := db.CreateAgent(ctx, a); err != nil {
			t.Fatal(err)
		}
		if err := db.CreateAgent(ctx, Agent{ID: "a2", Name: "finance", Kind: "http", CreatedAt: now, UpdatedAt: now}); !IsConflict(err) {
			t.Fatalf("duplicate name: %v; want ErrConflict", err)
		}
		got, err := db.Agent(ctx, "finance")
		if err != nil || got.ID != "a1" || got.AllowedTools != "odoo_search_read" || !got.CreatedAt.Equal(now) {
			t.Fatalf("agent by name = %+v, %v", got, err)
		}
		for i, id := range []string{"r1", "r2"} {
			if err := db.CreateRun(ctx, Run{ID: id, AgentID: "a1", Input: `{"q":1}`, Actor: "tok", CreatedAt: now.Add(time.Duration(i) * time.Second)}); err != nil {
				t.Fatal(err)
			}
		}
		pend, err := db.PendingRuns(ctx, 10)
		if err != nil || len(pend) != 2 || pend[0] != "r1" {
			t.Fatalf("pending = %v, %v", pend, err)
		}
		if ok, err := db.ClaimRun(ctx, "r1", now); !ok || err != nil {
			t.Fatalf("claim = %v, %v", ok, err)
		}
		if ok, _ := db.ClaimRun(ctx, "r1", now); ok {
			t.Fatal("a run was claimed twice")
		}
		if ok, err := db.FinishRun(ctx, "r1", RunCompleted, `{"a":1}`, "", `[{"step":"http"}]`, now); !ok || err != nil {
			t.Fatalf("finish = %v, %v", ok, err)
		}
		if ok, _ := db.CancelRun(ctx, "r1", now); ok {
			t.Fatal("a completed run was cancelled")
		}
		if ok, _ := db.CancelRun(ctx, "r2", now); !ok {
			t.Fatal("pending run not cancelled")
		}
		if ok, _ := db.ClaimRun(ctx, "r2", now); ok {
			t.Fatal("a cancelled run was claimed")
		}
		r, err := db.Run(ctx, "r1")
		if err != nil || r.Status != RunCompleted || r.Output != `{"a":1}` || r.StartedAt.IsZero() || r.FinishedAt.IsZero() {
			t.Fatalf("run = %+v, %v", r, err)
		}
		all, err := db.Runs(ctx, "a1", "", 10)
		if err != nil || len(all) != 2 || all[0].ID != "r2" {
			t.Fatalf("runs = %+v, %v", all, err)
		}
		done, err := db.Runs(ctx, "", RunCompleted, 10)
		if err != nil || len(done) != 1 || done[0].ID != "r1" {
			t.Fatalf("completed runs = %+v, %v", done, err)
		}
		if _, err := db.Run(ctx, "nope"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("missing run: %v", err)
		}
	})
}

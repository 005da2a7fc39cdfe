package ui_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/ui"
)

// BenchmarkPages renders every page server-side (handler time, no network)
// with 10,000 audit entries and 10,000 deliveries in the store (and
// 10,000 sync links, 500 n8n executions, the fixtures of integrationHub).
func BenchmarkPages(b *testing.B) {
	h, _, _ := integrationHub(b)
	ctx := context.Background()
	states := []string{store.SyncSynced, store.SyncSynced, store.SyncPending, store.SyncError, store.SyncConflict}
	err := h.DB.InTx(ctx, func(tx *store.Tx) error {
		for i := range 10_000 {
			at := time.Now().Add(-time.Duration(i) * time.Second)
			if _, err := tx.Exec(ctx, `INSERT INTO sync_links (id, pair, local_system, local_model, local_id, remote_system, remote_type,
				remote_id, state, direction, last_synced_at, local_version, remote_version, last_error, snapshot, created_at, updated_at)
				VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`, fmt.Sprintf("bench-%05d", i), "finance", "odoo", "project.task",
				fmt.Sprint(1000+i), "focalboard", "card", fmt.Sprintf("card-%d", i), states[i%len(states)], "both", store.Micros(at),
				"", "", "", "{}", store.Micros(at), store.Micros(at)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	for i := range 500 {
		at := time.Now().Add(-time.Duration(i) * time.Minute)
		if err := h.DB.InsertN8NExecution(ctx, store.N8NExecution{ID: fmt.Sprintf("bx%d", i), WorkflowID: "wf1", Source: "rule",
			Status: store.ExecSuccess, StartedAt: at, FinishedAt: at.Add(time.Second)}); err != nil {
			b.Fatal(err)
		}
	}
	ep, dead := h.seed(b, 10_000)
	rows := make([]*store.AuditRow, 10_000)
	levels := []string{audit.Info, audit.Info, audit.Info, audit.Warning, audit.Error}
	for i := range rows {
		rows[i] = &store.AuditRow{At: time.Now().Add(-time.Duration(10_000-i) * time.Minute), Actor: "bench", Action: "connector.test",
			Level: levels[i%len(levels)], Target: fmt.Sprintf("conn-%d", i%40), Message: "connector test passed in 42 ms", Method: "POST",
			URL: "/api/v1/connectors/x/test", Status: 200, Fields: `{"ok":true}`}
	}
	if err := h.DB.AppendAudit(ctx, rows, func(r *store.AuditRow) { r.Hash = audit.Hash(r) }); err != nil {
		b.Fatal(err)
	}
	h.addUser(b, "admin", auth.RoleAdmin)
	u, _ := h.DB.UserByName(ctx, "admin")
	raw, _, err := auth.NewSessions(h.DB, time.Hour).Create(ctx, u, "127.0.0.1", "bench")
	if err != nil {
		b.Fatal(err)
	}
	var evID string
	_ = h.DB.QueryRow(ctx, "SELECT id FROM events LIMIT 1").Scan(&evID)
	handler := h.Handler()
	pages := []string{"/ui/", "/ui/connectors", "/ui/webhooks", "/ui/webhooks/" + ep.ID, "/ui/deliveries",
		"/ui/deliveries?state=dead", "/ui/deliveries/" + dead, "/ui/rules", "/ui/audit", "/ui/audit?level=warning",
		"/ui/audit?verify=1", "/ui/mcp", "/ui/users",
		"/ui/sync", "/ui/sync?page=150", "/ui/bots", "/ui/n8n", "/ui/n8n?workflow=wf1", "/ui/superset",
		"/ui/start", "/ui/rules/new", "/ui/webhooks/new?direction=outgoing", "/ui/webhooks/" + ep.ID + "/edit"}
	if evID != "" {
		pages = append(pages, "/ui/events/"+evID)
	}
	for _, p := range pages {
		b.Run(strings.TrimPrefix(p, "/ui/"), func(b *testing.B) {
			for b.Loop() {
				req := httptest.NewRequest("GET", p, nil)
				req.AddCookie(&http.Cookie{Name: ui.SessionCookie, Value: raw})
				rec := httptest.NewRecorder()
				handler.ServeHTTP(rec, req)
				if rec.Code != http.StatusOK {
					b.Fatalf("%s: %d\n%.500s", p, rec.Code, rec.Body.String())
				}
			}
		})
	}
}

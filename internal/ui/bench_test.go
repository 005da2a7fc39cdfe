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
// with 10,000 audit entries and 10,000 deliveries in the store.
func BenchmarkPages(b *testing.B) {
	h := newHub(b, nil)
	ctx := context.Background()
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
		"/ui/audit?verify=1", "/ui/mcp", "/ui/users"}
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

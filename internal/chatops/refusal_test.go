package chatops_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/store"
)

// Refused unauthenticated requests (forged approval clicks, wrong
// outgoing-webhook tokens) cannot flood the audit log: they are throttled
// like refused hook requests, and what the caller chose is cut short.
func TestForgedRequestsDoNotFloodTheAuditLog(t *testing.T) {
	h := newHub(t)
	ctx := context.Background()
	now := time.Now()
	h.co.Now = func() time.Time { return now }    // all within one throttle window
	big := strings.Repeat("\x1b[2Kforged ", 1000) // ~9 KB a field
	click, _ := json.Marshal(map[string]any{"user_id": big[:8000], "post_id": "p1",
		"context": map[string]any{"op": "approve", "model": big[:8000], "method": "button_approve", "id": 1, "sig": "forged"}})
	for i := range 2000 {
		if st, body := post(t, h.srv.URL+"/integrations/mattermost/actions", "application/json", string(click)); st != 403 {
			t.Fatalf("forged click %d: %d %s", i, st, body)
		}
	}
	for i := range 200 {
		if _, err := h.mm.Outgoing(ctx, http.DefaultClient, h.srv.URL+"/integrations/mattermost/outgoing", "forged0token0aaaaaaaaaaaaa",
			big[:8000], h.town, "@agent hi", "@agent", false); err == nil {
			t.Fatalf("forged outgoing %d accepted", i)
		}
	}
	rows, err := h.db.ListAudit(ctx, store.AuditFilter{Limit: 10000})
	if err != nil {
		t.Fatal(err)
	}
	n, size := 0, 0
	for _, r := range rows {
		if !strings.HasSuffix(r.Action, ".refused") {
			continue
		}
		n++
		b, _ := json.Marshal(r)
		size += len(b)
	}
	if n == 0 || n > 2 || size > 8<<10 {
		t.Fatalf("2,000 forged clicks and 200 forged tokens wrote %d refusal rows, %d bytes; want 1 per kind, at most 8 KiB", n, size)
	}
	for _, r := range rows {
		if r.Action == "chatops.approval.refused" && !strings.HasPrefix(r.Message, "2000 request(s) refused") && !strings.HasPrefix(r.Message, "1 request(s) refused") {
			t.Fatalf("the entry does not count the refusals it stands for: %q", r.Message)
		}
	}
	// After the window, the held-back refusals are counted in the next entry.
	now = now.Add(11 * time.Second)
	post(t, h.srv.URL+"/integrations/mattermost/actions", "application/json", string(click))
	rows, _ = h.db.ListAudit(ctx, store.AuditFilter{Action: "chatops.approval.refused"})
	if len(rows) != 2 || !strings.HasPrefix(rows[0].Message, "2000 request(s) refused") {
		t.Fatalf("after the window: %d rows, newest %q; want 2, counting the 1,999 held back and this one", len(rows), rows[0].Message)
	}
}

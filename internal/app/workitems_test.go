package app

import (
	"encoding/json"
	"net/http"
	"testing"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// TestWorkItemRuleSendsSignedWorkItems: a workitem rule turns an expense
// event into a signed work item POSTed to the endpoint, with the priority
// chosen by amount, retried on the endpoint's schedule.
func TestWorkItemRuleSendsSignedWorkItems(t *testing.T) {
	for kind, url := range backends(t) {
		t.Run(kind, func(t *testing.T) {
			h := startHub(t, url, nil)
			// The work-item service fails the very first attempt.
			rc := newReceiver(t, func(n int, _ http.ResponseWriter) int {
				if n == 1 {
					return 500
				}
				return 201
			})
			inID, inSec := h.incoming("odoo.hr.expense.create")
			// event_types that no event has: the endpoint gets work items only.
			epID, epSec := h.endpoint(map[string]any{"target_url": rc.srv.URL,
				"retry_schedule": []string{"10ms", "10ms"}})
			st, out := h.api("POST", "/api/v1/rules", map[string]any{"name": "expense work item",
				"match": map[string]any{"type": "odoo.hr.expense.create"},
				"actions": []any{map[string]any{"kind": "workitem", "endpoint": epID, "tenant_id": "tbwa",
					"title": "Expense {{.data.name}}", "lane": "FIN", "priority": "low", "amount": "data.total_amount",
					"priority_thresholds": []any{map[string]any{"over": 50000, "priority": "high"}},
					"tags":                []string{"expense"}}}})
			if st != 201 {
				t.Fatalf("create rule: %d %v", st, out)
			}
			wh, err := standardwebhooks.NewWebhook(epSec)
			if err != nil {
				t.Fatal(err)
			}
			for i, tc := range []struct {
				amount   float64
				priority string
				posts    int // POSTs received once delivered (the first event's first attempt fails)
			}{{60000, "high", 2}, {100, "low", 3}} {
				body, _ := json.Marshal(map[string]any{"_model": "hr.expense", "_id": 5 + i, "name": "Laptop", "total_amount": tc.amount})
				evID := h.send(inID, inSec, "m"+string(rune('1'+i)), string(body))
				waitFor(t, "work item delivered", func() bool { return h.delivery(evID)["state"] == "succeeded" })
				if rc.count() != tc.posts {
					t.Fatalf("amount %v: %d POSTs; want %d", tc.amount, rc.count(), tc.posts)
				}
				rc.mu.Lock()
				r, got := rc.got[tc.posts-1], rc.body[tc.posts-1]
				rc.mu.Unlock()
				if err := wh.Verify(got, r.Header); err != nil {
					t.Fatalf("the Standard Webhooks library rejects the work item's signature: %v", err)
				}
				d := h.delivery(evID)
				if r.Header.Get("webhook-id") != d["id"] || d["kind"] != "workitem" || r.Header.Get("Content-Type") != "application/json" {
					t.Fatalf("headers %v; delivery %v", r.Header, d)
				}
				if tc.posts == 2 && len(d["attempt_log"].([]any)) != 2 {
					t.Fatalf("attempts %v; want the 500 retried once", d["attempt_log"])
				}
				var wi map[string]any
				if err := json.Unmarshal(got, &wi); err != nil {
					t.Fatal(err)
				}
				payload, _ := wi["payload"].(map[string]any)
				if wi["lane"] != "FIN" || wi["priority"] != tc.priority || wi["tenant_id"] != "tbwa" || wi["title"] != "Expense Laptop" ||
					wi["source"] != inID || wi["source_ref"] != "hr.expense:"+string(rune('5'+i)) ||
					payload["total_amount"] != tc.amount || len(wi["tags"].([]any)) != 1 {
					t.Fatalf("amount %v: work item %s", tc.amount, got)
				}
			}
		})
	}
}

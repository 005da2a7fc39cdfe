package app

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/event"
	"github.com/insightpulseai/ipai/internal/store"
)

// Webhooks declared in ipai.yaml are created once, kept in step with the
// file, refused to API edits, and released when no longer declared.
func TestDeclaredWebhooks(t *testing.T) {
	db := filepath.Join(t.TempDir(), "ipai.db")
	dir := t.TempDir()
	declare := func(secret string, webhooks bool) func(*config.Config) {
		return func(c *config.Config) {
			c.DataDir = dir
			if webhooks {
				c.Webhooks = []config.WebhookSpec{
					{Name: "shop", Direction: "incoming", Secret: secret, HookSpec: event.HookSpec{Scheme: "bearer", EventType: "shop.order"}},
					{Name: "crm", Direction: "outgoing", Secret: "crm-signing-secret-0123", EndpointSpec: delivery.EndpointSpec{TargetURL: "https://crm.example.com/hook", EventTypes: []string{"shop.*"}}},
				}
			}
		}
	}
	h := startHub(t, db, declare("shop-secret-0123456789", true))
	hooks, _ := h.a.DB.ListWebhooks(context.Background(), "")
	if len(hooks) != 2 || !hooks[0].Managed || !hooks[1].Managed {
		t.Fatalf("declared webhooks: %+v", hooks)
	}
	in := hooks[0]
	if in.Direction != store.Incoming {
		in = hooks[1]
	}
	if st, _ := h.post("/hooks/"+in.ID, map[string][]string{"Authorization": {"Bearer shop-secret-0123456789"}}, []byte(`{}`)); st != 200 {
		t.Fatalf("declared secret refused: %d", st)
	}
	if st, _ := h.api("PATCH", "/api/v1/webhooks/"+in.ID, map[string]any{"name": "x"}); st != 409 {
		t.Fatalf("API edit of a declared webhook: %d; want 409", st)
	}
	if st, _ := h.api("POST", "/api/v1/webhooks/"+in.ID+"/rotate-secret", nil); st != 409 {
		t.Fatalf("API rotation of a declared webhook: %d; want 409", st)
	}
	h.a.Close()

	// Same file: nothing changes.
	h2 := startHub(t, db, declare("shop-secret-0123456789", true))
	again, _ := h2.a.DB.Webhook(context.Background(), in.ID)
	if !again.UpdatedAt.Equal(in.UpdatedAt) {
		t.Fatalf("unchanged declaration rewrote the webhook (%s → %s)", in.UpdatedAt, again.UpdatedAt)
	}
	h2.a.Close()

	// A new secret in the file replaces the old one.
	h3 := startHub(t, db, declare("shop-secret-rotated-9876", true))
	if st, _ := h3.post("/hooks/"+in.ID, map[string][]string{"Authorization": {"Bearer shop-secret-0123456789"}}, []byte(`{"a":1}`)); st != 401 {
		t.Fatalf("old secret after the file changed: %d; want 401", st)
	}
	if st, _ := h3.post("/hooks/"+in.ID, map[string][]string{"Authorization": {"Bearer shop-secret-rotated-9876"}}, []byte(`{"a":2}`)); st != 200 {
		t.Fatalf("new secret: %d", st)
	}
	h3.a.Close()

	// No longer declared: kept, no longer managed.
	h4 := startHub(t, db, declare("", false)) // New applies the declarations before it returns
	left, _ := h4.a.DB.Webhook(context.Background(), in.ID)
	if left.Managed {
		t.Fatal("a webhook removed from ipai.yaml is still managed")
	}
}

package ui_test

import (
	"context"
	"net/http"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/delivery"
)

// The admin UI shows an endpoint's header names, never their values.
func TestWebhookPagesDoNotShowHeaderValues(t *testing.T) {
	h := newHub(t, nil)
	ep, _, err := h.Endpoints.Create(context.Background(), "crm", delivery.EndpointSpec{TargetURL: "https://crm.example.com/hooks",
		Headers: map[string]string{"Authorization": "Bearer ui-secret-31337"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	h.addUser(t, "admin", auth.RoleAdmin)
	c := newClient(t, h.URL)
	mustStatus(t, c.login("admin", "admin-password"), http.StatusSeeOther, "")
	for _, p := range []string{"/ui/webhooks", "/ui/webhooks/" + ep.ID} {
		resp, body := c.get(p)
		mustStatus(t, resp, http.StatusOK, body)
		if strings.Contains(body, "ui-secret-31337") {
			t.Fatalf("%s shows a header value", p)
		}
		if p != "/ui/webhooks" && !strings.Contains(body, "Authorization") {
			t.Fatalf("%s does not name the header", p)
		}
	}
}

package stack

import (
	"net/http"
	"testing"

	"github.com/insightpulseai/ipai/internal/connector/n8n/n8ntest"
)

// TestConnectN8NAPIKey runs connect's n8n step against the real n8n the
// project's tests use (n8ntest; its owner is already set up, so the step
// takes the "owner exists" path): the key it makes opens the public API.
func TestConnectN8NAPIKey(t *testing.T) {
	in := n8ntest.StartOwn(t)
	ctx := n8ntest.Context(t)
	c := connector{hc: http.DefaultClient}
	key, err := c.n8nAPIKey(ctx, in.URL, in.Email, in.Password)
	if err != nil {
		t.Fatal(err)
	}
	if key == "" || key == in.APIKey {
		t.Fatalf("no new key")
	}
	if _, err := c.call(ctx, c.hc, "GET", in.URL+"/api/v1/workflows", map[string]string{"X-N8N-API-KEY": key}, nil, nil); err != nil {
		t.Errorf("the new key does not open the public API: %v", err)
	}
	if _, err := c.n8nAPIKey(ctx, in.URL, in.Email, "Wrong-password-1"); err == nil {
		t.Errorf("a wrong owner password made a key")
	}
}

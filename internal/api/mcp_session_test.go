package api

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/insightpulseai/ipai/internal/auth"
)

// A client keeps one MCP session over HTTP, yet its token is still checked
// on every request: revoking it stops the very next call, and another
// principal's token cannot use the session.
func TestMCPSessionChecksTokenEveryRequest(t *testing.T) {
	h := newMCPHarness(t)
	ctx := context.Background()
	tokens := auth.NewTokens(h.db)
	raw, rec, err := tokens.Create(ctx, auth.CreateOptions{Name: "agent", Role: auth.RoleUser, Scopes: []string{"mcp:odoo:read"}})
	if err != nil {
		t.Fatal(err)
	}
	cs := h.client(t, raw)
	if cs.ID() == "" {
		t.Fatal("no Mcp-Session-Id: the handler is stateless")
	}
	call := func(cs *mcp.ClientSession) (*mcp.CallToolResult, error) {
		return cs.CallTool(ctx, &mcp.CallToolParams{Name: "odoo_count", Arguments: map[string]any{"model": "res.partner"}})
	}
	if res, err := call(cs); err != nil || res.IsError {
		t.Fatalf("count: %v %+v", err, res)
	}

	// Another principal's token with the same session id is refused.
	other := h.token("mcp:odoo:read")
	body := `{"jsonrpc":"2.0","id":9,"method":"tools/call","params":{"name":"odoo_count","arguments":{"model":"res.partner"}}}`
	req, _ := http.NewRequest(http.MethodPost, h.srv.URL+"/mcp/odoo", strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	req.Header.Set("Authorization", "Bearer "+other)
	req.Header.Set("Mcp-Session-Id", cs.ID())
	req.Header.Set("Mcp-Protocol-Version", "2025-06-18")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusForbidden || !strings.Contains(string(b), "session user mismatch") {
		t.Fatalf("another token used the session: %d %s", resp.StatusCode, b)
	}

	// Revocation takes effect on the next call of the open session.
	if err := h.db.RevokeToken(ctx, rec.ID, time.Now()); err != nil {
		t.Fatal(err)
	}
	if res, err := call(cs); err == nil && !res.IsError {
		t.Fatal("a revoked token still calls tools through its open session")
	}
}

// Stateless mode (for replicas without sticky sessions) still works.
func TestMCPStateless(t *testing.T) {
	h := newMCPHarness(t)
	m, _ := h.api.mcp()
	m.Stateless = true
	cs := h.client(t, h.token("mcp:odoo:read"))
	if cs.ID() != "" {
		t.Fatalf("stateless handler gave a session id %q", cs.ID())
	}
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "odoo_count", Arguments: map[string]any{"model": "res.partner"}})
	if err != nil || res.IsError {
		t.Fatalf("count: %v %+v", err, res)
	}
}

package mcpserver

import (
	"context"
	"testing"

	"github.com/insightpulseai/ipai/internal/connector/odoo"
	fakeodoo "github.com/insightpulseai/ipai/internal/fake/odoo"
	"github.com/modelcontextprotocol/go-sdk/mcp"
)

// BenchmarkOdooSearchReadInMemory isolates the cost of the SDK and the
// safety layer (in-memory transport, audit to memory).
func BenchmarkOdooSearchReadInMemory(b *testing.B) {
	f := fakeodoo.New()
	defer f.Close()
	ctx := context.Background()
	env := &Env{Audit: &recorder{}, Local: principal("bench", "mcp:odoo:read")}
	c := odoo.New(f.URL, fakeodoo.DB, fakeodoo.Login, fakeodoo.APIKey, nil)
	ct, st := mcp.NewInMemoryTransports()
	ss, _ := NewOdoo(env, c, OdooPolicy{}).Connect(ctx, st, nil)
	defer ss.Close()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "b", Version: "1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer cs.Close()
	args := map[string]any{"model": "res.partner", "domain": []any{[]any{"is_company", "=", true}}, "fields": []string{"name", "email"}, "limit": 10}
	benchTool(b, cs, "odoo_search_read", args)
}

package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/insightpulseai/ipai/internal/connector/odoo"
	fakeodoo "github.com/insightpulseai/ipai/internal/fake/odoo"
)

// TestOdooToolsContract runs the odoo MCP tools against a real Odoo when
// IPAI_TEST_ODOO_URL (+ _DB, _LOGIN, _KEY) is set, else against fakes of
// Odoo 18 and 19: reads without fields leave binaries out, a None-returning
// method and message_post succeed, positional args reach JSON-2, an
// unknown model says "not installed".
func TestOdooToolsContract(t *testing.T) {
	type target struct{ url, db, login, key string }
	targets := map[string]target{}
	if u := os.Getenv("IPAI_TEST_ODOO_URL"); u != "" {
		targets["real"] = target{u, os.Getenv("IPAI_TEST_ODOO_DB"), os.Getenv("IPAI_TEST_ODOO_LOGIN"), os.Getenv("IPAI_TEST_ODOO_KEY")}
	} else {
		for _, serie := range []string{"18.0", "19.0"} {
			f := fakeodoo.New()
			f.SetSerie(serie)
			t.Cleanup(f.Close)
			targets["fake "+serie] = target{f.URL, fakeodoo.DB, fakeodoo.Login, fakeodoo.APIKey}
		}
	}
	for name, tg := range targets {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			c := odoo.New(tg.url, tg.db, tg.login, tg.key, nil)
			if _, err := c.Version(ctx); err != nil {
				t.Fatal(err)
			}
			env := &Env{Audit: &recorder{}, Local: principal("tok-1", "mcp:odoo:write")}
			p := OdooPolicy{WriteModels: []string{"res.partner"}, CallMethods: []string{"res.partner.action_archive", "res.partner.read"}}
			cs := connect(t, NewOdoo(env, c, p))

			// Default fields: no binary field comes back; measure the answer.
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "odoo_search_read", Arguments: map[string]any{"model": "res.partner", "limit": 5}})
			if err != nil || res.IsError {
				t.Fatalf("search_read: %v %+v", err, res)
			}
			var out recordsOut
			raw, _ := json.Marshal(res.StructuredContent)
			_ = json.Unmarshal(raw, &out)
			var types map[string]struct {
				Type string `json:"type"`
			}
			if err := c.FieldsGetAttrs(ctx, "res.partner", []string{"type"}, &types); err != nil {
				t.Fatal(err)
			}
			for _, r := range out.Records {
				for f := range r {
					if ty := types[f].Type; ty == "binary" || ty == "one2many" || ty == "many2many" || ty == "html" {
						t.Fatalf("default read returned %s (%s)", f, ty)
					}
				}
			}
			whole, _ := json.Marshal(res)
			t.Logf("odoo_search_read res.partner limit 5, no fields: %d records, %d fields each, %d bytes structured, %d bytes whole result",
				out.Count, len(out.Records[0]), len(raw), len(whole))

			name := fmt.Sprintf("ipai-mcp-contract-%d", time.Now().UnixNano())
			var w writeOut
			mustOK(t, cs, "odoo_create", map[string]any{"model": "res.partner", "values": map[string]any{"name": name}}, &w)
			id := w.IDs[0]
			defer func() { _ = c.ExecuteKW(ctx, "res.partner", "unlink", []any{[]int{id}}, nil, nil) }()

			var co callOut
			mustOK(t, cs, "odoo_call", map[string]any{"model": "res.partner", "method": "read", "args": []any{[]any{id}, []any{"name"}}}, &co)
			if rows, _ := co.Result.([]any); len(rows) != 1 || len(rows[0].(map[string]any)) != 2 {
				t.Fatalf("odoo_call read [[id],[name]] = %v", co.Result)
			}
			var mo postMessageOut
			mustOK(t, cs, "odoo_post_message", map[string]any{"model": "res.partner", "id": id, "body": "mcp contract note"}, &mo)
			if !mo.Applied || mo.MessageID <= 0 {
				t.Fatalf("post_message = %+v", mo)
			}
			mustOK(t, cs, "odoo_call", map[string]any{"model": "res.partner", "method": "action_archive", "args": []any{[]any{id}}}, &co)
			var rows []map[string]any
			if err := c.Read(ctx, "res.partner", []int{id}, []string{"active"}, &rows); err != nil || len(rows) != 1 || rows[0]["active"] != false {
				t.Fatalf("after action_archive: %v, %v", rows, err)
			}
			mustFail(t, cs, "odoo_search_read", map[string]any{"model": "x_ipai.not_installed", "fields": []any{"name"}}, "model not installed")
		})
	}
}

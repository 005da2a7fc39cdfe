package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/connector/odoo"
	fakeodoo "github.com/insightpulseai/ipai/internal/fake/odoo"
	"github.com/insightpulseai/ipai/internal/mcpserver"
	"github.com/insightpulseai/ipai/internal/store"
)

type mcpHarness struct {
	api   *Server
	srv   *httptest.Server
	db    *store.DB
	fake  *fakeodoo.Server
	env   *mcpserver.Env
	token func(scopes ...string) string
}

func newMCPHarness(t testing.TB) *mcpHarness {
	t.Helper()
	ctx := context.Background()
	db := tempDB(t)
	al := audit.New(db)
	f := fakeodoo.New()
	env := &mcpserver.Env{Audit: al}
	oc := odoo.New(f.URL, fakeodoo.DB, fakeodoo.Login, fakeodoo.APIKey, nil)
	s := &Server{DB: db, Audit: al, Tokens: auth.NewTokens(db), Log: slog.New(slog.DiscardHandler)}
	s.MCP = &MCP{Servers: map[string]*mcp.Server{"odoo": mcpserver.NewOdoo(env, oc, mcpserver.OdooPolicy{WriteModels: []string{"res.partner"}})},
		TrustedOrigins: []string{"https://agent.example.com"}}
	srv := serve(t, s, f.Close, env.Flush)
	tokens := auth.NewTokens(db)
	return &mcpHarness{api: s, srv: srv, db: db, fake: f, env: env, token: func(scopes ...string) string {
		raw, _, err := tokens.Create(ctx, auth.CreateOptions{Name: "agent", Role: auth.RoleUser, Scopes: scopes})
		if err != nil {
			t.Fatal(err)
		}
		return raw
	}}
}

type bearer struct {
	tok  string
	base http.RoundTripper
}

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.tok)
	return b.base.RoundTrip(r)
}

func (h *mcpHarness) client(t testing.TB, tok string) *mcp.ClientSession {
	t.Helper()
	tr := &mcp.StreamableClientTransport{Endpoint: h.srv.URL + "/mcp/odoo", HTTPClient: &http.Client{Transport: bearer{tok, http.DefaultTransport}}}
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(context.Background(), tr, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

func post(t *testing.T, url, tok, origin string) *http.Response {
	t.Helper()
	body := `{"jsonrpc":"2.0","id":1,"method":"initialize","params":{"protocolVersion":"2025-06-18","capabilities":{},"clientInfo":{"name":"x","version":"1"}}}`
	req, _ := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json, text/event-stream")
	if tok != "" {
		req.Header.Set("Authorization", "Bearer "+tok)
	}
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

func TestMCPOverHTTP(t *testing.T) {
	h := newMCPHarness(t)
	read := h.token("mcp:odoo:read")
	cs := h.client(t, read)
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "odoo_search_read",
		Arguments: map[string]any{"model": "res.partner", "fields": []string{"name"}}})
	if err != nil || res.IsError {
		t.Fatalf("search_read over HTTP: %v %+v", err, res)
	}
	if b, _ := json.Marshal(res.StructuredContent); !strings.Contains(string(b), "Deco Addict") {
		t.Fatalf("result = %s", b)
	}
	// The token's scopes reach the tools: a read token cannot write.
	res, err = cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "odoo_write",
		Arguments: map[string]any{"model": "res.partner", "ids": []int{1}, "values": map[string]any{"name": "X"}}})
	if err != nil || !res.IsError || !strings.Contains(res.Content[0].(*mcp.TextContent).Text, "mcp:odoo:write") {
		t.Fatalf("write with a read token: %v %+v", err, res)
	}
	wcs := h.client(t, h.token("mcp:odoo:write"))
	res, err = wcs.CallTool(context.Background(), &mcp.CallToolParams{Name: "odoo_write",
		Arguments: map[string]any{"model": "res.partner", "ids": []int{1}, "values": map[string]any{"name": "Deco Addict SA"}}})
	if err != nil || res.IsError || h.fake.Records("res.partner")[0]["name"] != "Deco Addict SA" {
		t.Fatalf("write with a write token: %v %+v", err, res)
	}
	// Audited with the token's id as actor.
	h.env.Flush()
	rows, err := h.db.Query(context.Background(), "SELECT actor, fields FROM audit_log WHERE action = 'mcp.tool_call'")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var actor, fields string
		if err := rows.Scan(&actor, &fields); err != nil {
			t.Fatal(err)
		}
		if actor == "" || actor == "anonymous" || !strings.Contains(fields, `"server":"odoo"`) {
			t.Fatalf("audit row actor=%q fields=%s", actor, fields)
		}
		n++
	}
	if n != 3 {
		t.Fatalf("%d audited tool calls; want 3", n)
	}
}

func TestMCPHTTPAuthAndOrigin(t *testing.T) {
	h := newMCPHarness(t)
	url := h.srv.URL + "/mcp/odoo"
	resp := post(t, url, "", "")
	if resp.StatusCode != 401 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "/.well-known/oauth-protected-resource/mcp/odoo") {
		t.Fatalf("no token: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	if resp := post(t, url, "ipai_not-a-token", ""); resp.StatusCode != 401 {
		t.Fatalf("bad token: %d", resp.StatusCode)
	}
	if resp := post(t, url, h.token("mcp:superset:read"), ""); resp.StatusCode != 403 || !strings.Contains(resp.Header.Get("WWW-Authenticate"), "insufficient_scope") {
		t.Fatalf("token without odoo scope: %d %q", resp.StatusCode, resp.Header.Get("WWW-Authenticate"))
	}
	tok := h.token("mcp:odoo:read")
	if resp := post(t, url, tok, "https://evil.example.com"); resp.StatusCode != 403 {
		t.Fatalf("foreign Origin: %d; want 403", resp.StatusCode)
	}
	if resp := post(t, url, tok, "https://agent.example.com"); resp.StatusCode != 200 {
		b, _ := io.ReadAll(resp.Body)
		t.Fatalf("trusted Origin: %d %s", resp.StatusCode, b)
	}
	if resp := post(t, url, tok, h.srv.URL); resp.StatusCode != 200 {
		t.Fatalf("own Origin: %d", resp.StatusCode)
	}
	if resp := post(t, h.srv.URL+"/mcp/nosuch", tok, ""); resp.StatusCode != 404 {
		t.Fatalf("unknown server: %d", resp.StatusCode)
	}

	r, err := http.Get(h.srv.URL + "/.well-known/oauth-protected-resource/mcp/odoo")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var meta struct {
		Resource string   `json:"resource"`
		Scopes   []string `json:"scopes_supported"`
	}
	if err := json.NewDecoder(r.Body).Decode(&meta); err != nil || meta.Resource != h.srv.URL+"/mcp/odoo" {
		t.Fatalf("metadata = %+v %v", meta, err)
	}
	sort.Strings(meta.Scopes)
	if strings.Join(meta.Scopes, " ") != "mcp:odoo:read mcp:odoo:write" {
		t.Fatalf("scopes = %v", meta.Scopes)
	}
}

// BenchmarkOdooSearchReadHTTP compares odoo_search_read through the whole
// /mcp/odoo route (token check on every request, Streamable HTTP session, safety layer,
// audit) with the same call made directly with the Odoo client.
func BenchmarkOdooSearchReadHTTP(b *testing.B) {
	h := newMCPHarness(b)
	ctx := context.Background()
	args := map[string]any{"model": "res.partner", "domain": []any{[]any{"is_company", "=", true}}, "fields": []string{"name", "email"}, "limit": 10}
	b.Run("direct", func(b *testing.B) {
		c := odoo.New(h.fake.URL, fakeodoo.DB, fakeodoo.Login, fakeodoo.APIKey, nil)
		var out []map[string]any
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			t0 := time.Now()
			if err := c.SearchRead(ctx, "res.partner", args["domain"].([]any), map[string]any{"fields": args["fields"], "limit": 10}, &out); err != nil {
				b.Fatal(err)
			}
			lat = append(lat, time.Since(t0))
		}
		reportP50(b, lat)
	})
	b.Run("mcp-http", func(b *testing.B) {
		cs := h.client(b, h.token("mcp:odoo:read"))
		lat := make([]time.Duration, 0, b.N)
		for b.Loop() {
			t0 := time.Now()
			res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "odoo_search_read", Arguments: args})
			if err != nil || res.IsError {
				b.Fatal(err, res)
			}
			lat = append(lat, time.Since(t0))
		}
		reportP50(b, lat)
	})
}

func reportP50(b *testing.B, lat []time.Duration) {
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
}

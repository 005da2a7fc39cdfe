package app

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/config"
	fakeodoo "github.com/insightpulseai/ipai/internal/fake/odoo"
)

type bearerRT struct {
	tok string
	rt  http.RoundTripper
}

func (b bearerRT) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+b.tok)
	return b.rt.RoundTrip(r)
}

func mcpConfig(t *testing.T, odooURL string) config.Config {
	cfg := config.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Log.Format = "json"
	cfg.Connectors = []config.ConnectorSpec{{Code: "erp", Type: "odoo", BaseURL: odooURL,
		Settings: map[string]string{"database": fakeodoo.DB, "login": fakeodoo.Login},
		Secrets:  map[string]string{"api_key": fakeodoo.APIKey}}}
	return cfg
}

// odooMCPHub runs a hub whose odoo MCP server uses a fake Odoo through a
// stored connector, and connects an agent (a token with mcp:odoo:read) to
// it. cancel stops the hub; done gives what Run returned.
func odooMCPHub(t *testing.T) (cs *mcp.ClientSession, cancel func(), done chan error) {
	t.Helper()
	for _, k := range []string{"ODOO_URL", "SUPERSET_URL", "N8N_URL", "DIGITALOCEAN_TOKEN", "IPAI_MCP_POLICY"} {
		t.Setenv(k, "")
	}
	f := fakeodoo.New()
	t.Cleanup(f.Close)
	cfg := mcpConfig(t, f.URL)
	cfg.MCP.Odoo = "erp"
	ctx := context.Background()
	var logs bytes.Buffer
	a, err := New(ctx, cfg, &logs)
	if err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	addr, done := run(t, sctx, a)
	t.Cleanup(func() { cancel(); <-done; a.Close() })
	raw, _, err := auth.NewTokens(a.DB).Create(ctx, auth.CreateOptions{Name: "agent", Role: auth.RoleUser, Scopes: []string{"mcp:odoo:read"}})
	if err != nil {
		t.Fatal(err)
	}
	tr := &mcp.StreamableClientTransport{Endpoint: "http://" + addr + "/mcp/odoo", HTTPClient: &http.Client{Transport: bearerRT{raw, http.DefaultTransport}}}
	cs, err = mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, tr, nil)
	if err != nil {
		t.Fatalf("connect /mcp/odoo: %v\n%s", err, logs.String())
	}
	t.Cleanup(func() { cs.Close() })
	return cs, cancel, done
}

// ipai serve builds the odoo MCP server from the stored connector the
// config's mcp section names, not from the environment.
func TestServeMCPFromStoredConnector(t *testing.T) {
	cs, _, _ := odooMCPHub(t)
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "odoo_search_read",
		Arguments: map[string]any{"model": "res.partner", "fields": []string{"name"}, "limit": 5}})
	if err != nil || res.IsError {
		t.Fatalf("search_read: %v %+v", err, res)
	}
	if b, _ := json.Marshal(res.StructuredContent); !strings.Contains(string(b), "Deco Addict") {
		t.Fatalf("result = %s", b)
	}
}

// A server pointed at a connector of another type or at none stops the start.
func TestServeMCPConnectorErrors(t *testing.T) {
	f := fakeodoo.New()
	t.Cleanup(f.Close)
	ctx := context.Background()

	cfg := mcpConfig(t, f.URL)
	cfg.MCP.Superset = "erp"
	if _, err := New(ctx, cfg, &bytes.Buffer{}); err == nil || !strings.Contains(err.Error(), "mcp.superset") {
		t.Fatalf("superset server on an odoo connector: %v", err)
	}

	cfg = mcpConfig(t, f.URL)
	cfg.MCP.N8N = "nope"
	a, err := New(ctx, cfg, &bytes.Buffer{})
	if err == nil {
		a.Close()
	}
	if err == nil || !strings.Contains(err.Error(), `mcp.n8n: connector "nope"`) {
		t.Fatalf("unknown connector: %v", err)
	}
}

// An agent's open MCP session (its stream of server messages stays open)
// does not hold up `ipai serve`'s shutdown: the sessions are closed with
// the server, and Run returns without a shutdown error.
func TestShutdownClosesMCPSessions(t *testing.T) {
	cs, cancel, done := odooMCPHub(t)
	if _, err := cs.ListTools(context.Background(), nil); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run after %v: %v (an open MCP session held up the shutdown)", time.Since(start), err)
	}
	t.Logf("shut down in %v", time.Since(start))
}

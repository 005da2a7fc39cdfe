package mcpserver

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/insightpulseai/ipai/internal/connector/odoo"
	fakeodoo "github.com/insightpulseai/ipai/internal/fake/odoo"
)

// BenchmarkOdooSearchReadStdio compares odoo_search_read through `ipai mcp
// odoo` over stdio (a real child process, audit to SQLite included) with
// the same call made directly with the Odoo client, against the fake Odoo.
// The HTTP variant is internal/api's BenchmarkOdooSearchReadHTTP.
func BenchmarkOdooSearchReadStdio(b *testing.B) {
	f := fakeodoo.New()
	defer f.Close()
	ctx := context.Background()
	domain := []any{[]any{"is_company", "=", true}}
	args := map[string]any{"model": "res.partner", "domain": domain, "fields": []string{"name", "email"}, "limit": 10}
	b.Run("direct", func(b *testing.B) {
		c := odoo.New(f.URL, fakeodoo.DB, fakeodoo.Login, fakeodoo.APIKey, nil)
		var out []map[string]any
		benchP50(b, func() {
			if err := c.SearchRead(ctx, "res.partner", domain, map[string]any{"fields": args["fields"], "limit": 10}, &out); err != nil {
				b.Fatal(err)
			}
		})
	})
	b.Run("mcp-stdio", func(b *testing.B) {
		cmd := exec.Command(buildIpai(b), "mcp", "odoo")
		cmd.Env = append(os.Environ(), "ODOO_URL="+f.URL, "ODOO_DB="+fakeodoo.DB, "ODOO_USERNAME="+fakeodoo.Login,
			"ODOO_API_KEY="+fakeodoo.APIKey, "IPAI_DATABASE_URL="+filepath.Join(b.TempDir(), "ipai.db"), "IPAI_CONFIG=")
		cs, err := mcp.NewClient(&mcp.Implementation{Name: "bench", Version: "1"}, nil).Connect(ctx, &mcp.CommandTransport{Command: cmd}, nil)
		if err != nil {
			b.Fatal(err)
		}
		defer cs.Close()
		benchTool(b, cs, "odoo_search_read", args)
	})
}

// benchP50 runs call b.N times and reports the median latency.
func benchP50(b *testing.B, call func()) {
	lat := make([]time.Duration, 0, b.N)
	for b.Loop() {
		t0 := time.Now()
		call()
		lat = append(lat, time.Since(t0))
	}
	if len(lat) == 0 {
		return
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds()), "p50-µs")
}

// benchTool measures calls of the tool name through cs; each must succeed.
func benchTool(b *testing.B, cs *mcp.ClientSession, name string, args map[string]any) {
	benchP50(b, func() {
		res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
		if err != nil || res.IsError {
			b.Fatal(err, res)
		}
	})
}

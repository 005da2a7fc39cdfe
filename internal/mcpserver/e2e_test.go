package mcpserver

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	fakeodoo "github.com/insightpulseai/ipai/internal/fake/odoo"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/testproc"
)

var (
	buildOnce sync.Once
	ipaiBin   string
	buildErr  error
)

// buildIpai builds the ipai binary once per test process.
func buildIpai(t testing.TB) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "ipai-mcp-e2e-")
		if err != nil {
			buildErr = err
			return
		}
		ipaiBin = filepath.Join(dir, "ipai")
		out, err := exec.Command("go", "build", "-o", ipaiBin, "github.com/insightpulseai/ipai/cmd/ipai").CombinedOutput()
		if err != nil {
			buildErr = &buildError{string(out), err}
		}
	})
	if buildErr != nil {
		t.Fatalf("go build ipai: %v", buildErr)
	}
	return ipaiBin
}

type buildError struct {
	out string
	err error
}

func (e *buildError) Error() string { return e.err.Error() + ": " + e.out }

// inspector returns the MCP Inspector CLI installed by
// scripts/test.d/mcp-inspector.sh.
func inspector(t *testing.T) string {
	t.Helper()
	dir := testproc.CacheDir("IPAI_MCP_INSPECTOR_DIR", "mcp-inspector")
	bin := filepath.Join(dir, "node_modules", ".bin", "mcp-inspector")
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("IPAI_SKIP_NPM_E2E") == "1" {
			t.Skip("MCP Inspector not installed and IPAI_SKIP_NPM_E2E=1")
		}
		t.Fatalf("the MCP Inspector CLI is missing (%s): run scripts/test.d/mcp-inspector.sh (scripts/test does), or set IPAI_SKIP_NPM_E2E=1 for a local run without it", bin)
	}
	return bin
}

// TestStdioWithMCPInspector drives `ipai mcp odoo` over stdio with the
// official MCP Inspector CLI (a real client from npm) against the fake Odoo.
func TestStdioWithMCPInspector(t *testing.T) {
	bin := inspector(t)
	ipai := buildIpai(t)
	f := fakeodoo.New()
	defer f.Close()
	dbPath := filepath.Join(t.TempDir(), "ipai.db")
	run := func(args ...string) []byte {
		t.Helper()
		cmd := exec.Command(bin, append([]string{"--cli", ipai, "mcp", "odoo"}, args...)...)
		cmd.Env = append(os.Environ(), "ODOO_URL="+f.URL, "ODOO_DB="+fakeodoo.DB, "ODOO_USERNAME="+fakeodoo.Login,
			"ODOO_API_KEY="+fakeodoo.APIKey, "IPAI_DATABASE_URL="+dbPath, "IPAI_CONFIG=")
		out, err := cmd.Output()
		if err != nil {
			var stderr string
			if ee, ok := err.(*exec.ExitError); ok {
				stderr = string(ee.Stderr)
			}
			t.Fatalf("mcp-inspector %v: %v\nstdout: %s\nstderr: %s", args, err, out, stderr)
		}
		return out
	}

	var list struct {
		Tools []struct {
			Name string `json:"name"`
		} `json:"tools"`
	}
	if err := json.Unmarshal(run("--method", "tools/list"), &list); err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tl := range list.Tools {
		names = append(names, tl.Name)
	}
	if !strings.Contains(strings.Join(names, " "), "odoo_search_read") || len(names) < 13 {
		t.Fatalf("tools/list = %v", names)
	}

	var res struct {
		IsError           bool `json:"isError"`
		StructuredContent struct {
			Count   int              `json:"count"`
			Records []map[string]any `json:"records"`
		} `json:"structuredContent"`
	}
	out := run("--method", "tools/call", "--tool-name", "odoo_search_read", "--tool-arg", "model=res.partner",
		"--tool-arg", `domain=[["name","ilike","azure"]]`, "--tool-arg", `fields=["name","email"]`)
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	if res.IsError || res.StructuredContent.Count != 1 || res.StructuredContent.Records[0]["email"] != "azure@example.com" {
		t.Fatalf("tools/call odoo_search_read = %s", out)
	}

	// Both calls were audited in the store the command was given.
	db, err := store.Open(context.Background(), dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(context.Background(), "SELECT COUNT(*) FROM audit_log WHERE action = 'mcp.tool_call' AND actor LIKE 'local:%'").Scan(&n); err != nil || n != 1 {
		t.Fatalf("audited tool calls = %d, %v; want 1 (tools/list is not a tool call)", n, err)
	}
}

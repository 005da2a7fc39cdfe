package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/insightpulseai/ipai/internal/config"
)

// MCP's settings come through config like every other: public_url from
// ipai.yaml is the base of the OAuth Protected Resource Metadata (it was
// read from IPAI_PUBLIC_URL alone), and IPAI_PUBLIC_URL overrides it.
func TestMCPMetadataUsesPublicURLFromConfig(t *testing.T) {
	for k := range config.Env {
		t.Setenv(k, "")
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "ipai.yaml")
	body := "listen: 127.0.0.1:0\ndata_dir: " + dir + "\npublic_url: https://hub.example.com/\nlog: {format: json}\n"
	if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
		t.Fatal(err)
	}
	resource := func() string {
		t.Helper()
		cfg, err := config.Load(path)
		if err != nil {
			t.Fatal(err)
		}
		a, err := New(context.Background(), cfg, io.Discard)
		if err != nil {
			t.Fatal(err)
		}
		defer a.Close()
		rec := httptest.NewRecorder()
		a.Handler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8080/.well-known/oauth-protected-resource", nil))
		var meta struct {
			Resource string `json:"resource"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &meta); rec.Code != http.StatusOK || err != nil {
			t.Fatalf("metadata: %d %s", rec.Code, rec.Body)
		}
		return meta.Resource
	}
	if got := resource(); got != "https://hub.example.com/mcp" {
		t.Fatalf("resource = %q; want https://hub.example.com/mcp (public_url of ipai.yaml)", got)
	}
	t.Setenv("IPAI_PUBLIC_URL", "https://mcp.example.org")
	if got := resource(); got != "https://mcp.example.org/mcp" {
		t.Fatalf("resource = %q; want https://mcp.example.org/mcp (IPAI_PUBLIC_URL over the file)", got)
	}
}

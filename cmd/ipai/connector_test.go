package main

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/fake/mattermost"
	"github.com/insightpulseai/ipai/internal/integration"
	"github.com/insightpulseai/ipai/internal/secret"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/testpg"
)

// seedConnectors stores connectors the way the API does (secrets sealed
// under the data dir's master key).
func seedConnectors(t *testing.T, db, dataDir string, ins ...integration.Input) {
	t.Helper()
	ctx := context.Background()
	s, err := store.Open(ctx, db)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	box, err := secret.Load(dataDir)
	if err != nil {
		t.Fatal(err)
	}
	svc := integration.New(s, box, nil, 0)
	for _, in := range ins {
		if _, err := svc.Create(ctx, in); err != nil {
			t.Fatal(err)
		}
	}
}

func exitCode(err error) int {
	var ee *exitError
	if errors.As(err, &ee) {
		return ee.code
	}
	if err != nil {
		return 1
	}
	return 0
}

func TestConnectorAndHealthCommands(t *testing.T) {
	for _, kind := range []string{store.SQLite, store.Postgres} {
		t.Run(kind, func(t *testing.T) {
			dataDir := t.TempDir()
			t.Setenv("IPAI_DATA_DIR", dataDir)
			t.Setenv(secret.EnvKey, "")
			db := filepath.Join(dataDir, "ipai.db")
			if kind == store.Postgres {
				db = testpg.URL(t)
			}
			mm := mattermost.New()
			t.Cleanup(mm.Close)
			seedConnectors(t, db, dataDir, integration.Input{Code: "chat", Type: "mattermost", BaseURL: mm.URL,
				Secrets: map[string]string{"token": mattermost.AdminToken}})

			out, _, err := run(t, "connector", "list", "--db", db)
			if err != nil || !strings.Contains(out, "chat") || !strings.Contains(out, "draft") {
				t.Fatalf("list: %q %v", out, err)
			}
			out, _, err = run(t, "connector", "show", "--db", db, "chat")
			if err != nil || !strings.Contains(out, "secrets set:  token") || strings.Contains(out, mattermost.AdminToken) {
				t.Fatalf("show: %q %v", out, err)
			}
			if _, _, err := run(t, "connector", "show", "--db", db, "nope"); exitCode(err) != 1 {
				t.Fatalf("show unknown: %v; want exit 1", err)
			}
			if _, _, err := run(t, "connector", "activate", "--db", db, "chat"); exitCode(err) != 1 || !strings.Contains(err.Error(), "testing") {
				t.Fatalf("activate from draft: %v; want exit 1 saying it must be testing", err)
			}
			out, _, err = run(t, "connector", "test", "--db", db, "chat")
			if err != nil || !strings.Contains(out, "state testing") || !strings.Contains(out, "9.11.1") {
				t.Fatalf("test: %q %v", out, err)
			}
			if out, _, err := run(t, "connector", "activate", "--db", db, "chat"); err != nil || !strings.Contains(out, "chat is active") {
				t.Fatalf("activate: %q %v", out, err)
			}
			out, _, err = run(t, "health", "--db", db)
			if err != nil || !strings.Contains(out, "chat") || !strings.Contains(out, " up ") {
				t.Fatalf("health: %q %v", out, err)
			}
			// Down after 3 consecutive failures, counted across runs (the
			// history is stored): exit 1 only then.
			mm.Fail(http.StatusServiceUnavailable, `{"id":"x","message":"maintenance","status_code":503}`)
			for i := 1; i <= 3; i++ {
				out, _, err = run(t, "health", "--db", db, "--json")
				var v integration.HealthView
				if jerr := json.Unmarshal([]byte(out), &v); jerr != nil || len(v.Connectors) != 1 {
					t.Fatalf("health --json: %q %v", out, jerr)
				}
				wantDown := i == 3
				if (exitCode(err) == 1) != wantDown || (v.Connectors[0].State == "down") != wantDown {
					t.Fatalf("health run %d after failures: state %s, err %v; want down=%v", i, v.Connectors[0].State, err, wantDown)
				}
			}
			if v := strings.Count(out, "\n"); v == 0 {
				t.Fatal("empty health output")
			}
			out, _, err = run(t, "audit", "list", "--db", db, "--action", "connector.*")
			if err != nil || !strings.Contains(out, "connector.test") || !strings.Contains(out, "connector.activate") {
				t.Fatalf("audit: %q %v", out, err)
			}
		})
	}
}

// TestN8NFromStoredConnector checks `ipai n8n export --connector` takes the
// URL and the (sealed) API key from the store.
func TestN8NFromStoredConnector(t *testing.T) {
	dataDir := t.TempDir()
	t.Setenv("IPAI_DATA_DIR", dataDir)
	t.Setenv(secret.EnvKey, "")
	db := filepath.Join(dataDir, "ipai.db")
	const key = "n8n-api-key-from-store"
	var gotKey string
	n8nSrv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotKey = r.Header.Get("X-N8N-API-KEY")
		if gotKey != key {
			w.WriteHeader(401)
			w.Write([]byte(`{"message":"unauthorized"}`))
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Write([]byte(`{"data":[],"nextCursor":null}`))
	}))
	t.Cleanup(n8nSrv.Close)
	seedConnectors(t, db, dataDir,
		integration.Input{Code: "wf", Type: "n8n", BaseURL: n8nSrv.URL, Secrets: map[string]string{"api_key": key}},
		integration.Input{Code: "nokey", Type: "n8n", BaseURL: n8nSrv.URL},
		integration.Input{Code: "chat", Type: "mattermost", BaseURL: n8nSrv.URL})
	dst := t.TempDir()
	out, _, err := run(t, "n8n", "export", "--db", db, "--connector", "wf", "--dir", dst, "--url", "", "--api-key", "")
	if err != nil || !strings.Contains(out, "0 workflows exported") || gotKey != key {
		t.Fatalf("export via connector: %q %v (key sent %q)", out, err, gotKey)
	}
	if _, _, err := run(t, "n8n", "export", "--db", db, "--connector", "chat", "--dir", dst); exitCode(err) != 2 || !strings.Contains(err.Error(), "n8n") {
		t.Fatalf("non-n8n connector: %v; want exit 2", err)
	}
	if _, _, err := run(t, "n8n", "export", "--db", db, "--connector", "nokey", "--dir", dst); exitCode(err) != 2 || !strings.Contains(err.Error(), "api_key") {
		t.Fatalf("connector without key: %v; want exit 2", err)
	}
	if _, err := os.Stat(filepath.Join(dataDir, secret.KeyFile)); err != nil {
		t.Fatalf("master key file: %v", err)
	}
}

// A connector error with newlines in the service's message is stored on
// one line, so `ipai connector list` keeps one row a connector.
func TestConnectorListErrorOnOneLine(t *testing.T) {
	dataDir := t.TempDir()
	t.Setenv("IPAI_DATA_DIR", dataDir)
	t.Setenv(secret.EnvKey, "")
	db := filepath.Join(dataDir, "ipai.db")
	mm := mattermost.New()
	t.Cleanup(mm.Close)
	seedConnectors(t, db, dataDir, integration.Input{Code: "chat", Type: "mattermost", BaseURL: mm.URL,
		Secrets: map[string]string{"token": mattermost.AdminToken}})
	mm.Fail(http.StatusServiceUnavailable, `{"id":"x","message":"down for maintenance\nback at 10:00\n","status_code":503}`)
	if _, _, err := run(t, "connector", "test", "--db", db, "chat"); exitCode(err) != 1 {
		t.Fatalf("test of a failing connector: %v; want exit 1", err)
	}
	out, _, err := run(t, "connector", "list", "--db", db)
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if err != nil || len(lines) != 2 || !strings.Contains(lines[1], "down for maintenance back at 10:00") {
		t.Fatalf("list: %d lines %q %v; want the header and one row", len(lines), out, err)
	}
}

// A connector declared in ipai.yaml can be listed, tested and activated
// from the CLI before `ipai serve` has ever run on the store: every command
// that reads connectors applies the file's declarations first.
func TestDeclaredConnectorsWithoutServe(t *testing.T) {
	dataDir := t.TempDir()
	t.Setenv("IPAI_DATA_DIR", dataDir)
	t.Setenv(secret.EnvKey, "")
	mm := mattermost.New()
	t.Cleanup(mm.Close)
	t.Setenv("IPAI_TEST_MM_TOKEN", mattermost.AdminToken)
	cfgPath := filepath.Join(dataDir, "ipai.yaml")
	yaml := "connectors:\n  - code: chat\n    name: Chat\n    type: mattermost\n    base_url: " + mm.URL +
		"\n    secrets:\n      token: ${IPAI_TEST_MM_TOKEN}\n"
	if err := os.WriteFile(cfgPath, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dataDir, "ipai.db")
	out, _, err := run(t, "connector", "test", "--config", cfgPath, "--db", db, "chat")
	if err != nil || !strings.Contains(out, "state testing") {
		t.Fatalf("test of a declared connector on a fresh store: %q %v", out, err)
	}
	if out, _, err := run(t, "connector", "activate", "--config", cfgPath, "--db", db, "chat"); err != nil || !strings.Contains(out, "chat is active") {
		t.Fatalf("activate: %q %v", out, err)
	}
	// Applying again is idempotent: the connector stays active and managed.
	out, _, err = run(t, "connector", "list", "--config", cfgPath, "--db", db)
	if err != nil || !strings.Contains(out, "chat") || !strings.Contains(out, "active") || !strings.Contains(out, "true") {
		t.Fatalf("list: %q %v", out, err)
	}
	out, _, err = run(t, "connector", "show", "--config", cfgPath, "--db", db, "chat")
	if err != nil || strings.Contains(out, mattermost.AdminToken) {
		t.Fatalf("show: %q %v", out, err)
	}
	// A declaration the store refuses is an error naming the file and the key.
	bad := filepath.Join(dataDir, "bad.yaml")
	os.WriteFile(bad, []byte("connectors:\n  - code: chat\n    type: mattermost\n    base_url: "+mm.URL+"\n    secrets:\n      nonsense: x\n"), 0o600)
	_, _, err = run(t, "connector", "list", "--config", bad, "--db", db)
	if err == nil || !strings.Contains(err.Error(), bad) {
		t.Fatalf("list with a bad declaration: %v; want an error naming %s", err, bad)
	}
}

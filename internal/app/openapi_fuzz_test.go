package app

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/testproc"
)

// schemathesisBin is the schemathesis CLI that scripts/test.d/schemathesis.sh
// installs (IPAI_SCHEMATHESIS overrides).
func schemathesisBin() string {
	if p := os.Getenv("IPAI_SCHEMATHESIS"); p != "" {
		return p
	}
	return filepath.Join(testproc.CacheDir("", "schemathesis"), "bin", "schemathesis")
}

// TestFuzzAPIFromOpenAPI runs schemathesis against a running hub, from the
// document it publishes at /api/v1/openapi.json: every documented operation,
// generated valid and invalid requests (as admin, and without a token). No
// answer may be a 5xx, and every answer — errors included — must match the
// documented schema and content type.
func TestFuzzAPIFromOpenAPI(t *testing.T) {
	bin := schemathesisBin()
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("IPAI_SKIP_SCHEMATHESIS") == "1" {
			t.Skip("schemathesis not installed and IPAI_SKIP_SCHEMATHESIS=1")
		}
		t.Fatalf("schemathesis is not installed at %s: run scripts/test.d/schemathesis.sh (scripts/test does), or set IPAI_SKIP_SCHEMATHESIS=1 for a local run without it", bin)
	}
	h := startHub(t, filepath.Join(t.TempDir(), "ipai.db"), nil)
	// Some data, so that reads by id find something: a hook, an endpoint,
	// an event and its delivery.
	inID, inSec := h.incoming("shop.order.created")
	epID, _ := h.endpoint(map[string]any{"target_url": "http://127.0.0.1:9/none", "event_types": []string{"shop.*"}})
	evID := h.send(inID, inSec, "m1", `{"order":1}`)
	dID := h.delivery(evID)["id"].(string)
	if st, out := h.api("POST", "/api/v1/connectors", map[string]any{"code": "web", "type": "http", "base_url": "http://127.0.0.1:9"}); st != 201 {
		t.Fatalf("create connector: %d %v", st, out)
	}
	st, rl := h.api("POST", "/api/v1/rules", map[string]any{"name": "orders", "match": map[string]any{"source": "shop", "type": "shop.*"},
		"actions": []any{map[string]any{"kind": "webhook", "endpoint": epID}}})
	if st != 201 {
		t.Fatalf("create rule: %d %v", st, rl)
	}
	// Operations by id get these ids (besides generated ones).
	conf := filepath.Join(t.TempDir(), "schemathesis.toml")
	toml := fmt.Sprintf(`[[operations]]
include-path-regex = "^/api/v1/webhooks/"
parameters = { id = %q }

[[operations]]
include-path-regex = "^/api/v1/events/"
parameters = { id = %q }

[[operations]]
include-path-regex = "^/api/v1/deliveries/[{]"
parameters = { id = %q }

[[operations]]
include-path-regex = "^/api/v1/rules/"
parameters = { id = %q }

[[operations]]
include-path-regex = "^/api/v1/connectors/"
parameters = { code = "web" }
`, epID, evID, dID, rl["id"])
	if err := os.WriteFile(conf, []byte(toml), 0o600); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	reports := t.TempDir()
	cmd := exec.CommandContext(ctx, bin, "--config-file", conf, "run", h.base+"/api/v1/openapi.json",
		"-H", "Authorization: Bearer "+h.admin,
		"--checks", "not_a_server_error,response_schema_conformance,content_type_conformance,status_code_conformance",
		// Revoking the run's own token would leave the rest unauthenticated.
		"--exclude-operation-id", "delete_tokens_id",
		"--phases", "coverage,fuzzing", "--max-examples", "10", "--seed", "1", "--workers", "1",
		"--report-dir", reports, "--no-color")
	cmd.Env = append(os.Environ(), "SCHEMATHESIS_HOOKS=", "NO_COLOR=1")
	cmd.Dir = t.TempDir() // schemathesis keeps a cache (.schemathesis/) in its working directory
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("schemathesis: %v\n%s", err, tail(string(out), 12000))
	}
	if !strings.Contains(string(out), "passed") {
		t.Fatalf("schemathesis ran no test:\n%s", tail(string(out), 4000))
	}
	// The admin token still works: the run authenticated throughout.
	if st, _ := h.api("GET", "/api/v1/me", nil); st != 200 {
		t.Fatalf("GET /api/v1/me after the run: %d", st)
	}
	t.Logf("schemathesis: %s\n%s", lastLine(string(out), "generated"), tail(string(out), 6000))
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

func lastLine(s, containing string) string {
	lines := strings.Split(s, "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if strings.Contains(lines[i], containing) {
			return strings.TrimSpace(lines[i])
		}
	}
	return ""
}

package probe

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/testpg"
)

func TestMain(m *testing.M) { testpg.Main(m) }

func serve(t *testing.T, h http.HandlerFunc) string {
	t.Helper()
	s := httptest.NewServer(h)
	t.Cleanup(s.Close)
	return s.URL
}

func jsonBody(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(v)
}

// services answer like the real ones (reference/apis.md).
func healthyServices(t *testing.T) map[string]string {
	return map[string]string{
		"mattermost": serve(t, func(w http.ResponseWriter, r *http.Request) {
			if r.URL.Path != "/api/v4/system/ping" || r.URL.Query().Get("get_server_status") == "" {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("X-Version-Id", "10.5.2.10.5.2.abcdef0123.false")
			jsonBody(w, 200, map[string]any{"status": "OK", "database_status": "OK", "filestore_status": "OK", "ActiveSearchBackend": "database"})
		}) + "/api/v4/system/ping?get_server_status=true",
		"focalboard": serve(t, func(w http.ResponseWriter, r *http.Request) {
			jsonBody(w, 200, map[string]any{"version": "7.11.4", "db_type": "postgres"})
		}) + "/ping",
		"n8n": serve(t, func(w http.ResponseWriter, r *http.Request) { jsonBody(w, 200, map[string]string{"status": "ok"}) }) + "/healthz/readiness",
		"superset": serve(t, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/plain")
			io.WriteString(w, "OK")
		}) + "/health",
		"keycloak": serve(t, func(w http.ResponseWriter, r *http.Request) {
			jsonBody(w, 200, map[string]any{"status": "UP", "checks": []any{}})
		}) + "/health/ready",
		"odoo-core": serve(t, func(w http.ResponseWriter, r *http.Request) { jsonBody(w, 200, map[string]string{"status": "pass"}) }) + "/web/health",
		"hub": serve(t, func(w http.ResponseWriter, r *http.Request) {
			jsonBody(w, 200, map[string]string{"status": "ok", "version": "0.1.0"})
		}) + "/readyz",
		"caddy": serve(t, func(w http.ResponseWriter, r *http.Request) {
			jsonBody(w, 200, []map[string]any{{"address": "mattermost:8065", "num_requests": 0, "fails": 0}})
		}) + "/reverse_proxy/upstreams",
		"postgres": testpg.URL(t),
	}
}

func checksFor(t *testing.T, urls map[string]string) []Check {
	t.Helper()
	c, err := Override(Checks("example.com", []string{"core"}, func(ctx context.Context) *exec.Cmd { return exec.CommandContext(ctx, "false") }), urls)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func byName(rs []Result) map[string]Result {
	m := map[string]Result{}
	for _, r := range rs {
		m[r.Service] = r
	}
	return m
}

func TestAllServicesUp(t *testing.T) {
	rs := Run(context.Background(), nil, checksFor(t, healthyServices(t)), 5*time.Second)
	for _, r := range rs {
		if !r.Up {
			t.Errorf("%s down: %s", r.Service, r.Detail)
		}
	}
	m := byName(rs)
	if m["mattermost"].Version != "10.5.2" || m["focalboard"].Version != "7.11.4" || !strings.HasPrefix(m["postgres"].Version, "15") {
		t.Errorf("versions: mattermost %q focalboard %q postgres %q", m["mattermost"].Version, m["focalboard"].Version, m["postgres"].Version)
	}
	if m["n8n"].HTTPCode != 200 || m["caddy"].Detail != "1 upstreams" {
		t.Errorf("n8n %+v caddy %+v", m["n8n"], m["caddy"])
	}
	if !AllUp(rs) {
		t.Error("AllUp false")
	}
}

func TestDownServicesAreReported(t *testing.T) {
	urls := healthyServices(t)
	urls["mattermost"] = serve(t, func(w http.ResponseWriter, r *http.Request) {
		jsonBody(w, 500, map[string]any{"status": "UNHEALTHY", "database_status": "UNHEALTHY"})
	}) + "/api/v4/system/ping?get_server_status=true"
	urls["n8n"] = serve(t, func(w http.ResponseWriter, r *http.Request) { jsonBody(w, 503, map[string]string{"status": "error"}) })
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close()
	urls["superset"] = closed.URL + "/health"
	block := make(chan struct{})
	t.Cleanup(func() { close(block) })
	urls["hub"] = serve(t, func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	})
	urls["keycloak"] = serve(t, func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/login", http.StatusFound) // redirects are not health
	})
	urls["postgres"] = "postgres://nobody@" + strings.TrimPrefix(closed.URL, "http://") + "/x?connect_timeout=2"

	rs := Run(context.Background(), nil, checksFor(t, urls), 500*time.Millisecond)
	m := byName(rs)
	for _, name := range []string{"mattermost", "n8n", "superset", "hub", "keycloak", "postgres"} {
		if m[name].Up {
			t.Errorf("%s reported up", name)
		}
		if m[name].Detail == "" {
			t.Errorf("%s down without a detail", name)
		}
	}
	if !strings.Contains(m["hub"].Detail, "no answer within") {
		t.Errorf("timeout detail = %q", m["hub"].Detail)
	}
	if m["mattermost"].HTTPCode != 500 || !m["odoo-core"].Up || AllUp(rs) {
		t.Errorf("mattermost %+v odoo %+v", m["mattermost"], m["odoo-core"])
	}
	var buf bytes.Buffer
	WriteTable(&buf, rs)
	if !strings.Contains(buf.String(), "3/9 services up") || !strings.Contains(buf.String(), "SERVICE") {
		t.Errorf("table:\n%s", buf.String())
	}
}

func TestCommandCheck(t *testing.T) {
	ok := Check{Name: "postgres", Cmd: func(ctx context.Context) *exec.Cmd {
		return exec.CommandContext(ctx, "sh", "-c", "echo '/var/run/postgresql:5432 - accepting connections'")
	}}
	bad := Check{Name: "pg2", Cmd: func(ctx context.Context) *exec.Cmd {
		return exec.CommandContext(ctx, "sh", "-c", "echo no response; exit 2")
	}}
	rs := Run(context.Background(), nil, []Check{ok, bad}, time.Second)
	if !rs[0].Up || rs[1].Up || !strings.Contains(rs[1].Detail, "no response") {
		t.Errorf("%+v", rs)
	}
}

func TestOverrideRejectsUnknownService(t *testing.T) {
	_, err := Override(Checks("example.com", nil, nil), map[string]string{"mattermots": "http://x"})
	if err == nil || !strings.Contains(err.Error(), "mattermost") {
		t.Errorf("err = %v", err)
	}
}

func TestNotifyPostsToMattermostAndN8N(t *testing.T) {
	var mu sync.Mutex
	var mm []map[string]string
	var n8n []map[string]any
	mmURL := serve(t, func(w http.ResponseWriter, r *http.Request) {
		var v map[string]string
		json.NewDecoder(r.Body).Decode(&v)
		mu.Lock()
		mm = append(mm, v)
		mu.Unlock()
		w.Header().Set("Content-Type", "text/plain")
		io.WriteString(w, "ok")
	}) + "/hooks/abcdefghijklmnopqrstuvwxyz"
	n8nURL := serve(t, func(w http.ResponseWriter, r *http.Request) {
		var v map[string]any
		json.NewDecoder(r.Body).Decode(&v)
		mu.Lock()
		n8n = append(n8n, v)
		mu.Unlock()
		jsonBody(w, 200, map[string]string{"message": "Workflow was started"})
	}) + "/webhook/health"
	rs := []Result{
		{Service: "mattermost", CheckedAt: time.Now(), Up: true, HTTPCode: 200, LatencyMS: 12},
		{Service: "n8n", CheckedAt: time.Now(), Up: false, HTTPCode: 503, LatencyMS: 40, Detail: "HTTP 503"},
	}
	if err := Notify(context.Background(), nil, mmURL, n8nURL, rs); err != nil {
		t.Fatal(err)
	}
	if len(mm) != 1 || !strings.Contains(mm[0]["text"], "1 of 2 services down") {
		t.Errorf("mattermost got %v", mm)
	}
	if len(n8n) != 2 {
		t.Fatalf("n8n got %d posts, want one per service", len(n8n))
	}
	for _, k := range []string{"service_name", "checked_at", "is_up", "http_code", "latency_ms"} {
		if _, ok := n8n[1][k]; !ok {
			t.Errorf("n8n payload lacks %s: %v", k, n8n[1])
		}
	}
	if n8n[1]["is_up"] != false || n8n[1]["http_code"] != float64(503) {
		t.Errorf("n8n payload = %v", n8n[1])
	}
	failing := serve(t, func(w http.ResponseWriter, r *http.Request) { http.Error(w, "disabled", 501) })
	if err := Notify(context.Background(), nil, failing, "", rs); err == nil {
		t.Error("a refused webhook is not reported")
	}
}

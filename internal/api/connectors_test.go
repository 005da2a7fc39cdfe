package api

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/fake/mattermost"
	"github.com/insightpulseai/ipai/internal/fake/odoo"
	"github.com/insightpulseai/ipai/internal/health"
	"github.com/insightpulseai/ipai/internal/integration"
	"github.com/insightpulseai/ipai/internal/outbound"
	"github.com/insightpulseai/ipai/internal/secret"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/testproc"
)

type connHarness struct {
	*harness
	svc    *integration.Service
	runner *health.Runner
}

// newConnHarness is the API harness with the connector service and a
// health runner wired as `ipai serve` wires them.
func newConnHarness(t *testing.T, url string) *connHarness {
	t.Helper()
	ctx := context.Background()
	db := openDB(t, url)
	box, err := secret.Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	guard, _ := outbound.New(nil)
	logs := &testproc.Buffer{}
	log := debugLog(logs)
	al := audit.New(db)
	svc := integration.New(db, box, guard, 0)
	svc.Audit, svc.Log = al, log
	runner, err := svc.NewRunner(ctx, config.Defaults().Health)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{DB: db, Audit: al, Tokens: auth.NewTokens(db), Log: log, Connectors: svc, Health: runner}
	s.Registry().MustRegister(health.Collector{R: runner})
	return &connHarness{harness: serveHarness(t, s, logs), svc: svc, runner: runner}
}

func TestConnectorLifecycleAgainstFakes(t *testing.T) {
	onEachStore(t, func(t *testing.T, url string) {
		h := newConnHarness(t, url)
		mm := mattermost.New()
		t.Cleanup(mm.Close)
		admin, manager, user := h.tokens[auth.RoleAdmin], h.tokens[auth.RoleManager], h.tokens[auth.RoleUser]

		body := fmt.Sprintf(`{"code":"chat","type":"mattermost","base_url":%q,"settings":{"team":"ipai"},"secrets":{"token":%q}}`, mm.URL, mattermost.AdminToken)
		st, out := h.do(t, "POST", "/api/v1/connectors", admin, body)
		if st != 201 || out["state"] != "draft" || out["auth_type"] != "token" || out["name"] != "chat" {
			t.Fatalf("create: %d %v", st, out)
		}
		if sec, _ := out["secrets"].(map[string]any); sec["token"] != true {
			t.Fatalf("create response secrets = %v; want {token:true}", out["secrets"])
		}

		// Activate needs a passing test first.
		if st, out := h.do(t, "POST", "/api/v1/connectors/chat/activate", manager, "{}"); st != 409 || !strings.Contains(fmt.Sprint(out), "testing") {
			t.Fatalf("activate from draft: %d %v; want 409 saying it must be testing", st, out)
		}
		st, rep := h.do(t, "POST", "/api/v1/connectors/chat/test", manager, "{}")
		if st != 200 || rep["ok"] != true || rep["state"] != "testing" || rep["version"] != "9.11.1" {
			t.Fatalf("test: %d %v", st, rep)
		}
		if checks, _ := rep["checks"].([]any); len(checks) < 2 {
			t.Fatalf("test report has checks %v; want reachable, auth, version", rep["checks"])
		}
		if st, out := h.do(t, "POST", "/api/v1/connectors/chat/activate", manager, "{}"); st != 200 || out["state"] != "active" {
			t.Fatalf("activate: %d %v", st, out)
		}
		if st, out := h.do(t, "GET", "/api/v1/connectors/chat", user, ""); st != 200 || out["state"] != "active" ||
			out["version"] != "9.11.1" || out["last_ping"] == nil {
			t.Fatalf("get: %d %v", st, out)
		}
		if st, out := h.do(t, "POST", "/api/v1/connectors/chat/activate", manager, "{}"); st != 409 {
			t.Fatalf("activate twice: %d %v; want 409", st, out)
		}

		// The report is in the audit log.
		rows, err := h.db.ListAudit(context.Background(), store.AuditFilter{Action: "connector.test", Limit: 10})
		if err != nil || len(rows) != 1 || rows[0].Target != "chat" || !strings.Contains(rows[0].Fields, `"checks"`) ||
			!strings.Contains(rows[0].Fields, `"ok":true`) {
			t.Fatalf("audit of the test: %+v %v", rows, err)
		}

		// Health: a round over the active connectors, then the API and gauges.
		if err := h.runner.RunOnce(context.Background()); err != nil {
			t.Fatal(err)
		}
		st, hv := h.do(t, "GET", "/api/v1/health", user, "")
		cs, _ := hv["connectors"].([]any)
		if st != 200 || hv["ok"] != true || len(cs) != 1 {
			t.Fatalf("health: %d %v", st, hv)
		}
		if c := cs[0].(map[string]any); c["code"] != "chat" || c["state"] != "up" || c["uptime"] != 1.0 {
			t.Fatalf("health of chat: %v", c)
		}
		resp, err := http.Get(h.srv.URL + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		metrics, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if !strings.Contains(string(metrics), `ipai_connector_up{code="chat",type="mattermost"} 1`) {
			t.Fatalf("metrics lack the connector gauge:\n%.3000s", metrics)
		}
		// The stored history survives the runner: a fresh view agrees.
		if v, err := h.svc.Health(context.Background(), nil); err != nil || len(v.Connectors) != 1 || v.Connectors[0].Checks != 1 {
			t.Fatalf("health from stored history: %+v %v", v, err)
		}

		// Changing the URL of an active connector sends it back to draft.
		st, out = h.do(t, "PATCH", "/api/v1/connectors/chat", manager, fmt.Sprintf(`{"base_url":%q}`, mm.URL+"/"))
		if st != 200 || out["state"] != "active" {
			t.Fatalf("no-op URL patch (trailing slash): %d %v; want still active", st, out)
		}
		st, out = h.do(t, "PATCH", "/api/v1/connectors/chat", manager, `{"name":"Team chat"}`)
		if st != 200 || out["state"] != "active" || out["name"] != "Team chat" {
			t.Fatalf("rename: %d %v", st, out)
		}
		st, out = h.do(t, "PATCH", "/api/v1/connectors/chat", admin, `{"secrets":{"token":"wrong-token"}}`)
		if st != 200 || out["state"] != "draft" {
			t.Fatalf("secret change: %d %v; want back to draft", st, out)
		}
		// A failing test is a report, not an error, and moves to error.
		st, rep = h.do(t, "POST", "/api/v1/connectors/chat/test", manager, "{}")
		if st != 200 || rep["ok"] != false || rep["state"] != "error" {
			t.Fatalf("failing test: %d %v", st, rep)
		}
		if st, out := h.do(t, "GET", "/api/v1/connectors?state=error", user, ""); st != 200 || len(out["items"].([]any)) != 1 {
			t.Fatalf("list by state: %d %v", st, out)
		}
		if st, out := h.do(t, "POST", "/api/v1/connectors/chat/activate", manager, "{}"); st != 409 {
			t.Fatalf("activate from error: %d %v; want 409", st, out)
		}

		if st, _ := h.do(t, "DELETE", "/api/v1/connectors/chat", manager, ""); st != 403 {
			t.Fatalf("manager delete: %d; want 403", st)
		}
		if st, _ := h.do(t, "DELETE", "/api/v1/connectors/chat", admin, ""); st != 204 {
			t.Fatalf("admin delete: %d; want 204", st)
		}
		if st, _ := h.do(t, "GET", "/api/v1/connectors/chat", user, ""); st != 404 {
			t.Fatalf("get after delete: %d; want 404", st)
		}
	})
}

func TestConnectorValidationAndRoles(t *testing.T) {
	h := newConnHarness(t, filepath.Join(t.TempDir(), "ipai.db"))
	admin, manager := h.tokens[auth.RoleAdmin], h.tokens[auth.RoleManager]
	cases := []struct{ body, field string }{
		{`{"code":"Bad Code","type":"n8n","base_url":"https://n8n.example.com"}`, "code"},
		{`{"code":"a","type":"irc","base_url":"https://x.example.com"}`, "type"},
		{`{"code":"a","type":"n8n","base_url":"n8n.example.com"}`, "base_url"},
		{`{"code":"a","type":"n8n","base_url":"https://user:pw@n8n.example.com"}`, "base_url"},
		{`{"code":"a","type":"n8n","base_url":"https://n8n.example.com","auth_type":"basic"}`, "auth_type"},
		{`{"code":"a","type":"odoo","base_url":"https://erp.example.com","settings":{"login":"admin"}}`, "settings.database"},
		{`{"code":"a","type":"n8n","base_url":"https://n8n.example.com","settings":{"colour":"red"}}`, "settings.colour"},
		{`{"code":"a","type":"n8n","base_url":"https://n8n.example.com","secrets":{"password":"x"}}`, "secrets.password"},
	}
	for _, c := range cases {
		st, out := h.do(t, "POST", "/api/v1/connectors", admin, c.body)
		if st != 422 || errCode(out) != "invalid" || errField(out) != c.field {
			t.Errorf("create %s: %d %v; want 422 naming %s", c.body, st, out, c.field)
		}
	}
	if st, out := h.do(t, "GET", "/api/v1/connectors?state=sleeping", admin, ""); st != 422 || errField(out) != "state" {
		t.Errorf("list with a bad state: %d %v", st, out)
	}

	// A manager configures without secrets; secrets need an admin.
	ok := `{"code":"wf","type":"n8n","base_url":"https://n8n.example.com"}`
	if st, out := h.do(t, "POST", "/api/v1/connectors", manager, `{"code":"wf","type":"n8n","base_url":"https://n8n.example.com","secrets":{"api_key":"k"}}`); st != 403 {
		t.Fatalf("manager create with secret: %d %v; want 403", st, out)
	}
	if st, out := h.do(t, "POST", "/api/v1/connectors", manager, ok); st != 201 || len(out["secrets"].(map[string]any)) != 0 {
		t.Fatalf("manager create without secrets: %d %v", st, out)
	}
	if st, out := h.do(t, "POST", "/api/v1/connectors", manager, ok); st != 409 {
		t.Fatalf("duplicate code: %d %v; want 409", st, out)
	}
	if st, _ := h.do(t, "PATCH", "/api/v1/connectors/wf", manager, `{"secrets":{"api_key":"k"}}`); st != 403 {
		t.Fatalf("manager patch of a secret: %d; want 403", st)
	}
	if st, out := h.do(t, "PATCH", "/api/v1/connectors/wf", admin, `{"secrets":{"api_key":"k"}}`); st != 200 || out["secrets"].(map[string]any)["api_key"] != true {
		t.Fatalf("admin patch of a secret: %d %v", st, out)
	}
	if st, out := h.do(t, "PATCH", "/api/v1/connectors/wf", admin, `{"type":"odoo"}`); st != 422 || errField(out) != "type" {
		t.Fatalf("type change: %d %v; want 422 on type", st, out)
	}
	if st, out := h.do(t, "PATCH", "/api/v1/connectors/wf", manager, `{"base_url":"ftp://x"}`); st != 422 || errField(out) != "base_url" {
		t.Fatalf("bad patch: %d %v; want 422 on base_url", st, out)
	}
	if st, _ := h.do(t, "PATCH", "/api/v1/connectors/nope", manager, `{"name":"x"}`); st != 404 {
		t.Fatalf("patch unknown: %d; want 404", st)
	}
	if st, _ := h.do(t, "POST", "/api/v1/connectors/nope/test", manager, `{}`); st != 404 {
		t.Fatalf("test unknown: %d; want 404", st)
	}
}

func TestManagedConnectorsAreEditedInTheConfig(t *testing.T) {
	h := newConnHarness(t, filepath.Join(t.TempDir(), "ipai.db"))
	ctx := context.Background()
	od := odoo.New()
	t.Cleanup(od.Close)
	specs := []config.ConnectorSpec{{Code: "erp", Type: "odoo", BaseURL: od.URL,
		Settings: map[string]string{"database": odoo.DB, "login": odoo.Login}, Secrets: map[string]string{"api_key": odoo.APIKey}}}
	res, err := h.svc.Apply(ctx, specs)
	if err != nil || len(res.Created) != 1 {
		t.Fatalf("first apply: %+v %v", res, err)
	}
	// Applying the same file again changes nothing (secrets compared opened).
	if res, err := h.svc.Apply(ctx, specs); err != nil || len(res.Unchanged) != 1 || len(res.Updated) != 0 {
		t.Fatalf("second apply: %+v %v; want unchanged", res, err)
	}
	admin := h.tokens[auth.RoleAdmin]
	st, out := h.do(t, "GET", "/api/v1/connectors/erp", admin, "")
	if st != 200 || out["managed"] != true {
		t.Fatalf("get managed: %d %v", st, out)
	}
	for _, c := range []struct{ method, body string }{{"PATCH", `{"name":"x"}`}, {"DELETE", ""}} {
		st, out := h.do(t, c.method, "/api/v1/connectors/erp", admin, c.body)
		if st != 409 || !strings.Contains(fmt.Sprint(out), "ipai.yaml") {
			t.Errorf("%s managed: %d %v; want 409 pointing at ipai.yaml", c.method, st, out)
		}
	}
	// Test and Activate are operations, allowed on managed connectors.
	if st, rep := h.do(t, "POST", "/api/v1/connectors/erp/test", admin, "{}"); st != 200 || rep["ok"] != true || rep["version"] != "18.0" {
		t.Fatalf("test managed: %d %v", st, rep)
	}
	if st, _ := h.do(t, "POST", "/api/v1/connectors/erp/activate", admin, "{}"); st != 200 {
		t.Fatalf("activate managed: %d", st)
	}
	// Unchanged on restart keeps it active; a changed file resets it.
	if _, err := h.svc.Apply(ctx, specs); err != nil {
		t.Fatal(err)
	}
	if c, _ := h.svc.Get(ctx, "erp"); c.State != "active" {
		t.Fatalf("state after re-apply: %s; want active", c.State)
	}
	specs[0].Secrets["api_key"] = "rotated"
	if res, err := h.svc.Apply(ctx, specs); err != nil || len(res.Updated) != 1 {
		t.Fatalf("apply changed: %+v %v", res, err)
	}
	if c, _ := h.svc.Get(ctx, "erp"); c.State != "draft" {
		t.Fatalf("state after a secret change in the file: %s; want draft", c.State)
	}
	// Removed from the file: kept, no longer managed, editable again.
	if res, err := h.svc.Apply(ctx, nil); err != nil || len(res.Released) != 1 {
		t.Fatalf("apply without it: %+v %v", res, err)
	}
	if st, out := h.do(t, "PATCH", "/api/v1/connectors/erp", admin, `{"name":"ERP"}`); st != 200 || out["managed"] != false {
		t.Fatalf("patch after release: %d %v", st, out)
	}
	// A bad declaration names the file's key.
	_, err = h.svc.Apply(ctx, []config.ConnectorSpec{{Code: "bad", Type: "odoo", BaseURL: od.URL}})
	if err == nil || !strings.Contains(err.Error(), "connectors[0].settings.database") {
		t.Fatalf("bad spec: %v; want the key path", err)
	}
}

// TestSecretsNeverLeave sets a known secret through every write path and
// looks for it in every response, the logs, the audit log and the stored row.
func TestSecretsNeverLeave(t *testing.T) {
	h := newConnHarness(t, filepath.Join(t.TempDir(), "ipai.db"))
	mm := mattermost.New()
	t.Cleanup(mm.Close)
	const canary = "CANARY-s3cr3t-7f1d9a"
	admin := h.tokens[auth.RoleAdmin]
	var bodies []string
	record := func(st int, out map[string]any) {
		b, _ := json.Marshal(out)
		bodies = append(bodies, string(b))
	}
	record(h.do(t, "POST", "/api/v1/connectors", admin, fmt.Sprintf(`{"code":"chat","type":"mattermost","base_url":%q,"secrets":{"token":%q}}`, mm.URL, canary)))
	record(h.do(t, "POST", "/api/v1/connectors/chat/test", admin, "{}")) // fails: the canary is not a valid token
	record(h.do(t, "PATCH", "/api/v1/connectors/chat", admin, fmt.Sprintf(`{"secrets":{"token":%q}}`, canary+"-2")))
	record(h.do(t, "PATCH", "/api/v1/connectors/chat", admin, fmt.Sprintf(`{"secrets":{"token":%q}}`, mattermost.AdminToken)))
	record(h.do(t, "POST", "/api/v1/connectors/chat/test", admin, "{}"))
	record(h.do(t, "GET", "/api/v1/connectors", admin, ""))
	record(h.do(t, "GET", "/api/v1/connectors/chat", admin, ""))
	record(h.do(t, "GET", "/api/v1/audit", admin, ""))
	for _, b := range bodies {
		if strings.Contains(b, canary) || strings.Contains(b, mattermost.AdminToken) {
			t.Fatalf("a response reveals a secret: %s", b)
		}
	}
	if !strings.Contains(bodies[0], `"secrets":{"token":true}`) {
		t.Fatalf("create response does not say the token is set: %s", bodies[0])
	}
	if l := h.logs.String(); strings.Contains(l, canary) || strings.Contains(l, mattermost.AdminToken) {
		t.Fatal("a secret appears in the logs")
	}
	var n int
	err := h.db.ScanAudit(context.Background(), func(r store.AuditRow) error {
		n++
		if all := fmt.Sprintf("%+v", r); strings.Contains(all, canary) || strings.Contains(all, mattermost.AdminToken) {
			t.Errorf("audit entry %d reveals a secret: %s", r.Seq, all)
		}
		return nil
	})
	if err != nil || n < 5 {
		t.Fatalf("audit scan: %d entries, %v", n, err)
	}
	var stored string
	if err := h.db.QueryRow(context.Background(), "SELECT secrets FROM connectors WHERE code = 'chat'").Scan(&stored); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stored, mattermost.AdminToken) || !strings.Contains(stored, `"token":"v1:`) {
		t.Fatalf("stored secrets are not sealed: %s", stored)
	}
}

package api

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"go.uber.org/goleak"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/testpg"
	"github.com/insightpulseai/ipai/internal/testproc"
)

// The MCP SDK's Streamable HTTP handler keeps each session (and its
// reader goroutine, streamableServerConn.Read) until the client ends it or
// the session idles out (MCP.SessionTimeout, 30 minutes): sessions the
// tests opened are the SDK's to close, not leaks of ipai's.
func TestMain(m *testing.M) {
	testpg.MainNoLeaks(m, goleak.IgnoreTopFunction("github.com/modelcontextprotocol/go-sdk/mcp.(*streamableServerConn).Read"))
}

type harness struct {
	srv    *httptest.Server
	db     *store.DB
	tokens map[auth.Role]string
	ids    map[auth.Role]string
	logs   *testproc.Buffer
}

// openDB opens and migrates the store at url; it is closed when the test
// ends, after everything cleaned up later.
func openDB(t testing.TB, url string) *store.DB {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	return db
}

// tempDB is openDB on a new SQLite file.
func tempDB(t testing.TB) *store.DB { return openDB(t, filepath.Join(t.TempDir(), "ipai.db")) }

// onEachStore runs test on SQLite and on PostgreSQL, given the store's URL.
func onEachStore(t *testing.T, test func(t *testing.T, url string)) {
	for _, kind := range []string{store.SQLite, store.Postgres} {
		t.Run(kind, func(t *testing.T) {
			url := filepath.Join(t.TempDir(), "ipai.db")
			if kind == store.Postgres {
				url = testpg.URL(t)
			}
			test(t, url)
		})
	}
}

// serve serves s until the test ends, then closes the server, each of
// closers in order and s.Audit.
func serve(t testing.TB, s *Server, closers ...func()) *httptest.Server {
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(func() {
		srv.Close()
		for _, c := range closers {
			c()
		}
		if s.Audit != nil {
			s.Audit.Close()
		}
	})
	return srv
}

// serveHarness is serve as a harness with a token for every role.
func serveHarness(t *testing.T, s *Server, logs *testproc.Buffer, closers ...func()) *harness {
	t.Helper()
	h := &harness{srv: serve(t, s, closers...), db: s.DB, tokens: map[auth.Role]string{}, ids: map[auth.Role]string{}, logs: logs}
	for _, role := range auth.Roles {
		raw, rec, err := s.Tokens.Create(context.Background(), auth.CreateOptions{Name: string(role), Role: role})
		if err != nil {
			t.Fatal(err)
		}
		h.tokens[role], h.ids[role] = raw, rec.ID
	}
	return h
}

// debugLog logs everything as JSON to logs.
func debugLog(logs *testproc.Buffer) *slog.Logger {
	return slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
}

func newHarness(t *testing.T, url string) *harness {
	t.Helper()
	db := openDB(t, url)
	logs := &testproc.Buffer{}
	return serveHarness(t, &Server{DB: db, Audit: audit.New(db), Tokens: auth.NewTokens(db), Log: debugLog(logs)}, logs)
}

func sqliteHarness(t *testing.T) *harness {
	return newHarness(t, filepath.Join(t.TempDir(), "ipai.db"))
}

func (h *harness) do(t *testing.T, method, path, token, body string) (int, map[string]any) {
	t.Helper()
	req, _ := http.NewRequest(method, h.srv.URL+path, strings.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out map[string]any
	_ = json.Unmarshal(raw, &out)
	return resp.StatusCode, out
}

var pathParam = regexp.MustCompile(`\{[^}]+\}`)

// TestEveryRouteChecksRoles walks the whole route table: no token and a bad
// token get 401, a role below the route's gets 403, the route's role and
// above get through.
func TestEveryRouteChecksRoles(t *testing.T) {
	h := sqliteHarness(t)
	for _, rt := range Routes() {
		if rt.Role == auth.RolePublic {
			continue
		}
		path := pathParam.ReplaceAllString(rt.Pattern, "x-test")
		body := ""
		if rt.Method != "GET" && rt.Method != "DELETE" {
			body = "{}"
		}
		name := rt.Method + " " + rt.Pattern
		if st, out := h.do(t, rt.Method, path, "", body); st != 401 || errCode(out) != "unauthorized" {
			t.Errorf("%s without token: %d %v; want 401 unauthorized", name, st, out)
		}
		if st, _ := h.do(t, rt.Method, path, "ipai_forged", body); st != 401 {
			t.Errorf("%s with a bad token: %d; want 401", name, st)
		}
		for _, role := range auth.Roles {
			st, out := h.do(t, rt.Method, path, h.tokens[role], body)
			if role.Allows(rt.Role) {
				if st == 401 || st == 403 {
					t.Errorf("%s as %s: %d %v; want it allowed", name, role, st, out)
				}
			} else if st != 403 || errCode(out) != "forbidden" {
				t.Errorf("%s as %s: %d %v; want 403 forbidden", name, role, st, out)
			}
		}
	}
}

// errPart is one field (code, field, message) of an error response.
func errPart(out map[string]any, key string) string {
	e, _ := out["error"].(map[string]any)
	v, _ := e[key].(string)
	return v
}

func errCode(out map[string]any) string    { return errPart(out, "code") }
func errField(out map[string]any) string   { return errPart(out, "field") }
func errMessage(out map[string]any) string { return errPart(out, "message") }

func TestTokenAPIAndAuditedWrites(t *testing.T) {
	onEachStore(t, func(t *testing.T, url string) {
		h := newHarness(t, url)
		admin := h.tokens[auth.RoleAdmin]
		st, out := h.do(t, "POST", "/api/v1/tokens", admin, `{"name":"bot","role":"user"}`)
		if st != 201 {
			t.Fatalf("create: %d %v", st, out)
		}
		raw := out["token"].(string)
		id := out["item"].(map[string]any)["id"].(string)
		if st, me := h.do(t, "GET", "/api/v1/me", raw, ""); st != 200 || me["role"] != "user" {
			t.Fatalf("new token: %d %v", st, me)
		}
		// The list never shows the token or its hash.
		_, list := h.do(t, "GET", "/api/v1/tokens", admin, "")
		b, _ := json.Marshal(list)
		if strings.Contains(string(b), raw) || strings.Contains(string(b), auth.HashToken(raw)) {
			t.Fatal("token list reveals a token or its hash")
		}
		if st, _ := h.do(t, "DELETE", "/api/v1/tokens/"+id, admin, ""); st != 204 {
			t.Fatalf("revoke: %d", st)
		}
		if st, _ := h.do(t, "GET", "/api/v1/me", raw, ""); st != 401 {
			t.Fatalf("revoked token: %d; want 401", st)
		}
		if st, out := h.do(t, "DELETE", "/api/v1/tokens/"+id, admin, ""); st != 404 || errCode(out) != "not_found" {
			t.Fatalf("revoke twice: %d %v; want 404", st, out)
		}
		// Every write is in the audit log with its actor.
		_, page := h.do(t, "GET", "/api/v1/audit?action=token.*", admin, "")
		items := page["items"].([]any)
		if len(items) != 3 {
			t.Fatalf("audit has %d token entries; want create, revoke, failed revoke: %v", len(items), items)
		}
		for _, it := range items {
			e := it.(map[string]any)
			if e["actor"] != h.ids[auth.RoleAdmin] {
				t.Fatalf("audit entry actor %v; want the admin token id", e["actor"])
			}
		}
		if first := items[2].(map[string]any); first["action"] != "token.create" || first["target"] != id {
			t.Fatalf("oldest entry %v; want token.create of %s", first, id)
		}
		if st, rep := h.do(t, "GET", "/api/v1/audit/verify", admin, ""); st != 200 || rep["ok"] != true {
			t.Fatalf("verify: %d %v", st, rep)
		}
		if strings.Contains(h.logs.String(), raw) || strings.Contains(h.logs.String(), admin) {
			t.Fatal("a token appears in the logs")
		}
	})
}

func TestErrorsAreJSONWithTheRightStatus(t *testing.T) {
	h := sqliteHarness(t)
	admin := h.tokens[auth.RoleAdmin]
	cases := []struct {
		method, path, body string
		status             int
		code               string
	}{
		{"POST", "/api/v1/tokens", `{"name":`, 400, "bad_request"},
		{"POST", "/api/v1/tokens", `{"name":"x","role":"root"}`, 422, "invalid"},
		{"POST", "/api/v1/tokens", `{"name":"x","role":"user","colour":"red"}`, 400, "bad_request"},
		{"POST", "/api/v1/tokens", `{"name":"x","role":"user","expires_in":"soon"}`, 422, "invalid"},
		{"GET", "/api/v1/audit?level=loud", "", 422, "invalid"},
		{"GET", "/api/v1/audit?since=yesterday", "", 422, "invalid"},
		{"GET", "/api/v1/nothing-here", "", 404, "not_found"},
		{"POST", "/api/v1/tokens", `{"name":"` + strings.Repeat("a", 2<<20) + `"}`, 413, "too_large"},
	}
	for _, c := range cases {
		st, out := h.do(t, c.method, c.path, admin, c.body)
		if st != c.status || errCode(out) != c.code {
			t.Errorf("%s %s: %d %v; want %d %s", c.method, c.path, st, out["error"], c.status, c.code)
		}
		if e, _ := out["error"].(map[string]any); e == nil || e["message"] == "" {
			t.Errorf("%s %s: no error message", c.method, c.path)
		}
	}
}

func TestAuditPagination(t *testing.T) {
	h := sqliteHarness(t)
	l := audit.New(h.db)
	for i := 0; i < 25; i++ {
		if err := l.Write(context.Background(), audit.Entry{Action: "test.page", Level: audit.Warning}); err != nil {
			t.Fatal(err)
		}
	}
	l.Close()
	seen := map[float64]bool{}
	cursor := ""
	for pages := 0; pages < 10; pages++ {
		_, out := h.do(t, "GET", "/api/v1/audit?action=test.page&limit=10&cursor="+cursor, h.tokens[auth.RoleUser], "")
		for _, it := range out["items"].([]any) {
			seen[it.(map[string]any)["seq"].(float64)] = true
		}
		cursor, _ = out["next_cursor"].(string)
		if cursor == "" {
			break
		}
	}
	if len(seen) != 25 {
		t.Fatalf("pagination saw %d distinct entries; want 25", len(seen))
	}
}

func TestReadyAndMetrics(t *testing.T) {
	h := sqliteHarness(t)
	if st, out := h.do(t, "GET", "/readyz", "", ""); st != 200 || out["status"] != "ready" {
		t.Fatalf("readyz: %d %v", st, out)
	}
	h.do(t, "GET", "/api/v1/me", h.tokens[auth.RoleUser], "")
	resp, err := http.Get(h.srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `ipai_http_requests_total{method="GET",route="/api/v1/me",status="200"} 1`) ||
		!strings.Contains(string(body), `go_sql_max_open_connections{db_name="ipai"}`) {
		t.Fatalf("metrics lack request or pool series:\n%.2000s", body)
	}
	// A database one migration behind is not ready.
	if _, err := h.db.Exec(context.Background(), "DELETE FROM ipai_schema_migrations WHERE version = 2"); err != nil {
		t.Fatal(err)
	}
	if st, _ := h.do(t, "GET", "/readyz", "", ""); st != 503 {
		t.Fatalf("readyz with a stale schema: %d; want 503", st)
	}
}

func TestHealthzNamesTheBuild(t *testing.T) {
	db := tempDB(t)
	srv := serve(t, &Server{DB: db, Tokens: auth.NewTokens(db), Version: "v0.0.0-20261206000723-59418c85847f+dirty",
		Revision: "59418c85847f2f1ba853e8e867f0df6bceaa5704", Modified: true})
	resp, err := http.Get(srv.URL + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var v map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
		t.Fatal(err)
	}
	if v["status"] != "ok" || v["version"] != "v0.0.0-20261206000723-59418c85847f+dirty" ||
		v["revision"] != "59418c85847f2f1ba853e8e867f0df6bceaa5704" || v["modified"] != true {
		t.Fatalf("/healthz = %v", v)
	}
}

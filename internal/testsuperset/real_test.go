package testsuperset_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/insightpulseai/ipai/internal/api"
	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/connector/superset"
	"github.com/insightpulseai/ipai/internal/embed"
	"github.com/insightpulseai/ipai/internal/fake/transcript"
	"github.com/insightpulseai/ipai/internal/mcpserver"
	"github.com/insightpulseai/ipai/internal/stack"
	"github.com/insightpulseai/ipai/internal/stack/template"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/testpg"
	"github.com/insightpulseai/ipai/internal/testsuperset"
)

func TestMain(m *testing.M) {
	code := testpg.Run(m)
	testsuperset.Stop()
	os.Exit(testpg.NoLeaks(code))
}

func client(t *testing.T, hc *http.Client) (*testsuperset.Server, *superset.Client) {
	t.Helper()
	s := testsuperset.Get(t)
	return s, superset.New(s.URL, testsuperset.Username, testsuperset.Password, hc)
}

// TestConnectionRealSuperset: Test Connection of the superset connector
// passes against the real Superset 6.1 (health, login, CSRF, version), and
// fails on a wrong password.
func TestConnectionRealSuperset(t *testing.T) {
	hc, rec := recording(t, "connection")
	s, c := client(t, hc)
	t.Logf("superset started in %s, RSS %d MiB", s.Started.Round(time.Millisecond), s.RSS()/1024)
	rec.Case("test connection", "version_string")
	r := connector.Test(context.Background(), c, time.Minute)
	if !r.OK || r.Version != "6.1.0" {
		t.Fatalf("report = %+v", r)
	}
	rec.Case("wrong password", "message")
	bad := superset.New(s.URL, testsuperset.Username, "wrong", hc)
	if r := connector.Test(context.Background(), bad, time.Minute); r.OK {
		t.Fatalf("wrong password passed: %+v", r)
	}
}

// TestConnectorCallsRealSuperset: the client's dashboard list, embedded
// config and guest token calls against the real Superset.
func TestConnectorCallsRealSuperset(t *testing.T) {
	s, setup := client(t, nil)
	f := salesFixture(t, setup)
	hc, rec := recording(t, "connector")
	c := superset.New(s.URL, testsuperset.Username, testsuperset.Password, hc)
	ctx := context.Background()
	rec.Case("login")
	tok, err := c.Login(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec.Secret("access_token", tok)
	rec.Case("csrf token")
	csrf, err := c.CSRF(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rec.Secret("csrf_token", csrf)
	rec.Case("dashboards", "count", "result[].slug", "result[].dashboard_title")
	ds, n, err := c.Dashboards(ctx, "")
	if err != nil || n != 2 || len(ds) != 2 {
		t.Fatalf("dashboards: %v %d %+v", err, n, ds)
	}
	rec.Case("embedded")
	e, err := c.Embedded(ctx, "sales")
	if err != nil || e.UUID != f.EmbeddedUUID || e.DashboardID != fmt.Sprint(f.DashboardID) {
		t.Fatalf("embedded: %v %+v", err, e)
	}
	if err := rec.Bind("uuid", "result.uuid"); err != nil {
		t.Fatal(err)
	}
	rec.Case("not embedded")
	if _, err := c.Embedded(ctx, "finance"); err == nil {
		t.Fatal("finance is not embedded, yet answered")
	}
	rec.Case("guest token")
	gt, err := c.GuestToken(ctx, superset.GuestTokenRequest{User: superset.GuestUser{Username: "ipai_ana", FirstName: "Ana", LastName: "User"},
		Resources: []superset.Resource{{Type: "dashboard", ID: e.UUID}}, RLS: []superset.RLS{{Clause: "company_id = 1"}}})
	if err != nil || gt == "" {
		t.Fatalf("guest token: %v", err)
	}
	rec.Secret("guest_token", gt)
	var out map[string]any
	rec.Case("guest token for a dashboard not embedded")
	err = c.Post(ctx, "/api/v1/security/guest_token/", superset.GuestTokenRequest{User: superset.GuestUser{Username: "x"},
		Resources: []superset.Resource{{Type: "dashboard", ID: "2"}}, RLS: []superset.RLS{}}, &out)
	if err != nil {
		t.Fatalf("Superset 6.1 issues guest tokens naming any dashboard by id: %v", err)
	}
	rec.Case("guest token for an unknown uuid")
	err = c.Post(ctx, "/api/v1/security/guest_token/", superset.GuestTokenRequest{User: superset.GuestUser{Username: "x"},
		Resources: []superset.Resource{{Type: "dashboard", ID: "00000000-1111-4222-8333-444444444444"}}, RLS: []superset.RLS{}}, &out)
	var se *connector.ServiceError
	if !errors.As(err, &se) {
		t.Fatalf("unknown uuid: %v", err)
	}
	t.Logf("guest token for an unknown uuid: %v", err)
	rec.Case("guest token without rls")
	err = c.Post(ctx, "/api/v1/security/guest_token/", map[string]any{"user": map[string]any{"username": "x"},
		"resources": []any{map[string]any{"type": "dashboard", "id": e.UUID}}}, &out)
	t.Logf("guest token without rls: %v", err)
	rec.Case("guest chart data")
	if code, rows, raw := guestChartDataWith(t, hc, s.URL, gt, f); code != 200 || len(rows) != 2 {
		t.Fatalf("guest chart data: %d %s", code, raw)
	}
}

// fixture is a dashboard with one table chart over a PostgreSQL table
// holding rows of two companies, embedded.
type fixture struct {
	DatabaseID, DatasetID, ChartID, DashboardID int
	EmbeddedUUID                                string
}

var fixtureOnce struct {
	f   fixture
	err error
	did bool
}

// salesFixture creates (once per binary) the PostgreSQL table and, through
// Superset's REST API, the database connection, dataset, chart, dashboard
// and its embedding.
func salesFixture(t *testing.T, c *superset.Client) fixture {
	t.Helper()
	if fixtureOnce.did {
		if fixtureOnce.err != nil {
			t.Fatal(fixtureOnce.err)
		}
		return fixtureOnce.f
	}
	fixtureOnce.did = true
	fixtureOnce.f, fixtureOnce.err = makeFixture(t, c)
	if fixtureOnce.err != nil {
		log := testsuperset.Get(t).Log()
		t.Fatalf("%v\nsuperset log:\n%s", fixtureOnce.err, log[max(0, len(log)-3000):])
	}
	return fixtureOnce.f
}

func makeFixture(t *testing.T, c *superset.Client) (fixture, error) {
	ctx := context.Background()
	var f fixture
	pg := testpg.Get(t)
	if err := pg.Exec("CREATE DATABASE ipai_superset_sales"); err != nil {
		return f, err
	}
	dbURL := pg.DatabaseURL("ipai_superset_sales")
	conn, err := pgx.Connect(ctx, dbURL)
	if err != nil {
		return f, err
	}
	_, err = conn.Exec(ctx, `CREATE TABLE sales (company_id integer NOT NULL, customer text NOT NULL, amount integer NOT NULL);
		INSERT INTO sales VALUES (1, 'Azure Interior', 100), (1, 'Deco Addict', 250), (2, 'Gemini Furniture', 900), (2, 'Lumber Inc', 40), (2, 'Ready Mat', 7)`)
	conn.Close(ctx)
	if err != nil {
		return f, err
	}
	uri := strings.Replace(strings.SplitN(dbURL, "?", 2)[0], "postgres://", "postgresql+psycopg2://", 1)
	var id struct {
		ID     int            `json:"id"`
		Result map[string]any `json:"result"`
	}
	if err := c.Post(ctx, "/api/v1/database/", map[string]any{"database_name": "ipai sales", "sqlalchemy_uri": uri, "expose_in_sqllab": true}, &id); err != nil {
		var tc map[string]any
		terr := c.Post(ctx, "/api/v1/database/test_connection/", map[string]any{"database_name": "ipai sales", "sqlalchemy_uri": uri}, &tc)
		return f, fmt.Errorf("create database %s: %w (test_connection: %v)", uri, err, terr)
	}
	f.DatabaseID = id.ID
	if err := c.Post(ctx, "/api/v1/dataset/", map[string]any{"database": f.DatabaseID, "schema": "public", "table_name": "sales"}, &id); err != nil {
		return f, fmt.Errorf("create dataset: %w", err)
	}
	f.DatasetID = id.ID
	if err := c.Post(ctx, "/api/v1/dashboard/", map[string]any{"dashboard_title": "Sales", "slug": "sales", "published": true}, &id); err != nil {
		return f, fmt.Errorf("create dashboard: %w", err)
	}
	f.DashboardID = id.ID
	// A second dashboard, not embedded (as the fake's seeds).
	if err := c.Post(ctx, "/api/v1/dashboard/", map[string]any{"dashboard_title": "Finance", "slug": "finance", "published": true}, &id); err != nil {
		return f, fmt.Errorf("create dashboard: %w", err)
	}
	params, _ := json.Marshal(map[string]any{"viz_type": "table", "datasource": fmt.Sprintf("%d__table", f.DatasetID),
		"query_mode": "raw", "all_columns": []string{"company_id", "customer", "amount"}, "row_limit": 100})
	qc, _ := json.Marshal(chartQuery(f))
	if err := c.Post(ctx, "/api/v1/chart/", map[string]any{"slice_name": "ipai sales rows", "viz_type": "table",
		"datasource_id": f.DatasetID, "datasource_type": "table", "params": string(params), "query_context": string(qc),
		"dashboards": []int{f.DashboardID}}, &id); err != nil {
		return f, fmt.Errorf("create chart: %w", err)
	}
	f.ChartID = id.ID
	var emb struct {
		Result superset.Embedded `json:"result"`
	}
	if err := c.Post(ctx, fmt.Sprintf("/api/v1/dashboard/%d/embedded", f.DashboardID), map[string]any{"allowed_domains": []string{}}, &emb); err != nil {
		return f, fmt.Errorf("enable embedding: %w", err)
	}
	f.EmbeddedUUID = emb.Result.UUID
	if f.EmbeddedUUID == "" {
		return f, fmt.Errorf("embedding answered no uuid")
	}
	return f, nil
}

// chartQuery is the chart's query context: what the chart saves (as
// Superset's explore view does; a guest may only ask for what the saved
// chart asks for) and what the embedded dashboard posts to
// /api/v1/chart/data.
func chartQuery(f fixture) map[string]any {
	return map[string]any{
		"datasource": map[string]any{"id": f.DatasetID, "type": "table"},
		"force":      false,
		"queries": []any{map[string]any{"columns": []string{"company_id", "customer", "amount"}, "metrics": []any{},
			"orderby": []any{}, "row_limit": 100, "filters": []any{}, "extras": map[string]any{}}},
		"form_data": map[string]any{"slice_id": f.ChartID, "dashboardId": f.DashboardID, "viz_type": "table",
			"datasource": fmt.Sprintf("%d__table", f.DatasetID), "query_mode": "raw"},
		"result_format": "json", "result_type": "full"}
}

// guestChartData asks for the chart's rows the way the embedded dashboard
// does: POST /api/v1/chart/data with the guest token in X-GuestToken and
// the chart's form data naming the dashboard.
func guestChartData(t *testing.T, base, token string, f fixture) (int, []map[string]any, string) {
	t.Helper()
	return guestChartDataWith(t, http.DefaultClient, base, token, f)
}

func guestChartDataWith(t *testing.T, hc *http.Client, base, token string, f fixture) (int, []map[string]any, string) {
	t.Helper()
	body, _ := json.Marshal(chartQuery(f))
	req, _ := http.NewRequest(http.MethodPost, base+"/api/v1/chart/data", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("X-GuestToken", token)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var out struct {
		Result []struct {
			Data []map[string]any `json:"data"`
		} `json:"result"`
	}
	_ = json.Unmarshal(raw, &out)
	if len(out.Result) == 0 {
		return resp.StatusCode, nil, string(raw)
	}
	return resp.StatusCode, out.Result[0].Data, string(raw)
}

func companies(rows []map[string]any) map[float64]int {
	out := map[float64]int{}
	for _, r := range rows {
		n, _ := r["company_id"].(float64)
		out[n]++
	}
	return out
}

// hub serves ipai's API with the real Superset as its superset connector
// and dashboards in the registry; it returns the URL and a manager (ERP)
// token.
func hub(t *testing.T, s *testsuperset.Server, ds ...embed.Dashboard) (string, string) {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "ipai.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	al := audit.New(db)
	srv := &api.Server{DB: db, Audit: al, Tokens: auth.NewTokens(db), Log: slog.New(slog.DiscardHandler)}
	srv.Embed = &embed.Service{Audit: al, Dashboards: ds,
		Config: func(context.Context) (connector.Config, error) {
			return connector.Config{Type: "superset", BaseURL: s.URL, Settings: map[string]string{"username": testsuperset.Username},
				Secrets: map[string]string{"password": testsuperset.Password}}, nil
		}}
	h := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { h.Close(); al.Close() })
	raw, _, err := srv.Tokens.Create(ctx, auth.CreateOptions{Name: "erp", Role: auth.RoleManager})
	if err != nil {
		t.Fatal(err)
	}
	return h.URL, raw
}

// hubGuestToken calls POST /api/v1/superset/guest-token/{dashboard} as the
// ERP, naming a viewer of company.
func hubGuestToken(t *testing.T, url, token, dashboard, company string) embed.Token {
	t.Helper()
	body := fmt.Sprintf(`{"user":{"id":"7","login":"ana","name":"Ana","company_id":%q}}`, company)
	req, _ := http.NewRequest(http.MethodPost, url+"/api/v1/superset/guest-token/"+dashboard, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(resp.Body)
	var tok embed.Token
	if resp.StatusCode != 200 || json.Unmarshal(raw, &tok) != nil || tok.Token == "" {
		t.Fatalf("guest token from the hub: %d %s", resp.StatusCode, raw)
	}
	return tok
}

// TestEmbeddedRLSRealSuperset: a dashboard built through Superset's API,
// embedded; the hub's guest token for a viewer of company 1 (rls_by_company)
// lets the embedded dashboard's chart read only company 1's rows. The same
// dashboard without the RLS clause reads both companies' rows, so the check
// fails if the clause is dropped.
func TestEmbeddedRLSRealSuperset(t *testing.T) {
	s, c := client(t, nil)
	f := salesFixture(t, c)
	url, erp := hub(t, s,
		embed.Dashboard{ID: "sales", Name: "Sales", SupersetID: "sales", EmbeddedUUID: f.EmbeddedUUID, RLSByCompany: true},
		embed.Dashboard{ID: "sales-all", Name: "Sales (no RLS)", SupersetID: "sales", EmbeddedUUID: f.EmbeddedUUID})

	tok := hubGuestToken(t, url, erp, "sales", "1")
	if tok.SupersetURL != s.URL || tok.DashboardID != f.EmbeddedUUID {
		t.Fatalf("token = %+v", tok)
	}
	code, rows, raw := guestChartData(t, s.URL, tok.Token, f)
	if code != 200 {
		t.Fatalf("chart data with the guest token: %d %s", code, raw)
	}
	if got := companies(rows); len(rows) != 2 || got[1] != 2 || got[2] != 0 {
		t.Fatalf("company 1's viewer got %v (rows %v); want only company 1's 2 rows", got, rows)
	}
	tok = hubGuestToken(t, url, erp, "sales", "2")
	if _, rows, raw := guestChartData(t, s.URL, tok.Token, f); len(rows) != 3 || companies(rows)[2] != 3 {
		t.Fatalf("company 2's viewer got %v: %s", rows, raw)
	}
	// Without the clause the same chart shows every company: what the
	// assertions above would see if the RLS clause were dropped.
	tok = hubGuestToken(t, url, erp, "sales-all", "1")
	if _, rows, raw := guestChartData(t, s.URL, tok.Token, f); len(rows) != 5 {
		t.Fatalf("without RLS got %v: %s", rows, raw)
	}
	// A forged or missing token reads nothing.
	if code, rows, _ := guestChartData(t, s.URL, tok.Token+"x", f); code == 200 || len(rows) != 0 {
		t.Fatalf("forged token: %d %v", code, rows)
	}
}

type auditSink struct{}

func (auditSink) Write(context.Context, audit.Entry) error { return nil }

// mcpCall calls one tool and decodes its structured answer into out; it
// fails the test on a tool error.
func mcpCall(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any, out any) {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	if res.IsError {
		var b strings.Builder
		for _, c := range res.Content {
			if tc, ok := c.(*mcp.TextContent); ok {
				b.WriteString(tc.Text)
			}
		}
		t.Fatalf("%s: tool error: %s", name, b.String())
	}
	raw, _ := json.Marshal(res.StructuredContent)
	if err := json.Unmarshal(raw, out); err != nil {
		t.Fatalf("%s: decode %s: %v", name, raw, err)
	}
}

// TestMCPToolsRealSuperset calls every `ipai mcp superset` tool once
// against the real Superset and checks what it answers about the fixture.
func TestMCPToolsRealSuperset(t *testing.T) {
	s, setup := client(t, nil)
	f := salesFixture(t, setup)
	hc, rec := recording(t, "mcp")
	c := superset.New(s.URL, testsuperset.Username, testsuperset.Password, hc)
	env := &mcpserver.Env{Audit: auditSink{}, Local: &auth.Principal{ID: "bi", Name: "bi", Kind: "token", Role: auth.RoleUser,
		Scopes: []string{"mcp:superset:write"}}}
	ct, st := mcp.NewInMemoryTransports()
	ctx := context.Background()
	ss, err := mcpserver.NewSuperset(env, c).Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ss.Close()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()

	type list struct {
		Count  int              `json:"count"`
		Result []map[string]any `json:"result"`
	}
	type item struct {
		Result map[string]any `json:"result"`
	}
	find := func(l list, key, want string) bool {
		for _, r := range l.Result {
			if r[key] == want {
				return true
			}
		}
		return false
	}
	var l list
	var it item
	mcpCall(t, cs, "superset_list_dashboards", map[string]any{"search": "sale"}, &l)
	if l.Count != 1 || !find(l, "dashboard_title", "Sales") {
		t.Fatalf("superset_list_dashboards = %+v", l)
	}
	mcpCall(t, cs, "superset_get_dashboard", map[string]any{"id": "sales"}, &it)
	if it.Result["dashboard_title"] != "Sales" {
		t.Fatalf("superset_get_dashboard = %+v", it)
	}
	mcpCall(t, cs, "superset_list_charts", map[string]any{"search": "sales rows", "page_size": 5}, &l)
	if l.Count != 1 || !find(l, "slice_name", "ipai sales rows") {
		t.Fatalf("superset_list_charts = %+v", l)
	}
	mcpCall(t, cs, "superset_get_chart", map[string]any{"id": fmt.Sprint(f.ChartID)}, &it)
	if it.Result["slice_name"] != "ipai sales rows" {
		t.Fatalf("superset_get_chart = %+v", it)
	}
	mcpCall(t, cs, "superset_list_datasets", map[string]any{"search": "sales"}, &l)
	if !find(l, "table_name", "sales") {
		t.Fatalf("superset_list_datasets = %+v", l)
	}
	mcpCall(t, cs, "superset_get_dataset", map[string]any{"id": fmt.Sprint(f.DatasetID)}, &it)
	if it.Result["table_name"] != "sales" {
		t.Fatalf("superset_get_dataset = %+v", it)
	}
	mcpCall(t, cs, "superset_list_databases", nil, &l)
	if !find(l, "database_name", "ipai sales") {
		t.Fatalf("superset_list_databases = %+v", l)
	}
	var cd struct {
		Colnames []string         `json:"colnames"`
		Rowcount int              `json:"rowcount"`
		Data     []map[string]any `json:"data"`
	}
	rec.Case("superset_chart_data", "rowcount", "colnames")
	mcpCall(t, cs, "superset_chart_data", map[string]any{"dataset_id": f.DatasetID, "columns": []string{"company_id"}, "metrics": []any{"count"},
		"filters": []any{map[string]any{"col": "amount", "op": ">", "val": 50}}}, &cd)
	if cd.Rowcount != 2 || len(cd.Data) != 2 || companies(cd.Data)[1] != 1 || companies(cd.Data)[2] != 1 {
		t.Fatalf("superset_chart_data = %+v", cd)
	}
	var g struct {
		Token    string             `json:"token"`
		Embedded *superset.Embedded `json:"embedded"`
	}
	rec.Case("") // named by method and path
	mcpCall(t, cs, "superset_guest_token", map[string]any{"dashboard": "sales", "username": "viewer", "rls": []string{"company_id = 2"}}, &g)
	if g.Token == "" || g.Embedded == nil || g.Embedded.UUID != f.EmbeddedUUID {
		t.Fatalf("superset_guest_token = %+v", g)
	}
	if _, rows, raw := guestChartData(t, s.URL, g.Token, f); len(rows) != 3 || companies(rows)[2] != 3 {
		t.Fatalf("rows through the MCP guest token: %v %s", rows, raw)
	}
}

// TestStackSupersetConfigLoads: the superset_config.py `ipai stack init`
// writes is loaded by the real Superset: the app is created with it and
// answers /health, with embedding, the guest token secret, CSRF protection
// and the CSP frame ancestors as configured. Only the metadata database is
// swapped (the file names the compose network's host "postgres") for a
// copy of the test template, after the file has been executed as is.
func TestStackSupersetConfigLoads(t *testing.T) {
	testsuperset.Get(t) // the install and its template
	data, err := stack.Deployment{Domain: "example.com", TZ: "UTC", Email: "ops@example.com", Editions: []string{"core"}}.Data()
	if err != nil {
		t.Fatal(err)
	}
	files, err := template.Render(data)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	stackCfg := filepath.Join(dir, "stack_superset_config.py")
	for _, f := range files {
		if f.Path == "superset/superset_config.py" {
			if err := os.WriteFile(stackCfg, f.Content, 0o600); err != nil {
				t.Fatal(err)
			}
		}
	}
	tpl, err := testsuperset.Template(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	meta := filepath.Join(dir, "superset.db")
	if b, err := os.ReadFile(tpl); err != nil || os.WriteFile(meta, b, 0o600) != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(dir, "superset_config.py")
	wrapper := fmt.Sprintf(`exec(compile(open(%[1]q).read(), %[1]q, "exec"))
STACK_SQLALCHEMY_DATABASE_URI = SQLALCHEMY_DATABASE_URI
SQLALCHEMY_DATABASE_URI = "sqlite:///%[2]s"
`, stackCfg, meta)
	if err := os.WriteFile(cfg, []byte(wrapper), 0o600); err != nil {
		t.Fatal(err)
	}
	py, err := testsuperset.Python()
	if err != nil {
		t.Fatal(err)
	}
	script := `import json
from superset.app import create_app
app = create_app()
c = app.config
health = app.test_client().get("/health")
print("IPAI" + json.dumps({"embedded": c["FEATURE_FLAGS"].get("EMBEDDED_SUPERSET"), "guest_secret": c["GUEST_TOKEN_JWT_SECRET"],
  "guest_role": c["GUEST_ROLE_NAME"], "csrf": c["WTF_CSRF_ENABLED"], "talisman": c["TALISMAN_ENABLED"],
  "frame_ancestors": c["TALISMAN_CONFIG"]["content_security_policy"]["frame-ancestors"],
  "db": c["STACK_SQLALCHEMY_DATABASE_URI"], "secret_key": c["SECRET_KEY"],
  "health": [health.status_code, health.get_data(as_text=True)], "csp": health.headers.get("Content-Security-Policy", "")}))
`
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, py, "-c", script)
	cmd.Dir = dir
	cmd.Env = append(testsuperset.Env(dir, cfg), "SUPERSET_SECRET_KEY=stack-secret-key-0123456789abcdef",
		"SUPERSET_DB_PASSWORD=dbpw", "SUPERSET_GUEST_TOKEN_SECRET=stack-guest-secret", "REDIS_HOST=127.0.0.1", "REDIS_PORT=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("create_app with the stack's superset_config.py: %v\n%s", err, out)
	}
	_, js, ok := strings.Cut(string(out), "IPAI")
	var got map[string]any
	if !ok || json.Unmarshal([]byte(strings.TrimSpace(js)), &got) != nil {
		t.Fatalf("no config printed:\n%s", out)
	}
	if got["embedded"] != true || got["guest_secret"] != "stack-guest-secret" || got["csrf"] != true || got["talisman"] != true ||
		got["secret_key"] != "stack-secret-key-0123456789abcdef" || got["db"] != "postgresql+psycopg2://superset:dbpw@postgres:5432/superset" ||
		!strings.Contains(fmt.Sprint(got["frame_ancestors"]), "https://ipai.example.com") ||
		fmt.Sprint(got["health"]) != "[200 OK]" ||
		!strings.Contains(fmt.Sprint(got["csp"]), "frame-ancestors 'self' https://"+strings.Join(data.FrameAncestors, " https://")) {
		t.Fatalf("config as Superset loaded it: %v\n%s", got, out)
	}
}

// recording returns an HTTP client that, when IPAI_TEST_RECORD=1, records
// every exchange into internal/fake/superset/testdata/<name>.json (secrets
// replaced by placeholders) when the test passes; otherwise a plain client.
func recording(t *testing.T, name string) (*http.Client, *transcript.Recorder) {
	t.Helper()
	rec := transcript.NewRecorder(http.DefaultTransport, "superset")
	rec.Headers = []string{"X-GuestToken", "X-CSRFToken", "Referer"}
	rec.Secret("password", testsuperset.Password)
	if os.Getenv("IPAI_TEST_RECORD") == "1" {
		t.Cleanup(func() {
			if t.Failed() {
				return
			}
			// Tokens the answers carry never reach the file either.
			for _, ex := range rec.File("", "", "").Exchanges {
				for name, path := range map[string]string{"access_token": "access_token", "refresh_token": "refresh_token",
					"csrf_token": "result", "guest_token": "token"} {
					if v, ok := transcript.Lookup(ex.Response.Body, path); ok && strings.Contains(ex.Request.Path, "/security/") {
						if s, ok := v.(string); ok && !strings.HasPrefix(s, "{{") {
							rec.Secret(name, s)
						}
					}
				}
			}
			f := rec.File("6.1.0", time.Now().UTC().Format("2006-01-02"), "real apache-superset 6.1.0 (internal/testsuperset), recorded by "+t.Name())
			// A replay names the fake's embedded uuid wherever the real one was.
			for i, ex := range f.Exchanges {
				if strings.HasSuffix(ex.Request.Path, "/embedded") && ex.Response.Status == 200 {
					f.Exchanges[i].Bind = map[string]string{"uuid": "result.uuid"}
				}
			}
			if err := f.Save(filepath.Join("..", "fake", "superset", "testdata", name+".json")); err != nil {
				t.Error(err)
			}
		})
	}
	return &http.Client{Transport: rec}, rec
}

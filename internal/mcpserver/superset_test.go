package mcpserver

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/connector/superset"
	fakesuperset "github.com/insightpulseai/ipai/internal/fake/superset"
)

// supersetFront serves the fake Superset plus the chart, dataset, database
// and chart-data endpoints it lacks (apis.md §5 shapes), behind the fake's
// own bearer check.
func supersetFront(t *testing.T, f *fakesuperset.Server) (string, *[]map[string]any) {
	var queries []map[string]any
	authed := func(r *http.Request) bool {
		probe := httptest.NewRequest(http.MethodGet, "/api/v1/dashboard/", nil)
		probe.Header.Set("Authorization", r.Header.Get("Authorization"))
		rec := httptest.NewRecorder()
		f.Config.Handler.ServeHTTP(rec, probe)
		return rec.Code == 200
	}
	js := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	charts := []map[string]any{{"id": 3, "slice_name": "Revenue by month", "viz_type": "echarts_timeseries_bar", "datasource_id": 7,
		"params": `{"metrics":["sum__amount"]}`}}
	datasets := []map[string]any{{"id": 7, "table_name": "account_move", "schema": "public", "database": map[string]any{"id": 1, "database_name": "odoo"},
		"sql": "", "columns": []any{map[string]any{"column_name": "partner"}, map[string]any{"column_name": "amount"}}}}
	dbs := []map[string]any{{"id": 1, "database_name": "odoo", "backend": "postgresql"}}
	list := func(items []map[string]any, col string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			q := r.URL.Query().Get("q")
			var out []map[string]any
			for _, it := range items {
				if i := strings.Index(q, "value:'"); i < 0 || strings.Contains(strings.ToLower(it[col].(string)), strings.ToLower(strings.TrimSuffix(q[i+7:], "')))"))) {
					out = append(out, it)
				}
			}
			js(w, 200, map[string]any{"count": len(out), "result": out})
		}
	}
	get := func(items []map[string]any) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			for _, it := range items {
				if js2, _ := json.Marshal(it["id"]); string(js2) == r.PathValue("id") || it["slug"] == r.PathValue("id") {
					js(w, 200, map[string]any{"id": it["id"], "result": it})
					return
				}
			}
			js(w, 404, map[string]string{"message": "Not found"})
		}
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v1/chart/", list(charts, "slice_name"))
	mux.HandleFunc("GET /api/v1/chart/{id}", get(charts))
	mux.HandleFunc("GET /api/v1/dataset/", list(datasets, "table_name"))
	mux.HandleFunc("GET /api/v1/dataset/{id}", get(datasets))
	mux.HandleFunc("GET /api/v1/database/", list(dbs, "database_name"))
	mux.HandleFunc("GET /api/v1/dashboard/{id}", get([]map[string]any{{"id": 1, "dashboard_title": "Sales", "slug": "sales"}, {"id": 2, "dashboard_title": "Finance", "slug": "finance"}}))
	mux.HandleFunc("POST /api/v1/chart/data", func(w http.ResponseWriter, r *http.Request) {
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		queries = append(queries, body)
		js(w, 200, map[string]any{"result": []any{map[string]any{"colnames": []string{"partner", "sum__amount"}, "rowcount": 1,
			"data": []any{map[string]any{"partner": "Deco Addict", "sum__amount": 1150.0}}, "query": "SELECT partner, SUM(amount) …", "status": "success"}}})
	})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if _, pat := mux.Handler(r); pat != "" && !strings.HasSuffix(r.URL.Path, "/embedded") {
			if !authed(r) {
				js(w, 401, map[string]string{"msg": "Token has expired"})
				return
			}
			mux.ServeHTTP(w, r)
			return
		}
		f.Config.Handler.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL, &queries
}

func TestSuperset(t *testing.T) {
	f := fakesuperset.New()
	defer f.Close()
	url, queries := supersetFront(t, f)
	rec := &recorder{}
	env := &Env{Audit: rec, Local: principal("bi", "mcp:superset:read")}
	c := superset.New(url, fakesuperset.Username, fakesuperset.Password, nil)
	cs := connect(t, NewSuperset(env, c))

	var l listOut
	mustOK(t, cs, "superset_list_dashboards", nil, &l)
	if l.Count != 2 || l.Result[0]["dashboard_title"] != "Sales" {
		t.Fatalf("dashboards = %+v", l)
	}
	var it itemOut
	mustOK(t, cs, "superset_get_dashboard", map[string]any{"id": "finance"}, &it)
	if it.Result["dashboard_title"] != "Finance" {
		t.Fatalf("dashboard = %+v", it)
	}
	mustOK(t, cs, "superset_list_charts", map[string]any{"search": "revenue"}, &l)
	if l.Count != 1 {
		t.Fatalf("charts = %+v", l)
	}
	mustOK(t, cs, "superset_get_chart", map[string]any{"id": "3"}, &it)
	if it.Result["slice_name"] != "Revenue by month" {
		t.Fatalf("chart = %+v", it)
	}
	mustFail(t, cs, "superset_get_chart", map[string]any{"id": "3/../../x"}, "numeric id")
	mustOK(t, cs, "superset_list_datasets", nil, &l)
	mustOK(t, cs, "superset_get_dataset", map[string]any{"id": "7"}, &it)
	if it.Result["table_name"] != "account_move" {
		t.Fatalf("dataset = %+v", it)
	}
	mustOK(t, cs, "superset_list_databases", nil, &l)
	if l.Count != 1 {
		t.Fatalf("databases = %+v", l)
	}
	var cd chartDataOut
	mustOK(t, cs, "superset_chart_data", map[string]any{"dataset_id": 7, "columns": []string{"partner"}, "metrics": []any{"sum__amount"}}, &cd)
	if cd.Rowcount != 1 || cd.Data[0]["partner"] != "Deco Addict" {
		t.Fatalf("chart data = %+v", cd)
	}
	if q := (*queries)[0]; q["datasource"].(map[string]any)["id"] != 7.0 {
		t.Fatalf("chart data query = %v", q)
	}

	// Guest tokens issue a credential: dry run with read, refused without
	// write, issued with write; the token never reaches the audit log.
	args := map[string]any{"dashboard": "sales", "username": "viewer", "rls": []string{"company_id = 1"}}
	var g guestTokenOut
	mustOK(t, cs, "superset_guest_token", map[string]any{"dashboard": "sales", "username": "viewer", "rls": []string{"company_id = 1"}, "dry_run": true}, &g)
	if g.Token != "" || g.Request.Resources[0].ID != "5b6e1f6a-0c1d-4a8e-9d7e-1f2a3b4c5d6e" || len(f.GuestTokens()) != 0 {
		t.Fatalf("guest token dry run = %+v", g)
	}
	mustFail(t, cs, "superset_guest_token", args, "mcp:superset:write")
	env2 := &Env{Audit: rec, Local: principal("bi", "mcp:superset:write")}
	ws := connect(t, NewSuperset(env2, c))
	mustOK(t, ws, "superset_guest_token", args, &g)
	issued := f.GuestTokens()
	if g.Token == "" || len(issued) != 1 || issued[0].RLS[0]["clause"] != "company_id = 1" {
		t.Fatalf("guest token = %+v, issued %+v", g, issued)
	}
	mustFail(t, ws, "superset_guest_token", map[string]any{"dashboard": "finance", "username": "v"}, "not embedded")
	env.Flush()
	env2.Flush()
	rec.mu.Lock()
	defer rec.mu.Unlock()
	for _, e := range rec.entries {
		if b, _ := json.Marshal(e); strings.Contains(string(b), g.Token) {
			t.Fatal("guest token written to the audit log")
		}
	}
}

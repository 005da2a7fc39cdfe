package mcpserver

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/connector/superset"
	fakesuperset "github.com/insightpulseai/ipai/internal/fake/superset"
)

func TestSuperset(t *testing.T) {
	// The fake answers as Superset 6.1.0 did (its testdata transcripts),
	// Rison list queries and chart data included.
	f := fakesuperset.New()
	defer f.Close()
	rec := &recorder{}
	env := &Env{Audit: rec, Local: principal("bi", "mcp:superset:read")}
	c := superset.New(f.URL, fakesuperset.Username, fakesuperset.Password, nil)
	cs := connect(t, NewSuperset(env, c))

	var l listOut
	mustOK(t, cs, "superset_list_dashboards", nil, &l)
	if l.Count != 2 || l.Result[0]["dashboard_title"] != "Finance" || l.Result[1]["dashboard_title"] != "Sales" {
		t.Fatalf("dashboards = %+v", l)
	}
	var it itemOut
	mustOK(t, cs, "superset_get_dashboard", map[string]any{"id": "finance"}, &it)
	if it.Result["dashboard_title"] != "Finance" {
		t.Fatalf("dashboard = %+v", it)
	}
	mustOK(t, cs, "superset_list_charts", map[string]any{"search": "Sales Rows"}, &l)
	if l.Count != 1 {
		t.Fatalf("charts = %+v", l)
	}
	mustOK(t, cs, "superset_list_charts", map[string]any{"search": "it's (no) match!"}, &l)
	if l.Count != 0 {
		t.Fatalf("charts = %+v", l)
	}
	mustOK(t, cs, "superset_get_chart", map[string]any{"id": "1"}, &it)
	if it.Result["slice_name"] != "ipai sales rows" {
		t.Fatalf("chart = %+v", it)
	}
	mustFail(t, cs, "superset_get_chart", map[string]any{"id": "3/../../x"}, "numeric id")
	mustOK(t, cs, "superset_list_datasets", nil, &l)
	mustOK(t, cs, "superset_get_dataset", map[string]any{"id": "1"}, &it)
	if it.Result["table_name"] != "sales" {
		t.Fatalf("dataset = %+v", it)
	}
	mustOK(t, cs, "superset_list_databases", nil, &l)
	if l.Count != 1 {
		t.Fatalf("databases = %+v", l)
	}
	var cd chartDataOut
	mustOK(t, cs, "superset_chart_data", map[string]any{"dataset_id": 1, "columns": []string{"company_id"}, "metrics": []any{"count"},
		"filters": []any{map[string]any{"col": "amount", "op": ">", "val": 50}}}, &cd)
	if cd.Rowcount != 2 || cd.Data[0]["company_id"] != 1.0 || cd.Data[0]["count"] != 2.0 || cd.Data[1]["count"] != 1.0 {
		t.Fatalf("chart data = %+v", cd)
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

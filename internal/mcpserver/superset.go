package mcpserver

import (
	"cmp"
	"context"
	"fmt"
	"strconv"
	"strings"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/insightpulseai/ipai/internal/connector/superset"
)

type supersetServer struct{ c *superset.Client }

// NewSuperset returns the superset server: dashboards, charts, datasets,
// databases, chart data and guest tokens for embedding.
func NewSuperset(e *Env, c *superset.Client) *mcp.Server {
	ss := &supersetServer{c: c}
	s := e.newServer(Superset, "Browse Apache Superset dashboards, charts and datasets, query chart data, and issue guest tokens for embedded dashboards (needs mcp:superset:write).")
	list := func(name, what, path string) {
		addTool(e, s, Superset, false, &mcp.Tool{Name: name, Description: "List " + what + " (paged)."},
			func(ctx context.Context, c *Call, in pageIn) (listOut, error) { return ss.list(ctx, path, in) })
	}
	get := func(name, what, path string) {
		addTool(e, s, Superset, false, &mcp.Tool{Name: name, Description: "Get one " + what + " by id."},
			func(ctx context.Context, c *Call, in idIn) (itemOut, error) { return ss.get(ctx, path, in) })
	}
	list("superset_list_dashboards", "dashboards", "/api/v1/dashboard/")
	get("superset_get_dashboard", "dashboard (id or slug)", "/api/v1/dashboard/")
	list("superset_list_charts", "charts", "/api/v1/chart/")
	get("superset_get_chart", "chart, with its query parameters", "/api/v1/chart/")
	list("superset_list_datasets", "datasets", "/api/v1/dataset/")
	get("superset_get_dataset", "dataset, with its columns, metrics and SQL", "/api/v1/dataset/")
	list("superset_list_databases", "database connections", "/api/v1/database/")
	addTool(e, s, Superset, false, &mcp.Tool{Name: "superset_chart_data", Description: "Query a dataset like a chart does (POST /api/v1/chart/data): columns, metrics, filters, row limit."}, ss.chartData)
	addTool(e, s, Superset, true, &mcp.Tool{Name: "superset_guest_token", Description: "Issue a guest token for an embedded dashboard, with row-level security clauses."}, ss.guestToken)
	return s
}

type pageIn struct {
	Page     int    `json:"page,omitempty" jsonschema:"page number from 0"`
	PageSize int    `json:"page_size,omitempty" jsonschema:"items per page (default 25, at most 100)"`
	Search   string `json:"search,omitempty" jsonschema:"only items whose name contains this"`
}

type listOut struct {
	Count  int              `json:"count"`
	Result []map[string]any `json:"result"`
}

// searchColumn is the name column of each list endpoint.
var searchColumn = map[string]string{"/api/v1/dashboard/": "dashboard_title", "/api/v1/chart/": "slice_name",
	"/api/v1/dataset/": "table_name", "/api/v1/database/": "database_name"}

// rison quotes a string for a rison query.
func rison(s string) string {
	return "'" + strings.NewReplacer("!", "!!", "'", "!'").Replace(s) + "'"
}

func (ss *supersetServer) list(ctx context.Context, path string, in pageIn) (listOut, error) {
	size := min(clampN(in.PageSize, 25), 100)
	q := fmt.Sprintf("(page:%d,page_size:%d", max(in.Page, 0), size)
	if in.Search != "" {
		q += fmt.Sprintf(",filters:!((col:%s,opr:ct,value:%s))", searchColumn[path], rison(in.Search))
	}
	q += ")"
	var out listOut
	if err := ss.c.Get(ctx, path, q, &out); err != nil {
		return listOut{}, fmt.Errorf("superset: %w", err)
	}
	out.Result = nonNil(out.Result)
	return out, nil
}

type idIn struct {
	ID string `json:"id" jsonschema:"numeric id (or slug for dashboards)"`
}

type itemOut struct {
	Result map[string]any `json:"result"`
}

func (ss *supersetServer) get(ctx context.Context, path string, in idIn) (itemOut, error) {
	id := strings.TrimSpace(in.ID)
	if id == "" || strings.ContainsAny(id, "/?#") {
		return itemOut{}, fmt.Errorf("id: give a numeric id (see the list tools)")
	}
	if path != "/api/v1/dashboard/" {
		if _, err := strconv.Atoi(id); err != nil {
			return itemOut{}, fmt.Errorf("id %q: must be a number", id)
		}
	}
	var out itemOut
	if err := ss.c.Get(ctx, path+id, "", &out); err != nil {
		return itemOut{}, fmt.Errorf("superset: %w", err)
	}
	return out, nil
}

type chartFilter struct {
	Col string `json:"col"`
	Op  string `json:"op" jsonschema:"operator, one of: == != > < >= <= IN, NOT IN, LIKE, IS NULL"`
	Val any    `json:"val,omitempty"`
}

type chartDataIn struct {
	DatasetID int           `json:"dataset_id" jsonschema:"dataset (datasource) id"`
	Columns   []string      `json:"columns,omitempty" jsonschema:"group-by columns"`
	Metrics   []any         `json:"metrics,omitempty" jsonschema:"metric names or ad-hoc metric objects, e.g. [\"count\"]"`
	Filters   []chartFilter `json:"filters,omitempty"`
	RowLimit  int           `json:"row_limit,omitempty" jsonschema:"default 1000, at most 10000"`
	TimeRange string        `json:"time_range,omitempty" jsonschema:"e.g. Last week; default No filter"`
}

type chartDataOut struct {
	Colnames []string         `json:"colnames"`
	Rowcount int              `json:"rowcount"`
	Data     []map[string]any `json:"data"`
	Query    string           `json:"query,omitempty"`
}

func (ss *supersetServer) chartData(ctx context.Context, c *Call, in chartDataIn) (chartDataOut, error) {
	if in.DatasetID <= 0 {
		return chartDataOut{}, fmt.Errorf("dataset_id: give the dataset's id (see superset_list_datasets)")
	}
	q := map[string]any{"columns": nonNil(in.Columns), "metrics": nonNil(in.Metrics), "filters": nonNil(in.Filters),
		"row_limit": min(clampN(in.RowLimit, 1000), 10000), "time_range": cmp.Or(in.TimeRange, "No filter")}
	body := map[string]any{"datasource": map[string]any{"id": in.DatasetID, "type": "table"}, "force": false,
		"queries": []any{q}, "result_format": "json", "result_type": "full"}
	var out struct {
		Result []chartDataOut `json:"result"`
	}
	if err := ss.c.Post(ctx, "/api/v1/chart/data", body, &out); err != nil {
		return chartDataOut{}, fmt.Errorf("superset: %w", err)
	}
	if len(out.Result) == 0 {
		return chartDataOut{}, fmt.Errorf("superset: chart data answer has no result")
	}
	r := out.Result[0]
	r.Data = nonNil(r.Data)
	return r, nil
}

type guestTokenIn struct {
	Dashboard string   `json:"dashboard" jsonschema:"embedded dashboard: its embedded uuid, id or slug"`
	Username  string   `json:"username" jsonschema:"viewer's user name, recorded in the token"`
	RLS       []string `json:"rls,omitempty" jsonschema:"row-level security SQL clauses, e.g. [\"company_id = 1\"]"`
	DryRun    bool     `json:"dry_run,omitempty" jsonschema:"when true, show the token request and issue nothing"`
}

type guestTokenOut struct {
	DryRun   bool                       `json:"dry_run"`
	Request  superset.GuestTokenRequest `json:"request"`
	Token    string                     `json:"token,omitempty"`
	Embedded *superset.Embedded         `json:"embedded,omitempty"`
}

func (ss *supersetServer) guestToken(ctx context.Context, c *Call, in guestTokenIn) (guestTokenOut, error) {
	if in.Dashboard == "" || in.Username == "" {
		return guestTokenOut{}, fmt.Errorf("give the dashboard (embedded uuid, id or slug) and the viewer's username")
	}
	id := in.Dashboard
	var emb *superset.Embedded
	if len(id) != 36 { // an id or slug: resolve the embedded uuid the SDK needs
		e, err := ss.c.Embedded(ctx, id)
		if err != nil {
			return guestTokenOut{}, fmt.Errorf("superset: dashboard %s is not embedded (enable embedding in Superset first): %w", id, err)
		}
		id, emb = e.UUID, &e
	}
	req := superset.GuestTokenRequest{User: superset.GuestUser{Username: in.Username},
		Resources: []superset.Resource{{Type: "dashboard", ID: id}}}
	for _, cl := range in.RLS {
		req.RLS = append(req.RLS, superset.RLS{Clause: cl})
	}
	c.Target("superset:dashboard/" + id)
	c.Note("rls", in.RLS)
	out := guestTokenOut{DryRun: c.DryRun, Request: req, Embedded: emb}
	if c.DryRun {
		return out, nil
	}
	tok, err := ss.c.GuestToken(ctx, req)
	if err != nil {
		return guestTokenOut{}, fmt.Errorf("superset: %w", err)
	}
	out.Token = tok
	return out, nil
}

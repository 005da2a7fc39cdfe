package superset

import (
	"crypto/hmac"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
)

// shapes.json holds what the real Superset 6.1.0 answered for one chart,
// dataset, database and chart-data query (taken from testdata/mcp.json);
// the fake answers with the same keys and value types, filled from its
// seeds.
//
//go:embed shapes.json
var shapesJSON []byte

func shape(name string) map[string]any {
	var all map[string]map[string]any
	if err := json.Unmarshal(shapesJSON, &all); err != nil {
		panic(err)
	}
	return all[name]
}

// Database, Dataset and Chart are seeded objects.
type Database struct {
	ID   int
	Name string
}

// Dataset is a physical table with its rows.
type Dataset struct {
	ID, DatabaseID int
	Schema, Table  string
	Columns        []string // integer columns hold float64 or int values
	Rows           []map[string]any
}

// Chart is a saved chart on dashboards.
type Chart struct {
	ID, DatasetID int
	Name, VizType string
	Dashboards    []int
	Params        map[string]any // the saved form data
}

// seedData is a PostgreSQL table of two companies' sales with one table
// chart on the "sales" dashboard (as internal/testsuperset builds on the
// real Superset).
func (s *Server) seedData() {
	s.databases = []Database{{ID: 1, Name: "ipai sales"}}
	s.datasets = []Dataset{{ID: 1, DatabaseID: 1, Schema: "public", Table: "sales", Columns: []string{"company_id", "customer", "amount"},
		Rows: []map[string]any{
			{"company_id": 1, "customer": "Azure Interior", "amount": 100}, {"company_id": 1, "customer": "Deco Addict", "amount": 250},
			{"company_id": 2, "customer": "Gemini Furniture", "amount": 900}, {"company_id": 2, "customer": "Lumber Inc", "amount": 40},
			{"company_id": 2, "customer": "Ready Mat", "amount": 7}}}}
	s.charts = []Chart{{ID: 1, DatasetID: 1, Name: "ipai sales rows", VizType: "table", Dashboards: []int{1},
		Params: map[string]any{"viz_type": "table", "datasource": "1__table", "query_mode": "raw",
			"all_columns": []string{"company_id", "customer", "amount"}, "row_limit": 100}}}
}

func (s *Server) dataRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v1/dashboard/{id}", s.bearer(s.getDashboard))
	mux.HandleFunc("GET /api/v1/chart/", s.bearer(s.list("chart")))
	mux.HandleFunc("GET /api/v1/chart/{id}", s.bearer(s.getChart))
	mux.HandleFunc("GET /api/v1/dataset/", s.bearer(s.list("dataset")))
	mux.HandleFunc("GET /api/v1/dataset/{id}", s.bearer(s.getDataset))
	mux.HandleFunc("GET /api/v1/database/", s.bearer(s.list("database")))
	mux.HandleFunc("POST /api/v1/chart/data", s.chartData)
}

func notFound(w http.ResponseWriter) { writeJSON(w, 404, map[string]string{"message": "Not found"}) }

func (s *Server) getDashboard(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.dashboards {
		if toString(d.ID) == id || d.Slug == id {
			out := shape("dashboard_get")
			charts := []any{}
			for _, c := range s.charts {
				if slices.Contains(c.Dashboards, d.ID) {
					charts = append(charts, c.Name)
				}
			}
			for k, v := range map[string]any{"id": d.ID, "dashboard_title": d.Title, "slug": d.Slug, "uuid": uuidOf(d.ID),
				"url": "/superset/dashboard/" + d.Slug + "/", "charts": charts} {
				out[k] = v
			}
			writeJSON(w, 200, map[string]any{"result": out})
			return
		}
	}
	notFound(w)
}

func (s *Server) chartItem(c Chart, get bool) map[string]any {
	name := "chart_list_item"
	if get {
		name = "chart_get"
	}
	out := shape(name)
	var ds []any
	for _, d := range s.dashboards {
		if slices.Contains(c.Dashboards, d.ID) {
			e := map[string]any{"id": d.ID, "dashboard_title": d.Title}
			if get {
				e["json_metadata"] = nil
			}
			ds = append(ds, e)
		}
	}
	params := map[string]any{}
	for k, v := range c.Params {
		params[k] = v
	}
	pj, _ := json.Marshal(params)
	for k, v := range map[string]any{"id": c.ID, "slice_name": c.Name, "viz_type": c.VizType, "datasource_id": c.DatasetID,
		"url": fmt.Sprintf("/explore/?slice_id=%d", c.ID), "dashboards": ds, "params": string(pj)} {
		out[k] = v
	}
	if !get {
		params["slice_id"] = c.ID
		out["form_data"] = params
	}
	return out
}

func (s *Server) datasetItem(d Dataset, get bool) map[string]any {
	name := "dataset_list_item"
	if get {
		name = "dataset_get"
	}
	out := shape(name)
	out["id"], out["table_name"], out["schema"] = d.ID, d.Table, d.Schema
	if db, ok := out["database"].(map[string]any); ok {
		db["id"] = d.DatabaseID
	}
	if get {
		tmpl, _ := out["columns"].([]any)
		var cols []any
		for i, c := range d.Columns {
			col := map[string]any{}
			if len(tmpl) > 0 {
				for k, v := range tmpl[0].(map[string]any) {
					col[k] = v
				}
			}
			col["id"], col["column_name"] = i+1, c
			if _, isText := d.Rows[0][c].(string); isText {
				col["type"], col["type_generic"] = "TEXT", 1
			} else {
				col["type"], col["type_generic"] = "INTEGER", 0
			}
			cols = append(cols, col)
		}
		out["columns"] = cols
		out["name"], out["datasource_name"] = d.Schema+"."+d.Table, d.Table
	}
	return out
}

// list answers a list endpoint, reading the Rison ?q= as Superset does:
// page, page_size and filters (opr ct: contains, case-insensitive; eq).
func (s *Server) list(kind string) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		page, size := 0, 25
		var filters []any
		if q := r.URL.Query().Get("q"); q != "" {
			v, err := parseRison(q)
			m, ok := v.(map[string]any)
			if err != nil || !ok {
				writeJSON(w, 400, map[string]any{"message": "Not a valid rison argument"})
				return
			}
			if n, ok := m["page"].(float64); ok {
				page = int(n)
			}
			if n, ok := m["page_size"].(float64); ok {
				size = int(n)
			}
			filters, _ = m["filters"].([]any)
		}
		s.mu.Lock()
		type item struct {
			id   int
			name string
			obj  map[string]any
		}
		var items []item
		nameCol := map[string]string{"chart": "slice_name", "dataset": "table_name", "database": "database_name"}[kind]
		switch kind {
		case "chart":
			for _, c := range s.charts {
				items = append(items, item{c.ID, c.Name, s.chartItem(c, false)})
			}
		case "dataset":
			for _, d := range s.datasets {
				items = append(items, item{d.ID, d.Table, s.datasetItem(d, false)})
			}
		case "database":
			for _, d := range s.databases {
				o := shape("database_list_item")
				o["id"], o["database_name"], o["explore_database_id"] = d.ID, d.Name, d.ID
				items = append(items, item{d.ID, d.Name, o})
			}
		}
		s.mu.Unlock()
		var kept []item
	next:
		for _, it := range items {
			for _, f := range filters {
				fm, _ := f.(map[string]any)
				col, _ := fm["col"].(string)
				val := fmt.Sprint(fm["value"])
				if col != nameCol {
					writeJSON(w, 400, map[string]any{"message": map[string]any{"filters": []string{"Filter column: " + col + " not allowed to filter"}}})
					return
				}
				switch fm["opr"] {
				case "ct":
					if !strings.Contains(strings.ToLower(it.name), strings.ToLower(val)) {
						continue next
					}
				case "eq":
					if it.name != val {
						continue next
					}
				default:
					writeJSON(w, 400, map[string]any{"message": map[string]any{"filters": []string{fmt.Sprintf("Filter operator %v not allowed", fm["opr"])}}})
					return
				}
			}
			kept = append(kept, it)
		}
		sort.Slice(kept, func(i, j int) bool { return kept[i].id > kept[j].id }) // most recently changed first
		out := shape(kind + "_list_meta")
		res, ids := []any{}, []int{}
		for i := page * size; i < len(kept) && i < (page+1)*size; i++ {
			res = append(res, kept[i].obj)
			ids = append(ids, kept[i].id)
		}
		out["count"], out["ids"], out["result"] = len(kept), ids, res
		writeJSON(w, 200, out)
	}
}

func (s *Server) getChart(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, c := range s.charts {
		if toString(c.ID) == r.PathValue("id") {
			writeJSON(w, 200, map[string]any{"result": s.chartItem(c, true)})
			return
		}
	}
	notFound(w)
}

func (s *Server) getDataset(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.datasets {
		if toString(d.ID) == r.PathValue("id") {
			writeJSON(w, 200, map[string]any{"id": d.ID, "result": s.datasetItem(d, true)})
			return
		}
	}
	notFound(w)
}

// guestClaims verifies a guest token as Superset does (HS256 with the
// guest token secret, not expired, audience and type).
func guestClaims(tok string) (map[string]any, bool) {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil, false
	}
	m := hmac.New(sha256.New, []byte(GuestSecret))
	m.Write([]byte(parts[0] + "." + parts[1]))
	sig, err := base64.RawURLEncoding.DecodeString(parts[2])
	if err != nil || !hmac.Equal(sig, m.Sum(nil)) {
		return nil, false
	}
	raw, err := base64.RawURLEncoding.DecodeString(parts[1])
	var c map[string]any
	if err != nil || json.Unmarshal(raw, &c) != nil {
		return nil, false
	}
	exp, _ := c["exp"].(float64)
	if c["type"] != "guest" || int64(exp) < time.Now().Unix() {
		return nil, false
	}
	return c, true
}

var rlsClause = regexp.MustCompile(`^\s*(\w+)\s*(=|IN)\s*\(?\s*([\w', ]+?)\s*\)?\s*$`)

// rlsAllows applies one guest RLS clause of the forms the hub writes
// (col = 1, col = 'x', col IN (1, 2)).
func rlsAllows(clause string, row map[string]any) (bool, error) {
	m := rlsClause.FindStringSubmatch(clause)
	if m == nil {
		return false, fmt.Errorf("the fake understands only col = v and col IN (…) clauses, not %q", clause)
	}
	have := fmt.Sprint(row[m[1]])
	for _, v := range strings.Split(m[3], ",") {
		if strings.Trim(strings.TrimSpace(v), "'") == have {
			return true, nil
		}
	}
	return false, nil
}

func number(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int:
		return float64(x), true
	case string:
		f, err := strconv.ParseFloat(x, 64)
		return f, err == nil
	}
	return 0, false
}

func filterAllows(f map[string]any, row map[string]any) bool {
	col, _ := f["col"].(string)
	have, val := row[col], f["val"]
	hn, hok := number(have)
	vn, vok := number(val)
	switch f["op"] {
	case "==":
		return fmt.Sprint(have) == fmt.Sprint(val) || hok && vok && hn == vn
	case "!=":
		return !(fmt.Sprint(have) == fmt.Sprint(val) || hok && vok && hn == vn)
	case ">":
		return hok && vok && hn > vn
	case "<":
		return hok && vok && hn < vn
	case ">=":
		return hok && vok && hn >= vn
	case "<=":
		return hok && vok && hn <= vn
	case "IN", "NOT IN":
		list, _ := val.([]any)
		in := false
		for _, v := range list {
			if n, ok := number(v); fmt.Sprint(v) == fmt.Sprint(have) || ok && hok && n == hn {
				in = true
			}
		}
		return in == (f["op"] == "IN")
	}
	return true
}

// chartData answers POST /api/v1/chart/data for the service user (bearer)
// or an embedded dashboard's guest (X-GuestToken): a guest may only read a
// chart of a dashboard its token names, and its RLS clauses filter the
// rows; the SQL is shown to the service user only.
func (s *Server) chartData(w http.ResponseWriter, r *http.Request) {
	var claims map[string]any
	if g := r.Header.Get("X-GuestToken"); g != "" {
		var ok bool
		if claims, ok = guestClaims(g); !ok {
			writeJSON(w, 401, map[string]string{"message": "Guest token is invalid or expired"})
			return
		}
	} else {
		h := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		ok := s.access[h]
		s.mu.Unlock()
		if !ok {
			writeJSON(w, 401, map[string]string{"msg": "Missing Authorization Header"})
			return
		}
	}
	var in struct {
		Datasource struct {
			ID int `json:"id"`
		} `json:"datasource"`
		Queries []struct {
			Columns  []string         `json:"columns"`
			Metrics  []any            `json:"metrics"`
			Filters  []map[string]any `json:"filters"`
			RowLimit int              `json:"row_limit"`
		} `json:"queries"`
		FormData map[string]any `json:"form_data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || len(in.Queries) == 0 {
		writeJSON(w, 400, map[string]any{"message": "Request is not JSON"})
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	var ds *Dataset
	for i := range s.datasets {
		if s.datasets[i].ID == in.Datasource.ID {
			ds = &s.datasets[i]
		}
	}
	if ds == nil {
		writeJSON(w, 404, map[string]any{"message": "The dataset does not exist"})
		return
	}
	var rls []string
	if claims != nil {
		if !s.guestMayRead(claims, in.FormData, ds.ID) {
			writeJSON(w, 403, map[string]any{"errors": []any{map[string]any{"message": "Guest user cannot modify chart payload",
				"error_type": "DASHBOARD_SECURITY_ACCESS_ERROR", "level": "warning", "extra": map[string]any{}}}})
			return
		}
		rules, _ := claims["rls_rules"].([]any)
		for _, rr := range rules {
			m, _ := rr.(map[string]any)
			if d, ok := m["dataset"]; ok && d != nil && toString(d) != toString(ds.ID) {
				continue
			}
			if c, _ := m["clause"].(string); c != "" {
				rls = append(rls, c)
			}
		}
	}
	q := in.Queries[0]
	var rows []map[string]any
	for _, row := range ds.Rows {
		keep := true
		for _, c := range rls {
			ok, err := rlsAllows(c, row)
			if err != nil {
				writeJSON(w, 400, map[string]any{"message": err.Error()})
				return
			}
			keep = keep && ok
		}
		for _, f := range q.Filters {
			keep = keep && filterAllows(f, row)
		}
		if keep {
			rows = append(rows, row)
		}
	}
	count := len(q.Metrics) > 0
	cols := append([]string(nil), q.Columns...)
	var data []map[string]any
	if count { // group by the columns, COUNT(*)
		idx := map[string]int{}
		for _, row := range rows {
			key := ""
			out := map[string]any{}
			for _, c := range q.Columns {
				key += fmt.Sprint(row[c]) + "\x00"
				out[c] = row[c]
			}
			if i, ok := idx[key]; ok {
				data[i]["count"] = data[i]["count"].(int) + 1
				continue
			}
			out["count"] = 1
			idx[key] = len(data)
			data = append(data, out)
		}
		cols = append(cols, "count")
	} else {
		for _, row := range rows {
			out := map[string]any{}
			for _, c := range q.Columns {
				out[c] = row[c]
			}
			data = append(data, out)
		}
	}
	if q.RowLimit > 0 && len(data) > q.RowLimit {
		data = data[:q.RowLimit]
	}
	res := shape("chart_data_result")
	coltypes, labels := []int{}, map[string]any{}
	for _, c := range cols {
		if _, text := ds.Rows[0][c].(string); text {
			coltypes = append(coltypes, 1)
		} else {
			coltypes = append(coltypes, 0)
		}
		labels[c] = []string{c}
	}
	if count {
		labels["COUNT(*)"] = []string{"count"}
	}
	idxNames := []int{}
	for i := range data {
		idxNames = append(idxNames, i)
	}
	applied := []any{}
	for _, f := range q.Filters {
		applied = append(applied, map[string]any{"column": f["col"]})
	}
	if data == nil {
		data = []map[string]any{}
	}
	res["colnames"], res["coltypes"], res["label_map"], res["indexnames"] = cols, coltypes, labels, idxNames
	res["data"], res["rowcount"], res["sql_rowcount"], res["applied_filters"] = data, len(data), len(data), applied
	res["queried_dttm"] = time.Now().UTC().Format("2006-01-02T15:04:05+00:00")
	res["cache_key"] = randHex(32)
	if claims != nil {
		delete(res, "query") // guests never see the SQL
	} else {
		res["query"] = fmt.Sprintf("SELECT %s \nFROM %s.%s \n LIMIT %d;\n\n", strings.Join(cols, ", "), ds.Schema, ds.Table, q.RowLimit)
	}
	writeJSON(w, 200, map[string]any{"result": []any{res}})
}

// guestMayRead: the form data names a dashboard of the token's resources
// (by embedded uuid) holding the chart (slice_id) on this dataset.
func (s *Server) guestMayRead(claims, form map[string]any, dataset int) bool {
	dash, slice := toString(form["dashboardId"]), toString(form["slice_id"])
	resources, _ := claims["resources"].([]any)
	for _, d := range s.dashboards {
		if toString(d.ID) != dash || d.EmbeddedUUID == "" {
			continue
		}
		named := false
		for _, r := range resources {
			m, _ := r.(map[string]any)
			id := toString(m["id"])
			named = named || id == d.EmbeddedUUID || id == toString(d.ID)
		}
		if !named {
			return false
		}
		for _, c := range s.charts {
			if toString(c.ID) == slice && c.DatasetID == dataset && slices.Contains(c.Dashboards, d.ID) {
				return true
			}
		}
	}
	return false
}

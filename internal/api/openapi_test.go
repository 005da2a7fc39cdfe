package api

import (
	"encoding/json"
	"net/http"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/auth"
)

// documented says whether a route belongs in the OpenAPI document: the
// REST API under /api/v1 and the probes.
func documented(rt Route) bool {
	return strings.HasPrefix(rt.Pattern, "/api/v1/") || rt.Pattern == "/healthz" || rt.Pattern == "/readyz"
}

func fetchOpenAPI(t *testing.T) map[string]any {
	t.Helper()
	db := tempDB(t)
	srv := serve(t, &Server{DB: db, Tokens: auth.NewTokens(db), Version: "v9.9.9"})
	resp, err := http.Get(srv.URL + "/api/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		t.Fatalf("GET /api/v1/openapi.json: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	var doc map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&doc); err != nil {
		t.Fatal(err)
	}
	return doc
}

// Every route of the table has a documented operation, with its role, and
// the document describes no operation the table lacks.
func TestOpenAPIMatchesRouteTable(t *testing.T) {
	doc := fetchOpenAPI(t)
	if doc["openapi"] != "3.1.0" || doc["info"].(map[string]any)["version"] != "v9.9.9" {
		t.Fatalf("openapi %v, info %v", doc["openapi"], doc["info"])
	}
	paths := doc["paths"].(map[string]any)
	inTable := map[string]bool{}
	var missing []string
	for _, rt := range Routes() {
		if !documented(rt) {
			continue
		}
		key := rt.Method + " " + rt.Pattern
		inTable[key] = true
		item, _ := paths[rt.Pattern].(map[string]any)
		o, ok := item[strings.ToLower(rt.Method)].(map[string]any)
		if !ok {
			missing = append(missing, key)
			continue
		}
		if o["x-ipai-role"] != string(rt.Role) {
			t.Errorf("%s: x-ipai-role %v; the route table says %s", key, o["x-ipai-role"], rt.Role)
		}
		resps := o["responses"].(map[string]any)
		if rt.Role != auth.RolePublic {
			if _, ok := resps["403"]; !ok || o["security"] == nil {
				t.Errorf("%s needs a token but documents no security / 403", key)
			}
		}
		if _, ok := resps["default"]; !ok && rt.Pattern != "/readyz" {
			t.Errorf("%s: no error response documented", key)
		}
	}
	var extra []string
	for p, item := range paths {
		for m := range item.(map[string]any) {
			if key := strings.ToUpper(m) + " " + p; !inTable[key] {
				extra = append(extra, key)
			}
		}
	}
	for key := range operations {
		if !inTable[key] {
			extra = append(extra, key+" (operations table)")
		}
	}
	sort.Strings(missing)
	sort.Strings(extra)
	if len(missing) > 0 {
		t.Errorf("routes without a documented operation (add them to operations in openapi.go): %v", missing)
	}
	if len(extra) > 0 {
		t.Errorf("documented operations that are not routes: %v", extra)
	}
	// Every $ref resolves.
	comps := doc["components"].(map[string]any)["schemas"].(map[string]any)
	walkJSON(doc, "", func(path, key string, v any) {
		if key == "$ref" {
			name := strings.TrimPrefix(v.(string), "#/components/schemas/")
			if _, ok := comps[name]; !ok {
				t.Errorf("%s: $ref %v does not resolve", path, v)
			}
		}
	})
}

var snake = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// One naming rule for every field: every property of every documented
// request and response schema is snake_case.
func TestOpenAPIFieldsAreSnakeCase(t *testing.T) {
	doc := fetchOpenAPI(t)
	var bad []string
	walkJSON(doc, "", func(path, key string, v any) {
		if key != "properties" {
			return
		}
		props, ok := v.(map[string]any)
		if !ok {
			return
		}
		for name := range props {
			if !snake.MatchString(name) {
				bad = append(bad, path+"."+name)
			}
		}
	})
	sort.Strings(bad)
	if len(bad) > 0 {
		t.Fatalf("fields not in snake_case: %v", bad)
	}
}

// walkJSON calls f for every key of every object in v.
func walkJSON(v any, path string, f func(path, key string, v any)) {
	switch x := v.(type) {
	case map[string]any:
		for k, val := range x {
			f(path, k, val)
			walkJSON(val, path+"/"+k, f)
		}
	case []any:
		for _, val := range x {
			walkJSON(val, path+"/[]", f)
		}
	}
}

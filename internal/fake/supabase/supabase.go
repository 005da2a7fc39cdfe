// Package supabase is a faithful in-memory fake of a Supabase project's
// gateway (shared/reference/apis.md §7): the apikey check, Auth (GoTrue)
// /auth/v1/health, and PostgREST /rest/v1/{table} select (eq/neq/gt/lt
// filters, order, limit, offset) and insert with Prefer: return=…, with
// PostgREST's error bodies.
package supabase

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sort"
	"strconv"
	"strings"
	"sync"

	"github.com/insightpulseai/ipai/internal/fake/knob"
)

// Seeded keys.
const (
	ServiceKey = "sb_secret_fakeservicekey0000"
	AnonKey    = "sb_publishable_fakeanonkey0000"
)

// Server is a running fake Supabase.
type Server struct {
	*httptest.Server
	knob.Knobs

	mu      sync.Mutex
	version string
	tables  map[string][]map[string]any
	nextID  map[string]int
}

// New starts a fake Supabase (Auth v2.178.0) with a "todos" table.
func New() *Server {
	s := &Server{version: "v2.178.0", tables: map[string][]map[string]any{"todos": {}}, nextID: map[string]int{"todos": 1}}
	s.Server = httptest.NewServer(s.Wrap(s.routes()))
	return s
}

// SetVersion changes the Auth version.
func (s *Server) SetVersion(v string) { s.mu.Lock(); s.version = v; s.mu.Unlock() }

// Rows returns a table's rows.
func (s *Server) Rows(table string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.tables[table]...)
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /auth/v1/health", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		v := s.version
		s.mu.Unlock()
		writeJSON(w, 200, map[string]string{"version": v, "name": "GoTrue", "description": "GoTrue is a user registration and authentication API"})
	})
	mux.HandleFunc("GET /rest/v1/{$}", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"swagger": "2.0", "info": map[string]string{"title": "PostgREST API", "version": "12.2.3"}, "paths": map[string]any{}})
	})
	mux.HandleFunc("GET /rest/v1/{table}", s.selectRows)
	mux.HandleFunc("POST /rest/v1/{table}", s.insert)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		key := r.Header.Get("apikey")
		if key == "" {
			key = r.URL.Query().Get("apikey")
		}
		switch {
		case key == "":
			writeJSON(w, 401, map[string]string{"message": "No API key found in request", "hint": "No `apikey` request header or url param was found."})
		case key != ServiceKey && key != AnonKey:
			writeJSON(w, 401, map[string]string{"message": "Invalid API key"})
		default:
			mux.ServeHTTP(w, r)
		}
	})
}

func pgErr(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, map[string]any{"code": code, "message": msg, "details": nil, "hint": nil})
}

func (s *Server) selectRows(w http.ResponseWriter, r *http.Request) {
	table := r.PathValue("table")
	s.mu.Lock()
	rows, ok := s.tables[table]
	rows = append([]map[string]any(nil), rows...)
	s.mu.Unlock()
	if !ok {
		pgErr(w, 404, "PGRST205", fmt.Sprintf("Could not find the table 'public.%s' in the schema cache", table))
		return
	}
	q := r.URL.Query()
	var out []map[string]any
	for _, row := range rows {
		keep := true
		for k, vs := range q {
			switch k {
			case "select", "order", "limit", "offset", "apikey":
				continue
			}
			op, val, _ := strings.Cut(vs[0], ".")
			got := fmt.Sprint(row[k])
			switch op {
			case "eq":
				keep = keep && got == val
			case "neq":
				keep = keep && got != val
			case "gt", "lt":
				a, _ := strconv.ParseFloat(got, 64)
				b, _ := strconv.ParseFloat(val, 64)
				keep = keep && ((op == "gt" && a > b) || (op == "lt" && a < b))
			default:
				pgErr(w, 400, "PGRST100", fmt.Sprintf("\"failed to parse filter (%s)\" (line 1, column 1)", vs[0]))
				return
			}
		}
		if keep {
			out = append(out, row)
		}
	}
	if o := q.Get("order"); o != "" {
		col, dir, _ := strings.Cut(o, ".")
		sort.SliceStable(out, func(i, j int) bool {
			a, b := fmt.Sprint(out[i][col]), fmt.Sprint(out[j][col])
			if dir == "desc" {
				return a > b
			}
			return a < b
		})
	}
	if off, err := strconv.Atoi(q.Get("offset")); err == nil && off < len(out) {
		out = out[off:]
	}
	if lim, err := strconv.Atoi(q.Get("limit")); err == nil && lim < len(out) {
		out = out[:lim]
	}
	if out == nil {
		out = []map[string]any{}
	}
	writeJSON(w, 200, out)
}

func (s *Server) insert(w http.ResponseWriter, r *http.Request) {
	table := r.PathValue("table")
	var body any
	if err := json.NewDecoder(r.Body).Decode(&body); err != nil {
		pgErr(w, 400, "PGRST102", "Empty or invalid json")
		return
	}
	var in []map[string]any
	switch b := body.(type) {
	case map[string]any:
		in = []map[string]any{b}
	case []any:
		for _, x := range b {
			m, ok := x.(map[string]any)
			if !ok {
				pgErr(w, 400, "PGRST102", "All object keys must match")
				return
			}
			in = append(in, m)
		}
	}
	s.mu.Lock()
	if _, ok := s.tables[table]; !ok {
		s.mu.Unlock()
		pgErr(w, 404, "PGRST205", fmt.Sprintf("Could not find the table 'public.%s' in the schema cache", table))
		return
	}
	var created []map[string]any
	for _, row := range in {
		c := map[string]any{}
		for k, v := range row {
			c[k] = v
		}
		if c["id"] == nil {
			c["id"] = s.nextID[table]
			s.nextID[table]++
		} else {
			for _, ex := range s.tables[table] {
				if fmt.Sprint(ex["id"]) == fmt.Sprint(c["id"]) {
					s.mu.Unlock()
					pgErr(w, 409, "23505", fmt.Sprintf("duplicate key value violates unique constraint \"%s_pkey\"", table))
					return
				}
			}
		}
		s.tables[table] = append(s.tables[table], c)
		created = append(created, c)
	}
	s.mu.Unlock()
	if strings.Contains(r.Header.Get("Prefer"), "return=representation") {
		writeJSON(w, 201, created)
		return
	}
	w.WriteHeader(201)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

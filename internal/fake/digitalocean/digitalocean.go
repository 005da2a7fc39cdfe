// Package digitalocean is an in-memory fake of the parts of the DigitalOcean
// API v2 that ipai's ops MCP server uses, in godo's shapes
// (shared/reference/apis.md §8): droplets (list with tag_name and
// pagination, get, reboot action), apps (list, logs) and databases. It checks
// the bearer token and answers errors as {"id","message"}.
package digitalocean

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Token is the accepted API token.
const Token = "dop_v1_fake0123456789"

// Droplet is a seeded droplet.
type Droplet struct {
	ID     int
	Name   string
	Status string
	Tags   []string
	IP     string
}

// Action is a recorded droplet action.
type Action struct {
	DropletID int
	Type      string
}

// Server is a running fake.
type Server struct {
	*httptest.Server
	mu       sync.Mutex
	droplets []Droplet
	actions  []Action
}

// New starts a fake with three droplets (two tagged "ipai"), one app and
// one PostgreSQL cluster.
func New() *Server {
	s := &Server{droplets: []Droplet{
		{ID: 3164444, Name: "ipai-stack-1", Status: "active", Tags: []string{"ipai"}, IP: "203.0.113.10"},
		{ID: 3164445, Name: "ipai-stack-2", Status: "active", Tags: []string{"ipai"}, IP: "203.0.113.11"},
		{ID: 3164446, Name: "scratch", Status: "off", Tags: []string{}, IP: "203.0.113.12"},
	}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v2/droplets", s.listDroplets)
	mux.HandleFunc("GET /v2/droplets/{id}", s.getDroplet)
	mux.HandleFunc("POST /v2/droplets/{id}/actions", s.action)
	mux.HandleFunc("GET /v2/apps", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"apps": []any{map[string]any{"id": "4f6c71e2-1e90-4762-9fee-6cc4a0a9f2cf",
			"spec": map[string]any{"name": "ipai-hub"}, "live_url": "https://ipai-hub.ondigitalocean.app",
			"region": map[string]any{"slug": "sgp"}, "active_deployment": map[string]any{"id": "dep-1"}}},
			"links": map[string]any{}, "meta": map[string]any{"total": 1}})
	})
	logs := func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("app") != "4f6c71e2-1e90-4762-9fee-6cc4a0a9f2cf" {
			notFound(w)
			return
		}
		writeJSON(w, 200, map[string]any{"live_url": "https://logs.example.com/live?type=" + r.URL.Query().Get("type"),
			"historic_urls": []string{"https://logs.example.com/1.log"}})
	}
	mux.HandleFunc("GET /v2/apps/{app}/logs", logs)
	mux.HandleFunc("GET /v2/apps/{app}/deployments/{dep}/logs", logs)
	mux.HandleFunc("GET /v2/databases", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, 200, map[string]any{"databases": []any{map[string]any{"id": "9cc10173-e9ea-4176-9dbc-a4cee4c4ff30",
			"name": "ipai-pg", "engine": "pg", "version": "15", "status": "online", "region": "sgp1", "num_nodes": 1,
			"connection": map[string]any{"uri": "postgresql://doadmin:secret@host:25060/defaultdb", "password": "secret"}}}})
	})
	s.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+Token {
			writeJSON(w, 401, map[string]string{"id": "unauthorized", "message": "Unable to authenticate you"})
			return
		}
		w.Header().Set("ratelimit-limit", "5000")
		w.Header().Set("ratelimit-remaining", "4999")
		w.Header().Set("ratelimit-reset", strconv.FormatInt(time.Now().Add(time.Hour).Unix(), 10))
		mux.ServeHTTP(w, r)
	}))
	return s
}

// Actions returns the droplet actions requested so far.
func (s *Server) Actions() []Action {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Action(nil), s.actions...)
}

func (s *Server) dropletJSON(d Droplet) map[string]any {
	return map[string]any{"id": d.ID, "name": d.Name, "memory": 1024, "vcpus": 1, "disk": 25, "locked": false, "status": d.Status,
		"created_at": "2026-01-01T00:00:00Z", "features": []string{}, "backup_ids": []int{}, "snapshot_ids": []int{},
		"size_slug": "s-1vcpu-1gb", "tags": d.Tags, "region": map[string]any{"slug": "sgp1", "name": "Singapore 1"},
		"networks": map[string]any{"v4": []any{map[string]any{"ip_address": d.IP, "netmask": "255.255.240.0", "gateway": "203.0.113.1", "type": "public"}}, "v6": []any{}}}
}

func (s *Server) listDroplets(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	var all []Droplet
	for _, d := range s.droplets {
		tag := r.URL.Query().Get("tag_name")
		if tag == "" || strings.Contains(","+strings.Join(d.Tags, ",")+",", ","+tag+",") {
			all = append(all, d)
		}
	}
	s.mu.Unlock()
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	per, _ := strconv.Atoi(r.URL.Query().Get("per_page"))
	if page < 1 {
		page = 1
	}
	if per < 1 || per > 200 {
		per = 20
	}
	lo, hi := min((page-1)*per, len(all)), min(page*per, len(all))
	out := []any{}
	for _, d := range all[lo:hi] {
		out = append(out, s.dropletJSON(d))
	}
	pages := map[string]any{}
	base := "http://" + r.Host + "/v2/droplets?per_page=" + strconv.Itoa(per)
	if hi < len(all) {
		pages["next"] = fmt.Sprintf("%s&page=%d", base, page+1)
		pages["last"] = fmt.Sprintf("%s&page=%d", base, (len(all)+per-1)/per)
	}
	if page > 1 {
		pages["prev"] = fmt.Sprintf("%s&page=%d", base, page-1)
		pages["first"] = base + "&page=1"
	}
	writeJSON(w, 200, map[string]any{"droplets": out, "links": map[string]any{"pages": pages}, "meta": map[string]any{"total": len(all)}})
}

func (s *Server) find(id string) (Droplet, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, d := range s.droplets {
		if strconv.Itoa(d.ID) == id {
			return d, true
		}
	}
	return Droplet{}, false
}

func (s *Server) getDroplet(w http.ResponseWriter, r *http.Request) {
	d, ok := s.find(r.PathValue("id"))
	if !ok {
		notFound(w)
		return
	}
	writeJSON(w, 200, map[string]any{"droplet": s.dropletJSON(d)})
}

func (s *Server) action(w http.ResponseWriter, r *http.Request) {
	d, ok := s.find(r.PathValue("id"))
	if !ok {
		notFound(w)
		return
	}
	var in struct {
		Type string `json:"type"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Type == "" {
		writeJSON(w, 422, map[string]string{"id": "unprocessable_entity", "message": "type is required"})
		return
	}
	s.mu.Lock()
	s.actions = append(s.actions, Action{DropletID: d.ID, Type: in.Type})
	n := len(s.actions)
	s.mu.Unlock()
	writeJSON(w, 201, map[string]any{"action": map[string]any{"id": 36804636 + n, "status": "in-progress", "type": in.Type,
		"started_at": time.Now().UTC().Format(time.RFC3339), "resource_id": d.ID, "resource_type": "droplet", "region_slug": "sgp1"}})
}

func notFound(w http.ResponseWriter) {
	writeJSON(w, 404, map[string]string{"id": "not_found", "message": "The resource you were accessing could not be found."})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

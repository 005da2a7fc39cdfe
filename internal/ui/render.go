package ui

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/insightpulseai/ipai/internal/auth"
)

type pageTemplate struct{ t *template.Template }

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05")
	},
	"ago": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		d := time.Since(t)
		switch {
		case d < 0:
			return "in " + shortDur(-d)
		case d < time.Minute:
			return "just now"
		}
		return shortDur(d) + " ago"
	},
	"pct": func(f float64) string { return fmt.Sprintf("%.1f%%", f*100) },
	"json": func(s string) string {
		var buf bytes.Buffer
		if json.Indent(&buf, []byte(s), "", "  ") != nil {
			return s
		}
		return buf.String()
	},
	"jsonv": func(v any) string { b, _ := json.MarshalIndent(v, "", "  "); return string(b) },
	"q": func(kv ...string) template.URL {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			if kv[i+1] != "" {
				v.Set(kv[i], kv[i+1])
			}
		}
		return template.URL(v.Encode())
	},
	"short": func(s string, n int) string {
		if len(s) <= n {
			return s
		}
		return s[:n] + "…"
	},
	"join":  strings.Join,
	"list":  func(v ...string) []string { return v },
	"deref": func(b *bool) bool { return b != nil && *b },
	"roles": func() []auth.Role { return auth.Roles },
	"dict": func(kv ...any) map[string]any {
		m := map[string]any{}
		for i := 0; i+1 < len(kv); i += 2 {
			m[kv[i].(string)] = kv[i+1]
		}
		return m
	},
}

func shortDur(d time.Duration) string {
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm", int(d.Minutes()))
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh", int(d.Hours()))
	}
	return fmt.Sprintf("%dd", int(d.Hours()/24))
}

// pageNames are the templates besides layout.html.
var pageNames = []string{"login", "error", "dashboard", "connectors", "connector", "connector_form", "webhooks", "webhook", "webhook_form",
	"event", "deliveries", "delivery", "rules", "rule", "rule_form", "audit", "users", "mcp",
	"sync", "bots", "n8n", "superset", "setup", "start"}

func parsePages() map[string]*pageTemplate {
	base := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(files, "templates/layout.html", "templates/_*.html"))
	out := map[string]*pageTemplate{}
	for _, n := range pageNames {
		t := template.Must(template.Must(base.Clone()).ParseFS(files, "templates/"+n+".html"))
		out[n] = &pageTemplate{t}
	}
	return out
}

// render writes a page: the layout with the page's "content" block.
func (s *Server) render(w http.ResponseWriter, c *reqCtx, status int, name string, data map[string]any) {
	if s.pages == nil {
		s.pages = parsePages()
	}
	data["C"] = c
	data["Version"] = s.Version
	var buf bytes.Buffer
	if err := s.pages[name].t.ExecuteTemplate(&buf, "layout.html", data); err != nil {
		s.Log.Error("render page", "page", name, "err", err)
		http.Error(w, "internal error rendering the page; the server log has the details", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type navItem struct {
	Label, Href string
	Active      bool
}

// nav lists the pages the principal's role may open.
func (s *Server) nav(c *reqCtx) []navItem {
	items := []struct {
		label, href, method, pattern string
		show                         bool
	}{
		{"Dashboard", "/ui/", "", "", true},
		{"Connectors", "/ui/connectors", "GET", "/api/v1/connectors", s.Connectors != nil},
		{"Webhooks", "/ui/webhooks", "GET", "/api/v1/webhooks", s.Hooks != nil || s.Endpoints != nil},
		{"Deliveries", "/ui/deliveries", "GET", "/api/v1/deliveries", true},
		{"Rules", "/ui/rules", "GET", "/api/v1/rules", true},
		{"Sync links", "/ui/sync", "GET", "/api/v1/sync/links", s.Sync != nil},
		{"Bots", "/ui/bots", "GET", "/api/v1/bots", s.ChatOps != nil},
		{"n8n", "/ui/n8n", "GET", "/api/v1/n8n/workflows", s.Flows != nil},
		{"Superset", "/ui/superset", "GET", "/api/v1/superset/dashboards", s.Embed != nil},
		{"MCP", "/ui/mcp", "", "", true},
		{"Audit log", "/ui/audit", "GET", "/api/v1/audit", true},
		{"Users & tokens", "/ui/users", "GET", "/api/v1/tokens", true},
	}
	var out []navItem
	for _, it := range items {
		if !it.show || (it.pattern != "" && !c.Can(it.method, it.pattern)) {
			continue
		}
		active := c.Path == it.href || (it.href != "/ui/" && strings.HasPrefix(c.Path, it.href))
		out = append(out, navItem{it.label, it.href, active})
	}
	return out
}

// Package probe checks every service of an ipai stack concurrently, each
// with its own timeout, on the service's real health endpoint, and reports
// (table, JSON, Mattermost / n8n webhooks) what is up.
package probe

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/insightpulseai/ipai/internal/outbound"
)

// Kinds of check: each knows its service's health answer.
const (
	Mattermost = "mattermost"
	Focalboard = "focalboard"
	N8N        = "n8n"
	Superset   = "superset"
	Keycloak   = "keycloak"
	Odoo       = "odoo"
	Hub        = "hub"
	Caddy      = "caddy"
	Postgres   = "postgres"
)

// Check is one service to check: an HTTP(S) URL, a postgres:// URL, or a
// command that exits 0 when the service is up (Cmd, e.g. pg_isready in the
// postgres container).
type Check struct {
	Name string
	Kind string
	URL  string
	Cmd  func(ctx context.Context) *exec.Cmd
}

// Result is the outcome of one check. The JSON names are those the original
// platform's n8n workflows expect.
type Result struct {
	Service   string    `json:"service_name"`
	CheckedAt time.Time `json:"checked_at"`
	Up        bool      `json:"is_up"`
	HTTPCode  int       `json:"http_code"`
	LatencyMS int64     `json:"latency_ms"`
	Version   string    `json:"version,omitempty"`
	Detail    string    `json:"detail,omitempty"`
}

// Checks builds the default checks of a deployment on domain, through its
// public names (as Caddy serves them); postgres is checked by cmd.
func Checks(domain string, editions []string, postgres func(ctx context.Context) *exec.Cmd) []Check {
	c := []Check{
		{Name: "caddy", Kind: Caddy, URL: "http://chat." + domain + "/"},
		{Name: "mattermost", Kind: Mattermost, URL: "https://chat." + domain + "/api/v4/system/ping?get_server_status=true"},
		{Name: "focalboard", Kind: Focalboard, URL: "https://boards." + domain + "/ping"},
		{Name: "n8n", Kind: N8N, URL: "https://n8n." + domain + "/healthz/readiness"},
		{Name: "superset", Kind: Superset, URL: "https://superset." + domain + "/health"},
		{Name: "keycloak", Kind: Keycloak, URL: "https://auth." + domain + "/realms/ipai/.well-known/openid-configuration"},
	}
	hosts := map[string]string{"core": "erp", "marketing": "marketing", "accounting": "accounting"}
	for _, e := range editions {
		c = append(c, Check{Name: "odoo-" + e, Kind: Odoo, URL: "https://" + hosts[e] + "." + domain + "/web/health"})
	}
	c = append(c, Check{Name: "hub", Kind: Hub, URL: "https://ipai." + domain + "/readyz"})
	if postgres != nil {
		c = append(c, Check{Name: "postgres", Kind: Postgres, Cmd: postgres})
	}
	return c
}

// Override replaces the URL of the named checks (service=URL); a name no
// check has is an error that lists the valid ones.
func Override(checks []Check, overrides map[string]string) ([]Check, error) {
	out := append([]Check(nil), checks...)
	for name, u := range overrides {
		found := false
		for i := range out {
			if out[i].Name == name {
				out[i].URL, out[i].Cmd, found = u, nil, true
			}
		}
		if !found {
			var names []string
			for _, c := range out {
				names = append(names, c.Name)
			}
			return nil, fmt.Errorf("--url %s=…: no such service; services: %s", name, strings.Join(names, ", "))
		}
	}
	return out, nil
}

// NewClient is the HTTP client checks use: it never follows redirects (a
// redirect is an answer, not health), and it goes through the outbound
// guard with the operator's own URLs (the checks', the notification
// webhooks') as its allowance.
func NewClient(urls ...string) *http.Client {
	return outbound.ClientFor(nil, outbound.Options{Timeout: 2 * time.Minute}, urls...)
}

func checkURLs(checks []Check) []string {
	var urls []string
	for _, c := range checks {
		urls = append(urls, c.URL)
	}
	return urls
}

// Run runs every check at once, each bounded by timeout, and returns the
// results in the order of checks.
func Run(ctx context.Context, client *http.Client, checks []Check, timeout time.Duration) []Result {
	if client == nil {
		client = NewClient(checkURLs(checks)...)
	}
	res := make([]Result, len(checks))
	var wg sync.WaitGroup
	for i, c := range checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cctx, cancel := context.WithTimeout(ctx, timeout)
			defer cancel()
			start := time.Now()
			r := check(cctx, client, c)
			r.Service, r.CheckedAt, r.LatencyMS = c.Name, start.UTC(), time.Since(start).Milliseconds()
			if cctx.Err() != nil && !r.Up {
				r.Detail = fmt.Sprintf("no answer within %s", timeout)
			}
			res[i] = r
		}()
	}
	wg.Wait()
	return res
}

func check(ctx context.Context, client *http.Client, c Check) Result {
	switch {
	case c.Cmd != nil:
		out, err := c.Cmd(ctx).CombinedOutput()
		if err != nil {
			return Result{Detail: firstLine(fmt.Sprintf("%v: %s", err, out))}
		}
		return Result{Up: true, Detail: firstLine(string(out))}
	case strings.HasPrefix(c.URL, "postgres://") || strings.HasPrefix(c.URL, "postgresql://"):
		conn, err := pgx.Connect(ctx, c.URL)
		if err != nil {
			return Result{Detail: firstLine(err.Error())}
		}
		defer conn.Close(context.Background())
		var v string
		if err := conn.QueryRow(ctx, "SHOW server_version").Scan(&v); err != nil {
			return Result{Detail: firstLine(err.Error())}
		}
		return Result{Up: true, Version: v}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.URL, nil)
	if err != nil {
		return Result{Detail: "bad URL: " + err.Error()}
	}
	req.Header.Set("User-Agent", "ipai-stack-healthcheck")
	resp, err := client.Do(req)
	if err != nil {
		return Result{Detail: firstLine(err.Error())}
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	r := Result{HTTPCode: resp.StatusCode}
	judge(c.Kind, resp, body, &r)
	return r
}

// judge decides from a service's answer whether it is up, and its version.
func judge(kind string, resp *http.Response, body []byte, r *Result) {
	var j map[string]any
	_ = json.Unmarshal(body, &j)
	str := func(k string) string { s, _ := j[k].(string); return s }
	ok := resp.StatusCode == http.StatusOK
	switch kind {
	case Mattermost:
		r.Up = ok && str("status") == "OK" && str("database_status") != "UNHEALTHY" && str("filestore_status") != "UNHEALTHY"
		if v := strings.Split(resp.Header.Get("X-Version-Id"), "."); len(v) >= 3 {
			r.Version = strings.Join(v[:3], ".")
		}
		if !r.Up {
			r.Detail = fmt.Sprintf("status %q, database %q, filestore %q", str("status"), str("database_status"), str("filestore_status"))
		}
	case Focalboard:
		r.Up, r.Version = ok && str("version") != "", str("version")
	case N8N:
		r.Up = ok && str("status") == "ok"
	case Superset:
		r.Up = ok && strings.TrimSpace(string(body)) == "OK"
	case Keycloak:
		// /health/ready answers {"status":"UP"}; a realm's discovery document has "issuer".
		r.Up = ok && (str("status") == "UP" || str("issuer") != "")
	case Odoo:
		r.Up = ok && (j == nil || str("status") == "" || str("status") == "pass")
	case Caddy:
		// Caddy answers plain HTTP with a redirect to HTTPS; the admin API lists upstreams.
		r.Up = resp.StatusCode < 500
		var ups []struct {
			Address string `json:"address"`
			Fails   int    `json:"fails"`
		}
		if json.Unmarshal(body, &ups) == nil && len(ups) > 0 {
			var failing []string
			for _, u := range ups {
				if u.Fails > 0 {
					failing = append(failing, u.Address)
				}
			}
			r.Detail = fmt.Sprintf("%d upstreams", len(ups))
			if len(failing) > 0 {
				r.Detail += ", failing: " + strings.Join(failing, " ")
			}
		}
		if s := resp.Header.Get("Server"); r.Version == "" && strings.HasPrefix(s, "Caddy") {
			r.Version = s
		}
	default: // hub and anything else: 200 is up
		r.Up = ok
		r.Version = str("version")
	}
	if !r.Up && r.Detail == "" {
		r.Detail = firstLine(fmt.Sprintf("HTTP %d: %s", resp.StatusCode, body))
	}
}

// firstLine makes s one short line.
func firstLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > 160 {
		s = s[:160] + "…"
	}
	return s
}

// AllUp reports whether every result is up.
func AllUp(rs []Result) bool {
	for _, r := range rs {
		if !r.Up {
			return false
		}
	}
	return true
}

package api

import (
	"net/http"
	"strconv"
	"time"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/store"
)

func init() {
	route("GET", "/api/v1/audit", auth.RoleUser, "", (*Server).listAudit)
	route("GET", "/api/v1/audit/verify", auth.RoleUser, "", (*Server).verifyAudit)
}

// AuditView is an audit entry as the API shows it.
type AuditView struct {
	Seq        int64     `json:"seq"`
	At         time.Time `json:"at"`
	Actor      string    `json:"actor"`
	IP         string    `json:"ip,omitempty"`
	Action     string    `json:"action"`
	Level      string    `json:"level"`
	Target     string    `json:"target,omitempty"`
	Message    string    `json:"message,omitempty"`
	Method     string    `json:"method,omitempty"`
	URL        string    `json:"url,omitempty"`
	Status     int       `json:"status,omitempty"`
	DurationMS int64     `json:"duration_ms,omitempty"`
	Fields     string    `json:"fields,omitempty"`
	Hash       string    `json:"hash"`
}

// query reads typed values from a query string, each failing with a 422
// that names the parameter; shared by the list endpoints and the admin UI.
type query map[string][]string

func (q query) get(k string) string {
	if v := q[k]; len(v) > 0 {
		return v[0]
	}
	return ""
}

// times reads the since and until parameters (RFC 3339).
func (q query) times(since, until *time.Time) error {
	for _, p := range []struct {
		k string
		t *time.Time
	}{{"since", since}, {"until", until}} {
		if v := q.get(p.k); v != "" {
			t, err := time.Parse(time.RFC3339, v)
			if err != nil {
				return problem.Invalid(p.k, "%q is not an RFC 3339 time; expected e.g. 2026-11-22T10:00:00Z", v)
			}
			*p.t = t
		}
	}
	return nil
}

// limit reads the limit parameter, from 1 to max (def when absent).
func (q query) limit(def, max int) (int, error) {
	v := q.get("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > max {
		return 0, problem.Invalid("limit", "%q: expected a number from 1 to %d", v, max)
	}
	return n, nil
}

// ParseAuditFilter reads the audit filters of a query string; shared by the
// API and the admin UI.
func ParseAuditFilter(qs map[string][]string) (store.AuditFilter, error) {
	q := query(qs)
	f := store.AuditFilter{Level: q.get("level"), Action: q.get("action"), Target: q.get("target"), Actor: q.get("actor")}
	if f.Level != "" && !audit.ValidLevel(f.Level) {
		return f, problem.Invalid("level", "%q is not a level; expected debug, info, warning or error", f.Level)
	}
	if err := q.times(&f.Since, &f.Until); err != nil {
		return f, err
	}
	var err error
	if f.Limit, err = q.limit(50, 1000); err != nil {
		return f, err
	}
	if v := q.get("cursor"); v != "" {
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n < 1 {
			return f, problem.Invalid("cursor", "%q is not a cursor from a previous page's next_cursor", v)
		}
		f.Before = n
	}
	return f, nil
}

// AuditCursor is the next-page cursor after an audit row.
func AuditCursor(e store.AuditRow) string { return strconv.FormatInt(e.Seq, 10) }

func (s *Server) listAudit(w http.ResponseWriter, r *http.Request) error {
	f, err := ParseAuditFilter(r.URL.Query())
	if err != nil {
		return err
	}
	rows, next, err := FetchPage(f.Limit, func(n int) ([]store.AuditRow, error) { f.Limit = n; return s.DB.ListAudit(r.Context(), f) }, AuditCursor)
	if err != nil {
		return err
	}
	items := make([]AuditView, 0, len(rows))
	for _, e := range rows {
		items = append(items, AuditView{e.Seq, e.At, e.Actor, e.ActorIP, e.Action, e.Level, e.Target, e.Message,
			e.Method, e.URL, e.Status, e.DurationMS, e.Fields, e.Hash})
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": items, "next_cursor": next})
	return nil
}

func (s *Server) verifyAudit(w http.ResponseWriter, r *http.Request) error {
	rep, err := audit.Verify(r.Context(), s.DB)
	if _, broken := err.(*audit.Problem); err != nil && !broken {
		return err
	}
	writeJSON(w, http.StatusOK, rep)
	return nil
}

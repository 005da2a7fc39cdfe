package api

import (
	"context"
	"net/http"
	"time"

	"github.com/insightpulseai/ipai/internal/auth"
)

func init() {
	route("GET", "/healthz", auth.RolePublic, "", (*Server).healthz)
	route("GET", "/readyz", auth.RolePublic, "", (*Server).readyz)
	route("GET", "/metrics", auth.RolePublic, "", (*Server).metricsPage)
	route("GET", "/api/v1/me", auth.RoleUser, "", (*Server).me)
}

// healthz: the process is alive, and which build it runs.
func (s *Server) healthz(w http.ResponseWriter, r *http.Request) error {
	v := map[string]any{"status": "ok", "version": s.Version}
	if s.Revision != "" {
		v["revision"], v["modified"] = s.Revision, s.Modified
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

// readyz: the store is reachable and migrated.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request) error {
	ctx, cancel := context.WithTimeout(r.Context(), 3*time.Second)
	defer cancel()
	if err := s.DB.Ping(ctx); err != nil {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "store unreachable: " + err.Error()})
		return nil
	}
	v, current, err := s.DB.SchemaStatus(ctx)
	if err != nil || !current {
		reason := "database schema is not at this binary's version; run `ipai migrate`"
		if err != nil {
			reason = "cannot read schema version: " + err.Error()
		}
		writeJSON(w, http.StatusServiceUnavailable, map[string]any{"status": "unavailable", "reason": reason, "schema_version": v})
		return nil
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ready", "store": s.DB.Kind(), "schema_version": v})
	return nil
}

func (s *Server) metricsPage(w http.ResponseWriter, r *http.Request) error {
	s.metrics.handler.ServeHTTP(w, r)
	return nil
}

func (s *Server) me(w http.ResponseWriter, r *http.Request) error {
	p, _ := auth.FromContext(r.Context())
	writeJSON(w, http.StatusOK, p)
	return nil
}

package api

import (
	"net/http"

	"github.com/insightpulseai/ipai/internal/auth"
)

func init() {
	route("GET", "/api/v1/health", auth.RoleUser, "", (*Server).connectorHealth)
}

// connectorHealth reports every active connector's health: state (up,
// down, unknown), latency, last error and uptime over the kept history.
// Without a running checker it answers from the stored history.
func (s *Server) connectorHealth(w http.ResponseWriter, r *http.Request) error {
	svc, err := s.conns()
	if err != nil {
		return err
	}
	v, err := svc.Health(r.Context(), s.Health)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

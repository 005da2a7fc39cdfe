package api

import (
	"net/http"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/event"
)

func init() {
	// Signed by the sender: each hook checks its own scheme.
	routeBody("POST", "/hooks/{hook_id}", auth.RolePublic, event.MaxMaxBody, (*Server).receiveHook)
	// POST /integrations/{connector_code}/webhook/{hook_id} is served by
	// integrations3 (chatops.go), which shares the path shape with slash commands.
}

// receiveHook answers 200 only after the event is committed.
func (s *Server) receiveHook(w http.ResponseWriter, r *http.Request) error {
	res, err := s.Hooks.Receive(r.Context(), r, r.PathValue("hook_id"), r.PathValue("connector_code"))
	if err != nil {
		return err
	}
	recorded(w) // the event is listed with its id, hook and time
	writeJSON(w, http.StatusOK, res)
	return nil
}

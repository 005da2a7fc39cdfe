package mattermost

import (
	"encoding/json"
	"net/http"
	"strings"
)

// Bots and personal access tokens, as Mattermost answers them (server
// api4/bot.go createBot: 201 and the bot; api4/user.go getUserByUsername;
// createUserAccessToken: 200 and the token with its secret), as a real
// 5.37 answered `ipai stack connect` (internal/stack/testdata/
// mattermost_bot.json, replayed by TestConnectReplays): a system admin
// creates bot "ipai" (400 when the name is taken), then a token for its
// user id, which answers GET /users/me as the bot.
func (s *Server) botRoutes(mux *http.ServeMux) {
	mux.HandleFunc("POST /api/v4/bots", s.auth(s.createBot))
	mux.HandleFunc("GET /api/v4/users/username/{username}", s.auth(s.userByName))
	mux.HandleFunc("POST /api/v4/users/{id}/tokens", s.auth(s.createUserToken))
}

func isAdmin(u *User) bool { return strings.Contains(u.Roles, "system_admin") }

func (s *Server) createBot(w http.ResponseWriter, r *http.Request, u *User) {
	var in struct {
		Username    string `json:"username"`
		DisplayName string `json:"display_name"`
		Description string `json:"description"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Username == "" {
		s.appError(w, r, 400, "api.context.invalid_body_param.app_error", "Invalid or missing bot in request body.")
		return
	}
	if !isAdmin(u) {
		s.appError(w, r, 403, "api.context.permissions.app_error", "You do not have the appropriate permissions.")
		return
	}
	s.mu.Lock()
	for _, o := range s.users {
		if o.Username == in.Username {
			s.mu.Unlock()
			s.appError(w, r, 400, "app.user.save.username_exists.app_error", "An account with that username already exists.")
			return
		}
	}
	s.mu.Unlock()
	b := s.AddUser(in.Username, "")
	s.mu.Lock()
	b.IsBot, b.Email, b.FirstName, b.BotDescription = true, in.Username+"@localhost", in.DisplayName, in.Description
	s.mu.Unlock()
	writeJSON(w, 201, map[string]any{"user_id": b.ID, "username": b.Username, "display_name": in.DisplayName,
		"description": in.Description, "owner_id": u.ID, "create_at": 0, "update_at": 0, "delete_at": 0})
}

func (s *Server) userByName(w http.ResponseWriter, r *http.Request, _ *User) {
	s.mu.Lock()
	var found *User
	for _, o := range s.users {
		if o.Username == r.PathValue("username") {
			found = o
		}
	}
	s.mu.Unlock()
	if found == nil {
		s.appError(w, r, 404, "app.user.missing_account.const", "Unable to find the user.")
		return
	}
	writeJSON(w, 200, userJSON(found))
}

func (s *Server) createUserToken(w http.ResponseWriter, r *http.Request, u *User) {
	var in struct {
		Description string `json:"description"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Description == "" {
		s.appError(w, r, 400, "api.context.invalid_body_param.app_error", "Invalid or missing description in request body.")
		return
	}
	id := r.PathValue("id")
	if !isAdmin(u) && u.ID != id {
		s.appError(w, r, 403, "api.context.permissions.app_error", "You do not have the appropriate permissions.")
		return
	}
	s.mu.Lock()
	_, ok := s.users[id]
	s.mu.Unlock()
	if !ok {
		s.appError(w, r, 404, "app.user.missing_account.const", "Unable to find the user.")
		return
	}
	tok := s.AddToken(id)
	writeJSON(w, 200, map[string]any{"id": newID(), "token": tok, "user_id": id, "description": in.Description, "is_active": true})
}

package focalboard

import (
	"net/http"
	"sort"
	"strings"
)

// AddUser adds a team member and returns its id. The token's user (admin,
// "u-admin") is always a member. Like the real server, the fake never
// sends a user's email (Focalboard's model has Email json:"-").
func (s *Server) AddUser(username, email string) string {
	id := "u-" + username
	s.mu.Lock()
	if s.users == nil {
		s.users = map[string]map[string]any{}
	}
	s.users[id] = userJSON(id, username, email)
	s.mu.Unlock()
	return id
}

// userJSON is a user as Focalboard 8 standalone sends it: no email, no
// props (recorded in internal/connector/focalboard/testdata/focalboard8.json).
func userJSON(id, username, _ string) map[string]any {
	return map[string]any{"id": id, "username": username, "nickname": "", "firstname": "", "lastname": "",
		"create_at": 1700000000000, "update_at": 1700000000000, "delete_at": 0,
		"is_bot": false, "is_guest": false, "roles": ""}
}

func (s *Server) allUsers() map[string]map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[string]map[string]any{"u-" + Username: userJSON("u-"+Username, Username, Username+"@example.com")}
	for id, u := range s.users {
		out[id] = clone(u)
	}
	return out
}

// listTeamUsers answers GET /api/v2/teams/{team}/users[?search=] (ordered
// by id); search matches usernames only and returns at most 10, as the
// standalone server's store does (it ignores the team: every user).
func (s *Server) listTeamUsers(w http.ResponseWriter, r *http.Request, _ string) {
	q := strings.ToLower(r.URL.Query().Get("search"))
	all := s.allUsers()
	ids := make([]string, 0, len(all))
	for id, u := range all {
		name, _ := u["username"].(string)
		if q == "" || strings.Contains(strings.ToLower(name), q) {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	if q != "" && len(ids) > 10 {
		ids = ids[:10]
	}
	out := make([]map[string]any, 0, len(ids))
	for _, id := range ids {
		out = append(out, all[id])
	}
	writeJSON(w, 200, out)
}

// getUser answers GET /api/v2/users/{user}.
func (s *Server) getUser(w http.ResponseWriter, r *http.Request, _ string) {
	u, ok := s.allUsers()[r.PathValue("user")]
	if !ok {
		apiError(w, 404, "unable to find user: {user} not found")
		return
	}
	writeJSON(w, 200, u)
}

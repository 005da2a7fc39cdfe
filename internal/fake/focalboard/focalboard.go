// Package focalboard is a faithful in-memory fake of a standalone Focalboard
// server's API v2 (shared/reference/apis.md §3): /ping, login, users/me,
// boards and cards, with the X-Requested-With CSRF check on every /api/v2
// route and the {"error","errorCode"} error shape.
package focalboard

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/insightpulseai/ipai/internal/fake/knob"
)

// Seeded credentials.
const (
	Token    = "fbtoken0admin"
	Username = "admin"
	Password = "admin-password"
	TeamID   = "0"
)

// Server is a running fake Focalboard.
type Server struct {
	*httptest.Server
	knob.Knobs

	mu      sync.Mutex
	version string
	tokens  map[string]string // token → username
	boards  map[string]map[string]any
	cards   map[string]map[string]any
	blocks  map[string]map[string]any // content blocks (text …) by id
	order   []string                  // card ids in creation order
	logins  int
	users   map[string]map[string]any // team members by id (users.go)
	// BoardID is the seeded board.
	BoardID string
}

// New starts a fake Focalboard 8.0.0 with user admin (token Token) and one
// board on team "0".
func New() *Server {
	s := &Server{version: "8.0.0", tokens: map[string]string{Token: Username},
		boards: map[string]map[string]any{}, cards: map[string]map[string]any{},
		blocks: map[string]map[string]any{}}
	s.BoardID = s.AddBoard("Operations")
	s.Server = httptest.NewServer(s.Wrap(s.routes()))
	return s
}

// ExpireSessions ends every session made by a login (as when Focalboard's
// session_expire_time passes); the seeded Token stays valid.
func (s *Server) ExpireSessions() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for tok := range s.tokens {
		if tok != Token {
			delete(s.tokens, tok)
		}
	}
}

// Logins counts the successful logins.
func (s *Server) Logins() int { s.mu.Lock(); defer s.mu.Unlock(); return s.logins }

// SetVersion changes the version /ping reports.
func (s *Server) SetVersion(v string) { s.mu.Lock(); s.version = v; s.mu.Unlock() }

// AddBoard adds a board with a Status select property and returns its id.
func (s *Server) AddBoard(title string) string {
	id := newID("b")
	now := time.Now().UnixMilli()
	s.mu.Lock()
	s.boards[id] = map[string]any{"id": id, "teamId": TeamID, "channelId": "", "createdBy": "u1", "modifiedBy": "u1",
		"type": "O", "minimumRole": "", "title": title, "description": "", "icon": "", "showDescription": false,
		"isTemplate": false, "templateVersion": 0, "properties": map[string]any{},
		"cardProperties": []any{map[string]any{"id": "status", "name": "Status", "type": "select",
			"options": []any{map[string]any{"id": "todo", "value": "To do", "color": "propColorGray"},
				map[string]any{"id": "done", "value": "Done", "color": "propColorGreen"}}}},
		"createAt": now, "updateAt": now, "deleteAt": 0}
	s.mu.Unlock()
	return id
}

// Cards returns the cards of a board, in creation order.
func (s *Server) Cards(boardID string) []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, id := range s.order {
		if c := s.cards[id]; c["boardId"] == boardID {
			out = append(out, clone(c))
		}
	}
	return out
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ping", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		v := s.version
		s.mu.Unlock()
		writeJSON(w, 200, map[string]any{"version": v, "build_number": "fake", "build_date": "", "commit": "abc",
			"edition": "", "db_type": "sqlite3", "db_version": "3.45", "os_type": "linux", "os_arch": "amd64", "sku": "personal_server"})
	})
	mux.HandleFunc("GET /hello", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("Hello")) })
	api := http.NewServeMux()
	api.HandleFunc("POST /api/v2/login", s.login)
	// The fake always has its user, so registering without a sign-up token
	// is refused as Focalboard 8.0.0 refuses it once any user exists
	// (server/api/auth.go handleRegister: GetRegisteredUserCount > 0).
	api.HandleFunc("POST /api/v2/register", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Username, Email, Password, Token string }
		if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
			apiError(w, 400, "invalid request body")
			return
		}
		if in.Token == "" {
			apiError(w, 401, "no sign-up token and user(s) already exist")
			return
		}
		apiError(w, 401, "invalid token")
	})
	api.HandleFunc("POST /api/v2/logout", s.auth(func(w http.ResponseWriter, r *http.Request, _ string) {
		tok := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer ")
		s.mu.Lock()
		if tok != Token { // the seeded token stands for a long-lived one
			delete(s.tokens, tok)
		}
		s.mu.Unlock()
		writeJSON(w, 200, map[string]any{})
	}))
	api.HandleFunc("GET /api/v2/users/me", s.auth(func(w http.ResponseWriter, r *http.Request, user string) {
		writeJSON(w, 200, userJSON("u-"+user, user, ""))
	}))
	api.HandleFunc("GET /api/v2/teams/{team}/boards", s.auth(s.listBoards))
	api.HandleFunc("GET /api/v2/teams/{team}/users", s.auth(s.listTeamUsers))
	api.HandleFunc("GET /api/v2/users/{user}", s.auth(s.getUser))
	api.HandleFunc("POST /api/v2/boards", s.auth(s.createBoard))
	api.HandleFunc("GET /api/v2/boards/{board}", s.auth(s.getBoard))
	api.HandleFunc("POST /api/v2/boards/{board}/cards", s.auth(s.createCard))
	api.HandleFunc("GET /api/v2/boards/{board}/cards", s.auth(s.listCards))
	api.HandleFunc("GET /api/v2/cards/{card}", s.auth(s.getCard))
	api.HandleFunc("PATCH /api/v2/cards/{card}", s.auth(s.patchCard))
	api.HandleFunc("PATCH /api/v2/boards/{board}", s.auth(s.patchBoard))
	api.HandleFunc("DELETE /api/v2/boards/{board}", s.auth(s.deleteBoard))
	api.HandleFunc("DELETE /api/v2/boards/{board}/blocks/{block}", s.auth(s.deleteBlock))
	api.HandleFunc("GET /api/v2/boards/{board}/blocks", s.auth(s.listBlocks))
	api.HandleFunc("POST /api/v2/boards/{board}/blocks", s.auth(s.insertBlocks))
	api.HandleFunc("PATCH /api/v2/boards/{board}/blocks/{block}", s.auth(s.patchBlock))
	api.HandleFunc("/api/v2/", func(w http.ResponseWriter, r *http.Request) { apiError(w, 404, "not found") })
	mux.Handle("/api/v2/", requireCSRF(api))
	return mux
}

func requireCSRF(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Requested-With") != "XMLHttpRequest" {
			apiError(w, 400, "checkCSRFToken FAILED")
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (s *Server) auth(next func(http.ResponseWriter, *http.Request, string)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		tok := strings.TrimPrefix(strings.TrimPrefix(h, "Bearer "), "Token ")
		if h == "" {
			tok = r.URL.Query().Get("access_token")
		}
		s.mu.Lock()
		user, ok := s.tokens[tok]
		s.mu.Unlock()
		switch {
		case tok == "":
			apiError(w, 401, "no session token")
			return
		case !ok:
			apiError(w, 401, "unable to get the session for the token: sql: no rows in result set")
			return
		}
		next(w, r, user)
	}
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var in struct{ Type, Username, Email, Password string }
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		apiError(w, 400, "invalid request body")
		return
	}
	if in.Type != "normal" {
		apiError(w, 400, "invalid login type")
		return
	}
	if (in.Username != Username && in.Email != Username+"@example.com") || in.Password != Password {
		apiError(w, 401, "incorrect login")
		return
	}
	tok := newID("t")
	s.mu.Lock()
	s.tokens[tok] = Username
	s.logins++
	s.mu.Unlock()
	writeJSON(w, 200, map[string]string{"token": tok})
}

func (s *Server) listBoards(w http.ResponseWriter, r *http.Request, _ string) {
	s.mu.Lock()
	out := []map[string]any{}
	for _, b := range s.boards {
		if b["teamId"] == r.PathValue("team") {
			out = append(out, clone(b))
		}
	}
	s.mu.Unlock()
	writeJSON(w, 200, out)
}

func (s *Server) getBoard(w http.ResponseWriter, r *http.Request, _ string) {
	s.mu.Lock()
	b := s.boards[r.PathValue("board")]
	s.mu.Unlock()
	if b == nil {
		apiError(w, 404, "{boards} not found")
		return
	}
	writeJSON(w, 200, clone(b))
}

// createBoard answers POST /api/v2/boards. Focalboard stores the board as
// sent: without properties or cardProperties they are null (the web app
// sends its own defaults; the API adds none).
func (s *Server) createBoard(w http.ResponseWriter, r *http.Request, user string) {
	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		apiError(w, 400, err.Error())
		return
	}
	id := s.AddBoard(orEmpty(in["title"]).(string))
	s.mu.Lock()
	b := s.boards[id]
	for _, k := range []string{"teamId", "type", "description", "icon", "minimumRole"} {
		if v, ok := in[k].(string); ok {
			b[k] = v
		}
	}
	b["properties"], b["cardProperties"] = in["properties"], in["cardProperties"]
	b["createdBy"], b["modifiedBy"] = "u-"+user, "u-"+user
	out := clone(b)
	s.mu.Unlock()
	writeJSON(w, 200, out)
}

func (s *Server) createCard(w http.ResponseWriter, r *http.Request, user string) {
	boardID := r.PathValue("board")
	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		apiError(w, 400, "invalid card")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.boards[boardID] == nil { // no permission on a board that does not exist
		apiError(w, 403, "access denied to create card")
		return
	}
	if b, ok := in["boardId"].(string); ok && b != "" && b != boardID {
		apiError(w, 400, "Board IDs do not match")
		return
	}
	now := time.Now().UnixMilli()
	id := newID("c")
	card := map[string]any{"id": id, "boardId": boardID, "createdBy": "u-" + user, "modifiedBy": "u-" + user,
		"title": in["title"], "contentOrder": []any{}, "icon": orEmpty(in["icon"]), "isTemplate": false,
		"properties": map[string]any{}, "createAt": now, "updateAt": now, "deleteAt": 0}
	if p, ok := in["properties"].(map[string]any); ok {
		card["properties"] = p
	}
	s.cards[id] = card
	s.order = append(s.order, id)
	writeJSON(w, 200, clone(card))
}

func (s *Server) listCards(w http.ResponseWriter, r *http.Request, _ string) {
	page, _ := strconv.Atoi(r.URL.Query().Get("page"))
	per, err := strconv.Atoi(r.URL.Query().Get("per_page"))
	if err != nil || per <= 0 {
		per = 100
	}
	s.mu.Lock()
	known := s.boards[r.PathValue("board")] != nil
	s.mu.Unlock()
	if !known {
		apiError(w, 403, "access denied to fetch cards")
		return
	}
	all := s.Cards(r.PathValue("board"))
	out := []map[string]any{}
	for i := page * per; i < len(all) && i < (page+1)*per; i++ {
		out = append(out, all[i])
	}
	writeJSON(w, 200, out)
}

// missingCard answers as Focalboard does for an unknown card id: 400
// (not 404) "could not fetch card <id>: {block ID=<id>} not found".
func missingCard(w http.ResponseWriter, id string) {
	apiError(w, 400, fmt.Sprintf("could not fetch card %s: {block ID=%s} not found", id, id))
}

func (s *Server) getCard(w http.ResponseWriter, r *http.Request, _ string) {
	s.mu.Lock()
	c := s.cards[r.PathValue("card")]
	s.mu.Unlock()
	if c == nil {
		missingCard(w, r.PathValue("card"))
		return
	}
	writeJSON(w, 200, clone(c))
}

// patchCard answers PATCH /api/v2/cards/{card} as Focalboard 8 does: a
// non-empty updatedProperties REPLACES the card's whole properties map
// (the server turns it into a block patch of the "properties" field), an
// empty one leaves it alone, and there is no deletedProperties (unknown
// keys are ignored). An unknown card is a 400.
func (s *Server) patchCard(w http.ResponseWriter, r *http.Request, user string) {
	var in struct {
		Title             *string        `json:"title"`
		Icon              *string        `json:"icon"`
		ContentOrder      []any          `json:"contentOrder"`
		UpdatedProperties map[string]any `json:"updatedProperties"`
	}
	s.mu.Lock()
	c := s.cards[r.PathValue("card")]
	s.mu.Unlock()
	if c == nil {
		missingCard(w, r.PathValue("card"))
		return
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		apiError(w, 400, err.Error())
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c = s.cards[r.PathValue("card")]; c == nil {
		missingCard(w, r.PathValue("card"))
		return
	}
	if in.Title != nil {
		c["title"] = *in.Title
	}
	if in.Icon != nil {
		c["icon"] = *in.Icon
	}
	if in.ContentOrder != nil {
		c["contentOrder"] = in.ContentOrder
	}
	if len(in.UpdatedProperties) > 0 {
		c["properties"] = in.UpdatedProperties
	}
	c["modifiedBy"] = "u-" + user
	c["updateAt"] = time.Now().UnixMilli()
	writeJSON(w, 200, clone(c))
}

func apiError(w http.ResponseWriter, status int, msg string) {
	if msg == "" {
		msg = strings.ToLower(http.StatusText(status))
	}
	writeJSON(w, status, map[string]any{"error": msg, "errorCode": status})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

func clone(m map[string]any) map[string]any {
	b, _ := json.Marshal(m)
	var out map[string]any
	_ = json.Unmarshal(b, &out)
	return out
}

func orEmpty(v any) any {
	if v == nil {
		return ""
	}
	return v
}

func newID(prefix string) string {
	b := make([]byte, 12)
	_, _ = rand.Read(b)
	return fmt.Sprintf("%s%x", prefix, b)
}

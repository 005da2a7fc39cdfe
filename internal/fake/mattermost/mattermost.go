// Package mattermost is a faithful in-memory fake of the Mattermost API v4
// parts ipai uses (shared/reference/apis.md §2): system ping, login,
// users/me, client config, teams and channels by name, posts, incoming and
// outgoing webhook creation, and incoming webhook posts. It records every
// post so tests can assert on them, and can act as Mattermost calling a
// slash command or outgoing webhook URL.
package mattermost

import (
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"time"

	"github.com/insightpulseai/ipai/internal/fake/knob"
)

// Server is a running fake Mattermost.
type Server struct {
	*httptest.Server
	knob.Knobs

	mu       sync.Mutex
	version  string
	users    map[string]*User // by id
	tokens   map[string]string
	teams    map[string]*Team    // by name
	channels map[string]*Channel // by id
	posts    []Post
	inHooks  map[string]string // hook id → channel id
	outHooks []map[string]any
	chat     chatState // slash commands, response URLs, ephemeral messages (chatops.go)
}

// User is a fake user; Password is only used by login.
type User struct {
	ID, Username, Email, Password, Roles string
	IsBot                                bool
	// A bot's display name (its first_name) and description.
	FirstName, BotDescription string
}

// Team is a fake team.
type Team struct{ ID, Name, DisplayName string }

// Channel is a fake channel.
type Channel struct{ ID, TeamID, Name, DisplayName, Type string }

// Post is a recorded post (from the API or an incoming webhook).
type Post struct {
	ID, ChannelID, UserID, Message, RootID string
	// Props as stored: attachments in normal form, actions with their
	// integration (the API strips it; see postJSON).
	Props map[string]any
	// CreateAt is in milliseconds; Edits counts updates.
	CreateAt, Edits int64
	// Hook is the incoming webhook id when the post came through one.
	Hook string
	// Username is the override sent to an incoming webhook.
	Username string
}

// Admin is the seeded user; AdminToken its personal access token.
const (
	AdminToken = "pat0admin0token0aaaaaaaaaa"
	TeamName   = "ipai"
)

// New starts a fake Mattermost 9.11.1 with one admin user (token
// AdminToken, password "admin-password"), team "ipai" and channel
// "town-square". Close it with Close.
func New() *Server {
	s := &Server{
		version:  "9.11.1",
		users:    map[string]*User{},
		tokens:   map[string]string{},
		teams:    map[string]*Team{},
		channels: map[string]*Channel{},
		inHooks:  map[string]string{},
	}
	admin := s.AddUser("admin", "admin-password")
	admin.Roles = "system_user system_admin"
	s.tokens[AdminToken] = admin.ID
	t := &Team{ID: newID(), Name: TeamName, DisplayName: "IPAI"}
	s.teams[t.Name] = t
	s.AddChannel(TeamName, "town-square")
	s.Server = httptest.NewServer(s.Wrap(s.routes()))
	return s
}

// SetVersion changes the version reported in X-Version-Id.
func (s *Server) SetVersion(v string) { s.mu.Lock(); s.version = v; s.mu.Unlock() }

// AddUser adds a user and returns it.
func (s *Server) AddUser(username, password string) *User {
	u := &User{ID: newID(), Username: username, Email: username + "@example.com", Password: password, Roles: "system_user"}
	s.mu.Lock()
	s.users[u.ID] = u
	s.mu.Unlock()
	return u
}

// AddToken gives user id a new token and returns it.
func (s *Server) AddToken(userID string) string {
	tok := newID()
	s.mu.Lock()
	s.tokens[tok] = userID
	s.mu.Unlock()
	return tok
}

// AddChannel adds an open channel to a team and returns its id.
func (s *Server) AddChannel(team, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	t := s.teams[team]
	c := &Channel{ID: newID(), TeamID: t.ID, Name: name, DisplayName: name, Type: "O"}
	s.channels[c.ID] = c
	return c.ID
}

// ChannelID returns the id of a channel by team and name ("" when absent).
func (s *Server) ChannelID(team, name string) string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.channelByName(team, name); c != nil {
		return c.ID
	}
	return ""
}

// AddIncomingHook creates an incoming webhook for a channel and returns its id.
func (s *Server) AddIncomingHook(channelID string) string {
	id := newID()
	s.mu.Lock()
	s.inHooks[id] = channelID
	s.mu.Unlock()
	return id
}

// Posts returns the recorded posts, oldest first.
func (s *Server) Posts() []Post {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Post(nil), s.posts...)
}

// OutgoingHooks returns the outgoing webhooks created through the API.
func (s *Server) OutgoingHooks() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]map[string]any(nil), s.outHooks...)
}

func (s *Server) channelByName(team, name string) *Channel {
	t := s.teams[team]
	if t == nil {
		return nil
	}
	for _, c := range s.channels {
		if c.TeamID == t.ID && c.Name == name {
			return c
		}
	}
	return nil
}

func (s *Server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /api/v4/system/ping", s.ping)
	mux.HandleFunc("POST /api/v4/users/login", s.login)
	mux.HandleFunc("GET /api/v4/users/me", s.auth(s.me))
	mux.HandleFunc("GET /api/v4/config/client", s.clientConfig)
	mux.HandleFunc("GET /api/v4/teams/name/{team}", s.auth(s.team))
	mux.HandleFunc("GET /api/v4/teams/name/{team}/channels/name/{channel}", s.auth(s.channel))
	mux.HandleFunc("POST /api/v4/posts", s.auth(s.createPost))
	mux.HandleFunc("POST /api/v4/hooks/incoming", s.auth(s.createIncoming))
	mux.HandleFunc("POST /api/v4/hooks/outgoing", s.auth(s.createOutgoing))
	mux.HandleFunc("POST /hooks/{id}", s.incoming)
	s.botRoutes(mux)
	s.chatRoutes(mux)
	s.postRoutes(mux)
	mux.HandleFunc("/api/v4/", func(w http.ResponseWriter, r *http.Request) {
		s.appError(w, r, 404, "api.context.404.app_error", "Sorry, we could not find the page.")
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		v := s.version
		s.mu.Unlock()
		w.Header().Set("X-Request-Id", newID())
		w.Header().Set("X-Version-Id", v+"."+v+".abcdef0123.false")
		mux.ServeHTTP(w, r)
	})
}

func (s *Server) auth(next func(http.ResponseWriter, *http.Request, *User)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		tok := ""
		h := r.Header.Get("Authorization")
		switch {
		case strings.HasPrefix(h, "Bearer "):
			tok = strings.TrimPrefix(h, "Bearer ")
		case strings.HasPrefix(h, "Token "):
			tok = strings.TrimPrefix(h, "Token ")
		default:
			tok = r.URL.Query().Get("access_token")
		}
		s.mu.Lock()
		u := s.users[s.tokens[tok]]
		s.mu.Unlock()
		if tok == "" || u == nil {
			s.appError(w, r, 401, "api.context.session_expired.app_error", "Invalid or expired session, please login again.")
			return
		}
		next(w, r, u)
	}
}

func (s *Server) appError(w http.ResponseWriter, r *http.Request, status int, id, msg string) {
	writeJSON(w, status, map[string]any{
		"id": id, "message": msg, "detailed_error": "", "request_id": w.Header().Get("X-Request-Id"),
		"status_code": status,
	})
}

func (s *Server) ping(w http.ResponseWriter, r *http.Request) {
	body := map[string]any{"status": "OK", "AndroidLatestVersion": "", "AndroidMinVersion": "", "DesktopLatestVersion": "",
		"DesktopMinVersion": "", "IosLatestVersion": "", "IosMinVersion": ""}
	if r.URL.Query().Get("get_server_status") != "" {
		body["database_status"] = "OK"
		body["filestore_status"] = "OK"
		w.Header().Set("status", "OK")
		w.Header().Set("database_status", "OK")
		w.Header().Set("filestore_status", "OK")
	}
	writeJSON(w, 200, body)
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	var in struct{ LoginID, Password string }
	var raw map[string]string
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
		s.appError(w, r, 400, "api.context.invalid_body_param.app_error", "Invalid or missing user in request body.")
		return
	}
	in.LoginID, in.Password = raw["login_id"], raw["password"]
	s.mu.Lock()
	var found *User
	for _, u := range s.users {
		if (u.Username == in.LoginID || u.Email == in.LoginID) && u.Password == in.Password && in.Password != "" {
			found = u
		}
	}
	s.mu.Unlock()
	if found == nil {
		s.appError(w, r, 401, "api.user.login.invalid_credentials_email_username", "Enter a valid email or username and/or password.")
		return
	}
	tok := s.AddToken(found.ID)
	w.Header().Set("Token", tok)
	http.SetCookie(w, &http.Cookie{Name: "MMAUTHTOKEN", Value: tok, Path: "/", HttpOnly: true})
	writeJSON(w, 200, userJSON(found))
}

// userJSON is a user as Mattermost 5.37 answers a system admin: a bot
// with is_bot and bot_description, its display name as first_name, and no
// notify_props or last_password_update (recorded:
// internal/stack/testdata/mattermost_bot.json).
func userJSON(u *User) map[string]any {
	m := map[string]any{"id": u.ID, "create_at": 1700000000000, "update_at": 1700000000000, "delete_at": 0,
		"username": u.Username, "auth_data": "", "auth_service": "", "email": u.Email, "nickname": "",
		"first_name": u.FirstName, "last_name": "", "position": "", "roles": u.Roles, "locale": "en",
		"timezone":              map[string]string{"automaticTimezone": "", "manualTimezone": "", "useAutomaticTimezone": "true"},
		"disable_welcome_email": false}
	if u.IsBot {
		m["is_bot"], m["bot_description"] = true, u.BotDescription
		return m
	}
	m["notify_props"] = map[string]string{"channel": "true", "comments": "never", "desktop": "mention", "desktop_sound": "true", "email": "true", "first_name": "false", "mention_keys": "", "push": "mention", "push_status": "away"}
	m["last_password_update"] = 1700000000000
	return m
}

func (s *Server) me(w http.ResponseWriter, r *http.Request, u *User) { writeJSON(w, 200, userJSON(u)) }

func (s *Server) clientConfig(w http.ResponseWriter, r *http.Request) {
	switch f := r.URL.Query().Get("format"); f {
	case "old":
	case "":
		s.appError(w, r, 501, "api.config.client.old_format.app_error", "New format for the client configuration is not supported yet. Please specify format=old in the query string.")
		return
	default:
		s.appError(w, r, 400, "api.context.invalid_param.app_error", "Invalid format parameter.")
		return
	}
	s.mu.Lock()
	v := s.version
	s.mu.Unlock()
	writeJSON(w, 200, map[string]string{"Version": v, "BuildNumber": v, "BuildDate": "", "BuildHash": "abcdef0123",
		"BuildEnterpriseReady": "false", "SiteName": "Mattermost", "SiteURL": s.URL, "DiagnosticId": "fake"})
}

func (s *Server) team(w http.ResponseWriter, r *http.Request, _ *User) {
	s.mu.Lock()
	t := s.teams[r.PathValue("team")]
	s.mu.Unlock()
	if t == nil {
		s.appError(w, r, 404, "app.team.get_by_name.missing.app_error", "Unable to find the existing team.")
		return
	}
	writeJSON(w, 200, map[string]any{"id": t.ID, "create_at": 1700000000000, "update_at": 1700000000000, "delete_at": 0,
		"display_name": t.DisplayName, "name": t.Name, "description": "", "email": "admin@example.com", "type": "O",
		"company_name": "", "allowed_domains": "", "invite_id": "invite0" + t.ID[:19], "allow_open_invite": false,
		"scheme_id": nil, "group_constrained": nil, "policy_id": nil})
}

func (s *Server) channel(w http.ResponseWriter, r *http.Request, _ *User) {
	s.mu.Lock()
	c := s.channelByName(r.PathValue("team"), r.PathValue("channel"))
	s.mu.Unlock()
	if c == nil {
		s.appError(w, r, 404, "app.channel.get_by_name.missing.app_error", "Channel does not exist.")
		return
	}
	writeJSON(w, 200, map[string]any{"id": c.ID, "create_at": 1700000000000, "update_at": 1700000000000, "delete_at": 0,
		"team_id": c.TeamID, "type": c.Type, "display_name": c.DisplayName, "name": c.Name, "header": "", "purpose": "",
		"last_post_at": 0, "total_msg_count": 0, "extra_update_at": 0, "creator_id": "", "scheme_id": nil, "props": nil,
		"group_constrained": nil, "shared": nil, "total_msg_count_root": 0, "policy_id": nil})
}

func (s *Server) createPost(w http.ResponseWriter, r *http.Request, u *User) {
	var in struct {
		ChannelID string         `json:"channel_id"`
		Message   string         `json:"message"`
		RootID    string         `json:"root_id"`
		Props     map[string]any `json:"props"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		s.appError(w, r, 400, "api.context.invalid_body_param.app_error", "Invalid or missing post in request body.")
		return
	}
	s.mu.Lock()
	_, ok := s.channels[in.ChannelID]
	s.mu.Unlock()
	if !ok {
		s.appError(w, r, 403, "api.context.permissions.app_error", "You do not have the appropriate permissions.")
		return
	}
	if in.Props == nil {
		in.Props = map[string]any{}
	}
	normalizeAttachments(in.Props)
	p := Post{ID: newID(), ChannelID: in.ChannelID, UserID: u.ID, Message: in.Message, RootID: in.RootID, Props: in.Props,
		CreateAt: time.Now().UnixMilli()}
	s.mu.Lock()
	s.posts = append(s.posts, p)
	s.mu.Unlock()
	writeJSON(w, 201, postJSON(p))
	s.triggerOutgoing(p, u)
}

func (s *Server) createIncoming(w http.ResponseWriter, r *http.Request, _ *User) {
	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil {
		s.appError(w, r, 400, "api.context.invalid_body_param.app_error", "Invalid or missing incoming_webhook in request body.")
		return
	}
	ch, _ := in["channel_id"].(string)
	s.mu.Lock()
	_, ok := s.channels[ch]
	s.mu.Unlock()
	if !ok {
		s.appError(w, r, 400, "api.context.invalid_body_param.app_error", "Invalid or missing channel_id in request body.")
		return
	}
	in["id"] = s.AddIncomingHook(ch)
	writeJSON(w, 201, in)
}

func (s *Server) createOutgoing(w http.ResponseWriter, r *http.Request, u *User) {
	var in map[string]any
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in["team_id"] == nil {
		s.appError(w, r, 400, "api.context.invalid_body_param.app_error", "Invalid or missing outgoing_webhook in request body.")
		return
	}
	in["id"], in["token"], in["creator_id"] = newID(), newID(), u.ID
	if in["content_type"] == nil {
		in["content_type"] = "application/x-www-form-urlencoded"
	}
	s.mu.Lock()
	s.outHooks = append(s.outHooks, in)
	s.mu.Unlock()
	writeJSON(w, 201, in)
}

// incoming handles POST /hooks/{id}: JSON, or form field payload=<json>.
func (s *Server) incoming(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	s.mu.Lock()
	ch, ok := s.inHooks[id]
	s.mu.Unlock()
	if !ok {
		s.appError(w, r, 400, "web.incoming_webhook.invalid.app_error", "Invalid webhook.")
		return
	}
	var raw []byte
	ct := r.Header.Get("Content-Type")
	if strings.HasPrefix(ct, "application/x-www-form-urlencoded") || strings.HasPrefix(ct, "multipart/form-data") {
		_ = r.ParseMultipartForm(1 << 20)
		raw = []byte(r.FormValue("payload"))
	} else {
		raw, _ = io.ReadAll(io.LimitReader(r.Body, 1<<20))
	}
	// Mattermost tolerates raw newlines and tabs inside strings.
	esc := strings.NewReplacer("\n", `\n`, "\t", `\t`, "\r", `\r`).Replace(string(raw))
	var in struct {
		Text        string         `json:"text"`
		Username    string         `json:"username"`
		Channel     string         `json:"channel"`
		Props       map[string]any `json:"props"`
		Attachments []any          `json:"attachments"`
	}
	if err := json.Unmarshal([]byte(esc), &in); err != nil {
		s.appError(w, r, 400, "web.incoming_webhook.parse.app_error", "Unable to parse incoming data.")
		return
	}
	if in.Text == "" && len(in.Attachments) == 0 {
		s.appError(w, r, 400, "web.incoming_webhook.text.app_error", "No text specified.")
		return
	}
	props := in.Props
	if len(in.Attachments) > 0 {
		if props == nil {
			props = map[string]any{}
		}
		props["attachments"] = in.Attachments
	}
	s.mu.Lock()
	s.posts = append(s.posts, Post{ID: newID(), ChannelID: ch, Message: in.Text, Props: props, Hook: id, Username: in.Username})
	s.mu.Unlock()
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("ok"))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// newID returns a 26-character lowercase alphanumeric id like Mattermost's.
func newID() string {
	const alpha = "abcdefghijklmnopqrstuvwxyz0123456789"
	b := make([]byte, 26)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alpha[int(b[i])%len(alpha)]
	}
	return string(b)
}

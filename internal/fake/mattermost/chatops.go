package mattermost

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// chatState is the fake's slash command and interactive message state.
type chatState struct {
	commands  map[string]*fakeCommand // by id
	responses map[string]respHook     // response_url id → where replies go
	ephemeral []Ephemeral
}

type fakeCommand struct {
	ID, Token, TeamID, Trigger, Method, URL, CreatorID string
	Description, Hint, Username                        string
}

type respHook struct {
	channelID, userID, cmdUsername string
	expires                        time.Time
}

// Ephemeral is a message only one user saw (an ephemeral command response,
// a button's ephemeral_text). Mattermost sends these only as websocket
// events, never through the REST API; a button's lands in the clicked
// post's thread (RootID).
type Ephemeral struct{ UserID, ChannelID, RootID, Text string }

// CommandResponse is Mattermost's CommandResponse (apis.md §2.10).
type CommandResponse struct {
	ResponseType     string            `json:"response_type"`
	Text             string            `json:"text"`
	Username         string            `json:"username,omitempty"`
	ChannelID        string            `json:"channel_id,omitempty"`
	IconURL          string            `json:"icon_url,omitempty"`
	Type             string            `json:"type,omitempty"`
	Props            map[string]any    `json:"props,omitempty"`
	GotoLocation     string            `json:"goto_location,omitempty"`
	TriggerID        string            `json:"trigger_id,omitempty"`
	SkipSlackParsing bool              `json:"skip_slack_parsing,omitempty"`
	Attachments      []any             `json:"attachments,omitempty"`
	ExtraResponses   []CommandResponse `json:"extra_responses,omitempty"`
}

// ActionResponse is the answer to an interactive button click (§2.11).
type ActionResponse struct {
	Update *struct {
		Message string         `json:"message"`
		Props   map[string]any `json:"props"`
	} `json:"update"`
	EphemeralText string `json:"ephemeral_text"`
	GotoLocation  string `json:"goto_location"`
}

// OutgoingResponse is the answer to an outgoing webhook (§2.9).
type OutgoingResponse struct {
	Text         string         `json:"text"`
	Username     string         `json:"username"`
	IconURL      string         `json:"icon_url"`
	Props        map[string]any `json:"props"`
	Attachments  []any          `json:"attachments"`
	Type         string         `json:"type"`
	ResponseType string         `json:"response_type"`
}

func (s *Server) chatRoutes(mux *http.ServeMux) {
	s.chat.commands = map[string]*fakeCommand{}
	s.chat.responses = map[string]respHook{}
	mux.HandleFunc("POST /api/v4/commands", s.auth(s.createCommand))
	mux.HandleFunc("GET /api/v4/commands", s.auth(s.listCommands))
	mux.HandleFunc("DELETE /api/v4/commands/{id}", s.auth(s.deleteCommand))
	mux.HandleFunc("GET /api/v4/users/{id}", s.auth(s.userByID))
	mux.HandleFunc("POST /hooks/commands/{id}", s.commandResponse)
}

// Ephemerals returns the ephemeral messages shown so far.
func (s *Server) Ephemerals() []Ephemeral {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Ephemeral(nil), s.chat.ephemeral...)
}

// Post returns a recorded post by id.
func (s *Server) Post(id string) (Post, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.posts {
		if p.ID == id {
			return p, true
		}
	}
	return Post{}, false
}

// AddChannelPost records a post written by a user (e.g. one that triggers
// an outgoing webhook) and returns its id.
func (s *Server) AddChannelPost(channelID, userID, message string) string {
	p := Post{ID: newID(), ChannelID: channelID, UserID: userID, Message: message}
	s.mu.Lock()
	s.posts = append(s.posts, p)
	s.mu.Unlock()
	return p.ID
}

func commandJSON(c *fakeCommand) map[string]any {
	return map[string]any{"id": c.ID, "token": c.Token, "create_at": 1700000000000, "update_at": 1700000000000, "delete_at": 0,
		"creator_id": c.CreatorID, "team_id": c.TeamID, "trigger": c.Trigger, "method": c.Method, "username": c.Username, "icon_url": "",
		"auto_complete": true, "auto_complete_desc": c.Description, "auto_complete_hint": c.Hint, "display_name": "",
		"description": c.Description, "url": c.URL, "plugin_id": ""}
}

func (s *Server) createCommand(w http.ResponseWriter, r *http.Request, u *User) {
	var in struct {
		TeamID, Trigger, Method, URL  string
		Description, AutoCompleteDesc string
		AutoCompleteHint              string
		Raw                           map[string]any
	}
	var raw map[string]any
	if err := json.NewDecoder(r.Body).Decode(&raw); err != nil {
		s.appError(w, r, 400, "api.context.invalid_body_param.app_error", "Invalid or missing command in request body.")
		return
	}
	str := func(k string) string { v, _ := raw[k].(string); return v }
	in.TeamID, in.Trigger, in.Method, in.URL = str("team_id"), str("trigger"), str("method"), str("url")
	in.Description, in.AutoCompleteHint = str("description"), str("auto_complete_hint")
	username := str("username")
	if !strings.Contains(u.Roles, "system_admin") {
		s.appError(w, r, 403, "api.context.permissions.app_error", "You do not have the appropriate permissions.")
		return
	}
	pu, err := url.Parse(in.URL)
	switch {
	case in.Trigger == "" || strings.HasPrefix(in.Trigger, "/") || strings.Contains(in.Trigger, " "):
		s.appError(w, r, 400, "model.command.is_valid.trigger.app_error", "Invalid trigger.")
		return
	case err != nil || (pu.Scheme != "http" && pu.Scheme != "https"):
		s.appError(w, r, 400, "model.command.is_valid.url.app_error", "Invalid URL.")
		return
	case in.Method != "P" && in.Method != "G":
		s.appError(w, r, 400, "model.command.is_valid.method.app_error", "Invalid Method.")
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	teamOK := false
	for _, t := range s.teams {
		teamOK = teamOK || t.ID == in.TeamID
	}
	if !teamOK {
		s.appError(w, r, 400, "model.command.is_valid.team_id.app_error", "Invalid team ID.")
		return
	}
	for _, c := range s.chat.commands {
		if c.TeamID == in.TeamID && c.Trigger == in.Trigger {
			s.appError(w, r, 400, "api.command.duplicate_trigger.app_error", "This trigger word is already in use. Please choose another word.")
			return
		}
	}
	c := &fakeCommand{ID: newID(), Token: newID(), TeamID: in.TeamID, Trigger: in.Trigger, Method: in.Method, URL: in.URL,
		CreatorID: u.ID, Description: in.Description, Hint: in.AutoCompleteHint, Username: username}
	s.chat.commands[c.ID] = c
	writeJSON(w, 201, commandJSON(c))
}

// builtinCommands are some of Mattermost's own commands, listed (with
// empty ids) unless custom_only=true.
var builtinCommands = []string{"away", "echo", "help", "join", "purpose"}

func (s *Server) listCommands(w http.ResponseWriter, r *http.Request, _ *User) {
	team := r.URL.Query().Get("team_id")
	s.mu.Lock()
	out := []any{}
	if r.URL.Query().Get("custom_only") != "true" {
		for _, b := range builtinCommands {
			out = append(out, map[string]any{"id": "", "token": "", "create_at": 0, "update_at": 0, "delete_at": 0, "creator_id": "",
				"team_id": "", "trigger": b, "method": "", "username": "", "icon_url": "", "auto_complete": true,
				"auto_complete_desc": "", "auto_complete_hint": "", "display_name": b, "description": "", "url": "", "plugin_id": ""})
		}
	}
	for _, c := range s.chat.commands {
		if team == "" || c.TeamID == team {
			out = append(out, commandJSON(c))
		}
	}
	s.mu.Unlock()
	writeJSON(w, 200, out)
}

func (s *Server) deleteCommand(w http.ResponseWriter, r *http.Request, _ *User) {
	s.mu.Lock()
	_, ok := s.chat.commands[r.PathValue("id")]
	delete(s.chat.commands, r.PathValue("id"))
	s.mu.Unlock()
	if !ok {
		s.appError(w, r, 404, "app.command.getcommand.app_error", "Unable to get command.")
		return
	}
	writeJSON(w, 200, map[string]string{"status": "OK"})
}

func (s *Server) userByID(w http.ResponseWriter, r *http.Request, _ *User) {
	s.mu.Lock()
	u := s.users[r.PathValue("id")]
	s.mu.Unlock()
	if u == nil {
		s.appError(w, r, 404, "app.user.missing_account.const", "Unable to find the user.")
		return
	}
	writeJSON(w, 200, userJSON(u))
}

// checkCommandResponse validates a CommandResponse as Mattermost would.
func checkCommandResponse(cr CommandResponse) error {
	switch cr.ResponseType {
	case "", "ephemeral", "in_channel":
	default:
		return fmt.Errorf("invalid response_type %q", cr.ResponseType)
	}
	for _, x := range cr.ExtraResponses {
		if err := checkCommandResponse(x); err != nil {
			return err
		}
	}
	if len(cr.Text) > 16383 {
		return errors.New("text longer than 16383 characters")
	}
	return nil
}

// apply shows a command response as Mattermost's HandleCommandResponsePost
// does: in_channel → a post by the invoking user with override_username
// (the command's username, else the response's), override_icon_url and
// from_webhook; otherwise an ephemeral message to the user.
func (s *Server) apply(cr CommandResponse, channelID, userID, cmdUsername string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, one := range append([]CommandResponse{cr}, cr.ExtraResponses...) {
		if one.Text == "" && len(one.Attachments) == 0 {
			continue
		}
		ch := channelID
		if one.ChannelID != "" {
			ch = one.ChannelID
		}
		if one.ResponseType == "in_channel" {
			props := map[string]any{}
			for k, v := range one.Props {
				props[k] = v
			}
			if len(one.Attachments) > 0 {
				props["attachments"] = one.Attachments
				normalizeAttachments(props)
			}
			name := cmdUsername
			if name == "" {
				name = one.Username
			}
			if name != "" {
				props["override_username"] = name
			}
			props["override_icon_url"] = one.IconURL
			props["from_webhook"] = "true"
			s.posts = append(s.posts, Post{ID: newID(), ChannelID: ch, UserID: userID, Message: one.Text, Props: props,
				Username: name, CreateAt: time.Now().UnixMilli()})
		} else {
			s.chat.ephemeral = append(s.chat.ephemeral, Ephemeral{UserID: userID, ChannelID: ch, Text: one.Text})
		}
	}
}

// commandResponse handles POST <response_url>: a delayed CommandResponse.
func (s *Server) commandResponse(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	h, ok := s.chat.responses[r.PathValue("id")]
	s.mu.Unlock()
	if !ok || time.Now().After(h.expires) {
		s.appError(w, r, 400, "web.command_webhook.invalid.app_error", "Unexpected error.")
		return
	}
	// Like the command URL's answer: application/json is a
	// CommandResponse, any other body is the text of an ephemeral reply.
	body, _ := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	var cr CommandResponse
	if mt, _, _ := strings.Cut(r.Header.Get("Content-Type"), ";"); strings.TrimSpace(mt) == "application/json" {
		if err := json.Unmarshal(body, &cr); err != nil || checkCommandResponse(cr) != nil {
			s.appError(w, r, 400, "web.command_webhook.parse.app_error", "Unable to parse incoming data.")
			return
		}
	} else {
		cr = CommandResponse{Text: string(body)}
	}
	s.apply(cr, h.channelID, h.userID, h.cmdUsername)
	w.Header().Set("Content-Type", "text/plain")
	_, _ = w.Write([]byte("ok"))
}

// RunCommand acts as Mattermost when user types line ("/ipai help") in a
// channel (POST /api/v4/commands/execute): it finds the team's command by
// trigger, calls its URL (form POST or GET query, Authorization: Token,
// Accept: application/json), checks the answer and shows it. It returns
// the parsed response, or the error Mattermost answers: a command URL
// answering other than 200 is a 500 api.command.execute_command.failed_resp
// that does not show the URL's body.
func (s *Server) RunCommand(ctx context.Context, hc *http.Client, userID, channelID, line string) (CommandResponse, error) {
	cr, err := s.runCommand(ctx, hc, userID, channelID, line)
	if ae, ok := err.(*actionError); ok {
		return cr, fmt.Errorf("fake mattermost: %d %s: %s", ae.status, ae.id, ae.msg)
	}
	return cr, err
}

func (s *Server) runCommand(ctx context.Context, hc *http.Client, userID, channelID, line string) (CommandResponse, error) {
	trigger, text, _ := strings.Cut(strings.TrimPrefix(line, "/"), " ")
	s.mu.Lock()
	ch := s.channels[channelID]
	u := s.users[userID]
	var cmd *fakeCommand
	for _, c := range s.chat.commands {
		if ch != nil && c.TeamID == ch.TeamID && c.Trigger == trigger {
			cmd = c
		}
	}
	var team *Team
	for _, t := range s.teams {
		if ch != nil && t.ID == ch.TeamID {
			team = t
		}
	}
	respID := newID()
	if cmd != nil && u != nil {
		s.chat.responses[respID] = respHook{channelID: channelID, userID: userID, cmdUsername: cmd.Username, expires: time.Now().Add(30 * time.Minute)}
	}
	s.mu.Unlock()
	if ch == nil || u == nil || team == nil {
		return CommandResponse{}, &actionError{404, "app.channel.get.existing.app_error", "Unable to find the existing channel."}
	}
	if cmd == nil {
		return CommandResponse{}, &actionError{404, "api.command.execute_command.not_found.app_error", fmt.Sprintf("Command with a trigger of '/%s' not found.", trigger)}
	}
	f := url.Values{"token": {cmd.Token}, "team_id": {team.ID}, "team_domain": {team.Name}, "channel_id": {ch.ID},
		"channel_name": {ch.Name}, "user_id": {u.ID}, "user_name": {u.Username}, "command": {"/" + trigger}, "text": {text},
		"trigger_id": {newID()}, "response_url": {s.URL + "/hooks/commands/" + respID}}
	var req *http.Request
	var err error
	if cmd.Method == "G" {
		target := cmd.URL
		if strings.Contains(target, "?") {
			target += "&" + f.Encode()
		} else {
			target += "?" + f.Encode()
		}
		req, err = http.NewRequestWithContext(ctx, http.MethodGet, target, nil)
	} else {
		req, err = http.NewRequestWithContext(ctx, http.MethodPost, cmd.URL, strings.NewReader(f.Encode()))
		if req != nil {
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		}
	}
	if err != nil {
		return CommandResponse{}, err
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Token "+cmd.Token)
	failed := &actionError{500, "api.command.execute_command.failed.app_error", fmt.Sprintf("Command with a trigger of '%s' failed.", trigger)}
	resp, err := hc.Do(req)
	if err != nil {
		return CommandResponse{}, failed
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != 200 {
		return CommandResponse{}, &actionError{500, "api.command.execute_command.failed_resp.app_error",
			fmt.Sprintf("Command with a trigger of '%s' returned response %s.", trigger, resp.Status)}
	}
	var cr CommandResponse
	if strings.HasPrefix(resp.Header.Get("Content-Type"), "application/json") {
		dec := json.NewDecoder(bytes.NewReader(body))
		if err := dec.Decode(&cr); err != nil {
			return CommandResponse{}, failed
		}
		if err := checkCommandResponse(cr); err != nil {
			return CommandResponse{}, failed
		}
	} else {
		cr = CommandResponse{Text: string(body)}
	}
	s.apply(cr, channelID, userID, cmd.Username)
	return cr, nil
}

// Click acts as Mattermost when a user clicks button actionID on a post
// (POST /api/v4/posts/{id}/actions/{action_id}): it POSTs the action's
// integration URL with the context and applies the answer (see
// runAction). A removed action is a 404 api.post.do_action.action_id.app_error.
func (s *Server) Click(ctx context.Context, hc *http.Client, postID, actionID, userID string) (ActionResponse, error) {
	ar, err := s.runAction(hc, postID, actionID, userID)
	if ae, ok := err.(*actionError); ok {
		return ar, fmt.Errorf("fake mattermost: %d %s: %s", ae.status, ae.id, ae.msg)
	}
	return ar, err
}

// Outgoing acts as Mattermost when a post triggers an outgoing webhook: it
// records the post, sends the payload (form or JSON) and applies the
// answer (a reply in the thread for response_type "comment").
func (s *Server) Outgoing(ctx context.Context, hc *http.Client, target, token, userID, channelID, text, trigger string, asJSON bool) (OutgoingResponse, error) {
	postID := s.AddChannelPost(channelID, userID, text)
	s.mu.Lock()
	u, ch := s.users[userID], s.channels[channelID]
	var team *Team
	for _, t := range s.teams {
		if ch != nil && t.ID == ch.TeamID {
			team = t
		}
	}
	s.mu.Unlock()
	if u == nil || ch == nil || team == nil {
		return OutgoingResponse{}, errors.New("fake mattermost: unknown user or channel")
	}
	resp, err := SendOutgoing(ctx, hc, target, OutgoingPayload{Token: token, TeamID: team.ID, TeamDomain: team.Name,
		ChannelID: ch.ID, ChannelName: ch.Name, Timestamp: time.Now(), UserID: u.ID, UserName: u.Username, PostID: postID,
		Text: text, TriggerWord: trigger}, asJSON)
	if err != nil {
		return OutgoingResponse{}, err
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != 200 {
		return OutgoingResponse{}, fmt.Errorf("fake mattermost: outgoing webhook got %d: %s", resp.StatusCode, raw)
	}
	var or OutgoingResponse
	if len(bytes.TrimSpace(raw)) == 0 {
		return or, nil
	}
	if err := json.Unmarshal(raw, &or); err != nil {
		return or, fmt.Errorf("fake mattermost: outgoing webhook answered invalid JSON: %v", err)
	}
	if or.ResponseType != "" && or.ResponseType != "comment" {
		return or, fmt.Errorf("fake mattermost: invalid outgoing response_type %q", or.ResponseType)
	}
	if or.Text != "" || len(or.Attachments) > 0 {
		root := ""
		if or.ResponseType == "comment" {
			root = postID
		}
		// As CreateWebhookPost (see triggerOutgoing): from_webhook and
		// override_username ("webhook" unless the reply names one).
		props := map[string]any{}
		for k, v := range or.Props {
			props[k] = v
		}
		name := or.Username
		if name == "" {
			name = "webhook"
		}
		props["from_webhook"], props["override_username"] = "true", name
		s.mu.Lock()
		s.posts = append(s.posts, Post{ID: newID(), ChannelID: channelID, Message: or.Text, RootID: root, Props: props, Username: name,
			CreateAt: time.Now().UnixMilli()})
		s.mu.Unlock()
	}
	return or, nil
}

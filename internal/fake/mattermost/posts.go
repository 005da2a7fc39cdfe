package mattermost

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
)

// What Mattermost 5.37 answers, as recorded in
// internal/connector/mattermost/testdata/mattermost-5.37-contract.json:
// posts come back with their attachments in normal form (every
// SlackAttachment key) and without the actions' integration (url and
// context), which only the server keeps.

// attachmentKeys are the keys of a SlackAttachment (model/slack_attachment.go).
var attachmentKeys = []string{"id", "fallback", "color", "pretext", "author_name", "author_link", "author_icon", "title",
	"title_link", "text", "fields", "image_url", "thumb_url", "footer", "footer_icon", "ts"}

// normalizeAttachments rewrites props.attachments as Mattermost stores
// them: every attachment key present, fields as {title, value, short},
// every action with an id (generated when missing). Integrations are kept
// (the server needs them); postJSON strips them.
func normalizeAttachments(props map[string]any) {
	atts, ok := props["attachments"].([]any)
	if !ok {
		return
	}
	out := make([]any, 0, len(atts))
	for _, a := range atts {
		am, ok := a.(map[string]any)
		if !ok {
			continue
		}
		n := map[string]any{}
		for _, k := range attachmentKeys {
			n[k] = am[k]
			if n[k] == nil {
				switch k {
				case "id":
					n[k] = 0
				case "fields", "ts":
				default:
					n[k] = ""
				}
			}
		}
		if fs, ok := am["fields"].([]any); ok {
			var fields []any
			for _, f := range fs {
				fm, _ := f.(map[string]any)
				short, _ := fm["short"].(bool)
				fields = append(fields, map[string]any{"title": str(fm["title"]), "value": fm["value"], "short": short})
			}
			n["fields"] = fields
		}
		if acts, ok := am["actions"].([]any); ok {
			var actions []any
			for _, x := range acts {
				xm, ok := x.(map[string]any)
				if !ok {
					continue
				}
				act := map[string]any{}
				for _, k := range []string{"id", "type", "name", "style", "data_source", "default_option", "integration", "options"} {
					if v, ok := xm[k]; ok && v != "" && v != nil {
						act[k] = v
					}
				}
				if act["id"] == nil {
					act["id"] = newID()
				}
				actions = append(actions, act)
			}
			n["actions"] = actions
		}
		out = append(out, n)
	}
	props["attachments"] = out
}

func str(v any) string { s, _ := v.(string); return s }

// clientProps is a copy of props as Mattermost shows them: without the
// actions' integration.
func clientProps(props map[string]any) map[string]any {
	if props == nil {
		return map[string]any{}
	}
	b, _ := json.Marshal(props)
	var c map[string]any
	_ = json.Unmarshal(b, &c)
	atts, _ := c["attachments"].([]any)
	for _, a := range atts {
		am, _ := a.(map[string]any)
		acts, _ := am["actions"].([]any)
		for _, x := range acts {
			if xm, ok := x.(map[string]any); ok {
				delete(xm, "integration")
			}
		}
	}
	return c
}

// postJSON is a post as the API answers it.
func postJSON(p Post) map[string]any {
	meta := map[string]any{}
	if atts, _ := p.Props["attachments"].([]any); len(atts) > 0 {
		meta["embeds"] = []any{map[string]any{"type": "message_attachment"}}
	}
	created := p.CreateAt
	if created == 0 {
		created = 1700000000000
	}
	return map[string]any{"id": p.ID, "create_at": created, "update_at": created + p.Edits, "edit_at": 0, "delete_at": 0,
		"is_pinned": false, "user_id": p.UserID, "channel_id": p.ChannelID, "root_id": p.RootID, "parent_id": p.RootID,
		"original_id": "", "message": p.Message, "type": "", "props": clientProps(p.Props), "hashtags": "",
		"pending_post_id": "", "reply_count": 0, "last_reply_at": 0, "participants": nil, "metadata": meta}
}

func (s *Server) postRoutes(mux *http.ServeMux) {
	mux.HandleFunc("GET /api/v4/posts/{id}", s.auth(s.getPost))
	mux.HandleFunc("POST /api/v4/posts/{id}/actions/{action}", s.auth(s.doAction))
	mux.HandleFunc("GET /api/v4/channels/{id}/posts", s.auth(s.channelPosts))
	mux.HandleFunc("POST /api/v4/commands/execute", s.auth(s.executeCommand))
}

func (s *Server) getPost(w http.ResponseWriter, r *http.Request, _ *User) {
	p, ok := s.Post(r.PathValue("id"))
	if !ok {
		s.appError(w, r, 404, "app.post.get.app_error", "Unable to get the post.")
		return
	}
	writeJSON(w, 200, postJSON(p))
}

func (s *Server) channelPosts(w http.ResponseWriter, r *http.Request, _ *User) {
	ch := r.PathValue("id")
	var list []Post
	for _, p := range s.Posts() {
		if p.ChannelID == ch {
			list = append(list, p)
		}
	}
	order, posts := []string{}, map[string]any{}
	for i := len(list) - 1; i >= 0; i-- { // newest first
		order = append(order, list[i].ID)
		posts[list[i].ID] = postJSON(list[i])
	}
	writeJSON(w, 200, map[string]any{"order": order, "posts": posts, "next_post_id": "", "prev_post_id": ""})
}

// actionError is a refused click: status and Mattermost's error id.
type actionError struct {
	status  int
	id, msg string
}

func (e *actionError) Error() string { return fmt.Sprintf("%d %s", e.status, e.id) }

// runAction is Mattermost's DoPostActionWithCookie for a stored post: it
// POSTs the action's integration URL (JSON) and applies the answer: an
// update replaces the post's message and props (keeping the props when
// the update has none, and the retained keys from_webhook,
// override_username, override_icon_url as they were); ephemeral_text goes
// to the clicking user only, in the post's thread (root_id).
func (s *Server) runAction(hc *http.Client, postID, actionID, userID string) (ActionResponse, error) {
	s.mu.Lock()
	var post *Post
	for i := range s.posts {
		if s.posts[i].ID == postID {
			post = &s.posts[i]
		}
	}
	u := s.users[userID]
	if post == nil {
		s.mu.Unlock()
		return ActionResponse{}, &actionError{404, "app.post.get.app_error", "Unable to get the post."}
	}
	var integ map[string]any
	atts, _ := post.Props["attachments"].([]any)
	for _, a := range atts {
		am, _ := a.(map[string]any)
		acts, _ := am["actions"].([]any)
		for _, x := range acts {
			if xm, _ := x.(map[string]any); xm["id"] == actionID {
				integ, _ = xm["integration"].(map[string]any)
			}
		}
	}
	ch := s.channels[post.ChannelID]
	var team *Team
	for _, t := range s.teams {
		if ch != nil && t.ID == ch.TeamID {
			team = t
		}
	}
	root := post.RootID
	if root == "" {
		root = post.ID
	}
	s.mu.Unlock()
	if integ == nil {
		return ActionResponse{}, &actionError{404, "api.post.do_action.action_id.app_error", "Invalid action id."}
	}
	if u == nil || ch == nil || team == nil {
		return ActionResponse{}, &actionError{404, "app.user.missing_account.const", "Unable to find the user."}
	}
	target, _ := integ["url"].(string)
	body, _ := json.Marshal(map[string]any{"user_id": u.ID, "user_name": u.Username, "channel_id": ch.ID, "channel_name": ch.Name,
		"team_id": team.ID, "team_domain": team.Name, "post_id": postID, "trigger_id": newID(), "type": "button",
		"data_source": "", "context": integ["context"]})
	req, err := http.NewRequest(http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return ActionResponse{}, &actionError{400, "api.post.do_action.action_integration.app_error", "Action integration error."}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return ActionResponse{}, &actionError{400, "api.post.do_action.action_integration.app_error", "Action integration error."}
	}
	defer resp.Body.Close()
	raw, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != 200 {
		return ActionResponse{}, &actionError{400, "api.post.do_action.action_integration.app_error", "Action integration error."}
	}
	var ar ActionResponse
	if err := json.Unmarshal(raw, &ar); err != nil {
		return ActionResponse{}, &actionError{400, "api.post.do_action.action_integration.app_error", "Action integration error."}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for i := range s.posts {
		if s.posts[i].ID != postID || ar.Update == nil {
			continue
		}
		p := &s.posts[i]
		p.Message = ar.Update.Message
		if ar.Update.Props != nil {
			props := map[string]any{}
			for k, v := range ar.Update.Props {
				props[k] = v
			}
			for _, k := range []string{"from_webhook", "override_username", "override_icon_url"} {
				if v, ok := p.Props[k]; ok {
					props[k] = v
				} else {
					delete(props, k)
				}
			}
			normalizeAttachments(props)
			p.Props = props
		}
		p.Edits++
	}
	if ar.EphemeralText != "" {
		s.chat.ephemeral = append(s.chat.ephemeral, Ephemeral{UserID: userID, ChannelID: ch.ID, RootID: root, Text: ar.EphemeralText})
	}
	return ar, nil
}

func (s *Server) doAction(w http.ResponseWriter, r *http.Request, u *User) {
	_, err := s.runAction(s.Client(), r.PathValue("id"), r.PathValue("action"), u.ID)
	if ae, ok := err.(*actionError); ok {
		s.appError(w, r, ae.status, ae.id, ae.msg)
		return
	}
	writeJSON(w, 200, map[string]string{"status": "OK", "trigger_id": newID()})
}

func (s *Server) executeCommand(w http.ResponseWriter, r *http.Request, u *User) {
	var in struct {
		ChannelID string `json:"channel_id"`
		Command   string `json:"command"`
	}
	if err := json.NewDecoder(r.Body).Decode(&in); err != nil || in.Command == "" || in.Command[0] != '/' {
		s.appError(w, r, 400, "api.command.execute_command.start.app_error", "No command trigger found.")
		return
	}
	cr, err := s.runCommand(r.Context(), s.Client(), u.ID, in.ChannelID, in.Command)
	if ae, ok := err.(*actionError); ok {
		s.appError(w, r, ae.status, ae.id, ae.msg)
		return
	}
	writeJSON(w, 200, cr)
}

package mattermost

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// SlashCommand is what Mattermost sends to a slash command's URL.
type SlashCommand struct {
	Token, TeamID, TeamDomain, ChannelID, ChannelName string
	UserID, UserName, Command, Text, TriggerID        string
	ResponseURL                                       string
}

// SendSlashCommand calls a slash command URL the way Mattermost does: POST,
// form-encoded, Accept: application/json, Authorization: Token <token>.
func SendSlashCommand(ctx context.Context, hc *http.Client, target string, c SlashCommand) (*http.Response, error) {
	f := url.Values{
		"token": {c.Token}, "team_id": {c.TeamID}, "team_domain": {c.TeamDomain}, "channel_id": {c.ChannelID},
		"channel_name": {c.ChannelName}, "user_id": {c.UserID}, "user_name": {c.UserName}, "command": {c.Command},
		"text": {c.Text}, "trigger_id": {c.TriggerID}, "response_url": {c.ResponseURL},
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(f.Encode()))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Authorization", "Token "+c.Token)
	return hc.Do(req)
}

// OutgoingPayload is what an outgoing webhook sends.
type OutgoingPayload struct {
	Token, TeamID, TeamDomain, ChannelID, ChannelName string
	Timestamp                                         time.Time
	UserID, UserName, PostID, Text, TriggerWord       string
	FileIDs                                           string
}

// SendOutgoing calls an outgoing webhook callback URL as Mattermost does:
// form-encoded (timestamp in seconds) or, with asJSON, JSON (timestamp in ms).
func SendOutgoing(ctx context.Context, hc *http.Client, target string, p OutgoingPayload, asJSON bool) (*http.Response, error) {
	var body, ct string
	if asJSON {
		b, _ := json.Marshal(map[string]any{"token": p.Token, "team_id": p.TeamID, "team_domain": p.TeamDomain,
			"channel_id": p.ChannelID, "channel_name": p.ChannelName, "timestamp": p.Timestamp.UnixMilli(),
			"user_id": p.UserID, "user_name": p.UserName, "post_id": p.PostID, "text": p.Text,
			"trigger_word": p.TriggerWord, "file_ids": p.FileIDs})
		body, ct = string(b), "application/json"
	} else {
		body = url.Values{"token": {p.Token}, "team_id": {p.TeamID}, "team_domain": {p.TeamDomain},
			"channel_id": {p.ChannelID}, "channel_name": {p.ChannelName},
			"timestamp": {strconv.FormatInt(p.Timestamp.Unix(), 10)}, "user_id": {p.UserID}, "user_name": {p.UserName},
			"post_id": {p.PostID}, "text": {p.Text}, "trigger_word": {p.TriggerWord}, "file_ids": {p.FileIDs}}.Encode()
		ct = "application/x-www-form-urlencoded"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, strings.NewReader(body))
	if err != nil {
		return nil, err
	}
	req.Header.Set("Content-Type", ct)
	return hc.Do(req)
}

// triggerOutgoing does what Mattermost does after a post: every outgoing
// webhook of the channel (or the team) whose trigger word is the post's
// first word is called in the background, and a reply with text is posted
// by the hook's creator with from_webhook, override_username ("webhook"
// unless the reply names one) and webhook_display_name, in the post's
// thread when response_type is "comment" (app/webhook.go TriggerWebhook,
// CreateWebhookPost).
func (s *Server) triggerOutgoing(p Post, u *User) {
	if p.Props["from_webhook"] == "true" {
		return
	}
	first, _, _ := strings.Cut(strings.TrimSpace(p.Message), " ")
	s.mu.Lock()
	ch := s.channels[p.ChannelID]
	var team *Team
	for _, t := range s.teams {
		if ch != nil && t.ID == ch.TeamID {
			team = t
		}
	}
	var hooks []map[string]any
	for _, h := range s.outHooks {
		if ch == nil || h["team_id"] != ch.TeamID || (h["channel_id"] != nil && h["channel_id"] != "" && h["channel_id"] != ch.ID) {
			continue
		}
		words, _ := h["trigger_words"].([]any)
		for _, w := range words {
			if w == first && first != "" {
				hooks = append(hooks, h)
				break
			}
		}
	}
	s.mu.Unlock()
	for _, h := range hooks {
		urls, _ := h["callback_urls"].([]any)
		for _, cu := range urls {
			target, _ := cu.(string)
			go func() {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				resp, err := SendOutgoing(ctx, s.Client(), target, OutgoingPayload{Token: str(h["token"]), TeamID: team.ID,
					TeamDomain: team.Name, ChannelID: ch.ID, ChannelName: ch.Name, Timestamp: time.Now(), UserID: u.ID,
					UserName: u.Username, PostID: p.ID, Text: p.Message, TriggerWord: first}, h["content_type"] == "application/json")
				if err != nil {
					return
				}
				defer resp.Body.Close()
				var or OutgoingResponse
				if resp.StatusCode != 200 || json.NewDecoder(resp.Body).Decode(&or) != nil || or.Text == "" {
					return
				}
				props := map[string]any{}
				for k, v := range or.Props {
					props[k] = v
				}
				props["from_webhook"] = "true"
				props["override_username"] = or.Username
				if or.Username == "" {
					props["override_username"] = "webhook"
				}
				if or.IconURL != "" {
					props["override_icon_url"] = or.IconURL
				}
				props["webhook_display_name"] = str(h["display_name"])
				root := ""
				if or.ResponseType == "comment" {
					root = p.ID
				}
				s.mu.Lock()
				s.posts = append(s.posts, Post{ID: newID(), ChannelID: ch.ID, UserID: str(h["creator_id"]), Message: or.Text, RootID: root,
					Props: props, Username: str(props["override_username"]), CreateAt: time.Now().UnixMilli()})
				s.mu.Unlock()
			}()
		}
	}
}

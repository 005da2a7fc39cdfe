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

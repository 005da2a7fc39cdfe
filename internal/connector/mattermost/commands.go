package mattermost

import (
	"context"
	"net/http"
	"net/url"

	"github.com/insightpulseai/ipai/internal/connector"
)

// Command is a custom slash command (POST /api/v4/commands).
type Command struct {
	ID               string `json:"id,omitempty"`
	Token            string `json:"token,omitempty"`
	TeamID           string `json:"team_id"`
	Trigger          string `json:"trigger"` // without the slash
	Method           string `json:"method"`  // "P" or "G"
	URL              string `json:"url"`
	Username         string `json:"username,omitempty"`
	DisplayName      string `json:"display_name,omitempty"`
	Description      string `json:"description,omitempty"`
	AutoComplete     bool   `json:"auto_complete"`
	AutoCompleteDesc string `json:"auto_complete_desc,omitempty"`
	AutoCompleteHint string `json:"auto_complete_hint,omitempty"`
}

// CreateCommand creates a slash command; the answer carries its token.
func (c *Client) CreateCommand(ctx context.Context, cmd Command) (Command, error) {
	var out Command
	_, err := c.do(ctx, http.MethodPost, "/commands", cmd, &out)
	if err == nil && (out.ID == "" || out.Token == "") {
		err = connector.Malformed("created command has no id or token")
	}
	return out, err
}

// Commands lists a team's custom slash commands.
func (c *Client) Commands(ctx context.Context, teamID string) ([]Command, error) {
	var out []Command
	_, err := c.do(ctx, http.MethodGet, "/commands?custom_only=true&team_id="+url.QueryEscape(teamID), nil, &out)
	return out, err
}

// DeleteCommand deletes a slash command.
func (c *Client) DeleteCommand(ctx context.Context, id string) error {
	_, err := c.do(ctx, http.MethodDelete, "/commands/"+url.PathEscape(id), nil, nil)
	return err
}

// UserByID returns a user by id (GET /api/v4/users/{id}).
func (c *Client) UserByID(ctx context.Context, id string) (User, error) {
	var u User
	_, err := c.do(ctx, http.MethodGet, "/users/"+url.PathEscape(id), nil, &u)
	return u, err
}

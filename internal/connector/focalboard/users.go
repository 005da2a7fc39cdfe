package focalboard

import (
	"context"
	"net/http"
	"net/url"
)

// TeamUsers lists the members of a team (GET /api/v2/teams/{teamID}/users).
func (c *Client) TeamUsers(ctx context.Context, teamID string) ([]User, error) {
	var out []User
	_, err := c.do(ctx, http.MethodGet, "/api/v2/teams/"+url.PathEscape(teamID)+"/users", nil, &out)
	return out, err
}

// User returns one user (GET /api/v2/users/{id}).
func (c *Client) User(ctx context.Context, id string) (User, error) {
	var u User
	_, err := c.do(ctx, http.MethodGet, "/api/v2/users/"+url.PathEscape(id), nil, &u)
	return u, err
}

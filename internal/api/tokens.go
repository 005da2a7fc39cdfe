package api

import (
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/mcpserver"
	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/store"
)

func init() {
	route("GET", "/api/v1/tokens", auth.RoleAdmin, "", (*Server).listTokens)
	route("POST", "/api/v1/tokens", auth.RoleAdmin, "token.create", (*Server).createToken)
	route("DELETE", "/api/v1/tokens/{id}", auth.RoleAdmin, "token.revoke", (*Server).revokeToken)
}

// TokenView is a token as the API shows it: never the token or its hash.
type TokenView struct {
	ID         string     `json:"id"`
	Name       string     `json:"name"`
	Role       string     `json:"role"`
	Scopes     []string   `json:"scopes"`
	Prefix     string     `json:"prefix"`
	CreatedBy  string     `json:"created_by,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	ExpiresAt  *time.Time `json:"expires_at,omitempty"`
	LastUsedAt *time.Time `json:"last_used_at,omitempty"`
	RevokedAt  *time.Time `json:"revoked_at,omitempty"`
}

func optTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

// ViewToken converts a stored token for display.
func ViewToken(t store.Token) TokenView {
	scopes := strings.Fields(t.Scopes)
	if scopes == nil {
		scopes = []string{}
	}
	return TokenView{ID: t.ID, Name: t.Name, Role: t.Role, Scopes: scopes, Prefix: t.Prefix, CreatedBy: t.CreatedBy,
		CreatedAt: t.CreatedAt, ExpiresAt: optTime(t.ExpiresAt), LastUsedAt: optTime(t.LastUsedAt), RevokedAt: optTime(t.RevokedAt)}
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request) error {
	list, err := s.DB.ListTokens(r.Context())
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": ViewAll(list, ViewToken)})
	return nil
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Name      string   `json:"name"`
		Role      string   `json:"role"`
		Scopes    []string `json:"scopes"`
		ExpiresIn string   `json:"expires_in"` // Go duration, e.g. "720h"
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	role, err := auth.ParseRole(in.Role)
	if err != nil {
		return problem.Invalid("role", "%v", err)
	}
	var ttl time.Duration
	if in.ExpiresIn != "" {
		if ttl, err = time.ParseDuration(in.ExpiresIn); err != nil || ttl <= 0 {
			return problem.Invalid("expires_in", "%q is not a positive duration; expected e.g. 720h", in.ExpiresIn)
		}
	}
	p, _ := auth.FromContext(r.Context())
	raw, rec, err := s.Tokens.Create(r.Context(), auth.CreateOptions{Name: in.Name, Role: role, Scopes: in.Scopes, Known: mcpserver.Scopes(),
		CreatedBy: p.ID, TTL: ttl})
	if err != nil {
		if field, msg, ok := strings.Cut(err.Error(), ": "); ok && (field == "name" || field == "role" || field == "scopes") {
			return problem.Invalid(field, "%s", msg)
		}
		return err
	}
	Note(r, rec.ID, "token "+rec.Name+" created with role "+rec.Role, nil)
	writeJSON(w, http.StatusCreated, map[string]any{"token": raw, "item": ViewToken(rec),
		"note": "store this token now: it is shown only once"})
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	err := s.DB.RevokeToken(r.Context(), id, time.Now())
	if errors.Is(err, store.ErrNotFound) {
		return problem.NotFound("no live token with id %q", id)
	}
	if err != nil {
		return err
	}
	Note(r, id, "token revoked", nil)
	w.WriteHeader(http.StatusNoContent)
	return nil
}

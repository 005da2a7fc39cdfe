package auth

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/fake/keycloak"
	"github.com/insightpulseai/ipai/internal/problem"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=65536,t=3,p=2$") {
		t.Fatalf("hash %q is not a PHC argon2id string", h)
	}
	if ok, err := CheckPassword(h, "correct horse battery"); !ok || err != nil {
		t.Fatalf("right password: %v %v", ok, err)
	}
	if ok, _ := CheckPassword(h, "wrong horse battery"); ok {
		t.Fatal("wrong password accepted")
	}
	if _, err := CheckPassword("$2a$10$abc", "x"); err == nil {
		t.Fatal("a non-argon2id hash must be an error")
	}
}

func TestUsersAndSessions(t *testing.T) {
	ctx := context.Background()
	_, db := newTokens(t)
	us := NewUsers(db)
	if _, err := us.Create(ctx, NewUser{Name: "Bad Name", Role: RoleAdmin, Password: "long enough pw"}); !isField(err, "name") {
		t.Fatalf("bad name: %v", err)
	}
	if _, err := us.Create(ctx, NewUser{Name: "al", Role: RoleAdmin, Password: "short"}); !isField(err, "password") {
		t.Fatalf("short password: %v", err)
	}
	u, err := us.Create(ctx, NewUser{Name: "Alice", Role: RoleUser, Password: "long enough pw"})
	if err != nil || u.Name != "alice" {
		t.Fatalf("create: %+v %v", u, err)
	}
	if _, err := us.Create(ctx, NewUser{Name: "alice", Role: RoleUser, Password: "long enough pw"}); !isField(err, "name") {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := us.Authenticate(ctx, "alice", "nope nope nope"); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("wrong password: %v", err)
	}
	if _, err := us.Authenticate(ctx, "nobody", "long enough pw"); !errors.Is(err, ErrBadLogin) {
		t.Fatalf("unknown user: %v", err)
	}
	if _, err := us.Authenticate(ctx, "ALICE ", "long enough pw"); err != nil {
		t.Fatalf("sign-in: %v", err)
	}
	ss := NewSessions(db, time.Hour)
	raw, sess, err := ss.Create(ctx, u, "127.0.0.1", "test")
	if err != nil || sess.CSRF == "" || sess.Hash == raw {
		t.Fatalf("session: %v %+v", err, sess)
	}
	p, _, err := ss.Lookup(ctx, raw)
	if err != nil || p.Role != RoleUser || p.Kind != "user" {
		t.Fatalf("lookup: %+v %v", p, err)
	}
	// A role change applies to the next lookup.
	if _, err := us.SetRole(ctx, u.ID, RoleAdmin); err != nil {
		t.Fatal(err)
	}
	if p, _, _ = ss.Lookup(ctx, raw); p.Role != RoleAdmin {
		t.Fatalf("role after change = %s, want admin", p.Role)
	}
	// Disabling signs out.
	if _, err := us.SetDisabled(ctx, u.ID, true); err != nil {
		t.Fatal(err)
	}
	if _, _, err := ss.Lookup(ctx, raw); !errors.Is(err, ErrNoSession) {
		t.Fatalf("disabled user's session still works: %v", err)
	}
	// Expiry.
	us.SetDisabled(ctx, u.ID, false)
	raw, _, _ = ss.Create(ctx, u, "", "")
	ss.Now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	if _, _, err := ss.Lookup(ctx, raw); !errors.Is(err, ErrNoSession) {
		t.Fatalf("expired session still works: %v", err)
	}
}

func isField(err error, field string) bool {
	p, ok := problem.As(err)
	return ok && p.Field == field
}

// oidcFlow drives a browser's part of the code flow with an HTTP client:
// it follows Start's URL, posts the fake Keycloak's login form and returns
// the callback's query.
func oidcFlow(t *testing.T, o *OIDC, user, pass string) (Flow, url.Values) {
	t.Helper()
	to, f, err := o.Start(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(to)
	if u.Query().Get("code_challenge_method") != "S256" || u.Query().Get("nonce") == "" || u.Query().Get("state") != f.State {
		t.Fatalf("authorization URL lacks PKCE, nonce or state: %s", to)
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := hc.PostForm(to, url.Values{"username": {user}, "password": {pass}})
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusFound {
		t.Fatalf("login form: %s", resp.Status)
	}
	loc, _ := url.Parse(resp.Header.Get("Location"))
	return f, loc.Query()
}

func TestOIDCWithFakeKeycloak(t *testing.T) {
	kc := keycloak.NewOIDC()
	defer kc.Close()
	const redirect = "http://hub.test/auth/oidc/callback"
	kc.AddClient("ipai-hub", keycloak.OIDCClient{Secret: "s3cret", RedirectURIs: []string{redirect}, RealmRolesInIDToken: true})
	kc.AddUser(keycloak.OIDCUser{Username: "olivia", Password: "pw", Email: "o@example.com", RealmRoles: []string{"offline_access", "ipai-manager"}})
	kc.AddUser(keycloak.OIDCUser{Username: "nobody", Password: "pw", RealmRoles: []string{"offline_access"}})
	o := NewOIDC(OIDCConfig{Issuer: kc.Issuer(), ClientID: "ipai-hub", ClientSecret: "s3cret", RedirectURL: redirect,
		RoleClaim: "realm_access.roles", RoleMap: map[string]Role{"ipai-manager": RoleManager, "ipai-admin": RoleAdmin}})
	ctx := context.Background()

	f, q := oidcFlow(t, o, "olivia", "pw")
	id, err := o.Finish(ctx, f, q.Get("state"), q.Get("code"))
	if err != nil {
		t.Fatal(err)
	}
	if id.Role != RoleManager || id.Name != "olivia" || id.Email != "o@example.com" || id.Issuer != kc.Issuer() || id.Subject == "" {
		t.Fatalf("identity = %+v", id)
	}
	// The code is single-use.
	if _, err := o.Finish(ctx, f, q.Get("state"), q.Get("code")); err == nil {
		t.Fatal("a used code was accepted twice")
	}

	t.Run("state mismatch", func(t *testing.T) {
		f, q := oidcFlow(t, o, "olivia", "pw")
		if _, err := o.Finish(ctx, f, "forged", q.Get("code")); !errors.Is(err, ErrOIDCState) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("wrong PKCE verifier", func(t *testing.T) {
		f, q := oidcFlow(t, o, "olivia", "pw")
		f.Verifier = "a-different-verifier-that-is-long-enough-0123456789"
		if _, err := o.Finish(ctx, f, q.Get("state"), q.Get("code")); err == nil || !strings.Contains(err.Error(), "PKCE") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("nonce mismatch", func(t *testing.T) {
		kc.NonceOverride = "replayed"
		defer func() { kc.NonceOverride = "" }()
		f, q := oidcFlow(t, o, "olivia", "pw")
		if _, err := o.Finish(ctx, f, q.Get("state"), q.Get("code")); !errors.Is(err, ErrOIDCNonce) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no mapped role", func(t *testing.T) {
		f, q := oidcFlow(t, o, "nobody", "pw")
		if _, err := o.Finish(ctx, f, q.Get("state"), q.Get("code")); !errors.Is(err, ErrOIDCRole) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("client without the realm roles mapper", func(t *testing.T) {
		// Keycloak's built-in "roles" scope puts realm roles in the access
		// token only: without the mapper of the generated realm nobody maps.
		kc.AddClient("plain", keycloak.OIDCClient{Secret: "s3cret", RedirectURIs: []string{redirect}})
		plain := NewOIDC(OIDCConfig{Issuer: kc.Issuer(), ClientID: "plain", ClientSecret: "s3cret", RedirectURL: redirect,
			RoleClaim: "realm_access.roles", RoleMap: map[string]Role{"ipai-manager": RoleManager}})
		f, q := oidcFlow(t, plain, "olivia", "pw")
		if _, err := plain.Finish(ctx, f, q.Get("state"), q.Get("code")); !errors.Is(err, ErrOIDCRole) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("logout URL", func(t *testing.T) {
		u, err := o.LogoutURL(ctx, id.RawIDToken)
		if err != nil {
			t.Fatal(err)
		}
		lu, _ := url.Parse(u)
		if lu.Path != "/realms/ipai/protocol/openid-connect/logout" || lu.Query().Get("id_token_hint") != id.RawIDToken ||
			lu.Query().Get("post_logout_redirect_uri") != "http://hub.test/login" || lu.Query().Get("client_id") != "ipai-hub" {
			t.Fatalf("logout URL = %s", u)
		}
		if u, err := o.LogoutURL(ctx, ""); err != nil || u != "" {
			t.Fatalf("logout URL without an ID token = %q, %v", u, err)
		}
	})
	t.Run("wrong client secret", func(t *testing.T) {
		bad := NewOIDC(OIDCConfig{Issuer: kc.Issuer(), ClientID: "ipai-hub", ClientSecret: "wrong", RedirectURL: redirect, DefaultRole: RoleUser})
		f, q := oidcFlow(t, bad, "olivia", "pw")
		if _, err := bad.Finish(ctx, f, q.Get("state"), q.Get("code")); err == nil || !strings.Contains(err.Error(), "unauthorized_client") {
			t.Fatalf("err = %v", err)
		}
	})

	// UpsertOIDC creates once, then updates the role from the provider.
	_, db := newTokens(t)
	us := NewUsers(db)
	u1, err := us.UpsertOIDC(ctx, id)
	if err != nil || u1.Source != SourceOIDC || u1.Role != "manager" {
		t.Fatalf("upsert: %+v %v", u1, err)
	}
	id.Role = RoleAdmin
	u2, err := us.UpsertOIDC(ctx, id)
	if err != nil || u2.ID != u1.ID || u2.Role != "admin" {
		t.Fatalf("second upsert: %+v %v", u2, err)
	}
}

package ui_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/ui"
)

func sessionCookie(resp *http.Response) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == ui.SessionCookie {
			return c
		}
	}
	return nil
}

func TestSessionCookieFlags(t *testing.T) {
	for _, tc := range []struct {
		mode   string
		secure bool
	}{{"auto", false}, {"always", true}} {
		t.Run(tc.mode, func(t *testing.T) {
			h := newHub(t, func(c *config.Config) { c.UI.SecureCookies = tc.mode })
			h.addUser(t, "admin", auth.RoleAdmin)
			resp := newClient(t, h.URL).login("admin", "admin-password")
			mustStatus(t, resp, http.StatusSeeOther, "")
			c := sessionCookie(resp)
			if c == nil {
				t.Fatal("no session cookie")
			}
			if !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Secure != tc.secure || c.MaxAge <= 0 {
				t.Fatalf("cookie flags: HttpOnly=%v SameSite=%v Path=%q Secure=%v MaxAge=%d", c.HttpOnly, c.SameSite, c.Path, c.Secure, c.MaxAge)
			}
			if len(c.Value) < 40 {
				t.Fatalf("session token too short: %d", len(c.Value))
			}
			// Only the hash is stored.
			var n int
			if err := h.DB.QueryRow(context.Background(), "SELECT count(*) FROM ui_sessions WHERE hash = ?", c.Value).Scan(&n); err != nil || n != 0 {
				t.Fatalf("raw token stored: %d %v", n, err)
			}
		})
	}
}

func TestCSRF(t *testing.T) {
	h := newHub(t, nil)
	h.addUser(t, "admin", auth.RoleAdmin)
	c := newClient(t, h.URL)
	// The login form needs its own token.
	resp, body := c.post("/login", url.Values{"name": {"admin"}, "password": {"admin-password"}})
	mustStatus(t, resp, http.StatusForbidden, body)
	if sessionCookie(resp) != nil {
		t.Fatal("signed in without the login form's token")
	}
	mustStatus(t, c.login("admin", "admin-password"), http.StatusSeeOther, "")
	_, page := c.get("/ui/users")
	tok := csrfOf(t, page)

	form := url.Values{"name": {"ci"}, "role": {"user"}}
	resp, body = c.post("/ui/tokens", form)
	mustStatus(t, resp, http.StatusForbidden, body)
	if !strings.Contains(body, "security token") {
		t.Fatalf("refusal does not say why:\n%.600s", body)
	}
	form.Set("csrf", "forged-"+tok)
	resp, body = c.post("/ui/tokens", form)
	mustStatus(t, resp, http.StatusForbidden, body)
	toks, _ := h.DB.ListTokens(context.Background())
	if len(toks) != 0 {
		t.Fatalf("a form without a valid token created %d tokens", len(toks))
	}
	// A cross-site post with the right token is refused too.
	form.Set("csrf", tok)
	req, _ := http.NewRequest("POST", h.URL+"/ui/tokens", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "https://evil.example")
	r2, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	mustStatus(t, r2, http.StatusForbidden, "")
	// With the token it works.
	resp, body = c.post("/ui/tokens", form)
	mustStatus(t, resp, http.StatusOK, body)
	if !strings.Contains(body, auth.TokenPrefix) {
		t.Fatal("the new token is not shown")
	}
}

func TestLogoutRoleChangeAndRateLimit(t *testing.T) {
	h := newHub(t, func(c *config.Config) { c.UI.LoginAttempts = 3 })
	h.addUser(t, "viewer", auth.RoleUser)
	c := newClient(t, h.URL)
	mustStatus(t, c.login("viewer", "viewer-password"), http.StatusSeeOther, "")
	resp, body := c.get("/ui/users")
	mustStatus(t, resp, http.StatusForbidden, body)
	if strings.Contains(body, `href="/ui/users"`) {
		t.Fatal("menu shows Users & tokens to a user")
	}
	// Promote: applies to the next request.
	u, _ := h.DB.UserByName(context.Background(), "viewer")
	if _, err := auth.NewUsers(h.DB).SetRole(context.Background(), u.ID, auth.RoleAdmin); err != nil {
		t.Fatal(err)
	}
	resp, body = c.get("/ui/users")
	mustStatus(t, resp, http.StatusOK, body)
	// Logout ends the session server-side: the old cookie no longer works.
	var old *http.Cookie
	for _, ck := range c.Jar.Cookies(mustURL(h.URL)) {
		if ck.Name == ui.SessionCookie {
			old = ck
		}
	}
	resp, _ = c.post("/logout", url.Values{"csrf": {csrfOf(t, body)}})
	mustStatus(t, resp, http.StatusSeeOther, "")
	req, _ := http.NewRequest("GET", h.URL+"/ui/", nil)
	req.AddCookie(old)
	r2, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	r2.Body.Close()
	if r2.StatusCode != http.StatusFound || !strings.HasPrefix(r2.Header.Get("Location"), "/login") {
		t.Fatalf("old session after logout: %d %s", r2.StatusCode, r2.Header.Get("Location"))
	}
	// Rate limit: 3 failures, then even the right password is refused.
	for i := 0; i < 3; i++ {
		mustStatus(t, c.login("viewer", "wrong-password"), http.StatusUnauthorized, "")
	}
	mustStatus(t, c.login("viewer", "viewer-password"), http.StatusTooManyRequests, "")
}

func mustURL(s string) *url.URL { u, _ := url.Parse(s); return u }

func TestFormErrorsNextToFields(t *testing.T) {
	h := newHub(t, nil)
	h.addUser(t, "admin", auth.RoleAdmin)
	c := newClient(t, h.URL)
	c.login("admin", "admin-password")
	_, page := c.get("/ui/connectors/new?type=mattermost")
	resp, body := c.post("/ui/connectors", url.Values{"csrf": {csrfOf(t, page)}, "type": {"mattermost"}, "code": {"chat"},
		"base_url": {"ftp://nope"}})
	mustStatus(t, resp, http.StatusUnprocessableEntity, body)
	i := strings.Index(body, `name="base_url"`)
	j := strings.Index(body, `class="field-error"`)
	if i < 0 || j < i || !strings.Contains(body[j:j+200], "not an absolute http(s) URL") {
		t.Fatalf("no field error after the base_url field:\n%s", body)
	}
	if _, err := h.DB.Connector(context.Background(), "chat"); err != store.ErrNotFound {
		t.Fatalf("invalid connector stored: %v", err)
	}
	// The API's routes still answer beside the UI.
	resp, body = c.get("/api/v1/me")
	mustStatus(t, resp, http.StatusUnauthorized, body)
	resp, body = c.get("/healthz")
	mustStatus(t, resp, http.StatusOK, body)
}

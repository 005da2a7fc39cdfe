package api

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/embed"
	fakess "github.com/insightpulseai/ipai/internal/fake/superset"
)

// TestEmbedWithUISession: the embed page and its guest-token fetch work
// with the admin UI's session cookie; the fetch needs the session's CSRF
// token (which the page carries) and a same-origin request.
func TestEmbedWithUISession(t *testing.T) {
	ctx := context.Background()
	db := tempDB(t)
	f := fakess.New()
	al := audit.New(db)
	sessions := auth.NewSessions(db, 0)
	s := &Server{DB: db, Audit: al, Tokens: auth.NewTokens(db), Log: slog.New(slog.DiscardHandler), Sessions: sessions}
	s.Embed = &embed.Service{Audit: al, HTTP: f.Client(),
		Dashboards: []embed.Dashboard{{ID: "ops", Name: "Ops", EmbeddedUUID: "5b6e1f6a-0c1d-4a8e-9d7e-1f2a3b4c5d6e", Roles: []string{"user"}}},
		Config: func(context.Context) (connector.Config, error) {
			return connector.Config{Type: "superset", BaseURL: f.URL, Settings: map[string]string{"username": fakess.Username},
				Secrets: map[string]string{"password": fakess.Password}}, nil
		}}
	srv := serve(t, s, f.Close)
	u, err := auth.NewUsers(db).Create(ctx, auth.NewUser{Name: "ana", Email: "ana@example.com", Role: auth.RoleUser, Password: "a-long-password-1"})
	if err != nil {
		t.Fatal(err)
	}
	raw, sess, err := sessions.Create(ctx, u, "127.0.0.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	req := func(method, path, cookie string, hdr map[string]string) (int, string) {
		t.Helper()
		r, _ := http.NewRequest(method, srv.URL+path, nil)
		if cookie != "" {
			r.AddCookie(&http.Cookie{Name: SessionCookie, Value: cookie})
		}
		for k, v := range hdr {
			r.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(r)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	// The page opens with the session and carries its CSRF token.
	code, page := req("GET", "/embed/dashboards/ops", raw, nil)
	if code != 200 || !strings.Contains(page, `"X-CSRF-Token": "`+sess.CSRF+`"`) {
		t.Fatalf("page: %d %s", code, page)
	}
	// No cookie, or an unknown one: 401.
	if code, _ := req("GET", "/embed/dashboards/ops", "", nil); code != 401 {
		t.Fatalf("no session: %d", code)
	}
	if code, _ := req("GET", "/embed/dashboards/ops", "bogus", nil); code != 401 {
		t.Fatalf("bad session: %d", code)
	}
	// The page's fetch: cookie + CSRF header, same origin → a token.
	tokenPath := "/api/v1/superset/guest-token/ops"
	same := map[string]string{CSRFHeader: sess.CSRF, "Origin": srv.URL, "Sec-Fetch-Site": "same-origin"}
	if code, body := req("POST", tokenPath, raw, same); code != 200 || !regexp.MustCompile(`"token":"[^"]+"`).MatchString(body) {
		t.Fatalf("guest token with session: %d %s", code, body)
	}
	// A cross-site form post rides the cookie but has no CSRF header: 403.
	if code, _ := req("POST", tokenPath, raw, map[string]string{"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}); code != 403 {
		t.Fatalf("cross-site post: %d", code)
	}
	for _, c := range []struct {
		name, cookie string
		hdr          map[string]string
		want         int
	}{
		{"no header", raw, map[string]string{"Origin": srv.URL}, 403},
		{"wrong token", raw, map[string]string{CSRFHeader: "x" + sess.CSRF, "Origin": srv.URL}, 403},
		{"other origin", raw, map[string]string{CSRFHeader: sess.CSRF, "Origin": "https://evil.example"}, 403},
		{"cross-site", raw, map[string]string{CSRFHeader: sess.CSRF, "Sec-Fetch-Site": "cross-site"}, 403},
		{"null origin", raw, map[string]string{CSRFHeader: sess.CSRF, "Origin": "null"}, 403},
		{"no cookie", "", map[string]string{CSRFHeader: sess.CSRF}, 401},
	} {
		if code, body := req("POST", tokenPath, c.cookie, c.hdr); code != c.want {
			t.Fatalf("%s: %d (want %d) %s", c.name, code, c.want, body)
		}
	}
	if n := len(f.GuestTokens()); n != 1 {
		t.Fatalf("%d guest tokens issued; want only the same-origin one", n)
	}
	// Bearer tokens still work, and a bearer request ignores the cookie.
	tok, _, err := s.Tokens.Create(ctx, auth.CreateOptions{Name: "erp", Role: auth.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	if code, _ := req("POST", tokenPath, "", map[string]string{"Authorization": "Bearer " + tok}); code != 200 {
		t.Fatalf("bearer: %d", code)
	}
	if code, _ := req("POST", tokenPath, raw, map[string]string{"Authorization": "Bearer bad"}); code != 401 {
		t.Fatalf("bad bearer with a valid cookie: %d", code)
	}
	// Other routes do not take the cookie.
	if code, _ := req("GET", "/api/v1/superset/dashboards", raw, nil); code != 401 {
		t.Fatalf("non-session route with a cookie: %d", code)
	}
	// A signed-out session no longer works.
	if err := sessions.Delete(ctx, raw); err != nil {
		t.Fatal(err)
	}
	if code, _ := req("POST", tokenPath, raw, same); code != 401 {
		t.Fatalf("after sign-out: %d", code)
	}
}

package ui_test

import (
	"net/http"
	"regexp"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/api"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/ui"
)

// The API's session routes (the embed page) read the UI's cookie.
func TestAPISessionCookieIsTheUIs(t *testing.T) {
	if api.SessionCookie != ui.SessionCookie {
		t.Fatalf("api.SessionCookie %q != ui.SessionCookie %q", api.SessionCookie, ui.SessionCookie)
	}
}

// The UI's Superset page links open in the browser with the UI session,
// and the page's guest-token fetch passes auth with the session's CSRF
// token (and only with it).
func TestEmbedLinkWorksWithUISession(t *testing.T) {
	h, _, _ := integrationHub(t)
	h.addUser(t, "ana", auth.RoleUser)
	c := newClient(t, h.URL)
	c.login("ana", "ana-password")
	_, list := c.get("/ui/superset")
	if !strings.Contains(list, `href="/embed/dashboards/sales"`) {
		t.Fatalf("no link:\n%.1500s", list)
	}
	resp, page := c.get("/embed/dashboards/sales")
	m := regexp.MustCompile(`"X-CSRF-Token": "([^"]+)"`).FindStringSubmatch(page)
	if resp.StatusCode != http.StatusOK || m == nil {
		t.Fatalf("embed page: %d\n%.1500s", resp.StatusCode, page)
	}
	fetch := func(hdr map[string]string) int {
		t.Helper()
		req, _ := http.NewRequest("POST", h.URL+"/api/v1/superset/guest-token/sales", nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	// A cross-site form post carries the cookie but not the token.
	if code := fetch(map[string]string{"Origin": "https://evil.example"}); code != http.StatusForbidden {
		t.Fatalf("cross-site post: %d", code)
	}
	// The page's fetch gets past auth and CSRF (what Superset answers is
	// the API tests' business: here no Superset runs).
	if code := fetch(map[string]string{"X-CSRF-Token": m[1], "Origin": h.URL}); code == http.StatusUnauthorized || code == http.StatusForbidden {
		t.Fatalf("page fetch refused: %d", code)
	}
	// Without the cookie (signed out) the page is refused.
	resp, _ = newClient(t, h.URL).get("/embed/dashboards/sales")
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("page without a session: %d", resp.StatusCode)
	}
}

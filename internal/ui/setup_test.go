package ui_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/delivery"
)

// armSetup makes the hub's one-time setup URL and returns its path and token.
func armSetup(t *testing.T, h *hub) (string, string) {
	t.Helper()
	u, err := h.UI.ArmSetup(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(u, "/ui/setup?token=") || len(u) < len("/ui/setup?token=")+30 {
		t.Fatalf("setup URL %q, want /ui/setup?token=<random>", u)
	}
	return u, strings.TrimPrefix(u, "/ui/setup?token=")
}

func userCount(t *testing.T, h *hub) int {
	t.Helper()
	us, err := h.DB.ListUsers(context.Background(), "", 10)
	if err != nil {
		t.Fatal(err)
	}
	return len(us)
}

func TestSetupCreatesFirstAdminOnce(t *testing.T) {
	h := newHub(t, nil)
	c := newClient(t, h.URL)
	resp, body := c.get("/login")
	mustStatus(t, resp, 200, body)
	if !strings.Contains(body, `id="first-run"`) || !strings.Contains(body, "setup URL") {
		t.Fatalf("the sign-in page of a hub without users does not point to the setup URL:\n%.1500s", body)
	}
	path, tok := armSetup(t, h)

	resp, body = c.get(path)
	mustStatus(t, resp, 200, body)
	csrf := csrfOf(t, body)
	form := func(pw string) url.Values {
		return url.Values{"csrf": {csrf}, "token": {tok}, "name": {"Alice"}, "password": {pw}, "password2": {pw}}
	}
	// Password rules apply, and a refused form leaves the token usable.
	resp, body = c.post("/ui/setup", form("short"))
	mustStatus(t, resp, http.StatusUnprocessableEntity, body)
	if !strings.Contains(body, "use at least 10") {
		t.Fatalf("short password: no rule shown:\n%.1500s", body)
	}
	csrf = csrfOf(t, body) // each form carries a fresh token
	mismatch := form("a-long-password")
	mismatch.Set("password2", "another-long-password")
	resp, body = c.post("/ui/setup", mismatch)
	mustStatus(t, resp, http.StatusUnprocessableEntity, body)
	csrf = csrfOf(t, body)
	if n := userCount(t, h); n != 0 {
		t.Fatalf("%d users after refused forms", n)
	}

	resp, body = c.post("/ui/setup", form("alice-password"))
	mustStatus(t, resp, http.StatusSeeOther, body)
	if loc := resp.Header.Get("Location"); loc != "/ui/start" {
		t.Fatalf("after setup: redirect to %q, want /ui/start", loc)
	}
	resp, body = c.get("/ui/start")
	mustStatus(t, resp, 200, body)
	for _, want := range []string{`href="/ui/connectors/new"`, `href="/ui/webhooks"`, `href="/ui/deliveries"`, "alice"} {
		if !strings.Contains(body, want) {
			t.Fatalf("guided start lacks %s:\n%.2000s", want, body)
		}
	}
	u, err := h.DB.UserByName(context.Background(), "alice")
	if err != nil || u.Role != string(auth.RoleAdmin) {
		t.Fatalf("first user: %+v %v, want an admin", u, err)
	}
	// The user signs in with the password chosen.
	if resp := newClient(t, h.URL).login("alice", "alice-password"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in of the new admin: %d", resp.StatusCode)
	}

	// Used: the URL answers 404, a second post with the token creates nobody.
	other := newClient(t, h.URL)
	resp, body = other.get(path)
	mustStatus(t, resp, http.StatusNotFound, body)
	resp, body = other.post("/ui/setup", url.Values{"csrf": {csrf}, "token": {tok}, "name": {"mallory"},
		"password": {"mallory-password"}, "password2": {"mallory-password"}})
	mustStatus(t, resp, http.StatusNotFound, body)
	if n := userCount(t, h); n != 1 {
		t.Fatalf("%d users after a reused token, want 1", n)
	}
	resp, body = other.get("/login")
	if strings.Contains(body, `id="first-run"`) {
		t.Fatal("the sign-in page still points to the setup URL after setup")
	}
	// A restart arms no new setup URL.
	if u, err := h.UI.ArmSetup(context.Background()); err != nil || u != "" {
		t.Fatalf("ArmSetup with a user: %q %v, want none", u, err)
	}
}

func TestSetupRefusals(t *testing.T) {
	h := newHub(t, nil)
	path, tok := armSetup(t, h)
	c := newClient(t, h.URL)

	// A wrong or missing token.
	resp, body := c.get("/ui/setup?token=" + tok + "x")
	mustStatus(t, resp, http.StatusNotFound, body)
	resp, body = c.get("/ui/setup")
	mustStatus(t, resp, http.StatusNotFound, body)

	// CSRF: a post without the form's cookie token.
	resp, body = c.get(path)
	mustStatus(t, resp, 200, body)
	resp, body = c.post("/ui/setup", url.Values{"csrf": {"forged"}, "token": {tok}, "name": {"eve"},
		"password": {"eve-password-1"}, "password2": {"eve-password-1"}})
	mustStatus(t, resp, http.StatusForbidden, body)
	if n := userCount(t, h); n != 0 {
		t.Fatalf("%d users after a forged post", n)
	}

	// Not loopback: refused unless --setup-public.
	handler := h.Handler()
	req := httptest.NewRequest("GET", path, nil)
	req.RemoteAddr = "192.0.2.7:40000"
	rec := httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "--setup-public") {
		t.Fatalf("setup from 192.0.2.7: %d, want 403 naming --setup-public\n%.800s", rec.Code, rec.Body.String())
	}
	form := url.Values{"token": {tok}, "name": {"eve"}, "password": {"eve-password-1"}, "password2": {"eve-password-1"}}
	req = httptest.NewRequest("POST", "/ui/setup", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.RemoteAddr = "192.0.2.7:40000"
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusForbidden || userCount(t, h) != 0 {
		t.Fatalf("setup post from 192.0.2.7: %d, %d users", rec.Code, userCount(t, h))
	}
	h.UI.SetupPublic = true
	req = httptest.NewRequest("GET", path, nil)
	req.RemoteAddr = "192.0.2.7:40000"
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusOK {
		t.Fatalf("setup from 192.0.2.7 with SetupPublic: %d, want 200", rec.Code)
	}

	// Expired after an hour.
	h.UI.Now = func() time.Time { return time.Now().Add(61 * time.Minute) }
	req = httptest.NewRequest("GET", path, nil)
	req.RemoteAddr = "127.0.0.1:40000"
	rec = httptest.NewRecorder()
	handler.ServeHTTP(rec, req)
	if rec.Code != http.StatusGone || !strings.Contains(rec.Body.String(), "expired") {
		t.Fatalf("expired setup URL: %d, want 410\n%.800s", rec.Code, rec.Body.String())
	}
}

func TestSetupNotArmedWithAdminToken(t *testing.T) {
	h := newHub(t, nil)
	if _, _, err := h.API.Tokens.Create(context.Background(), auth.CreateOptions{Name: "ops", Role: auth.RoleAdmin}); err != nil {
		t.Fatal(err)
	}
	if u, err := h.UI.ArmSetup(context.Background()); err != nil || u != "" {
		t.Fatalf("ArmSetup with an admin token: %q %v, want none", u, err)
	}
	resp, body := newClient(t, h.URL).get("/ui/setup?token=anything")
	mustStatus(t, resp, http.StatusNotFound, body)
}

// The guided start's test event reaches the subscribed outgoing endpoint.
func TestStartTestEventMakesDelivery(t *testing.T) {
	h := newHub(t, nil)
	h.addUser(t, "admin", auth.RoleAdmin)
	ep, _, err := h.Endpoints.Create(context.Background(), "receiver", delivery.EndpointSpec{TargetURL: "https://n8n.example.com/webhook/t", EventTypes: []string{"*"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, h.URL)
	if resp := c.login("admin", "admin-password"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: %d", resp.StatusCode)
	}
	resp, body := c.get("/ui/start")
	mustStatus(t, resp, 200, body)
	// Without the CSRF token: refused.
	resp, body = c.post("/ui/start/test-event", url.Values{})
	mustStatus(t, resp, http.StatusForbidden, body)
	resp, body = c.post("/ui/start/test-event", url.Values{"csrf": {csrfOf(t, body)}})
	mustStatus(t, resp, http.StatusSeeOther, body)
	evID := strings.TrimPrefix(resp.Header.Get("Location"), "/ui/events/")
	var n int
	if err := h.DB.QueryRow(context.Background(), "SELECT COUNT(*) FROM deliveries WHERE event_id = ? AND endpoint_id = ?", evID, ep.ID).Scan(&n); err != nil || n != 1 {
		t.Fatalf("deliveries of the test event %q to the endpoint: %d %v, want 1", evID, n, err)
	}
	resp, body = c.get("/ui/events/" + evID)
	mustStatus(t, resp, 200, body)
	if !strings.Contains(body, "ipai.test") || !strings.Contains(body, "Test event sent") {
		t.Fatalf("event page:\n%.2000s", body)
	}
}

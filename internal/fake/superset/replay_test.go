package superset_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	fake "github.com/insightpulseai/ipai/internal/fake/superset"
	"github.com/insightpulseai/ipai/internal/fake/transcript"
)

// session logs in to the fake as the service user and returns the
// placeholders of a recorded transcript filled with the fake's credentials.
func session(t *testing.T, f *fake.Server) transcript.Vars {
	t.Helper()
	hc := f.Client()
	post := func(path, auth string, cookie *http.Cookie, csrf, body string, out any) *http.Response {
		req, _ := http.NewRequest(http.MethodPost, f.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", "Bearer "+auth)
		}
		if cookie != nil {
			req.AddCookie(cookie)
			req.Header.Set("X-CSRFToken", csrf)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil || resp.StatusCode != 200 {
			t.Fatalf("%s: %d %v", path, resp.StatusCode, err)
		}
		return resp
	}
	var login struct {
		AccessToken string `json:"access_token"`
	}
	post("/api/v1/security/login", "", nil, "", `{"username":"`+fake.Username+`","password":"`+fake.Password+`","provider":"db"}`, &login)
	req, _ := http.NewRequest(http.MethodGet, f.URL+"/api/v1/security/csrf_token/", nil)
	req.Header.Set("Authorization", "Bearer "+login.AccessToken)
	resp, err := hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var csrf struct{ Result string }
	_ = json.NewDecoder(resp.Body).Decode(&csrf)
	resp.Body.Close()
	var sess *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == "session" {
			sess = c
		}
	}
	if sess == nil || csrf.Result == "" {
		t.Fatalf("csrf: %v %q", sess, csrf.Result)
	}
	var guest struct{ Token string }
	post("/api/v1/security/guest_token/", login.AccessToken, sess, csrf.Result,
		`{"user":{"username":"v"},"resources":[{"type":"dashboard","id":"`+fake.SalesUUID+`"}],"rls":[{"clause":"company_id = 1"}]}`, &guest)
	return transcript.Vars{"password": fake.Password, "access_token": login.AccessToken, "authorization": "Bearer " + login.AccessToken,
		"csrf_token": csrf.Result, "cookie": "session=" + sess.Value, "guest_token": guest.Token}
}

// TestReplayRealSuperset replays what the real Superset 6.1.0 answered
// (recorded by internal/testsuperset with IPAI_TEST_RECORD=1) against the
// fake: same statuses, media types and JSON shapes.
func TestReplayRealSuperset(t *testing.T) {
	for _, name := range []string{"connection", "connector", "mcp"} {
		t.Run(name, func(t *testing.T) {
			f := fake.New()
			defer f.Close()
			f.SetVersion("6.1.0")
			transcript.Replay(t, "testdata/"+name+".json", f.URL, session(t, f), f.Client())
		})
	}
}

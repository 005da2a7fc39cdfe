package stack

import (
	"context"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"

	fakefb "github.com/insightpulseai/ipai/internal/fake/focalboard"
	fakemm "github.com/insightpulseai/ipai/internal/fake/mattermost"
	fakeodoo "github.com/insightpulseai/ipai/internal/fake/odoo"
)

// closedURL is a loopback URL nothing listens on.
func closedURL(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	u := "http://" + l.Addr().String()
	l.Close()
	return u
}

// TestConnectFillsEnv: connect creates the Mattermost bot's token through
// the API, writes it into .env (0600, nothing else changed, never in its
// output), checks the Focalboard user, reports each service that fails
// without stopping the others, and keeps a secret already set.
func TestConnectFillsEnv(t *testing.T) {
	mm, fb, od := fakemm.New(), fakefb.New(), fakeodoo.New()
	t.Cleanup(func() { mm.Close(); fb.Close(); od.Close() })
	dir, _ := initDir(t, InitOptions{Domain: "example.com"})
	for k, v := range map[string]string{"MATTERMOST_ADMIN_USER": "admin", "MATTERMOST_ADMIN_PASSWORD": "admin-password",
		"FOCALBOARD_USER": fakefb.Username, "FOCALBOARD_PASSWORD": fakefb.Password} {
		if err := SetEnv(dir, k, v); err != nil {
			t.Fatal(err)
		}
	}
	before, _ := ReadEnv(dir)
	opts := ConnectOptions{Dir: dir, URLs: map[string]string{"mattermost": mm.URL, "focalboard": fb.URL,
		"n8n": closedURL(t), "odoo-core": od.URL}}
	res, err := Connect(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]ConnectResult{}
	for _, r := range res {
		got[r.Service] = r
	}
	after, _ := ReadEnv(dir)
	tok := after["MATTERMOST_BOT_TOKEN"]
	if r := got["mattermost"]; r.Action != "created" || tok == "" {
		t.Fatalf("mattermost: %+v, token in .env %t", r, tok != "")
	}
	// The token is the bot's.
	c := connector{hc: http.DefaultClient}
	var me struct {
		Username string `json:"username"`
		IsBot    bool   `json:"is_bot"`
	}
	if _, err := c.call(context.Background(), c.hc, "GET", mm.URL+"/api/v4/users/me", map[string]string{"Authorization": "Bearer " + tok}, nil, &me); err != nil || me.Username != "ipai" || !me.IsBot {
		t.Errorf("MATTERMOST_BOT_TOKEN is not the bot ipai's: %+v %v", me, err)
	}
	if r := got["focalboard"]; r.Action != "ok" {
		t.Errorf("focalboard: %+v", r)
	}
	if r := got["n8n"]; r.Action != "failed" || !strings.Contains(r.Detail, "n8n owner") {
		t.Errorf("n8n (unreachable): %+v, want failed naming the step", r)
	}
	// The fake has no database odoo_core: a clear failure, the others done.
	if r := got["odoo-core"]; r.Action != "failed" || !strings.Contains(r.Detail, "odoo_core") {
		t.Errorf("odoo-core: %+v, want failed naming the database", r)
	}
	for k, v := range before {
		if k != "MATTERMOST_BOT_TOKEN" && after[k] != v {
			t.Errorf("connect changed %s", k)
		}
	}
	for _, r := range res {
		if strings.Contains(r.Detail, tok) {
			t.Errorf("result shows the token: %+v", r)
		}
	}
	if fi, err := os.Stat(Abs(dir, EnvFile)); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf(".env mode %v (%v), want 0600", fi.Mode().Perm(), err)
	}
	// Again: the token is kept.
	res, _ = Connect(context.Background(), opts)
	for _, r := range res {
		if r.Service == "mattermost" && r.Action != "kept" {
			t.Errorf("second run: %+v, want kept", r)
		}
	}
	if again, _ := ReadEnv(dir); again["MATTERMOST_BOT_TOKEN"] != tok {
		t.Errorf("second run replaced the token")
	}

	// A wrong Focalboard password: login refused, registering refused
	// (users exist): failed, saying what to do.
	if err := SetEnv(dir, "FOCALBOARD_PASSWORD", "wrong"); err != nil {
		t.Fatal(err)
	}
	res, _ = Connect(context.Background(), opts)
	for _, r := range res {
		if r.Service == "focalboard" && (r.Action != "failed" || !strings.Contains(r.Detail, "no sign-up token")) {
			t.Errorf("focalboard with a wrong password: %+v", r)
		}
	}
}

// TestConnectOdooAPIKey: the key is made as Odoo 18's and 19's web client
// make it (wizard, identity check with the password: 18 reads it from the
// wizard, 19 from run_check's context) and authenticates; a wrong password
// is a clear error.
func TestConnectOdooAPIKey(t *testing.T) {
	for _, serie := range []string{"18.0", "19.0"} {
		t.Run(serie, func(t *testing.T) {
			od := fakeodoo.New()
			defer od.Close()
			od.SetSerie(serie)
			od.EnableAPIKeys()
			c := connector{hc: http.DefaultClient}
			key, err := c.odooAPIKey(context.Background(), od.URL, fakeodoo.DB, fakeodoo.Login, fakeodoo.Password)
			if err != nil {
				t.Fatal(err)
			}
			var uid any
			if err := jsonrpcCommon(context.Background(), od.URL, "authenticate", []any{fakeodoo.DB, fakeodoo.Login, key, map[string]any{}}, &uid); err != nil || uid != float64(fakeodoo.AdminUID) {
				t.Errorf("the key does not authenticate: %v %v", uid, err)
			}
			if _, err := c.odooAPIKey(context.Background(), od.URL, fakeodoo.DB, fakeodoo.Login, "wrong"); err == nil || !strings.Contains(err.Error(), "ADMIN_PASSWORD") {
				t.Errorf("wrong password: %v, want an error saying what to set", err)
			}
		})
	}
}

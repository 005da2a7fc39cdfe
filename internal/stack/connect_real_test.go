package stack

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/fake/transcript"
)

// TestConnectRealServices runs connect's steps against the real services
// when their IPAI_TEST_* URLs are set (opt-in): Odoo 18 (an API key that
// then authenticates), Mattermost (admin login, the bot, its token).
func TestConnectRealServices(t *testing.T) {
	if os.Getenv("IPAI_TEST_ODOO_URL")+os.Getenv("IPAI_TEST_MATTERMOST_ADMIN_PASSWORD")+os.Getenv("IPAI_TEST_FOCALBOARD_PASSWORD") == "" {
		t.Skip("opt-in: set IPAI_TEST_ODOO_URL (+_DB, _LOGIN, _PASSWORD), IPAI_TEST_MATTERMOST_URL with _ADMIN and _ADMIN_PASSWORD, or IPAI_TEST_FOCALBOARD_URL with _USER and _PASSWORD")
	}
	c := connector{hc: http.DefaultClient}
	ctx := context.Background()
	if u := os.Getenv("IPAI_TEST_ODOO_URL"); u != "" {
		t.Run("odoo", func(t *testing.T) {
			db, login, pw := os.Getenv("IPAI_TEST_ODOO_DB"), os.Getenv("IPAI_TEST_ODOO_LOGIN"), os.Getenv("IPAI_TEST_ODOO_PASSWORD")
			var v struct {
				ServerVersion string `json:"server_version"`
				ServerSerie   string `json:"server_serie"`
			}
			if err := jsonrpcCommon(ctx, u, "version", []any{}, &v); err != nil {
				t.Fatal(err)
			}
			rec := transcript.NewRecorder(http.DefaultTransport, "odoo")
			rec.Secret("password", pw)
			rec.Secret("db", db)
			rec.Case("make an API key")
			key, err := connector{hc: &http.Client{Transport: rec}}.odooAPIKey(ctx, u, db, login, pw)
			if err != nil {
				t.Fatal(err)
			}
			var uid any
			if err := jsonrpcCommon(ctx, u, "authenticate", []any{db, login, key, map[string]any{}}, &uid); err != nil || uid == false || uid == nil {
				t.Errorf("the new key does not authenticate: uid %v, %v", uid, err)
			}
			rec.Case("a wrong password")
			if _, err := (connector{hc: &http.Client{Transport: rec}}).odooAPIKey(ctx, u, db, login, pw+"-wrong"); err == nil {
				t.Error("a wrong password made a key")
			}
			if os.Getenv("IPAI_TEST_RECORD") == "1" && !t.Failed() {
				f := rec.File(v.ServerSerie, time.Now().UTC().Format("2006-01-02"), "recorded by TestConnectRealServices against a real Odoo "+v.ServerVersion)
				f.Redact("key", key) // the key made, answered in run_check's action
				f.AnyFalse = true
				apiKeyExchanges(f)
				major, _, _ := strings.Cut(v.ServerSerie, ".")
				if err := f.Save(filepath.Join("testdata", "odoo"+major+"_apikey.json")); err != nil {
					t.Error(err)
				}
			}
		})
	}
	if u := os.Getenv("IPAI_TEST_MATTERMOST_URL"); u != "" && os.Getenv("IPAI_TEST_MATTERMOST_ADMIN_PASSWORD") != "" {
		t.Run("mattermost", func(t *testing.T) {
			admin, pw := os.Getenv("IPAI_TEST_MATTERMOST_ADMIN"), os.Getenv("IPAI_TEST_MATTERMOST_ADMIN_PASSWORD")
			record := os.Getenv("IPAI_TEST_RECORD") == "1"
			rec := transcript.NewRecorder(http.DefaultTransport, "mattermost")
			rec.Secret("password", pw)
			rec.Secret("admin", admin)
			rc := connector{hc: &http.Client{Transport: rec}}
			rec.Case("make the bot token")
			tok, err := rc.mattermostBotToken(ctx, u, admin, pw, "unused@example.com")
			if err != nil {
				t.Fatal(err)
			}
			rec.Case("again: the bot exists")
			tok2, err := rc.mattermostBotToken(ctx, u, admin, pw, "unused@example.com")
			if err != nil {
				t.Fatal(err)
			}
			var me struct {
				Username string `json:"username"`
				IsBot    bool   `json:"is_bot"`
			}
			if _, err := c.call(ctx, c.hc, "GET", u+"/api/v4/users/me", map[string]string{"Authorization": "Bearer " + tok}, nil, &me); err != nil || me.Username != "ipai" || !me.IsBot {
				t.Errorf("the token is not the bot ipai's: %+v %v", me, err)
			}
			if record && !t.Failed() {
				var v struct {
					Version string `json:"version"`
				}
				resp, err := c.call(ctx, c.hc, "GET", u+"/api/v4/system/ping", nil, nil, &v)
				if err != nil {
					t.Fatal(err)
				}
				version := resp.Header.Get("X-Version-Id")
				f := rec.File(version, time.Now().UTC().Format("2006-01-02"), "recorded by TestConnectRealServices against a real Mattermost "+version)
				if !slices.ContainsFunc(f.Exchanges, func(ex transcript.Exchange) bool {
					return strings.HasPrefix(ex.Name, "make the bot token") && ex.Request.Path == "/api/v4/bots" && ex.Response.Status == http.StatusCreated
				}) {
					t.Fatal("the bot ipai existed before the first run: record on a server without it")
				}
				f.Redact("bot_token", tok)
				f.Redact("bot_token2", tok2)
				botExchanges(f)
				if err := f.Save(filepath.Join("testdata", "mattermost_bot.json")); err != nil {
					t.Error(err)
				}
			}
		})
	}
	if u := os.Getenv("IPAI_TEST_FOCALBOARD_URL"); u != "" && os.Getenv("IPAI_TEST_FOCALBOARD_PASSWORD") != "" {
		t.Run("focalboard", func(t *testing.T) {
			user, pw := os.Getenv("IPAI_TEST_FOCALBOARD_USER"), os.Getenv("IPAI_TEST_FOCALBOARD_PASSWORD")
			// The first run registers the user on a server without one (not
			// recorded: the fake always has its user).
			if err := c.focalboardUser(ctx, u, user, pw, "unused@example.com"); err != nil {
				t.Fatal(err)
			}
			rec := transcript.NewRecorder(http.DefaultTransport, "focalboard")
			rec.Headers = []string{"X-Requested-With"} // Focalboard's CSRF check
			rec.Secret("password", pw)
			rec.Secret("user", user)
			rc := connector{hc: &http.Client{Transport: rec}}
			rec.Case("the user exists")
			if err := rc.focalboardUser(ctx, u, user, pw, "unused@example.com"); err != nil {
				t.Fatal(err)
			}
			rec.Case("another user, once one exists")
			err := rc.focalboardUser(ctx, u, user+"-other", pw+"-other", "other@example.com")
			if err == nil || !strings.Contains(err.Error(), "sign-up") {
				t.Fatalf("a second user registered without a sign-up token: %v", err)
			}
			if os.Getenv("IPAI_TEST_RECORD") == "1" && !t.Failed() {
				var v struct {
					Version string `json:"version"`
				}
				if _, err := c.call(ctx, c.hc, "GET", u+"/ping", nil, nil, &v); err != nil {
					t.Fatal(err)
				}
				f := rec.File(v.Version, time.Now().UTC().Format("2006-01-02"), "recorded by TestConnectRealServices against a real Focalboard "+v.Version)
				for _, ex := range f.Exchanges { // the sessions the logins made
					if tok, ok := transcript.Lookup(ex.Response.Body, "token"); ok {
						f.Redact("session", fmt.Sprint(tok))
					}
				}
				if err := f.Save(filepath.Join("testdata", "focalboard_user.json")); err != nil {
					t.Error(err)
				}
			}
		})
	}
}

func jsonrpcCommon(ctx context.Context, base, method string, args []any, out any) error {
	c := connector{hc: http.DefaultClient}
	var ans struct {
		Result json.RawMessage `json:"result"`
	}
	if _, err := c.call(ctx, c.hc, "POST", base+"/jsonrpc", nil, map[string]any{"jsonrpc": "2.0", "method": "call",
		"params": map[string]any{"service": "common", "method": method, "args": args}}, &ans); err != nil {
		return err
	}
	return json.Unmarshal(ans.Result, out)
}

// apiKeyExchanges marks what of a recorded key flow a fake must answer
// alike: the session's answer is whatever the user's settings hold (only
// the key flow's later steps, which need the session, are checked); the
// wizard's and the identity check's ids are bound, so a replay sends the
// fake's own.
func apiKeyExchanges(f *transcript.File) {
	for i := range f.Exchanges {
		ex := &f.Exchanges[i]
		switch ex.Name {
		case "make an API key": // /web/session/authenticate
			ex.Loose = []string{"result"}
		case "make an API key#2": // create the wizard
			ex.Bind = map[string]string{"wizard": "result"}
		case "make an API key#3": // make_key: the identity check's action
			ex.Bind = map[string]string{"check": "result.res_id"}
			ex.Exact = []string{"result.res_model"}
		case "make an API key#5": // run_check: the key's action
			ex.Exact = []string{"result.res_model", "result.type"}
		}
	}
}

// botExchanges binds the bot's user id in a recorded bot-token flow, so a
// replay asks for the fake bot's token.
func botExchanges(f *transcript.File) {
	for i := range f.Exchanges {
		ex := &f.Exchanges[i]
		switch {
		case ex.Request.Method == "POST" && ex.Request.Path == "/api/v4/bots" && ex.Response.Status == http.StatusCreated:
			ex.Bind = map[string]string{"bot": "user_id"}
		case ex.Request.Method == "GET" && ex.Request.Path == "/api/v4/users/username/ipai":
			ex.Bind = map[string]string{"bot": "id"}
		}
	}
}

package stack

import (
	"context"
	"net/http"
	"os"
	"testing"
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
			key, err := c.odooAPIKey(ctx, u, db, login, pw)
			if err != nil {
				t.Fatal(err)
			}
			var uid any
			if err := jsonrpcCommon(ctx, u, "authenticate", []any{db, login, key, map[string]any{}}, &uid); err != nil || uid == false || uid == nil {
				t.Errorf("the new key does not authenticate: uid %v, %v", uid, err)
			}
		})
	}
	if u := os.Getenv("IPAI_TEST_MATTERMOST_URL"); u != "" && os.Getenv("IPAI_TEST_MATTERMOST_ADMIN_PASSWORD") != "" {
		t.Run("mattermost", func(t *testing.T) {
			tok, err := c.mattermostBotToken(ctx, u, os.Getenv("IPAI_TEST_MATTERMOST_ADMIN"), os.Getenv("IPAI_TEST_MATTERMOST_ADMIN_PASSWORD"), "unused@example.com")
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
		})
	}
	if u := os.Getenv("IPAI_TEST_FOCALBOARD_URL"); u != "" && os.Getenv("IPAI_TEST_FOCALBOARD_PASSWORD") != "" {
		t.Run("focalboard", func(t *testing.T) {
			if err := c.focalboardUser(ctx, u, os.Getenv("IPAI_TEST_FOCALBOARD_USER"), os.Getenv("IPAI_TEST_FOCALBOARD_PASSWORD"), "unused@example.com"); err != nil {
				t.Fatal(err)
			}
		})
	}
}

func jsonrpcCommon(ctx context.Context, base, method string, args []any, out any) error {
	c := connector{hc: http.DefaultClient}
	var ans struct {
		Result any `json:"result"`
	}
	_, err := c.call(ctx, c.hc, "POST", base+"/jsonrpc", nil, map[string]any{"jsonrpc": "2.0", "method": "call",
		"params": map[string]any{"service": "common", "method": method, "args": args}}, &ans)
	if p, ok := out.(*any); ok {
		*p = ans.Result
	}
	return err
}

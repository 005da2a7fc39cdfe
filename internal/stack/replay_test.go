package stack

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"testing"

	fakefb "github.com/insightpulseai/ipai/internal/fake/focalboard"
	fakemm "github.com/insightpulseai/ipai/internal/fake/mattermost"
	fakeodoo "github.com/insightpulseai/ipai/internal/fake/odoo"
	"github.com/insightpulseai/ipai/internal/fake/transcript"
)

// TestConnectReplays sends what connect's steps asked the real services
// (testdata/*.json, recorded by TestConnectRealServices) to the fakes that
// TestConnectFillsEnv and TestConnectOdooAPIKey drive: each must answer
// alike. Odoo 18 and 19: the API key made as the web client makes it;
// Mattermost 5.37: the bot ipai and its token, made then found; Focalboard
// 8.0.0: the user's login, and a second user refused without a sign-up
// token.
func TestConnectReplays(t *testing.T) {
	for _, c := range []struct {
		file  string
		start func(version string) (io.Closer, string)
		vars  transcript.Vars
	}{
		{"odoo18_apikey.json", startOdoo, transcript.Vars{"db": fakeodoo.DB, "password": fakeodoo.Password, "cookie": ""}},
		{"odoo19_apikey.json", startOdoo, transcript.Vars{"db": fakeodoo.DB, "password": fakeodoo.Password, "cookie": ""}},
		{"mattermost_bot.json", func(string) (io.Closer, string) { s := fakemm.New(); return closer(s.Close), s.URL },
			transcript.Vars{"admin": "admin", "password": "admin-password", "authorization": "Bearer " + fakemm.AdminToken}},
		{"focalboard_user.json", func(string) (io.Closer, string) { s := fakefb.New(); return closer(s.Close), s.URL },
			transcript.Vars{"user": fakefb.Username, "password": fakefb.Password}},
	} {
		t.Run(c.file, func(t *testing.T) {
			file := filepath.Join("testdata", c.file)
			f, err := transcript.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			s, url := c.start(f.Version)
			defer s.Close()
			jar, _ := cookiejar.New(nil) // Odoo's web session
			transcript.Replay(t, file, url, c.vars, &http.Client{Jar: jar})
		})
	}
}

// startOdoo starts a fake Odoo of a series that makes API keys.
func startOdoo(version string) (io.Closer, string) {
	od := fakeodoo.New()
	od.SetSerie(version)
	od.EnableAPIKeys()
	return closer(od.Close), od.URL
}

// closer is a Close without a result as an io.Closer.
type closer func()

func (c closer) Close() error { c(); return nil }

package stack

import (
	"net/http"
	"net/http/cookiejar"
	"path/filepath"
	"testing"

	fakeodoo "github.com/insightpulseai/ipai/internal/fake/odoo"
	"github.com/insightpulseai/ipai/internal/fake/transcript"
)

// TestOdooAPIKeyReplay sends the key flow recorded from a real Odoo 18 and
// 19 (testdata/odoo*_apikey.json, TestConnectRealServices) to the fake of
// the same series, which TestConnectOdooAPIKey drives: it must answer alike.
func TestOdooAPIKeyReplay(t *testing.T) {
	for _, file := range []string{filepath.Join("testdata", "odoo18_apikey.json"), filepath.Join("testdata", "odoo19_apikey.json")} {
		t.Run(filepath.Base(file), func(t *testing.T) {
			f, err := transcript.Load(file)
			if err != nil {
				t.Fatal(err)
			}
			od := fakeodoo.New()
			defer od.Close()
			od.SetSerie(f.Version)
			od.EnableAPIKeys()
			jar, _ := cookiejar.New(nil)
			transcript.Replay(t, file, od.URL, transcript.Vars{"db": fakeodoo.DB, "password": fakeodoo.Password, "cookie": ""}, &http.Client{Jar: jar})
		})
	}
}

package stack

import (
	"net/http"
	"path/filepath"
	"testing"

	fakemm "github.com/insightpulseai/ipai/internal/fake/mattermost"
	"github.com/insightpulseai/ipai/internal/fake/transcript"
)

// TestMattermostBotReplay sends the bot-token flow recorded from a real
// Mattermost (testdata/mattermost_bot.json, TestConnectRealServices: a
// first run that creates the bot ipai and its token, a second that finds
// the bot) to the fake, which TestConnectFillsEnv drives: it must
// answer alike.
func TestMattermostBotReplay(t *testing.T) {
	file := filepath.Join("testdata", "mattermost_bot.json")
	mm := fakemm.New()
	defer mm.Close()
	transcript.Replay(t, file, mm.URL, transcript.Vars{"admin": "admin", "password": "admin-password",
		"authorization": "Bearer " + fakemm.AdminToken}, http.DefaultClient)
}

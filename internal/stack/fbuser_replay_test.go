package stack

import (
	"net/http"
	"path/filepath"
	"testing"

	fakefb "github.com/insightpulseai/ipai/internal/fake/focalboard"
	"github.com/insightpulseai/ipai/internal/fake/transcript"
)

// TestFocalboardUserReplay sends what `ipai stack connect` asked a real
// Focalboard 8 (testdata/focalboard_user.json, TestConnectRealServices: the
// user logs in; another user's registration is refused once one exists)
// to the fake: it must answer alike.
func TestFocalboardUserReplay(t *testing.T) {
	fb := fakefb.New()
	defer fb.Close()
	transcript.Replay(t, filepath.Join("testdata", "focalboard_user.json"), fb.URL,
		transcript.Vars{"user": fakefb.Username, "password": fakefb.Password}, http.DefaultClient)
}

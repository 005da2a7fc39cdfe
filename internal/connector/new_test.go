package connector_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/connector/focalboard"
	"github.com/insightpulseai/ipai/internal/connector/mattermost"
)

// NewAs says why a connector gives no client of the wanted type: the type
// it has instead, or New's own error (a type this build does not know).
func TestNewAsNamesTheCause(t *testing.T) {
	fb := connector.Config{Code: "boards", Type: "focalboard", BaseURL: "http://127.0.0.1:1"}
	if c, err := connector.NewAs[*focalboard.Client](fb, &http.Client{}, "focalboard"); err != nil || c == nil {
		t.Fatalf("focalboard as focalboard: %v, %v", c, err)
	}
	if _, err := connector.NewAs[*mattermost.Client](fb, &http.Client{}, "mattermost"); err == nil ||
		!strings.Contains(err.Error(), `connector "boards" is of type focalboard; name a connector of type mattermost`) {
		t.Fatalf("focalboard as mattermost: %v", err)
	}
	gone := connector.Config{Code: "old", Type: "trello", BaseURL: "http://127.0.0.1:1"}
	if _, err := connector.NewAs[*focalboard.Client](gone, &http.Client{}, "focalboard"); err == nil ||
		!strings.Contains(err.Error(), `connector "old": unknown connector type "trello"`) {
		t.Fatalf("unknown type as focalboard: %v", err)
	}
}

package app

import (
	"context"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/store"
)

// A board pair whose focalboard connector gives no Focalboard client stops
// the hub with the reason: the type the connector has, or why its client
// cannot be built.
func TestBoardPairNamesWhyItsConnectorIsNoFocalboard(t *testing.T) {
	for _, c := range []struct{ board, want string }{
		{"chat", `connector "chat" is of type mattermost; name a connector of type focalboard`},
		{"old", `connector "old": unknown connector type "trello"`},
	} {
		t.Run(c.board, func(t *testing.T) {
			ctx := context.Background()
			cfg := config.Defaults()
			cfg.Listen = "127.0.0.1:0"
			cfg.DataDir = t.TempDir()
			cfg.Database.URL = filepath.Join(cfg.DataDir, "ipai.db")
			db, err := store.Open(ctx, cfg.Database.URL)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := db.Migrate(ctx); err != nil {
				t.Fatal(err)
			}
			// A connector stored by a build that knew the type "trello".
			now := time.Now()
			if err := db.CreateConnector(ctx, store.Connector{Code: "old", Name: "old", Type: "trello", BaseURL: "http://127.0.0.1:1",
				State: "active", CreatedAt: now, UpdatedAt: now}); err != nil {
				t.Fatal(err)
			}
			db.Close()
			cfg.Connectors = []config.ConnectorSpec{
				{Code: "erp", Type: "odoo", BaseURL: "http://127.0.0.1:1", Settings: map[string]string{"database": "db", "login": "admin"},
					Secrets: map[string]string{"api_key": "k"}},
				{Code: "chat", Type: "mattermost", BaseURL: "http://127.0.0.1:1", Secrets: map[string]string{"token": "t"}},
			}
			cfg.Sync.Boards = []config.SyncBoard{{Name: "tasks", Odoo: "erp", Focalboard: c.board, Project: 1, Board: "b1"}}
			a, err := New(ctx, cfg, io.Discard)
			if err == nil {
				a.Close()
				t.Fatal("the hub started with a board pair whose focalboard connector is not one")
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error = %v; want it to say %s", err, c.want)
			}
		})
	}
}

package config

import (
	"strings"
	"testing"
)

// A board link maps Odoo logins to Focalboard usernames; an empty name is
// refused with the key.
func TestSyncBoardUsers(t *testing.T) {
	t.Setenv("IPAI_DATABASE_URL", "")
	base := "sync:\n  boards:\n    - name: close\n      odoo: erp\n      focalboard: fb\n      project: 1\n      board: b1\n      users:\n"
	cfg, err := Load(write(t, base+"        ana@example.com: ana\n"))
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.Sync.Boards[0].Users; len(got) != 1 || got["ana@example.com"] != "ana" {
		t.Fatalf("users = %v", got)
	}
	_, err = Load(write(t, base+"        ana@example.com: \"\"\n"))
	if err == nil || !strings.Contains(err.Error(), "sync.boards[0].users") {
		t.Fatalf("empty username: %v", err)
	}
}

package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/testproc"
)

// A fresh hub prints one log line with a working one-time setup URL.
func TestServePrintsSetupURLOnFirstRun(t *testing.T) {
	cfg := config.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Log.Format = "json"
	var logs testproc.Buffer
	a, err := New(context.Background(), cfg, &logs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	addr, done := run(t, ctx, a)
	defer func() { cancel(); <-done; a.Close() }()
	// Run logs the setup URL as it starts.
	waitFor(t, "the first-run log line", func() bool { return strings.Contains(logs.String(), `"msg":"first run:`) })
	var lines []map[string]any
	for _, l := range strings.Split(logs.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil && strings.HasPrefix(m["msg"].(string), "first run:") {
			lines = append(lines, m)
		}
	}
	if len(lines) != 1 {
		t.Fatalf("%d first-run log lines, want 1:\n%s", len(lines), logs.String())
	}
	u, _ := lines[0]["url"].(string)
	if !strings.HasPrefix(u, "http://"+addr+"/ui/setup?token=") {
		t.Fatalf("setup URL %q, want one on http://%s/ui/setup", u, addr)
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET setup URL: %d", resp.StatusCode)
	}
}

func TestSetupBase(t *testing.T) {
	for _, c := range []struct{ public, addr, want string }{
		{"", "[::]:8080", "http://127.0.0.1:8080"},
		{"", "0.0.0.0:8080", "http://127.0.0.1:8080"},
		{"", "127.0.0.1:9000", "http://127.0.0.1:9000"},
		{"https://hub.example.com/", "[::]:8080", "https://hub.example.com"},
	} {
		if got := setupBase(c.public, c.addr); got != c.want {
			t.Errorf("setupBase(%q, %q) = %q, want %q", c.public, c.addr, got, c.want)
		}
	}
}

// The hourly upkeep removes expired UI sessions even when nobody signs in.
func TestUpkeepPurgesExpiredSessions(t *testing.T) {
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	a, err := New(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	ctx := context.Background()
	u, err := auth.NewUsers(a.DB).Create(ctx, auth.NewUser{Name: "alice", Role: auth.RoleAdmin, Password: "alice-password"})
	if err != nil {
		t.Fatal(err)
	}
	// The live one first: creating a session purges the ones expired by then.
	live, _, err := auth.NewSessions(a.DB, time.Hour).Create(ctx, u, "127.0.0.1", "test")
	if err != nil {
		t.Fatal(err)
	}
	old := auth.NewSessions(a.DB, time.Hour)
	old.Now = func() time.Time { return time.Now().Add(-2 * time.Hour) }
	if _, _, err := old.Create(ctx, u, "127.0.0.1", "test"); err != nil {
		t.Fatal(err)
	}
	count := func() int {
		var n int
		if err := a.DB.QueryRow(ctx, "SELECT COUNT(*) FROM ui_sessions").Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	if n := count(); n != 2 {
		t.Fatalf("%d sessions before upkeep, want 2", n)
	}
	a.upkeep(ctx)
	if n := count(); n != 1 {
		t.Fatalf("%d sessions after upkeep, want 1 (the live one)", n)
	}
	if _, _, err := auth.NewSessions(a.DB, time.Hour).Lookup(ctx, live); err != nil {
		t.Fatalf("the live session after upkeep: %v", err)
	}
}

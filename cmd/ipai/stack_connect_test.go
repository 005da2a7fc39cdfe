package main

import (
	"errors"
	"net"
	"strings"
	"testing"

	fakefb "github.com/insightpulseai/ipai/internal/fake/focalboard"
	fakemm "github.com/insightpulseai/ipai/internal/fake/mattermost"
	"github.com/insightpulseai/ipai/internal/stack"
)

func TestStackConnectCommand(t *testing.T) {
	mm, fb := fakemm.New(), fakefb.New()
	defer mm.Close()
	defer fb.Close()
	l, _ := net.Listen("tcp", "127.0.0.1:0")
	closed := "http://" + l.Addr().String()
	l.Close()
	dir := t.TempDir()
	if out, err := runIPAI(t, "stack", "init", "--dir", dir, "--domain", "example.com"); err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	for k, v := range map[string]string{"MATTERMOST_ADMIN_USER": "admin", "MATTERMOST_ADMIN_PASSWORD": "admin-password",
		"FOCALBOARD_USER": fakefb.Username, "FOCALBOARD_PASSWORD": fakefb.Password} {
		if err := stack.SetEnv(dir, k, v); err != nil {
			t.Fatal(err)
		}
	}
	out, err := runIPAI(t, "stack", "connect", "--dir", dir, "--url", "mattermost="+mm.URL, "--url", "focalboard="+fb.URL,
		"--url", "n8n="+closed, "--url", "odoo-core="+closed)
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Errorf("connect with unreachable services: %v, want exit 1", err)
	}
	env, _ := stack.ReadEnv(dir)
	tok := env["MATTERMOST_BOT_TOKEN"]
	for _, want := range []string{"created  mattermost       MATTERMOST_BOT_TOKEN", "failed   n8n              N8N_API_KEY",
		"failed   odoo-core        ODOO_CORE_API_KEY", "ok       focalboard", "restart the hub"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if tok == "" || strings.Contains(out, tok) {
		t.Errorf("token empty in .env, or printed:\n%s", out)
	}
	if _, err := runIPAI(t, "stack", "connect", "--dir", dir, "--url", "superset=http://x"); err == nil || !strings.Contains(err.Error(), "not a service connect talks to") {
		t.Errorf("--url superset: %v", err)
	}
}

package main

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/store"
)

// Text from the database cannot paint a fake row or send terminal escapes.
func TestAuditListEscapesControlCharacters(t *testing.T) {
	path := filepath.Join(t.TempDir(), "ipai.db")
	if _, _, err := run(t, "token", "create", "--db", path, "--name", "n", "--role", "user"); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	db, err := store.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	al := audit.New(db)
	err = al.Write(ctx, audit.Entry{Actor: "mattermost:x\x1b[2K\r", Action: "chatops.approval.refused", Level: audit.Warning,
		Target: "purchase.order/1\n999  2026-01-01 00:00:00  info  token.create  admin  -  all good\u202e", Message: "bad\tsig\x07"})
	al.Close()
	db.Close()
	if err != nil {
		t.Fatal(err)
	}
	out, _, err := run(t, "audit", "list", "--db", path, "--action", "chatops.*")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimRight(out, "\n"), "\n")
	if len(lines) != 2 || strings.ContainsAny(out, "\x1b\r\a\u202e") {
		t.Fatalf("audit list printed control characters raw (%d lines):\n%q", len(lines), out)
	}
	if !strings.Contains(lines[1], `\x1b[2K\r`) || !strings.Contains(lines[1], `\n999`) || !strings.Contains(lines[1], `bad\tsig\a`) {
		t.Fatalf("escapes not shown: %q", lines[1])
	}
}

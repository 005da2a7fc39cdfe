package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// Unknown scopes are refused at creation, with the known ones listed; an
// admin token is told it carries every MCP scope.
func TestTokenCreateValidatesScopes(t *testing.T) {
	db := filepath.Join(t.TempDir(), "ipai.db")
	_, _, err := run(t, "token", "create", "--db", db, "--name", "agent", "--role", "user", "--scopes", "mcp:odoo:raed")
	if err == nil || !strings.Contains(err.Error(), `"mcp:odoo:raed" is not a known scope`) || !strings.Contains(err.Error(), "mcp:odoo:read, mcp:odoo:write") {
		t.Fatalf("unknown scope: %v", err)
	}
	if list, _, _ := run(t, "token", "list", "--db", db); strings.Contains(list, "agent") {
		t.Fatalf("a token was created: %s", list)
	}
	if out, _, err := run(t, "token", "create", "--db", db, "--name", "agent", "--role", "user", "--scopes", "mcp:odoo:read,mcp:ops:read"); err != nil || !strings.HasPrefix(out, "ipai_") {
		t.Fatalf("known scopes: %q %v", out, err)
	}
	_, stderr, err := run(t, "token", "create", "--db", db, "--name", "root", "--role", "admin")
	if err != nil || !strings.Contains(stderr, "carries every MCP scope") {
		t.Fatalf("admin token: %q %v", stderr, err)
	}
}

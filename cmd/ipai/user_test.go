package main

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestUserCreateReadsPasswordFromStdin(t *testing.T) {
	db := filepath.Join(t.TempDir(), "ipai.db")
	global = globalFlags{}
	root := newRootCmd()
	var out, errb strings.Builder
	root.SetOut(&out)
	root.SetErr(&errb)
	root.SetIn(strings.NewReader("a long password\n"))
	root.SetArgs([]string{"user", "create", "--db", db, "--name", "alice", "--role", "admin"})
	if err := root.Execute(); err != nil {
		t.Fatalf("%v\n%s", err, errb.String())
	}
	if !strings.Contains(out.String(), "user alice") || !strings.Contains(out.String(), "role admin") {
		t.Fatalf("output: %q", out.String())
	}
	if _, _, err := run(t, "user", "create", "--db", db, "--name", "bob", "--password", "short"); err == nil || !strings.Contains(err.Error(), "--password") {
		t.Fatalf("short password: %v", err)
	}
	if _, _, err := run(t, "user", "set-role", "--db", db, "alice", "user"); err != nil {
		t.Fatal(err)
	}
	list, _, err := run(t, "user", "list", "--db", db)
	if err != nil || !strings.Contains(list, "alice") || !strings.Contains(list, "user") {
		t.Fatalf("list: %q %v", list, err)
	}
}

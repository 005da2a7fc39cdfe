package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestBuiltBinaryNamesItsRevision builds ipai from a git checkout (a shared
// clone of this repository's HEAD, plus an untracked file) with -buildvcs and
// checks that `ipai version` names the commit and the uncommitted change —
// what a report from the field needs, instead of "dev".
func TestBuiltBinaryNamesItsRevision(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	git := func(dir string, args ...string) string {
		t.Helper()
		out, err := exec.Command("git", append([]string{"-C", dir}, args...)...).Output()
		if err != nil {
			t.Fatalf("git %v: %v", args, err)
		}
		return strings.TrimSpace(string(out))
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("needs git")
	}
	root, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		t.Skip("not in a git checkout")
	}
	// A clone, not this tree: the go command records VCS information only
	// where .git is a directory (not in a `git worktree`).
	dir := filepath.Join(t.TempDir(), "src")
	if out, err := exec.Command("git", "clone", "-q", "--shared", strings.TrimSpace(string(root)), dir).CombinedOutput(); err != nil {
		t.Fatalf("git clone: %v\n%s", err, out)
	}
	head := git(dir, "rev-parse", "HEAD")
	if err := os.WriteFile(filepath.Join(dir, "local-change.txt"), []byte("x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(t.TempDir(), "ipai")
	build := exec.Command("go", "build", "-buildvcs=true", "-trimpath", "-o", bin, "./cmd/ipai")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "version").CombinedOutput()
	if err != nil {
		t.Fatalf("ipai version: %v\n%s", err, out)
	}
	got := strings.TrimSpace(string(out))
	if strings.HasPrefix(got, "ipai dev ") || !strings.Contains(got, "revision "+head[:12]) || !strings.Contains(got, "modified") ||
		!strings.Contains(got, head[:12]) {
		t.Fatalf("ipai version = %q; want the version, revision %s and modified", got, head[:12])
	}

	// Without VCS information (a Docker build context has no .git), a
	// version stamped at link time names the build.
	build = exec.Command("go", "build", "-buildvcs=false", "-trimpath", "-o", bin,
		"-ldflags", "-X github.com/insightpulseai/ipai/internal/buildinfo.Stamp=v1.4.0-3-gabc1234", "./cmd/ipai")
	build.Dir = dir
	build.Env = append(os.Environ(), "GOFLAGS=")
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if out, err := exec.Command(bin, "version").CombinedOutput(); err != nil || !strings.HasPrefix(string(out), "ipai v1.4.0-3-gabc1234 ") {
		t.Fatalf("stamped ipai version = %q %v", out, err)
	}
}

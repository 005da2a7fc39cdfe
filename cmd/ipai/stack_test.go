package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func runIPAI(t *testing.T, args ...string) (string, error) {
	t.Helper()
	root := newRootCmd()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestStackInitWritesDeploymentAndReportsSkips(t *testing.T) {
	dir := t.TempDir()
	out, err := runIPAI(t, "stack", "init", "--dir", dir, "--domain", "example.com", "--editions", "core,accounting")
	if err != nil {
		t.Fatalf("init: %v\n%s", err, out)
	}
	if !strings.Contains(out, "written      docker/.env") || !strings.Contains(out, "written      docker/docker-compose.yml") {
		t.Errorf("init output:\n%s", out)
	}
	os.WriteFile(filepath.Join(dir, "superset", "superset_config.py"), []byte("# tuned\n"), 0o644)
	out, err = runIPAI(t, "stack", "init", "--dir", dir, "--force")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out, "kept         superset/superset_config.py") || !strings.Contains(out, "unchanged    docker/.env") {
		t.Errorf("re-run output:\n%s", out)
	}
	if _, err := runIPAI(t, "stack", "init", "--dir", t.TempDir(), "--domain", "example.com", "--editions", "hr"); err == nil ||
		!strings.Contains(err.Error(), "core, marketing, accounting") {
		t.Errorf("bad edition: %v", err)
	}
}

func TestStackComposeCommandsFailClearlyWithoutDocker(t *testing.T) {
	dir := t.TempDir()
	if _, err := runIPAI(t, "stack", "init", "--dir", dir, "--domain", "example.com"); err != nil {
		t.Fatal(err)
	}
	for _, cmd := range []string{"up", "down", "ps", "logs"} {
		_, err := runIPAI(t, "stack", cmd, "--dir", dir, "--docker", filepath.Join(t.TempDir(), "docker"))
		if err == nil || !strings.Contains(err.Error(), "install Docker") {
			t.Errorf("%s without docker: %v", cmd, err)
		}
	}
	_, err := runIPAI(t, "stack", "up", "--dir", t.TempDir())
	if err == nil || !strings.Contains(err.Error(), "ipai stack init") {
		t.Errorf("up without a deployment: %v", err)
	}
}

func TestStackHealthcheckExitsOneWhenDown(t *testing.T) {
	out, err := runIPAI(t, "stack", "healthcheck", "--dir", t.TempDir(), "--url", "hub=http://127.0.0.1:1/readyz", "--timeout", "2s")
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != 1 {
		t.Fatalf("err = %v, want exit 1", err)
	}
	if !strings.Contains(out, "hub") || !strings.Contains(out, "down") {
		t.Errorf("output:\n%s", out)
	}
}

func TestStackCommandsHaveExamples(t *testing.T) {
	root := newRootCmd()
	stack, _, err := root.Find([]string{"stack"})
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range append(stack.Commands(), stack) {
		if c.Example == "" {
			t.Errorf("ipai %s has no Example", c.Name())
		}
	}
}

package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/testpg"
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

// The first backup of a deployment creates its backup key and signs the
// archive; a restore refuses the archive once its manifest was changed,
// unless --allow-unsigned.
func TestStackBackupSignsAndRestoreChecksTheSignature(t *testing.T) {
	t.Setenv("IPAI_BACKUP_KEY", "")
	c := testpg.Get(t)
	dbURL := testpg.URL(t)
	dbName := dbURL[strings.LastIndex(dbURL, "/")+1:]
	if i := strings.Index(dbName, "?"); i >= 0 {
		dbName = dbName[:i]
	}
	dir, out := t.TempDir(), t.TempDir()
	if o, err := runIPAI(t, "stack", "init", "--dir", dir, "--domain", "example.com"); err != nil {
		t.Fatalf("init: %v\n%s", err, o)
	}
	o, err := runIPAI(t, "stack", "backup", "--dir", dir, "--pg-url", c.AdminURL, "--pg-bin", c.BinDir, "--db", dbName, "--out", out)
	if err != nil {
		t.Fatalf("backup: %v\n%s", err, o)
	}
	keyFile := filepath.Join(dir, "docker", "backup.key")
	if fi, err := os.Stat(keyFile); err != nil || fi.Mode().Perm() != 0o600 || !strings.Contains(o, "created the backup key "+keyFile) {
		t.Fatalf("backup key: %v %v\n%s", fi, err, o)
	}
	archives, _ := filepath.Glob(filepath.Join(out, "backup-*.tar"))
	if len(archives) != 1 {
		t.Fatalf("archives: %v", archives)
	}
	o, err = runIPAI(t, "stack", "restore", archives[0], "--dir", dir, "--pg-url", c.AdminURL, "--pg-bin", c.BinDir, "--verify-only")
	if err != nil || !strings.Contains(o, "signature valid") {
		t.Fatalf("restore of the signed archive: %v\n%s", err, o)
	}

	// Change one digit of the manifest (the tar stays valid, the checksums too).
	raw, _ := os.ReadFile(archives[0])
	i := bytes.Index(raw, []byte(`"duration_ms": `))
	if i < 0 {
		t.Fatal("no duration_ms in the manifest")
	}
	j := i + len(`"duration_ms": `)
	raw[j] = '0' + (raw[j]-'0'+1)%10
	tampered := filepath.Join(t.TempDir(), filepath.Base(archives[0]))
	os.WriteFile(tampered, raw, 0o600)
	o, err = runIPAI(t, "stack", "restore", tampered, "--dir", dir, "--pg-url", c.AdminURL, "--pg-bin", c.BinDir, "--verify-only")
	if err == nil || !strings.Contains(err.Error(), "changed after the backup") || !strings.Contains(err.Error(), "--allow-unsigned") {
		t.Fatalf("restore of a changed archive: %v\n%s", err, o)
	}
	o, err = runIPAI(t, "stack", "restore", tampered, "--dir", dir, "--pg-url", c.AdminURL, "--pg-bin", c.BinDir, "--verify-only", "--allow-unsigned")
	if err != nil || !strings.Contains(o, "warning: --allow-unsigned") || !strings.Contains(o, "verified "+dbName) {
		t.Fatalf("--allow-unsigned: %v\n%s", err, o)
	}
}

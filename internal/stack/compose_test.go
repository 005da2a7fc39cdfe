package stack

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// fakeDocker writes a docker stand-in that records its arguments.
func fakeDocker(t *testing.T, exit int) (bin, log string) {
	t.Helper()
	d := t.TempDir()
	log = filepath.Join(d, "args")
	bin = filepath.Join(d, "docker")
	script := "#!/bin/sh\nif [ \"$1 $2\" = \"compose version\" ]; then echo 'Docker Compose version v2.29.0'; exit 0; fi\n" +
		"printf '%s\\n' \"$*\" >> " + log + "\nexit " + string(rune('0'+exit)) + "\n"
	if err := os.WriteFile(bin, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return bin, log
}

func TestRunnerPassesProjectDirAndEnvFile(t *testing.T) {
	dir, _ := initDir(t, InitOptions{Domain: "example.com"})
	bin, log := fakeDocker(t, 0)
	r := Runner{Dir: dir, Docker: bin}
	if err := r.Run(context.Background(), UpArgs(300)...); err != nil {
		t.Fatal(err)
	}
	if err := r.Run(context.Background(), LogsArgs("n8n", true, 100)...); err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(log)
	want := "compose --project-directory " + filepath.Join(dir, "docker") + " --env-file " + filepath.Join(dir, "docker", ".env") +
		" -f " + filepath.Join(dir, "docker", "docker-compose.yml")
	lines := strings.Split(strings.TrimSpace(string(got)), "\n")
	if len(lines) != 2 || lines[0] != want+" up --detach --remove-orphans --wait --wait-timeout 300" ||
		lines[1] != want+" logs --tail 100 --follow n8n" {
		t.Errorf("docker called with:\n%s\nwant prefix %s", got, want)
	}
}

func TestRunnerReportsComposeFailure(t *testing.T) {
	dir, _ := initDir(t, InitOptions{Domain: "example.com"})
	bin, _ := fakeDocker(t, 3)
	err := Runner{Dir: dir, Docker: bin}.Run(context.Background(), "ps")
	var ee *ExitError
	if !errors.As(err, &ee) || ee.Code != 3 {
		t.Errorf("err = %v, want exit status 3", err)
	}
}

func TestRunnerRefusesWithoutEnvOrDocker(t *testing.T) {
	dir, _ := initDir(t, InitOptions{Domain: "example.com"})
	bin, log := fakeDocker(t, 0)
	err := Runner{Dir: dir, Docker: filepath.Join(t.TempDir(), "docker")}.Run(context.Background(), "ps")
	if !errors.Is(err, ErrNoDocker) || !strings.Contains(err.Error(), "install Docker") {
		t.Errorf("missing docker: %v", err)
	}
	os.Remove(Abs(dir, EnvFile))
	err = Runner{Dir: dir, Docker: bin}.Run(context.Background(), UpArgs(60)...)
	if err == nil || !strings.Contains(err.Error(), ".env not found") || !strings.Contains(err.Error(), "ipai stack init") {
		t.Errorf("missing .env: %v", err)
	}
	if _, err := os.Stat(log); err == nil {
		t.Errorf("docker ran although the deployment has no .env")
	}
}

func TestLoadDeploymentReadsState(t *testing.T) {
	dir, _ := initDir(t, InitOptions{Domain: "example.org", Editions: []string{"marketing"}})
	d, err := LoadDeployment(dir)
	if err != nil || d.Domain != "example.org" || len(d.Editions) != 1 || d.Editions[0] != "marketing" {
		t.Errorf("LoadDeployment = %+v, %v", d, err)
	}
	if _, err := LoadDeployment(t.TempDir()); err == nil {
		t.Error("LoadDeployment of an empty dir succeeded")
	}
}

package backup

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/stack"
)

func TestForDeploymentGoesThroughDockerCompose(t *testing.T) {
	dir := t.TempDir()
	if _, err := stack.Init(stack.InitOptions{Dir: dir, Domain: "example.com", Editions: []string{"core", "accounting"}}); err != nil {
		t.Fatal(err)
	}
	docker := filepath.Join(t.TempDir(), "docker")
	os.WriteFile(docker, []byte("#!/bin/sh\nexit 0\n"), 0o755)
	tgt, src, err := ForDeployment(dir, docker, filepath.Join(dir, "backups"))
	if err != nil {
		t.Fatal(err)
	}
	prefix := docker + " compose --project-directory " + filepath.Join(dir, "docker") + " --env-file " + filepath.Join(dir, "docker", ".env") +
		" -f " + filepath.Join(dir, "docker", "docker-compose.yml") + " exec -T "
	if got := strings.Join(tgt.Dump(context.Background(), "odoo_core", "", 1).Args, " "); got != prefix+"postgres pg_dump -U postgres -Fc -d odoo_core --compress=1" {
		t.Errorf("dump command: %s", got)
	}
	var names []string
	for _, s := range src {
		names = append(names, s.Name)
		if s.Name == "odoo_accounting-data" {
			if got := strings.Join(s.Cmd(context.Background()).Args, " "); got != prefix+"odoo-accounting tar -C /var/lib/odoo -cf - ." {
				t.Errorf("filestore command: %s", got)
			}
		}
		if s.Name == "deployment" && (s.Dir != dir || !slices.Contains(s.Skip, "backups")) {
			t.Errorf("deployment files: %+v (the backups folder must be left out)", s)
		}
	}
	if !slices.Equal(names, []string{"odoo_core-data", "odoo_accounting-data", "n8n-data", "deployment"}) {
		t.Errorf("sources = %v", names)
	}
	if _, _, err := ForDeployment(t.TempDir(), docker, ""); err == nil {
		t.Error("ForDeployment without a deployment succeeded")
	}
}

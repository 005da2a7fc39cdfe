package backup

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"

	"github.com/insightpulseai/ipai/internal/stack"
)

// ForDeployment returns the target and file sources of the deployment in
// dir, reached through `docker compose exec`: its PostgreSQL, each Odoo
// edition's data (filestore, sessions), n8n's data folder and the
// deployment's own files (config, .env, workflows) except outDir.
func ForDeployment(dir, docker, outDir string) (*Compose, []Source, error) {
	d, err := stack.LoadDeployment(dir)
	if err != nil {
		return nil, nil, err
	}
	r := stack.Runner{Dir: dir, Docker: docker}
	if err := r.Check(); err != nil {
		return nil, nil, err
	}
	args := r.Args()
	t := &Compose{Docker: docker, ProjectDir: args[2], EnvFile: args[4]}
	// Compose.Command adds its own flags; keep the compose file explicit too.
	t.extra = args[5:7]
	tarOf := func(service, path string) func(ctx context.Context) *exec.Cmd {
		return func(ctx context.Context) *exec.Cmd {
			return r.Command(ctx, stack.ExecArgs(service, "tar", "-C", path, "-cf", "-", ".")...)
		}
	}
	var src []Source
	for _, e := range d.Editions {
		src = append(src, Source{Name: "odoo_" + e + "-data", Cmd: tarOf("odoo-"+e, "/var/lib/odoo")})
	}
	src = append(src, Source{Name: "n8n-data", Cmd: tarOf("n8n", "/home/node/.n8n")})
	cfg := Source{Name: "deployment", Dir: dir, Skip: []string{"addons", keyRel}}
	if rel, err := filepath.Rel(dir, outDir); err == nil && !strings.HasPrefix(rel, "..") {
		cfg.Skip = append(cfg.Skip, rel)
	}
	src = append(src, cfg)
	return t, src, nil
}

// DirectForDeployment describes, for --pg-url mode, the files of a local
// deployment directory to include (none when dir has no deployment).
func DirectForDeployment(dir, outDir string) []Source {
	if _, err := stack.LoadDeployment(dir); err != nil {
		return nil
	}
	cfg := Source{Name: "deployment", Dir: dir, Skip: []string{"addons", keyRel}}
	if rel, err := filepath.Rel(dir, outDir); err == nil && !strings.HasPrefix(rel, "..") {
		cfg.Skip = append(cfg.Skip, rel)
	}
	return []Source{cfg}
}

// ParseSources parses name=DIR flags.
func ParseSources(flags []string) ([]Source, error) {
	var out []Source
	for _, f := range flags {
		name, dir, ok := strings.Cut(f, "=")
		if !ok || name == "" || dir == "" || !memberRe.MatchString("files/"+name+".tar") {
			return nil, fmt.Errorf("--path %q: want NAME=DIR with NAME made of letters, digits, '.', '_' or '-'", f)
		}
		out = append(out, Source{Name: name, Dir: dir})
	}
	return out, nil
}

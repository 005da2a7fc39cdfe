package stack

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"sort"
	"strings"

	"github.com/compose-spec/compose-go/v2/cli"
	"github.com/compose-spec/compose-go/v2/types"

	"github.com/insightpulseai/ipai/internal/config"
)

// Finding is one thing `ipai stack doctor` found wrong with a deployment.
type Finding struct {
	File string // relative to the deployment
	What string
	Fix  string
}

func (f Finding) String() string { return f.File + ": " + f.What + " — " + f.Fix }

// DoctorOptions are the inputs of Doctor.
type DoctorOptions struct {
	Dir string
	// IPAI is the ipai binary that checks the hub's settings as the hub
	// would read them (default: the running executable).
	IPAI string
}

// Doctor checks a deployment folder offline — the compose file loads, every
// image is pinned, the .env is complete and private, every ${VAR} is
// defined, Caddy serves the deployment's names from services that exist,
// and the hub's settings load — and returns what to fix (nil: nothing).
func Doctor(ctx context.Context, opts DoctorOptions) ([]Finding, error) {
	if opts.Dir == "" {
		return nil, errors.New("--dir is required: the directory of the deployment")
	}
	d, err := LoadDeployment(opts.Dir)
	if err != nil {
		return nil, err
	}
	var out []Finding
	add := func(file, fix, format string, args ...any) {
		out = append(out, Finding{File: file, What: fmt.Sprintf(format, args...), Fix: fix})
	}

	env, err := ReadEnv(opts.Dir)
	if err != nil {
		add(EnvFile, "run `ipai stack init` to write it (existing secrets are kept)", "%v", err)
		return out, nil
	}
	if fi, err := os.Stat(Abs(opts.Dir, EnvFile)); err == nil && fi.Mode().Perm()&0o077 != 0 {
		add(EnvFile, "chmod 600 "+Abs(opts.Dir, EnvFile), "mode %04o lets other users read the secrets", fi.Mode().Perm())
	}
	data, err := d.Data()
	if err != nil {
		return nil, err
	}
	for _, e := range envEntries(data) {
		if _, ok := env[e.Key]; !ok && e.Later {
			add(EnvFile, "run `ipai stack init` (it adds missing keys and keeps the others)", "%s is missing", e.Key)
		} else if env[e.Key] == "" && !e.Later {
			add(EnvFile, "run `ipai stack init` (it adds missing keys and keeps the others)", "%s is missing or empty", e.Key)
		}
	}

	// Every ${VAR} the compose file and the hub's settings use is defined.
	for _, f := range []string{ComposeFile, "hub/ipai.yaml"} {
		text, err := os.ReadFile(Abs(opts.Dir, f))
		if err != nil {
			add(f, "run `ipai stack init` to write it", "%v", err)
			continue
		}
		for _, v := range undefinedVars(string(text), env) {
			add(f, "define it in "+EnvFile+" (or give a default as ${"+v+":-…})", "${%s} is not defined", v)
		}
	}

	p, err := loadProject(ctx, opts.Dir)
	if err != nil {
		add(ComposeFile, "fix the file (or move it away and run `ipai stack init` to write it anew)", "does not load: %v", err)
		return out, nil
	}
	for _, name := range p.ServiceNames() {
		s := p.Services[name]
		if s.Build != nil {
			continue
		}
		if !pinned(s.Image) {
			add(ComposeFile, "pin a version tag (e.g. name:1.2.3) or a digest (name@sha256:…)", "service %s runs %q, which is not pinned", name, s.Image)
		}
	}
	out = append(out, checkCaddy(opts.Dir, d, p)...)
	out = append(out, checkHub(ctx, opts, p)...)
	return out, nil
}

// loadProject loads the deployment's compose file as compose would.
func loadProject(ctx context.Context, dir string) (*types.Project, error) {
	o, err := cli.NewProjectOptions([]string{Abs(dir, ComposeFile)},
		cli.WithWorkingDirectory(Abs(dir, ProjectDir)),
		cli.WithEnvFiles(Abs(dir, EnvFile)),
		cli.WithDotEnv,
		cli.WithProfiles([]string{"init", "extended-init"}),
	)
	if err != nil {
		return nil, err
	}
	return o.LoadProject(ctx)
}

var varRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)(:?[-?][^}]*)?\}`)

// undefinedVars lists the ${VAR} references of text (not $${…}, not in
// comment lines) that have no value in env and no default.
func undefinedVars(text string, env map[string]string) []string {
	seen := map[string]bool{}
	var out []string
	for _, line := range strings.Split(text, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		for _, m := range varRef.FindAllStringSubmatchIndex(line, -1) {
			if m[0] > 0 && line[m[0]-1] == '$' {
				continue // $${…} is a literal
			}
			name := line[m[2]:m[3]]
			hasDefault := m[4] >= 0 && strings.Contains(line[m[4]:m[5]], "-")
			if env[name] == "" && !hasDefault && !seen[name] {
				seen[name] = true
				out = append(out, name)
			}
		}
	}
	sort.Strings(out)
	return out
}

// pinned reports whether an image reference names a version or digest.
func pinned(image string) bool {
	if strings.Contains(image, "@sha256:") {
		return true
	}
	name := image[strings.LastIndex(image, "/")+1:]
	_, tag, ok := strings.Cut(name, ":")
	return ok && tag != "" && tag != "latest"
}

var siteLine = regexp.MustCompile(`^([a-z0-9.-]+\.[a-z]{2,63}) \{$`)
var upstreamLine = regexp.MustCompile(`^reverse_proxy ([a-z0-9_-]+):(\d+)`)

// checkCaddy compares the Caddyfile's sites with the deployment's names and
// its upstreams with the compose services.
func checkCaddy(dir string, d Deployment, p *types.Project) []Finding {
	const file = "caddy/Caddyfile"
	f, err := os.Open(Abs(dir, file))
	if err != nil {
		return []Finding{{file, err.Error(), "run `ipai stack init` to write it"}}
	}
	defer f.Close()
	var out []Finding
	served := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if m := siteLine.FindStringSubmatch(l); m != nil {
			served[m[1]] = true
			if !strings.HasSuffix(m[1], "."+d.Domain) {
				out = append(out, Finding{file, fmt.Sprintf("site %s is not under the deployment's domain %s", m[1], d.Domain),
					"rename it, or run `ipai stack init --domain …` for the new domain"})
			}
		}
		if m := upstreamLine.FindStringSubmatch(l); m != nil {
			if _, ok := p.Services[m[1]]; !ok {
				out = append(out, Finding{file, fmt.Sprintf("reverse_proxy to %s:%s, but compose has no service %s", m[1], m[2], m[1]),
					"point it at a service of " + ComposeFile})
			}
		}
	}
	eds, err := d.Data()
	if err != nil {
		return append(out, Finding{file, err.Error(), "fix " + StateFile})
	}
	for _, s := range eds.Sites {
		if !served[s.Host] {
			out = append(out, Finding{file, fmt.Sprintf("%s (%s) is not served", s.Host, s.Name),
				"add its site block (`ipai stack init --force` regenerates an unedited Caddyfile)"})
		}
	}
	return out
}

// HubCommand turns the compose file's hub service into a command on this
// machine: its command line and environment, with the mounted config file's
// container path replaced by its path here. over replaces or adds
// variables (the differences of this machine: listen address, database
// host, data folder).
func HubCommand(ctx context.Context, p *types.Project, ipai string, over map[string]string, args ...string) (*exec.Cmd, error) {
	svc, ok := p.Services["hub"]
	if !ok {
		return nil, errors.New("the compose file has no hub service")
	}
	mounts := map[string]string{}
	for _, v := range svc.Volumes {
		if v.Type == types.VolumeTypeBind {
			mounts[v.Target] = v.Source
		}
	}
	if len(args) == 0 {
		args = svc.Command
	}
	cmd := exec.CommandContext(ctx, ipai, args...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + os.Getenv("HOME")}
	for k, v := range svc.Environment {
		if v == nil {
			return nil, fmt.Errorf("the hub's %s has no value", k)
		}
		val := *v
		if k == "IPAI_CONFIG" {
			if val = mounts[*v]; val == "" {
				return nil, fmt.Errorf("IPAI_CONFIG=%s is not a file mounted into the hub", *v)
			}
		}
		if o, ok := over[k]; ok {
			val = o
		}
		cmd.Env = append(cmd.Env, k+"="+val)
	}
	for k, v := range over {
		if _, ok := svc.Environment[k]; !ok {
			cmd.Env = append(cmd.Env, k+"="+v)
		}
	}
	return cmd, nil
}

// checkHub checks that the hub is handed only variables ipai reads (or its
// config names) and that its settings load as the hub would load them.
func checkHub(ctx context.Context, opts DoctorOptions, p *types.Project) []Finding {
	svc, ok := p.Services["hub"]
	if !ok {
		return []Finding{{ComposeFile, "no hub service", "run `ipai stack init --force` or restore the hub service"}}
	}
	var out []Finding
	cfgText, _ := os.ReadFile(Abs(opts.Dir, "hub/ipai.yaml"))
	for k := range svc.Environment {
		if _, known := config.Env[k]; strings.HasPrefix(k, "IPAI_") && !known && !strings.Contains(string(cfgText), "${"+k+"}") {
			out = append(out, Finding{ComposeFile, fmt.Sprintf("the hub is given %s, which ipai does not read", k),
				"remove it, or put the setting in hub/ipai.yaml"})
		}
	}
	bin := opts.IPAI
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return append(out, Finding{"hub/ipai.yaml", "cannot find the ipai binary to check it: " + err.Error(), "run doctor with the ipai binary"})
		}
	}
	cmd, err := HubCommand(ctx, p, bin, nil, "config", "check")
	if err != nil {
		return append(out, Finding{ComposeFile, err.Error(), "mount hub/ipai.yaml at the path IPAI_CONFIG names"})
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		out = append(out, Finding{"hub/ipai.yaml", "the hub's settings do not load: " + strings.TrimSpace(string(b)), "fix the key named"})
	}
	return out
}

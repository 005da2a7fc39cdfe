package stack

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// ErrNoDocker means docker (with its compose plugin) cannot run here.
var ErrNoDocker = errors.New("docker compose is not available")

// Runner runs `docker compose` for the deployment in Dir, always with the
// deployment's project directory, env file and compose file.
type Runner struct {
	Dir    string
	Docker string // docker binary; "" means docker from PATH
	Stdout io.Writer
	Stderr io.Writer
}

func (r Runner) docker() string {
	if r.Docker == "" {
		return "docker"
	}
	return r.Docker
}

// Args is the full argument list after the docker binary.
func (r Runner) Args(args ...string) []string {
	dir, _ := filepath.Abs(r.Dir)
	return append([]string{"compose",
		"--project-directory", Abs(dir, ProjectDir),
		"--env-file", Abs(dir, EnvFile),
		"-f", Abs(dir, ComposeFile)}, args...)
}

// Command builds the docker compose command (it does not check anything).
func (r Runner) Command(ctx context.Context, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, r.docker(), r.Args(args...)...)
	cmd.Stdout, cmd.Stderr = r.Stdout, r.Stderr
	return cmd
}

// Check reports why compose cannot run for this deployment, if it cannot.
func (r Runner) Check() error {
	for _, f := range []string{ComposeFile, EnvFile} {
		if _, err := os.Stat(Abs(r.Dir, f)); err != nil {
			return fmt.Errorf("%s not found: run `ipai stack init --dir %s --domain …` first (or pass the right --dir)", Abs(r.Dir, f), r.Dir)
		}
	}
	return CheckDocker(r.docker())
}

// CheckDocker reports a clear error when `docker compose` cannot run.
func CheckDocker(docker string) error {
	path, err := exec.LookPath(docker)
	if err != nil {
		return fmt.Errorf("%w: %s not found; install Docker Engine with the compose plugin (https://docs.docker.com/engine/install/)", ErrNoDocker, docker)
	}
	if out, err := exec.Command(path, "compose", "version").CombinedOutput(); err != nil {
		return fmt.Errorf("%w: `%s compose version` failed (%v: %s); install the docker compose plugin (Debian: apt-get install -y docker-compose-plugin)", ErrNoDocker, docker, err, firstLine(out))
	}
	return nil
}

func firstLine(b []byte) string {
	for i, c := range b {
		if c == '\n' {
			return string(b[:i])
		}
	}
	return string(b)
}

// Run checks the deployment and docker, then runs docker compose args….
func (r Runner) Run(ctx context.Context, args ...string) error {
	if err := r.Check(); err != nil {
		return err
	}
	if err := r.Command(ctx, args...).Run(); err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return &ExitError{Code: ee.ExitCode(), Cmd: "docker compose " + args[0]}
		}
		return fmt.Errorf("docker compose %s: %w", args[0], err)
	}
	return nil
}

// ExitError is a docker compose command that exited non-zero.
type ExitError struct {
	Code int
	Cmd  string
}

func (e *ExitError) Error() string { return e.Cmd + " exited with status " + strconv.Itoa(e.Code) }

// UpArgs starts everything and waits until every container is healthy.
func UpArgs(waitSeconds int) []string {
	return []string{"up", "--detach", "--remove-orphans", "--wait", "--wait-timeout", strconv.Itoa(waitSeconds)}
}

// LogsArgs follows the logs of one service or all.
func LogsArgs(service string, follow bool, tail int) []string {
	a := []string{"logs", "--tail", strconv.Itoa(tail)}
	if follow {
		a = append(a, "--follow")
	}
	if service != "" {
		a = append(a, service)
	}
	return a
}

// ExecArgs runs a command in a running service without a TTY.
func ExecArgs(service string, cmd ...string) []string {
	return append([]string{"exec", "-T", service}, cmd...)
}

// LoadDeployment reads what init recorded about the deployment in dir.
func LoadDeployment(dir string) (Deployment, error) {
	st, err := readState(dir)
	if err != nil {
		return Deployment{}, err
	}
	d := Deployment{Domain: st.Domain, TZ: st.TZ, Email: st.Email, Editions: st.Editions}
	if d.Domain == "" {
		if env, err := ReadEnv(dir); err == nil {
			d.Domain = env["DOMAIN"]
		}
	}
	if d.Domain == "" {
		return d, fmt.Errorf("no deployment in %s (no %s): run `ipai stack init --dir %s --domain …`, or pass --dir", dir, StateFile, dir)
	}
	if len(d.Editions) == 0 {
		d.Editions = []string{"core"}
	}
	return d, nil
}

package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// scripts/bench refuses what it cannot run, before building anything, with
// a message saying what is wrong and what to do, and a non-zero exit.
func TestScriptRefusesWhatItCannotRun(t *testing.T) {
	// A PATH with bash and the coreutils but no go.
	noGo := t.TempDir()
	for _, tool := range []string{"bash", "sed", "id", "ls", "realpath", "dirname", "basename", "env"} {
		p, err := exec.LookPath(tool)
		if err != nil {
			t.Fatalf("%s: %v", tool, err)
		}
		if err := os.Symlink(p, filepath.Join(noGo, tool)); err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range []struct {
		name string
		args []string
		path string
		want string
	}{
		{"unknown row", []string{"--only", "speed"}, "", "--only speed: expected one of ingest, deliver, latency, recovery, startup, n8n"},
		{"zero rounds", []string{"--rounds", "0"}, "", "--rounds needs a whole number of 1 or more"},
		{"unknown flag", []string{"--fast"}, "", "unknown argument: --fast"},
		{"no Go", nil, noGo, "the Go toolchain (go) is not on PATH: install Go"},
	} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command("bash", append([]string{"../scripts/bench"}, c.args...)...)
			if c.path != "" {
				cmd = exec.Command(filepath.Join(c.path, "bash"), append([]string{"../scripts/bench"}, c.args...)...)
				cmd.Env = append(os.Environ(), "PATH="+c.path)
			}
			out, err := cmd.CombinedOutput()
			ee, ok := err.(*exec.ExitError)
			if !ok || ee.ExitCode() == 0 {
				t.Fatalf("exit: %v; want non-zero\n%s", err, out)
			}
			if !strings.Contains(string(out), c.want) {
				t.Fatalf("output %q; want it to say %q", out, c.want)
			}
			if strings.Contains(string(out), "building") {
				t.Fatalf("built before refusing:\n%s", out)
			}
		})
	}
}

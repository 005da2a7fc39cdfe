package stack

import (
	"bufio"
	"context"
	"debug/elf"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/compose-spec/compose-go/v2/types"
	"github.com/jackc/pgx/v5"

	"github.com/insightpulseai/ipai/internal/testpg"
	"github.com/insightpulseai/ipai/internal/testproc"
)

func TestMain(m *testing.M) { testpg.Main(m) }

// instruction is one Dockerfile instruction, continuation lines joined.
type instruction struct {
	cmd  string // upper case
	args string
}

// stages parses the repository's Dockerfile into its stages.
func stages(t *testing.T) [][]instruction {
	t.Helper()
	f, err := os.Open(filepath.Join(FindHubSource("."), "Dockerfile"))
	if err != nil {
		t.Fatalf("the repository has no Dockerfile: %v", err)
	}
	defer f.Close()
	var out [][]instruction
	var line string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if l == "" || strings.HasPrefix(l, "#") {
			continue
		}
		if strings.HasSuffix(l, "\\") {
			line += strings.TrimSuffix(l, "\\") + " "
			continue
		}
		line += l
		cmd, args, _ := strings.Cut(line, " ")
		line = ""
		in := instruction{strings.ToUpper(cmd), strings.TrimSpace(args)}
		if in.cmd == "FROM" {
			out = append(out, nil)
		}
		if len(out) == 0 {
			t.Fatalf("Dockerfile: %s before the first FROM", in.cmd)
		}
		out[len(out)-1] = append(out[len(out)-1], in)
	}
	return out
}

func find(st []instruction, cmd string) []string {
	var args []string
	for _, in := range st {
		if in.cmd == cmd {
			args = append(args, in.args)
		}
	}
	return args
}

// execForm decodes an exec-form (JSON array) argument.
func execForm(t *testing.T, what, s string) []string {
	t.Helper()
	var v []string
	if err := json.Unmarshal([]byte(s), &v); err != nil {
		t.Fatalf("Dockerfile %s %s is not in exec form (the final image has no shell): %v", what, s, err)
	}
	return v
}

// TestDockerfileBuildsAStaticNonRootHub checks what can be checked of the
// Dockerfile without a Docker engine: a Go build stage on the toolchain of
// go.mod, a final stage with no shell that runs as a non-root user, the
// binary as entrypoint and its own probe as health check.
func TestDockerfileBuildsAStaticNonRootHub(t *testing.T) {
	st := stages(t)
	if len(st) != 2 {
		t.Fatalf("Dockerfile has %d stages, want 2 (build, run)", len(st))
	}
	build, run := st[0], st[1]
	from := find(build, "FROM")[0]
	mod, _ := os.ReadFile(filepath.Join(FindHubSource("."), "go.mod"))
	goVer := regexp.MustCompile(`(?m)^go (\d+\.\d+)`).FindSubmatch(mod)
	if goVer == nil || !strings.HasPrefix(from, "golang:"+string(goVer[1])) || !strings.HasSuffix(from, " AS build") {
		t.Errorf("build stage FROM %q: want golang:%s… AS build (go.mod's toolchain)", from, goVer[1])
	}
	if base := find(run, "FROM")[0]; !strings.HasPrefix(base, "gcr.io/distroless/static") {
		t.Errorf("final stage FROM %q: want a distroless static base (no shell, no package manager)", base)
	}
	if r := find(run, "RUN"); len(r) != 0 {
		t.Errorf("final stage RUNs %q: it has no shell to run them", r)
	}
	user := find(run, "USER")
	if len(user) != 1 || strings.HasPrefix(user[0], "0") || strings.HasPrefix(user[0], "root") {
		t.Errorf("final stage USER %q: want one non-root user", user)
	}
	ep := find(run, "ENTRYPOINT")
	if len(ep) != 1 || strings.Join(execForm(t, "ENTRYPOINT", ep[0]), " ") != "/usr/local/bin/ipai" {
		t.Errorf("ENTRYPOINT %q: want [\"/usr/local/bin/ipai\"]", ep)
	}
	if cmd := find(run, "CMD"); len(cmd) != 1 || strings.Join(execForm(t, "CMD", cmd[0]), " ") != "serve" {
		t.Errorf("CMD %q: want [\"serve\"]", cmd)
	}
	hc := find(run, "HEALTHCHECK")
	if len(hc) != 1 {
		t.Fatalf("final stage has %d HEALTHCHECKs, want 1", len(hc))
	}
	_, probe, ok := strings.Cut(hc[0], "CMD ")
	if !ok || !strings.HasPrefix(strings.Join(execForm(t, "HEALTHCHECK", probe), " "), "/usr/local/bin/ipai stack probe http://127.0.0.1:8080/") {
		t.Errorf("HEALTHCHECK %q: want the binary's own `ipai stack probe`", hc[0])
	}
	copied := false
	for _, c := range find(run, "COPY") {
		copied = copied || c == "--from=build /out/ipai /usr/local/bin/ipai"
	}
	if !copied {
		t.Errorf("final stage does not copy /out/ipai from the build stage: %q", find(run, "COPY"))
	}
	// The build step itself runs here: a static binary (the final stage has
	// no C library).
	bin := hubBinary(t)
	f, err := elf.Open(bin)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	for _, p := range f.Progs {
		if p.Type == elf.PT_INTERP {
			t.Errorf("the Dockerfile's build step makes a dynamically linked binary: it cannot run on distroless/static")
		}
	}
	// The image's context has no .git: the VERSION argument names the build.
	if out, err := exec.Command(bin, "version").CombinedOutput(); err != nil || !strings.Contains(string(out), stampedVersion) {
		t.Errorf("ipai version of the image's binary = %q (%v), want the VERSION build argument %s", out, err, stampedVersion)
	}
}

// stampedVersion is the VERSION build argument the test builds with.
const stampedVersion = "v0.0.0-dockerfile-test"

var (
	hubOnce sync.Once
	hubBin  string
	hubErr  error
)

// hubBinary runs the Dockerfile's `go build` step (the build stage's RUN
// line), with /out/ moved to a temporary folder, once per test binary.
func hubBinary(t *testing.T) string {
	t.Helper()
	var step string
	for _, r := range find(stages(t)[0], "RUN") {
		if strings.Contains(r, "go build") {
			step = r
		}
	}
	hubOnce.Do(func() {
		if step == "" {
			hubErr = fmt.Errorf("the Dockerfile's build stage has no RUN … go build")
			return
		}
		dir, err := os.MkdirTemp("", "ipai-hub-")
		if err != nil {
			hubErr = err
			return
		}
		hubBin = filepath.Join(dir, "ipai")
		cmd := exec.Command("sh", "-c", strings.ReplaceAll(step, "/out/", dir+"/"))
		cmd.Dir = FindHubSource(".")
		cmd.Env = append(os.Environ(), "VERSION="+stampedVersion) // the build ARG
		if out, err := cmd.CombinedOutput(); err != nil {
			hubErr = fmt.Errorf("%s: %v\n%s", step, err, out)
		}
	})
	if hubErr != nil {
		t.Fatal(hubErr)
	}
	return hubBin
}

// TestGeneratedHubServiceRuns runs the ipai binary exactly as the generated
// compose file's hub service says, for the default and the three-edition
// deployment, and checks that every setting takes effect.
func TestGeneratedHubServiceRuns(t *testing.T) {
	bin := hubBinary(t)
	for _, editions := range [][]string{nil, AllEditions} {
		t.Run(fmt.Sprint(len(editions), "editions"), func(t *testing.T) {
			dir, _ := initDir(t, InitOptions{Domain: "example.com", Editions: editions})
			env, err := ReadEnv(dir)
			if err != nil {
				t.Fatal(err)
			}
			p := loadCompose(t, dir)
			// Every IPAI_* variable is one ipai reads, or one the mounted
			// config names as ${VAR}; the settings load.
			if f := checkHub(context.Background(), DoctorOptions{Dir: dir, IPAI: bin}, p); len(f) != 0 {
				t.Errorf("hub service: %v", f)
			}

			// The settings ipai derives from exactly this environment.
			show, err := HubCommand(context.Background(), p, bin, nil, "config", "show")
			if err != nil {
				t.Fatal(err)
			}
			out, err := show.CombinedOutput()
			if err != nil {
				t.Fatalf("ipai config show: %v\n%s", err, out)
			}
			for _, want := range []string{
				"public_url: https://ipai.example.com\n",
				"listen: :8080\n",
				"data_dir: /data\n",
				"database.url: postgres://ipai:xxxxx@postgres:5432/ipai?sslmode=disable\n",
				"ui.oidc.issuer: https://auth.example.com/realms/ipai\n",
				"ui.oidc.client_id: ipai-hub\n",
				"ui.oidc.client_secret: (set)\n",
			} {
				if !strings.Contains(string(out), want) {
					t.Errorf("ipai config show lacks %q:\n%s", want, out)
				}
			}
			for _, k := range []string{"IPAI_OIDC_CLIENT_SECRET", "IPAI_DB_PASSWORD", "IPAI_MASTER_KEY"} {
				if env[k] == "" || strings.Contains(string(out), env[k]) {
					t.Errorf("%s is empty in .env or printed by config show", k)
				}
			}
			for _, v := range p.Services["hub"].Volumes {
				if v.Target == "/data" && v.Type != types.VolumeTypeVolume {
					t.Errorf("the hub's data must be a named volume at /data, not %s", v.Type)
				}
			}

			// serve, with the database host and the data volume of this
			// machine: the role and password are the deployment's own.
			pg := testpg.Get(t)
			db := fmt.Sprintf("ipai_hub_%d", time.Now().UnixNano())
			for _, sql := range []string{
				"DO $$BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='ipai') THEN CREATE ROLE ipai LOGIN; END IF; END$$",
				"ALTER ROLE ipai PASSWORD '" + env["IPAI_DB_PASSWORD"] + "'",
				"CREATE DATABASE " + db + " OWNER ipai",
			} {
				if err := pg.Exec(sql); err != nil {
					t.Fatal(err)
				}
			}
			t.Cleanup(func() { _ = pg.Exec("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)") })
			admin, _ := url.Parse(pg.DatabaseURL(db))
			dbURL := "postgres://ipai:" + env["IPAI_DB_PASSWORD"] + "@" + admin.Host + "/" + db + "?sslmode=disable"
			addr := freeAddr(t)
			cmd, err := HubCommand(context.Background(), p, bin, map[string]string{
				"IPAI_DATABASE_URL": dbURL,
				"IPAI_LISTEN":       addr,
				"IPAI_DATA_DIR":     t.TempDir(),
			})
			if err != nil {
				t.Fatal(err)
			}
			logs := &testproc.Buffer{}
			cmd.Stdout, cmd.Stderr = logs, logs
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
			base := "http://" + addr
			waitReady(t, base+"/readyz", logs)
			resp, err := http.Get(base + "/login")
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if !strings.Contains(string(page), `href="/auth/oidc/login`) || !strings.Contains(string(page), "Sign in with Keycloak") {
				t.Errorf("the sign-in page offers no Keycloak sign-in:\n%s", page)
			}
			// The hub's schema is in the deployment's database, owned by ipai.
			conn, err := pgx.Connect(context.Background(), dbURL)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close(context.Background())
			var n int
			if err := conn.QueryRow(context.Background(),
				"SELECT count(*) FROM pg_tables WHERE schemaname = current_schema() AND tableowner = 'ipai'").Scan(&n); err != nil || n == 0 {
				t.Errorf("no tables of the hub in %s (err %v)", db, err)
			}
			// The stack's connectors are declared from day one, also those
			// whose secrets `ipai stack connect` creates later (empty now).
			want := []string{"boards", "chat", "keycloak", "n8n", "superset"}
			for _, e := range editions {
				want = append(want, "odoo-"+e)
			}
			if len(editions) == 0 {
				want = append(want, "odoo-core")
			}
			rows, err := conn.Query(context.Background(), "SELECT code FROM connectors WHERE managed ORDER BY code")
			if err != nil {
				t.Fatal(err)
			}
			got, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				t.Fatal(err)
			}
			sort.Strings(want)
			if strings.Join(got, " ") != strings.Join(want, " ") {
				t.Errorf("managed connectors %q, want %q", got, want)
			}
		})
	}
}

func freeAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

func waitReady(t *testing.T, u string, logs fmt.Stringer) {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if resp, err := http.Get(u); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s not ready within 60 s; hub log:\n%s", u, logs)
}

// Package testkc gives tests a real Keycloak: the dist installed by
// scripts/test.d/keycloak.sh (cached in ~/.cache/ipai/keycloak), started once
// per test binary (`kc.sh start --optimized`, built once by the install
// script with the file database of start-dev) on free loopback ports, a throwaway
// home (its own data and build directories) and the realm files the tests
// give imported with --import-realm. Tests never skip for want of Keycloak:
// they fail and say how to install it.
//
// A package that uses it calls testkc.Main from its TestMain so Keycloak is
// stopped when the tests end:
//
//	func TestMain(m *testing.M) { testkc.Main(m) }
package testkc

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/testproc"
)

// Version is the Keycloak that scripts/keycloak-install.sh installs.
const Version = "26.7.3"

// Admin credentials of the master realm's bootstrap admin.
const (
	AdminUser     = "admin"
	AdminPassword = "testkc-admin-password"
)

// installHint says how to get the Keycloak these tests need.
const installHint = "run scripts/test.d/keycloak.sh (installs Keycloak " + Version + " into ~/.cache/ipai/keycloak; needs java 17+), " +
	"or set IPAI_KEYCLOAK_HOME to the directory holding keycloak-" + Version

// Options say what the shared Keycloak starts with. The first Get decides.
type Options struct {
	// Realms are realm files to import at start (file name → JSON), as
	// Keycloak reads them from data/import: ${VAR}s in them are replaced
	// from the environment.
	Realms map[string][]byte
	// Env is added to Keycloak's environment (e.g. a secret a realm file
	// names as ${VAR}).
	Env []string
}

// Server is a running Keycloak.
type Server struct {
	// URL is the base URL of the HTTP listener (no /auth prefix).
	URL string
	// ManagementURL serves /health/ready.
	ManagementURL string
	// StartTime is how long the start took until ready.
	StartTime time.Duration

	home string
	cmd  *exec.Cmd
	log  *bytes.Buffer
	done chan struct{}
}

var shared testproc.Shared[*Server]

// Main runs the tests and stops Keycloak afterwards, if one was started.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main without the exit, for a TestMain with its own cleanup.
func Run(m *testing.M) int {
	code := m.Run()
	shared.Stop()
	return code
}

// Get returns the shared Keycloak, starting it with opts on first use. It
// fails the test (never skips) when Keycloak cannot be had.
func Get(t testing.TB, opts Options) *Server {
	t.Helper()
	s, err := shared.Get(func() (*Server, error) { return start(opts) })
	if err != nil {
		t.Fatalf("testkc: %v", err)
	}
	return s
}

// Dist returns the Keycloak installation directory, or an error with the
// install hint.
func Dist() (string, error) {
	base := testproc.CacheDir("IPAI_KEYCLOAK_HOME", "keycloak")
	dir := filepath.Join(base, "keycloak-"+Version)
	if _, err := os.Stat(filepath.Join(dir, "bin", "kc.sh")); err != nil {
		return "", fmt.Errorf("Keycloak %s is not installed in %s: %s", Version, base, installHint)
	}
	if _, err := exec.LookPath("java"); err != nil {
		return "", fmt.Errorf("no java on PATH: %s", installHint)
	}
	return dir, nil
}

func start(opts Options) (*Server, error) {
	dist, err := Dist()
	if err != nil {
		return nil, err
	}
	home, err := os.MkdirTemp("", "ipai-testkc-")
	if err != nil {
		return nil, err
	}
	// A home of our own: kc.sh resolves its directory with readlink -f, so
	// bin/ is copied; the read-only parts are links into the dist, and the
	// build (lib/quarkus, rewritten by start-dev) and data directories are
	// this run's.
	if err := os.MkdirAll(filepath.Join(home, "bin"), 0o755); err != nil {
		return nil, err
	}
	if err := copyDir(filepath.Join(dist, "bin"), filepath.Join(home, "bin")); err != nil {
		return nil, err
	}
	for _, d := range []string{"conf", "providers", "themes"} {
		if err := os.Symlink(filepath.Join(dist, d), filepath.Join(home, d)); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(home, "lib"), 0o755); err != nil {
		return nil, err
	}
	for _, d := range []string{"app", "lib"} {
		if err := os.Symlink(filepath.Join(dist, "lib", d), filepath.Join(home, "lib", d)); err != nil {
			return nil, err
		}
	}
	if err := os.MkdirAll(filepath.Join(home, "lib", "quarkus"), 0o755); err != nil {
		return nil, err
	}
	if err := copyDir(filepath.Join(dist, "lib", "quarkus"), filepath.Join(home, "lib", "quarkus")); err != nil {
		return nil, err
	}
	if err := copyFile(filepath.Join(dist, "lib", "quarkus-run.jar"), filepath.Join(home, "lib", "quarkus-run.jar")); err != nil {
		return nil, err
	}
	imp := filepath.Join(home, "data", "import")
	if err := os.MkdirAll(imp, 0o755); err != nil {
		return nil, err
	}
	for name, data := range opts.Realms {
		if err := os.WriteFile(filepath.Join(imp, name), data, 0o600); err != nil {
			return nil, err
		}
	}
	port, err := testproc.FreePort()
	if err != nil {
		return nil, err
	}
	mport, err := testproc.FreePort()
	if err != nil {
		return nil, err
	}
	s := &Server{URL: "http://127.0.0.1:" + strconv.Itoa(port), ManagementURL: "http://127.0.0.1:" + strconv.Itoa(mport),
		home: home, log: &bytes.Buffer{}, done: make(chan struct{})}
	// The server scripts/keycloak-install.sh built (file database, health
	// endpoints), started without a rebuild: start-dev would rebuild on every
	// start, which takes minutes on a busy machine.
	args := []string{"start", "--optimized", "--http-enabled=true", "--http-host=127.0.0.1", "--http-port=" + strconv.Itoa(port),
		"--http-management-port=" + strconv.Itoa(mport), "--hostname-strict=false"}
	if len(opts.Realms) > 0 {
		args = append(args, "--import-realm")
	}
	cmd := exec.Command(filepath.Join(home, "bin", "kc.sh"), args...)
	cmd.Dir = home
	cmd.Env = append(os.Environ(), "KC_BOOTSTRAP_ADMIN_USERNAME="+AdminUser, "KC_BOOTSTRAP_ADMIN_PASSWORD="+AdminPassword,
		// Small heap: the suite runs beside other test binaries.
		"JAVA_OPTS_KC_HEAP=-XX:MaxRAMPercentage=20 -XX:InitialRAMPercentage=5", "KC_LOG_CONSOLE_COLOR=false")
	cmd.Env = append(cmd.Env, opts.Env...)
	cmd.Stdout, cmd.Stderr = &lockedWriter{b: s.log}, &lockedWriter{b: s.log}
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	began := time.Now()
	if err := cmd.Start(); err != nil {
		os.RemoveAll(home)
		return nil, fmt.Errorf("start %s: %v (%s)", cmd.Path, err, installHint)
	}
	s.cmd = cmd
	go func() { _ = cmd.Wait(); close(s.done) }()
	deadline := 6 * time.Minute
	if v, err := time.ParseDuration(os.Getenv("IPAI_TESTKC_START_TIMEOUT")); err == nil {
		deadline = v
	}
	if err := s.waitReady(deadline); err != nil {
		log := s.Log()
		s.Stop()
		return nil, fmt.Errorf("Keycloak did not become ready: %v\n--- Keycloak log (tail) ---\n%s", err, tail(log, 60))
	}
	s.StartTime = time.Since(began)
	return s, nil
}

func (s *Server) waitReady(limit time.Duration) error {
	deadline := time.Now().Add(limit)
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-s.done:
			return errors.New("kc.sh exited during start")
		default:
		}
		resp, err := hc.Get(s.ManagementURL + "/health/ready")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("not ready after %s (last: %v)", limit, err)
		}
		select {
		case <-s.done:
			return errors.New("kc.sh exited during start")
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// Log returns what Keycloak printed so far.
func (s *Server) Log() string {
	logMu.Lock()
	defer logMu.Unlock()
	return s.log.String()
}

// Issuer is the OIDC issuer of realm.
func (s *Server) Issuer(realm string) string { return s.URL + "/realms/" + realm }

// PID is the process id of the Keycloak JVM's process group leader.
func (s *Server) PID() int { return s.cmd.Process.Pid }

// Stop ends Keycloak and removes its home.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		testproc.StopGroup(s.cmd.Process.Pid, s.done, 20*time.Second)
	}
	_ = os.RemoveAll(s.home)
}

// AdminToken gets an access token of the master realm's admin (admin-cli).
func (s *Server) AdminToken(ctx context.Context) (string, error) {
	form := url.Values{"grant_type": {"password"}, "client_id": {"admin-cli"}, "username": {AdminUser}, "password": {AdminPassword}}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/realms/master/protocol/openid-connect/token", strings.NewReader(form.Encode()))
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	var tok struct {
		AccessToken string `json:"access_token"`
	}
	if err := do(req, &tok); err != nil {
		return "", fmt.Errorf("admin token: %w", err)
	}
	return tok.AccessToken, nil
}

// Admin calls the admin REST API (path below /admin/realms) as the master
// admin with a JSON body (nil for none) and decodes a JSON answer into out
// (nil to ignore). It returns the Location header of a 201.
func (s *Server) Admin(ctx context.Context, method, path string, body, out any) (string, error) {
	tok, err := s.AdminToken(ctx)
	if err != nil {
		return "", err
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return "", err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, s.URL+"/admin/realms"+path, rd)
	if err != nil {
		return "", err
	}
	req.Header.Set("Authorization", "Bearer "+tok)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		return "", fmt.Errorf("%s %s: %s: %s", method, path, resp.Status, b)
	}
	if out != nil && len(b) > 0 {
		if err := json.Unmarshal(b, out); err != nil {
			return "", fmt.Errorf("%s %s: %v: %s", method, path, err, b)
		}
	}
	return resp.Header.Get("Location"), nil
}

// User is a realm user to create.
type User struct {
	Username, Password, Email, FirstName, LastName string
	RealmRoles                                     []string
}

// AddUser creates a user in realm with a password and realm roles, and
// returns its id.
func (s *Server) AddUser(ctx context.Context, realm string, u User) (string, error) {
	loc, err := s.Admin(ctx, http.MethodPost, "/"+realm+"/users", map[string]any{"username": u.Username, "enabled": true,
		"email": u.Email, "emailVerified": true, "firstName": u.FirstName, "lastName": u.LastName,
		"credentials": []map[string]any{{"type": "password", "value": u.Password, "temporary": false}}}, nil)
	if err != nil {
		return "", err
	}
	id := loc[strings.LastIndex(loc, "/")+1:]
	if len(u.RealmRoles) > 0 {
		var roles []map[string]any
		for _, r := range u.RealmRoles {
			var role map[string]any
			if _, err := s.Admin(ctx, http.MethodGet, "/"+realm+"/roles/"+url.PathEscape(r), nil, &role); err != nil {
				return "", err
			}
			roles = append(roles, role)
		}
		if _, err := s.Admin(ctx, http.MethodPost, "/"+realm+"/users/"+id+"/role-mappings/realm", roles, nil); err != nil {
			return "", err
		}
	}
	return id, nil
}

func do(req *http.Request, out any) error {
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		return fmt.Errorf("%s: %s", resp.Status, b)
	}
	return json.Unmarshal(b, out)
}

var logMu sync.Mutex

type lockedWriter struct{ b *bytes.Buffer }

func (w *lockedWriter) Write(p []byte) (int, error) {
	logMu.Lock()
	defer logMu.Unlock()
	return w.b.Write(p)
}

func copyDir(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		if err := copyFile(filepath.Join(src, e.Name()), filepath.Join(dst, e.Name())); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	info, err := os.Stat(src)
	if err != nil {
		return err
	}
	return os.WriteFile(dst, b, info.Mode().Perm())
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// RSS is the resident memory of Keycloak's processes (the kc.sh process
// group), in bytes, read from /proc (Linux).
func (s *Server) RSS() (int64, error) {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, err
	}
	var total int64
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		stat, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp …; comm may hold spaces.
		f := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
		if len(f) < 3 || f[2] != strconv.Itoa(s.PID()) {
			continue
		}
		total += testproc.VmRSS(pid) << 10
	}
	return total, nil
}

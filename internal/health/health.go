// Package health checks every active connector on an interval, keeps the
// last results per connector, and decides when a connector is up or down:
// down after 3 consecutive failures, up again after 2 consecutive
// successes (the first result sets the state directly). Time comes from an
// injectable Clock so tests run without sleeping.
package health

import (
	"context"
	"sort"
	"sync"
	"time"

	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/loop"
)

// Defaults.
const (
	DefaultInterval    = 60 * time.Second
	DefaultConcurrency = 4
	HistorySize        = 100
	FailuresToDown     = 3
	SuccessesToUp      = 2
)

// States.
const (
	StateUnknown = "unknown"
	StateUp      = "up"
	StateDown    = "down"
)

// Clock is the time source of the results' timestamps.
type Clock interface {
	Now() time.Time
}

type realClock struct{}

func (realClock) Now() time.Time { return time.Now() }

// Target is one connector to check.
type Target struct {
	Code, Type string
	Conn       connector.Connector
}

// Result is one check's outcome.
type Result struct {
	At        time.Time `json:"at"`
	OK        bool      `json:"ok"`
	LatencyMS int64     `json:"latency_ms"`
	Version   string    `json:"version,omitempty"`
	Error     string    `json:"error,omitempty"`
}

// Status is a connector's health.
type Status struct {
	Code          string    `json:"code"`
	Type          string    `json:"type"`
	State         string    `json:"state"`
	LatencyMS     int64     `json:"latency_ms"`
	Version       string    `json:"version,omitempty"`
	LastError     string    `json:"last_error,omitempty"`
	LastCheck     time.Time `json:"last_check"`
	Uptime        float64   `json:"uptime"` // share of OK results in the history, 0..1
	Checks        int       `json:"checks"`
	ConsecFails   int       `json:"consecutive_failures"`
	ConsecSuccess int       `json:"consecutive_successes"`
}

// Runner runs the checks.
type Runner struct {
	// Targets lists the connectors to check (called before each round).
	Targets     func(ctx context.Context) ([]Target, error)
	Interval    time.Duration
	Timeout     time.Duration
	Concurrency int
	Clock       Clock
	// OnResult, when set, is called after each check (e.g. to persist it).
	OnResult func(t Target, r Result, s Status)
	// OnChange, when set, is called when a connector goes up or down.
	OnChange func(s Status)

	mu    sync.Mutex
	state map[string]*entry
}

type entry struct {
	status  Status
	history []Result // ring, oldest first
}

func (r *Runner) clock() Clock {
	if r.Clock == nil {
		return realClock{}
	}
	return r.Clock
}

// Run checks every target each Interval until ctx ends.
func (r *Runner) Run(ctx context.Context) error {
	iv := r.Interval
	if iv <= 0 {
		iv = DefaultInterval
	}
	loop.Every(ctx, 0, iv, func(ctx context.Context) { _ = r.RunOnce(ctx) })
	return ctx.Err()
}

// RunOnce checks every target once, concurrently (at most Concurrency at a time).
func (r *Runner) RunOnce(ctx context.Context) error {
	targets, err := r.Targets(ctx)
	if err != nil {
		return err
	}
	conns := make([]connector.Connector, len(targets))
	for i, t := range targets {
		conns[i] = t.Conn
	}
	lim := r.Concurrency
	if lim <= 0 {
		lim = DefaultConcurrency
	}
	reports := connector.TestMany(ctx, conns, r.Timeout, lim)
	for i, rep := range reports {
		res := Result{At: r.clock().Now(), OK: rep.OK, LatencyMS: rep.LatencyMS, Version: rep.Version}
		if !rep.OK {
			res.Error = rep.Error()
		}
		r.Record(targets[i], res)
	}
	r.prune(targets)
	return nil
}

// prune forgets connectors that are no longer targets.
func (r *Runner) prune(targets []Target) {
	keep := map[string]bool{}
	for _, t := range targets {
		keep[t.Code] = true
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for code := range r.state {
		if !keep[code] {
			delete(r.state, code)
		}
	}
}

// Record adds a result and applies the up/down rules.
func (r *Runner) Record(t Target, res Result) Status {
	r.mu.Lock()
	if r.state == nil {
		r.state = map[string]*entry{}
	}
	e := r.state[t.Code]
	if e == nil {
		e = &entry{status: Status{Code: t.Code, State: StateUnknown}}
		r.state[t.Code] = e
	}
	e.status.Type = t.Type
	e.history = append(e.history, res)
	if len(e.history) > HistorySize {
		e.history = e.history[len(e.history)-HistorySize:]
	}
	s := &e.status
	prev := s.State
	if res.OK {
		s.ConsecSuccess++
		s.ConsecFails = 0
		if s.Version = res.Version; s.State == StateUnknown || s.ConsecSuccess >= SuccessesToUp {
			s.State = StateUp
		}
	} else {
		s.ConsecFails++
		s.ConsecSuccess = 0
		s.LastError = res.Error
		if s.State == StateUnknown || s.ConsecFails >= FailuresToDown {
			s.State = StateDown
		}
	}
	s.LatencyMS, s.LastCheck = res.LatencyMS, res.At
	ok := 0
	for _, h := range e.history {
		if h.OK {
			ok++
		}
	}
	s.Checks = len(e.history)
	s.Uptime = float64(ok) / float64(len(e.history))
	out := *s
	r.mu.Unlock()
	if r.OnResult != nil {
		r.OnResult(t, res, out)
	}
	if prev != out.State && r.OnChange != nil {
		r.OnChange(out)
	}
	return out
}

// Statuses returns every connector's status, sorted by code.
func (r *Runner) Statuses() []Status {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]Status, 0, len(r.state))
	for _, e := range r.state {
		out = append(out, e.status)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Code < out[j].Code })
	return out
}

// History returns a connector's results, oldest first.
func (r *Runner) History(code string) []Result {
	r.mu.Lock()
	defer r.mu.Unlock()
	if e := r.state[code]; e != nil {
		return append([]Result(nil), e.history...)
	}
	return nil
}

// AnyDown reports whether any status is down.
func AnyDown(ss []Status) bool {
	for _, s := range ss {
		if s.State == StateDown {
			return true
		}
	}
	return false
}

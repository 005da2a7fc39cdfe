package connector

import (
	"context"
	"errors"
	"strings"
	"time"
)

// Check names used in reports.
const (
	CheckReachable = "reachable"
	CheckAuth      = "auth"
	CheckVersion   = "version"
)

// Connector states.
const (
	StateDraft   = "draft"
	StateTesting = "testing"
	StateActive  = "active"
	StateError   = "error"
)

// Check is one finding of a Test Connection.
type Check struct {
	Name   string `json:"name"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
}

// Report is the result of a Test Connection.
type Report struct {
	OK        bool    `json:"ok"`
	State     string  `json:"state"`
	Version   string  `json:"version"`
	LatencyMS int64   `json:"latency_ms"`
	Checks    []Check `json:"checks"`
	// Err is the first failure (nil when OK); not serialised.
	Err error `json:"-"`
}

// Error returns the first failing check as "name: detail", or "".
func (r Report) Error() string {
	for _, c := range r.Checks {
		if !c.OK {
			return c.Name + ": " + c.Detail
		}
	}
	if !r.OK {
		return "no check ran"
	}
	return ""
}

// Probe collects the findings of one Test Connection.
type Probe struct {
	checks  []Check
	version string
	err     error
}

// Pass records a passing check.
func (p *Probe) Pass(name, detail string) {
	p.checks = append(p.checks, Check{Name: name, OK: true, Detail: detail})
}

// Fail records a failing check; the detail is err's message.
func (p *Probe) Fail(name string, err error) {
	if p.err == nil {
		p.err = err
	}
	p.checks = append(p.checks, Check{Name: name, OK: false, Detail: OneLine(err.Error())})
}

// OneLine returns s on one line: runs of white space (newlines and tabs
// included, as services put in their error messages) become one space,
// and the ends are trimmed. Stored as a connector's last error, it keeps
// tables and logs one row a connector.
func OneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// Version records the version the service reported.
func (p *Probe) Version(v string) { p.version = v }

// RequireVersion records the version check of a service that reported
// found: it fails when found cannot be read or is older than min (need
// names the minimum in the message), and passes as "<service> <found>".
func (p *Probe) RequireVersion(service, found string, min Version, need string) {
	v, err := ParseVersion(found)
	if err != nil {
		p.Fail(CheckVersion, err)
		return
	}
	if v.Less(min) {
		p.Fail(CheckVersion, Incompatible(service, found, need))
		return
	}
	p.Pass(CheckVersion, service+" "+found)
}

// Failed reports whether any check failed so far.
func (p *Probe) Failed() bool { return p.err != nil }

// Test runs c's Test Connection bounded by timeout (DefaultTimeout when
// zero) and returns its report. It never takes much longer than timeout: a
// connector that ignores its context is abandoned and reported as timed out.
func Test(ctx context.Context, c Connector, timeout time.Duration) Report {
	if timeout <= 0 {
		timeout = DefaultTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	start := time.Now()
	p := &Probe{}
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.Test(ctx, p)
	}()
	select {
	case <-done:
	case <-ctx.Done():
		// Give a well-behaved client a moment to record its own error.
		select {
		case <-done:
		case <-time.After(100 * time.Millisecond):
			p = &Probe{}
			p.Fail(CheckReachable, errors.Join(ErrTimeout, ctx.Err()))
		}
	}
	r := Report{
		Version:   p.version,
		LatencyMS: time.Since(start).Milliseconds(),
		Checks:    p.checks,
		Err:       p.err,
	}
	if r.Checks == nil {
		r.Checks = []Check{}
	}
	r.OK = p.err == nil && len(p.checks) > 0
	if r.OK {
		r.State = StateTesting
	} else {
		r.State = StateError
		if r.Err == nil {
			r.Err = errors.New("no check ran")
		}
	}
	return r
}

// Package connectortest is the Test Connection suite every connector type
// runs against its fake: ok, bad credentials, unreachable, timeout,
// incompatible version, HTML/malformed answer, and 5xx.
package connectortest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/connector"
)

// Knobs are the failure knobs of a fake (see internal/fake/knob).
type Knobs interface {
	SetLatency(time.Duration)
	Fail(status int, body string)
	HTML(on bool)
}

// Fake is a started fake service.
type Fake struct {
	// Config points at the fake with valid credentials.
	Config connector.Config
	Knobs  Knobs
	// WrongVersion makes the fake report an unsupported version.
	WrongVersion func()
	// BadCredentials returns Config with credentials the fake refuses.
	BadCredentials func(connector.Config) connector.Config
	// ErrorBody is the service's own 5xx body.
	ErrorBody string
}

// WithSecret returns a BadCredentials that replaces the config's secrets
// with the one secret name=value.
func WithSecret(name, value string) func(connector.Config) connector.Config {
	return func(c connector.Config) connector.Config {
		c.Secrets = map[string]string{name: value}
		return c
	}
}

// Run runs the suite; start must start a fresh fake (closed via t.Cleanup).
func Run(t *testing.T, start func(t *testing.T) Fake) {
	t.Helper()
	test := func(t *testing.T, cfg connector.Config, timeout time.Duration) connector.Report {
		t.Helper()
		c, err := connector.New(cfg, &http.Client{})
		if err != nil {
			t.Fatalf("connector.New: %v", err)
		}
		return connector.Test(context.Background(), c, timeout)
	}
	wantFail := func(t *testing.T, r connector.Report, check string, kind error) {
		t.Helper()
		if r.OK || r.State != connector.StateError {
			t.Fatalf("report ok=%v state=%q, want a failure: %+v", r.OK, r.State, r)
		}
		failed := ""
		for _, c := range r.Checks {
			if !c.OK {
				failed = c.Name
				break
			}
		}
		if failed != check {
			t.Errorf("first failing check = %q, want %q (checks %+v)", failed, check, r.Checks)
		}
		if kind != nil && !errors.Is(r.Err, kind) {
			t.Errorf("error %v is not %v", r.Err, kind)
		}
		if r.Error() == "" {
			t.Errorf("a failed report must say why")
		}
	}

	t.Run("ok", func(t *testing.T) {
		f := start(t)
		r := test(t, f.Config, 0)
		if !r.OK || r.State != connector.StateTesting {
			t.Fatalf("report = %+v, want ok", r)
		}
		if r.Version == "" {
			t.Errorf("no version in report")
		}
		names := map[string]bool{}
		for _, c := range r.Checks {
			names[c.Name] = c.OK
		}
		for _, n := range []string{connector.CheckReachable, connector.CheckAuth, connector.CheckVersion} {
			if ok, present := names[n]; !present || !ok {
				t.Errorf("check %q missing or failed: %+v", n, r.Checks)
			}
		}
	})
	t.Run("bad credentials", func(t *testing.T) {
		f := start(t)
		r := test(t, f.BadCredentials(f.Config), 0)
		wantFail(t, r, connector.CheckAuth, connector.ErrAuth)
	})
	t.Run("unreachable", func(t *testing.T) {
		f := start(t)
		cfg := f.Config
		cfg.BaseURL = "http://" + closedAddr(t)
		r := test(t, cfg, 0)
		wantFail(t, r, connector.CheckReachable, connector.ErrUnreachable)
	})
	t.Run("timeout", func(t *testing.T) {
		f := start(t)
		f.Knobs.SetLatency(5 * time.Second)
		r := test(t, f.Config, 200*time.Millisecond)
		wantFail(t, r, connector.CheckReachable, connector.ErrTimeout)
	})
	t.Run("incompatible version", func(t *testing.T) {
		f := start(t)
		f.WrongVersion()
		r := test(t, f.Config, 0)
		wantFail(t, r, connector.CheckVersion, connector.ErrIncompatible)
	})
	t.Run("html answer", func(t *testing.T) {
		f := start(t)
		f.Knobs.HTML(true)
		r := test(t, f.Config, 0)
		wantFail(t, r, connector.CheckReachable, connector.ErrMalformed)
	})
	t.Run("5xx", func(t *testing.T) {
		f := start(t)
		f.Knobs.Fail(503, f.ErrorBody)
		r := test(t, f.Config, 0)
		wantFail(t, r, connector.CheckReachable, nil)
		var se *connector.ServiceError
		if !errors.As(r.Err, &se) || se.Status != 503 {
			t.Errorf("error %v (%T) is not a ServiceError with status 503", r.Err, r.Err)
		}
	})
}

// closedAddr returns a loopback address nothing listens on.
func closedAddr(t *testing.T) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

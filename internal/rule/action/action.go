// Package action runs routing-rule actions: one delivery.Executor per
// action kind (mattermost.post, n8n.trigger, odoo.call, supabase.insert,
// focalboard.card), each rendering the action's templates from the event at
// delivery time and calling the service through its typed connector client.
// The "webhook" kind is delivered by package delivery's endpoints.
package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/connector/focalboard"
	"github.com/insightpulseai/ipai/internal/connector/mattermost"
	"github.com/insightpulseai/ipai/internal/connector/n8n"
	"github.com/insightpulseai/ipai/internal/connector/odoo"
	"github.com/insightpulseai/ipai/internal/connector/supabase"
	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/outbound"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/store"
)

// ErrNoConnector is wrapped by Clients when no connector has the code (or
// it has another type).
var ErrNoConnector = errors.New("no such connector")

// Clients gives executors the client of a configured connector by code,
// with the connector's settings (team, board …).
type Clients interface {
	Mattermost(ctx context.Context, code string) (*mattermost.Client, connector.Config, error)
	N8N(ctx context.Context, code string) (*n8n.Client, error)
	Odoo(ctx context.Context, code string) (*odoo.Client, error)
	Supabase(ctx context.Context, code string) (*supabase.Client, error)
	Focalboard(ctx context.Context, code string) (*focalboard.Client, connector.Config, error)
}

// Executors builds the executor of every rule action kind.
type Executors struct {
	Clients Clients
	Now     func() time.Time

	channels chanCache
}

// New returns the executors over clients.
func New(c Clients) *Executors { return &Executors{Clients: c, Now: time.Now} }

// Register adds every action executor to a dispatcher (or anything with
// the same Register method).
func (x *Executors) Register(d interface {
	Register(kind string, e delivery.Executor)
}) {
	for kind, e := range x.All() {
		d.Register(kind, e)
	}
}

// All returns the executors by kind.
func (x *Executors) All() map[string]delivery.Executor {
	return map[string]delivery.Executor{
		rule.KindMattermost: x.run(x.mattermost),
		rule.KindN8N:        x.run(x.n8n),
		rule.KindOdoo:       x.run(x.odoo),
		rule.KindSupabase:   x.run(x.supabase),
		rule.KindFocalboard: x.run(x.focalboard),
	}
}

type runFunc func(ctx context.Context, r rule.Rendered, c *store.Claimed) (string, error)

// run decodes and renders the action, then calls f with a response
// recorder in ctx, and maps the outcome to a delivery.Result.
func (x *Executors) run(f runFunc) delivery.Executor {
	return delivery.ExecutorFunc(func(ctx context.Context, c *store.Claimed) delivery.Result {
		var a rule.Action
		if err := json.Unmarshal([]byte(c.Action), &a); err != nil {
			return delivery.Result{Err: fmt.Errorf("the delivery's action is not valid JSON: %v", err), Permanent: true}
		}
		r, err := rule.Render(a, &c.Event)
		if err != nil {
			return delivery.Result{Err: fmt.Errorf("template: %w (fix the rule, then replay)", err), Permanent: true}
		}
		rec := &recorder{}
		ctx = withRecorder(ctx, rec)
		resp, err := f(ctx, r, c)
		return x.result(resp, err, rec)
	})
}

// result maps an outcome: connector auth errors and 4xx (but 408 and 429)
// are permanent; 5xx, timeouts and unreachable services are retried; 429
// and 503 honour Retry-After.
func (x *Executors) result(resp string, err error, rec *recorder) delivery.Result {
	status, retryAfter := rec.get()
	res := delivery.Result{Status: status, Response: resp}
	if err == nil {
		return res
	}
	res.Err = err
	var se *connector.ServiceError
	if errors.As(err, &se) && se.Status != 0 {
		res.Status = se.Status
	}
	switch {
	case errors.Is(err, ErrNoConnector), errors.Is(err, errPermanent):
		res.Permanent = true
	case errors.Is(err, connector.ErrAuth):
		res.Permanent = true
	case errors.Is(err, connector.ErrTimeout), errors.Is(err, connector.ErrUnreachable), errors.Is(err, context.DeadlineExceeded):
	case errors.Is(err, n8n.ErrWebhookNotRegistered):
		// The workflow is inactive, perhaps for a moment (being updated):
		// retry on the schedule rather than dead-letter at once.
	case res.Status == http.StatusTooManyRequests || res.Status == http.StatusServiceUnavailable:
		if retryAfter > 0 {
			res.RetryAfter = retryAfter
		}
	case res.Status == http.StatusRequestTimeout:
	case res.Status >= 400 && res.Status < 500:
		res.Permanent = true
	case se != nil && se.Status == http.StatusOK:
		// Odoo reports exceptions inside 200 answers: user and validation
		// errors are permanent; database concurrency errors are not.
		res.Permanent = !strings.HasPrefix(se.Code, "psycopg2")
	}
	return res
}

// errPermanent marks errors no retry can fix.
var errPermanent = errors.New("permanent")

func permanentf(format string, args ...any) error {
	return fmt.Errorf("%w: %s", errPermanent, fmt.Sprintf(format, args...))
}

// recorder notes the status and Retry-After of the last HTTP response of an
// attempt (see Transport).
type recorder struct {
	status     int
	retryAfter time.Duration
}

func (r *recorder) get() (int, time.Duration) { return r.status, r.retryAfter }

type recKey struct{}

func withRecorder(ctx context.Context, r *recorder) context.Context {
	return context.WithValue(ctx, recKey{}, r)
}

// Transport wraps an http.RoundTripper (nil: the outbound guard's, without
// allowances) so that executors see each response's status and
// Retry-After. Clients handed to executors should use it.
func Transport(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		base = outbound.Default().Client(outbound.Options{}).Transport
	}
	return roundTripper{base}
}

type roundTripper struct{ base http.RoundTripper }

func (t roundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if rec, ok := req.Context().Value(recKey{}).(*recorder); ok && resp != nil {
		rec.status = resp.StatusCode
		rec.retryAfter = delivery.RetryAfter(resp.Header.Get("Retry-After"), time.Now())
	}
	return resp, err
}

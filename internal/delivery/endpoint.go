package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"text/template"
	"time"

	"github.com/google/uuid"
	"golang.org/x/time/rate"

	"github.com/insightpulseai/ipai/internal/outbound"
	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/secret"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/ttlcache"
	"github.com/insightpulseai/ipai/internal/webhooksig"
)

// EndpointSpec is an outgoing endpoint's settings (stored as JSON).
type EndpointSpec struct {
	TargetURL  string   `json:"target_url" yaml:"target_url"`
	EventTypes []string `json:"event_types" yaml:"event_types"`
	Source     string   `json:"source,omitempty" yaml:"source"`
	// Template renders the body (text/template over .Event and .Data);
	// default: {"type","timestamp","data"} with the event's payload as data.
	Template    string `json:"template,omitempty" yaml:"template"`
	ContentType string `json:"content_type,omitempty" yaml:"content_type"` // application/json (default) or application/x-www-form-urlencoded
	// Headers are sent with every delivery (e.g. Authorization). They are
	// sealed at rest (SealedHeaders) and never shown: views give Redacted.
	Headers map[string]string `json:"headers,omitempty" yaml:"headers"`
	// SealedHeaders is Headers as stored: each value sealed under the
	// master key, bound to the endpoint and the header's name. It is never
	// taken from a client.
	SealedHeaders map[string]string `json:"sealed_headers,omitempty" yaml:"-"`
	SignHex       bool              `json:"sign_hex,omitempty" yaml:"sign_hex"` // also send X-Signature (hex HMAC of the body)
	Timeout       string            `json:"timeout,omitempty" yaml:"timeout"`   // default 15s, at most 60s
	RateLimit     float64           `json:"rate_limit,omitempty" yaml:"rate_limit"`
	Retry         []string          `json:"retry_schedule,omitempty" yaml:"retry_schedule"`
	Ordered       bool              `json:"ordered,omitempty" yaml:"ordered"`
	// DisableAfter: an endpoint failing continuously this long is disabled; default 120h.
	DisableAfter    string `json:"disable_after,omitempty" yaml:"disable_after"`
	FollowRedirects bool   `json:"follow_redirects,omitempty" yaml:"follow_redirects"`

	// Timeout, Retry and DisableAfter parsed once, by Validate or when a
	// stored spec is loaded (their text is what is stored and shown).
	timeout, disable time.Duration
	schedule         []time.Duration
}

// compiled is an endpoint ready for sending.
type compiled struct {
	hook    store.Webhook
	spec    EndpointSpec // its durations parsed
	tmpl    *template.Template
	secret  string
	headers map[string]string // opened
	client  *http.Client
	limiter *rate.Limiter
}

// errBadSpec marks a stored spec that no longer validates.
var errBadSpec = errors.New("stored endpoint settings are invalid")

var reservedHeaders = map[string]bool{"webhook-id": true, "webhook-timestamp": true, "webhook-signature": true,
	"x-signature": true, "content-type": true, "content-length": true, "host": true}

// Validate checks a spec and fills its defaults.
func (s *EndpointSpec) Validate() error {
	u, err := url.Parse(s.TargetURL)
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
		return problem.Invalid("target_url", "%q is not an http(s) URL", SafeURL(s.TargetURL))
	}
	if u.User != nil {
		return problem.Invalid("target_url", "credentials in the URL (user:password@host) are not accepted: they would be shown and "+
			"written to the audit log. Remove them from the URL and send them as a header instead, e.g. "+
			`"headers": {"Authorization": "Basic <base64 of user:password>"}; header values are sealed and never shown`)
	}
	// No event types: the endpoint only receives what rules send it
	// (webhook and workitem actions).
	for _, p := range s.EventTypes {
		if !rule.ValidPattern(p) {
			return problem.Invalid("event_types", "%q is not a type pattern; expected dotted words with * wildcards", p)
		}
	}
	switch s.ContentType {
	case "":
		s.ContentType = "application/json"
	case "application/json", "application/x-www-form-urlencoded":
	default:
		return problem.Invalid("content_type", "%q: expected application/json or application/x-www-form-urlencoded", s.ContentType)
	}
	if s.Template != "" {
		if _, err := parseTemplate(s.Template); err != nil {
			return problem.Invalid("template", "%v", err)
		}
	}
	for k, v := range s.Headers {
		if reservedHeaders[strings.ToLower(k)] || k == "" || strings.ContainsAny(k, " :\r\n") {
			return problem.Invalid("headers", "header %q cannot be set (it is reserved or malformed)", k)
		}
		if strings.ContainsAny(v, "\r\n") {
			return problem.Invalid("headers", "the value of header %q contains a line break", k)
		}
	}
	if s.RateLimit < 0 {
		return problem.Invalid("rate_limit", "must be ≥ 0 requests per second (0 = unlimited)")
	}
	if err := s.parseDurations(); err != nil {
		return err
	}
	if s.timeout > 60*time.Second {
		return problem.Invalid("timeout", "%q: expected a duration from 1ms to 60s", s.Timeout)
	}
	return nil
}

// parseDurations fills in the defaults of the unset durations (timeout 15s,
// disable_after 120h, DefaultSchedule) and parses them. A stored spec goes
// through it when loaded; a new one through Validate, which also checks the
// limits.
func (s *EndpointSpec) parseDurations() error {
	if s.Timeout == "" {
		s.Timeout = "15s"
	}
	var err error
	if s.timeout, err = time.ParseDuration(s.Timeout); err != nil || s.timeout <= 0 {
		return problem.Invalid("timeout", "%q: expected a duration from 1ms to 60s", s.Timeout)
	}
	if s.schedule, err = ParseSchedule(s.Retry); err != nil {
		return problem.Invalid("retry_schedule", "%v", err)
	}
	if s.DisableAfter == "" {
		s.DisableAfter = "120h"
	}
	if s.disable, err = time.ParseDuration(s.DisableAfter); err != nil || s.disable <= 0 {
		return problem.Invalid("disable_after", "%q: expected a duration such as 120h", s.DisableAfter)
	}
	return nil
}

var tmplFuncs = template.FuncMap{
	"json": func(v any) (string, error) { b, err := json.Marshal(v); return string(b), err },
}

func parseTemplate(s string) (*template.Template, error) {
	return template.New("body").Option("missingkey=zero").Funcs(tmplFuncs).Parse(s)
}

// Endpoints manages outgoing endpoints and sends to them.
type Endpoints struct {
	DB     *store.DB
	Box    *secret.Box
	Guard  *outbound.Guard
	Router *rule.Router
	Now    func() time.Time
	// UserAgent is sent with every delivery.
	UserAgent string
	// Log, if set, gets an error for each delivery that cannot be sent as
	// configured (a sealed value that does not open, a broken stored spec).
	Log *slog.Logger

	cache *ttlcache.Cache[*compiled]
}

// NewEndpoints returns the endpoint service.
func NewEndpoints(db *store.DB, box *secret.Box, guard *outbound.Guard, router *rule.Router) *Endpoints {
	return &Endpoints{DB: db, Box: box, Guard: guard, Router: router, Now: time.Now, UserAgent: "ipai-webhooks/1", cache: ttlcache.New[*compiled]()}
}

// Create makes an outgoing endpoint and returns it with its signing secret (shown once).
func (e *Endpoints) Create(ctx context.Context, name string, spec EndpointSpec, managed bool) (store.Webhook, string, error) {
	return e.CreateWithSecret(ctx, name, spec, "", managed)
}

// CreateWithSecret is Create with a given signing secret ("" generates one).
func (e *Endpoints) CreateWithSecret(ctx context.Context, name string, spec EndpointSpec, sec string, managed bool) (store.Webhook, string, error) {
	if err := spec.Validate(); err != nil {
		return store.Webhook{}, "", err
	}
	now := e.Now().UTC()
	id := "ep_" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", "")[:24]
	if sec == "" {
		sec = webhooksig.NewSecret()
	}
	spec.SealedHeaders = nil // never taken from a client
	if spec.Headers == nil {
		spec.Headers = map[string]string{}
	}
	if err := e.sealHeaders(id, &spec); err != nil {
		return store.Webhook{}, "", err
	}
	b, _ := json.Marshal(spec)
	w := store.Webhook{ID: id, Direction: store.Outgoing, Name: name, State: store.WebhookActive, Managed: managed,
		Spec: string(b), SecretSealed: e.Box.Seal(sec, "webhook:"+id), CreatedAt: now, UpdatedAt: now}
	if err := e.DB.CreateWebhook(ctx, w); err != nil {
		return store.Webhook{}, "", err
	}
	return w, sec, e.Reload(ctx)
}

// Update replaces an endpoint's spec (and name). spec.SealedHeaders must be
// the stored ones; spec.Headers, when not nil, replaces them (a value given
// as Redacted keeps the stored value of that header).
func (e *Endpoints) Update(ctx context.Context, w store.Webhook, spec EndpointSpec) (store.Webhook, error) {
	if err := spec.Validate(); err != nil {
		return w, err
	}
	if err := e.sealHeaders(w.ID, &spec); err != nil {
		return w, err
	}
	b, _ := json.Marshal(spec)
	w.Spec, w.UpdatedAt = string(b), e.Now().UTC()
	if err := e.DB.UpdateWebhook(ctx, w); err != nil {
		return w, err
	}
	e.forget(w.ID)
	return w, e.Reload(ctx)
}

// SetState enables or disables an endpoint.
func (e *Endpoints) SetState(ctx context.Context, id, state, reason string) (bool, error) {
	changed, err := e.DB.SetWebhookState(ctx, id, state, reason, e.Now())
	if err != nil {
		return false, err
	}
	e.forget(id)
	return changed, e.Reload(ctx)
}

func (e *Endpoints) forget(id string) { e.cache.Forget(id) }

// Forget drops an endpoint from the cache after it changed in the store.
func (e *Endpoints) Forget(id string) { e.forget(id) }

// Reload gives the router the active endpoints.
func (e *Endpoints) Reload(ctx context.Context) error {
	if e.Router == nil {
		return nil
	}
	hooks, err := e.DB.ListWebhooks(ctx, store.Outgoing)
	if err != nil {
		return err
	}
	var eps []rule.Endpoint
	for _, h := range hooks {
		if h.State != store.WebhookActive {
			continue
		}
		var s EndpointSpec
		if json.Unmarshal([]byte(h.Spec), &s) != nil {
			continue
		}
		eps = append(eps, rule.Endpoint{ID: h.ID, EventTypes: s.EventTypes, Source: s.Source, Ordered: s.Ordered})
	}
	e.Router.SetEndpoints(eps)
	return nil
}

// get returns the compiled endpoint, reloading it every few seconds so that
// changes made by other hub processes are seen.
func (e *Endpoints) get(ctx context.Context, id string) (*compiled, error) {
	now := e.Now()
	return e.cache.Get(id, now, func(c *compiled, _ bool) (*compiled, time.Time, error) {
		w, err := e.DB.Webhook(ctx, id)
		if err != nil {
			return nil, now, err
		}
		n := &compiled{hook: w}
		if err := json.Unmarshal([]byte(w.Spec), &n.spec); err != nil {
			return nil, now, fmt.Errorf("endpoint %s: bad spec: %w", id, err)
		}
		if n.spec.Template != "" {
			if n.tmpl, err = parseTemplate(n.spec.Template); err != nil {
				return nil, now, err
			}
		}
		// Stored specs were validated; one that no longer is (edited in the
		// database, or by another version) is not sent with made-up values.
		if err := n.spec.parseDurations(); err != nil {
			return nil, now, fmt.Errorf("%w: endpoint %s: stored %v; set it again", errBadSpec, id, err)
		}
		if n.secret, err = e.Box.Open(w.SecretSealed, "webhook:"+id); err != nil || n.secret == "" {
			return nil, now, fmt.Errorf("%w: the signing secret of endpoint %s does not open with this master key (was master.key or "+
				"IPAI_MASTER_KEY changed?); restore the key, or recreate the endpoint, then replay", ErrUnsignable, id)
		}
		if n.headers, err = e.openHeaders(id, n.spec); err != nil {
			return nil, now, err
		}
		if c != nil && c.spec.FollowRedirects == n.spec.FollowRedirects && c.spec.timeout == n.spec.timeout {
			n.client = c.client
		} else {
			n.client = e.Guard.Client(outbound.Options{Timeout: n.spec.timeout, FollowRedirect: n.spec.FollowRedirects})
		}
		if n.spec.RateLimit > 0 {
			if c != nil && c.limiter != nil && float64(c.limiter.Limit()) == n.spec.RateLimit {
				n.limiter = c.limiter
			} else {
				n.limiter = rate.NewLimiter(rate.Limit(n.spec.RateLimit), max(1, int(n.spec.RateLimit)))
			}
		}
		return n, now.Add(5 * time.Second), nil
	})
}

// Body renders what an endpoint is sent for an event.
func (c *compiled) body(ev *store.Event) ([]byte, error) {
	var data any
	if err := json.Unmarshal([]byte(ev.Payload), &data); err != nil {
		return nil, fmt.Errorf("event payload is not JSON: %w", err)
	}
	if c.tmpl == nil {
		return json.Marshal(map[string]any{"type": ev.Type, "timestamp": ev.ReceivedAt.Format(time.RFC3339Nano),
			"data": json.RawMessage(ev.Payload)})
	}
	out, err := rule.Execute(c.tmpl, map[string]any{
		"Event": map[string]any{"ID": ev.ID, "Type": ev.Type, "Source": ev.Source, "ReceivedAt": ev.ReceivedAt},
		"Data":  data,
	})
	if err != nil {
		return nil, fmt.Errorf("template: %w", err)
	}
	if c.spec.ContentType == "application/json" && !json.Valid(out) {
		return nil, errors.New("template: the rendered body is not valid JSON")
	}
	return out, nil
}

const maxSnippet = 4 << 10

// Execute sends one attempt of a webhook delivery.
func (e *Endpoints) Execute(ctx context.Context, cl *store.Claimed) Result {
	c, res, ok := e.active(ctx, cl.EndpointID)
	if !ok {
		return res
	}
	body, err := c.body(&cl.Event)
	if err != nil {
		return Result{Err: err, Permanent: true}
	}
	return e.send(ctx, c, cl.ID, body, c.spec.ContentType)
}

// active returns the compiled endpoint if it can be sent to; otherwise the
// Result to report (ok false).
func (e *Endpoints) active(ctx context.Context, id string) (*compiled, Result, bool) {
	c, err := e.get(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, Result{Err: errors.New("the endpoint was deleted"), Permanent: true}, false
	}
	if errors.Is(err, ErrUnsignable) || errors.Is(err, errBadSpec) {
		// Retrying cannot help: it needs an admin. Loudly, once per attempt.
		if e.Log != nil {
			e.Log.Error("delivery cannot be sent", "endpoint", id, "err", err)
		}
		return nil, Result{Err: err, Permanent: true}, false
	}
	if err != nil {
		return nil, Result{Err: err}, false
	}
	if c.hook.State != store.WebhookActive {
		return nil, Result{Err: fmt.Errorf("the endpoint is disabled (%s); enable it and replay", c.hook.DisabledReason), Permanent: true}, false
	}
	return c, Result{}, true
}

// send POSTs one attempt of body to an endpoint: its rate limit, timeout,
// headers, Standard Webhooks signature (webhook-id = deliveryID), the SSRF
// guard of its client, and the mapping of the answer to a Result.
func (e *Endpoints) send(ctx context.Context, c *compiled, deliveryID string, body []byte, contentType string) Result {
	if c.limiter != nil {
		if err := c.limiter.Wait(ctx); err != nil {
			return Result{Err: fmt.Errorf("rate limit: %w", err)}
		}
	}
	ctx, cancel := context.WithTimeout(ctx, c.spec.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.spec.TargetURL, bytes.NewReader(body))
	if err != nil {
		return Result{Err: err, Permanent: true}
	}
	ts := e.Now().Unix()
	for k, v := range c.headers {
		req.Header.Set(k, v)
	}
	req.Header.Set("Content-Type", contentType)
	req.Header.Set("User-Agent", e.UserAgent)
	req.Header.Set("webhook-id", deliveryID)
	req.Header.Set("webhook-timestamp", strconv.FormatInt(ts, 10))
	req.Header.Set("webhook-signature", webhooksig.SignStandard(c.secret, deliveryID, ts, body))
	if c.spec.SignHex {
		req.Header.Set("X-Signature", webhooksig.SignHex(c.secret, body))
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return Result{Err: cleanErr(err), Permanent: errors.Is(err, outbound.ErrBlocked)}
	}
	defer resp.Body.Close()
	snippet, _ := io.ReadAll(io.LimitReader(resp.Body, maxSnippet))
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20)) // let the connection be reused
	r := Result{Status: resp.StatusCode, Response: string(snippet)}
	switch {
	case resp.StatusCode >= 200 && resp.StatusCode < 300:
		return r
	case resp.StatusCode == http.StatusGone:
		r.Err, r.Permanent = errors.New("the receiver answered 410 Gone: the endpoint is disabled"), true
		_, _ = e.SetState(context.WithoutCancel(ctx), c.hook.ID, store.WebhookDisabled, "receiver answered 410 Gone")
	case resp.StatusCode == http.StatusTooManyRequests || resp.StatusCode == http.StatusServiceUnavailable:
		r.Err = fmt.Errorf("the receiver answered %d", resp.StatusCode)
		r.RetryAfter = RetryAfter(resp.Header.Get("Retry-After"), e.Now())
	default:
		r.Err = fmt.Errorf("the receiver answered %d (only 2xx is success)", resp.StatusCode)
	}
	return r
}

// cleanErr drops the URL from client errors (it may carry credentials).
func cleanErr(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return fmt.Errorf("%s: %w", ue.Op, ue.Err)
	}
	return err
}

// scheduleFor returns the retry schedule and disable-after of a delivery's endpoint.
func (e *Endpoints) scheduleFor(ctx context.Context, id string) ([]time.Duration, time.Duration) {
	if c, err := e.get(ctx, id); err == nil {
		return c.spec.schedule, c.spec.disable
	}
	return DefaultSchedule, 120 * time.Hour
}

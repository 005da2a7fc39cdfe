// Package inbound receives webhooks: it keeps the incoming hooks (their
// settings and sealed secrets), verifies each request with its hook's scheme
// (internal/webhooksig) and hands what passes to the event core
// (internal/event), which commits it with the deliveries it causes before the
// sender gets its 2xx.
package inbound

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/event"
	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/secret"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/ttlcache"
	"github.com/insightpulseai/ipai/internal/webhooksig"
)

// Hooks manages incoming hooks and receives their requests.
type Hooks struct {
	DB       *store.DB
	Box      *secret.Box
	Audit    *audit.Log
	Ingester *event.Ingester
	Now      func() time.Time

	requests *prometheus.CounterVec
	cache    *ttlcache.Cache[cachedHook]
	refusals audit.Throttle
}

type cachedHook struct {
	hook    store.Webhook
	spec    event.HookSpec
	secrets []string
}

// NewHooks returns the incoming-hook service; reg, if not nil, gets its metrics.
func NewHooks(db *store.DB, box *secret.Box, al *audit.Log, in *event.Ingester, reg prometheus.Registerer) *Hooks {
	h := &Hooks{DB: db, Box: box, Audit: al, Ingester: in, Now: time.Now, cache: ttlcache.New[cachedHook](),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "ipai_inbound_requests_total",
			Help: "Inbound webhook requests by hook and outcome (accepted, duplicate, unverified, too_large, bad_request)."}, []string{"hook", "outcome"})}
	if reg != nil {
		reg.MustRegister(h.requests)
	}
	return h
}

// Created is what creating or rotating a hook returns, once.
type Created struct {
	Hook   store.Webhook
	Secret string
}

// Create makes an incoming hook. For mattermost-token and bearer the caller
// may pass the secret (Mattermost generates its own tokens); otherwise one
// is generated.
func (h *Hooks) Create(ctx context.Context, name, connector string, spec event.HookSpec, givenSecret string, managed bool) (Created, error) {
	if err := spec.Validate(); err != nil {
		return Created{}, err
	}
	sec := givenSecret
	if sec == "" {
		if spec.Scheme == webhooksig.SchemeMattermostToken {
			return Created{}, problem.Invalid("secret", "a mattermost-token hook needs the token Mattermost shows for the command or outgoing webhook")
		}
		sec = webhooksig.NewSecret()
	} else if len(sec) < 16 {
		return Created{}, problem.Invalid("secret", "too short: use at least 16 characters")
	}
	now := h.Now().UTC()
	id := "hook_" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", "")[:24]
	b, _ := json.Marshal(spec)
	w := store.Webhook{ID: id, Direction: store.Incoming, Name: name, Connector: connector, State: store.WebhookActive,
		Managed: managed, Spec: string(b), SecretSealed: h.Box.Seal(sec, "webhook:"+id), CreatedAt: now, UpdatedAt: now}
	if err := h.DB.CreateWebhook(ctx, w); err != nil {
		return Created{}, err
	}
	return Created{Hook: w, Secret: sec}, nil
}

// Rotate gives a hook a new secret; the old one stays valid for the grace period.
func (h *Hooks) Rotate(ctx context.Context, id string) (Created, error) {
	w, err := h.DB.Webhook(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && w.Direction != store.Incoming) {
		return Created{}, problem.NotFound("no incoming hook %q", id)
	}
	if err != nil {
		return Created{}, fmt.Errorf("hook %s: %w", id, err)
	}
	var spec event.HookSpec
	_ = json.Unmarshal([]byte(w.Spec), &spec)
	if spec.Scheme == webhooksig.SchemeMattermostToken {
		return Created{}, problem.Conflict("a mattermost-token hook's token is set by Mattermost: regenerate it there and update the hook")
	}
	sec := webhooksig.NewSecret()
	now := h.Now().UTC()
	if err := spec.ParseDurations(); err != nil {
		return Created{}, fmt.Errorf("hook %s: stored spec: %w; set it again", id, err)
	}
	grace := spec.Grace()
	// The old secret stays valid for the grace period only if it opens: one
	// sealed under another master key is dropped, never kept as "".
	w.OldSecretSealed, w.OldSecretUntil = "", time.Time{}
	if old, err := h.Box.Open(w.SecretSealed, "webhook:"+id); err == nil && old != "" {
		w.OldSecretSealed, w.OldSecretUntil = h.Box.Seal(old, "webhook:"+id), now.Add(grace)
	}
	w.SecretSealed, w.UpdatedAt = h.Box.Seal(sec, "webhook:"+id), now
	if err := h.DB.UpdateWebhook(ctx, w); err != nil {
		return Created{}, err
	}
	h.forget(id)
	return Created{Hook: w, Secret: sec}, nil
}

func (h *Hooks) forget(id string) { h.cache.Forget(id) }

// Forget drops a hook from the cache after it changed.
func (h *Hooks) Forget(id string) { h.forget(id) }

func (h *Hooks) load(ctx context.Context, id string) (cachedHook, error) {
	now := h.Now()
	return h.cache.Get(id, now, func(cachedHook, bool) (cachedHook, time.Time, error) {
		w, err := h.DB.Webhook(ctx, id)
		if err != nil {
			return cachedHook{}, now, err
		}
		c, until := cachedHook{hook: w}, now.Add(2*time.Second)
		if w.Direction != store.Incoming {
			return c, until, nil
		}
		// A stored spec that does not validate, or a secret that does not
		// open, fails the request (500, logged) instead of verifying
		// against made-up settings or an empty key.
		if err := json.Unmarshal([]byte(w.Spec), &c.spec); err != nil {
			return cachedHook{}, now, fmt.Errorf("hook %s: stored spec: %w", id, err)
		}
		if err := c.spec.Validate(); err != nil {
			return cachedHook{}, now, fmt.Errorf("hook %s: stored spec: %w", id, err)
		}
		s, err := h.Box.Open(w.SecretSealed, "webhook:"+id)
		if err != nil || s == "" {
			return cachedHook{}, now, fmt.Errorf("hook %s: its secret does not open with this master key (was master.key or IPAI_MASTER_KEY changed?); "+
				"restore the key, or rotate the secret and give the new one to the sender: %w", id, secret.ErrOpen)
		}
		c.secrets = append(c.secrets, s)
		if w.OldSecretSealed != "" && now.Before(w.OldSecretUntil) {
			if s, err := h.Box.Open(w.OldSecretSealed, "webhook:"+id); err == nil && s != "" {
				c.secrets = append(c.secrets, s)
			}
			if w.OldSecretUntil.Before(until) {
				until = w.OldSecretUntil
			}
		}
		return c, until, nil
	})
}

// Receive verifies and stores one request to hook id (reached through
// connector's path when connector is not ""). It answers only after the
// event is committed.
func (h *Hooks) Receive(ctx context.Context, r *http.Request, id, connector string) (event.Result, error) {
	c, err := h.load(ctx, id)
	if errors.Is(err, store.ErrNotFound) || (err == nil && (c.hook.Direction != store.Incoming || c.hook.State != store.WebhookActive ||
		(connector != "" && c.hook.Connector != connector))) {
		return event.Result{}, problem.NotFound("no active incoming hook %q here", id)
	}
	if err != nil {
		return event.Result{}, err
	}
	if r.ContentLength > c.spec.MaxBody {
		h.requests.WithLabelValues(id, "too_large").Inc()
		return event.Result{}, problem.TooLarge("body is %d bytes; this hook accepts at most %d", r.ContentLength, c.spec.MaxBody)
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, c.spec.MaxBody+1))
	var mbe *http.MaxBytesError // the route's limit, when it is the hook's
	if err != nil && !errors.As(err, &mbe) {
		return event.Result{}, problem.BadRequest("cannot read the body: %v", err)
	}
	if err != nil || int64(len(body)) > c.spec.MaxBody {
		h.requests.WithLabelValues(id, "too_large").Inc()
		return event.Result{}, problem.TooLarge("body exceeds this hook's limit of %d bytes", c.spec.MaxBody)
	}
	idem, err := webhooksig.Verify(c.spec.Scheme, c.secrets, r.Header, body, h.Now())
	if err != nil {
		h.requests.WithLabelValues(id, "unverified").Inc()
		h.warnRefused(id, r, err)
		return event.Result{}, problem.Unauthorized("%v", err)
	}
	payload, err := asJSON(r.Header.Get("Content-Type"), body, c.spec.AcceptForm)
	if err != nil {
		h.requests.WithLabelValues(id, "bad_request").Inc()
		return event.Result{}, err
	}
	if c.spec.Scheme == webhooksig.SchemeMattermostToken {
		payload = withoutToken(payload)
	}
	typ := c.spec.EventType
	if c.spec.TypeField != "" {
		if v := Field(payload, c.spec.TypeField); v != "" {
			typ = v
		}
	}
	if c.spec.IdempotencyField != "" {
		if v := Field(payload, c.spec.IdempotencyField); v != "" {
			idem = v
		}
	}
	source := c.hook.Connector
	if source == "" {
		source = id
	}
	res, err := h.Ingester.Ingest(ctx, event.Request{Source: source, Type: typ, HookID: id, IdemKey: idem, Payload: payload, Window: c.spec.Dedupe()})
	var bad *problem.Error
	if errors.As(err, &bad) && bad.Status == http.StatusBadRequest {
		h.requests.WithLabelValues(id, "bad_request").Inc()
		return event.Result{}, err
	}
	if err != nil {
		return event.Result{}, fmt.Errorf("store event: %w", err)
	}
	outcome := "accepted"
	if res.Duplicate {
		outcome = "duplicate"
	}
	h.requests.WithLabelValues(id, outcome).Inc()
	return res, nil
}

// warnRefused writes an audit warning for refused requests, at most one per
// hook every 10 s (with the count since the last), so a flood of forged
// requests cannot flood the audit log.
func (h *Hooks) warnRefused(id string, r *http.Request, err error) {
	n, ok := h.refusals.Allow(id, h.Now())
	if !ok || h.Audit == nil {
		return
	}
	host := r.RemoteAddr
	if i := strings.LastIndex(host, ":"); i > 0 {
		host = host[:i]
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(r.Context()), 5*time.Second)
	defer cancel()
	_ = h.Audit.Write(ctx, audit.Entry{Actor: "anonymous", IP: host, Action: "webhook.refused", Level: audit.Warning, Target: id,
		Message: fmt.Sprintf("%d request(s) refused: %s", n, audit.Clip(err.Error(), 512)), Method: r.Method, URL: audit.Clip(r.URL.Path, 512), Status: http.StatusUnauthorized})
}

// asJSON converts a form body to JSON when the hook allows forms; a JSON
// body is returned as it is (Ingest checks it is JSON).
func asJSON(contentType string, body []byte, acceptForm bool) ([]byte, error) {
	if strings.HasPrefix(contentType, "application/x-www-form-urlencoded") {
		if !acceptForm {
			return nil, problem.BadRequest("this hook takes JSON; the body is form-encoded (set accept_form on the hook to take forms)")
		}
		v, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, problem.BadRequest("form body does not parse: %v", err)
		}
		m := map[string]any{}
		for k, vs := range v {
			if len(vs) == 1 {
				m[k] = vs[0]
			} else {
				m[k] = vs
			}
		}
		delete(m, "token") // the secret is not part of the event
		b, _ := json.Marshal(m)
		return b, nil
	}
	return body, nil // Ingest checks it is JSON, once
}

// withoutToken drops a top-level "token" field (Mattermost's shared secret)
// from a JSON object, so the secret is never stored with the event.
func withoutToken(payload []byte) []byte {
	var m map[string]json.RawMessage
	if json.Unmarshal(payload, &m) != nil || m["token"] == nil {
		return payload
	}
	delete(m, "token")
	b, _ := json.Marshal(m)
	return b
}

// Field returns the string form of a dotted path in a JSON document ("" when absent).
func Field(doc []byte, path string) string {
	var v any
	if json.Unmarshal(doc, &v) != nil {
		return ""
	}
	for _, k := range strings.Split(path, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return ""
		}
		v = m[k]
	}
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	default:
		b, _ := json.Marshal(x)
		return string(b)
	}
}

package event

import (
	"strings"
	"time"

	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/webhooksig"
)

// HookSpec is an incoming hook's settings (stored as JSON).
type HookSpec struct {
	Scheme string `json:"scheme" yaml:"scheme"`
	// EventType is the type of the events the hook makes, unless TypeField
	// names a payload field that holds it. Default "webhook.received".
	EventType string `json:"event_type,omitempty" yaml:"event_type"`
	TypeField string `json:"type_field,omitempty" yaml:"type_field"`
	// IdempotencyField names a payload field whose value dedupes; without it
	// the Standard Webhooks webhook-id, or else a hash of the body, is used.
	IdempotencyField string `json:"idempotency_field,omitempty" yaml:"idempotency_field"`
	// DedupeWindow, a Go duration; default 24h.
	DedupeWindow string `json:"dedupe_window,omitempty" yaml:"dedupe_window"`
	// MaxBody in bytes; default 1 MiB.
	MaxBody int64 `json:"max_body,omitempty" yaml:"max_body"`
	// AcceptForm turns application/x-www-form-urlencoded bodies (as
	// Mattermost sends) into a JSON object instead of refusing them.
	AcceptForm bool `json:"accept_form,omitempty" yaml:"accept_form"`
	// RotationGrace keeps the old secret valid after a rotation; default 24h.
	RotationGrace string `json:"rotation_grace,omitempty" yaml:"rotation_grace"`
}

// Body limits of hooks: the default, and the most a hook may set.
const (
	DefaultMaxBody = 1 << 20
	MaxMaxBody     = 64 << 20
)

// Validate checks a spec and fills its defaults.
func (s *HookSpec) Validate() error {
	ok := false
	for _, sc := range webhooksig.Schemes {
		ok = ok || s.Scheme == sc
	}
	if !ok {
		return problem.Invalid("scheme", "%q is not a scheme; expected one of %s", s.Scheme, strings.Join(webhooksig.Schemes, ", "))
	}
	if s.EventType == "" {
		s.EventType = "webhook.received"
	}
	if strings.ContainsAny(s.EventType, " /") {
		return problem.Invalid("event_type", "%q: an event type is dotted words such as shop.order.created", s.EventType)
	}
	for _, f := range []struct{ name, v, def string }{{"dedupe_window", s.DedupeWindow, "24h"}, {"rotation_grace", s.RotationGrace, "24h"}} {
		v := f.v
		if v == "" {
			v = f.def
		}
		if d, err := time.ParseDuration(v); err != nil || d < 0 {
			return problem.Invalid(f.name, "%q is not a duration; expected e.g. 24h", f.v)
		}
	}
	if s.DedupeWindow == "" {
		s.DedupeWindow = "24h"
	}
	if s.RotationGrace == "" {
		s.RotationGrace = "24h"
	}
	if s.MaxBody == 0 {
		s.MaxBody = DefaultMaxBody
	}
	if s.MaxBody < 0 || s.MaxBody > MaxMaxBody {
		return problem.Invalid("max_body", "%d bytes: expected 1 to %d (%d MiB)", s.MaxBody, MaxMaxBody, MaxMaxBody>>20)
	}
	return nil
}

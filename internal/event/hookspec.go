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

	// The durations above, parsed once by Validate or ParseDurations (their
	// text is what is stored and shown).
	dedupe, grace time.Duration
}

// Dedupe is the parsed DedupeWindow (after Validate or ParseDurations).
func (s HookSpec) Dedupe() time.Duration { return s.dedupe }

// Grace is the parsed RotationGrace (after Validate or ParseDurations).
func (s HookSpec) Grace() time.Duration { return s.grace }

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
	if err := s.ParseDurations(); err != nil {
		return err
	}
	if s.MaxBody == 0 {
		s.MaxBody = DefaultMaxBody
	}
	if s.MaxBody < 0 || s.MaxBody > MaxMaxBody {
		return problem.Invalid("max_body", "%d bytes: expected 1 to %d (%d MiB)", s.MaxBody, MaxMaxBody, MaxMaxBody>>20)
	}
	return nil
}

// ParseDurations fills in the default of the unset durations (24h) and
// parses them: a stored spec goes through it (or Validate) when loaded.
func (s *HookSpec) ParseDurations() error {
	for _, f := range []struct {
		name string
		text *string
		d    *time.Duration
	}{{"dedupe_window", &s.DedupeWindow, &s.dedupe}, {"rotation_grace", &s.RotationGrace, &s.grace}} {
		if *f.text == "" {
			*f.text = "24h"
		}
		d, err := time.ParseDuration(*f.text)
		if err != nil || d < 0 {
			return problem.Invalid(f.name, "%q is not a duration; expected e.g. 24h", *f.text)
		}
		*f.d = d
	}
	return nil
}

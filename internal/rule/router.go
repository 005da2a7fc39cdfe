// Package rule decides what an event causes: which outgoing endpoints it is
// delivered to (by event type patterns and source) and which routing rules'
// actions run for it. Route is called inside the transaction that stores the
// event, so the deliveries it returns are committed with the event.
package rule

import (
	"encoding/json"
	"path"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/insightpulseai/ipai/internal/store"
)

// Endpoint is what routing needs of an outgoing endpoint.
type Endpoint struct {
	ID         string
	EventTypes []string // patterns: "odoo.account.move.*", "*"
	Source     string   // "" = any source
	Ordered    bool
}

// Matches reports whether the endpoint subscribes to an event.
func (e Endpoint) Matches(ev *store.Event) bool {
	if e.Source != "" && e.Source != ev.Source {
		return false
	}
	for _, p := range e.EventTypes {
		if MatchType(p, ev.Type) {
			return true
		}
	}
	return false
}

// MatchType matches an event type against a pattern: "*" matches all, and
// "*" inside a pattern matches any run of characters, dots included
// ("odoo.account.move.*" matches "odoo.account.move.posted").
func MatchType(pattern, typ string) bool {
	if pattern == "*" || pattern == typ {
		return true
	}
	if !strings.Contains(pattern, "*") {
		return false
	}
	// path.Match's * stops at '/', which event types never contain.
	ok, err := path.Match(pattern, typ)
	return err == nil && ok
}

// ValidPattern reports whether p is a usable event type pattern.
func ValidPattern(p string) bool {
	if p == "" || strings.ContainsAny(p, " /") {
		return false
	}
	_, err := path.Match(p, "x")
	return err == nil
}

// Planner adds the deliveries of routing rules (set by the rules engine).
type Planner interface {
	Plan(ev *store.Event, now time.Time) []store.Delivery
}

// Router holds the current endpoints and rules; safe for concurrent use.
type Router struct {
	mu        sync.RWMutex
	endpoints []Endpoint
	rules     Planner
}

// NewRouter returns an empty router.
func NewRouter() *Router { return &Router{} }

// SetEndpoints replaces the active outgoing endpoints.
func (r *Router) SetEndpoints(eps []Endpoint) {
	r.mu.Lock()
	r.endpoints = eps
	r.mu.Unlock()
}

// SetRules replaces the rules planner.
func (r *Router) SetRules(p Planner) {
	r.mu.Lock()
	r.rules = p
	r.mu.Unlock()
}

// Route returns the deliveries an event causes, ready to insert.
func (r *Router) Route(ev *store.Event, now time.Time) []store.Delivery {
	r.mu.RLock()
	eps, rules := r.endpoints, r.rules
	r.mu.RUnlock()
	var out []store.Delivery
	for _, e := range eps {
		if !e.Matches(ev) {
			continue
		}
		d := NewDelivery(ev, "webhook", now)
		d.EndpointID = e.ID
		if e.Ordered {
			d.OrderedKey = e.ID
		}
		out = append(out, d)
	}
	if rules != nil {
		planned := rules.Plan(ev, now)
		// A rule's delivery to an ordered endpoint queues behind the
		// endpoint's other deliveries like a subscription's does.
		for i := range planned {
			for _, e := range eps {
				if e.Ordered && planned[i].EndpointID == e.ID {
					planned[i].OrderedKey = e.ID
				}
			}
		}
		out = append(out, planned...)
	}
	return out
}

// NewDelivery returns a pending delivery of an event, due now.
func NewDelivery(ev *store.Event, kind string, now time.Time) store.Delivery {
	return store.Delivery{
		ID: "msg_" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", ""), EventID: ev.ID, Kind: kind,
		State: store.DeliveryPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now,
	}
}

// ActionJSON encodes an action spec for a delivery's Action field.
func ActionJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

package api

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/store"
)

func init() {
	route("GET", "/api/v1/events", auth.RoleUser, "", (*Server).listEvents)
	route("GET", "/api/v1/events/{id}", auth.RoleUser, "", (*Server).getEvent)
	route("GET", "/api/v1/deliveries", auth.RoleUser, "", (*Server).listDeliveries)
	route("GET", "/api/v1/deliveries/{id}", auth.RoleUser, "", (*Server).getDelivery)
	route("POST", "/api/v1/deliveries/{id}/replay", auth.RoleManager, "delivery.replay", (*Server).replayDelivery)
	route("POST", "/api/v1/deliveries/replay", auth.RoleManager, "delivery.replay_bulk", (*Server).replayDeliveries)
}

var deliveryStates = map[string]bool{store.DeliveryPending: true, store.DeliveryRunning: true, store.DeliveryFailed: true,
	store.DeliverySucceeded: true, store.DeliveryDead: true}

// ParseDeliveryFilter reads delivery filters from a query; shared with the UI.
func ParseDeliveryFilter(qs map[string][]string) (store.DeliveryFilter, error) {
	q := query(qs)
	f := store.DeliveryFilter{State: q.get("state"), EndpointID: q.get("endpoint"), EventID: q.get("event"), Kind: q.get("kind"), Before: q.get("cursor")}
	if f.State != "" && !deliveryStates[f.State] {
		return f, problem.Invalid("state", "%q: expected pending, running, failed, succeeded or dead", f.State)
	}
	if err := q.times(&f.Since, &f.Until); err != nil {
		return f, err
	}
	var err error
	f.Limit, err = q.limit(50, 500)
	return f, err
}

// DeliveryView is a delivery as the API shows it.
type DeliveryView struct {
	ID            string          `json:"id"`
	EventID       string          `json:"event_id"`
	Kind          string          `json:"kind"`
	EndpointID    string          `json:"endpoint_id,omitempty"`
	RuleID        string          `json:"rule_id,omitempty"`
	State         string          `json:"state"`
	Attempts      int             `json:"attempts"`
	NextAttemptAt *time.Time      `json:"next_attempt_at,omitempty"`
	LastStatus    int             `json:"last_status,omitempty"`
	LastError     string          `json:"last_error,omitempty"`
	CreatedAt     time.Time       `json:"created_at"`
	UpdatedAt     time.Time       `json:"updated_at"`
	AttemptLog    []store.Attempt `json:"attempt_log,omitempty"`
}

func viewDelivery(d store.Delivery) DeliveryView {
	v := DeliveryView{ID: d.ID, EventID: d.EventID, Kind: d.Kind, EndpointID: d.EndpointID, RuleID: d.RuleID, State: d.State,
		Attempts: d.Attempts, LastStatus: d.LastStatus, LastError: d.LastError, CreatedAt: d.CreatedAt, UpdatedAt: d.UpdatedAt}
	if d.State == store.DeliveryPending || d.State == store.DeliveryFailed {
		v.NextAttemptAt = optTime(d.NextAttemptAt)
	}
	return v
}

// DeliveryCursor is the next-page cursor after a delivery.
func DeliveryCursor(d store.Delivery) string { return d.ID }

func (s *Server) listDeliveries(w http.ResponseWriter, r *http.Request) error {
	f, err := ParseDeliveryFilter(r.URL.Query())
	if err != nil {
		return err
	}
	ds, next, err := FetchPage(f.Limit, func(n int) ([]store.Delivery, error) { f.Limit = n; return s.DB.ListDeliveries(r.Context(), f) }, DeliveryCursor)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": ViewAll(ds, viewDelivery), "next_cursor": next})
	return nil
}

// LoadDelivery reads delivery id; a missing one is a 404. Shared with the
// admin UI.
func LoadDelivery(ctx context.Context, db *store.DB, id string) (store.Delivery, error) {
	d, err := db.Delivery(ctx, id)
	if err == store.ErrNotFound {
		return d, problem.NotFound("no delivery %q", id)
	}
	return d, err
}

// ReplayDelivery makes delivery id pending again; n is 0 when its state
// (d.State, before) cannot be replayed. Shared with the admin UI.
func ReplayDelivery(ctx context.Context, db *store.DB, id string) (d store.Delivery, n int64, err error) {
	if d, err = LoadDelivery(ctx, db, id); err != nil {
		return d, 0, err
	}
	n, err = db.ReplayDeliveries(ctx, store.DeliveryFilter{}, []string{id}, time.Now())
	return d, n, err
}

func (s *Server) getDelivery(w http.ResponseWriter, r *http.Request) error {
	d, err := LoadDelivery(r.Context(), s.DB, r.PathValue("id"))
	if err != nil {
		return err
	}
	v := viewDelivery(d)
	if v.AttemptLog, err = s.DB.Attempts(r.Context(), d.ID); err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, v)
	return nil
}

func (s *Server) replayDelivery(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("id")
	d, n, err := ReplayDelivery(r.Context(), s.DB, id)
	if err != nil {
		return err
	}
	if n == 0 {
		return problem.Conflict("delivery %s is %s; only dead, failed or succeeded deliveries can be replayed", id, d.State)
	}
	s.wake()
	Note(r, id, "delivery replayed (was "+d.State+")", nil)
	writeJSON(w, http.StatusAccepted, map[string]any{"replayed": n})
	return nil
}

func (s *Server) replayDeliveries(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Endpoint string    `json:"endpoint"`
		State    string    `json:"state"`
		Since    time.Time `json:"since"`
		Until    time.Time `json:"until"`
	}
	if err := decodeJSON(r, &in); err != nil {
		return err
	}
	if in.Endpoint == "" {
		return problem.Invalid("endpoint", "name the endpoint whose deliveries to replay")
	}
	if in.State == "" {
		in.State = store.DeliveryDead
	}
	if in.State != store.DeliveryDead && in.State != store.DeliveryFailed {
		return problem.Invalid("state", "%q: bulk replay takes dead (default) or failed deliveries", in.State)
	}
	n, err := s.DB.ReplayDeliveries(r.Context(), store.DeliveryFilter{EndpointID: in.Endpoint, State: in.State, Since: in.Since, Until: in.Until}, nil, time.Now())
	if err != nil {
		return err
	}
	s.wake()
	Note(r, in.Endpoint, strconv.FormatInt(n, 10)+" "+in.State+" deliveries replayed", map[string]any{"since": in.Since, "until": in.Until})
	writeJSON(w, http.StatusAccepted, map[string]any{"replayed": n})
	return nil
}

func (s *Server) wake() {
	if s.Dispatcher != nil {
		s.Dispatcher.Wake()
	}
}

func (s *Server) listEvents(w http.ResponseWriter, r *http.Request) error {
	q := query(r.URL.Query())
	f := store.EventFilter{HookID: q.get("hook"), Source: q.get("source"), Type: q.get("type"), Before: q.get("cursor")}
	var err error
	if f.Limit, err = q.limit(50, 500); err != nil {
		return err
	}
	evs, next, err := FetchPage(f.Limit, func(n int) ([]store.Event, error) { f.Limit = n; return s.DB.ListEvents(r.Context(), f) },
		func(e store.Event) string { return e.ID })
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"items": ViewAll(evs, eventView), "next_cursor": next})
	return nil
}

func eventView(e store.Event) map[string]any {
	return map[string]any{"id": e.ID, "source": e.Source, "type": e.Type, "hook_id": e.HookID, "received_at": e.ReceivedAt,
		"idempotency_key": e.IdempotencyKey, "payload": rawJSON(e.Payload)}
}

type rawJSON string

func (r rawJSON) MarshalJSON() ([]byte, error) { return []byte(r), nil }

// LoadEvent reads event id; a missing one is a 404. Shared with the admin UI.
func LoadEvent(ctx context.Context, db *store.DB, id string) (store.Event, error) {
	e, err := db.Event(ctx, id)
	if err == store.ErrNotFound {
		return e, problem.NotFound("no event %q", id)
	}
	return e, err
}

func (s *Server) getEvent(w http.ResponseWriter, r *http.Request) error {
	e, err := LoadEvent(r.Context(), s.DB, r.PathValue("id"))
	if err != nil {
		return err
	}
	ds, err := s.DB.ListDeliveries(r.Context(), store.DeliveryFilter{EventID: e.ID, Limit: 500})
	if err != nil {
		return err
	}
	v := eventView(e)
	v["deliveries"] = ViewAll(ds, viewDelivery)
	writeJSON(w, http.StatusOK, v)
	return nil
}

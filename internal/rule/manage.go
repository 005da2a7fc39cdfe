package rule

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"time"

	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/store"
)

// The rule changes of the REST API (/api/v1/rules) and the admin UI's rule
// forms: both call these, so a rule is checked the same way whichever
// door it comes through. Errors are problem errors naming the field.

// Invalid turns a validation error into the 422 the API answers.
func Invalid(fe *FieldError) error { return problem.Invalid(fe.Field, "%s", fe.Message) }

// Get reads rule id; a missing one is a 404.
func (s *Service) Get(ctx context.Context, id string) (store.Rule, error) {
	x, err := s.DB.Rule(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return x, problem.NotFound("no rule with id %q (the Rules page and GET /api/v1/rules list them)", id)
	}
	return x, err
}

func nameConflict(err error, name string) error {
	if store.IsConflict(err) {
		return &problem.Error{Status: http.StatusConflict, Code: "conflict", Field: "name",
			Message: `a rule named "` + name + `" already exists; choose another name`}
	}
	return err
}

func managed(x store.Rule, what string) error {
	return problem.Conflict("rule %q is managed by ipai.yaml: %s it there and restart ipai serve", x.Name, what)
}

// Create validates sp, stores it as a new rule (not managed) and reloads
// the router.
func (s *Service) Create(ctx context.Context, sp Spec) (store.Rule, error) {
	if fe := sp.Validate(); fe != nil {
		return store.Rule{}, Invalid(fe)
	}
	rec := ToStore(NewID(), sp, false, time.Now().UTC())
	if err := s.DB.CreateRule(ctx, rec); err != nil {
		return rec, nameConflict(err, rec.Name)
	}
	return rec, s.Reload(context.WithoutCancel(ctx))
}

// Patch changes a rule: the fields given replace the stored ones, then the
// whole rule is validated.
type Patch struct {
	Name      *string   `json:"name"`
	Enabled   *bool     `json:"enabled"`
	Match     *Match    `json:"match"`
	Condition *string   `json:"condition"`
	Actions   *[]Action `json:"actions"`
}

// Update applies p to rule id (refused for a rule from ipai.yaml), stores
// it and reloads the router.
func (s *Service) Update(ctx context.Context, id string, p Patch) (store.Rule, error) {
	x, err := s.Get(ctx, id)
	if err != nil {
		return x, err
	}
	if x.Managed {
		return x, managed(x, "edit (or remove)")
	}
	sp, err := FromStore(x)
	if err != nil {
		return x, err
	}
	if p.Name != nil {
		sp.Name = *p.Name
	}
	if p.Enabled != nil {
		sp.Enabled = p.Enabled
	}
	if p.Match != nil {
		sp.Match = *p.Match
	}
	if p.Condition != nil {
		sp.Condition = *p.Condition
	}
	if p.Actions != nil {
		sp.Actions = *p.Actions
	}
	if fe := sp.Validate(); fe != nil {
		return x, Invalid(fe)
	}
	rec := ToStore(x.ID, sp, false, time.Now().UTC())
	rec.CreatedAt = x.CreatedAt
	if err := s.DB.UpdateRule(ctx, rec); err != nil {
		return x, nameConflict(err, rec.Name)
	}
	return rec, s.Reload(context.WithoutCancel(ctx))
}

// Delete removes rule id (refused for a rule from ipai.yaml) and reloads
// the router; it returns the deleted rule.
func (s *Service) Delete(ctx context.Context, id string) (store.Rule, error) {
	x, err := s.Get(ctx, id)
	if err != nil {
		return x, err
	}
	if x.Managed {
		return x, managed(x, "edit (or remove)")
	}
	if err := s.DB.DeleteRule(ctx, x.ID); err != nil {
		return x, err
	}
	return x, s.Reload(context.WithoutCancel(ctx))
}

// Sample is the event a dry run tests a rule against.
type Sample struct {
	Type       string          `json:"type"`
	Source     string          `json:"source"`
	Payload    json.RawMessage `json:"payload"`
	ReceivedAt time.Time       `json:"received_at"`
}

// TestStored dry-runs rule id against the sample: nothing is sent and
// nothing is stored. It returns the rule tested and the result.
func (s *Service) TestStored(ctx context.Context, id string, in Sample) (store.Rule, TestResult, error) {
	x, err := s.Get(ctx, id)
	if err != nil {
		return x, TestResult{}, err
	}
	if strings.TrimSpace(in.Type) == "" {
		return x, TestResult{}, problem.Invalid("type", "is required: the sample event's type, e.g. odoo.purchase.order.write")
	}
	if len(in.Payload) == 0 {
		in.Payload = json.RawMessage("{}")
	}
	if !json.Valid(in.Payload) {
		return x, TestResult{}, problem.Invalid("payload", "is not valid JSON; give the event's payload as a JSON object, e.g. {\"amount_total\": 1200}")
	}
	if in.ReceivedAt.IsZero() {
		in.ReceivedAt = time.Now().UTC()
	}
	sp, err := FromStore(x)
	if err != nil {
		return x, TestResult{}, err
	}
	c, err := Compile(x.ID, sp)
	if err != nil {
		var fe *FieldError
		if errors.As(err, &fe) {
			return x, TestResult{}, Invalid(fe)
		}
		return x, TestResult{}, err
	}
	ev := &store.Event{ID: "evt_test", Source: in.Source, Type: in.Type, ReceivedAt: in.ReceivedAt, Payload: string(in.Payload)}
	return x, c.Test(ev), nil
}

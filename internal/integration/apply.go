package integration

import (
	"context"
	"errors"
	"fmt"
	"maps"

	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/store"
)

// Applied says what Apply did with each connector.
type Applied struct {
	Created, Updated, Unchanged, Released []string
}

// Apply makes the stored connectors match those declared in ipai.yaml,
// idempotently: missing ones are created (draft, managed), changed ones are
// rewritten (back to draft when the connection changed), unchanged ones are
// left alone, and connectors no longer declared stop being managed (they
// are kept, and become editable through the API). A declared code that an
// API-created connector already uses is taken over by the file.
func (s *Service) Apply(ctx context.Context, specs []config.ConnectorSpec) (Applied, error) {
	var res Applied
	var errs []error
	declared := map[string]bool{}
	for i, sp := range specs {
		declared[sp.Code] = true
		what, err := s.applyOne(ctx, sp)
		if err != nil {
			if p, ok := problem.As(err); ok && p.Field != "" {
				err = fmt.Errorf("%s.%s: %s", fmt.Sprintf("connectors[%d]", i), p.Field, p.Message)
			}
			errs = append(errs, fmt.Errorf("ipai.yaml connector %s: %w", sp.Code, err))
			continue
		}
		switch what {
		case "created":
			res.Created = append(res.Created, sp.Code)
		case "updated":
			res.Updated = append(res.Updated, sp.Code)
		default:
			res.Unchanged = append(res.Unchanged, sp.Code)
		}
	}
	all, err := s.DB.ListConnectors(ctx, "")
	if err != nil {
		return res, errors.Join(append(errs, err)...)
	}
	for _, c := range all {
		if c.Managed && !declared[c.Code] {
			c.Managed = false
			c.UpdatedAt = s.now()
			if err := s.DB.UpdateConnector(ctx, c); err != nil {
				errs = append(errs, err)
				continue
			}
			res.Released = append(res.Released, c.Code)
		}
	}
	return res, errors.Join(errs...)
}

func (s *Service) applyOne(ctx context.Context, sp config.ConnectorSpec) (string, error) {
	in := Input{Code: sp.Code, Name: sp.Name, Type: sp.Type, BaseURL: sp.BaseURL, APIVersion: sp.APIVersion,
		AuthType: sp.AuthType, Settings: sp.Settings, Secrets: sp.Secrets}
	cur, err := s.DB.Connector(ctx, sp.Code)
	if errors.Is(err, store.ErrNotFound) {
		if _, err := s.create(ctx, in, true); err != nil {
			return "", err
		}
		return "created", nil
	}
	if err != nil {
		return "", err
	}
	want := store.Connector{Code: sp.Code, Name: sp.Name, Type: sp.Type, BaseURL: sp.BaseURL, APIVersion: sp.APIVersion,
		AuthType: sp.AuthType, Settings: clean(sp.Settings)}
	plain := clean(sp.Secrets)
	if err := s.validate(&want, plain); err != nil {
		return "", err
	}
	have, err := s.open(cur)
	secretsSame := err == nil && maps.Equal(have, plain)
	if cur.Managed && secretsSame && cur.Name == want.Name && !connectionChanged(cur, want) {
		return "unchanged", nil
	}
	next := cur
	next.Name, next.Type, next.BaseURL, next.APIVersion, next.AuthType, next.Settings =
		want.Name, want.Type, want.BaseURL, want.APIVersion, want.AuthType, want.Settings
	next.Managed = true
	if !secretsSame {
		if err := s.seal(&next, plain); err != nil {
			return "", err
		}
	}
	if !secretsSame || connectionChanged(cur, next) {
		next.State = connector.StateDraft
	}
	next.UpdatedAt = s.now()
	return "updated", s.DB.UpdateConnector(ctx, next)
}

package supabase_test

import (
	"context"
	"errors"
	"net/url"
	"testing"

	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/connector/connectortest"
	"github.com/insightpulseai/ipai/internal/connector/supabase"
	fake "github.com/insightpulseai/ipai/internal/fake/supabase"
)

func start(t *testing.T) connectortest.Fake {
	s := fake.New()
	t.Cleanup(s.Close)
	return connectortest.Fake{
		Config: connector.Config{Type: "supabase", BaseURL: s.URL,
			Settings: map[string]string{"table": "todos"}, Secrets: map[string]string{"api_key": fake.ServiceKey}},
		Knobs:          &s.Knobs,
		WrongVersion:   func() { s.SetVersion("v1.22.0") },
		BadCredentials: connectortest.WithSecret("api_key", "sb_secret_wrong"),
		ErrorBody:      `{"message":"An invalid response was received from the upstream server"}`,
	}
}

func TestConnection(t *testing.T) { connectortest.Run(t, start) }

func TestClient(t *testing.T) {
	s := fake.New()
	defer s.Close()
	ctx := context.Background()
	c := supabase.New(s.URL, fake.ServiceKey, nil)
	var rows []map[string]any
	if err := c.Insert(ctx, "todos", []map[string]any{{"title": "a", "done": false}, {"title": "b", "done": true}}, &rows); err != nil || len(rows) != 2 {
		t.Fatalf("Insert = %v, %v", rows, err)
	}
	if err := c.Insert(ctx, "todos", map[string]any{"title": "c", "done": false}, nil); err != nil {
		t.Fatal(err)
	}
	var open []struct {
		ID    int    `json:"id"`
		Title string `json:"title"`
	}
	if err := c.Select(ctx, "todos", url.Values{"done": {"eq.false"}, "order": {"title.desc"}, "limit": {"10"}}, &open); err != nil || len(open) != 2 || open[0].Title != "c" {
		t.Fatalf("Select = %+v, %v", open, err)
	}
	err := c.Select(ctx, "missing", nil, &open)
	var se *connector.ServiceError
	if !errors.As(err, &se) || se.Code != "PGRST205" || se.Status != 404 {
		t.Fatalf("missing table: %v", err)
	}
	err = c.Insert(ctx, "todos", map[string]any{"id": 1, "title": "dup"}, nil)
	if !errors.As(err, &se) || se.Code != "23505" || se.Status != 409 {
		t.Fatalf("duplicate: %v", err)
	}
}

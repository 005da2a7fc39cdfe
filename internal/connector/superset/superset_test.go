package superset_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/connector/connectortest"
	"github.com/insightpulseai/ipai/internal/connector/superset"
	fake "github.com/insightpulseai/ipai/internal/fake/superset"
)

func start(t *testing.T) connectortest.Fake {
	s := fake.New()
	t.Cleanup(s.Close)
	return connectortest.Fake{
		Config: connector.Config{Type: "superset", BaseURL: s.URL,
			Settings: map[string]string{"username": fake.Username}, Secrets: map[string]string{"password": fake.Password}},
		Knobs:          &s.Knobs,
		WrongVersion:   func() { s.SetVersion("2.1.3") },
		BadCredentials: connectortest.WithSecret("password", "wrong"),
		ErrorBody:      "Service Unavailable",
	}
}

func TestConnection(t *testing.T) { connectortest.Run(t, start) }

func TestConnectionWithoutVersionEndpoint(t *testing.T) {
	s := fake.New()
	defer s.Close()
	s.SetVersion("")
	c := superset.New(s.URL, fake.Username, fake.Password, nil)
	r := connector.Test(context.Background(), c, 0)
	if !r.OK || r.Version != "" {
		t.Fatalf("report = %+v, want ok with unknown version", r)
	}
}

func TestGuestToken(t *testing.T) {
	s := fake.New()
	defer s.Close()
	ctx := context.Background()
	c := superset.New(s.URL, fake.Username, fake.Password, nil)
	tok, err := c.GuestToken(ctx, superset.GuestTokenRequest{
		User:      superset.GuestUser{Username: "odoo_7", FirstName: "Ana"},
		Resources: []superset.Resource{{Type: "dashboard", ID: "5b6e1f6a-0c1d-4a8e-9d7e-1f2a3b4c5d6e"}},
		RLS:       []superset.RLS{{Clause: "company_id = 1"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		t.Fatalf("guest token %q is not a JWT", tok)
	}
	raw, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var claims map[string]any
	if err := json.Unmarshal(raw, &claims); err != nil || claims["type"] != "guest" {
		t.Fatalf("claims = %s", raw)
	}
	if g := s.GuestTokens(); len(g) != 1 || g[0].RLS[0]["clause"] != "company_id = 1" {
		t.Fatalf("recorded = %+v", g)
	}
	// An unknown embedded uuid: Superset 6.1's 400 message is kept.
	_, err = c.GuestToken(ctx, superset.GuestTokenRequest{Resources: []superset.Resource{{Type: "dashboard", ID: "00000000-1111-4222-8333-444444444444"}}})
	var se *connector.ServiceError
	if !errors.As(err, &se) || se.Status != 400 || se.Message != "EmbeddedDashboard not found." {
		t.Fatalf("unknown uuid: %v", err)
	}
	// Expired access token: the client logs in again once.
	s.ExpireTokens()
	if _, err := c.GuestToken(ctx, superset.GuestTokenRequest{Resources: []superset.Resource{{Type: "dashboard", ID: "sales"}}}); err != nil {
		t.Fatalf("after expiry: %v", err)
	}
}

func TestDashboards(t *testing.T) {
	s := fake.New()
	defer s.Close()
	ctx := context.Background()
	c := superset.New(s.URL, fake.Username, fake.Password, nil)
	ds, n, err := c.Dashboards(ctx, "(page:0,page_size:25)")
	// Most recently changed first, as Superset 6.1 lists them.
	if err != nil || n != 2 || ds[0].Slug != "finance" || ds[1].Slug != "sales" {
		t.Fatalf("Dashboards = %+v %d %v", ds, n, err)
	}
	e, err := c.Embedded(ctx, "1")
	if err != nil || e.UUID == "" {
		t.Fatalf("Embedded = %+v, %v", e, err)
	}
	if _, err := c.Embedded(ctx, "2"); err == nil {
		t.Fatal("Embedded of a non-embedded dashboard succeeded")
	}
}

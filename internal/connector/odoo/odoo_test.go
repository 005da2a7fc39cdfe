package odoo_test

import (
	"context"
	"errors"
	"testing"

	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/connector/connectortest"
	"github.com/insightpulseai/ipai/internal/connector/odoo"
	fake "github.com/insightpulseai/ipai/internal/fake/odoo"
)

func start(t *testing.T) connectortest.Fake {
	s := fake.New()
	t.Cleanup(s.Close)
	return connectortest.Fake{
		Config: connector.Config{Type: "odoo", BaseURL: s.URL,
			Settings: map[string]string{"database": fake.DB, "login": fake.Login},
			Secrets:  map[string]string{"api_key": fake.APIKey}},
		Knobs:          &s.Knobs,
		WrongVersion:   func() { s.SetSerie("16.0") },
		BadCredentials: connectortest.WithSecret("api_key", "wrong"),
		ErrorBody:      "Service Unavailable",
	}
}

func TestConnection(t *testing.T) { connectortest.Run(t, start) }

func TestConnectionJSON2(t *testing.T) {
	s := fake.New()
	defer s.Close()
	s.SetSerie("19.0")
	cfg := connector.Config{Type: "odoo", BaseURL: s.URL,
		Settings: map[string]string{"database": fake.DB, "login": fake.Login}, Secrets: map[string]string{"api_key": fake.APIKey}}
	c, _ := connector.New(cfg, nil)
	r := connector.Test(context.Background(), c, 0)
	if !r.OK || r.Version != "19.0" {
		t.Fatalf("Odoo 19 test = %+v", r)
	}
	cfg.Secrets["api_key"] = "bad"
	c, _ = connector.New(cfg, nil)
	r = connector.Test(context.Background(), c, 0)
	var se *connector.ServiceError
	if r.OK || !errors.As(r.Err, &se) || se.Status != 401 || se.Message != "Invalid apikey" {
		t.Fatalf("Odoo 19 bad key = %+v (%v)", r, r.Err)
	}
}

func TestAuthenticateFalseIsAuthError(t *testing.T) {
	s := fake.New()
	defer s.Close()
	c := odoo.New(s.URL, fake.DB, fake.Login, "wrong", nil)
	_, err := c.Authenticate(context.Background())
	if !errors.Is(err, connector.ErrAuth) || errors.Is(err, connector.ErrMalformed) {
		t.Fatalf("Authenticate with a bad key: %v", err)
	}
}

func TestClient(t *testing.T) {
	s := fake.New()
	defer s.Close()
	ctx := context.Background()
	c := odoo.New(s.URL, fake.DB, fake.Login, fake.Password, nil)
	v, err := c.Version(ctx)
	if err != nil || v.ServerSerie != "18.0" || v.ProtocolVersion != 1 {
		t.Fatalf("Version = %+v, %v", v, err)
	}
	var partners []struct {
		ID        int    `json:"id"`
		Name      string `json:"name"`
		WriteDate string `json:"write_date"`
	}
	err = c.SearchRead(ctx, "res.partner", []any{[]any{"is_company", "=", true}}, map[string]any{"fields": []string{"name", "write_date"}, "order": "name asc"}, &partners)
	if err != nil || len(partners) != 2 || partners[0].Name != "Azure Interior" || partners[0].WriteDate == "" {
		t.Fatalf("SearchRead = %+v, %v", partners, err)
	}
	id, err := c.Create(ctx, "res.partner", map[string]any{"name": "New Co", "is_company": true})
	if err != nil || id == 0 {
		t.Fatalf("Create = %d, %v", id, err)
	}
	if err := c.Write(ctx, "res.partner", []int{id}, map[string]any{"email": "new@example.com"}); err != nil {
		t.Fatal(err)
	}
	var rows []map[string]any
	if err := c.Read(ctx, "res.partner", []int{id}, []string{"email", "phone"}, &rows); err != nil || rows[0]["email"] != "new@example.com" || rows[0]["phone"] != false {
		t.Fatalf("Read = %v, %v", rows, err)
	}
	n, err := c.SearchCount(ctx, "res.partner", []any{"|", []any{"name", "ilike", "new"}, []any{"name", "ilike", "deco"}})
	if err != nil || n != 2 {
		t.Fatalf("SearchCount with | = %d, %v", n, err)
	}
	fields, err := c.FieldsGet(ctx, "res.partner")
	if err != nil || fields["name"].Type != "char" {
		t.Fatalf("FieldsGet = %v, %v", fields, err)
	}
	err = c.Write(ctx, "res.partner", []int{999}, map[string]any{"name": "x"})
	var se *connector.ServiceError
	if !errors.As(err, &se) || se.Code != "odoo.exceptions.MissingError" || se.Status != 200 {
		t.Fatalf("write of a missing record: %v", err)
	}
	_, err = c.Search(ctx, "no.such.model", nil, nil)
	if !errors.As(err, &se) || se.Code != "builtins.KeyError" {
		t.Fatalf("unknown model: %v", err)
	}
}

func TestClientJSON2(t *testing.T) {
	s := fake.New()
	defer s.Close()
	s.SetSerie("19.0")
	ctx := context.Background()
	c := odoo.New(s.URL, fake.DB, fake.Login, fake.APIKey, nil)
	if _, err := c.Version(ctx); err != nil {
		t.Fatal(err)
	}
	id, err := c.Create(ctx, "res.partner", map[string]any{"name": "J2"})
	if err != nil || id == 0 {
		t.Fatalf("JSON-2 create = %d, %v", id, err)
	}
	var rows []map[string]any
	if err := c.SearchRead(ctx, "res.partner", []any{[]any{"name", "=", "J2"}}, map[string]any{"fields": []string{"name"}}, &rows); err != nil || len(rows) != 1 {
		t.Fatalf("JSON-2 search_read = %v, %v", rows, err)
	}
}

package keycloak_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/connector/connectortest"
	"github.com/insightpulseai/ipai/internal/connector/keycloak"
	fake "github.com/insightpulseai/ipai/internal/fake/keycloak"
)

func start(t *testing.T) connectortest.Fake {
	s := fake.New()
	t.Cleanup(s.Close)
	return connectortest.Fake{
		Config: connector.Config{Type: "keycloak", BaseURL: s.URL,
			Settings: map[string]string{"realm": fake.Realm, "client_id": fake.ClientID},
			Secrets:  map[string]string{"client_secret": fake.ClientSecret}},
		Knobs:          &s.Knobs,
		WrongVersion:   func() { s.SetVersion("16.1.1") },
		BadCredentials: connectortest.WithSecret("client_secret", "wrong"),
		ErrorBody:      `{"status":"DOWN","checks":[]}`,
	}
}

func TestConnection(t *testing.T) { connectortest.Run(t, start) }

func TestClient(t *testing.T) {
	s := fake.New()
	defer s.Close()
	ctx := context.Background()
	c := keycloak.New(s.URL, fake.Realm, fake.ClientID, fake.ClientSecret, nil)
	d, err := c.Discover(ctx)
	if err != nil || d.Issuer != s.URL+"/realms/ipai" || !strings.HasSuffix(d.TokenEndpoint, "/protocol/openid-connect/token") {
		t.Fatalf("Discover = %+v, %v", d, err)
	}
	if _, err := keycloak.New(s.URL, "nope", "x", "y", nil).Discover(ctx); err == nil {
		t.Fatal("unknown realm discovered")
	}
	tok, err := c.ClientCredentials(ctx)
	if err != nil || tok.TokenType != "Bearer" || tok.ExpiresIn != 300 {
		t.Fatalf("ClientCredentials = %+v, %v", tok, err)
	}
	s.DisableServiceAccounts()
	_, err = c.ClientCredentials(ctx)
	var se *connector.ServiceError
	if !errors.As(err, &se) || se.Code != "unauthorized_client" || !strings.Contains(se.Message, "service account") || !errors.Is(err, connector.ErrAuth) {
		t.Fatalf("service accounts off: %v", err)
	}
}

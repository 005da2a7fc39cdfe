package integration

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/fake/mattermost"
	"github.com/insightpulseai/ipai/internal/outbound"
	"github.com/insightpulseai/ipai/internal/secret"
	"github.com/insightpulseai/ipai/internal/store"
)

func newService(t *testing.T) *Service {
	t.Helper()
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "ipai.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	box, err := secret.Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return New(db, box, nil, 0)
}

// A sealed secret is bound to its connector: copied onto another row, or
// read under another master key, it does not open, and Test Connection says
// so instead of calling the service with garbage.
func TestSecretsAreBoundToTheirConnectorAndKey(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	mm := mattermost.New()
	t.Cleanup(mm.Close)
	for _, code := range []string{"a", "b"} {
		if _, err := s.Create(ctx, Input{Code: code, Type: "mattermost", BaseURL: mm.URL, Secrets: map[string]string{"token": mattermost.AdminToken}}); err != nil {
			t.Fatal(err)
		}
	}
	a, _ := s.Get(ctx, "a")
	b, _ := s.Get(ctx, "b")
	b.Secrets = a.Secrets // moved across rows
	if err := s.DB.UpdateConnector(ctx, b); err != nil {
		t.Fatal(err)
	}
	calls := mm.Calls()
	rep, err := s.Test(ctx, "b")
	if err != nil || rep.OK || rep.State != "error" || !strings.Contains(rep.Error(), "secret token of connector b") {
		t.Fatalf("test with a moved secret: %+v %v", rep, err)
	}
	if mm.Calls() != calls {
		t.Fatal("the service was called although the secret did not open")
	}
	other, _ := secret.Load(t.TempDir())
	s2 := New(s.DB, other, nil, 0)
	if rep, _ := s2.Test(ctx, "a"); rep.OK || !strings.Contains(rep.Error(), "master key") {
		t.Fatalf("test under another master key: %+v", rep)
	}
	if rep, _ := s.Test(ctx, "a"); !rep.OK {
		t.Fatalf("test with the right key: %+v", rep)
	}
}

// Connector calls go through the outbound guard: the connector's own host
// is allowed, other private addresses stay blocked for the same client.
func TestConnectorCallsAreGuarded(t *testing.T) {
	ctx := context.Background()
	s := newService(t)
	s.Guard, _ = outbound.New(nil)
	mm := mattermost.New()
	t.Cleanup(mm.Close)
	if _, err := s.Create(ctx, Input{Code: "chat", Type: "mattermost", BaseURL: mm.URL, Secrets: map[string]string{"token": mattermost.AdminToken}}); err != nil {
		t.Fatal(err)
	}
	if rep, err := s.Test(ctx, "chat"); err != nil || !rep.OK {
		t.Fatalf("test of a loopback connector: %+v %v", rep, err)
	}
	_, err := s.HTTPClient().Get("http://10.255.255.1:9/")
	if err == nil || !strings.Contains(err.Error(), "blocked") {
		t.Fatalf("private address through the connector client: %v; want blocked", err)
	}
}

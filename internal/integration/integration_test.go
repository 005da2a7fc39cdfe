package integration

import (
	"context"
	"errors"
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
	cfg, err := s.Config(ctx, "chat")
	if err != nil {
		t.Fatal(err)
	}
	hc := s.HTTPClient(cfg)
	_, err = hc.Get("http://10.255.255.1:9/")
	if err == nil || !strings.Contains(err.Error(), "blocked") {
		t.Fatalf("private address through the connector client: %v; want blocked", err)
	}
	// Another port of the connector's own host is not its own either.
	other := mattermost.New()
	t.Cleanup(other.Close)
	if _, err := hc.Get(other.URL + "/api/v4/system/ping"); !errors.Is(err, outbound.ErrBlocked) {
		t.Fatalf("another port of the connector's host: %v; want blocked", err)
	}
	// Another connector's client does not get this one's allowance.
	if _, err := s.Create(ctx, Input{Code: "chat2", Type: "mattermost", BaseURL: other.URL, Secrets: map[string]string{"token": mattermost.AdminToken}}); err != nil {
		t.Fatal(err)
	}
	cfg2, _ := s.Config(ctx, "chat2")
	old := s.HTTPClient(cfg2)
	if _, err := old.Get(mm.URL + "/api/v4/system/ping"); !errors.Is(err, outbound.ErrBlocked) {
		t.Fatalf("connector chat2's client to chat's URL: %v; want blocked", err)
	}
	// Changing the base URL ends the old allowance, even for a client
	// handed out before; the new URL is the connector's own.
	if _, err := s.Update(ctx, "chat2", Patch{BaseURL: &mm.URL}); err != nil {
		t.Fatal(err)
	}
	old.CloseIdleConnections()
	if _, err := old.Get(other.URL + "/api/v4/system/ping"); !errors.Is(err, outbound.ErrBlocked) {
		t.Fatalf("old base URL after the change: %v; want blocked", err)
	}
	if rep, err := s.Test(ctx, "chat2"); err != nil || !rep.OK {
		t.Fatalf("test at the new base URL: %+v %v", rep, err)
	}
	// Deleting it ends it.
	if err := s.Delete(ctx, "chat"); err != nil {
		t.Fatal(err)
	}
	hc.CloseIdleConnections()
	if _, err := hc.Get(mm.URL + "/api/v4/system/ping"); !errors.Is(err, outbound.ErrBlocked) {
		t.Fatalf("deleted connector's client: %v; want blocked", err)
	}
}

package embed

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/connector"
	fakess "github.com/insightpulseai/ipai/internal/fake/superset"
)

const salesUUID = "5b6e1f6a-0c1d-4a8e-9d7e-1f2a3b4c5d6e"

func newService(t *testing.T) (*Service, *fakess.Server, *atomic.Int64) {
	t.Helper()
	f := fakess.New()
	t.Cleanup(f.Close)
	var now atomic.Int64
	now.Store(time.Now().UnixNano())
	s := &Service{
		Dashboards: []Dashboard{
			{ID: "sales", Name: "Sales", SupersetID: "1", EmbeddedUUID: salesUUID, Groups: []string{"sales"}, Roles: []string{"manager"},
				RLSByCompany: true, RLSClause: "owner = ${user_login} AND region_user = ${user_id}"},
			{ID: "open", Name: "Open", EmbeddedUUID: salesUUID},
		},
		Config: func(context.Context) (connector.Config, error) {
			return connector.Config{Type: "superset", BaseURL: f.URL, Settings: map[string]string{"username": fakess.Username},
				Secrets: map[string]string{"password": fakess.Password}}, nil
		},
		HTTP: f.Client(),
		Now:  func() time.Time { return time.Unix(0, now.Load()) },
	}
	return s, f, &now
}

func TestGuestTokenRLSAndCache(t *testing.T) {
	ctx := context.Background()
	s, f, now := newService(t)
	v := Viewer{UserID: "7", Login: "o'brien", CompanyID: "3", Role: "user", Groups: []string{"sales"}}
	tok, err := s.GuestToken(ctx, "sales", v)
	if err != nil {
		t.Fatal(err)
	}
	if tok.Token == "" || tok.SupersetURL != f.URL || tok.DashboardID != salesUUID {
		t.Fatalf("token %+v", tok)
	}
	g := f.GuestTokens()[0]
	if len(g.RLS) != 2 || g.RLS[0]["clause"] != "company_id = 3" || g.RLS[1]["clause"] != "owner = 'o''brien' AND region_user = 7" {
		t.Fatalf("rls %v", g.RLS)
	}
	if g.Resources[0]["id"] != salesUUID || g.User["username"] != "ipai_o'brien" {
		t.Fatalf("guest request %+v", g)
	}
	// Cached service login (with its CSRF token and session cookie).
	if _, err := s.GuestToken(ctx, "sales", v); err != nil {
		t.Fatal(err)
	}
	if n := s.Logins(); n != 1 {
		t.Fatalf("%d logins for two tokens within 240 s", n)
	}
	now.Add(int64(241 * time.Second))
	if _, err := s.GuestToken(ctx, "sales", v); err != nil {
		t.Fatal(err)
	}
	if n := s.Logins(); n != 2 {
		t.Fatalf("%d logins after the cache expired, want 2", n)
	}
	// Superset forgets the access token: 401, one fresh login, success.
	f.ExpireTokens()
	if _, err := s.GuestToken(ctx, "sales", v); err != nil {
		t.Fatalf("after 401: %v", err)
	}
	if n := len(f.GuestTokens()); n != 4 {
		t.Fatalf("%d guest tokens issued", n)
	}
}

func TestGuestTokenRefusals(t *testing.T) {
	ctx := context.Background()
	s, f, _ := newService(t)
	// Outside the allowed groups and below the allowed role.
	_, err := s.GuestToken(ctx, "sales", Viewer{UserID: "8", Login: "eve", CompanyID: "3", Role: "user", Groups: []string{"hr"}})
	if !errors.Is(err, ErrForbidden) {
		t.Fatalf("outsider: %v", err)
	}
	// A manager passes by role; without a company the company RLS fails closed.
	_, err = s.GuestToken(ctx, "sales", Viewer{UserID: "9", Login: "boss", Role: "manager"})
	if !errors.Is(err, ErrForbidden) {
		t.Fatalf("no company: %v", err)
	}
	if _, err := s.GuestToken(ctx, "nope", Viewer{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown: %v", err)
	}
	if len(f.GuestTokens()) != 0 {
		t.Fatal("a refused viewer got a token")
	}
	if got := s.Visible(Viewer{Role: "user", Groups: []string{"hr"}}); len(got) != 1 || got[0].ID != "open" {
		t.Fatalf("visible: %+v", got)
	}
	if got := s.Visible(Viewer{Role: "admin"}); len(got) != 2 {
		t.Fatalf("admin sees %d", len(got))
	}
}

func TestRenderPlaceholders(t *testing.T) {
	got := Render("company_id = ${company_id} AND uid = ${user_id} AND login = ${user_login}", Viewer{UserID: "x; DROP", Login: "a'b", CompanyID: "4"})
	if want := "company_id = 4 AND uid = NULL AND login = 'a''b'"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
}

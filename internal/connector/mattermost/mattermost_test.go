package mattermost_test

import (
	"context"
	"errors"
	"testing"

	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/connector/connectortest"
	"github.com/insightpulseai/ipai/internal/connector/mattermost"
	fake "github.com/insightpulseai/ipai/internal/fake/mattermost"
)

func start(t *testing.T) connectortest.Fake {
	s := fake.New()
	t.Cleanup(s.Close)
	return connectortest.Fake{
		Config: connector.Config{Type: "mattermost", BaseURL: s.URL,
			Settings: map[string]string{"team": "ipai", "channel": "town-square"},
			Secrets:  map[string]string{"token": fake.AdminToken}},
		Knobs:          &s.Knobs,
		WrongVersion:   func() { s.SetVersion("9.4.2") },
		BadCredentials: connectortest.WithSecret("token", "wrongtoken"),
		ErrorBody:      `{"id":"api.context.500.app_error","message":"An internal error occurred.","detailed_error":"","request_id":"x","status_code":503}`,
	}
}

func TestConnection(t *testing.T) { connectortest.Run(t, start) }

func TestClient(t *testing.T) {
	s := fake.New()
	defer s.Close()
	ctx := context.Background()
	c := mattermost.New(s.URL, fake.AdminToken, nil)

	p, err := c.Ping(ctx)
	if err != nil || p.Status != "OK" || p.Version != "9.11.1" || p.DatabaseStatus != "OK" {
		t.Fatalf("Ping = %+v, %v", p, err)
	}
	me, err := c.Me(ctx)
	if err != nil || me.Username != "admin" {
		t.Fatalf("Me = %+v, %v", me, err)
	}
	tok, u, err := c.Login(ctx, "admin", "admin-password")
	if err != nil || tok == "" || u.ID != me.ID {
		t.Fatalf("Login = %q %+v %v", tok, u, err)
	}
	if _, _, err := c.Login(ctx, "admin", "nope"); !errors.Is(err, connector.ErrAuth) {
		t.Fatalf("Login with a bad password: %v, want ErrAuth", err)
	} else if se := (*connector.ServiceError)(nil); !errors.As(err, &se) || se.Code != "api.user.login.invalid_credentials_email_username" {
		t.Fatalf("Login error lost the service's id: %v", err)
	}
	cfg, err := c.WithToken(tok).ClientConfig(ctx)
	if err != nil || cfg["Version"] != "9.11.1" {
		t.Fatalf("ClientConfig = %v, %v", cfg, err)
	}
	team, err := c.TeamByName(ctx, "ipai")
	if err != nil || team.Name != "ipai" || team.ID == "" {
		t.Fatalf("TeamByName = %+v, %v", team, err)
	}
	ch, err := c.ChannelByName(ctx, "ipai", "town-square")
	if err != nil || ch.TeamID != team.ID {
		t.Fatalf("ChannelByName = %+v, %v", ch, err)
	}
	_, err = c.ChannelByName(ctx, "ipai", "missing")
	var se *connector.ServiceError
	if !errors.As(err, &se) || se.Status != 404 || se.Code != "app.channel.get_by_name.missing.app_error" {
		t.Fatalf("missing channel error = %v", err)
	}
	post, err := c.CreatePost(ctx, mattermost.Post{ChannelID: ch.ID, Message: "hello",
		Props: map[string]any{"attachments": []any{map[string]any{"text": "a"}}}})
	if err != nil || post.ID == "" || post.Message != "hello" {
		t.Fatalf("CreatePost = %+v, %v", post, err)
	}
	posts := s.Posts()
	if len(posts) != 1 || posts[0].Message != "hello" || posts[0].Props["attachments"] == nil {
		t.Fatalf("recorded posts = %+v", posts)
	}
	if _, err := c.CreatePost(ctx, mattermost.Post{ChannelID: "nochannel", Message: "x"}); !errors.As(err, &se) || se.Status != 403 {
		t.Fatalf("post to an unknown channel: %v", err)
	}
	in, err := c.CreateIncomingHook(ctx, mattermost.IncomingHook{ChannelID: ch.ID, DisplayName: "ipai"})
	if err != nil || in.ID == "" {
		t.Fatalf("CreateIncomingHook = %+v, %v", in, err)
	}
	out, err := c.CreateOutgoingHook(ctx, mattermost.OutgoingHook{TeamID: team.ID, ChannelID: ch.ID,
		TriggerWords: []string{"ipai"}, CallbackURLs: []string{"http://example.invalid/hook"}})
	if err != nil || out.Token == "" {
		t.Fatalf("CreateOutgoingHook = %+v, %v", out, err)
	}
}

func TestVersionFromHeader(t *testing.T) {
	for in, want := range map[string]string{
		"9.11.1.9.11.1.abcdef0123.false": "9.11.1",
		"7.8.0.7.8.0.abc":                "7.8.0",
		"":                               "",
		"9.5":                            "",
	} {
		if got := mattermost.VersionFromHeader(in); got != want {
			t.Errorf("VersionFromHeader(%q) = %q, want %q", in, got, want)
		}
	}
}

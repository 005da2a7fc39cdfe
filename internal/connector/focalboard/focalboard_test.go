package focalboard_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"reflect"
	"testing"

	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/connector/connectortest"
	"github.com/insightpulseai/ipai/internal/connector/focalboard"
	fake "github.com/insightpulseai/ipai/internal/fake/focalboard"
)

func start(t *testing.T) connectortest.Fake {
	s := fake.New()
	t.Cleanup(s.Close)
	return connectortest.Fake{
		Config: connector.Config{Type: "focalboard", BaseURL: s.URL,
			Settings: map[string]string{"team": "0", "board": s.BoardID},
			Secrets:  map[string]string{"token": fake.Token}},
		Knobs:          &s.Knobs,
		WrongVersion:   func() { s.SetVersion("6.2.1") },
		BadCredentials: connectortest.WithSecret("token", "nope"),
		ErrorBody:      `{"error":"internal server error","errorCode":500}`,
	}
}

func TestConnection(t *testing.T) { connectortest.Run(t, start) }

func TestConnectionBasicAuth(t *testing.T) {
	s := fake.New()
	defer s.Close()
	cfg := connector.Config{Type: "focalboard", BaseURL: s.URL, AuthType: connector.AuthBasic,
		Settings: map[string]string{"username": fake.Username}, Secrets: map[string]string{"password": fake.Password}}
	c, _ := connector.New(cfg, nil)
	if r := connector.Test(context.Background(), c, 0); !r.OK {
		t.Fatalf("basic auth test = %+v", r)
	}
	cfg.Secrets["password"] = "wrong"
	c, _ = connector.New(cfg, nil)
	r := connector.Test(context.Background(), c, 0)
	if r.OK || !errors.Is(r.Err, connector.ErrAuth) {
		t.Fatalf("wrong password test = %+v", r)
	}
}

func TestCSRFHeaderRequired(t *testing.T) {
	s := fake.New()
	defer s.Close()
	req, _ := http.NewRequest("GET", s.URL+"/api/v2/users/me", nil)
	req.Header.Set("Authorization", "Bearer "+fake.Token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 400 {
		t.Fatalf("without X-Requested-With: status %d, want 400", resp.StatusCode)
	}
}

func TestClient(t *testing.T) {
	s := fake.New()
	defer s.Close()
	ctx := context.Background()
	c := focalboard.New(s.URL, "", nil)
	if _, err := c.Login(ctx, "admin", "bad"); !errors.Is(err, connector.ErrAuth) {
		t.Fatalf("bad login: %v", err)
	}
	if _, err := c.Login(ctx, fake.Username, fake.Password); err != nil {
		t.Fatal(err)
	}
	boards, err := c.Boards(ctx, "0")
	if err != nil || len(boards) != 1 || boards[0].ID != s.BoardID || len(boards[0].CardProperties) != 1 {
		t.Fatalf("Boards = %+v, %v", boards, err)
	}
	card, err := c.CreateCard(ctx, s.BoardID, focalboard.Card{Title: "Invoice INV/001", Properties: map[string]any{"status": "todo"}})
	if err != nil || card.ID == "" || card.BoardID != s.BoardID {
		t.Fatalf("CreateCard = %+v, %v", card, err)
	}
	title := "Invoice INV/001 paid"
	got, err := c.PatchCard(ctx, card.ID, focalboard.CardPatch{Title: &title, UpdatedProperties: map[string]any{"status": "done"}})
	if err != nil || got.Title != title || got.Properties["status"] != "done" {
		t.Fatalf("PatchCard = %+v, %v", got, err)
	}
	cards, err := c.Cards(ctx, s.BoardID, 0, 100)
	if err != nil || len(cards) != 1 || cards[0].Title != title {
		t.Fatalf("Cards = %+v, %v", cards, err)
	}
	_, err = c.Card(ctx, "missing")
	var se *connector.ServiceError
	// Focalboard answers an unknown card with 400, not 404.
	if !errors.As(err, &se) || se.Status != 400 || se.Message != "could not fetch card missing: {block ID=missing} not found" {
		t.Fatalf("missing card: %v", err)
	}
}

// A basic-auth client logs in before its first call and again, once, when
// its session has expired; a wrong password is an auth error.
func TestBasicAuthSession(t *testing.T) {
	s := fake.New()
	defer s.Close()
	ctx := context.Background()
	c := focalboard.NewBasic(s.URL, fake.Username, fake.Password, nil)
	if _, err := c.Boards(ctx, "0"); err != nil {
		t.Fatalf("first call: %v", err)
	}
	s.ExpireSessions()
	if _, err := c.CreateCard(ctx, s.BoardID, focalboard.Card{Title: "after expiry"}); err != nil {
		t.Fatalf("call after the session expired: %v", err)
	}
	if n := s.Logins(); n != 2 {
		t.Fatalf("logins = %d, want 2", n)
	}
	bad := focalboard.NewBasic(s.URL, fake.Username, "wrong", nil)
	if _, err := bad.Boards(ctx, "0"); !errors.Is(err, connector.ErrAuth) {
		t.Fatalf("wrong password: %v", err)
	}
	// A token client gets Focalboard's 401.
	_, err := focalboard.New(s.URL, "", nil).Boards(ctx, "0")
	var se *connector.ServiceError
	if !errors.As(err, &se) || se.Status != 401 || se.Message != "no session token" {
		t.Fatalf("no token: %v", err)
	}
}

// Blocks are sent with createAt and updateAt (Focalboard refuses them
// without: 400 "invalid createAt for block id …").
func TestInsertBlocksSetsTimes(t *testing.T) {
	s := fake.New()
	defer s.Close()
	front := s.WithBoardEdits()
	defer front.Close()
	ctx := context.Background()
	c := focalboard.New(front.URL, fake.Token, nil)
	card, err := c.CreateCard(ctx, s.BoardID, focalboard.Card{Title: "with text"})
	if err != nil {
		t.Fatal(err)
	}
	made, err := c.InsertBlocks(ctx, s.BoardID, []focalboard.Block{{ID: "tmp", ParentID: card.ID, Type: "text", Title: "hello"}})
	if err != nil || len(made) != 1 || made[0].CreateAt == 0 || made[0].Title != "hello" {
		t.Fatalf("InsertBlocks = %+v, %v", made, err)
	}
}

// ChangeCard keeps the properties it is not told to change (Focalboard's
// card patch replaces the whole map) and can clear the last one.
func TestChangeCardKeepsOtherProperties(t *testing.T) {
	s := fake.New()
	defer s.Close()
	front := s.WithBoardEdits()
	defer front.Close()
	ctx := context.Background()
	c := focalboard.New(front.URL, fake.Token, nil)
	card, err := c.CreateCard(ctx, s.BoardID, focalboard.Card{Title: "t", Properties: map[string]any{"status": "todo", "mine": "keep me", "gone": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	title := "t2"
	got, err := c.ChangeCard(ctx, card.ID, focalboard.CardChange{Title: &title, Set: map[string]any{"status": "done"}, Delete: []string{"gone"}})
	if err != nil || got.Title != "t2" || !reflect.DeepEqual(got.Properties, map[string]any{"status": "done", "mine": "keep me"}) {
		t.Fatalf("ChangeCard = %+v, %v", got, err)
	}
	got, err = c.ChangeCard(ctx, card.ID, focalboard.CardChange{Delete: []string{"status", "mine"}})
	if err != nil || len(got.Properties) != 0 {
		t.Fatalf("clearing every property = %+v, %v", got, err)
	}
}

// New card property templates carry "options" (an empty list), as the
// Focalboard web app makes them: it reads options without a check.
func TestCardPropertyAlwaysHasOptions(t *testing.T) {
	b, err := json.Marshal(focalboard.CardProperty{ID: "p1", Name: "Deadline", Type: "date"})
	if err != nil || string(b) != `{"id":"p1","name":"Deadline","type":"date","options":[]}` {
		t.Fatalf("marshal = %s, %v", b, err)
	}
}

package focalboard_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/connector/focalboard"
	fake "github.com/insightpulseai/ipai/internal/fake/focalboard"
	"github.com/insightpulseai/ipai/internal/fake/transcript"
)

// transcriptFile holds what a real Focalboard 8.0.0 answered to
// TestContract (recorded with IPAI_TEST_RECORD=1); TestReplayReal replays
// it against the fake.
const transcriptFile = "testdata/focalboard8.json"

// contractTarget is the server the contract cases run against: the real
// Focalboard named by IPAI_TEST_FOCALBOARD_URL (+ _TOKEN, _USER,
// _PASSWORD), or else the fake.
type contractTarget struct {
	url, token, user, password string
	real                       bool
	hc                         *http.Client
	rec                        *transcript.Recorder
}

func newContractTarget(t *testing.T) *contractTarget {
	url := os.Getenv("IPAI_TEST_FOCALBOARD_URL")
	if url == "" {
		s := fake.New()
		t.Cleanup(s.Close)
		return &contractTarget{url: s.URL, token: fake.Token, user: fake.Username, password: fake.Password, hc: s.Client()}
	}
	tg := &contractTarget{url: url, token: os.Getenv("IPAI_TEST_FOCALBOARD_TOKEN"), user: os.Getenv("IPAI_TEST_FOCALBOARD_USER"),
		password: os.Getenv("IPAI_TEST_FOCALBOARD_PASSWORD"), real: true, hc: &http.Client{Timeout: 30 * time.Second}}
	if tg.token == "" || tg.user == "" || tg.password == "" {
		t.Fatal("IPAI_TEST_FOCALBOARD_URL is set: set IPAI_TEST_FOCALBOARD_TOKEN, _USER and _PASSWORD too")
	}
	if os.Getenv("IPAI_TEST_RECORD") == "1" {
		tg.rec = transcript.NewRecorder(http.DefaultTransport, "focalboard")
		tg.rec.Headers = []string{"X-Requested-With"}
		tg.rec.Secret("token", tg.token)
		tg.rec.Secret("password", tg.password)
		tg.rec.Secret("username", tg.user)
		tg.hc = &http.Client{Transport: tg.rec, Timeout: 30 * time.Second}
	}
	return tg
}

func (tg *contractTarget) cas(name string, paths ...string) {
	if tg.rec != nil {
		tg.rec.Case(name, paths...)
	}
}

func (tg *contractTarget) bind(t *testing.T, name, path string) {
	t.Helper()
	if tg.rec != nil {
		if err := tg.rec.Bind(name, path); err != nil {
			t.Fatal(err)
		}
	}
}

// raw sends a request ipai's client would not send (to pin down what the
// server does with it).
func (tg *contractTarget) raw(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, tg.url+path, rd)
	req.Header.Set("X-Requested-With", "XMLHttpRequest")
	req.Header.Set("Authorization", "Bearer "+tg.token)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := tg.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	b, _ := io.ReadAll(resp.Body)
	_ = json.Unmarshal(b, &out)
	return resp.StatusCode, out
}

// TestContract runs ipai's Focalboard client cases against a real
// Focalboard when IPAI_TEST_FOCALBOARD_URL is set, and against the fake
// otherwise; with IPAI_TEST_RECORD=1 it records the real answers.
func TestContract(t *testing.T) {
	tg := newContractTarget(t)
	ctx := context.Background()
	c := focalboard.New(tg.url, tg.token, tg.hc)

	var version string
	if tg.rec != nil {
		t.Cleanup(func() { // runs last: after the board is deleted
			f := tg.rec.File(version, time.Now().UTC().Format(time.DateOnly), "TestContract against a real Focalboard standalone server (personal_server, sqlite)")
			if err := f.Save(transcriptFile); err != nil {
				t.Error(err)
			}
		})
	}
	tg.cas("ping", "version")
	ping, err := c.Ping(ctx)
	version = ping.Version
	if err != nil || !strings.HasPrefix(ping.Version, "8.") && !strings.HasPrefix(ping.Version, "7.") {
		t.Fatalf("ping = %+v, %v", ping, err)
	}

	tg.cas("login with a wrong password", "error", "errorCode")
	if _, err := focalboard.New(tg.url, "", tg.hc).Login(ctx, tg.user, tg.password+"-wrong"); !errors.Is(err, connector.ErrAuth) {
		t.Fatalf("wrong password: %v", err)
	}
	tg.cas("no session token", "error", "errorCode")
	_, err = focalboard.New(tg.url, "", tg.hc).Me(ctx)
	var se *connector.ServiceError
	if !errors.As(err, &se) || se.Status != 401 || se.Message != "no session token" {
		t.Fatalf("no token: %v", err)
	}
	tg.cas("login")
	basic := focalboard.New(tg.url, "", tg.hc)
	session, err := basic.Login(ctx, tg.user, tg.password)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	if tg.rec != nil {
		tg.rec.Secret("session", session)
	}
	tg.bind(t, "session", "token")
	tg.cas("users/me with the session")
	me, err := basic.Me(ctx)
	if err != nil || me.Username == "" {
		t.Fatalf("me = %+v, %v", me, err)
	}
	tg.cas("a revoked session", "error", "errorCode")
	req, _ := http.NewRequest("GET", tg.url+"/api/v2/users/me", nil)
	req.Header.Set("X-Requested-With", "XMLHttpRequest")
	req.Header.Set("Authorization", "Bearer nosuchsession0000")
	resp, err := tg.hc.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	var revoked map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&revoked)
	resp.Body.Close()
	if resp.StatusCode != 401 || revoked["error"] != "unable to get the session for the token: sql: no rows in result set" {
		t.Fatalf("revoked session: %d %v", resp.StatusCode, revoked)
	}

	// Issue 19 item 10: a basic-auth client logs in, and logs in again when
	// its session is revoked (not recorded: the tokens change inside a call).
	plain := &http.Client{Timeout: 30 * time.Second}
	if !tg.real {
		plain = tg.hc
	}
	basicAuth := focalboard.NewBasic(tg.url, tg.user, tg.password, plain)
	if _, err := basicAuth.Me(ctx); err != nil {
		t.Fatalf("basic auth first call: %v", err)
	}
	first := basicAuth.SessionToken()
	if err := focalboard.New(tg.url, first, plain).Logout(ctx); err != nil {
		t.Fatalf("logout: %v", err)
	}
	if _, err := basicAuth.Me(ctx); err != nil {
		t.Fatalf("basic auth after its session was revoked: %v", err)
	}
	if second := basicAuth.SessionToken(); second == "" || second == first {
		t.Fatalf("session not renewed")
	}
	if err := basicAuth.Logout(ctx); err != nil {
		t.Fatalf("logout: %v", err)
	}

	tg.cas("team users (no emails)")
	users, err := c.TeamUsers(ctx, "0")
	if err != nil || len(users) == 0 {
		t.Fatalf("team users = %+v, %v", users, err)
	}
	// Issue 19 item 9: Focalboard never sends a user's email.
	tg.cas("users/me has no email")
	if st, u := tg.raw(t, "GET", "/api/v2/users/me", nil); st != 200 || u["username"] == nil || u["email"] != nil {
		t.Fatalf("users/me: %d %v", st, u)
	}

	// A board of our own, removed at the end.
	tg.cas("create board")
	board, err := c.CreateBoard(ctx, focalboard.Board{TeamID: "0", Type: "P", Title: "contract " + time.Now().UTC().Format(time.RFC3339Nano)})
	if err != nil || board.ID == "" {
		t.Fatalf("create board = %+v, %v", board, err)
	}
	tg.bind(t, "board", "id")
	t.Cleanup(func() {
		tg.cas("delete board")
		if st, _ := tg.raw(t, "DELETE", "/api/v2/boards/"+board.ID, nil); st != 200 {
			t.Errorf("delete board: %d", st)
		}
	})
	tg.cas("add card properties", "~cardProperties")
	props := []focalboard.CardProperty{
		{ID: "p-status", Name: "Status", Type: "select", Options: []focalboard.PropertyOpt{{ID: "o-todo", Value: "To do", Color: "propColorGray"}, {ID: "o-done", Value: "Done", Color: "propColorGreen"}}},
		{ID: "p-deadline", Name: "Deadline", Type: "date"},
		{ID: "p-estimate", Name: "Estimate", Type: "text"},
	}
	if _, err := c.PatchBoard(ctx, board.ID, focalboard.BoardPatch{UpdatedCardProperties: props}); err != nil {
		t.Fatalf("patch board: %v", err)
	}
	tg.cas("get board", "~cardProperties")
	got, err := c.Board(ctx, board.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range props {
		found := false
		for _, q := range got.CardProperties {
			if q.ID == p.ID {
				found = true
				if q.Options == nil {
					t.Errorf("property %s read back without options", p.ID)
				}
			}
		}
		if !found {
			t.Errorf("property %s not kept: %+v", p.ID, got.CardProperties)
		}
	}

	tg.cas("create card with properties", "properties")
	card, err := c.CreateCard(ctx, board.ID, focalboard.Card{Title: "contract card", Properties: map[string]any{"p-status": "o-todo", "p-estimate": "3"}})
	if err != nil || card.ID == "" || !reflect.DeepEqual(card.Properties, map[string]any{"p-status": "o-todo", "p-estimate": "3"}) {
		t.Fatalf("create card = %+v, %v", card, err)
	}
	tg.bind(t, "card", "id")

	// Issue 19 item 7: a block without createAt/updateAt is refused.
	tg.cas("block without times", "error", "errorCode")
	st, body := tg.raw(t, "POST", "/api/v2/boards/"+board.ID+"/blocks?disable_notify=true",
		[]map[string]any{{"id": "tmpblock1", "boardId": board.ID, "parentId": card.ID, "schema": 1, "type": "text", "title": "x", "fields": map[string]any{}}})
	if st != 400 || body["error"] != "invalid createAt for block id tmpblock1" {
		t.Fatalf("block without times: %d %v", st, body)
	}
	tg.cas("block with times", "[].title", "[].type")
	made, err := c.InsertBlocks(ctx, board.ID, []focalboard.Block{{ID: "tmpblock2", ParentID: card.ID, Type: "text", Title: "Check all accounts"}})
	if err != nil || len(made) != 1 || made[0].ID == "tmpblock2" {
		t.Fatalf("insert block = %+v, %v", made, err)
	}
	tg.bind(t, "block", "[0].id")
	tg.cas("card text blocks", "[].title")
	texts, err := c.Blocks(ctx, board.ID, card.ID, "text")
	if err != nil || len(texts) != 1 || texts[0].Title != "Check all accounts" {
		t.Fatalf("blocks = %+v, %v", texts, err)
	}
	tg.cas("board text blocks", "[].title")
	if all, err := c.Blocks(ctx, board.ID, "", "text"); err != nil || len(all) != 1 || all[0].ParentID != card.ID {
		t.Fatalf("board text blocks = %+v, %v", all, err)
	}
	tg.cas("patch card content order", "properties")
	order := []string{made[0].ID}
	if pc, err := c.PatchCard(ctx, card.ID, focalboard.CardPatch{ContentOrder: &order}); err != nil || !reflect.DeepEqual(pc.ContentOrder, order) ||
		!reflect.DeepEqual(pc.Properties, map[string]any{"p-status": "o-todo", "p-estimate": "3"}) {
		t.Fatalf("content order = %+v, %v", pc, err)
	}
	tg.cas("patch text block")
	title := "Check every account"
	if err := c.PatchBlock(ctx, board.ID, made[0].ID, focalboard.BlockPatch{Title: &title}); err != nil {
		t.Fatal(err)
	}

	// Issue 19 item 8: updatedProperties replaces the whole map …
	tg.cas("patch card replaces properties", "properties")
	patched, err := c.PatchCard(ctx, card.ID, focalboard.CardPatch{UpdatedProperties: map[string]any{"p-status": "o-done"}})
	if err != nil || !reflect.DeepEqual(patched.Properties, map[string]any{"p-status": "o-done"}) {
		t.Fatalf("patch card = %+v, %v", patched, err)
	}
	// … an empty one leaves it alone, and deletedProperties does not exist.
	tg.cas("patch card with empty properties and deletedProperties", "properties")
	st, body = tg.raw(t, "PATCH", "/api/v2/cards/"+card.ID, map[string]any{"updatedProperties": map[string]any{}, "deletedProperties": []string{"p-status"}})
	if st != 200 || !reflect.DeepEqual(body["properties"], map[string]any{"p-status": "o-done"}) {
		t.Fatalf("empty patch: %d %v", st, body)
	}
	// ChangeCard reads, merges and writes back.
	tg.cas("change card keeps other properties", "properties", "title")
	deadline := `{"from":1769817600000}`
	changed, err := c.ChangeCard(ctx, card.ID, focalboard.CardChange{Set: map[string]any{"p-estimate": "5", "p-deadline": deadline}})
	if err != nil || !reflect.DeepEqual(changed.Properties, map[string]any{"p-status": "o-done", "p-estimate": "5", "p-deadline": deadline}) {
		t.Fatalf("change card = %+v, %v", changed, err)
	}
	tg.cas("change card deletes one property", "properties")
	changed, err = c.ChangeCard(ctx, card.ID, focalboard.CardChange{Delete: []string{"p-deadline"}})
	if err != nil || !reflect.DeepEqual(changed.Properties, map[string]any{"p-status": "o-done", "p-estimate": "5"}) {
		t.Fatalf("change card (delete) = %+v, %v", changed, err)
	}
	tg.cas("change card clears every property", "properties")
	changed, err = c.ChangeCard(ctx, card.ID, focalboard.CardChange{Delete: []string{"p-status", "p-estimate"}})
	if err != nil || len(changed.Properties) != 0 {
		t.Fatalf("change card (clear) = %+v, %v", changed, err)
	}
	tg.cas("list cards")
	cards, err := c.Cards(ctx, board.ID, 0, 100)
	if err != nil || len(cards) != 1 || cards[0].ID != card.ID {
		t.Fatalf("cards = %+v, %v", cards, err)
	}

	// Issue 19 item 11: a missing card is 400, not 404.
	tg.cas("get missing card", "error", "errorCode")
	_, err = c.Card(ctx, "cmissing0000")
	if !errors.As(err, &se) || se.Status != 400 || se.Message != "could not fetch card cmissing0000: {block ID=cmissing0000} not found" {
		t.Fatalf("missing card: %v", err)
	}
	tg.cas("patch missing card", "error", "errorCode")
	_, err = c.PatchCard(ctx, "cmissing0000", focalboard.CardPatch{Title: &title})
	if !errors.As(err, &se) || se.Status != 400 {
		t.Fatalf("patch missing card: %v", err)
	}
	// A board that does not exist: 404 where the board is read, 403 where
	// Focalboard checks permissions first.
	for _, x := range []struct {
		name, method, path string
		body               any
		status             int
		msg                string
	}{
		{"get missing board", "GET", "/api/v2/boards/bmissing0000", nil, 404, "{boards} not found"},
		{"patch missing board", "PATCH", "/api/v2/boards/bmissing0000", map[string]any{"title": "x"}, 404, "{boards} not found"},
		{"blocks of missing board", "GET", "/api/v2/boards/bmissing0000/blocks?type=text", nil, 404, "{boards} not found"},
		{"cards of missing board", "GET", "/api/v2/boards/bmissing0000/cards?page=0&per_page=100", nil, 403, "access denied to fetch cards"},
		{"card on missing board", "POST", "/api/v2/boards/bmissing0000/cards?disable_notify=true", map[string]any{"title": "x"}, 403, "access denied to create card"},
		{"block on missing board", "POST", "/api/v2/boards/bmissing0000/blocks?disable_notify=true",
			[]map[string]any{{"id": "tmp3", "boardId": "bmissing0000", "parentId": card.ID, "type": "text", "createAt": 1, "updateAt": 1}}, 403, "access denied to make board changes"},
		{"patch block on missing board", "PATCH", "/api/v2/boards/bmissing0000/blocks/" + made[0].ID, map[string]any{"title": "x"}, 403, "access denied to make board changes"},
		{"card with another boardId", "POST", "/api/v2/boards/" + board.ID + "/cards?disable_notify=true", map[string]any{"title": "x", "boardId": "bother0000"}, 400, "Board IDs do not match"},
		{"missing user", "GET", "/api/v2/users/umissing0000", nil, 404, "unable to find user: {user} not found"},
	} {
		tg.cas(x.name, "error", "errorCode")
		if st, body := tg.raw(t, x.method, x.path, x.body); st != x.status || body["error"] != x.msg {
			t.Errorf("%s: %d %v, want %d %q", x.name, st, body, x.status, x.msg)
		}
	}
	tg.cas("users of another team")
	if st, _ := tg.raw(t, "GET", "/api/v2/teams/9/users", nil); st != 200 {
		t.Errorf("users of another team: %d", st)
	}
	tg.cas("delete missing block", "error", "errorCode")
	if err := c.DeleteBlock(ctx, board.ID, "xmissing0000"); !errors.As(err, &se) || se.Status != 404 {
		t.Fatalf("delete missing block: %v", err)
	}
	tg.cas("delete text block")
	if err := c.DeleteBlock(ctx, board.ID, made[0].ID); err != nil {
		t.Fatal(err)
	}
	tg.cas("delete card")
	if err := c.DeleteCard(ctx, board.ID, card.ID); err != nil {
		t.Fatal(err)
	}
	tg.cas("list cards after delete")
	if cards, err := c.Cards(ctx, board.ID, 0, 100); err != nil || len(cards) != 0 {
		t.Fatalf("cards after delete = %+v, %v", cards, err)
	}
}

// TestReplayReal replays what a real Focalboard 8 answered against the
// fake: the fake must answer every request with the same status and
// shape.
func TestReplayReal(t *testing.T) {
	s := fake.New()
	defer s.Close()
	transcript.Replay(t, transcriptFile, s.URL, transcript.Vars{"token": fake.Token, "password": fake.Password, "username": fake.Username}, s.Client())
}

package mattermost_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/connector/mattermost"
	fake "github.com/insightpulseai/ipai/internal/fake/mattermost"
	"github.com/insightpulseai/ipai/internal/fake/transcript"
)

// contractFile is the transcript recorded from a real Mattermost 5.37 by
// IPAI_TEST_RECORD=1 go test -run TestContract ./internal/connector/mattermost/
// with IPAI_TEST_MATTERMOST_URL and _TOKEN set.
const contractFile = "testdata/mattermost-5.37-contract.json"

// target is the Mattermost a contract case runs against: the real one when
// IPAI_TEST_MATTERMOST_URL (+ _TOKEN, _TEAM, _CHANNEL) is set, else the fake.
type target struct {
	url, token, team, channel string
	real                      bool
	rec                       *transcript.Recorder
	hc                        *http.Client
}

func newTarget(t *testing.T) *target {
	t.Helper()
	tg := &target{url: os.Getenv("IPAI_TEST_MATTERMOST_URL"), token: os.Getenv("IPAI_TEST_MATTERMOST_TOKEN"),
		team: os.Getenv("IPAI_TEST_MATTERMOST_TEAM"), channel: os.Getenv("IPAI_TEST_MATTERMOST_CHANNEL")}
	if tg.url == "" {
		s := fake.New()
		t.Cleanup(s.Close)
		tg.url, tg.token = s.URL, fake.AdminToken
		tg.team, tg.channel = fake.TeamName, "town-square"
	} else {
		tg.real = true
		if tg.token == "" {
			t.Fatal("IPAI_TEST_MATTERMOST_URL is set but IPAI_TEST_MATTERMOST_TOKEN (a system admin's token) is not")
		}
		if tg.team == "" {
			tg.team = "ipai"
		}
		if tg.channel == "" {
			tg.channel = "town-square"
		}
	}
	tg.hc = &http.Client{Timeout: 20 * time.Second}
	if tg.real && os.Getenv("IPAI_TEST_RECORD") == "1" {
		tg.rec = transcript.NewRecorder(http.DefaultTransport, "mattermost")
		tg.rec.Secret("token", tg.token)
		tg.hc.Transport = tg.rec
	}
	return tg
}

func (tg *target) caseName(name string, paths ...string) {
	if tg.rec != nil {
		tg.rec.Case(name, paths...)
	}
}

func (tg *target) bind(name, path string) {
	if tg.rec != nil {
		if err := tg.rec.Bind(name, path); err != nil {
			panic(err)
		}
	}
}

// raw sends a request the client has no method for, with the token.
func (tg *target) raw(t *testing.T, method, path string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, tg.url+"/api/v4"+path, rd)
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

func suffix() string {
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// TestContract runs ipai's Mattermost client and the chat flows ipai relies
// on against a real Mattermost when IPAI_TEST_MATTERMOST_URL is set (any
// version: the client calls are used directly, so Test Connection's 9.5
// floor does not apply), else against the fake; both must answer alike.
func TestContract(t *testing.T) {
	tg := newTarget(t)
	ctx := context.Background()
	c := mattermost.New(tg.url, tg.token, tg.hc)

	tg.caseName("ping", "status")
	if p, err := c.Ping(ctx); err != nil || p.Status != "OK" {
		t.Fatalf("ping = %+v, %v", p, err)
	}
	tg.caseName("users/me")
	me, err := c.Me(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tg.bind("me", "id")
	tg.caseName("team by name", "name")
	team, err := c.TeamByName(ctx, tg.team)
	if err != nil {
		t.Fatal(err)
	}
	tg.bind("team", "id")
	tg.caseName("channel by name", "name")
	ch, err := c.ChannelByName(ctx, tg.team, tg.channel)
	if err != nil {
		t.Fatal(err)
	}
	tg.bind("channel", "id")

	// A missing channel: 404 app.channel.get_by_name.missing.app_error.
	tg.caseName("missing channel", "id", "status_code")
	_, err = c.ChannelByName(ctx, tg.team, "ipai-missing-channel")
	var se *connector.ServiceError
	if !errors.As(err, &se) || se.Status != 404 || se.Code != "app.channel.get_by_name.missing.app_error" {
		t.Fatalf("missing channel: %v; want 404 app.channel.get_by_name.missing.app_error", err)
	}

	// A post with buttons comes back without the actions' integration
	// (url, context), with ids on every action and attachments in
	// Mattermost's normal form.
	tg.caseName("create post with actions", "message", "props.attachments[].actions[].name", "~props.attachments[].actions[].id")
	integ := map[string]any{"url": "http://127.0.0.1:9/ipai-contract", "context": map[string]any{"secret": "do-not-show"}}
	p, err := c.CreatePost(ctx, mattermost.Post{ChannelID: ch.ID, Message: "ipai contract " + suffix(), Props: map[string]any{
		"attachments": []any{map[string]any{"title": "Approve P1", "text": "PO", "color": "#f2c744",
			"fields": []any{map[string]any{"title": "Record", "value": "purchase.order #1", "short": true}},
			"actions": []any{
				map[string]any{"id": "approve", "name": "Approve", "type": "button", "style": "good", "integration": integ},
				map[string]any{"name": "Reject", "type": "button", "integration": integ},
			}}}}})
	if err != nil {
		t.Fatal(err)
	}
	tg.bind("post", "id")
	checkStripped := func(what string, p mattermost.Post) {
		t.Helper()
		atts, _ := p.Props["attachments"].([]any)
		if len(atts) != 1 {
			t.Fatalf("%s: attachments = %v", what, p.Props)
		}
		att := atts[0].(map[string]any)
		for _, k := range []string{"id", "fallback", "pretext", "author_name", "title_link", "image_url", "footer", "ts"} {
			if _, ok := att[k]; !ok {
				t.Errorf("%s: attachment lacks normal key %q: %v", what, k, att)
			}
		}
		acts, _ := att["actions"].([]any)
		if len(acts) != 2 {
			t.Fatalf("%s: actions = %v", what, att["actions"])
		}
		for _, a := range acts {
			am := a.(map[string]any)
			if _, ok := am["integration"]; ok {
				t.Errorf("%s: an action's integration is shown: %v", what, am)
			}
			if id, _ := am["id"].(string); id == "" {
				t.Errorf("%s: an action has no id: %v", what, am)
			}
		}
	}
	checkStripped("created post", p)
	tg.caseName("get post", "message", "props.attachments[].actions[].name", "~props.attachments[].actions[].id")
	got, err := c.GetPost(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	checkStripped("read post", got)

	// A click on an action the post does not have: 404.
	tg.caseName("do_action on a removed action", "id", "status_code")
	if st, out := tg.raw(t, http.MethodPost, "/posts/"+p.ID+"/actions/removed0action", map[string]any{}); st != 404 ||
		out["id"] != "api.post.do_action.action_id.app_error" {
		t.Fatalf("do_action on a removed action = %d %v; want 404 api.post.do_action.action_id.app_error", st, out)
	}

	// Slash commands: custom_only lists only the team's custom commands; a
	// command URL answering non-200 is shown as 500 without its body; a
	// delayed in_channel reply is posted as the invoking user with
	// override_username.
	var respURL = make(chan string, 1)
	lis := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		if strings.Contains(r.Form.Get("text"), "fail") {
			http.Error(w, "ipai-secret-body", http.StatusInternalServerError)
			return
		}
		respURL <- r.Form.Get("response_url")
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"response_type":"ephemeral","text":"working"}`))
	}))
	defer lis.Close()
	trigger := "ipaict" + suffix()
	tg.caseName("create command", "trigger", "~url")
	cmd, err := c.CreateCommand(ctx, mattermost.Command{TeamID: team.ID, Trigger: trigger, Method: "P", URL: lis.URL + "/cmd",
		Description: "ipai contract test", AutoComplete: true})
	if err != nil {
		t.Fatal(err)
	}
	tg.bind("command", "id")
	if tg.rec != nil {
		tg.rec.Secret("command_token", cmd.Token)
	}
	defer func() {
		tg.caseName("delete command", "status")
		if err := c.DeleteCommand(ctx, cmd.ID); err != nil {
			t.Error(err)
		}
	}()
	tg.caseName("commands custom_only", "~[].url", "~[].trigger", "~[].description", "~[].auto_complete_desc")
	cmds, err := c.Commands(ctx, team.ID)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, x := range cmds {
		if x.ID == "" {
			t.Errorf("custom_only listed a built-in command: %+v", x)
		}
		found = found || x.Trigger == trigger
	}
	if !found {
		t.Fatalf("the new command is not listed: %+v", cmds)
	}
	if tg.rec != nil {
		// The recorded transcript stops before the command runs: the
		// listener's address does not survive a replay.
		tg.caseName("ping for the version", "status")
		if err := tg.rec.File(mmVersion(ctx, c), time.Now().UTC().Format("2006-01-02"),
			"ipai's Mattermost client against a real Mattermost; recorded by TestContract").Save(contractFile); err != nil {
			t.Fatal(err)
		}
		tg.hc.Transport = http.DefaultTransport
	}
	st, out := tg.raw(t, http.MethodPost, "/commands/execute", map[string]any{"channel_id": ch.ID, "command": "/" + trigger + " fail"})
	if st != 500 || out["id"] != "api.command.execute_command.failed_resp.app_error" || strings.Contains(toJSON(out), "ipai-secret-body") {
		t.Fatalf("command answering 500 = %d %v; want 500 failed_resp without the body", st, out)
	}
	marker := "ipai delayed " + suffix()
	if st, out = tg.raw(t, http.MethodPost, "/commands/execute", map[string]any{"channel_id": ch.ID, "command": "/" + trigger + " later"}); st != 200 {
		t.Fatalf("command = %d %v", st, out)
	}
	var ru string
	select {
	case ru = <-respURL:
	case <-time.After(10 * time.Second):
		t.Fatal("the command URL was not called")
	}
	body := `{"response_type":"in_channel","text":"` + marker + `","username":"ipai-override"}`
	resp, err := http.Post(ru, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("response_url answered %d", resp.StatusCode)
	}
	st, list := tg.raw(t, http.MethodGet, "/channels/"+ch.ID+"/posts?per_page=10", nil)
	posts, _ := list["posts"].(map[string]any)
	var delayed map[string]any
	for _, v := range posts {
		if pm := v.(map[string]any); pm["message"] == marker {
			delayed = pm
		}
	}
	if st != 200 || delayed == nil {
		t.Fatalf("the delayed reply is not in the channel: %d %v", st, list)
	}
	props, _ := delayed["props"].(map[string]any)
	if delayed["user_id"] != me.ID || props["override_username"] != "ipai-override" || props["from_webhook"] != "true" {
		t.Fatalf("delayed in_channel reply = user %v props %v; want the invoking user %s with override_username", delayed["user_id"], props, me.ID)
	}
	// response_url takes a body that is not application/json as the text
	// of an (ephemeral) reply, as the command URL's answer.
	resp, err = http.Post(ru, "text/plain", strings.NewReader("plain reply"))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("response_url with text/plain answered %d; want 200", resp.StatusCode)
	}
}

func toJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func mmVersion(ctx context.Context, c *mattermost.Client) string {
	p, _ := c.Ping(ctx)
	return p.Version
}

// TestContractReplay replays the transcript recorded from the real
// Mattermost against the fake: the fake must answer with the same status
// and JSON shape.
func TestContractReplay(t *testing.T) {
	if _, err := os.Stat(contractFile); err != nil {
		t.Fatalf("no recorded transcript %s: %v", contractFile, err)
	}
	s := fake.New()
	defer s.Close()
	transcript.Replay(t, contractFile, s.URL, transcript.Vars{"token": fake.AdminToken}, http.DefaultClient)
}

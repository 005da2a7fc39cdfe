package chatops

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/rule/action"
	"github.com/insightpulseai/ipai/internal/store"
)

// SlashRequest is what Mattermost sends to a slash command URL.
type SlashRequest struct {
	Token       string `json:"token,omitempty"`
	TeamID      string `json:"team_id"`
	TeamDomain  string `json:"team_domain"`
	ChannelID   string `json:"channel_id"`
	ChannelName string `json:"channel_name"`
	UserID      string `json:"user_id"`
	UserName    string `json:"user_name"`
	Command     string `json:"command"`
	Text        string `json:"text"`
	TriggerID   string `json:"trigger_id"`
	ResponseURL string `json:"response_url"`
}

// CommandResponse is Mattermost's answer format for slash commands (also
// POSTed to response_url).
type CommandResponse struct {
	ResponseType   string            `json:"response_type"`
	Text           string            `json:"text"`
	Username       string            `json:"username,omitempty"`
	Props          map[string]any    `json:"props,omitempty"`
	Attachments    []Attachment      `json:"attachments,omitempty"`
	ExtraResponses []CommandResponse `json:"extra_responses,omitempty"`
}

// Attachment is a Slack-style message attachment.
type Attachment struct {
	Fallback string   `json:"fallback,omitempty"`
	Color    string   `json:"color,omitempty"`
	Pretext  string   `json:"pretext,omitempty"`
	Title    string   `json:"title,omitempty"`
	Text     string   `json:"text,omitempty"`
	Fields   []Field  `json:"fields,omitempty"`
	Footer   string   `json:"footer,omitempty"`
	Actions  []Button `json:"actions,omitempty"`
}

// Field is an attachment field.
type Field struct {
	Title string `json:"title"`
	Value string `json:"value"`
	Short bool   `json:"short"`
}

// Button is an interactive message button.
type Button struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Type        string         `json:"type"`
	Style       string         `json:"style,omitempty"`
	Integration map[string]any `json:"integration"`
}

// MaxText is Mattermost's post length limit.
const MaxText = 16383

// Ephemeral returns an ephemeral answer.
func Ephemeral(format string, args ...any) CommandResponse {
	return CommandResponse{ResponseType: "ephemeral", Text: clip(fmt.Sprintf(format, args...))}
}

func clip(s string) string {
	if len(s) <= MaxText {
		return s
	}
	return s[:MaxText-20] + "\n… (cut)"
}

// ErrBadRequest wraps parse failures of outside input.
var ErrBadRequest = errors.New("bad request")

// ParseSlash reads a slash command request: the query string for GET, else
// the body as application/x-www-form-urlencoded (Mattermost's default) or
// application/json. header is the Authorization header, whose "Token x"
// wins over the token field.
func ParseSlash(method, contentType, rawQuery string, body []byte, header string) (SlashRequest, error) {
	var r SlashRequest
	var vals url.Values
	var err error
	mt, _, _ := mime.ParseMediaType(contentType)
	switch {
	case method == http.MethodGet:
		vals, err = url.ParseQuery(rawQuery)
	case mt == "application/json":
		dec := json.NewDecoder(strings.NewReader(string(body)))
		if err = dec.Decode(&r); err == nil && dec.More() {
			err = errors.New("data after the JSON object")
		}
	case mt == "application/x-www-form-urlencoded" || mt == "":
		vals, err = url.ParseQuery(string(body))
	default:
		return r, fmt.Errorf("%w: Content-Type %q; send application/x-www-form-urlencoded or application/json", ErrBadRequest, contentType)
	}
	if err != nil {
		return r, fmt.Errorf("%w: %v", ErrBadRequest, err)
	}
	if vals != nil {
		r = SlashRequest{Token: vals.Get("token"), TeamID: vals.Get("team_id"), TeamDomain: vals.Get("team_domain"),
			ChannelID: vals.Get("channel_id"), ChannelName: vals.Get("channel_name"), UserID: vals.Get("user_id"),
			UserName: vals.Get("user_name"), Command: vals.Get("command"), Text: vals.Get("text"),
			TriggerID: vals.Get("trigger_id"), ResponseURL: vals.Get("response_url")}
	}
	if scheme, tok, ok := strings.Cut(header, " "); ok && strings.EqualFold(scheme, "Token") && tok != "" {
		r.Token = strings.TrimSpace(tok)
	}
	if r.Token == "" {
		return r, fmt.Errorf("%w: no command token (Authorization: Token … or the token field)", ErrBadRequest)
	}
	if r.UserID == "" || r.ChannelID == "" {
		return r, fmt.Errorf("%w: user_id and channel_id are required", ErrBadRequest)
	}
	r.Text = strings.TrimSpace(r.Text)
	return r, nil
}

// SlashOutcome is what the endpoint answers: HTTP status and body.
type SlashOutcome struct {
	Status int
	Resp   CommandResponse
}

// Slash handles a verified-or-not slash command request for bot/command.
// Unknown bots and commands answer 200 ephemeral "Unknown command" (what
// Mattermost shows); a wrong token answers 401.
func (s *Service) Slash(ctx context.Context, bot, command string, r SlashRequest) SlashOutcome {
	c, err := s.DB.Command(ctx, bot, command)
	if errors.Is(err, store.ErrNotFound) || (err == nil && !c.Active) {
		return SlashOutcome{200, Ephemeral("Unknown command: /%s", command)}
	}
	if err != nil {
		s.Log.Error("slash command lookup", "bot", bot, "command", command, "err", err)
		return SlashOutcome{200, Ephemeral("ipai could not look up /%s; try again in a moment", command)}
	}
	want := ""
	if c.TokenSealed != "" {
		want, err = s.Box.Open(c.TokenSealed, cmdAAD(bot, command))
		if err != nil {
			s.Log.Error("command token does not open", "bot", bot, "command", command, "err", err)
		}
	}
	if want == "" || subtle.ConstantTimeCompare([]byte(want), []byte(r.Token)) != 1 {
		s.auditRefused(ctx, audit.Entry{Actor: "mattermost:" + r.UserID, Action: "chatops.slash.refused", Level: audit.Warning,
			Target: bot + "/" + command, Message: "wrong or unregistered command token"})
		return SlashOutcome{401, Ephemeral("This command's token does not match; an admin must run `ipai chatops register %s`.", bot)}
	}
	b, err := s.DB.Bot(ctx, bot)
	if err != nil || b.State != store.BotActive {
		return SlashOutcome{200, Ephemeral("The bot %s is not active.", bot)}
	}
	var allow Allow
	_ = json.Unmarshal([]byte(c.Allow), &allow)
	if !allow.permits(r) {
		return SlashOutcome{200, Ephemeral("You are not allowed to use /%s here.", command)}
	}
	call := &Call{Bot: b, Command: c, Req: r}
	resp, later := s.plan(ctx, call)
	if later {
		// The answer goes through the bot's connector: say now if it cannot.
		if _, _, err := s.Clients.Mattermost(ctx, b.Connector); errors.Is(err, action.ErrInactive) {
			return SlashOutcome{200, Ephemeral("ipai cannot answer /%s now: %v", command, err)}
		}

		if err := s.enqueueReply(ctx, call); err != nil {
			s.Log.Error("enqueue slash reply", "err", err)
			return SlashOutcome{200, Ephemeral("ipai could not queue the work; try again in a moment")}
		}
	}
	if resp.ResponseType == "" {
		resp.ResponseType = "ephemeral"
	}
	return SlashOutcome{200, resp}
}

// Call is one slash command invocation.
type Call struct {
	Bot     store.Bot
	Command store.BotCommand
	Req     SlashRequest
}

// Args splits the text into the first word and the rest.
func (c *Call) Args() (sub, rest string) {
	sub, rest, _ = strings.Cut(c.Req.Text, " ")
	return strings.ToLower(sub), strings.TrimSpace(rest)
}

// ReplyKind is the delivery kind of delayed slash replies.
const ReplyKind = "chatops.reply"

type replyJob struct {
	Bot     string `json:"bot"`
	Command string `json:"command"`
}

// enqueueReply commits an event (the request, without its token) and the
// job that answers it to response_url, in one transaction.
func (s *Service) enqueueReply(ctx context.Context, c *Call) error {
	req := c.Req
	req.Token = ""
	payload, _ := json.Marshal(req)
	now := s.now().UTC()
	ev := store.Event{ID: "evt_" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", ""), Source: "mattermost:" + c.Bot.Username,
		Type: "mattermost.slash." + c.Command.Command, ReceivedAt: now, Payload: string(payload)}
	ev.IdempotencyKey = "trigger:" + req.TriggerID
	if req.TriggerID == "" {
		ev.IdempotencyKey = ev.ID
	}
	act, _ := json.Marshal(replyJob{Bot: c.Bot.Username, Command: c.Command.Command})
	d := store.Delivery{ID: "msg_" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", ""), EventID: ev.ID, Kind: ReplyKind,
		Action: string(act), State: store.DeliveryPending, NextAttemptAt: now, CreatedAt: now, UpdatedAt: now}
	err := s.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.InsertEvents(ctx, []store.Event{ev}); err != nil {
			return err
		}
		return tx.InsertDeliveries(ctx, []store.Delivery{d})
	})
	if err == nil && s.Wake != nil {
		s.Wake()
	}
	return err
}

// ExecuteReply is the delivery executor of ReplyKind: it runs the long
// work of a slash command and POSTs the answer to response_url (which must
// be on the bot's Mattermost server).
func (s *Service) ExecuteReply(ctx context.Context, cl *store.Claimed) (status int, resp string, err error, permanent bool) {
	var job replyJob
	var req SlashRequest
	if json.Unmarshal([]byte(cl.Action), &job) != nil || json.Unmarshal([]byte(cl.Event.Payload), &req) != nil {
		return 0, "", errors.New("the job or its event is not valid JSON"), true
	}
	b, err := s.DB.Bot(ctx, job.Bot)
	if err != nil {
		return 0, "", fmt.Errorf("bot %s: %w", job.Bot, err), true
	}
	c, err := s.DB.Command(ctx, job.Bot, job.Command)
	if err != nil {
		return 0, "", fmt.Errorf("command /%s: %w", job.Command, err), true
	}
	mmCfg, err := s.checkResponseURL(ctx, b.Connector, req.ResponseURL)
	if err != nil {
		return 0, "", err, !errors.Is(err, action.ErrInactive)
	}
	work, cancel := context.WithTimeout(ctx, 2*time.Minute)
	out := s.execute(work, &Call{Bot: b, Command: c, Req: req})
	cancel()
	if out.ResponseType == "" {
		out.ResponseType = c.ResponseType
	}
	body, _ := json.Marshal(out)
	hreq, err := http.NewRequestWithContext(ctx, http.MethodPost, req.ResponseURL, strings.NewReader(string(body)))
	if err != nil {
		return 0, "", err, true
	}
	hreq.Header.Set("Content-Type", "application/json")
	hr, err := s.HTTP(mmCfg).Do(hreq)
	if err != nil {
		return 0, "", fmt.Errorf("post to response_url: %w", err), false
	}
	defer hr.Body.Close()
	var snippet [512]byte
	n, _ := hr.Body.Read(snippet[:])
	if hr.StatusCode/100 != 2 {
		return hr.StatusCode, string(snippet[:n]), fmt.Errorf("response_url answered %d", hr.StatusCode), hr.StatusCode >= 400 && hr.StatusCode < 500 && hr.StatusCode != 429
	}
	return hr.StatusCode, string(snippet[:n]), nil, false
}

// checkResponseURL accepts only URLs on the Mattermost server of the bot's
// connector, so a forged response_url cannot make ipai post elsewhere.
func (s *Service) checkResponseURL(ctx context.Context, mmConnector, raw string) (connector.Config, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return connector.Config{}, fmt.Errorf("response_url %q is not an absolute http(s) URL", raw)
	}
	_, cfg, err := s.Clients.Mattermost(ctx, mmConnector)
	if err != nil {
		return cfg, fmt.Errorf("bot's connector: %w", err)
	}
	base, err := url.Parse(cfg.BaseURL)
	if err != nil || !strings.EqualFold(base.Host, u.Host) || base.Scheme != u.Scheme {
		return cfg, fmt.Errorf("response_url host %s is not the Mattermost server of connector %s", u.Host, mmConnector)
	}
	return cfg, nil
}

// Package chatops is ipai's side of Mattermost: bots and their slash
// commands (token-checked, answered within Mattermost's 3 s, long work as a
// durable job posting to response_url), the outgoing-webhook bridge into
// events, approvals with signed buttons, and notifications routed by
// severity.
package chatops

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/health"
	"github.com/insightpulseai/ipai/internal/outbound"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/rule/action"
	"github.com/insightpulseai/ipai/internal/secret"
	"github.com/insightpulseai/ipai/internal/store"
)

// Service holds what the chat handlers need. Set the fields, then Init.
type Service struct {
	DB      *store.DB
	Box     *secret.Box
	Audit   *audit.Log
	Log     *slog.Logger
	Clients action.Clients
	// HTTP gives the client that posts to response_url (which must be on
	// the bot's Mattermost server): that connector's own guarded client
	// (integration.Service.HTTPClient). Nil: the outbound guard without
	// allowances.
	HTTP func(cfg connector.Config) *http.Client
	Cfg  config.ChatOps
	// BaseURL is the hub's external URL (for button integration URLs).
	BaseURL string
	// Health gives the connector health statuses for /ipai status.
	Health func() []health.Status
	// Wake tells the dispatcher new jobs are due.
	Wake func()
	// Flows runs n8n workflows for /ipai run (nil: not configured).
	Flows Flows
	// Ask starts an agent run for /ipai ask and waits for its answer.
	Ask func(ctx context.Context, agent, text, actor string) (string, error)
	Now func() time.Time

	approvalKey []byte
	refusals    audit.Throttle
}

// Flows is what /ipai run needs of the n8n registry.
type Flows interface {
	Run(ctx context.Context, workflow string, input json.RawMessage, source string) (string, error)
}

// Init loads (or creates) the approval signing key.
func (s *Service) Init(ctx context.Context) error {
	if s.Log == nil {
		s.Log = slog.New(slog.DiscardHandler)
	}
	if s.Now == nil {
		s.Now = time.Now
	}
	if s.HTTP == nil {
		hc := outbound.Default().Client(outbound.Options{Timeout: 15 * time.Second})
		s.HTTP = func(connector.Config) *http.Client { return hc }
	}
	if s.Box == nil {
		return errors.New("chatops: no master key")
	}
	k := make([]byte, 32)
	if _, err := rand.Read(k); err != nil {
		return err
	}
	sealed, err := s.DB.ChatOpsKey(ctx, "approval", s.Box.Seal(hex.EncodeToString(k), "chatops:approval"), s.Now())
	if err != nil {
		return fmt.Errorf("approval key: %w", err)
	}
	plain, err := s.Box.Open(sealed, "chatops:approval")
	if err != nil {
		return fmt.Errorf("approval key does not open with this master key: %w", err)
	}
	s.approvalKey, err = hex.DecodeString(plain)
	return err
}

func botAAD(user string) string     { return "bot:" + user }
func cmdAAD(bot, cmd string) string { return "bot_command:" + bot + ":" + cmd }
func (s *Service) now() time.Time   { return s.Now() }
func (s *Service) seal(v, aad string) string {
	if v == "" {
		return ""
	}
	return s.Box.Seal(v, aad)
}

// Allow limits who may run a command; empty lists allow everyone.
type Allow struct {
	Users    []string `json:"users,omitempty"`
	Teams    []string `json:"teams,omitempty"`
	Channels []string `json:"channels,omitempty"`
}

func (a Allow) permits(r SlashRequest) bool {
	in := func(list []string, vals ...string) bool {
		if len(list) == 0 {
			return true
		}
		for _, x := range list {
			for _, v := range vals {
				if v != "" && strings.EqualFold(strings.TrimPrefix(x, "@"), v) {
					return true
				}
			}
		}
		return false
	}
	return in(a.Users, r.UserID, r.UserName) && in(a.Teams, r.TeamID, r.TeamDomain) && in(a.Channels, r.ChannelID, r.ChannelName)
}

// BotInput creates or replaces a bot through the API.
type BotInput struct {
	Username    string   `json:"username"`
	DisplayName string   `json:"display_name"`
	Description string   `json:"description"`
	Connector   string   `json:"connector"`
	Token       string   `json:"token,omitempty"`
	Permissions []string `json:"permissions"`
	State       string   `json:"state"`
}

// CommandInput creates or replaces a command through the API.
type CommandInput struct {
	Trigger      string `json:"trigger"`
	Description  string `json:"description"`
	Hint         string `json:"hint"`
	ResponseType string `json:"response_type"`
	Handler      string `json:"handler"`
	Method       string `json:"method"`
	Token        string `json:"token,omitempty"`
	Allow        Allow  `json:"allow"`
	Active       *bool  `json:"active,omitempty"`
}

// BotView is a bot as the API shows it (never the token).
type BotView struct {
	Username    string     `json:"username"`
	DisplayName string     `json:"display_name"`
	Description string     `json:"description"`
	Connector   string     `json:"connector"`
	HasToken    bool       `json:"has_token"`
	Permissions []string   `json:"permissions"`
	State       string     `json:"state"`
	Managed     bool       `json:"managed"`
	LastActive  *time.Time `json:"last_active,omitempty"`
	CreatedAt   time.Time  `json:"created_at"`
	UpdatedAt   time.Time  `json:"updated_at"`
}

// CommandView is a command as the API shows it (never the token).
type CommandView struct {
	Bot          string    `json:"bot"`
	Trigger      string    `json:"trigger"`
	Description  string    `json:"description"`
	Hint         string    `json:"hint"`
	ResponseType string    `json:"response_type"`
	Handler      string    `json:"handler"`
	Method       string    `json:"method"`
	Allow        Allow     `json:"allow"`
	Registered   bool      `json:"registered"`
	HasToken     bool      `json:"has_token"`
	Active       bool      `json:"active"`
	Managed      bool      `json:"managed"`
	URL          string    `json:"url"`
	UpdatedAt    time.Time `json:"updated_at"`
}

// ViewBot renders a stored bot.
func ViewBot(b store.Bot) BotView {
	v := BotView{Username: b.Username, DisplayName: b.DisplayName, Description: b.Description, Connector: b.Connector,
		HasToken: b.TokenSealed != "", State: b.State, Managed: b.Managed, CreatedAt: b.CreatedAt, UpdatedAt: b.UpdatedAt}
	_ = json.Unmarshal([]byte(b.Permissions), &v.Permissions)
	if v.Permissions == nil {
		v.Permissions = []string{}
	}
	if !b.LastActive.IsZero() {
		t := b.LastActive
		v.LastActive = &t
	}
	return v
}

// ViewCommand renders a stored command.
func (s *Service) ViewCommand(c store.BotCommand) CommandView {
	v := CommandView{Bot: c.Bot, Trigger: "/" + c.Command, Description: c.Description, Hint: c.Hint, ResponseType: c.ResponseType,
		Handler: c.Handler, Method: c.Method, Registered: c.MMCommandID != "", HasToken: c.TokenSealed != "", Active: c.Active,
		Managed: c.Managed, URL: s.SlashURL(c.Bot, c.Command), UpdatedAt: c.UpdatedAt}
	_ = json.Unmarshal([]byte(c.Allow), &v.Allow)
	return v
}

// SlashURL is the request URL Mattermost calls for a command.
func (s *Service) SlashURL(bot, command string) string {
	return strings.TrimSuffix(s.BaseURL, "/") + "/integrations/slash/" + bot + "/" + command
}

// InputError is a user error naming the field at fault.
type InputError struct{ Field, Message string }

func (e *InputError) Error() string { return e.Field + ": " + e.Message }

// PutBot validates and stores a bot (managed = from ipai.yaml).
func (s *Service) PutBot(ctx context.Context, in BotInput, managed bool) (store.Bot, error) {
	spec := config.BotSpec{Username: in.Username, Connector: in.Connector, Permissions: in.Permissions, State: in.State}
	if err := validateOne(config.Config{ChatOps: config.ChatOps{Bots: []config.BotSpec{spec}}}, "chatops.bots[0]."); err != nil {
		return store.Bot{}, err
	}
	old, err := s.DB.Bot(ctx, in.Username)
	switch {
	case err == nil && old.Managed && !managed:
		return store.Bot{}, &InputError{"username", fmt.Sprintf("bot %q is managed by ipai.yaml; change it there", in.Username)}
	case err != nil && !errors.Is(err, store.ErrNotFound):
		return store.Bot{}, err
	}
	now := s.now()
	if in.State == "" {
		in.State = store.BotActive
	}
	if in.Permissions == nil {
		in.Permissions = []string{"post", "read"}
	}
	perms, _ := json.Marshal(in.Permissions)
	b := store.Bot{Username: in.Username, DisplayName: in.DisplayName, Description: in.Description, Connector: in.Connector,
		TokenSealed: old.TokenSealed, Permissions: string(perms), State: in.State, Managed: managed, CreatedAt: now, UpdatedAt: now}
	if in.Token != "" {
		b.TokenSealed = s.seal(in.Token, botAAD(in.Username))
	}
	if !old.CreatedAt.IsZero() {
		b.CreatedAt = old.CreatedAt
	}
	return b, s.DB.UpsertBot(ctx, b)
}

// PutCommand validates and stores a bot's command.
func (s *Service) PutCommand(ctx context.Context, bot string, in CommandInput, managed bool) (store.BotCommand, error) {
	if _, err := s.DB.Bot(ctx, bot); err != nil {
		return store.BotCommand{}, err
	}
	spec := config.CommandSpec{Trigger: in.Trigger, ResponseType: in.ResponseType, Handler: in.Handler, Method: in.Method}
	cfg := config.Config{ChatOps: config.ChatOps{Bots: []config.BotSpec{{Username: bot, Connector: "x", Commands: []config.CommandSpec{spec}}}}}
	if err := validateOne(cfg, "chatops.bots[0].commands[0]."); err != nil {
		return store.BotCommand{}, err
	}
	trig := config.NormalizeTrigger(in.Trigger)
	old, err := s.DB.Command(ctx, bot, trig)
	if err == nil && old.Managed && !managed {
		return store.BotCommand{}, &InputError{"trigger", fmt.Sprintf("/%s is managed by ipai.yaml; change it there", trig)}
	}
	if in.ResponseType == "" {
		in.ResponseType = "ephemeral"
	}
	if in.Handler == "" {
		in.Handler = trig
	}
	method := "P"
	if m := strings.ToUpper(in.Method); m == "GET" || m == "G" {
		method = "G"
	}
	allow, _ := json.Marshal(in.Allow)
	now := s.now()
	c := store.BotCommand{Bot: bot, Command: trig, Description: in.Description, Hint: in.Hint, ResponseType: in.ResponseType,
		Handler: in.Handler, Method: method, Allow: string(allow), TokenSealed: s.seal(in.Token, cmdAAD(bot, trig)),
		Active: in.Active == nil || *in.Active, Managed: managed, CreatedAt: now, UpdatedAt: now}
	if err := s.DB.UpsertCommand(ctx, c); err != nil {
		return c, err
	}
	return s.DB.Command(ctx, bot, trig)
}

// validateOne runs the config validation of one bot or command and returns
// its first problem as an InputError (field relative to prefix).
func validateOne(cfg config.Config, prefix string) error {
	var first error
	cfg.ValidateChatOps(func(key, format string, args ...any) {
		if first == nil && strings.HasPrefix(key, prefix) {
			first = &InputError{strings.TrimPrefix(key, prefix), fmt.Sprintf(format, args...)}
		}
	})
	return first
}

// ApplyConfig stores the bots and commands of ipai.yaml (managed).
func (s *Service) ApplyConfig(ctx context.Context) error {
	for _, b := range s.Cfg.Bots {
		if _, err := s.PutBot(ctx, BotInput{Username: b.Username, DisplayName: b.DisplayName, Description: b.Description,
			Connector: b.Connector, Token: b.Token, Permissions: b.Permissions, State: b.State}, true); err != nil {
			return fmt.Errorf("chatops bot %s: %w", b.Username, err)
		}
		for _, c := range b.Commands {
			if _, err := s.PutCommand(ctx, b.Username, CommandInput{Trigger: c.Trigger, Description: c.Description, Hint: c.Hint,
				ResponseType: c.ResponseType, Handler: c.Handler, Method: c.Method, Token: c.Token,
				Allow: Allow{Users: c.AllowUsers, Teams: c.AllowTeams, Channels: c.AllowChannels}}, true); err != nil {
				return fmt.Errorf("chatops bot %s command %s: %w", b.Username, c.Trigger, err)
			}
		}
	}
	return nil
}

// auditRefused writes the warning for a request nobody authenticated (a
// forged click, a wrong slash or outgoing-webhook token) through the same
// throttle as refused hook requests: at most one entry per action every
// audit.ThrottleEvery, counting those held back, with what the caller
// chose cut short.
func (s *Service) auditRefused(ctx context.Context, e audit.Entry) {
	now := time.Now()
	if s.Now != nil {
		now = s.Now()
	}
	n, ok := s.refusals.Allow(e.Action, now)
	if !ok {
		return
	}
	e.Actor, e.Target = audit.Clip(e.Actor, 128), audit.Clip(e.Target, 256)
	e.Message = fmt.Sprintf("%d request(s) refused (at most one entry every %s); the last: %s", n, audit.ThrottleEvery, audit.Clip(e.Message, 512))
	s.audit(ctx, e)
}

func (s *Service) audit(ctx context.Context, e audit.Entry) {
	if s.Audit == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	if err := s.Audit.Write(ctx, e); err != nil {
		s.Log.Error("audit write failed", "action", e.Action, "err", err)
	}
}

// Executors returns the delivery executors of chatops' job kinds: the
// delayed slash replies and the mattermost.approval rule action.
func (s *Service) Executors() map[string]delivery.Executor {
	return map[string]delivery.Executor{
		ReplyKind: delivery.ExecutorFunc(func(ctx context.Context, c *store.Claimed) delivery.Result {
			st, resp, err, perm := s.ExecuteReply(ctx, c)
			return delivery.Result{Status: st, Response: resp, Err: err, Permanent: perm}
		}),
		rule.KindApproval: delivery.ExecutorFunc(func(ctx context.Context, c *store.Claimed) delivery.Result {
			resp, err, perm := s.ExecuteApproval(ctx, c)
			return delivery.Result{Response: resp, Err: err, Permanent: perm}
		}),
	}
}

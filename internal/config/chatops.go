package config

import (
	"fmt"
	"regexp"
	"strings"
	"time"
)

// ChatOps configures Mattermost bots and slash commands, approvals with
// buttons, severity-routed notifications and the n8n flows (package chatops).
type ChatOps struct {
	// Bots are applied idempotently at start and shown as managed.
	Bots []BotSpec `yaml:"bots"`
	// Odoo is the connector the read-only commands (/ipai odoo, /opex,
	// /bir-status) query.
	Odoo          string        `yaml:"odoo"`
	Approvals     Approvals     `yaml:"approvals"`
	Notifications Notifications `yaml:"notifications"`
	N8N           N8NFlows      `yaml:"n8n"`
	// Outgoing lists the tokens of Mattermost outgoing webhooks allowed to
	// post to /integrations/mattermost/outgoing (26-character tokens, usually ${ENV}).
	Outgoing []OutgoingSpec `yaml:"outgoing"`
	// EventTokens may post to the generic event hub POST /integrations/event.
	EventTokens []string `yaml:"event_tokens"`
}

// BotSpec declares a bot and its slash commands.
type BotSpec struct {
	Username    string        `yaml:"username"`
	DisplayName string        `yaml:"display_name"`
	Description string        `yaml:"description"`
	Connector   string        `yaml:"connector"` // the Mattermost connector
	Token       string        `yaml:"token"`     // the bot's access token (sealed at rest)
	Permissions []string      `yaml:"permissions"`
	State       string        `yaml:"state"` // active (default) | disabled | draft
	Commands    []CommandSpec `yaml:"commands"`
}

// CommandSpec declares a slash command.
type CommandSpec struct {
	Trigger      string `yaml:"trigger"` // "ipai" or "/ipai"
	Description  string `yaml:"description"`
	Hint         string `yaml:"hint"`
	ResponseType string `yaml:"response_type"` // ephemeral (default) | in_channel
	Handler      string `yaml:"handler"`       // ipai | opex | bir-status (default: the trigger)
	Method       string `yaml:"method"`        // POST (default) | GET
	// Token is Mattermost's command token, when the command was created by
	// hand; `ipai chatops register` stores it otherwise.
	Token string `yaml:"token"`
	// AllowUsers, AllowTeams, AllowChannels limit who may run the command
	// (Mattermost user names or ids, team names or ids, channel names or ids).
	AllowUsers    []string `yaml:"allow_users"`
	AllowTeams    []string `yaml:"allow_teams"`
	AllowChannels []string `yaml:"allow_channels"`
}

// OutgoingSpec is one accepted Mattermost outgoing webhook.
type OutgoingSpec struct {
	Name  string `yaml:"name"`
	Token string `yaml:"token"`
	// Reply is the text answered in the thread ("" = no reply).
	Reply string `yaml:"reply"`
}

// Approvals configures mattermost.approval actions and their buttons.
type Approvals struct {
	// Odoo is the connector approvals are executed with (its user is the
	// integration user; the clicking user is checked, not impersonated).
	Odoo string `yaml:"odoo"`
	// Group is the Odoo group (xml id) the clicking user needs, e.g.
	// purchase.group_purchase_manager; "" = any active Odoo user with the
	// clicker's email.
	Group string `yaml:"group"`
	// Thresholds pick the mention by amount when an action has none:
	// highest first wins; Default otherwise.
	Thresholds []MentionStep `yaml:"thresholds"`
	Default    string        `yaml:"default"`
	// Amount is the expression giving the amount the thresholds compare
	// (default data.amount_total).
	Amount string `yaml:"amount"`
	// RejectMethod is called on Reject (default button_cancel).
	RejectMethod string `yaml:"reject_method"`
}

// MentionStep is one approval threshold.
type MentionStep struct {
	Over    float64 `yaml:"over"`
	Mention string  `yaml:"mention"`
}

// Notifications routes notices by severity.
type Notifications struct {
	Connector   string `yaml:"connector"` // Mattermost connector
	Info        string `yaml:"info"`      // channel; "" = log only
	Warning     string `yaml:"warning"`   // channel
	Error       string `yaml:"error"`     // channel (@here is added)
	Environment string `yaml:"environment"`
	// AutoHeal is the n8n webhook path triggered on ERROR (on N8N.Connector).
	AutoHeal string `yaml:"auto_heal"`
	// Health sends connector health transitions (down/up) as notifications.
	Health bool `yaml:"health"`
}

// N8NFlows configures the n8n registry, callbacks and Odoo actions.
type N8NFlows struct {
	Connector    string        `yaml:"connector"`
	SyncInterval time.Duration `yaml:"sync_interval"` // default 5m
	// Scheme and Secret verify /integrations/n8n/callback and /trigger:
	// hmac-hex (X-Signature) or standard (Standard Webhooks).
	Scheme string `yaml:"scheme"`
	Secret string `yaml:"secret"`
	// Odoo is the connector n8n's Odoo actions run as: an integration user,
	// never the superuser.
	Odoo string `yaml:"odoo"`
	// Models n8n may act on; Methods adds methods beyond the action_,
	// button_ and _handle_ prefixes (which are always allowed on Models).
	Models  []string `yaml:"models"`
	Methods []string `yaml:"methods"`
}

var (
	botNamePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,63}$`)
	triggerPattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,127}$`)
	modelPattern   = regexp.MustCompile(`^[a-z_][a-z0-9_]*(\.[a-z0-9_]+)*$`)
)

// Handlers are the built-in slash command handlers.
var Handlers = []string{"ipai", "opex", "bir-status"}

// NormalizeTrigger strips the leading slash of a trigger.
func NormalizeTrigger(t string) string { return strings.TrimPrefix(strings.TrimSpace(t), "/") }

func (c *Config) validateChatOps(bad func(key, format string, args ...any)) {
	if c.ChatOps.N8N.SyncInterval == 0 {
		c.ChatOps.N8N.SyncInterval = 5 * time.Minute
	}
	c.ValidateChatOps(bad)
}

// ValidateChatOps reports every problem of the chatops section to bad.
func (c Config) ValidateChatOps(bad func(key, format string, args ...any)) {
	co := c.ChatOps
	seen := map[string]int{}
	for i, b := range co.Bots {
		key := fmt.Sprintf("chatops.bots[%d]", i)
		if !botNamePattern.MatchString(b.Username) {
			bad(key+".username", "%q is not a Mattermost user name; use lower-case letters, digits, '.', '-' and '_'", b.Username)
		} else if j, dup := seen[b.Username]; dup {
			bad(key+".username", "%q is already chatops.bots[%d]; bot names must be unique", b.Username, j)
		} else {
			seen[b.Username] = i
		}
		if b.Connector == "" {
			bad(key+".connector", "is required: the code of the Mattermost connector the bot posts through")
		}
		for _, p := range b.Permissions {
			if p != "post" && p != "read" && p != "manage" {
				bad(key+".permissions", "%q is not a permission; expected post, read or manage", p)
			}
		}
		switch b.State {
		case "", "active", "disabled", "draft":
		default:
			bad(key+".state", "%q: expected active, disabled or draft", b.State)
		}
		trig := map[string]int{}
		for j, cm := range b.Commands {
			ck := fmt.Sprintf("%s.commands[%d]", key, j)
			t := NormalizeTrigger(cm.Trigger)
			if !triggerPattern.MatchString(t) {
				bad(ck+".trigger", "%q is not a slash command trigger; expected e.g. /ipai", cm.Trigger)
			} else if k, dup := trig[t]; dup {
				bad(ck+".trigger", "/%s is already commands[%d] of this bot", t, k)
			} else {
				trig[t] = j
			}
			switch cm.ResponseType {
			case "", "ephemeral", "in_channel":
			default:
				bad(ck+".response_type", "%q: expected ephemeral or in_channel", cm.ResponseType)
			}
			h := cm.Handler
			if h == "" {
				h = t
			}
			known := false
			for _, x := range Handlers {
				known = known || x == h
			}
			if !known {
				bad(ck+".handler", "%q is not a handler; expected one of %s (or name the command after one)", h, strings.Join(Handlers, ", "))
			}
			switch strings.ToUpper(cm.Method) {
			case "", "POST", "GET", "P", "G":
			default:
				bad(ck+".method", "%q: expected POST or GET", cm.Method)
			}
		}
	}
	a := co.Approvals
	for i, t := range a.Thresholds {
		if t.Mention == "" {
			bad(fmt.Sprintf("chatops.approvals.thresholds[%d].mention", i), "is required, e.g. \"@approver\"")
		}
		if i > 0 && t.Over >= a.Thresholds[i-1].Over {
			bad(fmt.Sprintf("chatops.approvals.thresholds[%d].over", i), "%v: list thresholds highest first", t.Over)
		}
	}
	n := co.Notifications
	if (n.Info != "" || n.Warning != "" || n.Error != "") && n.Connector == "" {
		bad("chatops.notifications.connector", "is required when channels are set: the Mattermost connector to post with")
	}
	if n.AutoHeal != "" && co.N8N.Connector == "" {
		bad("chatops.notifications.auto_heal", "needs chatops.n8n.connector (the n8n to trigger)")
	}
	f := co.N8N
	if f.SyncInterval < 0 || (f.SyncInterval > 0 && f.SyncInterval < 10*time.Second) {
		bad("chatops.n8n.sync_interval", "%v: expected at least 10s (default 5m)", f.SyncInterval)
	}
	if f.Scheme != "" && f.Scheme != "hmac-hex" && f.Scheme != "standard" {
		bad("chatops.n8n.scheme", "%q: expected hmac-hex or standard", f.Scheme)
	}
	if f.Odoo != "" && f.Secret == "" {
		bad("chatops.n8n.secret", "is required when chatops.n8n.odoo is set: n8n's calls are refused unless signed")
	}
	for i, m := range f.Models {
		if !modelPattern.MatchString(m) {
			bad(fmt.Sprintf("chatops.n8n.models[%d]", i), "%q is not an Odoo model name such as res.partner", m)
		}
	}
	for i, m := range f.Methods {
		if m == "" || strings.HasPrefix(m, "__") || strings.ContainsAny(m, " .") {
			bad(fmt.Sprintf("chatops.n8n.methods[%d]", i), "%q is not a method name", m)
		}
	}
	for i, o := range co.Outgoing {
		if len(o.Token) < 16 {
			bad(fmt.Sprintf("chatops.outgoing[%d].token", i), "is missing or too short; copy the outgoing webhook's token from Mattermost (26 characters)")
		}
	}
	for i, t := range co.EventTokens {
		if len(t) < 16 {
			bad(fmt.Sprintf("chatops.event_tokens[%d]", i), "is too short; use at least 16 random characters")
		}
	}
}

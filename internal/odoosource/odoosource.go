// Package odoosource makes Odoo an event source of the hub: it installs,
// through a connector's Odoo API, automation rules whose "Send Webhook
// Notification" action posts record changes to the hub's
// /integrations/odoo/<connector> with a token of their own, kept here only
// as a SHA-256 (TokenHash). The command line calls it (ipai odoo
// install-webhooks); so can the API.
package odoosource

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/connector/odoo"
	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/store"
)

// TokenHash is how Odoo source tokens are stored (SHA-256, hex).
func TokenHash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Connectors gives the configuration of a stored connector, secrets
// opened, and the HTTP client that reaches it (integration.Service).
type Connectors interface {
	Config(ctx context.Context, code string) (connector.Config, error)
	HTTPClient(cfg connector.Config) *http.Client
}

// Service installs Odoo webhook rules.
type Service struct {
	DB         *store.DB
	Connectors Connectors
	Audit      *audit.Log       // nil: nothing is audited
	Now        func() time.Time // nil: time.Now
}

// Install asks for one automation rule. Its URL is set by the service.
type Install struct {
	Connector string // the Odoo connector's code
	HubURL    string // this hub's URL as Odoo reaches it
	Actor     string // who asks, for the audit log
	odoo.WebhookInstall
}

// Installed is what Install did.
type Installed struct {
	odoo.Installed
	OdooURL string // the connector's Odoo
	HookURL string // where Odoo posts, without the token
	// Watcher is the sync.watchers entry that catches what the webhooks
	// miss (Odoo sends each notification once, with a 1 s timeout): the
	// same model and fields, so that a change seen by both is one event.
	Watcher config.SyncWatcher
}

// Install stores a new token for the connector and creates the automation
// rule on its Odoo, posting to the hub with that token. If Odoo refuses, the
// token is removed again; with Replace, the tokens of the rule it replaced
// are. Bad input is a *problem.Error naming the field; a rule already there
// (without Replace) is odoo.ErrInstalled.
func (s *Service) Install(ctx context.Context, in Install) (Installed, error) {
	if in.Model == "" {
		return Installed{}, problem.Invalid("model", "required: the Odoo model, e.g. purchase.order")
	}
	if in.Trigger == "" {
		return Installed{}, problem.Invalid("trigger", "required: one of on_create, on_write, on_create_or_write, on_unlink, on_archive, on_unarchive")
	}
	cfg, err := s.Connectors.Config(ctx, in.Connector)
	if err != nil {
		return Installed{}, err
	}
	if cfg.Type != "odoo" {
		return Installed{}, problem.Invalid("connector", "connector %s is a %s connector; give an odoo connector", in.Connector, cfg.Type)
	}
	if u, err := url.Parse(in.HubURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return Installed{}, problem.Invalid("hub_url", "hub URL %q is not an http(s) URL", in.HubURL)
	}
	client, err := connector.NewAs[*odoo.Client](cfg, s.Connectors.HTTPClient(cfg), "odoo")
	if err != nil {
		return Installed{}, err
	}
	raw := make([]byte, 32)
	if _, err := rand.Read(raw); err != nil {
		return Installed{}, err
	}
	token := base64.RawURLEncoding.EncodeToString(raw)
	label := in.Model + " " + in.Trigger
	rec := store.OdooToken{ID: "otk_" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", ""), Connector: in.Connector,
		Label: label, Hash: TokenHash(token), CreatedAt: s.now().UTC()}
	if err := s.DB.CreateOdooToken(ctx, rec); err != nil {
		return Installed{}, err
	}
	hookURL := strings.TrimSuffix(in.HubURL, "/") + "/integrations/odoo/" + url.PathEscape(in.Connector)
	wi := in.WebhookInstall
	wi.URL = hookURL + "?token=" + token
	got, err := client.InstallWebhook(ctx, wi)
	if err != nil {
		_ = s.DB.DeleteOdooToken(context.WithoutCancel(ctx), rec.ID)
		if errors.Is(err, odoo.ErrInstalled) {
			return Installed{}, err
		}
		return Installed{}, fmt.Errorf("odoo %s: %w", in.Connector, err)
	}
	if in.Replace { // the replaced rule's tokens are no longer used
		old, _ := s.DB.ListOdooTokens(ctx, in.Connector)
		for _, t := range old {
			if t.Label == label && t.ID != rec.ID {
				_ = s.DB.DeleteOdooToken(ctx, t.ID)
			}
		}
	}
	if s.Audit != nil {
		if err := s.Audit.Write(ctx, audit.Entry{Actor: in.Actor, Action: "odoo.install_webhooks", Target: in.Connector,
			Message: fmt.Sprintf("automation rule %q (id %d) installed; events odoo.%s.*", got.Name, got.AutomationID, in.Model),
			Fields:  map[string]any{"model": in.Model, "trigger": in.Trigger, "fields": got.Fields}}); err != nil {
			return Installed{}, err
		}
	}
	return Installed{Installed: got, OdooURL: cfg.BaseURL, HookURL: hookURL, Watcher: watcher(in.Connector, in.Model, got.Fields)}, nil
}

// watcher is the sync.watchers entry that backs up webhooks sending fields:
// a watcher always reads create_date and write_date.
func watcher(code, model string, fields []string) config.SyncWatcher {
	var fs []string
	for _, f := range fields {
		if f != "create_date" && f != "write_date" {
			fs = append(fs, f)
		}
	}
	return config.SyncWatcher{Connector: code, Model: model, Fields: fs}
}

func (s *Service) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

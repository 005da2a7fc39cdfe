package app

import (
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/event"
	"github.com/insightpulseai/ipai/internal/inbound"
	"github.com/insightpulseai/ipai/internal/outbound"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/secret"
	"github.com/insightpulseai/ipai/internal/store"
)

// setupSecrets loads the master key and builds the one outbound guard every
// outbound call (deliveries and connector calls) goes through.
func (a *App) setupSecrets() error {
	box, err := secret.LoadFor(a.Cfg.DataDir, func() (string, error) { return a.DB.SealedData(context.Background()) })
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	guard, err := outbound.New(a.Cfg.Outbound.Allow)
	if err != nil {
		return fmt.Errorf("outbound.allow: %w", err)
	}
	a.Box, a.Guard = box, guard
	return nil
}

// setupWebhooks builds the event path: router, ingester (group commit of
// events and their deliveries), incoming hooks, outgoing endpoints and the
// delivery dispatcher.
func (a *App) setupWebhooks(ctx context.Context) error {
	a.Router = rule.NewRouter()
	a.Endpoints = delivery.NewEndpoints(a.DB, a.Box, a.Guard, a.Router)
	a.Endpoints.UserAgent, a.Endpoints.Log = "ipai/"+Version, a.Log
	if n, err := a.Endpoints.SealStored(ctx); err != nil {
		return fmt.Errorf("seal the headers of stored endpoints: %w", err)
	} else if n > 0 {
		a.Log.Info("sealed the header values (and moved URL credentials into a sealed Authorization header) of stored endpoints", "endpoints", n)
	}
	if err := a.Endpoints.Reload(ctx); err != nil {
		return err
	}
	a.Dispatcher = delivery.NewDispatcher(a.DB, a.Endpoints, a.Audit, a.Log, delivery.Options{
		Workers: a.Cfg.Delivery.Workers, Poll: a.Cfg.Delivery.Poll, Lease: a.Cfg.Delivery.Lease,
		Heartbeat: a.Cfg.Delivery.Heartbeat})
	a.Ingester = event.NewIngester(a.DB, a.Router, event.IngesterOptions{OnCommit: func(int) { a.Dispatcher.Wake() }})
	reg := a.API.Registry()
	a.Hooks = inbound.NewHooks(a.DB, a.Box, a.Audit, a.Ingester, reg)
	for _, c := range a.Dispatcher.Collectors() {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	a.API.Hooks, a.API.Endpoints, a.API.Dispatcher, a.API.BaseURL = a.Hooks, a.Endpoints, a.Dispatcher, a.Cfg.BaseURL()
	return a.applyWebhooks(ctx)
}

// reloadLoop picks up endpoints changed by other hub processes sharing the
// database, so that routing on every replica agrees within ReloadEvery.
func (a *App) reloadLoop(ctx context.Context) {
	t := time.NewTicker(ReloadEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if err := a.Endpoints.Reload(ctx); err != nil && ctx.Err() == nil {
				a.Log.Warn("reload endpoints", "err", err)
			}
		}
	}
}

// ReloadEvery is how often a hub re-reads routing configuration.
const ReloadEvery = 2 * time.Second

// applyWebhooks makes the stored webhooks match the ones declared in
// ipai.yaml: each is found by direction and name among the managed ones,
// created or updated (spec and secret), and managed webhooks no longer
// declared become ordinary ones (kept, editable through the API).
func (a *App) applyWebhooks(ctx context.Context) error {
	existing, err := a.DB.ListWebhooks(ctx, "")
	if err != nil {
		return err
	}
	managed := map[string]store.Webhook{}
	for _, w := range existing {
		if w.Managed {
			managed[w.Direction+"/"+w.Name] = w
		}
	}
	now := a.Now().UTC()
	for i, d := range a.Cfg.Webhooks {
		key := d.Direction + "/" + d.Name
		w, ok := managed[key]
		delete(managed, key)
		// Stored specs carry their defaults; fill them in to compare.
		var spec any
		if d.Direction == store.Incoming {
			h := d.HookSpec
			_ = h.Validate() // validated with the config already
			spec = h
		} else {
			e := d.EndpointSpec
			_ = e.Validate()
			spec = e
		}
		if !ok {
			if d.Direction == store.Incoming {
				_, err = a.Hooks.Create(ctx, d.Name, d.Connector, d.HookSpec, d.Secret, true)
			} else {
				_, _, err = a.Endpoints.CreateWithSecret(ctx, d.Name, d.EndpointSpec, d.Secret, true)
			}
			if err != nil {
				return fmt.Errorf("webhooks[%d] (%s): %w", i, d.Name, err)
			}
			continue
		}
		b, _ := json.Marshal(spec)
		same := w.Spec == string(b)
		if d.Direction == store.Outgoing { // header values are sealed: compare them opened
			same = a.Endpoints.SameSpec(w, d.EndpointSpec)
			s, err := a.Endpoints.StoredSpec(w.ID, d.EndpointSpec)
			if err != nil {
				return fmt.Errorf("webhooks[%d] (%s): %w", i, d.Name, err)
			}
			b = []byte(s)
		}
		// A secret that does not open (another master key) differs from the
		// declared one, so the declared one is sealed again below.
		old, _ := a.Box.Open(w.SecretSealed, "webhook:"+w.ID)
		if same && w.Connector == d.Connector && old == d.Secret {
			continue
		}
		w.Spec, w.Connector, w.UpdatedAt = string(b), d.Connector, now
		if old != d.Secret {
			w.SecretSealed, w.OldSecretSealed, w.OldSecretUntil = a.Box.Seal(d.Secret, "webhook:"+w.ID), "", time.Time{}
		}
		if err := a.DB.UpdateWebhook(ctx, w); err != nil {
			return fmt.Errorf("webhooks[%d] (%s): %w", i, d.Name, err)
		}
		a.Hooks.Forget(w.ID)
	}
	for _, w := range managed {
		w.Managed, w.UpdatedAt = false, now
		if err := a.DB.UpdateWebhook(ctx, w); err != nil {
			return err
		}
	}
	return a.Endpoints.Reload(ctx)
}

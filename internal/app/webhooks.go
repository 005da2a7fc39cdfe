package app

import (
	"context"
	"fmt"
	"time"

	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/inbound"
	"github.com/insightpulseai/ipai/internal/outbound"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/secret"
)

// setupSecrets loads the master key and builds the one outbound guard every
// outbound call (deliveries and connector calls) goes through.
func (a *App) setupSecrets() error {
	box, err := secret.Load(a.Cfg.DataDir)
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
	a.Endpoints.UserAgent = "ipai/" + Version
	if err := a.Endpoints.Reload(ctx); err != nil {
		return err
	}
	a.Dispatcher = delivery.NewDispatcher(a.DB, a.Endpoints, a.Audit, a.Log, delivery.Options{
		Workers: a.Cfg.Delivery.Workers, Poll: a.Cfg.Delivery.Poll, Lease: a.Cfg.Delivery.Lease})
	a.Ingester = inbound.NewIngester(a.DB, a.Router, inbound.IngesterOptions{OnCommit: func(int) { a.Dispatcher.Wake() }})
	reg := a.API.Registry()
	a.Hooks = inbound.NewHooks(a.DB, a.Box, a.Audit, a.Ingester, reg)
	for _, c := range a.Dispatcher.Collectors() {
		if err := reg.Register(c); err != nil {
			return err
		}
	}
	a.API.Hooks, a.API.Endpoints, a.API.Dispatcher, a.API.BaseURL = a.Hooks, a.Endpoints, a.Dispatcher, a.Cfg.BaseURL()
	return nil
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

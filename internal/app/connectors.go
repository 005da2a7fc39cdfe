package app

import (
	"context"
	"fmt"

	"github.com/insightpulseai/ipai/internal/health"
	"github.com/insightpulseai/ipai/internal/integration"
	"github.com/insightpulseai/ipai/internal/outbound"
	"github.com/insightpulseai/ipai/internal/secret"
)

// setupConnectors loads the master key, builds the connector service behind
// a guarded HTTP client, applies the connectors declared in ipai.yaml and
// prepares the health runner (its gauges on the API's registry).
func (a *App) setupConnectors(ctx context.Context) error {
	box, err := secret.Load(a.Cfg.DataDir)
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	guard, err := outbound.New(a.Cfg.Outbound.Allow)
	if err != nil {
		return fmt.Errorf("outbound.allow: %w", err)
	}
	svc := integration.New(a.DB, box, guard, a.Cfg.Health.Timeout)
	svc.Audit, svc.Log = a.Audit, a.Log
	res, err := svc.Apply(ctx, a.Cfg.Connectors)
	if err != nil {
		return err
	}
	if len(res.Created)+len(res.Updated)+len(res.Released) > 0 {
		a.Log.Info("connectors from config applied", "created", res.Created, "updated", res.Updated,
			"unchanged", res.Unchanged, "no_longer_managed", res.Released)
	}
	runner, err := svc.NewRunner(ctx, a.Cfg.Health)
	if err != nil {
		return fmt.Errorf("health history: %w", err)
	}
	a.Connectors, a.Health = svc, runner
	a.API.Connectors, a.API.Health = svc, runner
	return a.API.Registry().Register(health.Collector{R: runner})
}

// runHealth starts the health checks of the active connectors; the
// returned function stops them and waits until they have.
func (a *App) runHealth(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = a.Health.Run(ctx)
	}()
	return func() { cancel(); <-done }
}

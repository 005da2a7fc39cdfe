package app

import (
	"context"
	"fmt"

	"github.com/insightpulseai/ipai/internal/health"
	"github.com/insightpulseai/ipai/internal/integration"
)

// setupConnectors loads the master key, builds the connector service (each
// connector behind its own guarded HTTP client), applies the connectors declared in ipai.yaml and
// prepares the health runner (its gauges on the API's registry).
func (a *App) setupConnectors(ctx context.Context) error {
	svc := integration.New(a.DB, a.Box, a.Guard, a.Cfg.Health.Timeout)
	svc.Audit, svc.Log = a.Audit, a.Log
	res, err := svc.Apply(ctx, a.Cfg.Connectors)
	if err != nil {
		return err
	}
	if len(res.Created)+len(res.Updated)+len(res.Released) > 0 {
		a.Log.Info("connectors from config applied", "created", res.Created, "updated", res.Updated,
			"unchanged", res.Unchanged, "no_longer_managed", res.Released)
	}
	// Connector hosts may be private: each connector's own client may reach
	// its own URLs (svc.HTTPClient); nothing else is widened.
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

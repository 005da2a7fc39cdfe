package app

import (
	"context"
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/health"
	"github.com/insightpulseai/ipai/internal/integration"
	"github.com/insightpulseai/ipai/internal/outbound"
	"github.com/insightpulseai/ipai/internal/secret"
	"github.com/insightpulseai/ipai/internal/store"
)

// newConnectors builds the connector service (each connector behind its
// own guarded HTTP client) and applies the connectors declared in
// ipai.yaml.
func newConnectors(ctx context.Context, declared []config.ConnectorSpec, cfg config.Health, db *store.DB, box *secret.Box,
	guard *outbound.Guard, al *audit.Log, log *slog.Logger) (*integration.Service, error) {
	svc := integration.New(db, box, guard, cfg.Timeout)
	svc.Audit, svc.Log = al, log
	res, err := svc.Apply(ctx, declared)
	if err != nil {
		return nil, err
	}
	if len(res.Created)+len(res.Updated)+len(res.Released) > 0 {
		log.Info("connectors from config applied", "created", res.Created, "updated", res.Updated,
			"unchanged", res.Unchanged, "no_longer_managed", res.Released)
	}
	return svc, nil
}

// newHealth builds the health checks of the active connectors (their
// gauges in reg). Connector hosts may be private: each connector's own
// client may reach its own URLs (svc.HTTPClient); nothing else is widened.
func newHealth(ctx context.Context, cfg config.Health, svc *integration.Service, reg prometheus.Registerer) (*health.Runner, error) {
	runner, err := svc.NewRunner(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("health history: %w", err)
	}
	return runner, reg.Register(health.Collector{R: runner})
}

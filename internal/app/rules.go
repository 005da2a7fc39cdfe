package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/integration"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/rule/action"
	"github.com/insightpulseai/ipai/internal/store"
)

// newRules applies the rules declared in ipai.yaml (managed), installs the
// stored rules in the router and registers the rule action executors
// (connector actions, and work items through the outgoing endpoints) with
// the dispatcher.
func newRules(ctx context.Context, declared []rule.Spec, db *store.DB, router *rule.Router, connectors *integration.Service,
	eps *delivery.Endpoints, d *delivery.Dispatcher, log *slog.Logger) (*rule.Service, error) {
	svc := rule.NewService(db, router, log)
	res, err := svc.ApplyConfig(ctx, declared, time.Now())
	if err != nil {
		return nil, fmt.Errorf("rules: %w", err)
	}
	if res.Created+res.Updated+res.Deleted > 0 {
		log.Info("rules from config applied", "created", res.Created, "updated", res.Updated,
			"deleted", res.Deleted, "unchanged", res.Unchanged)
	}
	action.New(action.FromConfigs(connectors)).Register(d)
	d.Register(rule.KindWorkItem, action.WorkItems(eps))
	return svc, nil
}

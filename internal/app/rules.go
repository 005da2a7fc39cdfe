package app

import (
	"context"
	"fmt"

	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/rule/action"
)

// setupRules applies the rules declared in ipai.yaml (managed), installs
// the stored rules in the router and registers the rule action executors
// (work items through the outgoing endpoints) with the dispatcher. Needs setupWebhooks and setupConnectors first.
func (a *App) setupRules(ctx context.Context) error {
	a.Rules = rule.NewService(a.DB, a.Router, a.Log)
	res, err := a.Rules.ApplyConfig(ctx, a.Cfg.Rules, a.Now())
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	if res.Created+res.Updated+res.Deleted > 0 {
		a.Log.Info("rules from config applied", "created", res.Created, "updated", res.Updated,
			"deleted", res.Deleted, "unchanged", res.Unchanged)
	}
	action.New(action.FromConfigs(a.Connectors)).Register(a.Dispatcher)
	a.Dispatcher.Register(rule.KindWorkItem, action.WorkItems(a.Endpoints))
	return nil
}

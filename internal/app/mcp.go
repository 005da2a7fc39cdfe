package app

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/insightpulseai/ipai/internal/api"
	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/connector/n8n"
	"github.com/insightpulseai/ipai/internal/connector/odoo"
	"github.com/insightpulseai/ipai/internal/connector/superset"
	"github.com/insightpulseai/ipai/internal/integration"
	"github.com/insightpulseai/ipai/internal/mcpserver"
	"github.com/insightpulseai/ipai/internal/outbound"
	"github.com/insightpulseai/ipai/internal/stack/probe"
	"github.com/insightpulseai/ipai/internal/store"
)

// newMCPDeps gathers what the MCP servers need: the policy (mcp.policy)
// and the odoo, superset and n8n clients, from the stored connectors named
// in the config's mcp section, else from the environment (ODOO_URL, …, as
// for `ipai mcp`).
func newMCPDeps(ctx context.Context, cfg config.MCP, al *audit.Log, log *slog.Logger, guard *outbound.Guard,
	connectors *integration.Service) (mcpserver.Deps, error) {
	policy, err := mcpserver.LoadPolicy(cfg.Policy)
	if err != nil {
		return mcpserver.Deps{}, err
	}
	d := mcpserver.Deps{Env: &mcpserver.Env{Audit: al, Log: log, Version: Version}, Policy: policy,
		SpecRepo: cfg.SpecRepo, Guard: guard}
	if err := mcpserver.ClientsFromEnv(ctx, &d); err != nil {
		log.Warn("mcp: a service from the environment is unusable; its server is not mounted", "err", err)
	}
	if err := mcpClientsFromConnectors(ctx, cfg, connectors, log, &d); err != nil {
		return mcpserver.Deps{}, err
	}
	return d, nil
}

// mountMCP builds the MCP servers whose service is configured (the others
// are left out, and logged) for the API to serve at /mcp/{server} (its
// OAuth metadata naming publicURL); the ops server works on deliveries and
// connectors, backups in mcp.backup_dir and the stack at mcp.stack_domain.
func mountMCP(cfg config.MCP, publicURL string, d mcpserver.Deps, deliveries opsDeliveries, connectors *integration.Service,
	guard *outbound.Guard, log *slog.Logger) *api.MCP {
	d.Ops.BackupDir = cfg.BackupDir
	if domain := cfg.StackDomain; domain != "" {
		checks := probe.Checks(domain, []string{"core"}, nil)
		var urls []string
		for _, c := range checks {
			urls = append(urls, c.URL)
		}
		hc := outbound.ClientFor(guard, outbound.Options{Timeout: time.Minute}, urls...)
		d.Ops.Health = func(ctx context.Context) ([]probe.Result, error) {
			return probe.Run(ctx, hc, checks, 10*time.Second), nil
		}
	}
	d.Ops.Deliveries = deliveries
	d.Ops.Connectors = opsConnectors{connectors}
	servers := map[string]*mcp.Server{}
	for _, name := range mcpserver.Names {
		s, err := d.Build(name)
		if err != nil {
			log.Info("mcp server not mounted", "server", name, "reason", err.Error())
			continue
		}
		servers[name] = s
	}
	return &api.MCP{Servers: servers, PublicURL: publicURL, TrustedOrigins: d.Policy.TrustedOrigins,
		Stateless: cfg.Stateless}
}

// mcpClientsFromConnectors sets the odoo, superset and n8n clients of the
// servers from the stored connectors the config names (secrets opened by the
// connector service, calls through its outbound guard).
func mcpClientsFromConnectors(ctx context.Context, cfg config.MCP, connectors *integration.Service, log *slog.Logger,
	d *mcpserver.Deps) error {
	for server, code := range cfg.Connectors() {
		cfg, err := connectors.Config(ctx, code)
		if err != nil {
			return fmt.Errorf("mcp.%s: connector %q: %w", server, code, err)
		}
		if cfg.Type != server {
			return fmt.Errorf("mcp.%s: connector %q is of type %s; expected a connector of type %s", server, code, cfg.Type, server)
		}
		c, err := connector.New(cfg, connectors.HTTPClient(cfg))
		if err != nil {
			return fmt.Errorf("mcp.%s: connector %q: %w", server, code, err)
		}
		var ok bool
		switch server {
		case mcpserver.Odoo:
			if d.Odoo, ok = c.(*odoo.Client); ok {
				// Odoo 19+ speaks JSON-2: learn the series once.
				vctx, cancel := context.WithTimeout(ctx, 15*time.Second)
				if _, err := d.Odoo.Version(vctx); err != nil {
					log.Warn("mcp: odoo version unknown; using JSON-RPC", "connector", code, "err", err)
				}
				cancel()
			}
		case mcpserver.Superset:
			d.Superset, ok = c.(*superset.Client)
		case mcpserver.N8N:
			d.N8N, ok = c.(*n8n.Client)
		}
		if !ok {
			return fmt.Errorf("mcp.%s: connector %q does not build a %s client", server, code, server)
		}
	}
	return nil
}

// opsDeliveries gives the ops MCP server the hub's deliveries.
type opsDeliveries struct {
	db   *store.DB
	wake func() // the dispatcher's
	now  func() time.Time
}

func viewOpsDelivery(d store.Delivery) mcpserver.Delivery {
	target := d.EndpointID
	if target == "" {
		target = d.Kind
	}
	return mcpserver.Delivery{ID: d.ID, State: d.State, Target: target, Event: d.EventID, Attempts: d.Attempts,
		LastError: d.LastError, UpdatedAt: d.UpdatedAt}
}

func (o opsDeliveries) List(ctx context.Context, state string, limit int) ([]mcpserver.Delivery, error) {
	ds, err := o.db.ListDeliveries(ctx, store.DeliveryFilter{State: state, Limit: limit})
	if err != nil {
		return nil, err
	}
	out := make([]mcpserver.Delivery, len(ds))
	for i, d := range ds {
		out[i] = viewOpsDelivery(d)
	}
	return out, nil
}

func (o opsDeliveries) Get(ctx context.Context, id string) (mcpserver.Delivery, error) {
	d, err := o.db.Delivery(ctx, id)
	return viewOpsDelivery(d), err
}

// Replay makes a finished delivery due again now, as the API's replay does.
func (o opsDeliveries) Replay(ctx context.Context, id string) (mcpserver.Delivery, error) {
	d, err := o.db.Delivery(ctx, id)
	if err != nil {
		return mcpserver.Delivery{}, err
	}
	n, err := o.db.ReplayDeliveries(ctx, store.DeliveryFilter{}, []string{id}, o.now())
	if err != nil {
		return mcpserver.Delivery{}, err
	}
	if n == 0 {
		return mcpserver.Delivery{}, fmt.Errorf("delivery %s is %s; only dead, failed or succeeded deliveries can be replayed", id, d.State)
	}
	o.wake()
	return o.Get(ctx, id)
}

// opsConnectors gives the ops MCP server the hub's connectors.
type opsConnectors struct{ s *integration.Service }

func (o opsConnectors) List(ctx context.Context) ([]mcpserver.ConnectorInfo, error) {
	cs, err := o.s.List(ctx, "")
	if err != nil {
		return nil, err
	}
	out := make([]mcpserver.ConnectorInfo, len(cs))
	for i, c := range cs {
		out[i] = mcpserver.ConnectorInfo{Code: c.Code, Type: c.Type, BaseURL: c.BaseURL}
	}
	return out, nil
}

func (o opsConnectors) Test(ctx context.Context, code string) (any, error) {
	return o.s.Test(ctx, code)
}

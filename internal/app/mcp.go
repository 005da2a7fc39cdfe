package app

import (
	"context"
	"fmt"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/insightpulseai/ipai/internal/api"
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

// mountMCP builds the MCP servers (after the connectors and the delivery
// path exist: the ops server uses them) that are configured and mounts them
// at /mcp/{server}. The odoo, superset and n8n clients come from the stored
// connectors named in the config's mcp section, else from the environment
// (ODOO_URL, …, as for `ipai mcp`); every other setting (policy, spec_repo,
// backup_dir, stack_domain, public_url) from the config. Servers whose
// service is not configured are left out (and logged).
func (a *App) mountMCP(ctx context.Context) error {
	mc := a.Cfg.MCP
	policy, err := mcpserver.LoadPolicy(mc.Policy)
	if err != nil {
		return err
	}
	d := mcpserver.Deps{Env: &mcpserver.Env{Audit: a.Audit, Log: a.Log, Version: Version}, Policy: policy,
		SpecRepo: mc.SpecRepo, Guard: a.Guard}
	a.mcpEnv = d.Env
	if err := mcpserver.ClientsFromEnv(ctx, &d); err != nil {
		a.Log.Warn("mcp: a service from the environment is unusable; its server is not mounted", "err", err)
	}
	if err := a.mcpClientsFromConnectors(ctx, &d); err != nil {
		return err
	}
	// Agent URLs come from MCP clients: only outbound.allow opens private
	// addresses to them.
	d.Pulser = &mcpserver.PulserService{DB: a.DB, N8N: d.N8N, HTTP: a.Guard.Client(outbound.Options{Timeout: 5 * time.Minute})}
	d.Ops.BackupDir = mc.BackupDir
	if domain := mc.StackDomain; domain != "" {
		checks := probe.Checks(domain, []string{"core"}, nil)
		var urls []string
		for _, c := range checks {
			urls = append(urls, c.URL)
		}
		hc := outbound.ClientFor(a.Guard, outbound.Options{Timeout: time.Minute}, urls...)
		d.Ops.Health = func(ctx context.Context) ([]probe.Result, error) {
			return probe.Run(ctx, hc, checks, 10*time.Second), nil
		}
	}
	d.Ops.Deliveries = opsDeliveries{a}
	d.Ops.Connectors = opsConnectors{a.Connectors}
	servers := map[string]*mcp.Server{}
	for _, name := range mcpserver.Names {
		s, err := d.Build(name)
		if err != nil {
			a.Log.Info("mcp server not mounted", "server", name, "reason", err.Error())
			continue
		}
		servers[name] = s
	}
	_ = d.Pulser.Resume(ctx)
	a.API.MountMCP(&api.MCP{Servers: servers, PublicURL: a.Cfg.PublicURL, TrustedOrigins: policy.TrustedOrigins,
		Stateless: mc.Stateless})
	return nil
}

// mcpClientsFromConnectors sets the odoo, superset and n8n clients of the
// servers from the stored connectors the config names (secrets opened by the
// connector service, calls through its outbound guard).
func (a *App) mcpClientsFromConnectors(ctx context.Context, d *mcpserver.Deps) error {
	for server, code := range a.Cfg.MCP.Connectors() {
		cfg, err := a.Connectors.Config(ctx, code)
		if err != nil {
			return fmt.Errorf("mcp.%s: connector %q: %w", server, code, err)
		}
		if cfg.Type != server {
			return fmt.Errorf("mcp.%s: connector %q is of type %s; expected a connector of type %s", server, code, cfg.Type, server)
		}
		c, err := connector.New(cfg, a.Connectors.HTTPClient(cfg))
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
					a.Log.Warn("mcp: odoo version unknown; using JSON-RPC", "connector", code, "err", err)
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
type opsDeliveries struct{ a *App }

func viewOpsDelivery(d store.Delivery) mcpserver.Delivery {
	target := d.EndpointID
	if target == "" {
		target = d.Kind
	}
	return mcpserver.Delivery{ID: d.ID, State: d.State, Target: target, Event: d.EventID, Attempts: d.Attempts,
		LastError: d.LastError, UpdatedAt: d.UpdatedAt}
}

func (o opsDeliveries) List(ctx context.Context, state string, limit int) ([]mcpserver.Delivery, error) {
	ds, err := o.a.DB.ListDeliveries(ctx, store.DeliveryFilter{State: state, Limit: limit})
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
	d, err := o.a.DB.Delivery(ctx, id)
	return viewOpsDelivery(d), err
}

// Replay makes a finished delivery due again now, as the API's replay does.
func (o opsDeliveries) Replay(ctx context.Context, id string) (mcpserver.Delivery, error) {
	d, err := o.a.DB.Delivery(ctx, id)
	if err != nil {
		return mcpserver.Delivery{}, err
	}
	n, err := o.a.DB.ReplayDeliveries(ctx, store.DeliveryFilter{}, []string{id}, o.a.Now())
	if err != nil {
		return mcpserver.Delivery{}, err
	}
	if n == 0 {
		return mcpserver.Delivery{}, fmt.Errorf("delivery %s is %s; only dead, failed or succeeded deliveries can be replayed", id, d.State)
	}
	o.a.Dispatcher.Wake()
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

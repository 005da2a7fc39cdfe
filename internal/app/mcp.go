package app

import (
	"context"
	"net/http"
	"os"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/insightpulseai/ipai/internal/api"
	"github.com/insightpulseai/ipai/internal/mcpserver"
	stackhealth "github.com/insightpulseai/ipai/internal/stack/health"
)

// mountMCP builds the MCP servers that are configured (clients from the
// environment, policy from IPAI_MCP_POLICY) and mounts them at /mcp/{server}.
// Servers whose service is not configured are left out (and logged).
func (a *App) mountMCP(ctx context.Context) error {
	policy, err := mcpserver.LoadPolicy(os.Getenv("IPAI_MCP_POLICY"))
	if err != nil {
		return err
	}
	d := mcpserver.Deps{Env: &mcpserver.Env{Audit: a.Audit, Log: a.Log, Version: Version}, Policy: policy,
		SpecRepo: os.Getenv("IPAI_SPEC_REPO")}
	if err := mcpserver.ClientsFromEnv(ctx, &d); err != nil {
		a.Log.Warn("mcp: a service from the environment is unusable; its server is not mounted", "err", err)
	}
	d.Pulser = &mcpserver.PulserService{DB: a.DB, N8N: d.N8N, HTTP: &http.Client{Timeout: 5 * time.Minute}}
	if dir := os.Getenv("IPAI_BACKUP_DIR"); dir != "" {
		d.Ops.BackupDir = dir
	}
	if domain := os.Getenv("IPAI_STACK_DOMAIN"); domain != "" {
		checks := stackhealth.Checks(domain, []string{"core"}, nil)
		d.Ops.Health = func(ctx context.Context) ([]stackhealth.Result, error) {
			return stackhealth.Run(ctx, nil, checks, 10*time.Second), nil
		}
	}
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
	a.API.MountMCP(&api.MCP{Servers: servers, PublicURL: os.Getenv("IPAI_PUBLIC_URL"), TrustedOrigins: policy.TrustedOrigins})
	return nil
}

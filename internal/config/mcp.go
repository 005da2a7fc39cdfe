package config

import "strings"

// MCP configures the MCP servers `ipai serve` mounts at /mcp/{server}: which
// stored connector each server uses (by code; its secrets stay sealed in the
// store) and the policy file. Unset connectors fall back to the environment
// (ODOO_URL, SUPERSET_URL, N8N_URL, …), as for `ipai mcp` over stdio.
type MCP struct {
	Odoo     string `yaml:"odoo"`     // code of an odoo connector
	Superset string `yaml:"superset"` // code of a superset connector
	N8N      string `yaml:"n8n"`      // code of an n8n connector
	// Policy is the MCP policy file (allow-lists, rate limit); env
	// IPAI_MCP_POLICY.
	Policy string `yaml:"policy"`
	// Stateless serves each request with a fresh MCP session (replicas
	// behind a load balancer without sticky sessions); by default clients
	// keep a session (Mcp-Session-Id).
	Stateless bool `yaml:"stateless"`
	// SpecRepo is the repository folder the speckit server works in
	// (default: the working directory); env IPAI_SPEC_REPO.
	SpecRepo string `yaml:"spec_repo"`
	// BackupDir is where the ops server lists and verifies the archives of
	// `ipai stack backup`; env IPAI_BACKUP_DIR.
	BackupDir string `yaml:"backup_dir"`
	// StackDomain, when set, lets the ops server check the stack's public
	// services at their names under this domain; env IPAI_STACK_DOMAIN.
	StackDomain string `yaml:"stack_domain"`
}

// Connectors maps server name → connector code (set ones only).
func (m MCP) Connectors() map[string]string {
	out := map[string]string{}
	for server, code := range map[string]string{"odoo": m.Odoo, "superset": m.Superset, "n8n": m.N8N} {
		if code != "" {
			out[server] = code
		}
	}
	return out
}

// validateMCP checks that a connector named here, when the config declares
// it, has the server's type, and that stack_domain is a domain name.
func (c Config) validateMCP(bad func(key, format string, args ...any)) {
	if d := c.MCP.StackDomain; d != "" && (strings.ContainsAny(d, "/:@ ") || !strings.Contains(d, ".")) {
		bad("mcp.stack_domain", "%q is not a domain name; expected the stack's domain, e.g. example.com (no scheme, port or path)", d)
	}
	for server, code := range c.MCP.Connectors() {
		for _, cs := range c.Connectors {
			if cs.Code == code && cs.Type != server {
				bad("mcp."+server, "connector %q is of type %s; expected a connector of type %s", code, cs.Type, server)
			}
		}
	}
}

package mcpserver

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/digitalocean/godo"
	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/oauth2"

	"github.com/insightpulseai/ipai/internal/connector/n8n"
	"github.com/insightpulseai/ipai/internal/connector/odoo"
	"github.com/insightpulseai/ipai/internal/connector/superset"
	"github.com/insightpulseai/ipai/internal/outbound"
)

// Deps are the clients the servers use; a nil client leaves its server
// unavailable (Build says what to configure).
type Deps struct {
	Env      *Env
	Policy   Policy
	Odoo     *odoo.Client
	Superset *superset.Client
	N8N      *n8n.Client
	DO       *godo.Client
	Ops      OpsDeps
	Pulser   *PulserService
	// SpecRepo is the repository folder of the speckit server ("" = cwd).
	SpecRepo string
	// Guard checks the calls of the clients ClientsFromEnv builds (nil:
	// outbound.Default()); each may also reach its own configured URL.
	Guard *outbound.Guard
}

// Build returns the named server.
func (d Deps) Build(name string) (*mcp.Server, error) {
	e := d.Env
	if e == nil {
		e = &Env{}
	}
	if e.PerMinute == 0 {
		e.PerMinute = d.Policy.RateLimitPerMinute
	}
	switch name {
	case Odoo:
		if d.Odoo == nil {
			return nil, fmt.Errorf("the odoo MCP server needs an Odoo: set ODOO_URL, ODOO_DB, ODOO_USERNAME and ODOO_API_KEY")
		}
		return NewOdoo(e, d.Odoo, d.Policy.Odoo), nil
	case Superset:
		if d.Superset == nil {
			return nil, fmt.Errorf("the superset MCP server needs a Superset: set SUPERSET_URL, SUPERSET_USERNAME and SUPERSET_PASSWORD")
		}
		return NewSuperset(e, d.Superset), nil
	case Ops:
		ops := d.Ops
		if ops.DO == nil {
			ops.DO = d.DO
		}
		return NewOps(e, ops), nil
	case N8N:
		if d.N8N == nil {
			return nil, fmt.Errorf("the n8n MCP server needs an n8n: set N8N_URL and N8N_API_KEY")
		}
		return NewN8N(e, d.N8N), nil
	case Pulser:
		if d.Pulser == nil {
			return nil, fmt.Errorf("the pulser MCP server needs the hub's store: run it with --db or --config")
		}
		return NewPulser(e, d.Pulser), nil
	case Speckit:
		repo := d.SpecRepo
		if repo == "" {
			repo = "."
		}
		return NewSpeckit(e, repo), nil
	}
	return nil, fmt.Errorf("unknown MCP server %q; choose one of: %s", name, strings.Join(Names, ", "))
}

// ClientsFromEnv builds the clients configured by environment variables
// (standalone use): ODOO_URL, ODOO_DB, ODOO_USERNAME, ODOO_API_KEY (or
// ODOO_PASSWORD); SUPERSET_URL, SUPERSET_USERNAME, SUPERSET_PASSWORD;
// N8N_URL, N8N_API_KEY (N8N_WEBHOOK_URL); DIGITALOCEAN_TOKEN
// (DIGITALOCEAN_API_URL for tests). The Odoo version is read once so that
// Odoo 19+ uses JSON-2. Every client goes through d.Guard, its own URLs
// (set by whoever set the environment) being its allowance.
func ClientsFromEnv(ctx context.Context, d *Deps) error {
	client := func(urls ...string) *http.Client {
		return outbound.ClientFor(d.Guard, outbound.Options{Timeout: 60 * time.Second}, urls...)
	}
	if u := os.Getenv("ODOO_URL"); u != "" {
		key := os.Getenv("ODOO_API_KEY")
		if key == "" {
			key = os.Getenv("ODOO_PASSWORD")
		}
		user := os.Getenv("ODOO_USERNAME")
		if user == "" {
			user = "admin"
		}
		if key == "" || os.Getenv("ODOO_DB") == "" {
			return fmt.Errorf("ODOO_URL is set but ODOO_DB or ODOO_API_KEY is not: set both (the API key comes from Odoo: Preferences → Account Security → New API Key)")
		}
		c := odoo.New(u, os.Getenv("ODOO_DB"), user, key, client(u))
		vctx, cancel := context.WithTimeout(ctx, 15*time.Second)
		_, err := c.Version(vctx)
		cancel()
		if err != nil {
			return fmt.Errorf("odoo at %s: %w (check ODOO_URL)", u, err)
		}
		d.Odoo = c
	}
	if u := os.Getenv("SUPERSET_URL"); u != "" {
		d.Superset = superset.New(u, os.Getenv("SUPERSET_USERNAME"), os.Getenv("SUPERSET_PASSWORD"), client(u))
	}
	if u := os.Getenv("N8N_URL"); u != "" {
		d.N8N = n8n.New(u, os.Getenv("N8N_API_KEY"), client(u, os.Getenv("N8N_WEBHOOK_URL")))
		if w := os.Getenv("N8N_WEBHOOK_URL"); w != "" {
			d.N8N.SetWebhookBase(w)
		}
	}
	if tok := os.Getenv("DIGITALOCEAN_TOKEN"); tok != "" {
		opts := []godo.ClientOpt{godo.SetUserAgent("ipai")}
		u := os.Getenv("DIGITALOCEAN_API_URL")
		if u != "" {
			opts = append(opts, godo.SetBaseURL(strings.TrimRight(u, "/")+"/"))
		}
		// godo.NewFromToken would use http.DefaultTransport: the token
		// transport goes on top of a guarded client's instead.
		base := context.WithValue(context.Background(), oauth2.HTTPClient, client(u))
		c, err := godo.New(oauth2.NewClient(base, oauth2.StaticTokenSource(&oauth2.Token{AccessToken: tok})), opts...)
		if err != nil {
			return fmt.Errorf("digitalocean client: %w", err)
		}
		d.DO = c
	}
	return nil
}

package action

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"

	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/connector/focalboard"
	"github.com/insightpulseai/ipai/internal/connector/mattermost"
	"github.com/insightpulseai/ipai/internal/connector/n8n"
	"github.com/insightpulseai/ipai/internal/connector/odoo"
	"github.com/insightpulseai/ipai/internal/connector/supabase"
	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/store"
)

// ConfigSource gives a connector's opened configuration by code and the
// connector's own (outbound-guarded) HTTP client to call it with;
// integration.Service is one.
type ConfigSource interface {
	Config(ctx context.Context, code string) (connector.Config, error)
	HTTPClient(cfg connector.Config) *http.Client
}

// FromConfigs returns Clients that build typed clients from src's configs,
// reusing a client while its connector's configuration is unchanged (so an
// Odoo client keeps its login).
func FromConfigs(src ConfigSource) Clients { return &configClients{src: src} }

type configClients struct {
	src   ConfigSource
	cache sync.Map // code -> cached
}

type cached struct {
	sum    [32]byte
	client connector.Connector
	cfg    connector.Config
}

// stateSource is a ConfigSource that knows the connectors' states
// (integration.Service): its connectors are used only while active.
type stateSource interface {
	Get(ctx context.Context, code string) (store.Connector, error)
}

// ErrInactive is wrapped by Clients when the connector is not active
// (draft, testing or error): rules, approvals, notifications and chat
// replies use only active connectors. It is not permanent: deliveries are
// retried, so they go through once the connector is activated again.
var ErrInactive = errors.New("connector not active")

func (c *configClients) client(ctx context.Context, code, typ string) (connector.Connector, connector.Config, error) {
	if ss, ok := c.src.(stateSource); ok {
		if sc, err := ss.Get(ctx, code); err == nil && sc.State != connector.StateActive {
			why := "it has not passed Test Connection since it was created or changed; test it, then activate it"
			switch sc.State {
			case connector.StateTesting:
				why = "its test passed but it was not activated; activate it"
			case connector.StateError:
				why = "its last Test Connection failed (" + sc.LastError + "); fix it, test it, then activate it"
			}
			return nil, connector.Config{Code: code, Type: sc.Type}, fmt.Errorf("%w: connector %q is %s, not active: %s (deliveries are retried)",
				ErrInactive, code, sc.State, why)
		}
	}
	cfg, err := c.src.Config(ctx, code)
	if err != nil {
		if p, ok := problem.As(err); (ok && p.Status == http.StatusNotFound) || errors.Is(err, store.ErrNotFound) {
			return nil, cfg, fmt.Errorf("%w: %q (add it, then replay)", ErrNoConnector, code)
		}
		return nil, cfg, err
	}
	if cfg.Type != typ {
		return nil, cfg, fmt.Errorf("%w: connector %q is a %s connector, not %s", ErrNoConnector, code, cfg.Type, typ)
	}
	b, _ := json.Marshal(cfg)
	sum := sha256.Sum256(b)
	if v, ok := c.cache.Load(code); ok && v.(*cached).sum == sum {
		return v.(*cached).client, cfg, nil
	}
	base := c.src.HTTPClient(cfg)
	hc := *base
	hc.Transport = Transport(base.Transport)
	conn, err := connector.New(cfg, &hc)
	if err != nil {
		return nil, cfg, fmt.Errorf("%w: connector %q: %v", errPermanent, code, err)
	}
	c.cache.Store(code, &cached{sum: sum, client: conn, cfg: cfg})
	return conn, cfg, nil
}

func typed[T any](conn connector.Connector, cfg connector.Config, err error) (T, connector.Config, error) {
	var zero T
	if err != nil {
		return zero, cfg, err
	}
	t, ok := conn.(T)
	if !ok {
		return zero, cfg, fmt.Errorf("%w: connector %q has an unexpected client type %T", errPermanent, cfg.Code, conn)
	}
	return t, cfg, nil
}

func (c *configClients) Mattermost(ctx context.Context, code string) (*mattermost.Client, connector.Config, error) {
	return typed[*mattermost.Client](c.client(ctx, code, "mattermost"))
}

func (c *configClients) N8N(ctx context.Context, code string) (*n8n.Client, error) {
	cl, _, err := typed[*n8n.Client](c.client(ctx, code, "n8n"))
	return cl, err
}

func (c *configClients) Odoo(ctx context.Context, code string) (*odoo.Client, error) {
	cl, _, err := typed[*odoo.Client](c.client(ctx, code, "odoo"))
	return cl, err
}

func (c *configClients) Supabase(ctx context.Context, code string) (*supabase.Client, error) {
	cl, _, err := typed[*supabase.Client](c.client(ctx, code, "supabase"))
	return cl, err
}

func (c *configClients) Focalboard(ctx context.Context, code string) (*focalboard.Client, connector.Config, error) {
	return typed[*focalboard.Client](c.client(ctx, code, "focalboard"))
}

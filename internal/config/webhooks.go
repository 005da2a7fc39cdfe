package config

import (
	"fmt"
	"slices"

	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/event"
	"github.com/insightpulseai/ipai/internal/problem"
)

// WebhookSpec declares an incoming hook or an outgoing endpoint in ipai.yaml.
// It is applied at start by name and shown as managed. The secret is given
// here (usually as ${ENV}) so senders and receivers can be set up from the
// same place; for incoming hooks it is what senders sign with, for outgoing
// endpoints what receivers verify.
type WebhookSpec struct {
	Name      string `yaml:"name"`
	Direction string `yaml:"direction"` // incoming | outgoing
	Connector string `yaml:"connector"` // incoming: also reachable at /integrations/{connector}/webhook/{id}
	Secret    string `yaml:"secret"`

	event.HookSpec        `yaml:",inline"`
	delivery.EndpointSpec `yaml:",inline"`
}

// validateWebhooks checks each declared webhook and fills in the defaults of
// its spec (the durations parsed once, here).
func (c *Config) validateWebhooks(bad func(key, format string, args ...any)) {
	seen := map[string]int{}
	c.Webhooks = slices.Clone(c.Webhooks)
	for i := range c.Webhooks {
		w := &c.Webhooks[i]
		key := fmt.Sprintf("webhooks[%d]", i)
		if w.Name == "" {
			bad(key+".name", "give the webhook a name (it identifies the declaration across restarts)")
		} else if j, dup := seen[w.Direction+"/"+w.Name]; dup {
			bad(key+".name", "%q is also the name of webhooks[%d]", w.Name, j)
		} else {
			seen[w.Direction+"/"+w.Name] = i
		}
		if len(w.Secret) < 16 {
			bad(key+".secret", "set the secret (at least 16 characters, e.g. ${SHOP_WEBHOOK_SECRET}) so the other side can be configured with it")
		}
		var err error
		switch w.Direction {
		case "incoming":
			err = w.HookSpec.Validate()
		case "outgoing":
			err = w.EndpointSpec.Validate()
		default:
			bad(key+".direction", "%q: expected incoming or outgoing", w.Direction)
			continue
		}
		if p, ok := problem.As(err); ok {
			bad(key+"."+p.Field, "%s", p.Message)
		} else if err != nil {
			bad(key, "%v", err)
		}
	}
}

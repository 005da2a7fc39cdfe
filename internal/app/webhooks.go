package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/inbound"
	"github.com/insightpulseai/ipai/internal/outbound"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/secret"
	"github.com/insightpulseai/ipai/internal/store"
)

// newEndpoints builds the outgoing endpoints (routing into router),
// seals what stored endpoints still hold in clear and loads them.
func newEndpoints(ctx context.Context, db *store.DB, box *secret.Box, guard *outbound.Guard, router *rule.Router,
	log *slog.Logger) (*delivery.Endpoints, error) {
	eps := delivery.NewEndpoints(db, box, guard, router)
	eps.UserAgent, eps.Log = "ipai/"+Version, log
	if n, err := eps.SealStored(ctx); err != nil {
		return nil, fmt.Errorf("seal the headers of stored endpoints: %w", err)
	} else if n > 0 {
		log.Info("sealed the header values (and moved URL credentials into a sealed Authorization header) of stored endpoints", "endpoints", n)
	}
	if err := eps.Reload(ctx); err != nil {
		return nil, err
	}
	return eps, nil
}

// newDispatcher builds the delivery dispatcher (its metrics in reg).
func newDispatcher(cfg config.Delivery, db *store.DB, eps *delivery.Endpoints, al *audit.Log, log *slog.Logger,
	reg prometheus.Registerer) (*delivery.Dispatcher, error) {
	d := delivery.NewDispatcher(db, eps, al, log, delivery.Options{
		Workers: cfg.Workers, Poll: cfg.Poll, Lease: cfg.Lease, Heartbeat: cfg.Heartbeat})
	for _, c := range d.Collectors() {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// reloadEndpoints picks up endpoints changed by other hub processes sharing
// the database (Run calls it every ReloadEvery), so that routing on every
// replica agrees within ReloadEvery.
func (a *App) reloadEndpoints(ctx context.Context) {
	if err := a.Endpoints.Reload(ctx); err != nil && ctx.Err() == nil {
		a.Log.Warn("reload endpoints", "err", err)
	}
}

// ReloadEvery is how often a hub re-reads routing configuration.
const ReloadEvery = 2 * time.Second

// applyWebhooks makes the stored webhooks match the ones declared in
// ipai.yaml: each is found by direction and name among the managed ones,
// created or updated (spec and secret), and managed webhooks no longer
// declared become ordinary ones (kept, editable through the API).
func applyWebhooks(ctx context.Context, declared []config.WebhookSpec, db *store.DB, box *secret.Box, hooks *inbound.Hooks,
	eps *delivery.Endpoints, now time.Time) error {
	existing, err := db.ListWebhooks(ctx, "")
	if err != nil {
		return err
	}
	managed := map[string]store.Webhook{}
	for _, w := range existing {
		if w.Managed {
			managed[w.Direction+"/"+w.Name] = w
		}
	}
	now = now.UTC()
	for i, d := range declared {
		key := d.Direction + "/" + d.Name
		w, ok := managed[key]
		delete(managed, key)
		// Stored specs carry their defaults; fill them in to compare.
		var spec any
		if d.Direction == store.Incoming {
			h := d.HookSpec
			_ = h.Validate() // validated with the config already
			spec = h
		} else {
			e := d.EndpointSpec
			_ = e.Validate()
			spec = e
		}
		if !ok {
			if d.Direction == store.Incoming {
				_, err = hooks.Create(ctx, d.Name, d.Connector, d.HookSpec, d.Secret, true)
			} else {
				_, _, err = eps.CreateWithSecret(ctx, d.Name, d.EndpointSpec, d.Secret, true)
			}
			if err != nil {
				return fmt.Errorf("webhooks[%d] (%s): %w", i, d.Name, err)
			}
			continue
		}
		b, _ := json.Marshal(spec)
		same := w.Spec == string(b)
		if d.Direction == store.Outgoing { // header values are sealed: compare them opened
			same = eps.SameSpec(w, d.EndpointSpec)
			s, err := eps.StoredSpec(w.ID, d.EndpointSpec)
			if err != nil {
				return fmt.Errorf("webhooks[%d] (%s): %w", i, d.Name, err)
			}
			b = []byte(s)
		}
		// A secret that does not open (another master key) differs from the
		// declared one, so the declared one is sealed again below.
		old, _ := box.Open(w.SecretSealed, "webhook:"+w.ID)
		if same && w.Connector == d.Connector && old == d.Secret {
			continue
		}
		w.Spec, w.Connector, w.UpdatedAt = string(b), d.Connector, now
		if old != d.Secret {
			w.SecretSealed, w.OldSecretSealed, w.OldSecretUntil = box.Seal(d.Secret, "webhook:"+w.ID), "", time.Time{}
		}
		if err := db.UpdateWebhook(ctx, w); err != nil {
			return fmt.Errorf("webhooks[%d] (%s): %w", i, d.Name, err)
		}
		hooks.Forget(w.ID)
	}
	for _, w := range managed {
		w.Managed, w.UpdatedAt = false, now
		if err := db.UpdateWebhook(ctx, w); err != nil {
			return err
		}
	}
	return eps.Reload(ctx)
}

package rule

import (
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/store"
)

type planFunc func(ev *store.Event, now time.Time) []store.Delivery

func (f planFunc) Plan(ev *store.Event, now time.Time) []store.Delivery { return f(ev, now) }

func TestRouteMatchesEndpointsAndOrdersRuleDeliveries(t *testing.T) {
	r := NewRouter()
	r.SetEndpoints([]Endpoint{
		{ID: "all", EventTypes: []string{"*"}},
		{ID: "moves", EventTypes: []string{"odoo.account.move.*"}, Source: "erp", Ordered: true},
		{ID: "rules-only", Ordered: true},
	})
	r.SetRules(planFunc(func(ev *store.Event, now time.Time) []store.Delivery {
		d := NewDelivery(ev, "webhook", now)
		d.EndpointID = "rules-only"
		return []store.Delivery{d}
	}))
	ds := r.Route(&store.Event{ID: "e1", Source: "erp", Type: "odoo.account.move.posted"}, time.Now())
	got := map[string]string{}
	for _, d := range ds {
		got[d.EndpointID] = d.OrderedKey
	}
	if len(ds) != 3 || got["all"] != "" || got["moves"] != "moves" || got["rules-only"] != "rules-only" {
		t.Fatalf("deliveries %+v", got)
	}
	ds = r.Route(&store.Event{ID: "e2", Source: "shop", Type: "odoo.account.move.posted"}, time.Now())
	if len(ds) != 2 {
		t.Fatalf("source filter ignored: %d deliveries", len(ds))
	}
	if !MatchType("odoo.*", "odoo.account.move") || MatchType("odoo.*.x", "crm.a.x") || MatchType("a", "b") {
		t.Fatal("MatchType wrong")
	}
}

package odoo_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"testing"

	"github.com/insightpulseai/ipai/internal/connector/odoo"
	fake "github.com/insightpulseai/ipai/internal/fake/odoo"
)

// Issue 19 item 5: bare many2one ids of a webhook payload get their display
// names, one read per related model, cached for the next payload.
func TestNamerGivesMany2oneNames(t *testing.T) {
	s := fake.New()
	defer s.Close()
	s.EnableAutomation(map[string][]string{"purchase.order": {"name", "partner_id", "user_id"}})
	s.SetRelation("purchase.order", "partner_id", "res.partner")
	s.SetRelation("purchase.order", "user_id", "res.users")
	var calls []string
	hc := &http.Client{Transport: roundTrip(func(r *http.Request) (*http.Response, error) {
		var b []byte
		if r.Body != nil {
			b, _ = io.ReadAll(r.Body)
			r.Body = io.NopCloser(bytes.NewReader(b))
		}
		var env struct {
			Params struct {
				Method string `json:"method"`
				Args   []any  `json:"args"`
			} `json:"params"`
		}
		_ = json.Unmarshal(b, &env)
		if env.Params.Method == "execute_kw" && len(env.Params.Args) > 4 {
			calls = append(calls, fmt.Sprint(env.Params.Args[3], ".", env.Params.Args[4]))
		}
		return http.DefaultTransport.RoundTrip(r)
	})}
	c := odoo.New(s.URL, fake.DB, fake.Login, fake.APIKey, hc)
	var n odoo.Namer
	body := []byte(`{"_action": "Send Webhook Notification(#5)", "_id": 7, "_model": "purchase.order", "amount_total": 1150.0, "name": "P00007", "partner_id": 2, "user_id": false}`)
	out, err := n.Enrich(context.Background(), c, "odoo", "purchase.order", body)
	if err != nil {
		t.Fatal(err)
	}
	var doc map[string]any
	_ = json.Unmarshal(out, &doc)
	if p, _ := doc["partner_id"].([]any); len(p) != 2 || p[1] != "Azure Interior" || doc["user_id"] != false || doc["amount_total"] != 1150.0 {
		t.Fatalf("enriched: %s", out)
	}
	reads := 0
	for _, c := range calls {
		if c == "res.partner.read" {
			reads++
		}
	}
	if reads != 1 {
		t.Fatalf("calls %v; want one res.partner read", calls)
	}
	calls = nil
	if _, err := n.Enrich(context.Background(), c, "odoo", "purchase.order", body); err != nil || len(calls) != 0 {
		t.Fatalf("second payload: calls %v, %v; want the cache", calls, err)
	}
}

type roundTrip func(*http.Request) (*http.Response, error)

func (f roundTrip) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

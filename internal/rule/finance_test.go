package rule_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/store"
)

// TestFinanceExample loads examples/finance.yaml, compiles every rule and
// routes a sample event of each original flow to the expected actions.
func TestFinanceExample(t *testing.T) {
	for _, k := range []string{"ODOO_API_KEY", "MATTERMOST_TOKEN", "N8N_API_KEY"} {
		t.Setenv(k, "x")
	}
	t.Setenv("IPAI_WORKITEM_ENDPOINT", "ep_wi")
	t.Setenv("IPAI_CONFIG", "")
	cfg, err := config.Load("../../examples/finance.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var compiled []*rule.Compiled
	for i, sp := range cfg.Rules {
		c, err := rule.Compile("r"+string(rune('0'+i)), sp)
		if err != nil {
			t.Fatalf("rule %q: %v", sp.Name, err)
		}
		compiled = append(compiled, c)
	}
	if len(compiled) != 8 {
		t.Fatalf("%d rules; want 8", len(compiled))
	}
	e := rule.NewEngine(compiled, nil)
	ev := func(source, typ string, data map[string]any) *store.Event {
		b, _ := json.Marshal(data)
		return &store.Event{ID: "evt", Source: source, Type: typ, Payload: string(b), ReceivedAt: time.Now()}
	}
	po := func(amount float64) map[string]any {
		return map[string]any{"_model": "purchase.order", "_id": 42, "name": "P00042", "state": "to approve",
			"amount_total": amount, "partner_id": 7, "user_id": 2}
	}
	cases := []struct {
		name    string
		ev      *store.Event
		channel string
		want    []string
	}{
		{"big purchase order", ev("odoo", "odoo.purchase.order.write", po(75000)), "finance-general",
			[]string{"@senior-approver", "P00042", "PHP 75,000.00", "web#id=42&model=purchase.order"}},
		{"mid purchase order", ev("odoo", "odoo.purchase.order.create", po(20000)), "finance-general", []string{"@approver please"}},
		{"small purchase order", ev("odoo", "odoo.purchase.order.write", po(500)), "finance-general", []string{"@finance-team please"}},
		{"expense", ev("odoo", "odoo.hr.expense.create", map[string]any{"_model": "hr.expense", "_id": 5, "name": "Taxi",
			"employee_id": []any{3, "Juan Dela Cruz"}, "total_amount": 350.5, "product_id": false, "description": false}),
			"finance-general", []string{"Expense Approval Needed: Taxi", "Juan Dela Cruz", "PHP 350.50", "@finance-team"}},
		{"invoice posted", ev("odoo", "odoo.account.move.write", map[string]any{"_model": "account.move", "_id": 9, "name": "INV/2026/00009",
			"state": "posted", "move_type": "out_invoice", "amount_total": 1150, "partner_id": 1}),
			"journal-entries", []string{"INV/2026/00009", "PHP 1,150.00"}},
		{"n8n failure", ev("hook_n8n", "n8n.execution.failed", map[string]any{"workflow": "BIR reminders", "execution_id": "231",
			"error": "ECONNREFUSED"}), "n8n-notifications", []string{"BIR reminders", "231", "ECONNREFUSED"}},
	}
	for _, tc := range cases {
		ds := ofKind(e.Plan(tc.ev, time.Now()), rule.KindMattermost)
		if len(ds) != 1 || ds[0].Kind != rule.KindMattermost {
			t.Errorf("%s: %d deliveries %+v; want one mattermost.post", tc.name, len(ds), ds)
			continue
		}
		var a rule.Action
		if err := json.Unmarshal([]byte(ds[0].Action), &a); err != nil {
			t.Fatal(err)
		}
		r, err := rule.Render(a, tc.ev)
		if err != nil {
			t.Errorf("%s: render: %v", tc.name, err)
			continue
		}
		if r.Channel != tc.channel || r.Connector != "mattermost" {
			t.Errorf("%s: posted to %s/%s; want %s", tc.name, r.Connector, r.Channel, tc.channel)
		}
		for _, w := range tc.want {
			if !strings.Contains(r.Text, w) {
				t.Errorf("%s: text lacks %q:\n%s", tc.name, w, r.Text)
			}
		}
	}
	workItems := []struct {
		name           string
		ev             *store.Event
		lane, ref      string
		priority       any
		title          string
		moreDeliveries int // besides the work item
	}{
		{"big expense", ev("odoo", "odoo.hr.expense.create", map[string]any{"_model": "hr.expense", "_id": 5, "name": "Laptop",
			"employee_id": []any{3, "Juan Dela Cruz"}, "total_amount": 1000}), "FIN", "hr.expense:5:submit", 2,
			"Expense Laptop: PHP 1,000.00 (Juan Dela Cruz)", 1},
		{"small expense", ev("odoo", "odoo.hr.expense.create", map[string]any{"_model": "hr.expense", "_id": 6, "name": "Taxi",
			"employee_id": 3, "total_amount": 350.5}), "FIN", "hr.expense:6:submit", 3, "Expense Taxi: PHP 350.50 (3)", 1},
		{"large purchase order confirmed", ev("odoo", "odoo.purchase.order.write", map[string]any{"_id": 42, "name": "P00042",
			"state": "purchase", "amount_total": 5000}), "FIN", "purchase.order:42:confirm", 2,
			"Purchase order P00042 confirmed: PHP 5,000.00", 0},
		{"employee hired", ev("odoo", "odoo.hr.employee.create", map[string]any{"_id": 8, "name": "Ana Cruz", "active": true}),
			"HR", "hr.employee:8:hire", "normal", "Onboard Ana Cruz", 0},
		{"employee archived", ev("odoo", "odoo.hr.employee.archive", map[string]any{"_id": 8, "name": "Ana Cruz", "active": false}),
			"HR", "hr.employee:8:departure", "normal", "Offboard Ana Cruz", 0},
	}
	for _, tc := range workItems {
		all := e.Plan(tc.ev, time.Now())
		ds := ofKind(all, rule.KindWorkItem)
		if len(ds) != 1 || len(all) != 1+tc.moreDeliveries || ds[0].EndpointID != "ep_wi" {
			t.Errorf("%s: deliveries %+v; want one work item to ep_wi and %d others", tc.name, all, tc.moreDeliveries)
			continue
		}
		var a rule.Action
		if err := json.Unmarshal([]byte(ds[0].Action), &a); err != nil {
			t.Fatal(err)
		}
		r, err := rule.Render(a, tc.ev)
		if err != nil {
			t.Errorf("%s: render: %v", tc.name, err)
			continue
		}
		w := r.WorkItem
		if w.Lane != tc.lane || w.SourceRef != tc.ref || w.Priority != tc.priority || w.Title != tc.title || w.TenantID != "tbwa" {
			t.Errorf("%s: work item %+v", tc.name, w)
		}
	}
	for name, x := range map[string]*store.Event{
		"small purchase order confirmed": ev("odoo", "odoo.purchase.order.write", map[string]any{"state": "purchase", "amount_total": 4999}),
		"employee edited":                ev("odoo", "odoo.hr.employee.write", map[string]any{"name": "x", "active": true}),
	} {
		if ds := e.Plan(x, time.Now()); len(ds) != 0 {
			t.Errorf("%s: planned %d deliveries; want none", name, len(ds))
		}
	}
	// Things that must not post.
	for name, x := range map[string]*store.Event{
		"draft purchase order": ev("odoo", "odoo.purchase.order.write", map[string]any{"state": "draft", "amount_total": 1}),
		"draft invoice":        ev("odoo", "odoo.account.move.write", map[string]any{"state": "draft", "move_type": "out_invoice"}),
		"journal entry":        ev("odoo", "odoo.account.move.write", map[string]any{"state": "posted", "move_type": "entry"}),
		"expense edited":       ev("odoo", "odoo.hr.expense.write", map[string]any{"name": "x"}),
		"other odoo database":  ev("odoo-test", "odoo.purchase.order.write", po(75000)),
	} {
		if ds := e.Plan(x, time.Now()); len(ds) != 0 {
			t.Errorf("%s: planned %d deliveries; want none", name, len(ds))
		}
	}
}

func ofKind(ds []store.Delivery, kind string) []store.Delivery {
	var out []store.Delivery
	for _, d := range ds {
		if d.Kind == kind {
			out = append(out, d)
		}
	}
	return out
}

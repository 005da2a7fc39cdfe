package rule

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/store"
)

func expenseEvent(amount float64) *store.Event {
	b, _ := json.Marshal(map[string]any{"_model": "hr.expense", "_id": 5, "name": "Laptop",
		"employee_id": []any{3, "Juan Dela Cruz"}, "total_amount": amount})
	return &store.Event{ID: "evt_9", Source: "odoo", Type: "odoo.hr.expense.create", Payload: string(b), ReceivedAt: time.Now()}
}

func workItemAction() Action {
	return Action{Kind: KindWorkItem, Endpoint: "ep_1", Title: "Expense {{.data.name}} by {{m2o .data.employee_id}}",
		WorkItemFields: WorkItemFields{TenantID: "tbwa", Lane: "FIN", Priority: "normal", Amount: "data.total_amount",
			PriorityThresholds: []PriorityThreshold{{Over: 1000, Priority: "medium"}, {Over: 50000, Priority: "high"}},
			Tags:               []string{"expense", "{{m2o .data.employee_id}}"}}}
}

func TestWorkItemValidateNamesTheField(t *testing.T) {
	cases := []struct {
		mod   func(*Action)
		field string
		msg   string
	}{
		{func(a *Action) { a.Endpoint = "" }, "actions[0].endpoint", "required for workitem"},
		{func(a *Action) { a.Lane = "" }, "actions[0].lane", "required for workitem"},
		{func(a *Action) { a.Lane = " " }, "actions[0].lane", "required"},
		{func(a *Action) { a.Title = "" }, "actions[0].title", "required for workitem"},
		{func(a *Action) { a.Channel = "x" }, "actions[0].channel", "does not apply"},
		{func(a *Action) { a.Amount = "" }, "actions[0].amount", "required with priority_thresholds"},
		{func(a *Action) { a.PriorityThresholds = nil }, "actions[0].priority_thresholds", "required with amount"},
		{func(a *Action) { a.Amount = "data.(" }, "actions[0].amount", "invalid expression"},
		{func(a *Action) { a.PriorityThresholds[1].Priority = "" }, "actions[0].priority_thresholds[1].priority", "required"},
		{func(a *Action) { a.SourceRef = "{{.data.x" }, "actions[0].source_ref", "template"},
		{func(a *Action) { a.Tags[1] = "{{ nope }}" }, "actions[0].tags[1]", "template"},
		{func(a *Action) { a.Title = "{{" }, "actions[0].title", "template"},
	}
	for _, tc := range cases {
		a := workItemAction()
		tc.mod(&a)
		fe := Spec{Name: "r", Actions: []Action{a}}.Validate()
		if fe == nil || fe.Field != tc.field || !strings.Contains(fe.Message, tc.msg) {
			t.Errorf("%s: got %v; want field %s with %q", tc.field, fe, tc.field, tc.msg)
		}
	}
	// Work item fields do not apply to other kinds.
	fe := Spec{Name: "r", Actions: []Action{{Kind: KindWebhook, Endpoint: "e", WorkItemFields: WorkItemFields{Lane: "HR"}}}}.Validate()
	if fe == nil || fe.Field != "actions[0].lane" || !strings.Contains(fe.Message, "does not apply") {
		t.Errorf("lane on a webhook action: %v", fe)
	}
	if fe := (Spec{Name: "r", Actions: []Action{workItemAction()}}).Validate(); fe != nil {
		t.Fatalf("valid rule refused: %v", fe)
	}
}

func TestWorkItemRenderPriorityByAmount(t *testing.T) {
	for _, tc := range []struct {
		amount float64
		want   string
	}{{60000, "high"}, {5000, "medium"}, {100, "normal"}, {1000, "normal"}} {
		r, err := Render(workItemAction(), expenseEvent(tc.amount))
		if err != nil {
			t.Fatal(err)
		}
		w := r.WorkItem
		if w == nil || w.Priority != tc.want {
			t.Errorf("amount %v: work item %+v; want priority %s", tc.amount, w, tc.want)
			continue
		}
		if w.TenantID != "tbwa" || w.Source != "odoo" || w.SourceRef != "hr.expense:5" || w.Lane != "FIN" ||
			w.Title != "Expense Laptop by Juan Dela Cruz" || strings.Join(w.Tags, ",") != "expense,Juan Dela Cruz" {
			t.Errorf("amount %v: work item %+v", tc.amount, w)
		}
		var p map[string]any
		if err := json.Unmarshal(w.Payload, &p); err != nil || p["total_amount"] != tc.amount {
			t.Errorf("payload %s: %v", w.Payload, err)
		}
	}
}

func TestWorkItemRenderDefaults(t *testing.T) {
	a := Action{Kind: KindWorkItem, Endpoint: "ep", Title: "Hired {{.data.name}}",
		WorkItemFields: WorkItemFields{Lane: "HR", Priority: "2", SourceRef: "hr.employee:{{.data._id}}:hire"}}
	ev := &store.Event{ID: "evt_x", Source: "odoo", Type: "odoo.hr.employee.create", Payload: `{"_model":"hr.employee","_id":42,"name":"Ana"}`}
	r, err := Render(a, ev)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(r.WorkItem)
	want := `{"tenant_id":"","source":"odoo","source_ref":"hr.employee:42:hire","title":"Hired Ana","lane":"HR","priority":2,` +
		`"payload":{"_model":"hr.employee","_id":42,"name":"Ana"},"tags":[]}`
	if string(b) != want {
		t.Errorf("work item\n got %s\nwant %s", b, want)
	}
	// No priority, no Odoo record: default priority and the event id.
	a.Priority, a.SourceRef = "", ""
	ev.Payload = `{"name":"Ana"}`
	if r, err = Render(a, ev); err != nil {
		t.Fatal(err)
	}
	if r.WorkItem.Priority != DefaultPriority || r.WorkItem.SourceRef != "evt_x" {
		t.Errorf("defaults: %+v", r.WorkItem)
	}
	// An amount that is not a number is a render error naming the field.
	a = workItemAction()
	ev.Payload = `{"name":"x","employee_id":1,"total_amount":"lots"}`
	if _, err := Render(a, ev); err == nil || !strings.HasPrefix(err.Error(), "amount:") {
		t.Errorf("non-numeric amount: %v", err)
	}
}

func TestWorkItemDeliveryCarriesEndpoint(t *testing.T) {
	c := mustCompile(t, Spec{Name: "wi", Match: Match{Type: "odoo.hr.expense.create"}, Actions: []Action{workItemAction()}})
	ds := NewEngine([]*Compiled{c}, nil).Plan(expenseEvent(10), time.Now())
	if len(ds) != 1 || ds[0].Kind != KindWorkItem || ds[0].EndpointID != "ep_1" {
		t.Fatalf("deliveries %+v", ds)
	}
	var a Action
	if err := json.Unmarshal([]byte(ds[0].Action), &a); err != nil || a.Lane != "FIN" || len(a.PriorityThresholds) != 2 {
		t.Fatalf("action round trip: %+v %v", a, err)
	}
}

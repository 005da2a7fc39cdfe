package rule

import (
	"bytes"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/store"
)

func poEvent(state string, amount float64) *store.Event {
	b, _ := json.Marshal(map[string]any{"_model": "purchase.order", "_id": 1234567, "name": "P00042", "state": state,
		"amount_total": amount, "partner_id": []any{7, "Acme Supplies"}})
	return &store.Event{ID: "evt_1", Source: "odoo", Type: "odoo.purchase.order.write", Payload: string(b),
		ReceivedAt: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
}

var approvalMention = &Mention{Amount: "data.amount_total", Default: "@finance-team",
	Thresholds: []Threshold{{Over: 10000, Mention: "@approver"}, {Over: 50000, Mention: "@senior-approver"}}}

func mustCompile(t *testing.T, s Spec) *Compiled {
	t.Helper()
	c, err := Compile("rul_1", s)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestPlanMatchesConditionAndEmitsOneDeliveryPerAction(t *testing.T) {
	c := mustCompile(t, Spec{Name: "po", Match: Match{Source: "odoo", Type: "odoo.purchase.order.*"},
		Condition: `data.state == "to approve" && data.amount_total > 0`,
		Actions: []Action{
			{Kind: KindMattermost, Connector: "mm", Channel: "finance", Text: "{{.mention}} {{.data.name}}", Mention: approvalMention},
			{Kind: KindWebhook, Endpoint: "ep_1"},
		}})
	e := NewEngine([]*Compiled{c}, nil)
	now := time.Now()
	ds := e.Plan(poEvent("to approve", 60000), now)
	if len(ds) != 2 {
		t.Fatalf("got %d deliveries; want 2", len(ds))
	}
	if ds[0].Kind != KindMattermost || ds[0].RuleID != "rul_1" || ds[0].EventID != "evt_1" || ds[0].State != store.DeliveryPending {
		t.Fatalf("first delivery: %+v", ds[0])
	}
	var a Action
	if err := json.Unmarshal([]byte(ds[0].Action), &a); err != nil || a.Channel != "finance" || a.Mention == nil {
		t.Fatalf("action spec not carried: %q %v", ds[0].Action, err)
	}
	if ds[1].Kind != KindWebhook || ds[1].EndpointID != "ep_1" {
		t.Fatalf("webhook action: %+v", ds[1])
	}
	if ds[0].ID == ds[1].ID {
		t.Fatal("deliveries share an id")
	}
	if got := e.Plan(poEvent("draft", 60000), now); len(got) != 0 {
		t.Fatalf("condition false still planned %d", len(got))
	}
	other := poEvent("to approve", 1)
	other.Source = "odoo-staging"
	if got := e.Plan(other, now); len(got) != 0 {
		t.Fatal("another source matched")
	}
	other = poEvent("to approve", 1)
	other.Type = "odoo.account.move.write"
	if got := e.Plan(other, now); len(got) != 0 {
		t.Fatal("another type matched")
	}
}

func TestPlanConditionRuntimeErrorIsNoMatchAndLogged(t *testing.T) {
	var logs bytes.Buffer
	c := mustCompile(t, Spec{Name: "bad at run time", Condition: `data.amount_total > 10`,
		Actions: []Action{{Kind: KindWebhook, Endpoint: "ep"}}})
	ok := mustCompile(t, Spec{Name: "always", Actions: []Action{{Kind: KindWebhook, Endpoint: "ep2"}}})
	e := NewEngine([]*Compiled{c, ok}, slog.New(slog.NewTextHandler(&logs, nil)))
	ev := &store.Event{ID: "e", Type: "t", Payload: `{"amount_total": "lots"}`}
	ds := e.Plan(ev, time.Now())
	if len(ds) != 1 || ds[0].EndpointID != "ep2" {
		t.Fatalf("deliveries = %+v; want only the other rule's", ds)
	}
	if !strings.Contains(logs.String(), "bad at run time") || !strings.Contains(logs.String(), "level=WARN") {
		t.Fatalf("no warning logged: %s", logs.String())
	}
}

func TestDisabledRulesDoNotPlan(t *testing.T) {
	off := false
	c := mustCompile(t, Spec{Name: "off", Enabled: &off, Actions: []Action{{Kind: KindWebhook, Endpoint: "ep"}}})
	if ds := NewEngine([]*Compiled{c}, nil).Plan(poEvent("x", 1), time.Now()); len(ds) != 0 {
		t.Fatal("disabled rule planned deliveries")
	}
}

func TestValidateNamesTheField(t *testing.T) {
	base := func() Spec {
		return Spec{Name: "r", Actions: []Action{{Kind: KindMattermost, Connector: "mm", Channel: "c", Text: "hi"}}}
	}
	cases := []struct {
		mod   func(*Spec)
		field string
		msg   string
	}{
		{func(s *Spec) { s.Name = " " }, "name", "required"},
		{func(s *Spec) { s.Condition = "data.x ==" }, "condition", "invalid expression"},
		{func(s *Spec) { s.Condition = `"not a bool"` }, "condition", "bool"},
		{func(s *Spec) { s.Match.Type = "a b" }, "match.type", "pattern"},
		{func(s *Spec) { s.Actions = nil }, "actions", "at least one"},
		{func(s *Spec) { s.Actions[0].Kind = "sms.send" }, "actions[0].kind", "unknown action kind"},
		{func(s *Spec) { s.Actions[0].Kind = "mattermost.approval" }, "actions[0].model", "required for mattermost.approval"},
		{func(s *Spec) { s.Actions[0].Channel = "" }, "actions[0].channel", "required"},
		{func(s *Spec) { s.Actions[0].Text = "{{.data.x" }, "actions[0].text", "template"},
		{func(s *Spec) { s.Actions[0].Table = "t" }, "actions[0].table", "does not apply"},
		{func(s *Spec) {
			s.Actions[0].Attachments = []any{map[string]any{"title": "{{ nope }}"}}
		}, "actions[0].attachments[0].title", "template"},
		{func(s *Spec) { s.Actions[0].Mention = &Mention{Amount: "data.("} }, "actions[0].mention.amount", "invalid expression"},
		{func(s *Spec) { s.Actions = append(s.Actions, Action{Kind: KindOdoo, Connector: "o", Model: "m"}) }, "actions[1].method", "required"},
		{func(s *Spec) {
			s.Actions = append(s.Actions, Action{Kind: KindOdoo, Connector: "o", Model: "m", Method: "x", Args: map[string]any{}})
		}, "actions[1].args", "list"},
	}
	for _, tc := range cases {
		s := base()
		tc.mod(&s)
		fe := s.Validate()
		if fe == nil || fe.Field != tc.field || !strings.Contains(fe.Message, tc.msg) {
			t.Errorf("%s: got %v; want field %s with %q", tc.field, fe, tc.field, tc.msg)
		}
	}
	if fe := base().Validate(); fe != nil {
		t.Fatalf("valid rule refused: %v", fe)
	}
}

func TestChooseMentionByAmountThresholds(t *testing.T) {
	for _, tc := range []struct {
		amount float64
		want   string
	}{{75000, "@senior-approver"}, {50000, "@approver"}, {10000.01, "@approver"}, {10000, "@finance-team"}, {5, "@finance-team"}} {
		got, err := ChooseMention(approvalMention, Env(poEvent("to approve", tc.amount)))
		if err != nil || got != tc.want {
			t.Errorf("amount %v: got %q, %v; want %q", tc.amount, got, err, tc.want)
		}
	}
	if _, err := ChooseMention(approvalMention, Env(&store.Event{Payload: `{"amount_total":"abc"}`})); err == nil {
		t.Error("a non-number amount did not fail")
	}
}

func TestRenderTemplatesAndFuncs(t *testing.T) {
	a := Action{Kind: KindMattermost, Connector: "mm", Channel: "{{lower \"Finance\"}}", Mention: approvalMention,
		Text:        `{{.mention}} PO {{.data.name}} for PHP {{money .data.amount_total}} from {{m2o .data.partner_id}} (id {{.data._id}}) {{default "n/a" (index .data "notes")}} {{json .data.state}}`,
		Attachments: []any{map[string]any{"color": "#f00", "short": true, "title": "{{upper .data.state}}"}}}
	r, err := Render(a, poEvent("to approve", 1234567.5))
	if err != nil {
		t.Fatal(err)
	}
	want := `@senior-approver PO P00042 for PHP 1,234,567.50 from Acme Supplies (id 1234567) n/a "to approve"`
	if r.Text != want || r.Channel != "finance" || r.Mention != "@senior-approver" {
		t.Fatalf("text = %q channel %q; want %q", r.Text, r.Channel, want)
	}
	att := r.Attachments.([]any)[0].(map[string]any)
	if att["title"] != "TO APPROVE" || att["short"] != true {
		t.Fatalf("attachments = %v", att)
	}
	// A missing field is an error naming the action field.
	_, err = Render(Action{Kind: KindMattermost, Text: "{{.data.nope}}"}, poEvent("x", 1))
	var fe *FieldError
	if !errors.As(err, &fe) || fe.Field != "text" || !strings.Contains(fe.Message, "nope") {
		t.Fatalf("missing key: %v", err)
	}
	// A string body must render JSON.
	r, err = Render(Action{Kind: KindN8N, Body: `{"id": {{.data._id}}, "name": {{json .data.name}}}`}, poEvent("x", 1))
	if err != nil || r.Body.(map[string]any)["name"] != "P00042" {
		t.Fatalf("json body: %v %v", r.Body, err)
	}
	_, err = Render(Action{Kind: KindN8N, Body: `{"id": {{.data.name}}}`}, poEvent("x", 1))
	if !errors.As(err, &fe) || fe.Field != "body" || !strings.Contains(fe.Message, "not JSON") {
		t.Fatalf("bad json body: %v", err)
	}
	r, err = Render(Action{Kind: KindOdoo, Args: `[[{{.data._id}}], {"x_notified": true}]`}, poEvent("x", 1))
	if err != nil || len(r.Args) != 2 {
		t.Fatalf("args: %v %v", r.Args, err)
	}
}

func TestMoney(t *testing.T) {
	for in, want := range map[any]string{0.0: "0.00", 999: "999.00", 1000: "1,000.00", -1234567.891: "-1,234,567.89", "x": "x"} {
		if got := money(in); got != want {
			t.Errorf("money(%v) = %q; want %q", in, got, want)
		}
	}
}

func TestTestDryRun(t *testing.T) {
	c := mustCompile(t, Spec{Name: "po", Match: Match{Type: "odoo.purchase.order.*"}, Condition: `data.state == "to approve"`,
		Actions: []Action{{Kind: KindMattermost, Connector: "mm", Channel: "finance", Text: "{{.mention}}", Mention: approvalMention},
			{Kind: KindMattermost, Connector: "mm", Channel: "finance", Text: "{{.data.missing}}"}}})
	res := c.Test(poEvent("to approve", 20000))
	if !res.Matched || res.Condition == nil || !*res.Condition || len(res.Actions) != 2 {
		t.Fatalf("dry run: %+v", res)
	}
	if res.Actions[0].Rendered == nil || res.Actions[0].Rendered.Text != "@approver" {
		t.Fatalf("first action: %+v", res.Actions[0])
	}
	if res.Actions[1].Error == "" || res.Actions[1].Rendered != nil {
		t.Fatalf("second action should show its template error: %+v", res.Actions[1])
	}
	if res := c.Test(poEvent("draft", 1)); res.Matched || *res.Condition {
		t.Fatalf("draft matched: %+v", res)
	}
}

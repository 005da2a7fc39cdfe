package mcpserver

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/connector/odoo"
	fakeodoo "github.com/insightpulseai/ipai/internal/fake/odoo"
)

type odooFixture struct {
	fake *fakeodoo.Server
	rec  *recorder
	url  string
}

func newOdooFixture(t *testing.T) *odooFixture {
	t.Helper()
	f := fakeodoo.New()
	t.Cleanup(f.Close)
	for _, m := range [][2]string{{"res.partner", "Contact"}, {"account.move", "Journal Entry"}, {"res.users.apikeys", "API Keys"}, {"crm.lead", "Lead"}} {
		f.Add("ir.model", fakeodoo.Record{"model": m[0], "name": m[1]})
	}
	f.Add("account.journal", fakeodoo.Record{"name": "Miscellaneous", "code": "MISC", "type": "general"})
	f.Add("account.journal", fakeodoo.Record{"name": "Vendor Bills", "code": "BILL", "type": "purchase"})
	bill := func(name string, due string, amt float64, state string) {
		f.Add("account.move", fakeodoo.Record{"name": name, "move_type": "in_invoice", "state": state, "payment_state": "not_paid",
			"invoice_date_due": due, "amount_residual": amt, "partner_id": []any{2, "Azure Interior"}})
	}
	bill("BILL/1", "2026-03-10", 100, "posted") // not yet due on 2026-03-01
	bill("BILL/2", "2026-02-15", 200, "posted") // 14 days
	bill("BILL/3", "2026-01-10", 300, "posted") // 50 days
	bill("BILL/4", "2025-10-01", 400, "posted") // 151 days
	bill("BILL/5", "2025-10-01", 999, "draft")  // not posted: ignored
	f.Add("bir.filing_deadline", fakeodoo.Record{"name": "1601-C Feb", "form_type": "1601-C", "period": "2026-02", "deadline_date": "2026-03-10", "status": "pending"})
	f.Add("bir.filing_deadline", fakeodoo.Record{"name": "2550M Feb", "form_type": "2550M", "period": "2026-02", "deadline_date": "2026-03-20", "status": "pending"})
	f.Add("bir.filing_deadline", fakeodoo.Record{"name": "1601-C Jan", "form_type": "1601-C", "period": "2026-01", "deadline_date": "2026-02-10", "status": "filed"})
	return &odooFixture{fake: f, rec: &recorder{}, url: f.URL}
}

var testPolicy = OdooPolicy{WriteModels: []string{"res.partner", "account.move"}, CallMethods: []string{"res.partner.name_search"}}

// session connects a caller with scopes to the odoo server.
func (fx *odooFixture) session(t *testing.T, p OdooPolicy, scopes ...string) (*Env, *odoo.Client, func(name string, args map[string]any, out any) string) {
	t.Helper()
	env := &Env{Audit: fx.rec, Local: principal("tok-1", scopes...)}
	c := odoo.New(fx.url, fakeodoo.DB, fakeodoo.Login, fakeodoo.APIKey, nil)
	cs := connect(t, NewOdoo(env, c, p))
	return env, c, func(name string, args map[string]any, out any) string { return call(t, cs, name, args, out) }
}

func TestOdooToolsListed(t *testing.T) {
	fx := newOdooFixture(t)
	env := &Env{Audit: fx.rec, Local: principal("tok-1", "mcp:odoo:read")}
	cs := connect(t, NewOdoo(env, odoo.New(fx.url, fakeodoo.DB, fakeodoo.Login, fakeodoo.APIKey, nil), testPolicy))
	res, err := cs.ListTools(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, tl := range res.Tools {
		got[tl.Name] = true
		if tl.Annotations == nil {
			t.Errorf("%s has no annotations", tl.Name)
		}
	}
	for _, want := range []string{"odoo_search_read", "odoo_read", "odoo_count", "odoo_fields_get", "odoo_list_models", "odoo_create",
		"odoo_write", "odoo_call", "odoo_post_message", "odoo_account_list_journals", "odoo_account_create_journal_entry",
		"odoo_account_ap_aging", "odoo_bir_deadlines"} {
		if !got[want] {
			t.Errorf("tool %s missing from tools/list", want)
		}
	}
}

func TestOdooReadsAndAudit(t *testing.T) {
	fx := newOdooFixture(t)
	env, _, do := fx.session(t, testPolicy, "mcp:odoo:read")
	var out recordsOut
	if msg := do("odoo_search_read", map[string]any{"model": "res.partner", "domain": []any{[]any{"name", "ilike", "deco"}},
		"fields": []any{"name", "email"}}, &out); msg != "" {
		t.Fatal(msg)
	}
	if out.Count != 1 || out.Records[0]["name"] != "Deco Addict" || out.Records[0]["email"] != "deco@example.com" {
		t.Fatalf("search_read = %+v", out)
	}
	e := fx.rec.last(t, env)
	if e.Actor != "tok-1" || e.Action != "mcp.tool_call" || e.Fields["tool"] != "odoo_search_read" || e.Fields["server"] != "odoo" ||
		e.Fields["outcome"] != "ok" || e.Fields["arguments"].(map[string]any)["model"] != "res.partner" {
		t.Fatalf("audit entry = %+v", e)
	}

	if msg := do("odoo_read", map[string]any{"model": "res.partner", "ids": []any{2}, "fields": []any{"name"}}, &out); msg != "" || out.Records[0]["name"] != "Azure Interior" {
		t.Fatalf("read = %+v %s", out, msg)
	}
	var n countOut
	if msg := do("odoo_count", map[string]any{"model": "res.partner", "domain": []any{[]any{"is_company", "=", true}}}, &n); msg != "" || n.Count != 2 {
		t.Fatalf("count = %+v %s", n, msg)
	}
	var f fieldsOut
	if msg := do("odoo_fields_get", map[string]any{"model": "res.partner"}, &f); msg != "" || f.Fields["email"].Type != "char" {
		t.Fatalf("fields_get = %+v %s", f, msg)
	}
	var models listModelsOut
	if msg := do("odoo_list_models", nil, &models); msg != "" {
		t.Fatal(msg)
	}
	names := fmt.Sprint(models.Models)
	if !strings.Contains(names, "res.partner") || strings.Contains(names, "res.users.apikeys") {
		t.Fatalf("list_models = %s; want res.partner and never res.users.apikeys", names)
	}

	if msg := do("odoo_search_read", map[string]any{"model": "res.partner", "domain": []any{"name", "=", "x"}}, nil); !strings.Contains(msg, "[field, operator, value]") {
		t.Fatalf("flat domain: %q", msg)
	}
	if msg := do("odoo_search_read", map[string]any{"model": "no.such.model"}, nil); !strings.Contains(msg, "odoo_list_models") {
		t.Fatalf("unknown model: %q", msg)
	}
}

func TestOdooRefusesWithoutScopeAndDeniedModels(t *testing.T) {
	fx := newOdooFixture(t)
	env, _, do := fx.session(t, testPolicy, "mcp:superset:read")
	if msg := do("odoo_search_read", map[string]any{"model": "res.partner"}, nil); !strings.Contains(msg, "needs the scope mcp:odoo:read") {
		t.Fatalf("no scope: %q", msg)
	}
	if e := fx.rec.last(t, env); e.Fields["outcome"] != "refused" || e.Level != "warning" {
		t.Fatalf("refusal audit = %+v", e)
	}
	_, _, do = fx.session(t, OdooPolicy{ReadModels: []string{"res.partner"}, Fields: map[string][]string{"res.partner": {"name"}}}, "mcp:odoo:read")
	if msg := do("odoo_search_read", map[string]any{"model": "res.users.apikeys"}, nil); !strings.Contains(msg, "never exposed") {
		t.Fatalf("denied model: %q", msg)
	}
	if msg := do("odoo_search_read", map[string]any{"model": "crm.lead"}, nil); !strings.Contains(msg, "read allow-list") {
		t.Fatalf("model outside read allow-list: %q", msg)
	}
	if msg := do("odoo_search_read", map[string]any{"model": "res.partner", "fields": []any{"email"}}, nil); !strings.Contains(msg, "field allow-list") {
		t.Fatalf("field outside allow-list: %q", msg)
	}
	var out recordsOut
	if msg := do("odoo_search_read", map[string]any{"model": "res.partner"}, &out); msg != "" {
		t.Fatal(msg)
	}
	for _, r := range out.Records {
		if _, ok := r["email"]; ok {
			t.Fatalf("record has a field outside the allow-list: %v", r)
		}
	}
}

func TestOdooWrite(t *testing.T) {
	fx := newOdooFixture(t)
	partner := func() map[string]any { return fx.fake.Records("res.partner")[0] }
	args := map[string]any{"model": "res.partner", "ids": []any{1}, "values": map[string]any{"email": "new@example.com"}}

	// Dry run with only the read scope: shows the diff, changes nothing.
	env, _, do := fx.session(t, testPolicy, "mcp:odoo:read")
	dry := map[string]any{"model": "res.partner", "ids": []any{1}, "values": map[string]any{"email": "new@example.com"}, "dry_run": true}
	var out writeOut
	if msg := do("odoo_write", dry, &out); msg != "" {
		t.Fatal(msg)
	}
	if out.Applied || !out.DryRun || len(out.Changes) != 1 || out.Changes[0].ID != 1 ||
		out.Changes[0].Changes["email"].From != "deco@example.com" || out.Changes[0].Changes["email"].To != "new@example.com" {
		t.Fatalf("dry run = %+v", out)
	}
	if partner()["email"] != "deco@example.com" {
		t.Fatal("dry run changed the record")
	}
	if e := fx.rec.last(t, env); e.Fields["outcome"] != "dry_run" {
		t.Fatalf("dry run audit = %+v", e)
	}
	// Without the write scope: refused.
	if msg := do("odoo_write", args, nil); !strings.Contains(msg, "needs the scope mcp:odoo:write") || !strings.Contains(msg, "dry_run") {
		t.Fatalf("no write scope: %q", msg)
	}
	// With the scope but a model outside the allow-list: refused.
	env, _, do = fx.session(t, testPolicy, "mcp:odoo:write")
	if msg := do("odoo_write", map[string]any{"model": "project.task", "ids": []any{1}, "values": map[string]any{"name": "x"}}, nil); !strings.Contains(msg, "odoo.write_models") {
		t.Fatalf("non-allow-listed model: %q", msg)
	}
	if msg := do("odoo_write", map[string]any{"model": "res.partner", "ids": []any{1}, "values": map[string]any{"password": "hunter2"}}, nil); !strings.Contains(msg, "never exposed") {
		t.Fatalf("denied field: %q", msg)
	}
	e := fx.rec.find(t, env, func(e audit.Entry) bool { return strings.Contains(fmt.Sprint(e.Fields["arguments"]), "password") })
	if e.Fields["arguments"].(map[string]any)["values"].(map[string]any)["password"] != "***" || e.Fields["outcome"] != "refused" {
		t.Fatalf("secret not masked in audit: %+v", e.Fields["arguments"])
	}
	if partner()["email"] != "deco@example.com" {
		t.Fatal("refused write changed the record")
	}
	// Success.
	if msg := do("odoo_write", args, &out); msg != "" || !out.Applied {
		t.Fatalf("write = %+v %s", out, msg)
	}
	if partner()["email"] != "new@example.com" {
		t.Fatalf("write did not reach Odoo: %v", partner())
	}
	if e := fx.rec.find(t, env, func(e audit.Entry) bool { return e.Fields["outcome"] == "ok" }); e.Target != "odoo:res.partner/[1]" || e.Fields["write"] != true || e.Fields["tool"] != "odoo_write" {
		t.Fatalf("write audit = %+v", e)
	}
}

func TestOdooCreateCallAndMessage(t *testing.T) {
	fx := newOdooFixture(t)
	before := len(fx.fake.Records("res.partner"))
	_, _, do := fx.session(t, testPolicy, "mcp:odoo:read")
	create := map[string]any{"model": "res.partner", "values": map[string]any{"name": "Gemini Furniture"}}
	var out writeOut
	if msg := do("odoo_create", map[string]any{"model": "res.partner", "values": map[string]any{"name": "Gemini Furniture"}, "dry_run": true}, &out); msg != "" || out.Changes[0].Changes["name"].To != "Gemini Furniture" {
		t.Fatalf("create dry run = %+v %s", out, msg)
	}
	if msg := do("odoo_create", create, nil); !strings.Contains(msg, "mcp:odoo:write") {
		t.Fatalf("create without scope: %q", msg)
	}
	if msg := do("odoo_post_message", map[string]any{"model": "res.partner", "id": 1, "body": "hello"}, nil); !strings.Contains(msg, "mcp:odoo:write") {
		t.Fatalf("message without scope: %q", msg)
	}
	if n := len(fx.fake.Records("res.partner")); n != before {
		t.Fatalf("refused create changed data: %d partners", n)
	}
	_, _, do = fx.session(t, testPolicy, "mcp:odoo:write")
	if msg := do("odoo_create", map[string]any{"model": "crm.lead", "values": map[string]any{"name": "x"}}, nil); !strings.Contains(msg, "odoo.write_models") {
		t.Fatalf("create on non-allow-listed model: %q", msg)
	}
	if msg := do("odoo_create", create, &out); msg != "" || !out.Applied || len(out.IDs) != 1 {
		t.Fatalf("create = %+v %s", out, msg)
	}
	recs := fx.fake.Records("res.partner")
	if len(recs) != before+1 || recs[len(recs)-1]["name"] != "Gemini Furniture" {
		t.Fatalf("create did not reach Odoo: %v", recs)
	}

	// odoo_call: allow-listed method only.
	var co callOut
	if msg := do("odoo_call", map[string]any{"model": "res.partner", "method": "unlink", "args": []any{[]any{1}}}, nil); !strings.Contains(msg, "odoo.call_methods") {
		t.Fatalf("call outside allow-list: %q", msg)
	}
	if len(fx.fake.Records("res.partner")) != before+1 {
		t.Fatal("refused unlink deleted a record")
	}
	if msg := do("odoo_call", map[string]any{"model": "res.partner", "method": "name_search", "kwargs": map[string]any{"name": "azure"}, "dry_run": true}, &co); msg != "" || co.Applied || co.Result != nil {
		t.Fatalf("call dry run = %+v %s", co, msg)
	}
	if msg := do("odoo_call", map[string]any{"model": "res.partner", "method": "name_search", "kwargs": map[string]any{"name": "azure"}}, &co); msg != "" || !strings.Contains(fmt.Sprint(co.Result), "Azure Interior") {
		t.Fatalf("call = %+v %s", co, msg)
	}

	// Chatter.
	var mo postMessageOut
	if msg := do("odoo_post_message", map[string]any{"model": "res.partner", "id": 1, "body": "Payment reminder sent", "dry_run": true}, &mo); msg != "" || mo.Applied {
		t.Fatalf("message dry run = %+v %s", mo, msg)
	}
	if n := len(fx.fake.Records("mail.message")); n != 0 {
		t.Fatalf("dry run posted %d messages", n)
	}
	if msg := do("odoo_post_message", map[string]any{"model": "res.partner", "id": 1, "body": "Payment reminder sent"}, &mo); msg != "" || !mo.Applied {
		t.Fatalf("message = %+v %s", mo, msg)
	}
	msgs := fx.fake.Records("mail.message")
	if len(msgs) != 1 || msgs[0]["body"] != "Payment reminder sent" || msgs[0]["model"] != "res.partner" {
		t.Fatalf("chatter = %v", msgs)
	}
}

func TestOdooFinance(t *testing.T) {
	fx := newOdooFixture(t)
	_, _, do := fx.session(t, testPolicy, "mcp:odoo:read")
	var j recordsOut
	if msg := do("odoo_account_list_journals", map[string]any{"type": "purchase"}, &j); msg != "" || j.Count != 1 || j.Records[0]["code"] != "BILL" {
		t.Fatalf("journals = %+v %s", j, msg)
	}

	var ag agingOut
	if msg := do("odoo_account_ap_aging", map[string]any{"as_of_date": "2026-03-01", "include_details": true}, &ag); msg != "" {
		t.Fatal(msg)
	}
	got := map[string]float64{}
	for _, b := range ag.Buckets {
		got[b.Label] = b.Total
	}
	want := map[string]float64{"current": 100, "1-30": 200, "31-60": 300, "61-90": 0, "91+": 400}
	if fmt.Sprint(got) != fmt.Sprint(want) || ag.Total != 1000 {
		t.Fatalf("aging = %v (total %v); want %v, total 1000", got, ag.Total, want)
	}

	var bir recordsOut
	if msg := do("odoo_bir_deadlines", map[string]any{"today": "2026-03-05", "days_ahead": 7}, &bir); msg != "" || bir.Count != 1 || bir.Records[0]["name"] != "1601-C Feb" {
		t.Fatalf("bir = %+v %s", bir, msg)
	}

	entry := map[string]any{"date": "2026-03-01", "journal_id": 1, "ref": "accrual", "lines": []any{
		map[string]any{"account_id": 10, "name": "rent", "debit": 500.10},
		map[string]any{"account_id": 20, "name": "accrued", "credit": 500.00}}}
	entry["dry_run"] = true
	if msg := do("odoo_account_create_journal_entry", entry, nil); !strings.Contains(msg, "does not balance") {
		t.Fatalf("unbalanced entry: %q", msg)
	}
	entry["lines"].([]any)[1].(map[string]any)["credit"] = 500.10
	entry["dry_run"] = true
	moves := len(fx.fake.Records("account.move"))
	var je journalEntryOut
	if msg := do("odoo_account_create_journal_entry", entry, &je); msg != "" || je.Applied || je.Debit != 500.10 {
		t.Fatalf("entry dry run = %+v %s", je, msg)
	}
	delete(entry, "dry_run")
	if msg := do("odoo_account_create_journal_entry", entry, nil); !strings.Contains(msg, "mcp:odoo:write") {
		t.Fatalf("entry without scope: %q", msg)
	}
	if len(fx.fake.Records("account.move")) != moves {
		t.Fatal("refused entry was created")
	}
	_, _, do = fx.session(t, testPolicy, "mcp:odoo:write")
	if msg := do("odoo_account_create_journal_entry", entry, &je); msg != "" || !je.Applied {
		t.Fatalf("entry = %+v %s", je, msg)
	}
	all := fx.fake.Records("account.move")
	last := all[len(all)-1]
	if len(all) != moves+1 || last["move_type"] != "entry" || len(last["line_ids"].([]any)) != 2 {
		t.Fatalf("created move = %v", last)
	}
	_, _, do = fx.session(t, OdooPolicy{}, "mcp:odoo:write")
	if msg := do("odoo_account_create_journal_entry", entry, nil); !strings.Contains(msg, "odoo.write_models") {
		t.Fatalf("entry with default policy: %q", msg)
	}
}

func TestOdooResource(t *testing.T) {
	fx := newOdooFixture(t)
	env := &Env{Audit: fx.rec, Local: principal("tok-1", "mcp:odoo:read")}
	cs := connect(t, NewOdoo(env, odoo.New(fx.url, fakeodoo.DB, fakeodoo.Login, fakeodoo.APIKey, nil), testPolicy))
	res, err := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "odoo://res.partner/2"})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(res.Contents[0].Text, "Azure Interior") {
		t.Fatalf("resource = %s", res.Contents[0].Text)
	}
	if _, err := cs.ReadResource(context.Background(), &mcp.ReadResourceParams{URI: "odoo://res.users.apikeys/1"}); err == nil {
		t.Fatal("denied model served as a resource")
	}
}

func TestOdoo19JSON2(t *testing.T) {
	fx := newOdooFixture(t)
	fx.fake.SetSerie("19.0")
	env := &Env{Audit: fx.rec, Local: principal("tok-1", "mcp:odoo:write")}
	c := odoo.New(fx.fake.URL, fakeodoo.DB, fakeodoo.Login, fakeodoo.APIKey, nil)
	if _, err := c.Version(context.Background()); err != nil {
		t.Fatal(err)
	}
	cs := connect(t, NewOdoo(env, c, testPolicy))
	var out recordsOut
	mustOK(t, cs, "odoo_search_read", map[string]any{"model": "res.partner", "fields": []any{"name"}, "limit": 1}, &out)
	if out.Count != 1 || out.Records[0]["name"] != "Deco Addict" {
		t.Fatalf("JSON-2 search_read = %+v", out)
	}
	var w writeOut
	mustOK(t, cs, "odoo_write", map[string]any{"model": "res.partner", "ids": []any{2}, "values": map[string]any{"phone": "+63 2 555"}}, &w)
	if fx.fake.Records("res.partner")[1]["phone"] != "+63 2 555" {
		t.Fatal("JSON-2 write did not reach Odoo")
	}
	// message_post answers [id] on JSON-2: posted once, reported posted.
	var mo postMessageOut
	mustOK(t, cs, "odoo_post_message", map[string]any{"model": "res.partner", "id": 2, "body": "Checked on JSON-2"}, &mo)
	msgs := fx.fake.Records("mail.message")
	if len(msgs) != 1 || !mo.Applied || mo.MessageID != msgs[0]["id"] {
		t.Fatalf("JSON-2 message_post = %+v, messages %v", mo, msgs)
	}
}

// odoo_call passes positional arguments on JSON-2 by name (read's fields,
// name_search's name), and refuses those it cannot name.
func TestOdooCallPositionalJSON2(t *testing.T) {
	fx := newOdooFixture(t)
	fx.fake.SetSerie("19.0")
	env := &Env{Audit: fx.rec, Local: principal("tok-1", "mcp:odoo:write")}
	c := odoo.New(fx.fake.URL, fakeodoo.DB, fakeodoo.Login, fakeodoo.APIKey, nil)
	if _, err := c.Version(context.Background()); err != nil {
		t.Fatal(err)
	}
	p := OdooPolicy{CallMethods: []string{"res.partner.read", "res.partner.name_search", "res.partner.action_custom"}}
	cs := connect(t, NewOdoo(env, c, p))
	var co callOut
	mustOK(t, cs, "odoo_call", map[string]any{"model": "res.partner", "method": "read", "args": []any{[]any{1}, []any{"name"}}}, &co)
	rows, _ := co.Result.([]any)
	if len(rows) != 1 || len(rows[0].(map[string]any)) != 2 {
		t.Fatalf("read [[1],[name]] = %v; want id and name only", co.Result)
	}
	mustOK(t, cs, "odoo_call", map[string]any{"model": "res.partner", "method": "name_search", "args": []any{"Azure"}}, &co)
	if !strings.Contains(fmt.Sprint(co.Result), "Azure Interior") {
		t.Fatalf("name_search [Azure] = %v", co.Result)
	}
	mustFail(t, cs, "odoo_call", map[string]any{"model": "res.partner", "method": "action_custom", "args": []any{[]any{1}, "x"}}, "kwargs")
}

// A method returning None is a success for odoo_call.
func TestOdooCallNoneResult(t *testing.T) {
	fx := newOdooFixture(t)
	_, _, do := fx.session(t, OdooPolicy{CallMethods: []string{"res.partner.action_archive"}}, "mcp:odoo:write")
	var co callOut
	if msg := do("odoo_call", map[string]any{"model": "res.partner", "method": "action_archive", "args": []any{[]any{2}}}, &co); msg != "" || !co.Applied {
		t.Fatalf("action_archive = %+v %q", co, msg)
	}
	if fx.fake.Records("res.partner")[1]["active"] != false {
		t.Fatal("partner not archived")
	}
}

// Reads that name no fields leave binaries, html and x2many lists out; an
// unknown model gets the "not installed" hint.
func TestOdooDefaultFieldsAndUnknownModel(t *testing.T) {
	for _, serie := range []string{"18.0", "19.0"} {
		fx := newOdooFixture(t)
		fx.fake.SetSerie(serie)
		env := &Env{Audit: fx.rec, Local: principal("tok-1", "mcp:odoo:read")}
		c := odoo.New(fx.fake.URL, fakeodoo.DB, fakeodoo.Login, fakeodoo.APIKey, nil)
		if _, err := c.Version(context.Background()); err != nil {
			t.Fatal(err)
		}
		cs := connect(t, NewOdoo(env, c, OdooPolicy{}))
		var out recordsOut
		mustOK(t, cs, "odoo_search_read", map[string]any{"model": "res.partner", "domain": []any{[]any{"is_company", "=", true}}}, &out)
		if out.Count != 2 || out.Records[0]["name"] == nil || out.Records[0]["email"] == nil || out.Records[0]["display_name"] == nil {
			t.Fatalf("%s: default read = %+v", serie, out)
		}
		for _, f := range []string{"image_1920", "comment", "child_ids", "category_id", "message_ids"} {
			if _, ok := out.Records[0][f]; ok {
				t.Fatalf("%s: default read returned %s: %v", serie, f, out.Records[0])
			}
		}
		mustOK(t, cs, "odoo_read", map[string]any{"model": "res.partner", "ids": []any{1}, "fields": []any{"image_1920"}}, &out)
		if out.Records[0]["image_1920"] == nil {
			t.Fatalf("%s: image asked by name not read: %v", serie, out.Records[0])
		}
		mustFail(t, cs, "odoo_search_read", map[string]any{"model": "x_not.installed", "fields": []any{"name"}}, "model not installed")
		mustFail(t, cs, "odoo_search_read", map[string]any{"model": "x_not.installed"}, "model not installed")
	}
}

func TestMaskJSON(t *testing.T) {
	got := fmt.Sprint(MaskJSON([]byte(`{"model":"x","api_key":"k","nested":{"Password":"p","ok":1},"list":[{"token":"t"}]}`)))
	for _, leak := range []string{"k]", ":p", ":t]"} {
		if strings.Contains(got, leak) {
			t.Fatalf("masked = %s leaks %q", got, leak)
		}
	}
	if !strings.Contains(got, "model:x") || strings.Count(got, "***") != 3 {
		t.Fatalf("masked = %s", got)
	}
}

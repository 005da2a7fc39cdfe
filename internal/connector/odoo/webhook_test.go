package odoo

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestParseWebhookVariants(t *testing.T) {
	for _, tc := range []struct {
		name, body, model, action string
		id                        int64
	}{
		{"odoo 17/18 action, written record",
			`{"_action":"Send Webhook Notification(#12)","_id":7,"_model":"purchase.order","create_date":"2026-03-01 09:00:00","write_date":"2026-03-02 10:00:00","state":"to approve"}`,
			"purchase.order", "write", 7},
		{"new record", `{"_action":"Notify(#1)","_id":8,"_model":"hr.expense","create_date":"2026-03-01 09:00:00","write_date":"2026-03-01 09:00:00"}`,
			"hr.expense", "create", 8},
		{"ipai verb", `{"_action":"ipai:unlink(#3)","_id":9,"_model":"account.move"}`, "account.move", "unlink", 9},
		{"ipai create_or_write uses dates", `{"_action":"ipai:create_or_write(#3)","_id":9,"_model":"account.move","create_date":"a","write_date":"b"}`,
			"account.move", "write", 9},
		{"_name and string id", `{"_name":"x","_id":"12","_model":"res.partner"}`, "res.partner", "notify", 12},
		{"no underscores", `{"model":"crm.lead","id":5}`, "crm.lead", "notify", 5},
		{"json-rpc envelope", `{"jsonrpc":"2.0","method":"call","params":{"_model":"account.move","_id":1,"_action":"ipai:posted(#2)"}}`,
			"account.move", "posted", 1},
	} {
		n, err := ParseWebhook([]byte(tc.body))
		if err != nil || n.Model != tc.model || n.ID != tc.id || n.Action != tc.action {
			t.Errorf("%s: got %+v, %v; want %s #%d %s", tc.name, n, err, tc.model, tc.id, tc.action)
		}
	}
	n, _ := ParseWebhook([]byte(`{"jsonrpc":"2.0","params":{"_model":"a.b","_id":1}}`))
	if string(n.Body) != `{"_model":"a.b","_id":1}` {
		t.Errorf("envelope body = %s; want the params object", n.Body)
	}
}

func TestParseWebhookRefusesGarbage(t *testing.T) {
	for body, want := range map[string]string{
		`[1]`:                                 "not a JSON object",
		`{"_id":1}`:                           "_model",
		`{"_model":"Purchase Order","_id":1}`: "_model",
		`{"_model":"a","_id":0}`:              "positive",
		`{"_model":"a","_id":[1]}`:            "record id",
		`{"_model":"a"}`:                      "_id is missing",
		`{"_model":"a","_id":1} x`:            "after",
	} {
		if _, err := ParseWebhook([]byte(body)); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v; want %q", body, err, want)
		}
	}
}

func FuzzOdooPayload(f *testing.F) {
	f.Add([]byte(`{"_action":"Send Webhook Notification(#12)","_id":7,"_model":"purchase.order"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		n, err := ParseWebhook(body)
		if err != nil {
			return
		}
		if n.ID <= 0 || !modelRe.MatchString(n.Model) || !verbRe.MatchString(n.Action) {
			t.Fatalf("accepted a bad notification: %+v", n)
		}
		if !json.Valid(n.Body) {
			t.Fatalf("body is not JSON: %q", n.Body)
		}
		// The event type built from it must be a valid, dotted name.
		typ := "odoo." + n.Model + "." + n.Action
		if strings.ContainsAny(typ, " /*") {
			t.Fatalf("bad type %q", typ)
		}
	})
}

// The verb in the URL wins over the action name (Odoo 18 renames the
// action); an on_write rule firing inside a create (equal dates to the
// microsecond, seen 14 times for one res.partner create) is the create.
func TestSetActionFromURL(t *testing.T) {
	for _, tc := range []struct{ url, created, written, want string }{
		{"archive", "2026-12-05 23:25:39.281226", "2026-12-05 23:25:41.087736", "archive"},
		{"create_or_write", "2026-12-05 23:25:39.281226", "2026-12-05 23:25:39.281226", "create"},
		{"create_or_write", "2026-12-05 23:25:39.281226", "2026-12-05 23:25:39.770638", "write"},
		{"write", "2026-12-05 23:24:30.610631", "2026-12-05 23:24:30.610631", "create"},
		{"write", "2026-12-05 23:24:30.610631", "2026-12-05 23:24:32.603004", "write"},
		{"unlink", "2026-12-05 23:24:30.610631", "2026-12-05 23:24:30.610631", "unlink"},
	} {
		n, err := ParseWebhook([]byte(`{"_action":"Send Webhook Notification(#413)","_id":60,"_model":"res.partner",` +
			`"create_date":"` + tc.created + `","write_date":"` + tc.written + `"}`))
		if err != nil {
			t.Fatal(err)
		}
		n.SetAction(tc.url)
		if n.Action != tc.want {
			t.Errorf("action=%s, dates %s / %s: verb %q; want %q", tc.url, tc.created, tc.written, n.Action, tc.want)
		}
	}
}

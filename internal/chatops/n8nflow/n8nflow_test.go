package n8nflow_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/insightpulseai/ipai/internal/chatops/n8nflow"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/connector/n8n/n8ntest"
	fakeodoo "github.com/insightpulseai/ipai/internal/fake/odoo"
	"github.com/insightpulseai/ipai/internal/integration"
	"github.com/insightpulseai/ipai/internal/outbound"
	"github.com/insightpulseai/ipai/internal/rule/action"
	"github.com/insightpulseai/ipai/internal/secret"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/storetest"
	"github.com/insightpulseai/ipai/internal/webhooksig"
)

func TestMain(m *testing.M) { n8ntest.Main(m) }

func setup(t *testing.T, n8nURL, apiKey string) (*n8nflow.Service, *store.DB, *fakeodoo.Server) {
	ctx := context.Background()
	db := storetest.Open(t, storetest.URL(t, store.SQLite))
	box, _ := secret.New(bytes.Repeat([]byte{9}, 32))
	guard, _ := outbound.New([]string{"127.0.0.1"})
	od := fakeodoo.New()
	od.EnablePurchase()
	svc := integration.New(db, box, guard, 10*time.Second)
	ins := []integration.Input{{Code: "erp", Type: "odoo", BaseURL: od.URL, AuthType: connector.AuthAPIKey,
		Settings: map[string]string{"database": fakeodoo.DB, "login": fakeodoo.Login}, Secrets: map[string]string{"api_key": fakeodoo.APIKey}}}
	if n8nURL != "" {
		ins = append(ins, integration.Input{Code: "flows", Type: "n8n", BaseURL: n8nURL, Secrets: map[string]string{"api_key": apiKey}})
	}
	for _, in := range ins {
		if _, err := svc.Create(ctx, in); err != nil {
			t.Fatal(err)
		}
		// Only active connectors are used (README, Connectors).
		if rep, err := svc.Test(ctx, in.Code); err != nil || !rep.OK {
			t.Fatalf("test connector %s: %+v %v", in.Code, rep, err)
		}
		if _, err := svc.Activate(ctx, in.Code); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() { db.Close(); od.Close() })
	f := &n8nflow.Service{DB: db, Clients: action.FromConfigs(svc), Cfg: config.N8NFlows{Connector: "flows", Scheme: "hmac-hex",
		Secret: "n8n-shared-secret", Odoo: "erp", Models: []string{"purchase.order", "res.partner"}}}
	return f, db, od
}

func signed(body string) http.Header {
	h := http.Header{}
	h.Set("X-Signature", webhooksig.SignHex("n8n-shared-secret", []byte(body)))
	return h
}

// TestRegistryAgainstRealN8N syncs a real n8n's workflows, runs one through
// its webhook, and records the signed callback.
func TestRegistryAgainstRealN8N(t *testing.T) {
	in := n8ntest.Start(t)
	ctx := n8ntest.Context(t)
	f, db, _ := setup(t, in.URL, in.APIKey)
	cl, err := f.Clients.N8N(ctx, "flows")
	if err != nil {
		t.Fatal(err)
	}
	path := "ipai-chatops-" + uuid.NewString()[:8]
	wf, err := cl.CreateWorkflow(ctx, map[string]any{"name": "ChatOps " + path, "connections": map[string]any{},
		"settings": map[string]any{"executionOrder": "v1"},
		"nodes": []any{map[string]any{"id": uuid.NewString(), "name": "Webhook", "type": "n8n-nodes-base.webhook", "typeVersion": 2,
			"position": []int{0, 0}, "webhookId": uuid.NewString(),
			"parameters": map[string]any{"httpMethod": "POST", "path": path, "responseMode": "onReceived", "options": map[string]any{}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cl.Activate(ctx, wf.ID); err != nil {
		t.Fatal(err)
	}
	n, err := f.Sync(ctx)
	if err != nil || n == 0 {
		t.Fatalf("sync = %d, %v", n, err)
	}
	got, err := f.Find(ctx, wf.Name)
	if err != nil || got.TriggerType != "webhook" || got.WebhookPath != path || !got.Active {
		t.Fatalf("registered = %+v, %v", got, err)
	}
	var out string
	for i := 0; i < 50; i++ { // activation takes a moment to register the webhook
		if out, err = f.Run(ctx, wf.ID, json.RawMessage(`{"k":1}`), "mattermost"); err == nil {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	if err != nil {
		t.Fatalf("run: %v", err)
	}
	es, _ := db.N8NExecutions(ctx, wf.ID, 10)
	if len(es) == 0 || es[0].Status != store.ExecRunning || es[0].Source != "mattermost" {
		t.Fatalf("executions = %+v (%s)", es, out)
	}
	body := `{"workflow_id":"` + wf.ID + `","ipai_execution_id":"` + es[0].ID + `","execution_id":"42","status":"success","data":{"done":true}}`
	if err := f.Verify(http.Header{}, []byte(body)); !webhooksig.IsUnverified(err) {
		t.Fatalf("unsigned callback: %v", err)
	}
	if err := f.Verify(signed(body), []byte(body)); err != nil {
		t.Fatal(err)
	}
	c, err := n8nflow.ParseCallback([]byte(body))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.Record(ctx, c); err != nil {
		t.Fatal(err)
	}
	es, _ = db.N8NExecutions(ctx, wf.ID, 10)
	if es[0].Status != store.ExecSuccess || es[0].N8NExecutionID != "42" || es[0].FinishedAt.IsZero() {
		t.Fatalf("after callback = %+v", es[0])
	}
	_ = cl.DeleteWorkflow(ctx, wf.ID)
}

func TestTriggerPolicy(t *testing.T) {
	f, _, od := setup(t, "", "")
	ctx := context.Background()
	po := od.Add("purchase.order", fakeodoo.Record{"name": "P1", "state": "to approve"})
	for _, c := range []struct {
		action, body string
		refused      bool
	}{
		{"run_method", `{"model":"res.users","method":"action_reset_password","record_id":2}`, true}, // model not allowed
		{"run_method", `{"model":"purchase.order","method":"unlink","record_id":1}`, true},           // method not allowed
		{"run_method", `{"model":"purchase.order","method":"__init__"}`, true},
	} {
		tr, err := n8nflow.ParseTrigger(c.action, []byte(c.body))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := f.Trigger(ctx, c.action, tr); !errors.Is(err, n8nflow.ErrRefused) {
			t.Errorf("%s %s: %v; want refused", c.action, c.body, err)
		}
	}
	tr, _ := n8nflow.ParseTrigger("run_method", []byte(`{"model":"purchase.order","method":"button_approve","record_id":`+jsonInt(po)+`}`))
	if out, err := f.Trigger(ctx, "run_method", tr); err != nil || out["status"] != "success" || od.Records("purchase.order")[0]["state"] != "purchase" {
		t.Fatalf("button_approve = %v, %v", out, err)
	}
	// button_cancel returns None: Odoo's answer has no "result"; a success.
	po2 := od.Add("purchase.order", fakeodoo.Record{"name": "P2", "state": "to approve"})
	tr, _ = n8nflow.ParseTrigger("run_method", []byte(`{"model":"purchase.order","method":"button_cancel","record_id":`+jsonInt(po2)+`}`))
	if out, err := f.Trigger(ctx, "run_method", tr); err != nil || out["status"] != "success" || od.Records("purchase.order")[1]["state"] != "cancel" {
		t.Fatalf("button_cancel (returns None) = %v, %v", out, err)
	}
	tr, _ = n8nflow.ParseTrigger("create_record", []byte(`{"model":"res.partner","values":{"name":"From n8n"}}`))
	if out, err := f.Trigger(ctx, "create_record", tr); err != nil || out["record_name"] != "From n8n" {
		t.Fatalf("create_record = %v, %v", out, err)
	}
	if _, err := n8nflow.ParseTrigger("drop_table", []byte(`{}`)); err == nil {
		t.Fatal("unknown action accepted")
	}
	// Issue 19: Odoo 17/18's admin is uid 2, so "never uid 1" let it act.
	// A connector logging in as a Settings administrator is refused.
	cl, err := f.Clients.Odoo(ctx, "erp")
	if err != nil {
		t.Fatal(err)
	}
	uid, err := cl.Authenticate(ctx)
	if err != nil || uid == 1 {
		t.Fatalf("login = %d, %v", uid, err)
	}
	if err := cl.Write(ctx, "res.users", []int{uid}, map[string]any{"groups": []any{"base.group_user", "base.group_system"}}); err != nil {
		t.Fatal(err)
	}
	po3 := od.Add("purchase.order", fakeodoo.Record{"name": "P3", "state": "to approve"})
	tr, _ = n8nflow.ParseTrigger("run_method", []byte(`{"model":"purchase.order","method":"button_approve","record_id":`+jsonInt(po3)+`}`))
	if _, err := f.Trigger(ctx, "run_method", tr); !errors.Is(err, n8nflow.ErrRefused) || !strings.Contains(err.Error(), "base.group_system") {
		t.Fatalf("trigger as an administrator (uid %d): %v; want refused", uid, err)
	}
	if st := od.Records("purchase.order")[2]["state"]; st != "to approve" {
		t.Fatalf("the refused trigger changed the order: %v", st)
	}
}

func jsonInt(n int) string { b, _ := json.Marshal(n); return string(b) }

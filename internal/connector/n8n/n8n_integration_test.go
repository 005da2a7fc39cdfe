package n8n_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/connector/n8n"
	"github.com/insightpulseai/ipai/internal/connector/n8n/n8ntest"
	"github.com/insightpulseai/ipai/internal/fake/knob"
)

func TestMain(m *testing.M) { n8ntest.Main(m) }

func webhookWorkflow(name, path string) map[string]any {
	return map[string]any{
		"name": name,
		"nodes": []any{map[string]any{
			"id": "8a5b1b0e-1f6e-4c55-9f59-000000000001", "name": "Webhook", "type": "n8n-nodes-base.webhook",
			"typeVersion": 2, "position": []int{0, 0}, "webhookId": newUUID(),
			"parameters": map[string]any{"httpMethod": "POST", "path": path, "responseMode": "onReceived", "options": map[string]any{}},
		}},
		"connections": map[string]any{},
		"settings":    map[string]any{"executionOrder": "v1", "saveDataSuccessExecution": "all"},
		// read-only fields a workflow file may carry: they must be stripped
		"active": true, "id": "ignored", "tags": []any{},
	}
}

func TestConnectionRealN8N(t *testing.T) {
	in := n8ntest.Start(t)
	ctx := n8ntest.Context(t)
	cfg := connector.Config{Type: "n8n", BaseURL: in.URL, Secrets: map[string]string{"api_key": in.APIKey}}
	c, err := connector.New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	r := connector.Test(ctx, c, 0)
	if !r.OK || r.State != connector.StateTesting || len(r.Checks) != 3 {
		t.Fatalf("test connection = %+v", r)
	}

	cfg.Secrets = map[string]string{"api_key": "not-a-key"}
	c, _ = connector.New(cfg, nil)
	r = connector.Test(ctx, c, 0)
	var se *connector.ServiceError
	if r.OK || !errors.Is(r.Err, connector.ErrAuth) || !errors.As(r.Err, &se) || se.Message == "" {
		t.Fatalf("bad key = %+v (%v)", r, r.Err)
	}

	cfg.Secrets = map[string]string{"api_key": in.APIKey}
	cfg.BaseURL = "http://127.0.0.1:1"
	c, _ = connector.New(cfg, nil)
	if r = connector.Test(ctx, c, 0); r.OK || !errors.Is(r.Err, connector.ErrUnreachable) {
		t.Fatalf("unreachable = %+v", r)
	}

	// Through a proxy with the fakes' knobs: timeout, HTML page, 5xx.
	target, _ := url.Parse(in.URL)
	var k knob.Knobs
	proxy := httptest.NewServer(k.Wrap(httputil.NewSingleHostReverseProxy(target)))
	defer proxy.Close()
	cfg.BaseURL = proxy.URL
	c, _ = connector.New(cfg, nil)
	if r = connector.Test(ctx, c, 0); !r.OK {
		t.Fatalf("through the proxy = %+v", r)
	}
	k.SetLatency(5 * time.Second)
	if r = connector.Test(ctx, c, 200*time.Millisecond); r.OK || !errors.Is(r.Err, connector.ErrTimeout) {
		t.Fatalf("timeout = %+v", r)
	}
	k.SetLatency(0)
	k.HTML(true)
	if r = connector.Test(ctx, c, 0); r.OK || !errors.Is(r.Err, connector.ErrMalformed) {
		t.Fatalf("html = %+v", r)
	}
	k.HTML(false)
	k.Fail(503, `{"status":"error"}`)
	if r = connector.Test(ctx, c, 0); r.OK || !errors.As(r.Err, &se) || se.Status != 503 {
		t.Fatalf("503 = %+v", r)
	}
}

func TestClientRealN8N(t *testing.T) {
	in := n8ntest.Start(t)
	ctx := n8ntest.Context(t)
	c := n8n.New(in.URL, in.APIKey, nil)

	wf, err := c.CreateWorkflow(ctx, webhookWorkflow("ipai client test", "ipai-client-test"))
	if err != nil {
		t.Fatalf("create: %v", err)
	}
	if wf.ID == "" || wf.Active {
		t.Fatalf("created = %+v", wf)
	}
	if p := wf.WebhookPaths(); len(p) != 1 || p[0] != "ipai-client-test" {
		t.Fatalf("webhook paths = %v", p)
	}
	if _, err := c.TriggerWebhook(ctx, "ipai-client-test", map[string]any{"x": 1}); !errors.Is(err, n8n.ErrWebhookNotRegistered) {
		t.Fatalf("trigger before activation: %v", err)
	}
	act, err := c.Activate(ctx, wf.ID)
	if err != nil || !act.Active {
		t.Fatalf("activate = %+v, %v", act, err)
	}
	resp := trigger(t, ctx, c, "ipai-client-test", map[string]any{"invoice": "INV/001"})
	if resp.Status != 200 || !strings.Contains(string(resp.Body), "Workflow was started") {
		t.Fatalf("trigger = %d %s", resp.Status, resp.Body)
	}
	var exec n8n.Execution
	deadline := time.Now().Add(20 * time.Second)
	for {
		page, err := c.ListExecutions(ctx, n8n.ExecutionOptions{WorkflowID: wf.ID, Limit: 5})
		if err != nil {
			t.Fatalf("executions: %v", err)
		}
		if len(page.Data) > 0 && page.Data[0].Finished {
			exec = page.Data[0]
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no finished execution: %+v", page.Data)
		}
		time.Sleep(200 * time.Millisecond)
	}
	if exec.Status != "success" || exec.Mode != "webhook" || exec.WorkflowID.String() != wf.ID {
		t.Fatalf("execution = %+v", exec)
	}
	full, err := c.GetExecution(ctx, exec.ID.String(), true)
	if err != nil || !strings.Contains(string(full.Data), "INV/001") {
		t.Fatalf("execution data = %s, %v", full.Data, err)
	}
	got, err := c.GetWorkflow(ctx, wf.ID)
	if err != nil || got.Name != "ipai client test" || !got.Active {
		t.Fatalf("get = %+v, %v", got, err)
	}
	if d, err := c.Deactivate(ctx, wf.ID); err != nil || d.Active {
		t.Fatalf("deactivate = %+v, %v", d, err)
	}
	_, err = c.GetWorkflow(ctx, "doesnotexist")
	var se *connector.ServiceError
	if !errors.As(err, &se) || se.Status != 404 {
		t.Fatalf("missing workflow: %v", err)
	}
	// n8n answers 409 while it is still unpublishing the workflow.
	for i := 0; ; i++ {
		err := c.DeleteWorkflow(ctx, wf.ID)
		if err == nil {
			break
		}
		if !errors.As(err, &se) || se.Status != 409 || i == 50 {
			t.Fatalf("delete: %v", err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	if _, err := c.GetWorkflow(ctx, wf.ID); !errors.As(err, &se) || se.Status != 404 {
		t.Fatalf("get after delete: %v", err)
	}
}

// trigger polls while n8n registers the webhook after activation.
func trigger(t *testing.T, ctx context.Context, c *n8n.Client, path string, body any) n8n.WebhookResponse {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := c.TriggerWebhook(ctx, path, body)
		if err == nil {
			return resp
		}
		if !errors.Is(err, n8n.ErrWebhookNotRegistered) || time.Now().After(deadline) {
			t.Fatalf("trigger %s: %v", path, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestExportImportRealN8N(t *testing.T) {
	in := n8ntest.Start(t)
	ctx := n8ntest.Context(t)
	c := n8n.New(in.URL, in.APIKey, nil)
	src := t.TempDir()
	for _, w := range []struct{ name, path string }{{"ipai sync a", "ipai-sync-a"}, {"ipai sync b", "ipai-sync-b"}} {
		b, _ := json.Marshal(webhookWorkflow(w.name, w.path))
		if err := os.WriteFile(filepath.Join(src, strings.ReplaceAll(w.name, " ", "_")+".json"), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	res, err := n8n.Import(ctx, c, src, n8n.ImportOptions{Activate: true})
	if err != nil || len(res) != 2 || res[0].Action != "created" || !res[1].Activated {
		t.Fatalf("import = %+v, %v", res, err)
	}
	trigger(t, ctx, c, "ipai-sync-b", map[string]any{})

	// Import again: matched by name, updated in place, no duplicates.
	res2, err := n8n.Import(ctx, c, src, n8n.ImportOptions{})
	if err != nil || res2[0].Action != "updated" || res2[0].ID != res[0].ID {
		t.Fatalf("re-import = %+v, %v", res2, err)
	}

	out := t.TempDir()
	exp, err := n8n.Export(ctx, c, out)
	if err != nil {
		t.Fatalf("export: %v", err)
	}
	found := map[string]bool{}
	for _, e := range exp {
		b, err := os.ReadFile(e.File)
		if err != nil {
			t.Fatal(err)
		}
		var w n8n.Workflow
		if err := json.Unmarshal(b, &w); err != nil {
			t.Fatalf("%s: %v", e.File, err)
		}
		found[w.Name] = true
		if w.Name == "ipai sync a" && (len(w.WebhookPaths()) != 1 || w.WebhookPaths()[0] != "ipai-sync-a") {
			t.Fatalf("exported a = %s", b)
		}
	}
	if !found["ipai sync a"] || !found["ipai sync b"] {
		t.Fatalf("export wrote %+v", exp)
	}
	// The exported files import back cleanly (read-only fields stripped).
	if _, err := n8n.Import(ctx, c, out, n8n.ImportOptions{}); err != nil {
		t.Fatalf("import of the export: %v", err)
	}
	for _, r := range res {
		_, _ = c.Deactivate(ctx, r.ID)
	}
}

func newUUID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	b[6], b[8] = b[6]&0x0f|0x40, b[8]&0x3f|0x80
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// A second n8n on the machine (another test binary's, or a user's) holds
// n8n's default task-broker port, 127.0.0.1:5679: ours still starts. Before
// the broker got a port of its own, n8n exited mid-start with "port in use".
func TestN8NStartsBesideAnotherN8N(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:5679")
	if err != nil {
		t.Logf("5679 is already held (%v) — by another n8n, which is the case this test is about", err)
	} else {
		defer ln.Close()
	}
	in := n8ntest.StartOwn(t)
	resp, err := http.Get(in.URL + "/healthz/readiness")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("readiness: %d", resp.StatusCode)
	}
}

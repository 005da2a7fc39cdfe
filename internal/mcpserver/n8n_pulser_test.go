package mcpserver

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/connector/n8n"
	"github.com/insightpulseai/ipai/internal/outbound"
	"github.com/insightpulseai/ipai/internal/store"
)

// n8nFake serves the n8n public API v1 shapes (apis.md §4) for one
// webhook workflow, and records webhook calls.
type n8nFake struct {
	*httptest.Server
	mu     sync.Mutex
	active bool
	hooks  []map[string]any
}

func newN8NFake(t *testing.T) *n8nFake {
	f := &n8nFake{}
	wf := func() map[string]any {
		return map[string]any{"id": "2tUt1wbLX592XDdX", "name": "Invoice to chat", "active": f.active,
			"nodes":       []any{map[string]any{"name": "Webhook", "type": "n8n-nodes-base.webhook", "parameters": map[string]any{"path": "odoo-invoice", "httpMethod": "POST"}}},
			"connections": map[string]any{}, "settings": map[string]any{}}
	}
	js := func(w http.ResponseWriter, status int, v any) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		_ = json.NewEncoder(w).Encode(v)
	}
	mux := http.NewServeMux()
	api := func(h http.HandlerFunc) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			if r.Header.Get("X-N8N-API-KEY") != "n8n-key" {
				js(w, 401, map[string]string{"message": "unauthorized"})
				return
			}
			f.mu.Lock()
			defer f.mu.Unlock()
			h(w, r)
		}
	}
	mux.HandleFunc("GET /api/v1/workflows", api(func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"data": []any{wf()}, "nextCursor": nil})
	}))
	mux.HandleFunc("GET /api/v1/workflows/{id}", api(func(w http.ResponseWriter, r *http.Request) {
		if r.PathValue("id") != "2tUt1wbLX592XDdX" {
			js(w, 404, map[string]string{"message": "Not Found"})
			return
		}
		js(w, 200, wf())
	}))
	for _, act := range []string{"activate", "deactivate"} {
		act := act
		mux.HandleFunc("POST /api/v1/workflows/{id}/"+act, api(func(w http.ResponseWriter, r *http.Request) {
			f.active = act == "activate"
			js(w, 200, wf())
		}))
	}
	mux.HandleFunc("GET /api/v1/executions", api(func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"data": []any{map[string]any{"id": "1000", "finished": true, "mode": "webhook", "status": "success",
			"startedAt": "2026-03-01T00:00:00Z", "stoppedAt": "2026-03-01T00:00:01Z", "workflowId": "2tUt1wbLX592XDdX"}}, "nextCursor": nil})
	}))
	mux.HandleFunc("GET /api/v1/executions/{id}", api(func(w http.ResponseWriter, r *http.Request) {
		js(w, 200, map[string]any{"id": r.PathValue("id"), "finished": true, "status": "success", "workflowId": "2tUt1wbLX592XDdX"})
	}))
	mux.HandleFunc("POST /webhook/{path...}", func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		defer f.mu.Unlock()
		if !f.active || r.PathValue("path") != "odoo-invoice" {
			js(w, 404, map[string]any{"code": 404, "message": `The requested webhook "POST ` + r.PathValue("path") + `" is not registered.`})
			return
		}
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		f.hooks = append(f.hooks, body)
		js(w, 200, map[string]any{"message": "Workflow was started", "echo": body})
	})
	f.Server = httptest.NewServer(mux)
	t.Cleanup(f.Close)
	return f
}

func (f *n8nFake) calls() []map[string]any {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]map[string]any(nil), f.hooks...)
}

func TestN8N(t *testing.T) {
	f := newN8NFake(t)
	c := n8n.New(f.URL, "n8n-key", nil)
	c.SetWebhookBase(f.URL)
	rec := &recorder{}
	cs := connect(t, NewN8N(&Env{Audit: rec, Local: principal("wf", "mcp:n8n:read")}, c))
	var l wfListOut
	mustOK(t, cs, "n8n_list_workflows", nil, &l)
	if len(l.Workflows) != 1 || l.Workflows[0].Webhooks[0] != "odoo-invoice" || l.Workflows[0].Active {
		t.Fatalf("workflows = %+v", l)
	}
	var w wfOut
	mustOK(t, cs, "n8n_get_workflow", map[string]any{"id": "2tUt1wbLX592XDdX"}, &w)
	if nb, _ := json.Marshal(w.Nodes); w.Name != "Invoice to chat" || !strings.Contains(string(nb), "webhook") {
		t.Fatalf("workflow = %+v", w)
	}
	var ex execListOut
	mustOK(t, cs, "n8n_list_executions", map[string]any{"status": "success"}, &ex)
	if len(ex.Executions) != 1 || ex.Executions[0].ID != "1000" {
		t.Fatalf("executions = %+v", ex)
	}
	var one execution
	mustOK(t, cs, "n8n_get_execution", map[string]any{"id": "1000"}, &one)

	var ac activateOut
	mustOK(t, cs, "n8n_activate_workflow", map[string]any{"id": "2tUt1wbLX592XDdX", "active": true, "dry_run": true}, &ac)
	if ac.Applied || ac.From || !ac.To {
		t.Fatalf("activate dry run = %+v", ac)
	}
	mustFail(t, cs, "n8n_activate_workflow", map[string]any{"id": "2tUt1wbLX592XDdX", "active": true}, "mcp:n8n:write")
	mustFail(t, cs, "n8n_trigger_workflow", map[string]any{"path": "odoo-invoice"}, "mcp:n8n:write")
	ws := connect(t, NewN8N(&Env{Audit: rec, Local: principal("wf", "mcp:n8n:write")}, c))
	mustFail(t, ws, "n8n_trigger_workflow", map[string]any{"path": "odoo-invoice", "data": map[string]any{"id": 1}}, "is the workflow active")
	mustFail(t, ws, "n8n_trigger_workflow", map[string]any{"path": "http://169.254.169.254/latest"}, "not a URL")
	mustOK(t, ws, "n8n_activate_workflow", map[string]any{"id": "2tUt1wbLX592XDdX", "active": true}, &ac)
	if !ac.Applied || !ac.After.Active {
		t.Fatalf("activate = %+v", ac)
	}
	var tr triggerOut
	mustOK(t, ws, "n8n_trigger_workflow", map[string]any{"path": "odoo-invoice", "data": map[string]any{"invoice": "INV/1"}, "dry_run": true}, &tr)
	if len(f.calls()) != 0 {
		t.Fatal("dry run triggered the webhook")
	}
	mustOK(t, ws, "n8n_trigger_workflow", map[string]any{"path": "odoo-invoice", "data": map[string]any{"invoice": "INV/1"}}, &tr)
	if calls := f.calls(); tr.Status != 200 || len(calls) != 1 || calls[0]["invoice"] != "INV/1" {
		t.Fatalf("trigger = %+v, calls %v", tr, calls)
	}
}

func TestPulser(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "ipai.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var in map[string]any
		_ = json.NewDecoder(r.Body).Decode(&in)
		if in["input"].(map[string]any)["wait"] == true {
			select {
			case <-release:
			case <-r.Context().Done():
				return
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{"answer": "42", "run_id": in["run_id"]})
	}))
	defer agent.Close()
	f := newN8NFake(t)
	nc := n8n.New(f.URL, "n8n-key", nil)
	nc.SetWebhookBase(f.URL)
	var mu sync.Mutex
	var notes []string
	// The http agent's endpoint is on loopback: the administrator allows it.
	guard, _ := outbound.New([]string{"127.0.0.1"})
	ps := &PulserService{DB: db, N8N: nc, HTTP: guard.Client(outbound.Options{}), Notify: func(_ context.Context, ch, text string) error {
		mu.Lock()
		defer mu.Unlock()
		notes = append(notes, ch+": "+text)
		return nil
	}}
	defer ps.Wait()
	rec := &recorder{}
	cs := connect(t, NewPulser(&Env{Audit: rec, Local: principal("agent-ops", "mcp:pulser:read")}, ps))
	mustFail(t, cs, "register_agent", map[string]any{"name": "finance", "kind": "http", "endpoint": agent.URL}, "mcp:pulser:write")
	var reg registerOut
	mustOK(t, cs, "register_agent", map[string]any{"name": "finance", "kind": "http", "endpoint": agent.URL, "dry_run": true}, &reg)
	var agents agentsOut
	mustOK(t, cs, "list_agents", nil, &agents)
	if len(agents.Agents) != 0 {
		t.Fatal("dry run registered an agent")
	}
	ws := connect(t, NewPulser(&Env{Audit: rec, Local: principal("agent-ops", "mcp:pulser:write")}, ps))
	mustOK(t, ws, "register_agent", map[string]any{"name": "finance", "kind": "http", "endpoint": agent.URL, "notify_channel": "finance-ops",
		"allowed_tools": []string{"odoo_search_read"}}, &reg)
	mustFail(t, ws, "register_agent", map[string]any{"name": "finance", "kind": "http", "endpoint": agent.URL}, "exists already")
	mustFail(t, ws, "register_agent", map[string]any{"name": "x", "kind": "shell", "endpoint": "rm"}, "use http or n8n")
	mustOK(t, cs, "list_agents", nil, &agents)
	if len(agents.Agents) != 1 || agents.Agents[0].AllowedTools[0] != "odoo_search_read" {
		t.Fatalf("agents = %+v", agents)
	}

	// Synchronous run.
	var r runOut
	mustOK(t, ws, "run_agent", map[string]any{"agent": "finance", "input": map[string]any{"q": "cash"}, "async": false}, &r)
	if r.Status != "completed" || !strings.Contains(r.Output, `"answer":"42"`) || !strings.Contains(fmtJSON(r.Trace), `"step":"http"`) || r.Actor != "agent-ops" {
		t.Fatalf("sync run = %+v", r)
	}
	// Asynchronous run, cancelled while it runs.
	mustOK(t, ws, "run_agent", map[string]any{"agent": "finance", "input": map[string]any{"wait": true}}, &r)
	if r.Status != "pending" {
		t.Fatalf("async run = %+v", r)
	}
	waitStatus := func(id, want string) runOut {
		t.Helper()
		var got runOut
		for i := 0; i < 200; i++ {
			mustOK(t, cs, "get_run", map[string]any{"run_id": id}, &got)
			if got.Status == want {
				return got
			}
			time.Sleep(10 * time.Millisecond)
		}
		t.Fatalf("run %s stayed %s; want %s", id, got.Status, want)
		return got
	}
	waitStatus(r.ID, "running")
	mustFail(t, cs, "cancel_run", map[string]any{"run_id": r.ID}, "mcp:pulser:write")
	var cr runOut
	mustOK(t, ws, "cancel_run", map[string]any{"run_id": r.ID}, &cr)
	if cr.Status != "cancelled" {
		t.Fatalf("cancel = %+v", cr)
	}
	close(release)
	ps.Wait()
	waitStatus(r.ID, "cancelled") // the finished agent call does not overwrite the cancel
	mustFail(t, ws, "cancel_run", map[string]any{"run_id": r.ID}, "cancelled already")

	// n8n agent, async, completes.
	f.mu.Lock()
	f.active = true
	f.mu.Unlock()
	mustOK(t, ws, "register_agent", map[string]any{"name": "invoice-flow", "kind": "n8n", "endpoint": "odoo-invoice"}, &reg)
	mustOK(t, ws, "run_agent", map[string]any{"agent": "invoice-flow", "input": map[string]any{"invoice": 7}}, &r)
	got := waitStatus(r.ID, "completed")
	if !strings.Contains(got.Output, "Workflow was started") || len(f.calls()) != 1 {
		t.Fatalf("n8n run = %+v", got)
	}
	var runs runsOut
	mustOK(t, cs, "list_runs", map[string]any{"agent": "finance"}, &runs)
	if len(runs.Runs) != 2 {
		t.Fatalf("finance runs = %+v", runs)
	}
	mustOK(t, cs, "list_runs", map[string]any{"status": "completed"}, &runs)
	if len(runs.Runs) != 2 {
		t.Fatalf("completed runs = %+v", runs)
	}
	mustFail(t, cs, "list_runs", map[string]any{"status": "done"}, "pending, running")
	mu.Lock()
	defer mu.Unlock()
	if len(notes) != 1 || !strings.HasPrefix(notes[0], "finance-ops: ") || !strings.Contains(notes[0], "completed") {
		t.Fatalf("notifications = %v", notes)
	}
}

func fmtJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// Stop ends the runs in flight (recorded as failed, saying why) and waits
// for them; a run asked for afterwards stays pending for the next process.
func TestPulserStop(t *testing.T) {
	ctx := context.Background()
	db, err := store.Open(ctx, filepath.Join(t.TempDir(), "ipai.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Migrate(ctx); err != nil {
		t.Fatal(err)
	}
	called := make(chan struct{}, 1)
	agent := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body) // (then the server notices the client leaving)
		called <- struct{}{}
		<-r.Context().Done() // an agent that takes its time
	}))
	defer agent.Close()
	guard, _ := outbound.New([]string{"127.0.0.1"})
	ps := &PulserService{DB: db, HTTP: guard.Client(outbound.Options{})}
	now := time.Now()
	if err := db.CreateAgent(ctx, store.Agent{ID: "a1", Name: "slow", Kind: "http", Endpoint: agent.URL, CreatedAt: now, UpdatedAt: now}); err != nil {
		t.Fatal(err)
	}
	newRun := func(id string) {
		t.Helper()
		if err := db.CreateRun(ctx, store.Run{ID: id, AgentID: "a1", Status: store.RunPending, Input: "{}", Trace: "[]", CreatedAt: now}); err != nil {
			t.Fatal(err)
		}
		if err := ps.Resume(ctx); err != nil {
			t.Fatal(err)
		}
	}
	newRun("r1")
	select {
	case <-called:
	case <-time.After(10 * time.Second):
		t.Fatal("the run did not start")
	}
	stopped := make(chan struct{})
	go func() { ps.Stop(); close(stopped) }()
	select {
	case <-stopped:
	case <-time.After(10 * time.Second):
		t.Fatal("Stop did not return while a run was in flight")
	}
	r, err := db.Run(ctx, "r1")
	if err != nil || r.Status != store.RunFailed || !strings.Contains(r.Error, "the hub stopped during the run") {
		t.Fatalf("run in flight at Stop: %+v %v", r, err)
	}
	newRun("r2")
	ps.Wait()
	if r, err := db.Run(ctx, "r2"); err != nil || r.Status != store.RunPending {
		t.Fatalf("run asked for after Stop: %+v %v", r, err)
	}
}

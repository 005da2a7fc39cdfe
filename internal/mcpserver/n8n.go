package mcpserver

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/insightpulseai/ipai/internal/connector/n8n"
)

type n8nServer struct{ c *n8n.Client }

// NewN8N returns the n8n server: workflows, executions, webhook triggers and
// activation (writes need mcp:n8n:write).
func NewN8N(e *Env, c *n8n.Client) *mcp.Server {
	n := &n8nServer{c: c}
	s := e.newServer(N8N, "List and inspect n8n workflows and executions; trigger a workflow by its webhook path and activate or deactivate workflows (these need mcp:n8n:write).")
	addTool(e, s, N8N, false, &mcp.Tool{Name: "n8n_list_workflows", Description: "List workflows (id, name, active, webhook paths)."}, n.list)
	addTool(e, s, N8N, false, &mcp.Tool{Name: "n8n_get_workflow", Description: "Get a workflow with its nodes."}, n.get)
	addTool(e, s, N8N, true, &mcp.Tool{Name: "n8n_trigger_workflow", Description: "POST data to a production webhook path of an active workflow."}, n.trigger)
	addTool(e, s, N8N, false, &mcp.Tool{Name: "n8n_list_executions", Description: "List executions, newest first."}, n.executions)
	addTool(e, s, N8N, false, &mcp.Tool{Name: "n8n_get_execution", Description: "Get one execution, optionally with its data."}, n.execution)
	addTool(e, s, N8N, true, &mcp.Tool{Name: "n8n_activate_workflow", Description: "Activate (active: true) or deactivate (active: false) a workflow."}, n.activate)
	return s
}

type wfSummary struct {
	ID       string   `json:"id"`
	Name     string   `json:"name"`
	Active   bool     `json:"active"`
	Webhooks []string `json:"webhook_paths"`
}

func summary(w n8n.Workflow) wfSummary {
	return wfSummary{ID: w.ID, Name: w.Name, Active: w.Active, Webhooks: nonNil(w.WebhookPaths())}
}

type wfListIn struct {
	Active *bool  `json:"active,omitempty"`
	Limit  int    `json:"limit,omitempty" jsonschema:"default 100, at most 250"`
	Cursor string `json:"cursor,omitempty"`
}

type wfListOut struct {
	Workflows  []wfSummary `json:"workflows"`
	NextCursor string      `json:"next_cursor,omitempty"`
}

func (n *n8nServer) list(ctx context.Context, c *Call, in wfListIn) (wfListOut, error) {
	p, err := n.c.ListWorkflows(ctx, n8n.ListOptions{Active: in.Active, Limit: min(clampN(in.Limit, 100), 250), Cursor: in.Cursor})
	if err != nil {
		return wfListOut{}, fmt.Errorf("n8n: %w", err)
	}
	out := wfListOut{Workflows: mapSlice(p.Data, summary)}
	if p.NextCursor != nil {
		out.NextCursor = *p.NextCursor
	}
	return out, nil
}

type wfIDIn struct {
	ID string `json:"id" jsonschema:"workflow id"`
}

type wfOut struct {
	wfSummary
	Nodes any `json:"nodes"`
}

func (n *n8nServer) get(ctx context.Context, c *Call, in wfIDIn) (wfOut, error) {
	w, err := n.c.GetWorkflow(ctx, in.ID)
	if err != nil {
		return wfOut{}, fmt.Errorf("n8n: %w", err)
	}
	var nodes any
	_ = json.Unmarshal(w.Nodes, &nodes)
	return wfOut{wfSummary: summary(w), Nodes: nodes}, nil
}

var webhookPathRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_/:.-]*$`)

type triggerIn struct {
	Path   string         `json:"path" jsonschema:"the webhook node's path (as in n8n_list_workflows), e.g. odoo-invoice"`
	Data   map[string]any `json:"data,omitempty" jsonschema:"JSON body sent to the webhook"`
	DryRun bool           `json:"dry_run,omitempty" jsonschema:"when true, show the request and send nothing"`
}

type triggerOut struct {
	DryRun bool   `json:"dry_run"`
	Path   string `json:"path"`
	Status int    `json:"status,omitempty"`
	Body   any    `json:"body,omitempty"`
}

func (n *n8nServer) trigger(ctx context.Context, c *Call, in triggerIn) (triggerOut, error) {
	// Only webhook paths of this n8n: never a URL, never "..".
	if !webhookPathRe.MatchString(in.Path) || regexp.MustCompile(`\.\.|//`).MatchString(in.Path) {
		return triggerOut{}, fmt.Errorf("path %q: give the webhook node's path, e.g. odoo-invoice (not a URL)", in.Path)
	}
	c.Target("n8n:webhook/" + in.Path)
	out := triggerOut{DryRun: c.DryRun, Path: in.Path}
	if c.DryRun {
		return out, nil
	}
	data := in.Data
	if data == nil {
		data = map[string]any{}
	}
	resp, err := n.c.TriggerWebhook(ctx, in.Path, data)
	if err != nil {
		return triggerOut{}, fmt.Errorf("n8n: %w (is the workflow active? see n8n_list_workflows)", err)
	}
	out.Status = resp.Status
	var body any
	if json.Unmarshal(resp.Body, &body) == nil {
		out.Body = body
	} else {
		out.Body = string(resp.Body)
	}
	return out, nil
}

type execListIn struct {
	WorkflowID string `json:"workflow_id,omitempty"`
	Status     string `json:"status,omitempty" jsonschema:"canceled, error, running, success or waiting"`
	Limit      int    `json:"limit,omitempty" jsonschema:"default 20, at most 250"`
}

// execution is n8n.Execution with its data decoded (for the output schema).
type execution struct {
	ID         string `json:"id"`
	WorkflowID string `json:"workflow_id"`
	Status     string `json:"status"`
	Mode       string `json:"mode,omitempty"`
	Finished   bool   `json:"finished"`
	StartedAt  string `json:"started_at,omitempty"`
	StoppedAt  string `json:"stopped_at,omitempty"`
	Data       any    `json:"data,omitempty"`
}

func toExecution(e n8n.Execution) execution {
	out := execution{ID: e.ID.String(), WorkflowID: e.WorkflowID.String(), Status: e.Status, Mode: e.Mode, Finished: e.Finished,
		StartedAt: e.StartedAt, StoppedAt: e.StoppedAt}
	if len(e.Data) > 0 {
		_ = json.Unmarshal(e.Data, &out.Data)
	}
	return out
}

type execListOut struct {
	Executions []execution `json:"executions"`
}

func (n *n8nServer) executions(ctx context.Context, c *Call, in execListIn) (execListOut, error) {
	p, err := n.c.ListExecutions(ctx, n8n.ExecutionOptions{WorkflowID: in.WorkflowID, Status: in.Status, Limit: min(clampN(in.Limit, 20), 250)})
	if err != nil {
		return execListOut{}, fmt.Errorf("n8n: %w", err)
	}
	return execListOut{Executions: mapSlice(p.Data, toExecution)}, nil
}

type execIn struct {
	ID          string `json:"id" jsonschema:"execution id"`
	IncludeData bool   `json:"include_data,omitempty"`
}

func (n *n8nServer) execution(ctx context.Context, c *Call, in execIn) (execution, error) {
	e, err := n.c.GetExecution(ctx, in.ID, in.IncludeData)
	if err != nil {
		return execution{}, fmt.Errorf("n8n: %w", err)
	}
	return toExecution(e), nil
}

type activateIn struct {
	ID     string `json:"id" jsonschema:"workflow id"`
	Active bool   `json:"active" jsonschema:"true to activate, false to deactivate"`
	DryRun bool   `json:"dry_run,omitempty" jsonschema:"when true, show the change and make none"`
}

type activateOut struct {
	DryRun  bool      `json:"dry_run"`
	From    bool      `json:"from"`
	To      bool      `json:"to"`
	Applied bool      `json:"applied"`
	After   wfSummary `json:"workflow"`
}

func (n *n8nServer) activate(ctx context.Context, c *Call, in activateIn) (activateOut, error) {
	c.Target("n8n:workflow/" + in.ID)
	w, err := n.c.GetWorkflow(ctx, in.ID)
	if err != nil {
		return activateOut{}, fmt.Errorf("n8n: %w", err)
	}
	out := activateOut{DryRun: c.DryRun, From: w.Active, To: in.Active, After: summary(w)}
	if c.DryRun || w.Active == in.Active {
		return out, nil
	}
	if in.Active {
		w, err = n.c.Activate(ctx, in.ID)
	} else {
		w, err = n.c.Deactivate(ctx, in.ID)
	}
	if err != nil {
		return activateOut{}, fmt.Errorf("n8n: %w", err)
	}
	out.Applied, out.After = true, summary(w)
	return out, nil
}

// Package n8nflow keeps the n8n side of ChatOps: a registry of n8n
// workflows synced from the n8n API (interval and on demand), the log of
// their executions (updated by signed callbacks), and the signed actions
// n8n may run on Odoo as a configured integration user.
package n8nflow

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/connector/n8n"
	"github.com/insightpulseai/ipai/internal/rule/action"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/webhooksig"
)

// Service is the n8n registry and flows.
type Service struct {
	DB      *store.DB
	Audit   *audit.Log
	Log     *slog.Logger
	Clients action.Clients
	Cfg     config.N8NFlows
	Now     func() time.Time
}

func (f *Service) now() time.Time {
	if f.Now != nil {
		return f.Now()
	}
	return time.Now()
}

func (f *Service) audit(ctx context.Context, e audit.Entry) {
	if f.Audit == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_ = f.Audit.Write(ctx, e)
}

// ErrNotConfigured says chatops.n8n.connector is missing.
var ErrNotConfigured = errors.New("no n8n is configured; set chatops.n8n.connector in ipai.yaml")

func (f *Service) client(ctx context.Context) (*n8n.Client, error) {
	if f.Cfg.Connector == "" {
		return nil, ErrNotConfigured
	}
	return f.Clients.N8N(ctx, f.Cfg.Connector)
}

// Describe reads a workflow's trigger type and webhook path from its nodes.
func Describe(w n8n.Workflow) (trigger, path string) {
	var nodes []n8n.Node
	_ = json.Unmarshal(w.Nodes, &nodes)
	trigger = "manual"
	for _, n := range nodes {
		t := strings.ToLower(n.Type)
		switch {
		case strings.Contains(t, "webhook"):
			p, _ := n.Parameters["path"].(string)
			return "webhook", p
		case strings.Contains(t, "cron"), strings.Contains(t, "schedule"):
			trigger = "schedule"
		}
	}
	return trigger, ""
}

// Sync reads every workflow from n8n into the registry.
func (f *Service) Sync(ctx context.Context) (int, error) {
	cl, err := f.client(ctx)
	if err != nil {
		return 0, err
	}
	wfs, err := cl.AllWorkflows(ctx)
	if err != nil {
		return 0, fmt.Errorf("list n8n workflows: %w", err)
	}
	now := f.now()
	out := make([]store.N8NWorkflow, 0, len(wfs))
	for _, w := range wfs {
		trig, path := Describe(w)
		tags := []string{}
		for _, t := range w.Tags {
			tags = append(tags, t.Name)
		}
		tj, _ := json.Marshal(tags)
		out = append(out, store.N8NWorkflow{ID: w.ID, Name: w.Name, Active: w.Active, Tags: string(tj), TriggerType: trig,
			WebhookPath: path, LastSync: now})
	}
	return len(out), f.DB.SyncN8NWorkflows(ctx, f.Cfg.Connector, out)
}

// Loop syncs every interval (default 5m) until ctx ends.
func (f *Service) Loop(ctx context.Context) {
	every := f.Cfg.SyncInterval
	if every <= 0 {
		every = 5 * time.Minute
	}
	t := time.NewTimer(time.Second)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		if n, err := f.Sync(ctx); err != nil && ctx.Err() == nil {
			f.Log.Warn("n8n workflow sync failed", "err", err)
		} else if err == nil {
			f.Log.Debug("n8n workflows synced", "n", n)
		}
		t.Reset(every)
	}
}

// Find returns a registered workflow by id or name (case-insensitive).
func (f *Service) Find(ctx context.Context, ref string) (store.N8NWorkflow, error) {
	for attempt := 0; attempt < 2; attempt++ {
		wfs, err := f.DB.N8NWorkflows(ctx, f.Cfg.Connector)
		if err != nil {
			return store.N8NWorkflow{}, err
		}
		for _, w := range wfs {
			if w.ID == ref || strings.EqualFold(w.Name, ref) {
				return w, nil
			}
		}
		if attempt == 0 {
			if _, err := f.Sync(ctx); err != nil {
				return store.N8NWorkflow{}, err
			}
		}
	}
	return store.N8NWorkflow{}, fmt.Errorf("no n8n workflow %q (see GET /api/v1/n8n/workflows)", ref)
}

// Run triggers a webhook workflow with input and logs the execution.
func (f *Service) Run(ctx context.Context, ref string, input json.RawMessage, source string) (string, error) {
	w, err := f.Find(ctx, ref)
	if err != nil {
		return "", err
	}
	if w.TriggerType != "webhook" || w.WebhookPath == "" {
		return "", fmt.Errorf("workflow %q has no webhook trigger, so it cannot be run from here", w.Name)
	}
	if !w.Active {
		return "", fmt.Errorf("workflow %q is not active in n8n; activate it first", w.Name)
	}
	cl, err := f.client(ctx)
	if err != nil {
		return "", err
	}
	id := "exe_" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", "")
	e := store.N8NExecution{ID: id, Connector: f.Cfg.Connector, WorkflowID: w.ID, Source: source, Status: store.ExecRunning,
		StartedAt: f.now(), Input: string(input)}
	if err := f.DB.InsertN8NExecution(ctx, e); err != nil {
		return "", err
	}
	body := map[string]any{"ipai_execution_id": id, "source": source, "input": input}
	resp, err := cl.TriggerWebhook(ctx, w.WebhookPath, body)
	status, errMsg := store.ExecRunning, ""
	if err != nil {
		status, errMsg = store.ExecError, err.Error()
	}
	if _, ferr := f.DB.FinishN8NExecution(ctx, id, "", status, string(resp.Body), errMsg, f.now()); ferr != nil {
		return "", ferr
	}
	if err != nil {
		return "", fmt.Errorf("n8n workflow %q: %w", w.Name, err)
	}
	return fmt.Sprintf("▶️ Started n8n workflow **%s** (execution `%s`): %s", w.Name, id, strings.TrimSpace(string(resp.Body))), nil
}

// Verify checks a callback's or trigger's signature.
func (f *Service) Verify(h http.Header, body []byte) error {
	if f.Cfg.Secret == "" {
		return &webhooksig.ErrUnverified{Reason: "chatops.n8n.secret is not set, so n8n's calls are refused"}
	}
	scheme := f.Cfg.Scheme
	if scheme == "" {
		scheme = webhooksig.SchemeHMACHex
	}
	_, err := webhooksig.Verify(scheme, []string{f.Cfg.Secret}, h, body, f.now())
	return err
}

// Callback is what a workflow posts when it is done.
type Callback struct {
	WorkflowID      string          `json:"workflow_id"`
	ExecutionID     json.RawMessage `json:"execution_id"`
	IpaiExecutionID string          `json:"ipai_execution_id"`
	Status          string          `json:"status"`
	Data            json.RawMessage `json:"data"`
	ResModel        string          `json:"res_model"`
	ResID           int64           `json:"res_id"`
}

// ParseCallback reads a callback body.
func ParseCallback(body []byte) (Callback, error) {
	var c Callback
	if err := json.Unmarshal(body, &c); err != nil {
		return c, fmt.Errorf("body is not a callback: %v", err)
	}
	switch c.Status {
	case "success", "error", "canceled", "running", "waiting":
	default:
		return c, fmt.Errorf("status %q: expected success, error, canceled, running or waiting", c.Status)
	}
	if c.WorkflowID == "" && c.IpaiExecutionID == "" {
		return c, errors.New("workflow_id (or ipai_execution_id) is required")
	}
	return c, nil
}

func rawID(r json.RawMessage) string {
	var s string
	if json.Unmarshal(r, &s) == nil {
		return s
	}
	var n json.Number
	if json.Unmarshal(r, &n) == nil {
		return n.String()
	}
	return ""
}

// Record applies a callback to the executions log.
func (f *Service) Record(ctx context.Context, c Callback) (string, error) {
	n8nID := rawID(c.ExecutionID)
	now := f.now()
	errMsg := ""
	if c.Status == "error" {
		errMsg = strings.Trim(string(c.Data), `"`)
	}
	ok, err := f.DB.FinishN8NExecution(ctx, c.IpaiExecutionID, n8nID, c.Status, string(c.Data), errMsg, now)
	if err != nil {
		return "", err
	}
	id := c.IpaiExecutionID
	if !ok {
		id = "exe_" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", "")
		e := store.N8NExecution{ID: id, Connector: f.Cfg.Connector, WorkflowID: c.WorkflowID, N8NExecutionID: n8nID,
			Source: "webhook", Status: c.Status, StartedAt: now, Output: string(c.Data), Error: errMsg,
			ResModel: c.ResModel, ResID: c.ResID}
		if c.Status != "running" && c.Status != "waiting" {
			e.FinishedAt = now
		}
		if err := f.DB.InsertN8NExecution(ctx, e); err != nil {
			return "", err
		}
	}
	f.audit(ctx, audit.Entry{Actor: "n8n", Action: "n8n.callback", Target: c.WorkflowID,
		Message: fmt.Sprintf("execution %s %s", n8nID, c.Status)})
	return id, nil
}

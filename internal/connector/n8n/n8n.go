// Package n8n is ipai's client of the n8n public API v1 (X-N8N-API-KEY):
// readiness, workflows (list, get, create, update, delete, activate,
// deactivate), executions, and triggering production webhooks. It is tested
// against a real n8n (see n8n_integration_test.go and scripts/n8n-install.sh).
package n8n

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/insightpulseai/ipai/internal/connector"
)

func init() {
	connector.Register(connector.Type{
		Name:              "n8n",
		AuthTypes:         []string{connector.AuthAPIKey},
		DefaultAPIVersion: "v1",
		Fields: []connector.Field{
			{Name: "webhook_url", Label: "webhook base URL (default: the base URL)"},
		},
		Secrets: []string{"api_key"},
		New: func(cfg connector.Config, hc *http.Client) (connector.Connector, error) {
			c := New(cfg.BaseURL, cfg.Secret("api_key"), hc)
			if w := cfg.Setting("webhook_url"); w != "" {
				c.webhookBase = strings.TrimRight(w, "/")
			}
			return c, nil
		},
	})
}

// Client calls one n8n instance.
type Client struct {
	base, key, webhookBase string
	hc                     *http.Client
}

var _ connector.Connector = (*Client)(nil)

// New returns a client; webhooks go to baseURL unless SetWebhookBase is used.
func New(baseURL, apiKey string, hc *http.Client) *Client {
	b := strings.TrimRight(baseURL, "/")
	return &Client{base: b, key: apiKey, webhookBase: b, hc: connector.HTTPClient(hc, b)}
}

// SetWebhookBase sets where TriggerWebhook posts (n8n's WEBHOOK_URL).
func (c *Client) SetWebhookBase(u string) { c.webhookBase = strings.TrimRight(u, "/") }

func decodeError(resp *connector.Response) error {
	var e struct {
		Message string `json:"message"`
		Code    any    `json:"code"`
		Hint    string `json:"hint"`
	}
	if resp.IsHTML() || resp.JSON(&e) != nil || e.Message == "" {
		return connector.ServiceErrorf(resp)
	}
	msg := e.Message
	if e.Hint != "" {
		msg += " (" + e.Hint + ")"
	}
	return &connector.ServiceError{Status: resp.Status, Message: msg}
}

func (c *Client) api(ctx context.Context, method, path string, body, out any) error {
	req, err := connector.NewRequest(ctx, method, c.base+"/api/v1"+path, body)
	if err != nil {
		return err
	}
	req.Header.Set("X-N8N-API-KEY", c.key)
	_, err = connector.Call(c.hc, req, decodeError, out)
	return err
}

// Ready calls GET /healthz/readiness: nil when n8n's database is connected
// and migrated.
func (c *Client) Ready(ctx context.Context) error {
	req, err := connector.NewRequest(ctx, http.MethodGet, c.base+"/healthz/readiness", nil)
	if err != nil {
		return err
	}
	resp, err := connector.Send(c.hc, req)
	if err != nil {
		return err
	}
	var st struct {
		Status string `json:"status"`
	}
	if resp.Status == http.StatusServiceUnavailable {
		_ = resp.JSON(&st)
		return &connector.ServiceError{Status: resp.Status, Message: "n8n is not ready (status " + st.Status + "): database not connected or not migrated"}
	}
	if !resp.OK() {
		return decodeError(resp)
	}
	if err := resp.JSON(&st); err != nil {
		return err
	}
	if st.Status != "ok" {
		return connector.Malformed("readiness status %q", st.Status)
	}
	return nil
}

// Workflow is an n8n workflow. Nodes, connections and settings are kept as
// raw JSON so nothing is lost in a round trip.
type Workflow struct {
	ID          string          `json:"id,omitempty"`
	Name        string          `json:"name"`
	Active      bool            `json:"active"`
	IsArchived  bool            `json:"isArchived,omitempty"`
	VersionID   string          `json:"versionId,omitempty"`
	CreatedAt   string          `json:"createdAt,omitempty"`
	UpdatedAt   string          `json:"updatedAt,omitempty"`
	Nodes       json.RawMessage `json:"nodes"`
	Connections json.RawMessage `json:"connections"`
	Settings    json.RawMessage `json:"settings"`
	StaticData  json.RawMessage `json:"staticData,omitempty"`
	Tags        []Tag           `json:"tags,omitempty"`
}

// Tag is a workflow tag.
type Tag struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name"`
}

// Node is the part of a workflow node ipai reads.
type Node struct {
	Name       string         `json:"name"`
	Type       string         `json:"type"`
	Parameters map[string]any `json:"parameters"`
	WebhookID  string         `json:"webhookId"`
}

// WebhookPaths returns the paths of the workflow's webhook trigger nodes.
func (w Workflow) WebhookPaths() []string {
	var nodes []Node
	_ = json.Unmarshal(w.Nodes, &nodes)
	var out []string
	for _, n := range nodes {
		if strings.Contains(strings.ToLower(n.Type), "webhook") {
			if p, ok := n.Parameters["path"].(string); ok {
				out = append(out, p)
			}
		}
	}
	return out
}

// ListOptions filters ListWorkflows.
type ListOptions struct {
	Active *bool
	Name   string
	Tags   string
	Limit  int
	Cursor string
}

// WorkflowPage is one page of workflows.
type WorkflowPage struct {
	Data       []Workflow `json:"data"`
	NextCursor *string    `json:"nextCursor"`
}

// ListWorkflows returns one page of workflows.
func (c *Client) ListWorkflows(ctx context.Context, o ListOptions) (WorkflowPage, error) {
	q := url.Values{}
	if o.Active != nil {
		q.Set("active", strconv.FormatBool(*o.Active))
	}
	if o.Name != "" {
		q.Set("name", o.Name)
	}
	if o.Tags != "" {
		q.Set("tags", o.Tags)
	}
	var p WorkflowPage
	err := c.api(ctx, http.MethodGet, pagePath("/workflows", q, o.Limit, o.Cursor), nil, &p)
	if err == nil && p.Data == nil {
		err = connector.Malformed("workflow list has no data")
	}
	return p, err
}

// AllWorkflows follows the cursor through every page.
func (c *Client) AllWorkflows(ctx context.Context) ([]Workflow, error) {
	var all []Workflow
	o := ListOptions{Limit: 250}
	for {
		p, err := c.ListWorkflows(ctx, o)
		if err != nil {
			return nil, err
		}
		all = append(all, p.Data...)
		if p.NextCursor == nil || *p.NextCursor == "" {
			return all, nil
		}
		o.Cursor = *p.NextCursor
	}
}

// GetWorkflowRaw returns a workflow's JSON exactly as n8n sends it.
func (c *Client) GetWorkflowRaw(ctx context.Context, id string) (json.RawMessage, error) {
	var raw json.RawMessage
	err := c.api(ctx, http.MethodGet, "/workflows/"+url.PathEscape(id), nil, &raw)
	return raw, err
}

// GetWorkflow returns one workflow.
func (c *Client) GetWorkflow(ctx context.Context, id string) (Workflow, error) {
	var w Workflow
	err := c.api(ctx, http.MethodGet, "/workflows/"+url.PathEscape(id), nil, &w)
	return w, err
}

// CreateWorkflow creates a workflow (inactive) from its JSON; read-only
// fields are stripped first (see Writable).
func (c *Client) CreateWorkflow(ctx context.Context, wf any) (Workflow, error) {
	body, err := Writable(wf)
	if err != nil {
		return Workflow{}, err
	}
	var w Workflow
	err = c.api(ctx, http.MethodPost, "/workflows", body, &w)
	return w, err
}

// UpdateWorkflow replaces a workflow (PUT; read-only fields stripped).
func (c *Client) UpdateWorkflow(ctx context.Context, id string, wf any) (Workflow, error) {
	body, err := Writable(wf)
	if err != nil {
		return Workflow{}, err
	}
	var w Workflow
	err = c.api(ctx, http.MethodPut, "/workflows/"+url.PathEscape(id), body, &w)
	return w, err
}

// DeleteWorkflow deletes a workflow.
func (c *Client) DeleteWorkflow(ctx context.Context, id string) error {
	return c.api(ctx, http.MethodDelete, "/workflows/"+url.PathEscape(id), nil, nil)
}

// Activate activates a workflow (its production webhooks start answering).
func (c *Client) Activate(ctx context.Context, id string) (Workflow, error) {
	var w Workflow
	err := c.api(ctx, http.MethodPost, "/workflows/"+url.PathEscape(id)+"/activate", nil, &w)
	return w, err
}

// Deactivate deactivates a workflow.
func (c *Client) Deactivate(ctx context.Context, id string) (Workflow, error) {
	var w Workflow
	err := c.api(ctx, http.MethodPost, "/workflows/"+url.PathEscape(id)+"/deactivate", nil, &w)
	return w, err
}

// Execution is an n8n execution.
type Execution struct {
	ID         json.Number     `json:"id"`
	Finished   bool            `json:"finished"`
	Mode       string          `json:"mode"`
	Status     string          `json:"status"`
	StartedAt  string          `json:"startedAt"`
	StoppedAt  string          `json:"stoppedAt"`
	WorkflowID json.Number     `json:"workflowId"`
	Data       json.RawMessage `json:"data,omitempty"`
}

// UnmarshalJSON accepts ids as numbers or strings (the spec says number,
// real instances send strings).
func (e *Execution) UnmarshalJSON(b []byte) error {
	type plain Execution
	var aux struct {
		plain
		ID         any `json:"id"`
		WorkflowID any `json:"workflowId"`
	}
	if err := json.Unmarshal(b, &aux); err != nil {
		return err
	}
	*e = Execution(aux.plain)
	e.ID = json.Number(fmt.Sprint(aux.ID))
	e.WorkflowID = json.Number(fmt.Sprint(aux.WorkflowID))
	return nil
}

// ExecutionOptions filters ListExecutions.
type ExecutionOptions struct {
	WorkflowID  string
	Status      string
	IncludeData bool
	Limit       int
	Cursor      string
}

// ExecutionPage is one page of executions.
type ExecutionPage struct {
	Data       []Execution `json:"data"`
	NextCursor *string     `json:"nextCursor"`
}

// ListExecutions returns one page of executions, newest first.
func (c *Client) ListExecutions(ctx context.Context, o ExecutionOptions) (ExecutionPage, error) {
	q := url.Values{}
	if o.WorkflowID != "" {
		q.Set("workflowId", o.WorkflowID)
	}
	if o.Status != "" {
		q.Set("status", o.Status)
	}
	if o.IncludeData {
		q.Set("includeData", "true")
	}
	var p ExecutionPage
	err := c.api(ctx, http.MethodGet, pagePath("/executions", q, o.Limit, o.Cursor), nil, &p)
	return p, err
}

// pagePath adds the paging options (when set) to the filters q and returns
// path with them as its query.
func pagePath(path string, q url.Values, limit int, cursor string) string {
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	if cursor != "" {
		q.Set("cursor", cursor)
	}
	if len(q) > 0 {
		path += "?" + q.Encode()
	}
	return path
}

// GetExecution returns one execution.
func (c *Client) GetExecution(ctx context.Context, id string, includeData bool) (Execution, error) {
	var e Execution
	path := "/executions/" + url.PathEscape(id)
	if includeData {
		path += "?includeData=true"
	}
	err := c.api(ctx, http.MethodGet, path, nil, &e)
	return e, err
}

// WebhookResponse is the answer of a production webhook.
type WebhookResponse struct {
	Status int
	Body   []byte
}

// ErrWebhookNotRegistered is returned (wrapped) when n8n answers 404 for
// the webhook path: the workflow is not active (yet).
var ErrWebhookNotRegistered = errors.New("webhook not registered")

// TriggerWebhook POSTs body as JSON to <webhook base>/webhook/<path> and
// returns n8n's answer. A path starting with "/" or "http" is used as is
// (relative to the webhook base, or absolute).
func (c *Client) TriggerWebhook(ctx context.Context, path string, body any) (WebhookResponse, error) {
	u := path
	switch {
	case strings.HasPrefix(path, "http://"), strings.HasPrefix(path, "https://"):
	case strings.HasPrefix(path, "/"):
		u = c.webhookBase + path
	default:
		u = c.webhookBase + "/webhook/" + path
	}
	req, err := connector.NewRequest(ctx, http.MethodPost, u, body)
	if err != nil {
		return WebhookResponse{}, err
	}
	resp, err := connector.Send(c.hc, req)
	if err != nil {
		return WebhookResponse{}, err
	}
	out := WebhookResponse{Status: resp.Status, Body: resp.Body}
	if resp.Status == http.StatusNotFound {
		return out, fmt.Errorf("%w: %w", ErrWebhookNotRegistered, decodeError(resp))
	}
	if !resp.OK() {
		return out, decodeError(resp)
	}
	return out, nil
}

// Test checks readiness (reachable), lists one workflow with the API key
// (auth) and that the public API v1 is served (version). n8n does not show
// its own version to API keys, so the report's version is the API's.
func (c *Client) Test(ctx context.Context, p *connector.Probe) {
	if err := c.Ready(ctx); err != nil {
		p.Fail(connector.CheckReachable, err)
		return
	}
	p.Pass(connector.CheckReachable, "/healthz/readiness ok")
	if c.key == "" {
		p.Fail(connector.CheckAuth, fmt.Errorf("%w: no API key set", connector.ErrAuth))
		return
	}
	_, err := c.ListWorkflows(ctx, ListOptions{Limit: 1})
	var se *connector.ServiceError
	if errors.As(err, &se) && se.Status == http.StatusNotFound {
		p.Pass(connector.CheckAuth, "not checked")
		p.Fail(connector.CheckVersion, fmt.Errorf("%w: the public API /api/v1 is not served (disabled with N8N_PUBLIC_API_DISABLED, or n8n older than 0.214)", connector.ErrIncompatible))
		return
	}
	if err != nil {
		p.Fail(connector.CheckAuth, err)
		return
	}
	p.Pass(connector.CheckAuth, "API key accepted")
	p.Version("api/v1")
	p.Pass(connector.CheckVersion, "public API v1 served")
}

package api

import (
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/chatops/n8nflow"
	"github.com/insightpulseai/ipai/internal/event"
	"github.com/insightpulseai/ipai/internal/problem"
)

func init() {
	route("GET", "/api/v1/n8n/workflows", auth.RoleUser, "", (*Server).n8nWorkflows)
	route("POST", "/api/v1/n8n/sync", auth.RoleManager, "n8n.sync", (*Server).n8nSync)
	route("GET", "/api/v1/n8n/executions", auth.RoleUser, "", (*Server).n8nExecutions)
	// n8n calls these, signed (chatops.n8n.scheme/secret).
	routeBody("POST", "/integrations/n8n/callback", auth.RolePublic, event.MaxMaxBody, (*Server).n8nCallback)
	routeBody("POST", "/integrations/n8n/trigger/{action}", auth.RolePublic, event.MaxMaxBody, (*Server).n8nTrigger)
	// The original's generic event hub.
	routeBody("POST", "/integrations/event", auth.RolePublic, event.MaxMaxBody, (*Server).eventHub)
}

// NeedFlows returns f, or the 503 the API and the admin UI answer when n8n
// flows are not set up (f nil).
func NeedFlows(f *n8nflow.Service) (*n8nflow.Service, error) {
	return need(f, "n8n flows are not set up on this hub")
}

func (s *Server) flows() (*n8nflow.Service, error) { return NeedFlows(s.Flows) }

type workflowView struct {
	Connector   string    `json:"connector"`
	ID          string    `json:"id"`
	Name        string    `json:"name"`
	Active      bool      `json:"active"`
	Tags        []string  `json:"tags"`
	TriggerType string    `json:"trigger_type"`
	WebhookPath string    `json:"webhook_path,omitempty"`
	LastSync    time.Time `json:"last_sync"`
}

func (s *Server) n8nWorkflows(w http.ResponseWriter, r *http.Request) error {
	f, err := s.flows()
	if err != nil {
		return err
	}
	wfs, err := s.DB.N8NWorkflows(r.Context(), f.Cfg.Connector)
	if err != nil {
		return err
	}
	out := []workflowView{}
	for _, x := range wfs {
		v := workflowView{Connector: x.Connector, ID: x.ID, Name: x.Name, Active: x.Active, TriggerType: x.TriggerType,
			WebhookPath: x.WebhookPath, LastSync: x.LastSync}
		_ = json.Unmarshal([]byte(x.Tags), &v.Tags)
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
	return nil
}

func (s *Server) n8nSync(w http.ResponseWriter, r *http.Request) error {
	f, err := s.flows()
	if err != nil {
		return err
	}
	n, err := f.Sync(r.Context())
	if errors.Is(err, n8nflow.ErrNotConfigured) {
		return problem.BadRequest("%v", err)
	}
	if err != nil {
		return &problem.Error{Status: http.StatusBadGateway, Code: "upstream", Message: err.Error()}
	}
	Note(r, "n8n:"+f.Cfg.Connector, "workflows synced", map[string]any{"n": n})
	writeJSON(w, http.StatusOK, map[string]any{"synced": n})
	return nil
}

type executionView struct {
	ID             string          `json:"id"`
	WorkflowID     string          `json:"workflow_id"`
	N8NExecutionID string          `json:"n8n_execution_id,omitempty"`
	Source         string          `json:"source"`
	Status         string          `json:"status"`
	StartedAt      time.Time       `json:"started_at"`
	FinishedAt     *time.Time      `json:"finished_at,omitempty"`
	DurationMS     int64           `json:"duration_ms"`
	Input          json.RawMessage `json:"input,omitempty"`
	Output         json.RawMessage `json:"output,omitempty"`
	Error          string          `json:"error,omitempty"`
	ResModel       string          `json:"res_model,omitempty"`
	ResID          int64           `json:"res_id,omitempty"`
}

func rawOrString(s string) json.RawMessage {
	if s == "" {
		return nil
	}
	if json.Valid([]byte(s)) {
		return json.RawMessage(s)
	}
	b, _ := json.Marshal(s)
	return b
}

func (s *Server) n8nExecutions(w http.ResponseWriter, r *http.Request) error {
	if _, err := s.flows(); err != nil {
		return err
	}
	limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
	es, err := s.DB.N8NExecutions(r.Context(), r.URL.Query().Get("workflow_id"), limit)
	if err != nil {
		return err
	}
	out := []executionView{}
	for _, e := range es {
		v := executionView{ID: e.ID, WorkflowID: e.WorkflowID, N8NExecutionID: e.N8NExecutionID, Source: e.Source, Status: e.Status,
			StartedAt: e.StartedAt, DurationMS: e.Duration().Milliseconds(), Input: rawOrString(e.Input), Output: rawOrString(e.Output),
			Error: e.Error, ResModel: e.ResModel, ResID: e.ResID}
		if !e.FinishedAt.IsZero() {
			t := e.FinishedAt
			v.FinishedAt = &t
		}
		out = append(out, v)
	}
	writeJSON(w, http.StatusOK, map[string]any{"data": out})
	return nil
}

// readSigned is the flows service and the body, its n8n signature checked.
func (s *Server) readSigned(r *http.Request) (*n8nflow.Service, []byte, error) {
	f, err := s.flows()
	if err != nil {
		return nil, nil, err
	}
	body, err := readBody(r)
	if err != nil {
		return nil, nil, err
	}
	if err := f.Verify(r.Header, body); err != nil {
		return nil, nil, problem.Unauthorized("%v", err)
	}
	return f, body, nil
}

func (s *Server) n8nCallback(w http.ResponseWriter, r *http.Request) error {
	f, body, err := s.readSigned(r)
	if err != nil {
		return err
	}
	c, err := n8nflow.ParseCallback(body)
	if err != nil {
		return problem.BadRequest("%v", err)
	}
	id, err := f.Record(r.Context(), c)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "execution": id})
	return nil
}

func (s *Server) n8nTrigger(w http.ResponseWriter, r *http.Request) error {
	f, body, err := s.readSigned(r)
	if err != nil {
		return err
	}
	action := r.PathValue("action")
	t, err := n8nflow.ParseTrigger(action, body)
	if err != nil {
		return problem.BadRequest("%v", err)
	}
	out, err := f.Trigger(r.Context(), action, t)
	switch {
	case errors.Is(err, n8nflow.ErrRefused):
		return problem.Forbidden("%v", err)
	case err != nil && strings.HasPrefix(err.Error(), "odoo:"):
		writeJSON(w, http.StatusUnprocessableEntity, map[string]any{"status": "error", "message": err.Error()})
		return nil
	case err != nil:
		return err
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// EventHubRequest is the original's generic event hub body.
type EventHubRequest struct {
	Token     string          `json:"token"`
	Source    string          `json:"source"`
	EventType string          `json:"event_type"`
	Ref       string          `json:"ref"`
	Payload   json.RawMessage `json:"payload"`
	CompanyID int64           `json:"company_id"`
}

// ParseEventHub reads an event hub body.
func ParseEventHub(body []byte) (EventHubRequest, error) {
	var e EventHubRequest
	if err := json.Unmarshal(body, &e); err != nil {
		return e, err
	}
	if e.Source == "" || e.EventType == "" {
		return e, errors.New("source and event_type are required")
	}
	return e, nil
}

// eventHub stores {token?, source, event_type, ref, payload, company_id} as
// an event (type <event_type>, source hub:<source>); the token (body or
// X-Ipai-Token) must be one of chatops.event_tokens.
func (s *Server) eventHub(w http.ResponseWriter, r *http.Request) error {
	co, body, err := s.chatBody(r, true)
	if err != nil {
		return err
	}
	e, err := ParseEventHub(body)
	if err != nil {
		return problem.BadRequest("%v", err)
	}
	tok := e.Token
	if h := r.Header.Get("X-Ipai-Token"); h != "" {
		tok = h
	}
	ok := false
	for _, t := range co.Cfg.EventTokens {
		ok = ok || subtle.ConstantTimeCompare([]byte(t), []byte(tok)) == 1
	}
	if !ok {
		return problem.Unauthorized("no or wrong token: send one of chatops.event_tokens as token or X-Ipai-Token")
	}
	payload, _ := json.Marshal(map[string]any{"ref": e.Ref, "company_id": e.CompanyID, "payload": e.Payload})
	key := ""
	if e.Ref != "" {
		key = e.EventType + ":" + e.Ref
	}
	res, err := s.Ingest(r.Context(), event.Request{Source: "hub:" + e.Source, Type: e.EventType, IdemKey: key, Payload: payload})
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "event_id": res.EventID, "duplicate": res.Duplicate})
	return nil
}

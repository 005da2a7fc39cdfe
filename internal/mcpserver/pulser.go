package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"
	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/insightpulseai/ipai/internal/connector/n8n"
	"github.com/insightpulseai/ipai/internal/outbound"
	"github.com/insightpulseai/ipai/internal/store"
)

// PulserService runs Pulser agents. Runs are stored before they start, so a
// hub that stops mid-run finds its pending runs again (Resume).
type PulserService struct {
	DB *store.DB
	// HTTP calls http agents' endpoints: a client of the outbound guard
	// without an allowance of its own (agent URLs are set by MCP clients,
	// so only outbound.allow opens private addresses). Nil: the guard
	// without outbound.allow entries.
	HTTP *http.Client
	N8N  *n8n.Client
	// Notify, when set, posts a finished run's result to the agent's
	// Mattermost channel.
	Notify func(ctx context.Context, channel, text string) error
	Now    func() time.Time

	once    sync.Once
	wg      sync.WaitGroup
	mu      sync.Mutex
	cancels map[string]context.CancelFunc
	stopped bool // by Stop: no run starts any more
}

func (p *PulserService) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

// Wait waits for runs started in the background.
func (p *PulserService) Wait() { p.wg.Wait() }

// Stop stops the runs in flight here (each is recorded as failed: the hub
// stopped during the run) and waits for them. Runs asked for afterwards
// stay pending, for the next hub process to resume.
func (p *PulserService) Stop() {
	p.mu.Lock()
	p.stopped = true
	for _, cancel := range p.cancels {
		cancel()
	}
	p.mu.Unlock()
	p.wg.Wait()
}

// Resume starts the pending runs (after a restart).
func (p *PulserService) Resume(ctx context.Context) error {
	ids, err := p.DB.PendingRuns(ctx, 1000)
	if err != nil {
		return err
	}
	for _, id := range ids {
		p.start(id)
	}
	return nil
}

func (p *PulserService) start(id string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		p.execute(context.Background(), id)
	}()
}

// execute claims and runs one run; a run already claimed is left alone.
func (p *PulserService) execute(ctx context.Context, id string) {
	ok, err := p.DB.ClaimRun(ctx, id, p.now())
	if err != nil || !ok {
		return
	}
	r, err := p.DB.Run(ctx, id)
	if err != nil {
		return
	}
	a, err := p.DB.Agent(ctx, r.AgentID)
	if err != nil {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
	p.mu.Lock()
	if p.cancels == nil {
		p.cancels = map[string]context.CancelFunc{}
	}
	p.cancels[id] = cancel
	if p.stopped {
		cancel()
	}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.cancels, id)
		p.mu.Unlock()
		cancel()
	}()
	start := p.now()
	out, err := p.invoke(rctx, a, r)
	step := map[string]any{"step": a.Kind, "target": a.Endpoint, "started_at": start.UTC().Format(time.RFC3339Nano),
		"duration_ms": p.now().Sub(start).Milliseconds()}
	status, errText := store.RunCompleted, ""
	if err != nil {
		status, errText = store.RunFailed, err.Error()
		p.mu.Lock()
		if p.stopped {
			errText = "the hub stopped during the run (" + errText + "); start it again"
		}
		p.mu.Unlock()
		step["error"] = errText
	}
	trace, _ := json.Marshal([]any{step})
	if done, _ := p.DB.FinishRun(context.WithoutCancel(ctx), id, status, out, errText, string(trace), p.now()); done && a.NotifyChannel != "" && p.Notify != nil {
		msg := fmt.Sprintf("Pulser run %s of agent %s: %s", id, a.Name, status)
		if errText != "" {
			msg += "\n" + errText
		}
		_ = p.Notify(ctx, a.NotifyChannel, msg)
	}
}

func (p *PulserService) invoke(ctx context.Context, a store.Agent, r store.Run) (string, error) {
	var input any
	_ = json.Unmarshal([]byte(r.Input), &input)
	switch a.Kind {
	case "n8n":
		if p.N8N == nil {
			return "", errors.New("agent is an n8n workflow but no n8n is configured (N8N_URL)")
		}
		resp, err := p.N8N.TriggerWebhook(ctx, a.Endpoint, map[string]any{"run_id": r.ID, "agent": a.Name, "input": input})
		if err != nil {
			return "", err
		}
		return string(resp.Body), nil
	case "http":
		p.once.Do(func() {
			if p.HTTP == nil {
				p.HTTP = outbound.Default().Client(outbound.Options{Timeout: 5 * time.Minute})
			}
		})
		hc := p.HTTP
		body, _ := json.Marshal(map[string]any{"run_id": r.ID, "agent": a.Name, "input": input})
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, a.Endpoint, bytes.NewReader(body))
		if err != nil {
			return "", err
		}
		req.Header.Set("Content-Type", "application/json")
		resp, err := hc.Do(req)
		if err != nil {
			return "", fmt.Errorf("agent endpoint: %w", err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if resp.StatusCode/100 != 2 {
			return string(b), fmt.Errorf("agent endpoint answered %d", resp.StatusCode)
		}
		return string(b), nil
	}
	return "", fmt.Errorf("unknown agent kind %q", a.Kind)
}

// cancel cancels a run and stops it if it runs here.
func (p *PulserService) cancel(ctx context.Context, id string) (bool, error) {
	ok, err := p.DB.CancelRun(ctx, id, p.now())
	p.mu.Lock()
	if c := p.cancels[id]; c != nil {
		c()
	}
	p.mu.Unlock()
	return ok, err
}

type pulserServer struct{ p *PulserService }

// NewPulser returns the pulser server.
func NewPulser(e *Env, p *PulserService) *mcp.Server {
	ps := &pulserServer{p: p}
	s := e.newServer(Pulser, "Pulser agent orchestration: list agents, run them (asynchronously by default), follow and cancel runs.")
	addTool(e, s, Pulser, false, &mcp.Tool{Name: "list_agents", Description: "List registered agents."}, ps.listAgents)
	addTool(e, s, Pulser, true, &mcp.Tool{Name: "register_agent", Description: "Register an agent: kind http (endpoint URL) or n8n (webhook path)."}, ps.register)
	addTool(e, s, Pulser, true, &mcp.Tool{Name: "run_agent", Description: "Start a run of an agent with an input; async by default (poll get_run)."}, ps.run)
	addTool(e, s, Pulser, false, &mcp.Tool{Name: "get_run", Description: "A run's status, input, output and tool trace."}, ps.getRun)
	addTool(e, s, Pulser, true, &mcp.Tool{Name: "cancel_run", Description: "Cancel a pending or running run."}, ps.cancelRun)
	addTool(e, s, Pulser, false, &mcp.Tool{Name: "list_runs", Description: "List runs, newest first, by agent and status."}, ps.listRuns)
	return s
}

type agentOut struct {
	ID            string   `json:"id"`
	Name          string   `json:"name"`
	Kind          string   `json:"kind"`
	Endpoint      string   `json:"endpoint"`
	Description   string   `json:"description,omitempty"`
	AllowedTools  []string `json:"allowed_tools"`
	NotifyChannel string   `json:"notify_channel,omitempty"`
}

func toAgent(a store.Agent) agentOut {
	return agentOut{ID: a.ID, Name: a.Name, Kind: a.Kind, Endpoint: a.Endpoint, Description: a.Description,
		AllowedTools: nonNil(strings.Fields(a.AllowedTools)), NotifyChannel: a.NotifyChannel}
}

type agentsOut struct {
	Agents []agentOut `json:"agents"`
}

func (ps *pulserServer) listAgents(ctx context.Context, c *Call, _ struct{}) (agentsOut, error) {
	as, err := ps.p.DB.Agents(ctx)
	if err != nil {
		return agentsOut{}, err
	}
	return agentsOut{Agents: mapSlice(as, toAgent)}, nil
}

type registerIn struct {
	Name          string   `json:"name"`
	Kind          string   `json:"kind" jsonschema:"http or n8n"`
	Endpoint      string   `json:"endpoint" jsonschema:"https URL (http) or webhook path (n8n)"`
	Description   string   `json:"description,omitempty"`
	AllowedTools  []string `json:"allowed_tools,omitempty"`
	NotifyChannel string   `json:"notify_channel,omitempty" jsonschema:"Mattermost channel for results"`
	DryRun        bool     `json:"dry_run,omitempty" jsonschema:"when true, validate and show the agent, store nothing"`
}

type registerOut struct {
	DryRun bool     `json:"dry_run"`
	Agent  agentOut `json:"agent"`
}

func (ps *pulserServer) register(ctx context.Context, c *Call, in registerIn) (registerOut, error) {
	if strings.TrimSpace(in.Name) == "" {
		return registerOut{}, errors.New("name: give the agent a name")
	}
	switch in.Kind {
	case "http":
		if !strings.HasPrefix(in.Endpoint, "https://") && !strings.HasPrefix(in.Endpoint, "http://") {
			return registerOut{}, fmt.Errorf("endpoint %q: an http agent needs an http(s) URL", in.Endpoint)
		}
	case "n8n":
		if !webhookPathRe.MatchString(in.Endpoint) {
			return registerOut{}, fmt.Errorf("endpoint %q: an n8n agent needs the webhook path, e.g. finance-agent", in.Endpoint)
		}
	default:
		return registerOut{}, fmt.Errorf("kind %q: use http or n8n", in.Kind)
	}
	now := ps.p.now()
	a := store.Agent{ID: uuid.Must(uuid.NewV7()).String(), Name: in.Name, Kind: in.Kind, Endpoint: in.Endpoint, Description: in.Description,
		AllowedTools: strings.Join(in.AllowedTools, " "), NotifyChannel: in.NotifyChannel, CreatedAt: now, UpdatedAt: now}
	c.Target("pulser:agent/" + in.Name)
	if c.DryRun {
		return registerOut{DryRun: true, Agent: toAgent(a)}, nil
	}
	if err := ps.p.DB.CreateAgent(ctx, a); err != nil {
		if store.IsConflict(err) {
			return registerOut{}, fmt.Errorf("an agent named %q exists already; choose another name", in.Name)
		}
		return registerOut{}, err
	}
	return registerOut{Agent: toAgent(a)}, nil
}

type runIn struct {
	Agent  string         `json:"agent" jsonschema:"agent id or name"`
	Input  map[string]any `json:"input,omitempty"`
	Async  *bool          `json:"async,omitempty" jsonschema:"default true: return at once with the run id"`
	DryRun bool           `json:"dry_run,omitempty" jsonschema:"when true, show the run that would start"`
}

type runOut struct {
	ID         string     `json:"id"`
	Agent      string     `json:"agent"`
	Status     string     `json:"status"`
	Input      any        `json:"input"`
	Output     string     `json:"output,omitempty"`
	Error      string     `json:"error,omitempty"`
	Trace      any        `json:"trace"`
	Actor      string     `json:"actor,omitempty"`
	CreatedAt  time.Time  `json:"created_at"`
	FinishedAt *time.Time `json:"finished_at,omitempty"`
	DryRun     bool       `json:"dry_run,omitempty"`
}

func toRun(r store.Run) runOut {
	out := runOut{ID: r.ID, Agent: r.AgentID, Status: r.Status, Output: r.Output, Error: r.Error, Actor: r.Actor, CreatedAt: r.CreatedAt}
	_ = json.Unmarshal([]byte(r.Input), &out.Input)
	_ = json.Unmarshal([]byte(r.Trace), &out.Trace)
	if !r.FinishedAt.IsZero() {
		t := r.FinishedAt
		out.FinishedAt = &t
	}
	return out
}

func (ps *pulserServer) run(ctx context.Context, c *Call, in runIn) (runOut, error) {
	a, err := ps.p.DB.Agent(ctx, in.Agent)
	if errors.Is(err, store.ErrNotFound) {
		return runOut{}, fmt.Errorf("no agent %q; see list_agents", in.Agent)
	}
	if err != nil {
		return runOut{}, err
	}
	input, _ := json.Marshal(in.Input)
	if in.Input == nil {
		input = []byte("{}")
	}
	r := store.Run{ID: uuid.Must(uuid.NewV7()).String(), AgentID: a.ID, Status: store.RunPending, Input: string(input), Trace: "[]",
		Actor: c.Caller.ID, CreatedAt: ps.p.now()}
	c.Target("pulser:agent/" + a.Name)
	if c.DryRun {
		out := toRun(r)
		out.DryRun = true
		return out, nil
	}
	if err := ps.p.DB.CreateRun(ctx, r); err != nil {
		return runOut{}, err
	}
	c.Note("run_id", r.ID)
	if in.Async == nil || *in.Async {
		ps.p.start(r.ID)
		return toRun(r), nil
	}
	ps.p.execute(ctx, r.ID)
	r, err = ps.p.DB.Run(ctx, r.ID)
	return toRun(r), err
}

type runIDIn struct {
	RunID string `json:"run_id"`
}

func (ps *pulserServer) getRun(ctx context.Context, c *Call, in runIDIn) (runOut, error) {
	r, err := ps.p.DB.Run(ctx, in.RunID)
	if errors.Is(err, store.ErrNotFound) {
		return runOut{}, fmt.Errorf("no run %q; see list_runs", in.RunID)
	}
	return toRun(r), err
}

type cancelIn struct {
	RunID  string `json:"run_id"`
	DryRun bool   `json:"dry_run,omitempty"`
}

func (ps *pulserServer) cancelRun(ctx context.Context, c *Call, in cancelIn) (runOut, error) {
	r, err := ps.p.DB.Run(ctx, in.RunID)
	if errors.Is(err, store.ErrNotFound) {
		return runOut{}, fmt.Errorf("no run %q; see list_runs", in.RunID)
	}
	if err != nil {
		return runOut{}, err
	}
	c.Target("pulser:run/" + in.RunID)
	if r.Status != store.RunPending && r.Status != store.RunRunning {
		return runOut{}, fmt.Errorf("run %s is %s already; only pending or running runs can be cancelled", in.RunID, r.Status)
	}
	if c.DryRun {
		out := toRun(r)
		out.DryRun = true
		return out, nil
	}
	if _, err := ps.p.cancel(ctx, in.RunID); err != nil {
		return runOut{}, err
	}
	r, err = ps.p.DB.Run(ctx, in.RunID)
	return toRun(r), err
}

type runsIn struct {
	Agent  string `json:"agent,omitempty" jsonschema:"agent id or name"`
	Status string `json:"status,omitempty" jsonschema:"pending, running, completed, failed or cancelled"`
	Limit  int    `json:"limit,omitempty" jsonschema:"default 20, at most 200"`
}

type runsOut struct {
	Runs []runOut `json:"runs"`
}

func (ps *pulserServer) listRuns(ctx context.Context, c *Call, in runsIn) (runsOut, error) {
	switch in.Status {
	case "", store.RunPending, store.RunRunning, store.RunCompleted, store.RunFailed, store.RunCancelled:
	default:
		return runsOut{}, fmt.Errorf("status %q: use pending, running, completed, failed or cancelled", in.Status)
	}
	agentID := ""
	if in.Agent != "" {
		a, err := ps.p.DB.Agent(ctx, in.Agent)
		if err != nil {
			return runsOut{}, fmt.Errorf("no agent %q; see list_agents", in.Agent)
		}
		agentID = a.ID
	}
	rs, err := ps.p.DB.Runs(ctx, agentID, in.Status, min(clampN(in.Limit, 20), 200))
	if err != nil {
		return runsOut{}, err
	}
	return runsOut{Runs: mapSlice(rs, toRun)}, nil
}

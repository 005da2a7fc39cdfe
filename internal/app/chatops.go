package app

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/chatops"
	"github.com/insightpulseai/ipai/internal/chatops/n8nflow"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/health"
	"github.com/insightpulseai/ipai/internal/integration"
	"github.com/insightpulseai/ipai/internal/mcpserver"
	"github.com/insightpulseai/ipai/internal/rule/action"
	"github.com/insightpulseai/ipai/internal/secret"
	"github.com/insightpulseai/ipai/internal/store"
)

// newChatOps builds the ChatOps service (bots and commands from
// ipai.yaml, the approval key sealed by box) and the n8n workflow registry,
// and registers the delivery kinds chatops.reply and mattermost.approval
// with the dispatcher. /ipai ask runs agents with pulser; /ipai run uses
// flows when chatops.n8n names a connector.
func newChatOps(ctx context.Context, cfg config.Config, db *store.DB, box *secret.Box, al *audit.Log, log *slog.Logger,
	connectors *integration.Service, hr *health.Runner, d *delivery.Dispatcher, pulser *mcpserver.PulserService,
) (co *chatops.Service, flows *n8nflow.Service, err error) {
	clients := action.FromConfigs(connectors)
	co = &chatops.Service{DB: db, Box: box, Audit: al, Log: log, Clients: clients, HTTP: connectors.HTTPClient,
		Cfg: cfg.ChatOps, BaseURL: cfg.BaseURL(), Health: hr.Statuses, Wake: d.Wake, Now: time.Now,
		Ask: func(ctx context.Context, agent, text, actor string) (string, error) {
			return ask(ctx, db, pulser, agent, text, actor)
		}}
	if err := co.Init(ctx); err != nil {
		return nil, nil, err
	}
	if err := co.ApplyConfig(ctx); err != nil {
		return nil, nil, err
	}
	flows = &n8nflow.Service{DB: db, Audit: al, Log: log, Clients: clients, Cfg: cfg.ChatOps.N8N, Now: time.Now}
	if cfg.ChatOps.N8N.Connector != "" {
		co.Flows = flows
	}
	for kind, e := range co.Executors() {
		d.Register(kind, e)
	}
	return co, flows, nil
}

// healthNotices posts connectors' down/up transitions (not the first "up")
// as ChatOps notices.
type healthNotices struct {
	co   *chatops.Service
	mu   sync.Mutex
	seen map[string]string
	// ctx is the context of the notices (set by run before the checks
	// start); wg counts those in flight.
	ctx context.Context
	wg  sync.WaitGroup
}

// notifyHealth makes r's transitions ChatOps notices (once run runs r).
func notifyHealth(r *health.Runner, co *chatops.Service) *healthNotices {
	n := &healthNotices{co: co, seen: map[string]string{}}
	prevHook := r.OnChange
	r.OnChange = func(st health.Status) {
		if prevHook != nil {
			prevHook(st)
		}
		n.changed(st)
	}
	return n
}

// run runs the health checks until ctx ends, then waits for the notices in
// flight: each is sent (for up to 30s) even when the hub is stopping. A nil
// n runs the checks alone.
func (n *healthNotices) run(ctx context.Context, r *health.Runner) {
	if n == nil {
		_ = r.Run(ctx)
		return
	}
	n.ctx = context.WithoutCancel(ctx) // r calls changed in this goroutine
	_ = r.Run(ctx)
	n.wg.Wait() // no notice starts any more: r has stopped
}

func (n *healthNotices) changed(st health.Status) {
	n.mu.Lock()
	was := n.seen[st.Code]
	n.seen[st.Code] = st.State
	n.mu.Unlock()
	down := st.State == health.StateDown
	if !down && (was == "" || was == health.StateUnknown) {
		return
	}
	n.wg.Go(func() {
		ctx, cancel := context.WithTimeout(n.ctx, 30*time.Second)
		defer cancel()
		if err := n.co.Notify(ctx, chatops.HealthNotice(st, down)); err != nil {
			n.co.Log.Warn("health notification failed", "connector", st.Code, "err", err)
		}
	})
}

// ask starts a pulser run of agent and waits (up to ctx) for its output.
func ask(ctx context.Context, db *store.DB, p *mcpserver.PulserService, agent, text, actor string) (string, error) {
	ag, err := db.Agent(ctx, agent)
	if err != nil {
		return "", fmt.Errorf("no agent %q (list them with the pulser MCP tools)", agent)
	}
	input, _ := json.Marshal(map[string]any{"text": text, "source": "mattermost"})
	r := store.Run{ID: uuid.Must(uuid.NewV7()).String(), AgentID: ag.ID, Status: store.RunPending, Input: string(input),
		Trace: "[]", Actor: actor, CreatedAt: time.Now()}
	if err := db.CreateRun(ctx, r); err != nil {
		return "", err
	}
	if err := p.Resume(ctx); err != nil { // starts pending runs (each is claimed once)
		return "", err
	}
	t := time.NewTicker(300 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return fmt.Sprintf("Run %s of %s is still going; see it with the pulser tools.", r.ID, agent), nil
		case <-t.C:
		}
		got, err := db.Run(ctx, r.ID)
		if err != nil {
			return "", err
		}
		switch got.Status {
		case store.RunCompleted:
			return fmt.Sprintf("**%s**: %s", agent, strings.Trim(got.Output, `"`)), nil
		case store.RunFailed, store.RunCancelled:
			return "", fmt.Errorf("run %s %s: %s", r.ID, got.Status, got.Error)
		}
	}
}

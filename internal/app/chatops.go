package app

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/insightpulseai/ipai/internal/chatops"
	"github.com/insightpulseai/ipai/internal/chatops/n8nflow"
	"github.com/insightpulseai/ipai/internal/health"
	"github.com/insightpulseai/ipai/internal/mcpserver"
	"github.com/insightpulseai/ipai/internal/outbound"
	"github.com/insightpulseai/ipai/internal/rule/action"
	"github.com/insightpulseai/ipai/internal/secret"
	"github.com/insightpulseai/ipai/internal/store"
)

// setupChatOps builds the ChatOps service (bots and commands from
// ipai.yaml, the approval key), the n8n registry, registers the delivery
// kinds chatops.reply and mattermost.approval, and sends health
// transitions as notifications. Needs setupRules first.
func (a *App) setupChatOps(ctx context.Context) error {
	box, err := secret.LoadFor(a.Cfg.DataDir, func() (string, error) { return a.DB.SealedData(ctx) })
	if err != nil {
		return fmt.Errorf("master key: %w", err)
	}
	clients := action.FromConfigs(a.Connectors)
	co := &chatops.Service{DB: a.DB, Box: box, Audit: a.Audit, Log: a.Log, Clients: clients, HTTP: a.Connectors.HTTPClient,
		Cfg: a.Cfg.ChatOps, BaseURL: a.Cfg.BaseURL(), Health: a.Health.Statuses, Wake: a.Dispatcher.Wake, Now: a.Now}
	if err := co.Init(ctx); err != nil {
		return err
	}
	if err := co.ApplyConfig(ctx); err != nil {
		return err
	}
	flows := &n8nflow.Service{DB: a.DB, Audit: a.Audit, Log: a.Log, Clients: clients, Cfg: a.Cfg.ChatOps.N8N, Now: a.Now}
	if a.Cfg.ChatOps.N8N.Connector != "" {
		co.Flows = flows
		// Syncs for the life of the process (several replicas syncing is harmless).
		go flows.Loop(context.Background())
	}
	pulser := &mcpserver.PulserService{DB: a.DB, HTTP: a.Guard.Client(outbound.Options{Timeout: 5 * time.Minute})}
	co.Ask = func(ctx context.Context, agent, text, actor string) (string, error) {
		return ask(ctx, a.DB, pulser, agent, text, actor)
	}

	for kind, e := range co.Executors() {
		a.Dispatcher.Register(kind, e)
	}
	if a.Cfg.ChatOps.Notifications.Health && a.Health != nil {
		notifyHealth(a.Health, co)
	}
	a.API.ChatOps, a.API.Flows, a.API.Ingest = co, flows, a.Ingester.Ingest
	return nil
}

// notifyHealth sends down/up transitions (not the first "up") as notices.
func notifyHealth(r *health.Runner, co *chatops.Service) {
	prevHook := r.OnChange
	var mu sync.Mutex
	seen := map[string]string{}
	r.OnChange = func(st health.Status) {
		if prevHook != nil {
			prevHook(st)
		}
		mu.Lock()
		was := seen[st.Code]
		seen[st.Code] = st.State
		mu.Unlock()
		down := st.State == health.StateDown
		if !down && (was == "" || was == health.StateUnknown) {
			return
		}
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := co.Notify(ctx, chatops.HealthNotice(st, down)); err != nil {
				co.Log.Warn("health notification failed", "connector", st.Code, "err", err)
			}
		}()
	}
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

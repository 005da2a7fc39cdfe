// Package app wires the hub from its configuration: it opens and migrates the
// store, starts the audit writer and the background jobs, and runs the HTTP
// server until its context ends, then shuts down gracefully.
package app

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/mattn/go-isatty"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/sync/errgroup"

	"github.com/insightpulseai/ipai/internal/api"
	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/boardsync"
	"github.com/insightpulseai/ipai/internal/buildinfo"
	"github.com/insightpulseai/ipai/internal/chatops/n8nflow"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/event"
	"github.com/insightpulseai/ipai/internal/health"
	"github.com/insightpulseai/ipai/internal/inbound"
	"github.com/insightpulseai/ipai/internal/integration"
	"github.com/insightpulseai/ipai/internal/loop"
	"github.com/insightpulseai/ipai/internal/mcpserver"
	"github.com/insightpulseai/ipai/internal/outbound"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/secret"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/ui"
)

// Version is the binary's version from its build information (see
// internal/buildinfo): the main module's version, or "dev" when the build
// recorded none.
var Version = buildinfo.Current().Version

// App is the hub: the services New builds from the configuration, the
// workers Run runs, and the resources Close releases (Caddy's provision →
// run → cleanup). The exported fields are for commands and tests; nothing
// sets them after New.
type App struct {
	Cfg   config.Config
	Log   *slog.Logger
	DB    *store.DB
	Audit *audit.Log
	// API serves /api/, /hooks/, /mcp/ and the probes; UI is the admin web
	// UI (nil when disabled).
	API *api.Server
	UI  *ui.Server
	// Connectors manages connectors.
	Connectors *integration.Service
	// The event path: Ingester commits events, Hooks receives them,
	// Endpoints and Dispatcher deliver.
	Ingester   *event.Ingester
	Hooks      *inbound.Hooks
	Endpoints  *delivery.Endpoints
	Dispatcher *delivery.Dispatcher

	box     *secret.Box
	guard   *outbound.Guard
	health  *health.Runner
	notices *healthNotices // nil: health transitions are not posted
	rules   *rule.Service
	sync    *boardsync.Service // nil: no watchers or board links
	flows   *n8nflow.Service
	pulser  *mcpserver.PulserService
	mcpEnv  *mcpserver.Env

	// now is the clock of the upkeep.
	now func() time.Time
	// ln is the listener of Listen (nil until then).
	ln net.Listener
	// cleanup releases what New acquired, last first.
	cleanup []func()
}

// NewLogger builds the slog logger the config asks for, writing to w.
func NewLogger(cfg config.Log, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.Level))
	opts := &slog.HandlerOptions{Level: level}
	format := cfg.Format
	if format == "auto" {
		format = "json"
		if f, ok := w.(*os.File); ok && isatty.IsTerminal(f.Fd()) {
			format = "text"
		}
	}
	if format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// OpenStore opens and migrates the configured database.
func OpenStore(ctx context.Context, cfg config.Config) (*store.DB, error) {
	db, err := store.Open(ctx, cfg.DatabaseURL())
	if err != nil {
		return nil, err
	}
	if _, err := db.Migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// New builds the hub: each service from its section of cfg, given the
// services it needs, in the order of those needs. Nothing runs yet (see
// Run); Close releases what New acquired, also when Run never ran.
func New(ctx context.Context, cfg config.Config, logw io.Writer) (_ *App, err error) {
	var cleanup []func()
	defer func() {
		if err != nil {
			for _, f := range slices.Backward(cleanup) {
				f()
			}
		}
	}()
	log := NewLogger(cfg.Log, logw)
	db, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	cleanup = append(cleanup, func() { db.Close() })
	al := audit.New(db)
	cleanup = append(cleanup, al.Close)
	box, err := secret.LoadFor(cfg.DataDir, func() (string, error) { return db.SealedData(ctx) })
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	// The one guard every outbound call (deliveries, connectors, agents,
	// Sentry) goes through.
	guard, err := outbound.New(cfg.Outbound.Allow)
	if err != nil {
		return nil, fmt.Errorf("outbound.allow: %w", err)
	}
	var onError func(error, *http.Request)
	if cfg.Sentry.DSN != "" {
		if err := initSentry(cfg.Sentry, guard); err != nil {
			return nil, err
		}
		cleanup = append(cleanup, func() { sentry.Flush(2 * time.Second) })
		onError = func(err error, r *http.Request) { sentry.CaptureException(err) }
	}
	metrics := prometheus.NewRegistry()

	// The event path.
	router := rule.NewRouter()
	endpoints, err := newEndpoints(ctx, db, box, guard, router, log)
	if err != nil {
		return nil, err
	}
	dispatcher, err := newDispatcher(cfg.Delivery, db, endpoints, al, log, metrics)
	if err != nil {
		return nil, err
	}
	ingester := event.NewIngester(db, router, event.IngesterOptions{OnCommit: func(int) { dispatcher.Wake() }})
	cleanup = append(cleanup, ingester.Close)
	hooks := inbound.NewHooks(db, box, al, ingester, metrics)
	if err := applyWebhooks(ctx, cfg.Webhooks, db, box, hooks, endpoints, time.Now()); err != nil {
		return nil, err
	}

	connectors, err := newConnectors(ctx, cfg.Connectors, cfg.Health, db, box, guard, al, log)
	if err != nil {
		return nil, err
	}
	healthRunner, err := newHealth(ctx, cfg.Health, connectors, metrics)
	if err != nil {
		return nil, err
	}
	rules, err := newRules(ctx, cfg.Rules, db, router, connectors, endpoints, dispatcher, log)
	if err != nil {
		return nil, err
	}
	syncSvc, err := newSync(ctx, cfg.Sync, db, router, connectors, dispatcher.Wake, al, log)
	if err != nil {
		return nil, err
	}
	mcpDeps, err := newMCPDeps(ctx, cfg.MCP, al, log, guard, connectors)
	if err != nil {
		return nil, err
	}
	// Agents run for the MCP pulser server and for /ipai ask alike. Agent
	// URLs come from MCP clients: only outbound.allow opens private
	// addresses to them.
	pulser := &mcpserver.PulserService{DB: db, N8N: mcpDeps.N8N, HTTP: guard.Client(outbound.Options{Timeout: 5 * time.Minute})}
	co, flows, err := newChatOps(ctx, cfg, db, box, al, log, connectors, healthRunner, dispatcher, pulser)
	if err != nil {
		return nil, err
	}
	var notices *healthNotices
	if cfg.ChatOps.Notifications.Health {
		notices = notifyHealth(healthRunner, co)
	}
	mcpDeps.Pulser = pulser
	mcpServers := mountMCP(cfg.MCP, cfg.PublicURL, mcpDeps, opsDeliveries{db: db, wake: dispatcher.Wake, now: time.Now}, connectors, guard, log)
	cleanup = append(cleanup, mcpDeps.Env.Flush)

	uiCfg := cfg.UI.WithDefaults()
	var sessions *auth.Sessions
	if !uiCfg.Disabled {
		sessions = auth.NewSessions(db, uiCfg.SessionTTL)
	}
	apiSrv := &api.Server{DB: db, Audit: al, Tokens: auth.NewTokens(db), Log: log, Version: Version,
		Revision: buildinfo.Current().Revision, Modified: buildinfo.Current().Modified, OnError: onError,
		BaseURL: cfg.BaseURL(), Hooks: hooks, Endpoints: endpoints, Dispatcher: dispatcher,
		Connectors: connectors, Health: healthRunner, Sync: syncSvc, Embed: newEmbed(cfg.Superset, connectors, al),
		EmbedSDKPath: filepath.Join(cfg.DataDir, api.SDKFile), ChatOps: co, Flows: flows, Ingest: ingester.Ingest,
		Sessions: sessions, MCP: mcpServers, Metrics: metrics, Rules: rules}
	var uiSrv *ui.Server
	if !uiCfg.Disabled {
		uiSrv = newUI(uiCfg, cfg.BaseURL(), apiSrv, rules, guard, log)
	}
	return &App{Cfg: cfg, Log: log, DB: db, Audit: al, API: apiSrv, UI: uiSrv, Connectors: connectors,
		Ingester: ingester, Hooks: hooks, Endpoints: endpoints, Dispatcher: dispatcher,
		box: box, guard: guard, health: healthRunner, notices: notices, rules: rules, sync: syncSvc, flows: flows,
		pulser: pulser, mcpEnv: mcpDeps.Env, now: time.Now, cleanup: cleanup}, nil
}

// initSentry sends error reports through the guard; the DSN's host (set by
// the administrator) is this client's own allowance.
func initSentry(cfg config.Sentry, guard *outbound.Guard) error {
	hc := outbound.ClientFor(guard, outbound.Options{Timeout: 30 * time.Second}, cfg.DSN)
	if err := sentry.Init(sentry.ClientOptions{Dsn: cfg.DSN, Release: "ipai@" + Version, HTTPClient: hc}); err != nil {
		return fmt.Errorf("sentry.dsn: %w", err)
	}
	return nil
}

// Close releases what New acquired, last first: the listener, the
// ingester (events accepted are committed), queued MCP audit entries, the
// audit writer, the store, and Sentry's queued reports. Call it after Run
// returned.
func (a *App) Close() {
	if a.ln != nil {
		a.ln.Close()
	}
	for _, f := range slices.Backward(a.cleanup) {
		f()
	}
	a.cleanup = nil
}

// Listen binds the configured address and returns the bound address (e.g.
// to learn the port of "127.0.0.1:0"). Run calls it if it was not called.
func (a *App) Listen() (string, error) {
	if a.ln == nil {
		ln, err := net.Listen("tcp", a.Cfg.Listen)
		if err != nil {
			return "", fmt.Errorf("listen on %s: %w (is another ipai running? choose another address with --addr)", a.Cfg.Listen, err)
		}
		a.ln = ln
	}
	return a.ln.Addr().String(), nil
}

// Run serves HTTP and runs every background worker until ctx ends or one
// of them fails (which stops the others), and returns when all have
// stopped: requests in flight are finished (for up to 30s), open MCP
// sessions are closed, delivery attempts in flight are recorded, health
// notices in flight are sent and agent runs in flight are stopped. Run
// once; Close afterwards.
func (a *App) Run(ctx context.Context) error {
	addr, err := a.Listen()
	if err != nil {
		return err
	}
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	srv.RegisterOnShutdown(a.API.MCP.CloseSessions) // an open MCP stream is never idle
	g, ctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		if err := srv.Serve(a.ln); !errors.Is(err, http.ErrServerClosed) {
			return fmt.Errorf("serve http: %w", err)
		}
		return nil
	})
	g.Go(func() error {
		<-ctx.Done()
		a.Log.Info("shutting down: finishing in-flight requests")
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			return fmt.Errorf("shutdown: %w", err)
		}
		return nil
	})
	g.Go(func() error { loop.Every(ctx, time.Minute, time.Hour, a.upkeep); return nil })
	g.Go(func() error { loop.Every(ctx, ReloadEvery, ReloadEvery, a.reloadEndpoints); return nil })
	g.Go(func() error { a.rules.Watch(ctx, 5*time.Second); return nil }) // rules edited by other replicas
	g.Go(func() error { a.Dispatcher.Run(ctx); return nil })             // returns once attempts in flight are recorded
	g.Go(func() error { a.notices.run(ctx, a.health); return nil })
	if a.sync != nil {
		g.Go(func() error { a.sync.Run(ctx); return nil })
	}
	if a.Cfg.ChatOps.N8N.Connector != "" {
		// Several replicas syncing the workflow registry is harmless.
		g.Go(func() error { a.flows.Loop(ctx); return nil })
	}
	g.Go(func() error { return a.runPulser(ctx) })
	a.Log.Info("ipai serving", "addr", addr, "store", a.DB.Kind(), "database", redact(a.Cfg.DatabaseURL()), "version", Version)
	if a.UI != nil {
		if u, err := a.UI.ArmSetup(ctx); err != nil {
			a.Log.Error("first run: could not check for users", "err", err)
		} else if u != "" {
			a.Log.Warn("first run: open the setup URL to create the first administrator (one use, valid 1h, loopback only unless --setup-public)",
				"url", setupBase(a.Cfg.PublicURL, addr)+u)
		}
	}
	err = g.Wait()
	// MCP calls are over: write their queued audit entries now.
	a.mcpEnv.Flush()
	return err
}

// runPulser starts the agent runs left pending (by an earlier process),
// and when ctx ends stops the runs in flight and waits for them.
func (a *App) runPulser(ctx context.Context) error {
	if err := a.pulser.Resume(ctx); err != nil && ctx.Err() == nil {
		a.Log.Warn("pulser: resume pending runs", "err", err)
	}
	<-ctx.Done()
	a.pulser.Stop()
	return nil
}

// upkeep is the hourly round of Run (the first a minute after start): the
// audit retention purge, the purge of expired dedupe keys, the event
// retention purge and the purge of expired UI sessions. Several replicas
// may run it: the audit purge holds the chain lock, and a second run of
// the others finds nothing to delete.
func (a *App) upkeep(ctx context.Context) {
	a.PurgeAudit(ctx)
	if n, err := a.DB.PurgeEventKeys(ctx, a.now()); err != nil {
		a.Log.Warn("purge expired dedupe keys", "err", err)
	} else if n > 0 {
		a.Log.Info("purged expired dedupe keys", "n", n)
	}
	a.PurgeEvents(ctx)
	// Expired UI sessions, also when nobody signs in (sign-in purges too).
	if n, err := a.DB.PurgeSessions(ctx, a.now()); err != nil {
		a.Log.Warn("purge expired UI sessions", "err", err)
	} else if n > 0 {
		a.Log.Info("purged expired UI sessions", "n", n)
	}
}

// PurgeAudit applies the audit retention once and logs the outcome.
func (a *App) PurgeAudit(ctx context.Context) {
	res, err := audit.Purge(ctx, a.DB, time.Duration(a.Cfg.Audit.RetentionDays)*24*time.Hour, a.now())
	if err != nil {
		a.Log.Error("audit purge failed", "err", err)
		return
	}
	if res.Deleted > 0 {
		a.Log.Info("audit purge", "deleted", res.Deleted, "checkpoint", res.Checkpoint)
	}
}

// PurgeEvents applies the event retention (delivery.retention_days) once and
// logs the outcome.
func (a *App) PurgeEvents(ctx context.Context) {
	cutoff := a.now().Add(-time.Duration(a.Cfg.Delivery.RetentionDays) * 24 * time.Hour)
	p, err := a.DB.PurgeEvents(ctx, cutoff)
	if err != nil {
		a.Log.Error("event retention purge failed; it is retried within the hour", "err", err, "events", p.Events)
		return
	}
	if p.Events > 0 {
		a.Log.Info("event retention purge", "events", p.Events, "deliveries", p.Deliveries, "attempts", p.Attempts)
	}
}

// setupBase is where the setup URL is opened: the public URL, or the bound
// address with an unspecified host shown as loopback.
func setupBase(public, addr string) string {
	if public != "" {
		return strings.TrimSuffix(public, "/")
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port)
}

// redact is used when a URL is shown to a person.
func redact(u string) string {
	if strings.Contains(u, "://") {
		return store.Redact(u)
	}
	return u
}

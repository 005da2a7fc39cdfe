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
	"strings"
	"time"

	"github.com/getsentry/sentry-go"
	"github.com/mattn/go-isatty"

	"github.com/insightpulseai/ipai/internal/api"
	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/buildinfo"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/event"
	"github.com/insightpulseai/ipai/internal/health"
	"github.com/insightpulseai/ipai/internal/inbound"
	"github.com/insightpulseai/ipai/internal/integration"
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

// App is a running hub.
type App struct {
	Cfg   config.Config
	Log   *slog.Logger
	DB    *store.DB
	Audit *audit.Log
	API   *api.Server
	// Connectors manages connectors; Health checks the active ones.
	Connectors *integration.Service
	Health     *health.Runner

	// Box seals secrets; Guard checks every outbound call.
	Box   *secret.Box
	Guard *outbound.Guard

	// The event path: Router plans deliveries, Ingester commits events,
	// Hooks receives them, Endpoints and Dispatcher deliver.
	Router     *rule.Router
	Ingester   *event.Ingester
	Hooks      *inbound.Hooks
	Endpoints  *delivery.Endpoints
	Dispatcher *delivery.Dispatcher
	// Rules keeps the router's routing rules in step with the store.
	Rules *rule.Service
	// UI is the admin web UI (nil when disabled).
	UI *ui.Server

	// Now is the clock of background jobs.
	Now func() time.Time

	// mcpEnv is the MCP servers' shared state (its queued audit entries are
	// written on Close).
	mcpEnv *mcpserver.Env
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

// New builds the hub. Close it when done.
func New(ctx context.Context, cfg config.Config, logw io.Writer) (*App, error) {
	log := NewLogger(cfg.Log, logw)
	db, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	a := &App{Cfg: cfg, Log: log, DB: db, Audit: audit.New(db), Now: time.Now}
	a.API = &api.Server{DB: db, Audit: a.Audit, Tokens: auth.NewTokens(db), Log: log, Version: Version,
		Revision: buildinfo.Current().Revision, Modified: buildinfo.Current().Modified}
	// Each step needs the ones before it.
	steps := []func(context.Context) error{
		func(context.Context) error { return a.setupSecrets() },
		a.setupWebhooks, a.setupConnectors, a.setupRules, a.setupSync, a.setupChatOps, a.mountMCP, a.setupUI,
	}
	for _, step := range steps {
		if err := step(ctx); err != nil {
			a.Close()
			return nil, err
		}
	}
	if cfg.Sentry.DSN != "" {
		// Reports go through the guard; the DSN's host (set by the
		// administrator) is this client's own allowance.
		hc := outbound.ClientFor(a.Guard, outbound.Options{Timeout: 30 * time.Second}, cfg.Sentry.DSN)
		if err := sentry.Init(sentry.ClientOptions{Dsn: cfg.Sentry.DSN, Release: "ipai@" + Version, HTTPClient: hc}); err != nil {
			a.Close()
			return nil, fmt.Errorf("sentry.dsn: %w", err)
		}
		a.API.OnError = func(err error, r *http.Request) { sentry.CaptureException(err) }
	}
	return a, nil
}

// Close releases the store and the audit writer.
func (a *App) Close() {
	if a.Ingester != nil {
		a.Ingester.Close()
	}
	if a.mcpEnv != nil {
		a.mcpEnv.Flush()
	}
	a.Audit.Close()
	a.DB.Close()
	if a.Cfg.Sentry.DSN != "" {
		sentry.Flush(2 * time.Second)
	}
}

// Serve listens on the configured address and serves until ctx ends. ready,
// if not nil, receives the bound address once the server accepts requests.
func (a *App) Serve(ctx context.Context, ready chan<- string) error {
	ln, err := net.Listen("tcp", a.Cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another ipai running? choose another address with --addr)", a.Cfg.Listen, err)
	}
	srv := &http.Server{
		Handler:           a.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       60 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(a.Log.Handler(), slog.LevelWarn),
	}
	go a.maintain(ctx)
	go a.reloadLoop(ctx)
	go a.Rules.Watch(ctx, 5*time.Second) // rules edited by other replicas
	a.runSync(ctx)
	dispatched := make(chan struct{})
	go func() { a.Dispatcher.Run(ctx); close(dispatched) }()
	defer a.runHealth(ctx)()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	addr := ln.Addr().String()
	a.Log.Info("ipai serving", "addr", addr, "store", a.DB.Kind(), "database", redact(a.Cfg.DatabaseURL()), "version", Version)
	if a.UI != nil {
		if u, err := a.UI.ArmSetup(ctx); err != nil {
			a.Log.Error("first run: could not check for users", "err", err)
		} else if u != "" {
			a.Log.Warn("first run: open the setup URL to create the first administrator (one use, valid 1h, loopback only unless --setup-public)",
				"url", setupBase(a.Cfg.PublicURL, addr)+u)
		}
	}
	if ready != nil {
		ready <- addr
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	a.Log.Info("shutting down: finishing in-flight requests")
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	<-dispatched // attempts in flight are finished and recorded
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// maintain runs the hourly upkeep: the audit retention purge, the purge of
// expired dedupe keys, the event retention purge and the purge of expired
// UI sessions. Several replicas may run it: the audit purge holds the chain
// lock, and a second run of the others finds nothing to delete.
func (a *App) maintain(ctx context.Context) {
	t := time.NewTimer(time.Minute)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		a.upkeep(ctx)
		t.Reset(time.Hour)
	}
}

// upkeep is one round of maintain.
func (a *App) upkeep(ctx context.Context) {
	a.PurgeAudit(ctx)
	if n, err := a.DB.PurgeEventKeys(ctx, a.Now()); err != nil {
		a.Log.Warn("purge expired dedupe keys", "err", err)
	} else if n > 0 {
		a.Log.Info("purged expired dedupe keys", "n", n)
	}
	a.PurgeEvents(ctx)
	// Expired UI sessions, also when nobody signs in (sign-in purges too).
	if n, err := a.DB.PurgeSessions(ctx, a.Now()); err != nil {
		a.Log.Warn("purge expired UI sessions", "err", err)
	} else if n > 0 {
		a.Log.Info("purged expired UI sessions", "n", n)
	}
}

// PurgeAudit applies the audit retention once and logs the outcome.
func (a *App) PurgeAudit(ctx context.Context) {
	res, err := audit.Purge(ctx, a.DB, time.Duration(a.Cfg.Audit.RetentionDays)*24*time.Hour, a.Now())
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
	cutoff := a.Now().Add(-time.Duration(a.Cfg.Delivery.RetentionDays) * 24 * time.Hour)
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

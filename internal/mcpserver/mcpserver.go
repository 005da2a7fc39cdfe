// Package mcpserver holds ipai's MCP servers — odoo, superset, ops, n8n,
// pulser and speckit — built on the official Go SDK, and the safety layer
// every tool goes through: the caller's scopes (mcp:<server>:read and
// mcp:<server>:write), dry runs for writes, optional per-caller rate limits
// and one audit entry per tool call (arguments with secrets masked, actor,
// outcome, duration). The same *mcp.Server serves stdio (`ipai mcp NAME`)
// and Streamable HTTP (mounted by internal/api at /mcp/{server}).
package mcpserver

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"golang.org/x/time/rate"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
)

// Names of the servers.
const (
	Odoo     = "odoo"
	Superset = "superset"
	Ops      = "ops"
	N8N      = "n8n"
	Pulser   = "pulser"
	Speckit  = "speckit"
)

// Names lists every server, in the order the CLI shows them.
var Names = []string{Odoo, Superset, Ops, N8N, Pulser, Speckit}

// ReadScope and WriteScope name a server's scopes.
func ReadScope(server string) string  { return "mcp:" + server + ":read" }
func WriteScope(server string) string { return "mcp:" + server + ":write" }

// Scopes lists every MCP scope (for token creation help and the protected
// resource metadata).
func Scopes() []string {
	var out []string
	for _, n := range Names {
		out = append(out, ReadScope(n), WriteScope(n))
	}
	return out
}

// Auditor is what the servers write tool calls to (*audit.Log).
type Auditor interface {
	Write(ctx context.Context, e audit.Entry) error
}

var _ Auditor = (*audit.Log)(nil)

// Env is what every server shares: the audit log, the identity of a local
// (stdio) caller, and the optional rate limit.
type Env struct {
	Audit Auditor
	// Local is the caller of a stdio server; over HTTP the caller comes from
	// the bearer token of each request instead.
	Local *auth.Principal
	// PerMinute, when > 0, limits tool calls per caller and minute.
	PerMinute int
	Log       *slog.Logger
	Version   string

	mu       sync.Mutex
	limiters map[string]*rate.Limiter
	pending  sync.WaitGroup
	qmu      sync.Mutex
	queued   []audit.Entry // read audit entries not yet written
}

// LocalPrincipal is the identity of a stdio caller: the OS user, with the
// scopes it was started with.
func LocalPrincipal(scopes []string) *auth.Principal {
	name := os.Getenv("USER")
	if name == "" {
		name = "unknown"
	}
	return &auth.Principal{ID: "local:" + name, Name: name, Kind: "local", Role: auth.RoleUser, Scopes: scopes}
}

func (e *Env) logger() *slog.Logger {
	if e == nil || e.Log == nil {
		return slog.New(slog.DiscardHandler)
	}
	return e.Log
}

// Flush writes the queued audit entries and waits for those still being
// written.
func (e *Env) Flush() {
	e.writeQueued()
	e.pending.Wait()
}

func (e *Env) allow(actor string) bool {
	if e.PerMinute <= 0 {
		return true
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.limiters == nil {
		e.limiters = map[string]*rate.Limiter{}
	}
	l := e.limiters[actor]
	if l == nil {
		l = rate.NewLimiter(rate.Every(time.Minute/time.Duration(e.PerMinute)), e.PerMinute)
		e.limiters[actor] = l
	}
	return l.Allow()
}

// newServer returns an empty server of that name.
func (e *Env) newServer(name, instructions string) *mcp.Server {
	v := e.Version
	if v == "" {
		v = "dev"
	}
	return mcp.NewServer(&mcp.Implementation{Name: "ipai-" + name, Title: "ipai " + name, Version: v},
		&mcp.ServerOptions{Instructions: instructions})
}

// PrincipalKey is the TokenInfo.Extra key under which the HTTP layer passes
// the authenticated principal to the tools.
const PrincipalKey = "ipai.principal"

// callerOf returns who calls: the bearer token's principal over HTTP, the
// local principal over stdio.
func (e *Env) callerOf(extra *mcp.RequestExtra) (auth.Principal, bool) {
	if extra != nil && extra.TokenInfo != nil {
		if p, ok := extra.TokenInfo.Extra[PrincipalKey].(auth.Principal); ok {
			return p, true
		}
		return auth.Principal{}, false
	}
	if e.Local != nil {
		return *e.Local, true
	}
	return auth.Principal{}, false
}

// Refusal is a tool call refused by policy (scope, allow-list, rate limit):
// the agent gets the message, the audit log records outcome "refused".
type Refusal struct{ Msg string }

func (r *Refusal) Error() string { return r.Msg }

// refuse builds a Refusal.
func refuse(format string, args ...any) error { return &Refusal{Msg: fmt.Sprintf(format, args...)} }

// IsRefusal reports whether err is a policy refusal.
func IsRefusal(err error) bool {
	var r *Refusal
	return errors.As(err, &r)
}

package api

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/chatops/n8nflow"
	"github.com/insightpulseai/ipai/internal/event"
	"github.com/insightpulseai/ipai/internal/inbound"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/secret"
	"github.com/insightpulseai/ipai/internal/testproc"
	"github.com/insightpulseai/ipai/internal/webhooksig"
)

// spaces reads as many spaces (JSON whitespace) as asked.
type spaces struct{}

func (spaces) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = ' '
	}
	return len(p), nil
}

// chunked is a request with an n-byte body and no Content-Length, so that
// only the route's body reader can stop it.
func chunked(method, path, token string, n int64) *http.Request {
	r := httptest.NewRequest(method, path, io.LimitReader(spaces{}, n))
	r.ContentLength = -1
	r.Header.Set("Content-Type", "application/json")
	if token != "" {
		r.Header.Set("Authorization", "Bearer "+token)
	}
	return r
}

// hookServer is a Server with incoming hooks (an ingester on a fresh
// SQLite database) logging to log.
func hookServer(t *testing.T, log *slog.Logger) (*Server, *inbound.Hooks, *harness) {
	db := tempDB(t)
	box, err := secret.Load(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	al := audit.New(db)
	in := event.NewIngester(db, rule.NewRouter(), event.IngesterOptions{})
	hooks := inbound.NewHooks(db, box, al, in, nil)
	s := &Server{DB: db, Audit: al, Tokens: auth.NewTokens(db), Log: log, Flows: &n8nflow.Service{DB: db}, Hooks: hooks}
	return s, hooks, serveHarness(t, s, &testproc.Buffer{}, in.Close)
}

// A body over a route's limit is a 413 that names that route's limit, for
// the routes that take larger (or smaller) bodies than the default too.
func TestBodyOverTheLimitNamesTheRoutesLimit(t *testing.T) {
	s, hooks, h := hookServer(t, slog.New(slog.DiscardHandler))
	// A hook that accepts the most a hook may: the route's limit is its limit.
	big, err := hooks.Create(context.Background(), "big", "", event.HookSpec{Scheme: webhooksig.SchemeBearer, MaxBody: event.MaxMaxBody},
		"a-bearer-secret-of-some-length", false)
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, path, token string
		limit             int64
		want              string
	}{
		{"JSON route", "/api/v1/tokens", h.tokens[auth.RoleAdmin], MaxBody, "1048576 bytes (1 MiB)"},
		{"n8n callback", "/integrations/n8n/callback", "", event.MaxMaxBody, "67108864 bytes (64 MiB)"},
		{"hook at the most a hook may take", "/hooks/" + big.Hook.ID, "", event.MaxMaxBody, "67108864"},
	}
	handler := s.Handler()
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			handler.ServeHTTP(rec, chunked("POST", c.path, c.token, c.limit+1))
			var out map[string]any
			_ = json.Unmarshal(rec.Body.Bytes(), &out)
			if rec.Code != http.StatusRequestEntityTooLarge || !strings.Contains(errMessage(out), c.want) {
				t.Fatalf("%d %s; want 413 naming %s", rec.Code, rec.Body.Bytes(), c.want)
			}
		})
	}
}

// decodeJSON and readBody report the limit of the reader that stopped the
// body, whatever the route set.
func TestTooLargeSaysTheReadersLimit(t *testing.T) {
	for _, limit := range []int64{100, 16 << 10, 64 << 20} {
		want := map[int64]string{100: "limit of 100 bytes", 16 << 10: "limit of 16384 bytes (16 KiB)", 64 << 20: "limit of 67108864 bytes (64 MiB)"}[limit]
		r := httptest.NewRequest("POST", "/", io.LimitReader(spaces{}, limit+1))
		r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, limit)
		if err := decodeJSON(r, &struct{}{}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("decodeJSON over %d: %v; want %q", limit, err, want)
		}
		r = httptest.NewRequest("POST", "/", io.LimitReader(spaces{}, limit+1))
		r.Body = http.MaxBytesReader(httptest.NewRecorder(), r.Body, limit)
		if _, err := readBody(r); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("readBody over %d: %v; want %q", limit, err, want)
		}
	}
}

// A handler that panics answers 500 without the stack; the log has the
// panic and the stack that led to it.
func TestPanicLogsTheStackNotTheClient(t *testing.T) {
	var logs bytes.Buffer
	s := &Server{Log: slog.New(slog.NewJSONHandler(&logs, nil))}
	h := s.recoverer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) { panicInHandler() }))
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/api/v1/boom", nil))
	if rec.Code != http.StatusInternalServerError || strings.Contains(rec.Body.String(), "panicInHandler") ||
		strings.Contains(rec.Body.String(), "nil map") {
		t.Fatalf("answer %d %s; want a 500 that shows neither the panic nor the stack", rec.Code, rec.Body)
	}
	if !strings.Contains(logs.String(), "panicInHandler") || !strings.Contains(logs.String(), "assignment to entry in nil map") {
		t.Fatalf("the log lacks the panic or its stack:\n%s", logs.String())
	}
}

func panicInHandler() {
	var m map[string]int
	m["x"] = 1
}

// An accepted webhook is an event (listed with its id, hook and time): its
// access log line is at debug, so a hook taking thousands of events a
// second does not write as many lines at the default level. A refused one
// is logged at info.
func TestAcceptedHookLogsAtDebug(t *testing.T) {
	logs := &testproc.Buffer{}
	s, hooks, _ := hookServer(t, slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	c, err := hooks.Create(context.Background(), "h", "", event.HookSpec{Scheme: webhooksig.SchemeBearer}, "a-bearer-secret-of-some-length", false)
	if err != nil {
		t.Fatal(err)
	}
	handler := s.Handler()
	post := func(bearer string) int {
		r := httptest.NewRequest("POST", "/hooks/"+c.Hook.ID, strings.NewReader(`{"x":1}`))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer "+bearer)
		rec := httptest.NewRecorder()
		handler.ServeHTTP(rec, r)
		return rec.Code
	}
	levels := func() map[int]string {
		out := map[int]string{}
		for _, line := range strings.Split(strings.TrimSpace(logs.String()), "\n") {
			var e struct {
				Level, Msg string
				Status     int
			}
			if json.Unmarshal([]byte(line), &e) == nil && e.Msg == "http request" {
				out[e.Status] = e.Level
			}
		}
		return out
	}
	if code := post("a-bearer-secret-of-some-length"); code != http.StatusOK {
		t.Fatalf("signed request: %d", code)
	}
	if code := post("not-the-secret-at-all"); code != http.StatusUnauthorized {
		t.Fatalf("unsigned request: %d", code)
	}
	if got := levels(); got[200] != "DEBUG" || got[401] != "INFO" {
		t.Fatalf("access log levels by status %v; want 200 at DEBUG, 401 at INFO", got)
	}
}

package mcpserver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
	fakeodoo "github.com/insightpulseai/ipai/internal/fake/odoo"
)

// recorder is an Auditor that keeps entries.
type recorder struct {
	mu      sync.Mutex
	entries []audit.Entry
}

func (r *recorder) Write(_ context.Context, e audit.Entry) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.entries = append(r.entries, e)
	return nil
}

func (r *recorder) last(t *testing.T, env *Env) audit.Entry {
	t.Helper()
	env.Flush()
	r.mu.Lock()
	defer r.mu.Unlock()
	if len(r.entries) == 0 {
		t.Fatal("no audit entry written")
	}
	return r.entries[len(r.entries)-1]
}

// find returns the newest entry for which ok is true.
func (r *recorder) find(t *testing.T, env *Env, ok func(audit.Entry) bool) audit.Entry {
	t.Helper()
	env.Flush()
	r.mu.Lock()
	defer r.mu.Unlock()
	for i := len(r.entries) - 1; i >= 0; i-- {
		if ok(r.entries[i]) {
			return r.entries[i]
		}
	}
	t.Fatal("no matching audit entry")
	return audit.Entry{}
}

func principal(id string, scopes ...string) *auth.Principal {
	return &auth.Principal{ID: id, Name: id, Kind: "token", Role: auth.RoleUser, Scopes: scopes}
}

// connect runs s on an in-memory transport and returns a client session.
func connect(t *testing.T, s *mcp.Server) *mcp.ClientSession {
	t.Helper()
	ct, st := mcp.NewInMemoryTransports()
	ctx := context.Background()
	ss, err := s.Connect(ctx, st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ss.Close() })
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// call calls a tool and decodes its structured result into out (when not
// nil). It returns the error text of a tool error, "" on success.
func call(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any, out any) string {
	t.Helper()
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s: protocol error: %v", name, err)
	}
	if res.IsError {
		var b strings.Builder
		for _, c := range res.Content {
			if tc, ok := c.(*mcp.TextContent); ok {
				b.WriteString(tc.Text)
			}
		}
		return b.String()
	}
	if out != nil {
		raw, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(raw, out); err != nil {
			t.Fatalf("%s: decode %s: %v", name, raw, err)
		}
	}
	return ""
}

func mustOK(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any, out any) {
	t.Helper()
	if msg := call(t, cs, name, args, out); msg != "" {
		t.Fatalf("%s: tool error: %s", name, msg)
	}
}

func mustFail(t *testing.T, cs *mcp.ClientSession, name string, args map[string]any, want string) {
	t.Helper()
	msg := call(t, cs, name, args, nil)
	if msg == "" {
		t.Fatalf("%s succeeded; want an error containing %q", name, want)
	}
	if !strings.Contains(msg, want) {
		t.Fatalf("%s error = %q; want it to contain %q", name, msg, want)
	}
}

// odooFront serves the fake Odoo and adds what it lacks: message_post
// (stored as mail.message records) on /jsonrpc and JSON-2.
func odooFront(t testing.TB, f *fakeodoo.Server) string {
	h := f.Config.Handler
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		var env struct {
			ID     any `json:"id"`
			Params struct {
				Service string `json:"service"`
				Method  string `json:"method"`
				Args    []any  `json:"args"`
			} `json:"params"`
		}
		if r.URL.Path == "/jsonrpc" && json.Unmarshal(body, &env) == nil && env.Params.Service == "object" &&
			len(env.Params.Args) >= 7 && env.Params.Args[4] == "message_post" && env.Params.Args[2] == fakeodoo.APIKey {
			model, _ := env.Params.Args[3].(string)
			ids, _ := env.Params.Args[5].([]any)
			kw, _ := env.Params.Args[6].(map[string]any)
			id := f.Add("mail.message", fakeodoo.Record{"model": model, "res_id": ids[0].([]any)[0], "body": kw["body"], "message_type": kw["message_type"]})
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"jsonrpc": "2.0", "id": env.ID, "result": id})
			return
		}
		h.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

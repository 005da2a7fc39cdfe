package mcpserver

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/auth"
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

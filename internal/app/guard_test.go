package app

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/fake/mattermost"
	"github.com/insightpulseai/ipai/internal/outbound"
)

func port(t *testing.T, rawURL string) string {
	t.Helper()
	_, p, err := net.SplitHostPort(strings.TrimPrefix(rawURL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// A connector on a loopback host does not open the guard for endpoint
// deliveries: not to another port of that host, not to the connector's own
// port. Its allowance is its own client's, and it ends with the connector.
func TestConnectorDoesNotOpenTheGuardForEndpoints(t *testing.T) {
	h := startHub(t, filepath.Join(t.TempDir(), "ipai.db"), func(c *config.Config) { c.Outbound.Allow = nil })
	mm := mattermost.New()
	t.Cleanup(mm.Close)
	st, out := h.api("POST", "/api/v1/connectors", map[string]any{"code": "chat", "type": "mattermost", "base_url": mm.URL,
		"settings": map[string]string{"team": "ipai"}, "secrets": map[string]string{"token": mattermost.AdminToken}})
	if st != 201 {
		t.Fatalf("create connector: %d %v", st, out)
	}
	if st, out := h.api("POST", "/api/v1/connectors/chat/test", nil); st != 200 || out["ok"] != true {
		t.Fatalf("test connector on loopback: %d %v", st, out)
	}

	rc := newReceiver(t, func(int, http.ResponseWriter) int { return 200 })
	inID, inSec := h.incoming("t.x")
	h.endpoint(map[string]any{"target_url": rc.srv.URL, "event_types": []string{"*"}})
	evID := h.send(inID, inSec, "m1", `{}`)
	waitFor(t, "blocked delivery", func() bool { return h.delivery(evID)["state"] == "dead" })
	if d := h.delivery(evID); !strings.Contains(d["last_error"].(string), "blocked") || rc.count() != 0 {
		t.Fatalf("delivery to another loopback port after a loopback connector: %v, receiver got %d", d, rc.count())
	}

	// The connector's own client reaches it; another port of its host and a
	// client without the allowance do not.
	ctx := context.Background()
	cfg, err := h.a.Connectors.Config(ctx, "chat")
	if err != nil {
		t.Fatal(err)
	}
	hc := h.a.Connectors.HTTPClient(cfg)
	if resp, err := hc.Get(mm.URL + "/api/v4/system/ping"); err != nil {
		t.Fatalf("connector's own client: %v", err)
	} else {
		resp.Body.Close()
	}
	if _, err := hc.Get("http://127.0.0.1:" + port(t, rc.srv.URL)); !errors.Is(err, outbound.ErrBlocked) {
		t.Fatalf("connector's client to another port of its host: %v; want blocked", err)
	}
	if _, err := h.a.guard.Client(outbound.Options{}).Get(mm.URL); !errors.Is(err, outbound.ErrBlocked) {
		t.Fatalf("the guard itself after the connector: %v; want blocked", err)
	}

	// Deleting the connector ends its allowance, even for a client handed
	// out before.
	if st, out := h.api("DELETE", "/api/v1/connectors/chat", nil); st != 204 && st != 200 {
		t.Fatalf("delete connector: %d %v", st, out)
	}
	hc.CloseIdleConnections()
	if _, err := hc.Get(mm.URL + "/api/v4/system/ping"); !errors.Is(err, outbound.ErrBlocked) {
		t.Fatalf("deleted connector's client: %v; want blocked", err)
	}
}

// outbound.allow is what lets endpoints reach private addresses; an entry
// with a port allows that port only.
func TestOutboundAllowWithPortForEndpoints(t *testing.T) {
	ok := newReceiver(t, func(int, http.ResponseWriter) int { return 200 })
	other := newReceiver(t, func(int, http.ResponseWriter) int { return 200 })
	h := startHub(t, filepath.Join(t.TempDir(), "ipai.db"), func(c *config.Config) {
		c.Outbound.Allow = []string{"127.0.0.1:" + port(t, ok.srv.URL)}
	})
	inID, inSec := h.incoming("t.x")
	okID, _ := h.endpoint(map[string]any{"target_url": ok.srv.URL, "event_types": []string{"*"}})
	otherID, _ := h.endpoint(map[string]any{"target_url": other.srv.URL, "event_types": []string{"*"}})
	evID := h.send(inID, inSec, "m1", `{}`)
	state := func() map[string]map[string]any {
		_, ev := h.api("GET", "/api/v1/events/"+evID, nil)
		byEndpoint := map[string]map[string]any{}
		for _, d := range ev["deliveries"].([]any) {
			_, full := h.api("GET", "/api/v1/deliveries/"+d.(map[string]any)["id"].(string), nil)
			ep, _ := full["endpoint_id"].(string)
			byEndpoint[ep] = full
		}
		return byEndpoint
	}
	waitFor(t, "both deliveries finished", func() bool {
		s := state()
		return s[okID]["state"] == "succeeded" && s[otherID]["state"] == "dead"
	})
	if d := state()[otherID]; !strings.Contains(d["last_error"].(string), "blocked") || other.count() != 0 || ok.count() != 1 {
		t.Fatalf("other port: %v; receivers got %d (allowed port) and %d (other port)", d, ok.count(), other.count())
	}
}

// A pulser agent's URL (set by any holder of mcp:pulser:write) is called
// through the guard: loopback is refused unless outbound.allow allows it.
func TestPulserAgentURLIsGuarded(t *testing.T) {
	for _, allowed := range []bool{false, true} {
		t.Run(map[bool]string{false: "refused", true: "allowed"}[allowed], func(t *testing.T) {
			rc := newReceiver(t, func(_ int, w http.ResponseWriter) int { return 200 })
			h := startHub(t, filepath.Join(t.TempDir(), "ipai.db"), func(c *config.Config) {
				c.Outbound.Allow = nil
				if allowed {
					c.Outbound.Allow = []string{"127.0.0.1:" + port(t, rc.srv.URL)}
				}
			})
			ctx := context.Background()
			raw, _, err := auth.NewTokens(h.a.DB).Create(ctx, auth.CreateOptions{Name: "agent", Role: auth.RoleUser,
				Scopes: []string{"mcp:pulser:read", "mcp:pulser:write"}})
			if err != nil {
				t.Fatal(err)
			}
			tr := &mcp.StreamableClientTransport{Endpoint: h.base + "/mcp/pulser", HTTPClient: &http.Client{Transport: bearerRT{raw, http.DefaultTransport}}}
			cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).Connect(ctx, tr, nil)
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			call := func(name string, args map[string]any) map[string]any {
				t.Helper()
				res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
				if err != nil || res.IsError {
					t.Fatalf("%s: %v %+v", name, err, res)
				}
				b, _ := json.Marshal(res.StructuredContent)
				var out map[string]any
				_ = json.Unmarshal(b, &out)
				return out
			}
			call("register_agent", map[string]any{"name": "probe", "kind": "http", "endpoint": rc.srv.URL + "/run"})
			id := call("run_agent", map[string]any{"agent": "probe"})["id"].(string)
			var run map[string]any
			waitFor(t, "the run to finish", func() bool {
				run = call("get_run", map[string]any{"run_id": id})
				return run["status"] == "completed" || run["status"] == "failed"
			})
			if allowed {
				if run["status"] != "completed" || rc.count() != 1 {
					t.Fatalf("allowed agent URL: run %v, receiver got %d", run, rc.count())
				}
				return
			}
			if run["status"] != "failed" || !strings.Contains(fmt.Sprint(run["error"]), "blocked") || rc.count() != 0 {
				t.Fatalf("loopback agent URL: run %v, receiver got %d; want failed, blocked", run, rc.count())
			}
		})
	}
}

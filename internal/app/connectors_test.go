package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/fake/mattermost"
)

// Connectors declared in ipai.yaml are applied at start (idempotently,
// managed) and serve checks the active ones: /api/v1/health and the gauges.
func TestServeAppliesConfigConnectorsAndChecksHealth(t *testing.T) {
	mm := mattermost.New()
	t.Cleanup(mm.Close)
	cfg := config.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Log.Format = "json"
	cfg.Connectors = []config.ConnectorSpec{{Code: "chat", Type: "mattermost", BaseURL: mm.URL,
		Settings: map[string]string{"team": "ipai"}, Secrets: map[string]string{"token": mattermost.AdminToken}}}
	ctx := context.Background()
	var logs bytes.Buffer
	first, err := New(ctx, cfg, &logs)
	if err != nil {
		t.Fatal(err)
	}
	c, err := first.Connectors.Get(ctx, "chat")
	if err != nil || !c.Managed || c.State != "draft" || c.Secrets["token"] == mattermost.AdminToken {
		t.Fatalf("applied connector: %+v %v", c, err)
	}
	if rep, err := first.Connectors.Test(ctx, "chat"); err != nil || !rep.OK {
		t.Fatalf("test: %+v %v", rep, err)
	}
	if _, err := first.Connectors.Activate(ctx, "chat"); err != nil {
		t.Fatal(err)
	}
	first.Close()

	// A restart with the same file keeps the connector as it is.
	a, err := New(ctx, cfg, &logs)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := a.Connectors.Get(ctx, "chat"); c.State != "active" {
		t.Fatalf("after restart: state %s; want active", c.State)
	}
	sctx, cancel := context.WithCancel(ctx)
	addr, done := run(t, sctx, a)
	t.Cleanup(func() { cancel(); <-done; a.Close() })
	base := "http://" + addr
	raw, _, err := auth.NewTokens(a.DB).Create(ctx, auth.CreateOptions{Name: "t", Role: auth.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequest("GET", base+"/api/v1/health", nil)
		req.Header.Set("Authorization", "Bearer "+raw)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var v struct {
			OK         bool
			Connectors []struct{ Code, State string }
		}
		json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if v.OK && len(v.Connectors) == 1 && v.Connectors[0].State == "up" {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("health never showed chat up: %+v", v)
		}
		time.Sleep(50 * time.Millisecond)
	}
	resp, err := http.Get(base + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `ipai_connector_up{code="chat",type="mattermost"} 1`) {
		t.Fatalf("no connector gauge in /metrics:\n%.2000s", body)
	}
	if strings.Contains(logs.String(), mattermost.AdminToken) {
		t.Fatal("the connector token appears in the logs")
	}
}

func TestBadConfigConnectorStopsStart(t *testing.T) {
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Connectors = []config.ConnectorSpec{{Code: "erp", Type: "odoo", BaseURL: "https://erp.example.com"}}
	_, err := New(context.Background(), cfg, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "connectors[0].settings.database") {
		t.Fatalf("start with an incomplete connector: %v; want an error naming the key", err)
	}
}

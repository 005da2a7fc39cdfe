package app

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/event"
	fakemm "github.com/insightpulseai/ipai/internal/fake/mattermost"
	fakeodoo "github.com/insightpulseai/ipai/internal/fake/odoo"
	"github.com/insightpulseai/ipai/internal/testproc"
)

// notifyChannel is the Mattermost channel id health notices go to.
const notifyChannel = "hnoticechannel0000000000ab"

// Run starts every worker (HTTP, dispatcher, sync, health with its
// notices, n8n workflow sync, reload, rules watch, upkeep, pulser) and,
// once its context is cancelled, returns only when all have stopped: the
// health notice in flight is sent, not dropped, and neither Run nor Close
// leaves a goroutine behind.
func TestRunStopsEveryWorker(t *testing.T) {
	before := goleak.IgnoreCurrent()
	erp := fakeodoo.New()
	defer erp.Close()
	// chat is a Mattermost (the fake) that goes down once activated, so
	// health posts a notice through it: it still takes posts, each held
	// until release is closed.
	mm := fakemm.New()
	defer mm.Close()
	mmURL, _ := url.Parse(mm.URL)
	proxy := httputil.NewSingleHostReverseProxy(mmURL)
	arrived, release := make(chan struct{}), make(chan struct{})
	var down, posted atomic.Bool
	chat := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !down.Load() {
			proxy.ServeHTTP(w, r)
			return
		}
		if r.Method == http.MethodPost && r.URL.Path == "/api/v4/posts" {
			close(arrived)
			<-release
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusCreated)
			_, _ = io.WriteString(w, `{"id":"p1","channel_id":"`+notifyChannel+`"}`)
			posted.Store(true)
			return
		}
		http.Error(w, "down for maintenance", http.StatusServiceUnavailable)
	}))
	defer chat.Close()
	releaseOnce := sync.OnceFunc(func() { close(release) })
	defer releaseOnce() // (before chat.Close, which waits for held posts)
	got := make(chan []byte, 1)
	receiver := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		select {
		case got <- b:
		default:
		}
	}))
	defer receiver.Close()

	cfg := config.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Database.URL = filepath.Join(t.TempDir(), "ipai.db")
	cfg.Log.Format = "json"
	cfg.Delivery.Poll = 20 * time.Millisecond
	cfg.Outbound.Allow = []string{"127.0.0.1/32"}
	cfg.Connectors = []config.ConnectorSpec{
		{Code: "erp", Type: "odoo", BaseURL: erp.URL, Settings: map[string]string{"database": fakeodoo.DB, "login": fakeodoo.Login},
			Secrets: map[string]string{"api_key": fakeodoo.APIKey}},
		{Code: "chat", Type: "mattermost", BaseURL: chat.URL, Settings: map[string]string{"team": "ipai"},
			Secrets: map[string]string{"token": fakemm.AdminToken}},
		{Code: "flows", Type: "n8n", BaseURL: chat.URL, Secrets: map[string]string{"api_key": "n8n-key"}},
	}
	cfg.Sync.Watchers = []config.SyncWatcher{{Connector: "erp", Model: "res.partner"}}
	cfg.ChatOps.N8N.Connector = "flows"
	cfg.ChatOps.Notifications = config.Notifications{Connector: "chat", Error: notifyChannel, Info: notifyChannel, Health: true}
	cfg.Webhooks = []config.WebhookSpec{
		{Name: "shop", Direction: "incoming", Secret: "shop-secret-0123456789", HookSpec: event.HookSpec{Scheme: "bearer", EventType: "shop.order"}},
		{Name: "out", Direction: "outgoing", Secret: "out-signing-secret-0123",
			EndpointSpec: delivery.EndpointSpec{TargetURL: receiver.URL, EventTypes: []string{"shop.*"}}},
	}
	var logs testproc.Buffer
	a, err := New(context.Background(), cfg, &logs)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	if rep, err := a.Connectors.Test(context.Background(), "chat"); err != nil || !rep.OK {
		t.Fatalf("test chat: %+v %v", rep, err)
	}
	if _, err := a.Connectors.Activate(context.Background(), "chat"); err != nil {
		t.Fatal(err)
	}
	down.Store(true)
	built := goleak.IgnoreCurrent() // what New started: the ingester, the audit writer, the store
	hooks, err := a.DB.ListWebhooks(context.Background(), "incoming")
	if err != nil || len(hooks) != 1 {
		t.Fatalf("declared incoming hook: %v %v", hooks, err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	addr, done := run(t, ctx, a)

	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/hooks/"+hooks[0].ID, strings.NewReader(`{"order":42}`))
	req.Header.Set("Authorization", "Bearer shop-secret-0123456789")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("event: %d", resp.StatusCode)
	}
	select {
	case b := <-got:
		if !bytes.Contains(b, []byte(`"order":42`)) {
			t.Fatalf("delivered %s", b)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("the event was not delivered")
	}
	select {
	case <-arrived: // chat is down: its notice is being posted
	case <-time.After(15 * time.Second):
		t.Fatal("no health notice was posted")
	}

	cancel()
	// The hub stops serving, but Run waits for the notice in flight.
	waitFor(t, "the HTTP server to stop", func() bool {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
		}
		return err != nil
	})
	// The other workers stop within milliseconds of the server; Run must
	// still be waiting for the notice after that (a negative check: it has
	// to give an early return the time to happen).
	select {
	case err := <-done:
		t.Fatalf("Run returned (%v) with a health notice in flight", err)
	case <-time.After(2 * time.Second):
	}
	releaseOnce()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run returned %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("Run did not return after its context was cancelled")
	}
	if !posted.Load() || strings.Contains(logs.String(), "health notification failed") {
		t.Fatalf("the notice in flight at shutdown was not sent:\n%s", logs.String())
	}
	// The services end the hub's keep-alive connections to them.
	erp.Close()
	chat.Close()
	mm.Close()
	receiver.Close()
	http.DefaultClient.CloseIdleConnections()
	goleak.VerifyNone(t, built)
	a.Close()
	goleak.VerifyNone(t, before)
}

package app

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/event"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/testpg"
	"github.com/insightpulseai/ipai/internal/webhooksig"
)

func TestMain(m *testing.M) { testpg.Main(m) }

// hub is a running hub for end-to-end tests.
type hub struct {
	t     *testing.T
	a     *App
	base  string
	admin string
}

func startHub(t *testing.T, dbURL string, tweak func(*config.Config)) *hub {
	t.Helper()
	cfg := config.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Database.URL = dbURL
	cfg.Log.Format = "json"
	cfg.Delivery.Poll = 20 * time.Millisecond
	cfg.Delivery.Lease = 5 * time.Second
	cfg.Outbound.Allow = []string{"127.0.0.1/32"}
	if tweak != nil {
		tweak(&cfg)
	}
	a, err := New(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ready) }()
	h := &hub{t: t, a: a, base: "http://" + <-ready}
	t.Cleanup(func() { cancel(); <-done; a.Close() })
	if testing.Verbose() {
		a.Log = NewLogger(config.Log{Level: "debug", Format: "text"}, os.Stderr)
	}
	raw, _, err := auth.NewTokens(a.DB).Create(context.Background(), auth.CreateOptions{Name: "admin", Role: auth.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	h.admin = raw
	return h
}

func (h *hub) api(method, path string, body any) (int, map[string]any) {
	h.t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, h.base+path, rd)
	req.Header.Set("Authorization", "Bearer "+h.admin)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func (h *hub) post(path string, hdr http.Header, body []byte) (int, map[string]any) {
	h.t.Helper()
	req, _ := http.NewRequest("POST", h.base+path, bytes.NewReader(body))
	for k, v := range hdr {
		req.Header[k] = v
	}
	if req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		h.t.Fatal(err)
	}
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func signed(secret, id string, ts time.Time, body []byte) http.Header {
	h := http.Header{}
	h.Set("webhook-id", id)
	h.Set("webhook-timestamp", strconv.FormatInt(ts.Unix(), 10))
	h.Set("webhook-signature", webhooksig.SignStandard(secret, id, ts.Unix(), body))
	return h
}

func backends(t *testing.T) map[string]string {
	return map[string]string{store.SQLite: filepath.Join(t.TempDir(), "ipai.db"), store.Postgres: testpg.URL(t)}
}

func TestIncomingStandardHook(t *testing.T) {
	for kind, url := range backends(t) {
		t.Run(kind, func(t *testing.T) {
			h := startHub(t, url, nil)
			st, out := h.api("POST", "/api/v1/webhooks", map[string]any{"direction": "incoming", "name": "shop", "scheme": "standard", "event_type": "shop.order"})
			if st != 201 {
				t.Fatalf("create hook: %d %v", st, out)
			}
			sec := out["secret"].(string)
			id := out["item"].(map[string]any)["id"].(string)
			body := []byte(`{"order":42}`)
			st, res := h.post("/hooks/"+id, signed(sec, "msg_1", time.Now(), body), body)
			if st != 200 || res["duplicate"] != false {
				t.Fatalf("signed request: %d %v", st, res)
			}
			evID := res["event_id"].(string)
			// A retry of the same message is deduped to the same event.
			st, res = h.post("/hooks/"+id, signed(sec, "msg_1", time.Now(), body), body)
			if st != 200 || res["duplicate"] != true || res["event_id"] != evID {
				t.Fatalf("retry: %d %v; want duplicate of %s", st, res, evID)
			}
			// Refusals store nothing.
			bad := []struct {
				name   string
				hdr    http.Header
				body   []byte
				status int
			}{
				{"unsigned", http.Header{}, body, 401},
				{"wrong secret", signed(webhooksig.NewSecret(), "msg_2", time.Now(), body), body, 401},
				{"tampered body", signed(sec, "msg_3", time.Now(), body), []byte(`{"order":43}`), 401},
				{"old timestamp", signed(sec, "msg_4", time.Now().Add(-6*time.Minute), body), body, 401},
				{"future timestamp", signed(sec, "msg_5", time.Now().Add(6*time.Minute), body), body, 401},
				{"not JSON", signed(sec, "msg_6", time.Now(), []byte("order=1")), []byte("order=1"), 400},
				{"too large", signed(sec, "msg_7", time.Now(), bytes.Repeat([]byte("a"), 2<<20)), bytes.Repeat([]byte("a"), 2<<20), 413},
			}
			for _, b := range bad {
				st, res := h.post("/hooks/"+id, b.hdr, b.body)
				if st != b.status || res["error"] == nil {
					t.Errorf("%s: %d %v; want %d with a JSON error", b.name, st, res, b.status)
				}
			}
			if n, _ := h.a.DB.CountEvents(context.Background()); n != 1 {
				t.Fatalf("%d events stored; want 1", n)
			}
			rows, _ := h.a.DB.ListAudit(context.Background(), store.AuditFilter{Action: "webhook.refused"})
			if len(rows) == 0 || rows[0].Level != "warning" || rows[0].Target != id {
				t.Fatalf("refusals not audited: %+v", rows)
			}
			// Rotation: the new and, for the grace period, the old secret work.
			st, out = h.api("POST", "/api/v1/webhooks/"+id+"/rotate-secret", nil)
			if st != 200 {
				t.Fatalf("rotate: %d %v", st, out)
			}
			newSec := out["secret"].(string)
			for i, s := range []string{sec, newSec} {
				b := []byte(fmt.Sprintf(`{"after_rotation":%d}`, i))
				if st, res := h.post("/hooks/"+id, signed(s, fmt.Sprintf("rot_%d", i), time.Now(), b), b); st != 200 {
					t.Fatalf("secret %d after rotation: %d %v", i, st, res)
				}
			}
			// The secret is never shown again.
			_, view := h.api("GET", "/api/v1/webhooks/"+id, nil)
			if b, _ := json.Marshal(view); bytes.Contains(b, []byte(newSec)) || view["secret_set"] != true {
				t.Fatalf("webhook view leaks or lacks secret state: %s", b)
			}
		})
	}
}

func TestOtherSchemes(t *testing.T) {
	h := startHub(t, filepath.Join(t.TempDir(), "ipai.db"), nil)
	mk := func(spec map[string]any) (string, string) {
		spec["direction"], spec["name"] = "incoming", "x"
		st, out := h.api("POST", "/api/v1/webhooks", spec)
		if st != 201 {
			t.Fatalf("create %v: %d %v", spec, st, out)
		}
		return out["item"].(map[string]any)["id"].(string), out["secret"].(string)
	}
	body := []byte(`{"a":1}`)
	id, sec := mk(map[string]any{"scheme": "hmac-hex"})
	if st, _ := h.post("/hooks/"+id, http.Header{"X-Signature": {webhooksig.SignHex(sec, body)}}, body); st != 200 {
		t.Fatalf("hmac-hex: %d", st)
	}
	if st, _ := h.post("/hooks/"+id, http.Header{"X-Signature": {webhooksig.SignHex("wrong", body)}}, body); st != 401 {
		t.Fatalf("hmac-hex wrong: %d", st)
	}
	id, sec = mk(map[string]any{"scheme": "bearer"})
	if st, _ := h.post("/hooks/"+id, http.Header{"Authorization": {"Bearer " + sec}}, body); st != 200 {
		t.Fatalf("bearer: %d", st)
	}
	if st, _ := h.post("/hooks/"+id, http.Header{"Authorization": {"Bearer nope"}}, body); st != 401 {
		t.Fatalf("bearer wrong: %d", st)
	}
	// Mattermost sends forms with the token in a field; the event does not keep it.
	id, _ = mk(map[string]any{"scheme": "mattermost-token", "secret": "mm-token-0123456789abcd", "accept_form": true, "connector": "mm"})
	form := []byte("token=mm-token-0123456789abcd&text=%40agent+hello&user_name=ana")
	st, res := h.post("/integrations/mm/webhook/"+id, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, form)
	if st != 200 {
		t.Fatalf("mattermost form: %d %v", st, res)
	}
	ev, _ := h.a.DB.Event(context.Background(), res["event_id"].(string))
	if strings.Contains(ev.Payload, "mm-token") || !strings.Contains(ev.Payload, "@agent hello") || ev.Source != "mm" {
		t.Fatalf("stored event %+v", ev)
	}
	if st, _ := h.post("/integrations/other/webhook/"+id, http.Header{"Content-Type": {"application/x-www-form-urlencoded"}}, form); st != 404 {
		t.Fatalf("hook reached through another connector's path: %d; want 404", st)
	}
}

// receiver records what it is sent and answers with the status fn returns.
type receiver struct {
	mu   sync.Mutex
	got  []*http.Request
	body [][]byte
	srv  *httptest.Server
}

func newReceiver(t *testing.T, fn func(n int, w http.ResponseWriter) int) *receiver {
	rc := &receiver{}
	rc.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		rc.mu.Lock()
		rc.got = append(rc.got, r)
		rc.body = append(rc.body, b)
		n := len(rc.got)
		rc.mu.Unlock()
		w.WriteHeader(fn(n, w))
	}))
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *receiver) count() int { rc.mu.Lock(); defer rc.mu.Unlock(); return len(rc.got) }

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (h *hub) incoming(typ string) (id, secret string) {
	st, out := h.api("POST", "/api/v1/webhooks", map[string]any{"direction": "incoming", "name": "in", "scheme": "standard", "event_type": typ})
	if st != 201 {
		h.t.Fatalf("create hook: %d %v", st, out)
	}
	return out["item"].(map[string]any)["id"].(string), out["secret"].(string)
}

func (h *hub) endpoint(spec map[string]any) (id, secret string) {
	spec["direction"], spec["name"] = "outgoing", "out"
	st, out := h.api("POST", "/api/v1/webhooks", spec)
	if st != 201 {
		h.t.Fatalf("create endpoint: %d %v", st, out)
	}
	return out["item"].(map[string]any)["id"].(string), out["secret"].(string)
}

func (h *hub) send(hookID, secret, msgID string, body string) string {
	st, res := h.post("/hooks/"+hookID, signed(secret, msgID, time.Now(), []byte(body)), []byte(body))
	if st != 200 {
		h.t.Fatalf("send: %d %v", st, res)
	}
	return res["event_id"].(string)
}

func (h *hub) delivery(eventID string) map[string]any {
	_, ev := h.api("GET", "/api/v1/events/"+eventID, nil)
	ds, _ := ev["deliveries"].([]any)
	if len(ds) != 1 {
		h.t.Fatalf("event %s has %d deliveries; want 1", eventID, len(ds))
	}
	_, d := h.api("GET", "/api/v1/deliveries/"+ds[0].(map[string]any)["id"].(string), nil)
	return d
}

func TestOutgoingDeliverySignedAndDeduplicable(t *testing.T) {
	for kind, url := range backends(t) {
		t.Run(kind, func(t *testing.T) {
			h := startHub(t, url, nil)
			rc := newReceiver(t, func(int, http.ResponseWriter) int { return 204 })
			inID, inSec := h.incoming("shop.order.created")
			_, epSec := h.endpoint(map[string]any{"target_url": rc.srv.URL, "event_types": []string{"shop.order.*"}, "sign_hex": true})
			h.endpoint(map[string]any{"target_url": rc.srv.URL, "event_types": []string{"crm.*"}}) // does not match
			evID := h.send(inID, inSec, "m1", `{"order":7}`)
			waitFor(t, "delivery", func() bool { return rc.count() == 1 })
			r, body := rc.got[0], rc.body[0]
			wh, err := standardwebhooks.NewWebhook(epSec)
			if err != nil {
				t.Fatal(err)
			}
			if err := wh.Verify(body, r.Header); err != nil {
				t.Fatalf("the Standard Webhooks library rejects our signature: %v", err)
			}
			if r.Header.Get("X-Signature") != webhooksig.SignHex(epSec, body) {
				t.Fatal("X-Signature missing or wrong")
			}
			var env map[string]any
			json.Unmarshal(body, &env)
			if env["type"] != "shop.order.created" || env["data"].(map[string]any)["order"] != 7.0 {
				t.Fatalf("body %s", body)
			}
			waitFor(t, "succeeded state", func() bool { return h.delivery(evID)["state"] == "succeeded" })
			d := h.delivery(evID)
			if r.Header.Get("webhook-id") != d["id"] || len(d["attempt_log"].([]any)) != 1 {
				t.Fatalf("webhook-id %q is not the delivery id %v, or attempts wrong", r.Header.Get("webhook-id"), d)
			}
		})
	}
}

func TestRetryDeadLetterAndReplay(t *testing.T) {
	h := startHub(t, filepath.Join(t.TempDir(), "ipai.db"), nil)
	var fail sync.Map
	fail.Store("on", true)
	rc := newReceiver(t, func(int, http.ResponseWriter) int {
		if v, _ := fail.Load("on"); v == true {
			return 500
		}
		return 200
	})
	inID, inSec := h.incoming("t.x")
	epID, _ := h.endpoint(map[string]any{"target_url": rc.srv.URL, "event_types": []string{"*"}, "retry_schedule": []string{"0s", "20ms", "20ms"}})
	evID := h.send(inID, inSec, "m1", `{}`)
	waitFor(t, "dead letter", func() bool { return h.delivery(evID)["state"] == "dead" })
	d := h.delivery(evID)
	if rc.count() != 3 || len(d["attempt_log"].([]any)) != 3 {
		t.Fatalf("%d attempts received, %d logged; want 3", rc.count(), len(d["attempt_log"].([]any)))
	}
	first := d["attempt_log"].([]any)[0].(map[string]any)
	if first["status"] != 500.0 || !strings.Contains(first["error"].(string), "500") || first["n"] != 1.0 ||
		first["delivery_id"] != d["id"] || first["at"] == nil || first["duration_ms"] == nil {
		t.Fatalf("attempt log %v", first)
	}
	// One naming rule for every field of the answer: snake_case.
	var walk func(v any)
	walk = func(v any) {
		switch x := v.(type) {
		case map[string]any:
			for k, val := range x {
				if !regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`).MatchString(k) {
					t.Errorf("GET /api/v1/deliveries/{id}: key %q is not snake_case", k)
				}
				walk(val)
			}
		case []any:
			for _, val := range x {
				walk(val)
			}
		}
	}
	walk(d)
	if st, out := h.api("GET", "/api/v1/deliveries?state=dead&endpoint="+epID, nil); st != 200 || len(out["items"].([]any)) != 1 {
		t.Fatalf("dead list: %d %v", st, out)
	}
	fail.Store("on", false)
	if st, out := h.api("POST", "/api/v1/deliveries/replay", map[string]any{"endpoint": epID}); st != 202 || out["replayed"] != 1.0 {
		t.Fatalf("bulk replay: %d %v", st, out)
	}
	waitFor(t, "replayed success", func() bool { return h.delivery(evID)["state"] == "succeeded" })
	if st, _ := h.api("POST", "/api/v1/deliveries/"+d["id"].(string)+"/replay", nil); st != 202 {
		t.Fatalf("single replay of a succeeded delivery: %d", st)
	}
	waitFor(t, "second replay", func() bool { return rc.count() == 5 })
}

func TestGoneDisablesAndRetryAfterIsHonoured(t *testing.T) {
	h := startHub(t, filepath.Join(t.TempDir(), "ipai.db"), nil)
	gone := newReceiver(t, func(int, http.ResponseWriter) int { return 410 })
	busy := newReceiver(t, func(n int, w http.ResponseWriter) int { w.Header().Set("Retry-After", "120"); return 429 })
	inID, inSec := h.incoming("t.x")
	goneID, _ := h.endpoint(map[string]any{"target_url": gone.srv.URL, "event_types": []string{"*"}, "source": inID})
	busyID, _ := h.endpoint(map[string]any{"target_url": busy.srv.URL, "event_types": []string{"*"}})
	h.send(inID, inSec, "m1", `{}`)
	waitFor(t, "endpoint disabled", func() bool {
		_, ep := h.api("GET", "/api/v1/webhooks/"+goneID, nil)
		return ep["state"] == "disabled"
	})
	waitFor(t, "busy attempt recorded", func() bool {
		_, out := h.api("GET", "/api/v1/deliveries?endpoint="+busyID, nil)
		items := out["items"].([]any)
		return len(items) == 1 && items[0].(map[string]any)["state"] == "failed"
	})
	_, out := h.api("GET", "/api/v1/deliveries?endpoint="+busyID, nil)
	next, _ := time.Parse(time.RFC3339, out["items"].([]any)[0].(map[string]any)["next_attempt_at"].(string))
	if time.Until(next) < 100*time.Second {
		t.Fatalf("next attempt at %s: Retry-After 120 s was not honoured", next)
	}
	// A disabled endpoint gets no new deliveries: an event's deliveries are
	// planned when it is stored, so once send returns, the only delivery
	// the disabled endpoint will ever attempt is its first, dead one.
	ev2 := h.send(inID, inSec, "m2", `{}`)
	if d := h.delivery(ev2); d["endpoint_id"] != busyID {
		t.Fatalf("the event after the disabling has a delivery to %v; want only the one to %s", d["endpoint_id"], busyID)
	}
	_, out = h.api("GET", "/api/v1/deliveries?endpoint="+goneID, nil)
	if items := out["items"].([]any); len(items) != 1 || items[0].(map[string]any)["state"] != "dead" {
		t.Fatalf("deliveries of the disabled endpoint: %v; want only the first, dead", items)
	}
	if gone.count() != 1 {
		t.Fatalf("disabled endpoint received %d requests; want 1", gone.count())
	}
}

func TestSSRFGuardBlocksPrivateTargets(t *testing.T) {
	h := startHub(t, filepath.Join(t.TempDir(), "ipai.db"), func(c *config.Config) { c.Outbound.Allow = nil })
	rc := newReceiver(t, func(int, http.ResponseWriter) int { return 200 })
	inID, inSec := h.incoming("t.x")
	h.endpoint(map[string]any{"target_url": rc.srv.URL, "event_types": []string{"*"}})
	evID := h.send(inID, inSec, "m1", `{}`)
	waitFor(t, "blocked delivery", func() bool { return h.delivery(evID)["state"] == "dead" })
	if d := h.delivery(evID); !strings.Contains(d["last_error"].(string), "blocked") || rc.count() != 0 {
		t.Fatalf("delivery to loopback: %v, receiver got %d", d, rc.count())
	}
}

func TestOrderedEndpointDeliversInOrder(t *testing.T) {
	for kind, url := range backends(t) {
		t.Run(kind, func(t *testing.T) {
			h := startHub(t, url, nil)
			rc := newReceiver(t, func(n int, w http.ResponseWriter) int {
				if n%3 == 0 {
					return 503 // some failures on the way must not reorder
				}
				return 200
			})
			inID, inSec := h.incoming("t.x")
			h.endpoint(map[string]any{"target_url": rc.srv.URL, "event_types": []string{"*"}, "ordered": true, "retry_schedule": []string{"0s", "10ms", "10ms", "10ms"}})
			for i := 0; i < 20; i++ {
				h.send(inID, inSec, fmt.Sprint("m", i), fmt.Sprintf(`{"i":%d}`, i))
			}
			waitFor(t, "20 successful deliveries", func() bool {
				_, out := h.api("GET", "/api/v1/deliveries?state=succeeded&limit=100", nil)
				return len(out["items"].([]any)) == 20
			})
			rc.mu.Lock()
			defer rc.mu.Unlock()
			last := -1
			for k, b := range rc.body {
				var env struct{ Data struct{ I int } }
				json.Unmarshal(b, &env)
				if env.Data.I < last || env.Data.I > last+1 {
					t.Fatalf("request %d carries event %d after %d: out of order", k, env.Data.I, last)
				}
				last = env.Data.I
			}
		})
	}
}

// The ops MCP server sees and replays the hub's deliveries.
func TestOpsMCPDeliveries(t *testing.T) {
	h := startHub(t, filepath.Join(t.TempDir(), "ipai.db"), nil)
	rc := newReceiver(t, func(int, http.ResponseWriter) int { return 500 })
	inID, inSec := h.incoming("t.x")
	h.endpoint(map[string]any{"target_url": rc.srv.URL, "event_types": []string{"*"}, "retry_schedule": []string{"0s"}})
	evID := h.send(inID, inSec, "m1", `{}`)
	waitFor(t, "dead letter", func() bool { return h.delivery(evID)["state"] == "dead" })
	ops := opsDeliveries{h.a}
	ds, err := ops.List(context.Background(), "dead", 10)
	if err != nil || len(ds) != 1 || ds[0].Event != evID {
		t.Fatalf("ops list: %+v %v", ds, err)
	}
	if d, err := ops.Replay(context.Background(), ds[0].ID); err != nil || d.State == "dead" {
		t.Fatalf("ops replay: %+v %v", d, err)
	}
	waitFor(t, "second attempt", func() bool { return rc.count() == 2 })
	if _, err := ops.Replay(context.Background(), "nope"); err == nil {
		t.Fatal("replay of an unknown delivery succeeded")
	}
}

// The hourly upkeep deletes events older than delivery.retention_days.
func TestEventRetention(t *testing.T) {
	cfg := config.Defaults()
	cfg.DataDir = t.TempDir()
	cfg.Database.URL = filepath.Join(cfg.DataDir, "ipai.db")
	cfg.Delivery.RetentionDays = 10
	ctx := context.Background()
	a, err := New(ctx, cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	res, err := a.Ingester.Ingest(ctx, event.Request{Source: "s", Type: "t", Payload: []byte(`{"a":1}`)})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	a.Now = func() time.Time { return start.Add(9 * 24 * time.Hour) }
	a.PurgeEvents(ctx)
	if _, err := a.DB.Event(ctx, res.EventID); err != nil {
		t.Fatalf("an event inside the retention was purged: %v", err)
	}
	a.Now = func() time.Time { return start.Add(11 * 24 * time.Hour) }
	a.PurgeEvents(ctx)
	if _, err := a.DB.Event(ctx, res.EventID); err != store.ErrNotFound {
		t.Fatalf("an event past the retention was kept: %v", err)
	}
}

// Text the database cannot store is refused with 400 before it reaches a
// batch, where it would have failed every request sharing the commit.
func TestIncomingTextTheDatabaseCannotStore(t *testing.T) {
	for kind, url := range backends(t) {
		t.Run(kind, func(t *testing.T) {
			h := startHub(t, url, nil)
			_, out := h.api("POST", "/api/v1/webhooks", map[string]any{"direction": "incoming", "name": "shop", "scheme": "standard", "event_type": "shop.order"})
			sec, id := out["secret"].(string), out["item"].(map[string]any)["id"].(string)
			for _, c := range []struct{ name, msgID, body, want string }{
				{"invalid UTF-8 in the body", "msg_1", "{\"name\":\"caf\xe9\"}", "UTF-8"},
				{"invalid UTF-8 in the webhook-id", "msg_\xff", `{"name":"x"}`, "UTF-8"},
				{"a body that is not JSON", "msg_2", `{"name":`, "not valid JSON"},
			} {
				st, res := h.post("/hooks/"+id, signed(sec, c.msgID, time.Now(), []byte(c.body)), []byte(c.body))
				msg := fmt.Sprint(res["error"])
				if st != 400 || !strings.Contains(msg, c.want) {
					t.Errorf("%s: %d %v; want 400 naming %q", c.name, st, res, c.want)
				}
			}
			resp, err := http.Get(h.base + "/metrics")
			if err != nil {
				t.Fatal(err)
			}
			metrics, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if want := `ipai_inbound_requests_total{hook="` + id + `",outcome="bad_request"} 3`; !strings.Contains(string(metrics), want) {
				t.Errorf("the refusals are not counted as bad_request: no %s", want)
			}
			body := []byte(`{"name":"café"}`)
			if st, res := h.post("/hooks/"+id, signed(sec, "msg_ok", time.Now(), body), body); st != 200 {
				t.Fatalf("valid UTF-8 after the refusals: %d %v", st, res)
			}
			// A key too long for an index (here from a payload field) is
			// hashed, and still dedupes.
			_, out = h.api("POST", "/api/v1/webhooks", map[string]any{"direction": "incoming", "name": "refs", "scheme": "standard",
				"event_type": "shop.order", "idempotency_field": "ref"})
			sec, id = out["secret"].(string), out["item"].(map[string]any)["id"].(string)
			random := make([]byte, 6000)
			rand.Read(random)
			ref := base64.StdEncoding.EncodeToString(random)
			b1, b2 := []byte(`{"ref":"`+ref+`","n":1}`), []byte(`{"ref":"`+ref+`","n":2}`)
			st, first := h.post("/hooks/"+id, signed(sec, "m1", time.Now(), b1), b1)
			_, again := h.post("/hooks/"+id, signed(sec, "m2", time.Now(), b2), b2)
			if st != 200 || again["duplicate"] != true || again["event_id"] != first["event_id"] {
				t.Fatalf("a long key: %d %v, then %v; want stored once and the repeat a duplicate", st, first, again)
			}
		})
	}
}

// A receiver answering bytes that are not text (a NUL, invalid UTF-8) does
// not keep its attempts, or those recorded in the same batch, from being
// recorded: the answer is stored as text, U+FFFD for each run of invalid
// bytes and no NUL.
func TestBinaryReceiverAnswerIsRecorded(t *testing.T) {
	for kind, url := range backends(t) {
		t.Run(kind, func(t *testing.T) {
			h := startHub(t, url, nil)
			rc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Write([]byte("ok\x00\xff\xfe"))
			}))
			defer rc.Close()
			inID, inSec := h.incoming("shop.order.created")
			h.endpoint(map[string]any{"target_url": rc.URL, "event_types": []string{"shop.*"}})
			var evs []string
			for i := 0; i < 5; i++ {
				evs = append(evs, h.send(inID, inSec, fmt.Sprint("m", i), fmt.Sprintf(`{"order":%d}`, i)))
			}
			for _, ev := range evs {
				waitFor(t, "succeeded state", func() bool { return h.delivery(ev)["state"] == "succeeded" })
			}
			log := h.delivery(evs[0])["attempt_log"].([]any)
			if got := log[0].(map[string]any)["response"]; got != "ok\uFFFD" {
				t.Fatalf("stored answer %q; want the text with U+FFFD for the invalid bytes and no NUL", got)
			}
		})
	}
}

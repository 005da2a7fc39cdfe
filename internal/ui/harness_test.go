package ui_test

import (
	"context"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"

	"github.com/insightpulseai/ipai/internal/app"
	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/event"
	"github.com/insightpulseai/ipai/internal/store"
	"github.com/insightpulseai/ipai/internal/webhooksig"
)

// hub is a hub built by app.New (the same wiring as `ipai serve`), served
// on a loopback listener whose URL is the public URL.
type hub struct {
	*app.App
	URL string
	srv *httptest.Server
}

func newHub(t testing.TB, mut func(*config.Config)) *hub {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cfg := config.Defaults()
	cfg.DataDir = dir
	cfg.Database.URL = filepath.Join(dir, "ipai.db")
	cfg.Log.Level, cfg.Log.Format = "error", "text"
	cfg.PublicURL = "http://" + ln.Addr().String()
	if mut != nil {
		mut(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	a, err := app.New(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(a.Handler())
	srv.Listener.Close()
	srv.Listener = ln
	srv.Start()
	t.Cleanup(func() { srv.Close(); a.Close() })
	return &hub{App: a, URL: cfg.PublicURL, srv: srv}
}

func (h *hub) addUser(t testing.TB, name string, role auth.Role) {
	t.Helper()
	if _, err := auth.NewUsers(h.DB).Create(context.Background(), auth.NewUser{Name: name, Role: role, Password: name + "-password"}); err != nil {
		t.Fatal(err)
	}
}

// seed adds an incoming hook, an outgoing endpoint, an event and n
// deliveries to the endpoint (every 10th dead), and returns the endpoint
// and one dead delivery.
func (h *hub) seed(t testing.TB, n int) (store.Webhook, string) {
	t.Helper()
	ctx := context.Background()
	in, err := h.Hooks.Create(ctx, "odoo-invoices", "", event.HookSpec{Scheme: webhooksig.SchemeStandard}, "", false)
	if err != nil {
		t.Fatal(err)
	}
	ep, _, err := h.Endpoints.Create(ctx, "finance-n8n", delivery.EndpointSpec{TargetURL: "https://n8n.example.com/webhook/finance", EventTypes: []string{"*"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	ev := store.Event{ID: uuid.Must(uuid.NewV7()).String(), Source: "odoo", Type: "invoice.posted", HookID: in.Hook.ID, ReceivedAt: now,
		IdempotencyKey: "k1", Payload: `{"id":42,"partner":"ACME","amount_total":1250.5}`}
	var dead string
	ds := make([]store.Delivery, 0, n)
	for i := 0; i < n; i++ {
		at := now.Add(-time.Duration(n-i) * 24 * time.Hour / time.Duration(n+1))
		st, errText, status := store.DeliverySucceeded, "", 200
		switch {
		case i%10 == 0:
			st, errText, status = store.DeliveryDead, "HTTP 503 from the receiver after 8 attempts", 503
		case i%7 == 0:
			st, errText, status = store.DeliveryFailed, "dial tcp: connection refused", 0
		}
		id := uuid.Must(uuid.NewV7()).String()
		if st == store.DeliveryDead {
			dead = id
		}
		ds = append(ds, store.Delivery{ID: id, EventID: ev.ID, Kind: "webhook", EndpointID: ep.ID, State: st, Attempts: 1 + i%3,
			NextAttemptAt: at, LastStatus: status, LastError: errText, CreatedAt: at, UpdatedAt: at})
	}
	err = h.DB.InTx(ctx, func(tx *store.Tx) error {
		if err := tx.InsertEvents(ctx, []store.Event{ev}); err != nil {
			return err
		}
		return tx.InsertDeliveries(ctx, ds)
	})
	if err != nil {
		t.Fatal(err)
	}
	if dead != "" {
		_, _ = h.DB.Exec(ctx, "INSERT INTO delivery_attempts (delivery_id, n, at, status, duration_ms, response, error) VALUES (?,?,?,?,?,?,?)",
			dead, 1, store.Micros(now.Add(-time.Minute)), 503, 120, `{"error":"maintenance"}`, "HTTP 503")
	}
	return ep, dead
}

// client is a cookie-keeping HTTP client that does not follow redirects.
type client struct {
	*http.Client
	base string
	t    testing.TB
}

func newClient(t testing.TB, base string) *client {
	jar, _ := cookiejar.New(nil)
	return &client{Client: &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}, base: base, t: t}
}

var csrfRe = regexp.MustCompile(`name="csrf" value="([^"]+)"`)

func (c *client) get(path string) (*http.Response, string) {
	c.t.Helper()
	resp, err := c.Get(c.base + path)
	if err != nil {
		c.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func (c *client) post(path string, form url.Values) (*http.Response, string) {
	c.t.Helper()
	resp, err := c.PostForm(c.base+path, form)
	if err != nil {
		c.t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	return resp, string(b)
}

func csrfOf(t testing.TB, body string) string {
	t.Helper()
	m := csrfRe.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("no csrf field in page:\n%.500s", body)
	}
	return m[1]
}

// login signs in with the form and returns the response of the POST.
func (c *client) login(name, password string) *http.Response {
	c.t.Helper()
	_, body := c.get("/login")
	resp, _ := c.post("/login", url.Values{"csrf": {csrfOf(c.t, body)}, "name": {name}, "password": {password}})
	return resp
}

func mustStatus(t testing.TB, resp *http.Response, want int, body string) {
	t.Helper()
	if resp.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d\n%.800s", resp.Request.Method, resp.Request.URL.Path, resp.StatusCode, want, body)
	}
}

var _ = strings.Contains

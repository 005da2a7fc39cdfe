package app

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/delivery"
	"github.com/insightpulseai/ipai/internal/secret"
	"github.com/insightpulseai/ipai/internal/store"
)

// everything the hub could show of a webhook: the API as a user, the
// stored row, the audit log.
func (h *hub) visible(t *testing.T, id string) string {
	t.Helper()
	raw, _, err := auth.NewTokens(h.a.DB).Create(context.Background(), auth.CreateOptions{Name: "viewer", Role: auth.RoleUser})
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, p := range []string{"/api/v1/webhooks", "/api/v1/webhooks/" + id} {
		req, _ := http.NewRequest("GET", h.base+p, nil)
		req.Header.Set("Authorization", "Bearer "+raw)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		_ = json.NewDecoder(resp.Body).Decode(&v)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Fatalf("GET %s as user: %d", p, resp.StatusCode)
		}
		j, _ := json.Marshal(v)
		b.Write(j)
	}
	rows, err := h.a.DB.ListAudit(context.Background(), store.AuditFilter{Limit: 1000})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rows {
		j, _ := json.Marshal(r)
		b.Write(j)
	}
	return b.String()
}

func TestEndpointCredentialsAreSealedAndNeverShown(t *testing.T) {
	for kind, url := range backends(t) {
		t.Run(kind, func(t *testing.T) {
			h := startHub(t, url, nil)
			rc := newReceiver(t, func(int, http.ResponseWriter) int { return 204 })
			// Credentials in the URL are refused with a pointer to headers.
			u := strings.Replace(rc.srv.URL, "http://", "http://alice:url-pass-1234@", 1)
			st, out := h.api("POST", "/api/v1/webhooks", map[string]any{"direction": "outgoing", "name": "x", "target_url": u})
			if b, _ := json.Marshal(out); st != 422 || !strings.Contains(string(b), "headers") || strings.Contains(string(b), "url-pass-1234") {
				t.Fatalf("URL with credentials: %d %s; want 422 pointing to headers, without the password", st, b)
			}
			inID, inSec := h.incoming("shop.order")
			id, _ := h.endpoint(map[string]any{"target_url": rc.srv.URL + "/in?x=1", "event_types": []string{"shop.*"},
				"headers": map[string]string{"Authorization": "Bearer hdr-secret-5678", "X-Tenant": "acme-tenant-99"}})
			view := h.visible(t, id)
			for _, leak := range []string{"hdr-secret-5678", "acme-tenant-99", "url-pass-1234"} {
				if strings.Contains(view, leak) {
					t.Fatalf("%q is shown to a user or audited: %s", leak, view)
				}
			}
			_, got := h.api("GET", "/api/v1/webhooks/"+id, nil)
			hs, _ := got["spec"].(map[string]any)["headers"].(map[string]any)
			if hs["Authorization"] != delivery.Redacted || hs["X-Tenant"] != delivery.Redacted {
				t.Fatalf("header names with redacted values expected: %v", got["spec"])
			}
			w, _ := h.a.DB.Webhook(context.Background(), id)
			if strings.Contains(w.Spec, "hdr-secret-5678") || strings.Contains(w.Spec, "acme-tenant-99") {
				t.Fatalf("header values stored in the clear: %s", w.Spec)
			}
			// They are still sent.
			h.send(inID, inSec, "m1", `{"n":1}`)
			waitFor(t, "delivery", func() bool { return rc.count() == 1 })
			if a := rc.got[0].Header.Get("Authorization"); a != "Bearer hdr-secret-5678" {
				t.Fatalf("Authorization sent: %q", a)
			}
			// A PATCH may keep a value by sending it back redacted, and change another.
			st, out = h.api("PATCH", "/api/v1/webhooks/"+id, map[string]any{"spec": map[string]any{
				"headers": map[string]string{"Authorization": delivery.Redacted, "X-Tenant": "beta-tenant-77"}}})
			if st != 200 {
				t.Fatalf("patch headers: %d %v", st, out)
			}
			st, out = h.api("PATCH", "/api/v1/webhooks/"+id, map[string]any{"spec": map[string]any{"sealed_headers": map[string]string{"A": "v1:x"}}})
			if st != 422 {
				t.Fatalf("patch of sealed_headers: %d %v; want 422", st, out)
			}
			h.send(inID, inSec, "m2", `{"n":2}`)
			waitFor(t, "second delivery", func() bool { return rc.count() == 2 })
			if a, x := rc.got[1].Header.Get("Authorization"), rc.got[1].Header.Get("X-Tenant"); a != "Bearer hdr-secret-5678" || x != "beta-tenant-77" {
				t.Fatalf("after patch sent Authorization %q X-Tenant %q", a, x)
			}
			if view := h.visible(t, id); strings.Contains(view, "beta-tenant-77") {
				t.Fatalf("patched header value shown: %s", view)
			}
		})
	}
}

// Rows written by earlier versions (headers in the clear, credentials in
// the URL) are sealed when the hub starts.
func TestStoredEndpointCredentialsAreSealedAtStart(t *testing.T) {
	for kind, url := range backends(t) {
		t.Run(kind, func(t *testing.T) {
			rc := newReceiver(t, func(int, http.ResponseWriter) int { return 204 })
			h := startHub(t, url, nil)
			ctx := context.Background()
			now := time.Now().UTC()
			target := strings.Replace(rc.srv.URL, "http://", "http://bob:old%20pass@", 1) + "/legacy"
			mk := func(id, spec string) {
				w := store.Webhook{ID: id, Direction: store.Outgoing, Name: id, State: store.WebhookActive, Spec: spec,
					SecretSealed: h.a.box.Seal("whsec_legacy-signing-secret", "webhook:"+id), CreatedAt: now, UpdatedAt: now}
				if err := h.a.DB.CreateWebhook(ctx, w); err != nil {
					t.Fatal(err)
				}
			}
			mk("ep_legacyuserinfo", `{"target_url":"`+target+`","event_types":["legacy.*"],"content_type":"application/json","timeout":"15s","disable_after":"120h"}`)
			mk("ep_legacyheaders", `{"target_url":"`+rc.srv.URL+`/h","event_types":["legacy.*"],"content_type":"application/json","timeout":"15s","disable_after":"120h","headers":{"X-Api-Key":"plain-key-4242"}}`)
			// Start-up seals them (a second hub on the same store, as after an upgrade).
			h2 := startHub(t, url, func(c *config.Config) { c.DataDir = h.a.Cfg.DataDir })
			for _, id := range []string{"ep_legacyuserinfo", "ep_legacyheaders"} {
				w, err := h2.a.DB.Webhook(ctx, id)
				if err != nil {
					t.Fatal(err)
				}
				if strings.Contains(w.Spec, "old%20pass") || strings.Contains(w.Spec, "bob") || strings.Contains(w.Spec, "plain-key-4242") {
					t.Fatalf("%s still stores credentials in the clear: %s", id, w.Spec)
				}
				if v := h2.visible(t, id); strings.Contains(v, "plain-key-4242") || strings.Contains(v, "old%20pass") {
					t.Fatalf("%s shown: %s", id, v)
				}
			}
			inID, inSec := h2.incoming("legacy.thing")
			h2.send(inID, inSec, "m1", `{"n":1}`)
			waitFor(t, "two deliveries", func() bool { return rc.count() == 2 })
			for i := range 2 {
				r := rc.got[i]
				switch r.URL.Path {
				case "/legacy":
					want := "Basic " + base64.StdEncoding.EncodeToString([]byte("bob:old pass"))
					if r.Header.Get("Authorization") != want {
						t.Fatalf("legacy URL credentials sent as %q; want %q", r.Header.Get("Authorization"), want)
					}
				case "/h":
					if r.Header.Get("X-Api-Key") != "plain-key-4242" {
						t.Fatalf("legacy header sent as %q", r.Header.Get("X-Api-Key"))
					}
				default:
					t.Fatalf("unexpected path %s", r.URL.Path)
				}
			}
		})
	}
}

// A delivery whose signing secret does not open (another master key) is
// not sent unsigned: it fails at once, with a clear error.
func TestUnopenableEndpointSecretFailsTheDelivery(t *testing.T) {
	for kind, url := range backends(t) {
		t.Run(kind, func(t *testing.T) {
			h := startHub(t, url, nil)
			rc := newReceiver(t, func(int, http.ResponseWriter) int { return 204 })
			inID, inSec := h.incoming("shop.order")
			id, _ := h.endpoint(map[string]any{"target_url": rc.srv.URL, "event_types": []string{"shop.*"}})
			key := make([]byte, 32)
			_, _ = rand.Read(key)
			other, _ := secret.New(key)
			ctx := context.Background()
			w, _ := h.a.DB.Webhook(ctx, id)
			w.SecretSealed = other.Seal("whsec_other", "webhook:"+id)
			if err := h.a.DB.UpdateWebhook(ctx, w); err != nil {
				t.Fatal(err)
			}
			h.a.Endpoints.Forget(id)
			evID := h.send(inID, inSec, "m1", `{"n":1}`)
			waitFor(t, "dead delivery", func() bool { return h.delivery(evID)["state"] == "dead" })
			d := h.delivery(evID)
			if e, _ := d["last_error"].(string); !strings.Contains(e, "master key") {
				t.Fatalf("last_error %q does not say the secret does not open", e)
			}
			if rc.count() != 0 {
				t.Fatalf("the receiver got %d unsigned/wrongly signed requests", rc.count())
			}
		})
	}
}

// An incoming hook whose secret does not open (another master key) never
// verifies against an empty key, not even after a rotation.
func TestUnopenableHookSecretNeverVerifiesEmptyKey(t *testing.T) {
	h := startHub(t, filepath.Join(t.TempDir(), "ipai.db"), nil)
	id, _ := h.incoming("shop.order")
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	other, _ := secret.New(key)
	ctx := context.Background()
	w, _ := h.a.DB.Webhook(ctx, id)
	w.SecretSealed = other.Seal("whsec_other", "webhook:"+id)
	if err := h.a.DB.UpdateWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	h.a.Hooks.Forget(id)
	body := []byte(`{"n":1}`)
	if st, res := h.post("/hooks/"+id, signed("", "m0", time.Now(), body), body); st == 200 {
		t.Fatalf("signed with an empty key before rotation: %d %v", st, res)
	}
	st, out := h.api("POST", "/api/v1/webhooks/"+id+"/rotate-secret", nil)
	if st != 200 {
		t.Fatalf("rotate: %d %v", st, out)
	}
	if st, res := h.post("/hooks/"+id, signed("", "m1", time.Now(), body), body); st == 200 {
		t.Fatalf("signed with an empty key after rotation: %d %v", st, res)
	}
	if st, res := h.post("/hooks/"+id, signed(out["secret"].(string), "m2", time.Now(), body), body); st != 200 {
		t.Fatalf("the new secret: %d %v", st, res)
	}
}

// A missing master.key is not silently replaced while sealed data exists.
func TestMissingMasterKeyIsNotRegeneratedOverSealedData(t *testing.T) {
	dbPath := filepath.Join(t.TempDir(), "ipai.db")
	dataDir := t.TempDir()
	func() {
		h := startHub(t, dbPath, func(c *config.Config) { c.DataDir = dataDir })
		h.endpoint(map[string]any{"target_url": "http://127.0.0.1:9/x"})
	}()
	keyFile := filepath.Join(dataDir, secret.KeyFile)
	if err := os.Remove(keyFile); err != nil {
		t.Fatal(err)
	}
	cfg := config.Defaults()
	cfg.Listen, cfg.DataDir, cfg.Database.URL = "127.0.0.1:0", dataDir, dbPath
	a, err := New(context.Background(), cfg, io.Discard)
	if err == nil {
		a.Close()
		t.Fatal("the hub started with a new master key over data sealed with the old one")
	}
	if !strings.Contains(err.Error(), "webhook secret") || !strings.Contains(err.Error(), "Restore master.key") {
		t.Fatalf("error does not say what happened and what to do: %v", err)
	}
	if _, err := os.Stat(keyFile); err == nil {
		t.Fatal("a new master.key was written")
	}
}

func TestAPITokenScopesAreValidated(t *testing.T) {
	h := startHub(t, filepath.Join(t.TempDir(), "ipai.db"), nil)
	st, out := h.api("POST", "/api/v1/tokens", map[string]any{"name": "agent", "role": "user", "scopes": []string{"mcp:odoo:read", "odoo:write"}})
	b, _ := json.Marshal(out)
	if st != 422 || !strings.Contains(string(b), `\"odoo:write\" is not a known scope`) || !strings.Contains(string(b), "mcp:odoo:write") {
		t.Fatalf("unknown scope: %d %s; want 422 listing the known scopes", st, b)
	}
	if st, out := h.api("POST", "/api/v1/tokens", map[string]any{"name": "agent", "role": "user", "scopes": []string{"mcp:odoo:read"}}); st != 201 {
		t.Fatalf("known scope: %d %v", st, out)
	}
}

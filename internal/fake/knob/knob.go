// Package knob holds the failure knobs shared by the fake services under
// internal/fake: injected latency, forced 5xx answers and HTML pages in place
// of the service's own responses. Fakes wrap their handler with Knobs.Wrap.
package knob

import (
	"bytes"
	"io"
	"net/http"
	"sync"
	"time"
)

// Knobs are safe for concurrent use; the zero value changes nothing.
type Knobs struct {
	mu      sync.Mutex
	latency time.Duration
	status  int
	body    string
	html    bool
	calls   int
}

// SetLatency delays every answer by d (the delay ends early when the
// client goes away).
func (k *Knobs) SetLatency(d time.Duration) { k.mu.Lock(); k.latency = d; k.mu.Unlock() }

// Fail makes every request answer status with body (e.g. 503 and the
// service's own error body); status 0 turns it off.
func (k *Knobs) Fail(status int, body string) {
	k.mu.Lock()
	k.status, k.body = status, body
	k.mu.Unlock()
}

// HTML makes every request answer 200 with an HTML page, as a proxy or a
// login page in front of the service would.
func (k *Knobs) HTML(on bool) { k.mu.Lock(); k.html = on; k.mu.Unlock() }

// Calls returns how many requests reached the fake.
func (k *Knobs) Calls() int { k.mu.Lock(); defer k.mu.Unlock(); return k.calls }

// Wrap applies the knobs in front of h.
func (k *Knobs) Wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		k.mu.Lock()
		lat, status, body, html := k.latency, k.status, k.body, k.html
		k.calls++
		k.mu.Unlock()
		if lat > 0 {
			// Read the body first: the server notices a client that went
			// away (and cancels r.Context) only once the body is consumed.
			if r.Body != nil {
				b, _ := io.ReadAll(io.LimitReader(r.Body, 8<<20))
				r.Body = io.NopCloser(bytes.NewReader(b))
			}
			t := time.NewTimer(lat)
			select {
			case <-t.C:
			case <-r.Context().Done():
				t.Stop()
				return
			}
		}
		switch {
		case status != 0:
			if body == "" {
				body = http.StatusText(status)
			}
			if len(body) > 0 && (body[0] == '{' || body[0] == '[') {
				w.Header().Set("Content-Type", "application/json")
			} else {
				w.Header().Set("Content-Type", "text/plain; charset=utf-8")
			}
			w.WriteHeader(status)
			_, _ = w.Write([]byte(body))
		case html:
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			_, _ = w.Write([]byte("<!DOCTYPE html><html><head><title>Sign in</title></head><body><h1>Please sign in</h1></body></html>"))
		default:
			h.ServeHTTP(w, r)
		}
	})
}

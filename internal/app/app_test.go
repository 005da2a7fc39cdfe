package app

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptrace"
	"strings"
	"testing"
	"time"

	"github.com/insightpulseai/ipai/internal/auth"
	"github.com/insightpulseai/ipai/internal/config"
)

func start(t *testing.T) (*App, string, context.CancelFunc, chan error, *bytes.Buffer) {
	t.Helper()
	cfg := config.Defaults()
	cfg.Listen = "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Log.Format = "json"
	var logs bytes.Buffer
	a, err := New(context.Background(), cfg, &logs)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() { done <- a.Serve(ctx, ready) }()
	t.Cleanup(func() { cancel(); a.Close() })
	return a, "http://" + <-ready, cancel, done, &logs
}

// A request in flight when the server is told to stop still completes.
func TestGracefulShutdownFinishesInFlightRequests(t *testing.T) {
	a, base, cancel, done, _ := start(t)
	raw, _, err := auth.NewTokens(a.DB).Create(context.Background(), auth.CreateOptions{Name: "t", Role: auth.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	// With "Expect: 100-continue" the server answers 100 when the handler
	// first reads the body: then the request is the handler's, and
	// shutting down must let it finish.
	reading := make(chan struct{})
	req, _ := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(),
		&httptrace.ClientTrace{Got100Continue: func() { close(reading) }}), "POST", base+"/api/v1/tokens", pr)
	req.Header.Set("Authorization", "Bearer "+raw)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Expect", "100-continue")
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: time.Minute}}
	respc := make(chan *http.Response, 1)
	errc := make(chan error, 1)
	go func() {
		resp, err := client.Do(req)
		if err != nil {
			errc <- err
			return
		}
		respc <- resp
	}()
	select {
	case <-reading:
	case err := <-errc:
		t.Fatalf("request failed before its body was read: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the handler did not start reading the body within 10 s")
	}
	cancel()
	// New connections are refused once shutdown begins, while the old
	// request is still unfinished.
	probe := &http.Client{Transport: &http.Transport{DisableKeepAlives: true}}
	waitFor(t, "new connections refused after shutdown began", func() bool {
		resp, err := probe.Get(base + "/healthz")
		if err == nil {
			resp.Body.Close()
		}
		return err != nil
	})
	_, _ = pw.Write([]byte(`{"name":"late",`))
	_, _ = pw.Write([]byte(`"role":"user"}`))
	pw.Close()
	select {
	case resp := <-respc:
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 201 {
			t.Fatalf("in-flight request got %d %s; want 201", resp.StatusCode, body)
		}
	case err := <-errc:
		t.Fatalf("in-flight request failed: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("in-flight request did not finish")
	}
	if err := <-done; err != nil {
		t.Fatalf("Serve returned %v", err)
	}
}

func TestServeLogsNoSecrets(t *testing.T) {
	a, base, cancel, done, logs := start(t)
	raw, _, err := auth.NewTokens(a.DB).Create(context.Background(), auth.CreateOptions{Name: "t", Role: auth.RoleAdmin})
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", base+"/api/v1/me?token="+raw, nil)
	req.Header.Set("Authorization", "Bearer "+raw)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	resp, _ = http.Post(base+"/api/v1/tokens", "application/json", strings.NewReader(`{"name":"x","role":"user"}`))
	resp.Body.Close()
	cancel()
	<-done
	if !strings.Contains(logs.String(), `"route":"/api/v1/me"`) {
		t.Fatalf("request not logged:\n%s", logs)
	}
	if strings.Contains(logs.String(), raw) {
		t.Fatalf("the token %s appears in the log:\n%s", raw, logs)
	}
}

func TestListenErrorSaysWhatToDo(t *testing.T) {
	a, base, _, _, _ := start(t)
	cfg := a.Cfg
	cfg.Listen = strings.TrimPrefix(base, "http://")
	cfg.DataDir = t.TempDir()
	b, err := New(context.Background(), cfg, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	err = b.Serve(context.Background(), nil)
	if err == nil || !strings.Contains(err.Error(), "--addr") {
		t.Fatalf("second server on the same address: %v", err)
	}
}

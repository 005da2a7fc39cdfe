package httpcheck_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/insightpulseai/ipai/internal/connector"
	_ "github.com/insightpulseai/ipai/internal/connector/httpcheck"
)

func TestHTTPConnector(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			w.WriteHeader(404)
			return
		}
		if r.Header.Get("Authorization") != "Bearer good" {
			w.WriteHeader(401)
			return
		}
		w.Header().Set("X-Version", "2.6.2")
	}))
	defer srv.Close()
	test := func(cfg connector.Config) connector.Report {
		c, err := connector.New(cfg, nil)
		if err != nil {
			t.Fatal(err)
		}
		return connector.Test(context.Background(), c, 0)
	}
	cfg := connector.Config{Type: "http", BaseURL: srv.URL, AuthType: connector.AuthToken,
		Settings: map[string]string{"health_path": "/healthz", "version_header": "X-Version"}, Secrets: map[string]string{"token": "good"}}
	if r := test(cfg); !r.OK || r.Version != "2.6.2" {
		t.Fatalf("ok = %+v", r)
	}
	cfg.Secrets["token"] = "bad"
	if r := test(cfg); r.OK || !errors.Is(r.Err, connector.ErrAuth) {
		t.Fatalf("bad token = %+v", r)
	}
	cfg.BaseURL = "http://127.0.0.1:1"
	if r := test(cfg); r.OK || !errors.Is(r.Err, connector.ErrUnreachable) {
		t.Fatalf("unreachable = %+v", r)
	}
}

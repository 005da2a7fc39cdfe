package transcript

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// service is a tiny stand-in for a peer: POST /login answers a token,
// POST /items creates an item (answering its id), GET /items/{id} reads it.
// lie changes one aspect of its answers, as a drifting fake would.
type service struct {
	mu    sync.Mutex
	token string
	next  int
	items map[string]map[string]any
	lie   string
}

func newService(token string, firstID int, lie string) *httptest.Server {
	s := &service{token: token, next: firstID, items: map[string]map[string]any{}, lie: lie}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		var in struct{ Password string }
		json.NewDecoder(r.Body).Decode(&in)
		if in.Password != "pw-"+s.token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		writeJSON(w, 200, map[string]any{"token": s.token})
	})
	mux.HandleFunc("POST /items", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+s.token {
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		var in map[string]any
		json.NewDecoder(r.Body).Decode(&in)
		s.mu.Lock()
		id := fmt.Sprint(s.next)
		s.next++
		s.items[id] = in
		s.mu.Unlock()
		writeJSON(w, 200, map[string]any{"id": id})
	})
	mux.HandleFunc("GET /items/{id}", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		it, ok := s.items[r.PathValue("id")]
		s.mu.Unlock()
		if !ok {
			status := 404
			if s.lie == "status" {
				status = 400
			}
			writeJSON(w, status, map[string]any{"error": "not found"})
			return
		}
		out := map[string]any{"id": r.PathValue("id"), "name": it["name"], "tags": []any{"a"}, "note": false}
		switch s.lie {
		case "extra":
			out["email"] = "x@example.com"
		case "missing":
			delete(out, "tags")
		case "type":
			out["tags"] = "a"
		case "exact":
			out["name"] = "other"
		}
		writeJSON(w, 200, out)
	})
	return httptest.NewServer(mux)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// record runs the contract cases against srv through a Recorder.
func record(t *testing.T, srv *httptest.Server, token string) *File {
	t.Helper()
	rec := NewRecorder(srv.Client().Transport, "demo")
	rec.Secret("password", "pw-"+token)
	hc := &http.Client{Transport: rec}
	post := func(path, auth, body string) map[string]any {
		req, _ := http.NewRequest("POST", srv.URL+path, strings.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out map[string]any
		json.NewDecoder(resp.Body).Decode(&out)
		return out
	}
	rec.Case("login")
	tok := post("/login", "", `{"Password":"pw-`+token+`"}`)["token"].(string)
	rec.Secret("token", tok)
	rec.Case("create")
	id := post("/items", "Bearer "+tok, `{"name":"Widget"}`)["id"].(string)
	if err := rec.Bind("item", "id"); err != nil {
		t.Fatal(err)
	}
	rec.Case("read", "name")
	resp, err := hc.Get(srv.URL + "/items/" + id)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	rec.Case("missing")
	resp, err = hc.Get(srv.URL + "/items/nope")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return rec.File("1.0", "2026-12-05", "test")
}

func TestRecordedSecretsNeverReachTheFile(t *testing.T) {
	real := newService("real-secret-token", 900, "")
	defer real.Close()
	f := record(t, real, "real-secret-token")
	path := filepath.Join(t.TempDir(), "demo.json")
	if err := f.Save(path); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(path)
	if strings.Contains(string(b), "real-secret-token") {
		t.Fatalf("the token reached the file:\n%s", b)
	}
	if !strings.Contains(string(b), "{{password}}") || !strings.Contains(string(b), "Bearer {{token}}") {
		t.Fatalf("placeholders missing:\n%s", b)
	}
	if got := len(f.Exchanges); got != 4 {
		t.Fatalf("recorded %d exchanges, want 4", got)
	}
}

func TestReplayAcceptsAFakeThatAnswersAlike(t *testing.T) {
	real := newService("real-token", 900, "")
	defer real.Close()
	f := record(t, real, "real-token")
	// The fake has other ids and another token: binding and placeholders
	// carry them.
	fake := newService("fake-token", 1, "")
	defer fake.Close()
	diffs, err := Check(f, fake.URL, Vars{"password": "pw-fake-token", "token": "fake-token"}, fake.Client())
	if err != nil || len(diffs) != 0 {
		t.Fatalf("err %v, diffs %q", err, diffs)
	}
}

func TestReplayCatchesAFakeThatDrifts(t *testing.T) {
	real := newService("real-token", 900, "")
	defer real.Close()
	f := record(t, real, "real-token")
	for lie, want := range map[string]string{
		"status":  "missing (GET /items/nope): status: want 404, got 400",
		"extra":   "read (GET /items/900): email: unexpected",
		"missing": "read (GET /items/900): tags: missing",
		"type":    "read (GET /items/900): tags: want array, got string",
		"exact":   `read (GET /items/900): name: want "Widget", got "other"`,
	} {
		fake := newService("fake-token", 1, lie)
		diffs, err := Check(f, fake.URL, Vars{"password": "pw-fake-token", "token": "fake-token"}, fake.Client())
		fake.Close()
		if err != nil {
			t.Fatalf("%s: %v", lie, err)
		}
		if len(diffs) != 1 || !strings.HasPrefix(diffs[0], want) {
			t.Errorf("%s: diffs %q, want one starting %q", lie, diffs, want)
		}
	}
}

func TestCompareAnyFalse(t *testing.T) {
	want := []byte(`{"email":false,"tags":[1,"x"]}`)
	got := []byte(`{"email":"a@b.c","tags":[2,"y"]}`)
	if d := Compare(want, got, Options{}); len(d) != 1 {
		t.Fatalf("without AnyFalse: %q", d)
	}
	if d := Compare(want, got, Options{AnyFalse: true}); len(d) != 0 {
		t.Fatalf("with AnyFalse: %q", d)
	}
	if d := Compare([]byte(`{"a":[{"id":1}]}`), []byte(`{"a":[{"id":"1"}]}`), Options{Loose: []string{"a[].id"}}); len(d) != 0 {
		t.Fatalf("loose pattern: %q", d)
	}
	if d := Compare([]byte(`"<html>"`), nil, Options{}); len(d) != 1 {
		t.Fatalf("text vs no body: %q", d)
	}
}

func TestLookup(t *testing.T) {
	doc := []byte(`{"result":[{"id":7,"tags":["a","b"]}]}`)
	for path, want := range map[string]string{"result[0].id": "7", "result[0].tags[1]": "b"} {
		v, ok := Lookup(doc, path)
		if !ok || scalar(v) != want {
			t.Errorf("%s: %v %v", path, v, ok)
		}
	}
	if _, ok := Lookup(doc, "result[1]"); ok {
		t.Error("out of range found")
	}
}

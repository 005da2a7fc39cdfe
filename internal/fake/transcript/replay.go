package transcript

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
)

// Vars fill the {{name}} placeholders of a transcript (the fake's
// credentials) and receive the values bound during a replay.
type Vars map[string]string

// Replay sends every request of the transcript at path, in order, to the
// service at baseURL with hc, and reports through t each answer whose
// status, media type or JSON shape differs from the recorded one. vars
// fills the placeholders; bound values are added to it as the replay goes.
func Replay(t testing.TB, path, baseURL string, vars Vars, hc *http.Client) {
	t.Helper()
	f, err := Load(path)
	if err != nil {
		t.Fatal(err)
	}
	diffs, err := Check(f, baseURL, vars, hc)
	for _, d := range diffs {
		t.Errorf("%s: %s", path, d)
	}
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

// Check is Replay without a test: it returns one line for each difference,
// and an error when the replay could not go on.
func Check(f *File, baseURL string, vars Vars, hc *http.Client) ([]string, error) {
	if len(f.Exchanges) == 0 {
		return nil, fmt.Errorf("no exchanges recorded")
	}
	if vars == nil {
		vars = Vars{}
	}
	var subs []sub
	var diffs []string
	for _, ex := range f.Exchanges {
		req, err := build(ex.Request, baseURL, vars, subs)
		if err != nil {
			return diffs, fmt.Errorf("%s: %v", ex.Name, err)
		}
		resp, err := hc.Do(req)
		if err != nil {
			return diffs, fmt.Errorf("%s: %v", ex.Name, err)
		}
		got, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		if err != nil {
			return diffs, fmt.Errorf("%s: %v", ex.Name, err)
		}
		for _, d := range Diff(f, ex, resp.StatusCode, resp.Header.Get("Content-Type"), got) {
			diffs = append(diffs, fmt.Sprintf("%s (%s %s): %s", ex.Name, ex.Request.Method, ex.Request.Path, d))
		}
		for name, p := range ex.Bind {
			want, _ := Lookup(ex.Response.Body, p)
			have, ok := Lookup(got, p)
			if !ok {
				return diffs, fmt.Errorf("%s: the answer has no %q to bind as %s", ex.Name, p, name)
			}
			vars[name] = scalar(have)
			subs = append(subs, sub{want, have})
		}
	}
	return diffs, nil
}

// Diff reports how an answer differs from the one recorded for ex.
func Diff(f *File, ex Exchange, status int, contentType string, body []byte) []string {
	var diffs []string
	if status != ex.Response.Status {
		diffs = append(diffs, fmt.Sprintf("status: want %d, got %d", ex.Response.Status, status))
	}
	if want := ex.Response.Header["Content-Type"]; want != "" && mediaType(want) != mediaType(contentType) {
		diffs = append(diffs, fmt.Sprintf("Content-Type: want %s, got %s", mediaType(want), mediaType(contentType)))
	}
	return append(diffs, Compare(ex.Response.Body, body, Options{AnyFalse: f.AnyFalse, Exact: ex.Exact, Loose: ex.Loose})...)
}

// sub replaces a value the real service answered by the one the fake did.
type sub struct{ was, now any }

func scalar(v any) string {
	if s, ok := v.(string); ok {
		return s
	}
	b, _ := json.Marshal(v)
	return string(b)
}

func fill(s string, vars Vars) string {
	for k, v := range vars {
		s = strings.ReplaceAll(s, "{{"+k+"}}", v)
	}
	return s
}

func build(m Message, baseURL string, vars Vars, subs []sub) (*http.Request, error) {
	p := substPath(fill(m.Path, vars), subs)
	var body []byte
	if len(m.Body) > 0 {
		var v any
		if err := json.Unmarshal([]byte(fill(string(m.Body), vars)), &v); err != nil {
			return nil, err
		}
		if s, ok := v.(string); ok && !json.Valid([]byte(s)) {
			body = []byte(s) // recorded as text
		} else {
			b, err := json.Marshal(substValue(v, subs))
			if err != nil {
				return nil, err
			}
			body = b
		}
	}
	req, err := http.NewRequest(m.Method, strings.TrimRight(baseURL, "/")+p, bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	for k, v := range m.Header {
		req.Header.Set(k, fill(v, vars))
	}
	return req, nil
}

// substPath replaces bound values that stand alone as a path segment or a
// query value.
func substPath(p string, subs []sub) string {
	if len(subs) == 0 {
		return p
	}
	path, query, hasQuery := strings.Cut(p, "?")
	segs := strings.Split(path, "/")
	for i, s := range segs {
		segs[i] = substText(s, subs)
	}
	out := strings.Join(segs, "/")
	if hasQuery {
		q, err := url.ParseQuery(query)
		if err == nil {
			for k, vs := range q {
				for i, v := range vs {
					vs[i] = substText(v, subs)
				}
				q[k] = vs
			}
			query = q.Encode()
		}
		out += "?" + query
	}
	return out
}

func substText(s string, subs []sub) string {
	for _, x := range subs {
		if scalar(x.was) == s {
			return scalar(x.now)
		}
	}
	return s
}

// substValue replaces, anywhere in a request body, a value equal to a
// bound recorded value.
func substValue(v any, subs []sub) any {
	for _, x := range subs {
		if equalJSON(v, x.was) {
			return x.now
		}
	}
	switch t := v.(type) {
	case map[string]any:
		for k, e := range t {
			t[k] = substValue(e, subs)
		}
	case []any:
		for i, e := range t {
			t[i] = substValue(e, subs)
		}
	}
	return v
}

func equalJSON(a, b any) bool {
	switch a.(type) {
	case string, float64:
	default:
		return false // only ids and tokens are bound
	}
	ab, _ := json.Marshal(a)
	bb, _ := json.Marshal(b)
	return bytes.Equal(ab, bb)
}

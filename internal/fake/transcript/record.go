package transcript

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// maxText bounds a body that is not JSON (an HTML error page) in a file.
const maxText = 2048

// Recorder is an http.RoundTripper that passes every request to Base and
// keeps the request and the answer. Use it as the transport of the client
// a contract test hands to ipai's connector, then Save.
type Recorder struct {
	Base http.RoundTripper
	// Headers are request headers kept besides Content-Type, Authorization
	// and Cookie (e.g. "X-Requested-With", "X-Odoo-Database").
	Headers []string

	mu      sync.Mutex
	file    File
	secrets []secret
	name    string
	exact   []string
	loose   []string
	seen    map[string]int
}

type secret struct{ name, literal string }

// NewRecorder records what base carries for the named service.
func NewRecorder(base http.RoundTripper, service string) *Recorder {
	return &Recorder{Base: base, file: File{Service: service}, seen: map[string]int{}}
}

// Secret makes every occurrence of literal, in requests and answers
// recorded before or after, read {{name}} in the file. Register passwords, API keys and session
// tokens as soon as the test knows them.
func (r *Recorder) Secret(name, literal string) {
	if literal == "" {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.secrets = append(r.secrets, secret{name, literal})
	// A token is often learnt from an answer already recorded.
	for i := range r.file.Exchanges {
		ex := &r.file.Exchanges[i]
		for _, m := range []*Message{&ex.Request, &ex.Response} {
			m.Path = r.redact(m.Path)
			for k, v := range m.Header {
				m.Header[k] = r.redact(v)
			}
			if len(m.Body) > 0 {
				m.Body = json.RawMessage(r.redact(string(m.Body)))
			}
		}
	}
}

// Case names the exchanges that follow (a second one is "name#2") and the
// paths of their answers whose values must match exactly, or (prefixed
// with "~") not be compared at all.
func (r *Recorder) Case(name string, paths ...string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.name, r.exact, r.loose = name, nil, nil
	for _, p := range paths {
		if l, ok := strings.CutPrefix(p, "~"); ok {
			r.loose = append(r.loose, l)
		} else {
			r.exact = append(r.exact, p)
		}
	}
}

// Bind makes the last exchange's answer value at path stand for the
// fake's value at the same path in every later request of a replay.
func (r *Recorder) Bind(name, path string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := len(r.file.Exchanges)
	if n == 0 {
		return errors.New("transcript: Bind before any exchange")
	}
	ex := &r.file.Exchanges[n-1]
	if _, ok := Lookup(ex.Response.Body, path); !ok {
		return fmt.Errorf("transcript: exchange %q has no value at %q", ex.Name, path)
	}
	if ex.Bind == nil {
		ex.Bind = map[string]string{}
	}
	ex.Bind[name] = path
	return nil
}

// RoundTrip implements http.RoundTripper.
func (r *Recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	if r.Base == nil {
		return nil, errors.New("transcript: Recorder.Base is not set")
	}
	var reqBody []byte
	if req.Body != nil {
		b, err := io.ReadAll(req.Body)
		req.Body.Close()
		if err != nil {
			return nil, err
		}
		reqBody = b
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	resp, err := r.Base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	respBody, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	resp.Body = io.NopCloser(bytes.NewReader(respBody))

	r.mu.Lock()
	defer r.mu.Unlock()
	name := r.name
	if name == "" {
		name = req.Method + " " + req.URL.Path
	}
	r.seen[name]++
	if n := r.seen[name]; n > 1 {
		name += "#" + strconv.Itoa(n)
	}
	ex := Exchange{
		Name: name,
		Request: Message{
			Method: req.Method,
			Path:   r.redact(req.URL.RequestURI()),
			Header: r.requestHeader(req.Header),
			Body:   r.body(reqBody),
		},
		Response: Message{
			Status: resp.StatusCode,
			Body:   r.body(respBody),
		},
		Exact: r.exact,
		Loose: r.loose,
	}
	if ct := resp.Header.Get("Content-Type"); ct != "" {
		ex.Response.Header = map[string]string{"Content-Type": ct}
	}
	r.file.Exchanges = append(r.file.Exchanges, ex)
	return resp, nil
}

func (r *Recorder) redact(s string) string {
	for _, sec := range r.secrets {
		s = strings.ReplaceAll(s, sec.literal, "{{"+sec.name+"}}")
	}
	return s
}

func (r *Recorder) requestHeader(h http.Header) map[string]string {
	out := map[string]string{}
	for _, k := range append([]string{"Content-Type"}, r.Headers...) {
		if v := h.Get(k); v != "" {
			out[k] = r.redact(v)
		}
	}
	// Credentials never reach the file, registered or not.
	for _, k := range []string{"Authorization", "Cookie"} {
		if v := h.Get(k); v != "" {
			if red := r.redact(v); red != v {
				out[k] = red
			} else {
				out[k] = "{{" + strings.ToLower(k) + "}}"
			}
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

func (r *Recorder) body(b []byte) json.RawMessage {
	if len(b) == 0 {
		return nil
	}
	text := r.redact(string(b))
	if json.Valid([]byte(text)) {
		return json.RawMessage(text)
	}
	if len(text) > maxText {
		text = text[:maxText]
	}
	q, _ := json.Marshal(text)
	return q
}

// File returns what was recorded so far, stamped with the service's version
// and the date.
func (r *Recorder) File(version, recorded, note string) *File {
	r.mu.Lock()
	defer r.mu.Unlock()
	f := r.file
	f.Version, f.Recorded, f.Note = version, recorded, note
	f.Exchanges = append([]Exchange(nil), r.file.Exchanges...)
	return &f
}

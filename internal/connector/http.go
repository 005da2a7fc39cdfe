package connector

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/insightpulseai/ipai/internal/outbound"
)

// MaxBody bounds how much of a response clients read.
const MaxBody = 16 << 20

// Response is a fully read HTTP response.
type Response struct {
	Status int
	Header http.Header
	Body   []byte
	// Cookies the server set.
	Cookies []*http.Cookie
}

// Send sends req with hc, reads the body and maps transport failures to
// ErrTimeout or ErrUnreachable (keeping the cause). HTTP error statuses are
// not errors here: callers decode their service's error body.
func Send(hc *http.Client, req *http.Request) (*Response, error) {
	resp, err := hc.Do(req)
	if err != nil {
		return nil, classify(req, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, MaxBody))
	if err != nil {
		return nil, classify(req, err)
	}
	return &Response{Status: resp.StatusCode, Header: resp.Header, Body: body, Cookies: resp.Cookies()}, nil
}

// Call sends req with hc (see Send). A non-2xx answer comes back with the
// error decodeErr makes of it (ServiceErrorf when decodeErr is nil); a 2xx
// answer's JSON body is decoded into out when out is not nil.
func Call(hc *http.Client, req *http.Request, decodeErr func(*Response) error, out any) (*Response, error) {
	resp, err := Send(hc, req)
	if err != nil {
		return nil, err
	}
	if !resp.OK() {
		if decodeErr == nil {
			return resp, ServiceErrorf(resp)
		}
		return resp, decodeErr(resp)
	}
	if out != nil {
		return resp, resp.JSON(out)
	}
	return resp, nil
}

// HTTPClient returns hc or, when hc is nil, a client of the outbound guard
// without outbound.allow entries whose own allowance is baseURL's scheme,
// host and port (callers that wire ipai pass the connector's client from
// integration.Service.HTTPClient instead).
func HTTPClient(hc *http.Client, baseURL string) *http.Client {
	if hc == nil {
		return outbound.ClientFor(nil, outbound.Options{Timeout: 5 * time.Minute}, baseURL)
	}
	return hc
}

func classify(req *http.Request, err error) error {
	where := req.Method + " " + redact(req.URL)
	var ne net.Error
	switch {
	case errors.Is(err, context.Canceled) && req.Context().Err() == context.Canceled:
		return fmt.Errorf("%s: %w", where, context.Canceled)
	case errors.Is(err, context.DeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return fmt.Errorf("%w: %s: %w", ErrTimeout, where, err)
	default:
		return fmt.Errorf("%w: %s: %w", ErrUnreachable, where, unwrapURLError(err))
	}
}

func unwrapURLError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

// redact drops the query (it may hold apikey= or access_token=).
func redact(u *url.URL) string {
	c := *u
	c.RawQuery = ""
	c.User = nil
	return c.String()
}

// IsHTML reports whether the response looks like an HTML page (a proxy's
// error page, a login page, a wrong base URL).
func (r *Response) IsHTML() bool {
	ct := r.Header.Get("Content-Type")
	if strings.Contains(ct, "text/html") {
		return true
	}
	b := bytes.TrimSpace(r.Body)
	return len(b) > 0 && b[0] == '<'
}

// JSON decodes the body into v; an HTML page or invalid JSON is ErrMalformed.
func (r *Response) JSON(v any) error {
	if r.IsHTML() {
		return Malformed("got an HTML page (status %d) where JSON was expected: is the base URL right?", r.Status)
	}
	if err := json.Unmarshal(r.Body, v); err != nil {
		return Malformed("status %d: invalid JSON: %v (body starts %q)", r.Status, err, Snippet(r.Body))
	}
	return nil
}

// OK reports a 2xx status.
func (r *Response) OK() bool { return r.Status >= 200 && r.Status < 300 }

// Snippet returns the start of a body for error messages.
func Snippet(b []byte) string {
	s := strings.TrimSpace(string(b))
	if len(s) > 120 {
		s = s[:120] + "…"
	}
	return s
}

// NewRequest builds a request with a JSON body (when body is not nil) and
// the given headers.
func NewRequest(ctx context.Context, method, rawURL string, body any) (*http.Request, error) {
	var rd io.Reader
	if body != nil {
		if b, ok := body.([]byte); ok {
			rd = bytes.NewReader(b)
		} else {
			b, err := json.Marshal(body)
			if err != nil {
				return nil, fmt.Errorf("encode request body: %w", err)
			}
			rd = bytes.NewReader(b)
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, rawURL, rd)
	if err != nil {
		return nil, fmt.Errorf("build request: %w", err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "ipai")
	return req, nil
}

// JoinURL joins a base URL and a path with exactly one slash between them.
func JoinURL(base, path string) string {
	return strings.TrimRight(base, "/") + "/" + strings.TrimLeft(path, "/")
}

func checkBaseURL(raw string) error {
	if strings.TrimSpace(raw) == "" {
		return errors.New("base_url is required (e.g. https://chat.example.com)")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("base_url %q must be an absolute http(s) URL such as https://chat.example.com", raw)
	}
	return nil
}

// ServiceErrorf builds a ServiceError for a status whose body could not be
// decoded into the service's error shape: its message is the body's start.
func ServiceErrorf(r *Response) *ServiceError {
	msg := Snippet(r.Body)
	if r.IsHTML() {
		msg = "HTML error page"
	}
	if msg == "" {
		msg = http.StatusText(r.Status)
	}
	return &ServiceError{Status: r.Status, Message: msg}
}

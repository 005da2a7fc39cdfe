package delivery

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/store"
)

// Redacted stands for a header value in every view: header values are
// sealed at rest and never shown. Sending it back as a value (in a PATCH of
// headers) keeps the stored value of that header.
const Redacted = "••••"

// ErrUnsignable marks a delivery that cannot be sent as configured because
// a sealed value of its endpoint (signing secret or header) does not open
// with this hub's master key.
var ErrUnsignable = errors.New("cannot sign or authenticate the delivery")

func headerAAD(id, name string) string { return "webhook:" + id + ":header:" + strings.ToLower(name) }

// sealHeaders moves spec.Headers into spec.SealedHeaders for endpoint id.
// Headers nil keeps the sealed headers as they are; otherwise they become
// exactly Headers, where a value given as Redacted keeps the stored one.
func (e *Endpoints) sealHeaders(id string, spec *EndpointSpec) error {
	if spec.Headers == nil {
		return nil
	}
	old := spec.SealedHeaders
	sealed := make(map[string]string, len(spec.Headers))
	for k, v := range spec.Headers {
		if v == Redacted {
			var ok bool
			if v, ok = lookupFold(old, k); !ok {
				return problem.Invalid("headers", "header %q is given as %q but has no stored value: give its value", k, Redacted)
			}
			pt, err := e.Box.Open(v, headerAAD(id, k))
			if err != nil {
				return fmt.Errorf("header %q of endpoint %s: %w", k, id, err)
			}
			v = pt
		}
		sealed[k] = e.Box.Seal(v, headerAAD(id, k))
	}
	spec.Headers, spec.SealedHeaders = nil, sealed
	if len(sealed) == 0 {
		spec.SealedHeaders = nil
	}
	return nil
}

func lookupFold(m map[string]string, k string) (string, bool) {
	if v, ok := m[k]; ok {
		return v, true
	}
	for mk, v := range m {
		if strings.EqualFold(mk, k) {
			return v, true
		}
	}
	return "", false
}

// openHeaders returns the headers to send for a stored spec: the sealed
// ones opened (an error if one does not open) and any not yet sealed.
func (e *Endpoints) openHeaders(id string, spec EndpointSpec) (map[string]string, error) {
	out := make(map[string]string, len(spec.Headers)+len(spec.SealedHeaders))
	for k, v := range spec.Headers {
		out[k] = v
	}
	for k, v := range spec.SealedHeaders {
		pt, err := e.Box.Open(v, headerAAD(id, k))
		if err != nil {
			return nil, fmt.Errorf("%w: header %q of endpoint %s does not open with this master key (was master.key or IPAI_MASTER_KEY changed?); "+
				"restore the key, or set the header again, then replay: %v", ErrUnsignable, k, id, err)
		}
		out[k] = pt
	}
	return out, nil
}

// StoredSpec returns spec as endpoint id stores it: validated, header
// values sealed. Used for endpoints declared in ipai.yaml.
func (e *Endpoints) StoredSpec(id string, spec EndpointSpec) (string, error) {
	if err := spec.Validate(); err != nil {
		return "", err
	}
	spec.SealedHeaders = nil
	if spec.Headers == nil {
		spec.Headers = map[string]string{}
	}
	if err := e.sealHeaders(id, &spec); err != nil {
		return "", err
	}
	b, err := json.Marshal(spec)
	return string(b), err
}

// SameSpec reports whether endpoint w stores spec (after its defaults are
// filled in), comparing header values after opening them. A header that
// does not open is a difference.
func (e *Endpoints) SameSpec(w store.Webhook, spec EndpointSpec) bool {
	if err := spec.Validate(); err != nil {
		return false
	}
	var cur EndpointSpec
	if json.Unmarshal([]byte(w.Spec), &cur) != nil {
		return false
	}
	h, err := e.openHeaders(w.ID, cur)
	if err != nil {
		return false
	}
	cur.Headers, cur.SealedHeaders, spec.SealedHeaders = h, nil, nil
	if len(cur.Headers) == 0 {
		cur.Headers = nil
	}
	if len(spec.Headers) == 0 {
		spec.Headers = nil
	}
	a, _ := json.Marshal(cur)
	b, _ := json.Marshal(spec)
	return string(a) == string(b)
}

// SealStored brings stored endpoints written by earlier versions up to
// date, once, at start: header values kept in the clear are sealed, and
// credentials in a target URL (user:password@host) are removed from it and
// sent as a sealed "Authorization: Basic" header instead (what the HTTP
// client did with them), unless the endpoint already sets Authorization,
// which then won already and still does. It returns how many endpoints
// were changed.
func (e *Endpoints) SealStored(ctx context.Context) (int, error) {
	hooks, err := e.DB.ListWebhooks(ctx, store.Outgoing)
	if err != nil {
		return 0, err
	}
	n := 0
	for _, w := range hooks {
		var spec EndpointSpec
		if err := json.Unmarshal([]byte(w.Spec), &spec); err != nil {
			return n, fmt.Errorf("endpoint %s: stored spec is not JSON: %w", w.ID, err)
		}
		u, err := url.Parse(spec.TargetURL)
		hasUser := err == nil && u.User != nil
		if len(spec.Headers) == 0 && !hasUser {
			continue
		}
		// The new header set: the sealed ones opened, plus the plain ones.
		hs, err := e.openHeaders(w.ID, spec)
		if err != nil {
			return n, err
		}
		if hasUser {
			if _, set := lookupFold(hs, "Authorization"); !set {
				pw, _ := u.User.Password()
				hs["Authorization"] = "Basic " + base64.StdEncoding.EncodeToString([]byte(u.User.Username()+":"+pw))
			}
			u.User = nil
			spec.TargetURL = u.String()
		}
		spec.Headers, spec.SealedHeaders = hs, nil
		if err := e.sealHeaders(w.ID, &spec); err != nil {
			return n, err
		}
		b, _ := json.Marshal(spec)
		w.Spec = string(b)
		if err := e.DB.UpdateWebhook(ctx, w); err != nil {
			return n, err
		}
		e.forget(w.ID)
		n++
	}
	return n, nil
}

// PublicSpec is a stored endpoint spec as it may be shown: header names
// with their values Redacted, no sealed values, no credentials in the URL.
func PublicSpec(stored string) json.RawMessage {
	var m map[string]any
	if json.Unmarshal([]byte(stored), &m) != nil {
		return json.RawMessage(`{}`)
	}
	names := map[string]any{}
	for _, key := range []string{"headers", "sealed_headers"} {
		if h, ok := m[key].(map[string]any); ok {
			for k := range h {
				names[k] = Redacted
			}
		}
	}
	delete(m, "sealed_headers")
	delete(m, "headers")
	if len(names) > 0 {
		m["headers"] = names
	}
	if t, ok := m["target_url"].(string); ok {
		m["target_url"] = stripUser(t)
	}
	b, _ := json.Marshal(m)
	return b
}

func stripUser(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	if u.User != nil {
		u.User = nil
		return u.String()
	}
	return raw
}

// SafeURL is raw as it may be logged or audited: without credentials,
// query or fragment (either may carry a token).
func SafeURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.User, u.RawQuery, u.ForceQuery, u.Fragment, u.RawFragment = nil, "", false, "", ""
	return u.String()
}

// Package webhooksig signs and verifies webhook requests: Standard Webhooks
// (webhook-id, webhook-timestamp, webhook-signature), hex HMAC-SHA256 of the
// body, the Mattermost token and a bearer secret. The hook receiver verifies
// with it, delivery signs outgoing requests with it, and the n8n flows verify
// what they are sent.
package webhooksig

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Verification schemes.
const (
	SchemeStandard        = "standard"
	SchemeHMACHex         = "hmac-hex"
	SchemeMattermostToken = "mattermost-token"
	SchemeBearer          = "bearer"
)

// Schemes lists the schemes a hook may use.
var Schemes = []string{SchemeStandard, SchemeHMACHex, SchemeMattermostToken, SchemeBearer}

// Tolerance is how far a Standard Webhooks timestamp may be from now.
const Tolerance = 5 * time.Minute

// ErrUnverified says why a request was refused; its text is safe to return
// to the sender (it never contains the secret).
type ErrUnverified struct{ Reason string }

func (e *ErrUnverified) Error() string { return "request not verified: " + e.Reason }

func unverified(format string, args ...any) error {
	return &ErrUnverified{Reason: fmt.Sprintf(format, args...)}
}

// IsUnverified reports whether err is a verification failure.
func IsUnverified(err error) bool {
	var u *ErrUnverified
	return errors.As(err, &u)
}

// NewSecret returns a fresh Standard Webhooks style secret: "whsec_" and
// base64 of 32 random bytes.
func NewSecret() string {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		panic("webhooksig: no randomness: " + err.Error())
	}
	return "whsec_" + base64.StdEncoding.EncodeToString(b)
}

// standardKey is the HMAC key of a Standard Webhooks secret: the bytes the
// base64 after "whsec_" encodes (a secret without the prefix is used as is).
func standardKey(secret string) []byte {
	if s, ok := strings.CutPrefix(secret, "whsec_"); ok {
		if b, err := base64.StdEncoding.DecodeString(s); err == nil {
			return b
		}
	}
	return []byte(secret)
}

// SignStandard returns the webhook-signature value for id, timestamp and body.
func SignStandard(secret, id string, ts int64, body []byte) string {
	return "v1," + base64.StdEncoding.EncodeToString(standardMAC(secret, id, ts, body))
}

// strictBase64 refuses encodings other than the canonical one, as comparing
// the signature strings would.
var strictBase64 = base64.StdEncoding.Strict()

// standardMAC is HMAC-SHA256 of "id.timestamp.body" under the secret's key.
func standardMAC(secret, id string, ts int64, body []byte) []byte {
	mac := hmac.New(sha256.New, standardKey(secret))
	var head [256 + 24]byte // an id is at most 256 bytes
	mac.Write(append(strconv.AppendInt(append(append(head[:0], id...), '.'), ts, 10), '.'))
	mac.Write(body)
	return mac.Sum(nil)
}

// SignHex returns the X-Signature value: hex HMAC-SHA256 of the raw body,
// keyed with the secret string as given.
func SignHex(secret string, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write(body)
	return hex.EncodeToString(mac.Sum(nil))
}

// Verify checks a request (its headers and raw body) against any of the
// hook's valid secrets (the current one and, during rotation, the old one).
// For the standard scheme it also returns the webhook-id, the sender's
// idempotency key.
func Verify(scheme string, secrets []string, h http.Header, body []byte, now time.Time) (idemKey string, err error) {
	if len(secrets) == 0 {
		return "", unverified("the hook has no secret")
	}
	switch scheme {
	case SchemeStandard:
		return verifyStandard(secrets, h, body, now)
	case SchemeHMACHex:
		got := strings.TrimSpace(h.Get("X-Signature"))
		got = strings.TrimPrefix(got, "sha256=")
		if got == "" {
			return "", unverified("missing X-Signature header (hex HMAC-SHA256 of the body)")
		}
		sig, err := hex.DecodeString(got)
		if err != nil {
			return "", unverified("X-Signature is not hex")
		}
		for _, s := range secrets {
			want, _ := hex.DecodeString(SignHex(s, body))
			if hmac.Equal(sig, want) {
				return "", nil
			}
		}
		return "", unverified("X-Signature does not match the body")
	case SchemeMattermostToken:
		tok := mattermostToken(h, body)
		if tok == "" {
			return "", unverified("missing token (Authorization: Token …, or the token field)")
		}
		if matchAny(tok, secrets) {
			return "", nil
		}
		return "", unverified("token does not match")
	case SchemeBearer:
		scheme, tok, ok := strings.Cut(h.Get("Authorization"), " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
			return "", unverified("missing Authorization: Bearer <secret>")
		}
		if matchAny(strings.TrimSpace(tok), secrets) {
			return "", nil
		}
		return "", unverified("bearer secret does not match")
	}
	return "", unverified("unknown scheme %q", scheme)
}

func matchAny(got string, secrets []string) bool {
	ok := 0
	for _, s := range secrets {
		ok |= subtle.ConstantTimeCompare([]byte(got), []byte(s))
	}
	return ok == 1
}

func verifyStandard(secrets []string, h http.Header, body []byte, now time.Time) (string, error) {
	id, tsRaw, sigs := h.Get("webhook-id"), h.Get("webhook-timestamp"), h.Get("webhook-signature")
	if id == "" || tsRaw == "" || sigs == "" {
		return "", unverified("missing webhook-id, webhook-timestamp or webhook-signature header")
	}
	if strings.Contains(id, ".") || len(id) > 256 {
		return "", unverified("webhook-id must be at most 256 characters without '.'")
	}
	ts, err := strconv.ParseInt(tsRaw, 10, 64)
	if err != nil {
		return "", unverified("webhook-timestamp is not unix seconds")
	}
	if d := now.Sub(time.Unix(ts, 0)); d > Tolerance || d < -Tolerance {
		return "", unverified("webhook-timestamp is more than 5 minutes from now (check the sender's clock; replays are refused)")
	}
	// Each v1 signature is decoded once and compared, in constant time,
	// with one MAC per secret.
	var got [][]byte
	for _, f := range strings.Fields(sigs) {
		if b64, ok := strings.CutPrefix(f, "v1,"); ok {
			if b, err := strictBase64.DecodeString(b64); err == nil && len(b) == sha256.Size {
				got = append(got, b)
			}
		}
	}
	for _, s := range secrets {
		if len(got) == 0 {
			break
		}
		want := standardMAC(s, id, ts, body)
		for _, g := range got {
			if hmac.Equal(g, want) {
				return id, nil
			}
		}
	}
	return "", unverified("no webhook-signature matches (expected v1,<base64 HMAC-SHA256 of id.timestamp.body>)")
}

// mattermostToken finds the token Mattermost sends: "Authorization: Token X",
// a form field, or a JSON field.
func mattermostToken(h http.Header, body []byte) string {
	if scheme, tok, ok := strings.Cut(h.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Token") {
		return strings.TrimSpace(tok)
	}
	ct := h.Get("Content-Type")
	switch {
	case strings.HasPrefix(ct, "application/x-www-form-urlencoded"):
		v, err := url.ParseQuery(string(body))
		if err == nil {
			return v.Get("token")
		}
	case strings.HasPrefix(ct, "application/json"):
		var m struct {
			Token string `json:"token"`
		}
		if json.Unmarshal(body, &m) == nil {
			return m.Token
		}
	}
	return ""
}

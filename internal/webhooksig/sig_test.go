package webhooksig

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	standardwebhooks "github.com/standard-webhooks/standard-webhooks/libraries/go"
)

// Our signer and verifier agree with the Standard Webhooks reference library.
func TestStandardMatchesReferenceLibrary(t *testing.T) {
	sec := NewSecret()
	wh, err := standardwebhooks.NewWebhook(sec)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	body := []byte(`{"x":1}`)
	ref, err := wh.Sign("msg_1", now, body)
	if err != nil {
		t.Fatal(err)
	}
	if ours := SignStandard(sec, "msg_1", now.Unix(), body); ours != ref {
		t.Fatalf("signature %s; reference library %s", ours, ref)
	}
	h := http.Header{}
	h.Set("webhook-id", "msg_1")
	h.Set("webhook-timestamp", strconv.FormatInt(now.Unix(), 10))
	h.Set("webhook-signature", "v1,bm90IGl0 "+ref) // several signatures: one matches
	if id, err := Verify(SchemeStandard, []string{sec}, h, body, now); err != nil || id != "msg_1" {
		t.Fatalf("verify: %q %v", id, err)
	}
	if _, err := Verify(SchemeStandard, []string{NewSecret(), sec}, h, body, now); err != nil {
		t.Fatalf("rotation (second secret valid): %v", err)
	}
	// The same MAC in a non-canonical base64 (the unused low bits of the
	// last character set) is refused: only the exact signature string
	// passes, as in the reference library.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
	last := strings.IndexByte(alphabet, ref[len(ref)-2])
	h.Set("webhook-signature", ref[:len(ref)-2]+string(alphabet[last|1])+"=")
	if _, err := Verify(SchemeStandard, []string{sec}, h, body, now); !IsUnverified(err) {
		t.Fatalf("non-canonical encoding of the right MAC accepted: %v", err)
	}
	if err := wh.Verify(body, h); err == nil {
		t.Fatal("the reference library accepts the non-canonical encoding: this test's premise is wrong")
	}
	h.Set("webhook-id", "msg.1")
	if _, err := Verify(SchemeStandard, []string{sec}, h, body, now); !IsUnverified(err) {
		t.Fatalf("id with a dot accepted: %v", err)
	}
}

func headers(kv ...string) http.Header {
	h := http.Header{}
	for i := 0; i+1 < len(kv); i += 2 {
		h.Set(kv[i], kv[i+1])
	}
	return h
}

// FuzzStandard checks, for arbitrary inputs, that verification never panics,
// that what the secret signs verifies, and that arbitrary headers only
// verify when they carry the right proof.
func FuzzStandard(f *testing.F) {
	f.Add("msg_1", int64(1700000000), []byte(`{"a":1}`), "v1,AAAA")
	f.Add("", int64(0), []byte{}, "")
	f.Add("x.y", int64(-1), []byte("not json"), "v1, v1,=")
	sec := "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
	f.Fuzz(func(t *testing.T, id string, ts int64, body []byte, sig string) {
		now := time.Unix(1700000000, 0)
		h := headers("webhook-id", id, "webhook-timestamp", strconv.FormatInt(ts, 10), "webhook-signature", sig)
		if _, err := Verify(SchemeStandard, []string{sec}, h, body, now); err == nil && sig != SignStandard(sec, id, ts, body) {
			// Only the exact signature (possibly among others) may pass.
			found := false
			for _, s := range splitFields(sig) {
				found = found || s == SignStandard(sec, id, ts, body)
			}
			if !found {
				t.Fatalf("forged signature %q verified", sig)
			}
		}
		good := headers("webhook-id", id, "webhook-timestamp", strconv.FormatInt(now.Unix(), 10), "webhook-signature", SignStandard(sec, id, now.Unix(), body))
		_, err := Verify(SchemeStandard, []string{sec}, good, body, now)
		validID := id != "" && len(id) <= 256 && !containsDot(id) && !hasCtl(id)
		if validID && err != nil {
			t.Fatalf("properly signed request refused: %v", err)
		}
	})
}

func splitFields(s string) []string {
	var out []string
	cur := ""
	for _, r := range s {
		if r == ' ' || r == '\t' || r == '\n' || r == '\r' || r == '\v' || r == '\f' {
			if cur != "" {
				out = append(out, cur)
			}
			cur = ""
			continue
		}
		cur += string(r)
	}
	if cur != "" {
		out = append(out, cur)
	}
	return out
}

func containsDot(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '.' {
			return true
		}
	}
	return false
}

// hasCtl: http.Header values with control characters or surrounding space
// do not survive unchanged, so such ids are outside the property.
func hasCtl(s string) bool {
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return true
		}
	}
	return len(s) > 0 && (s[0] == ' ' || s[len(s)-1] == ' ')
}

func FuzzHMACHex(f *testing.F) {
	f.Add([]byte(`{"a":1}`), "deadbeef")
	f.Add([]byte{}, "sha256=")
	f.Add([]byte("x"), "zz")
	sec := "hmac-secret-0123456789"
	f.Fuzz(func(t *testing.T, body []byte, sig string) {
		_, err := Verify(SchemeHMACHex, []string{sec}, headers("X-Signature", sig), body, time.Now())
		if err == nil {
			want := SignHex(sec, body)
			if sig != want && sig != "sha256="+want && trim(sig) != want && trim(sig) != "sha256="+want {
				t.Fatalf("forged X-Signature %q verified", sig)
			}
		}
		if _, err := Verify(SchemeHMACHex, []string{sec}, headers("X-Signature", SignHex(sec, body)), body, time.Now()); err != nil {
			t.Fatalf("correct signature refused: %v", err)
		}
	})
}

func trim(s string) string {
	for len(s) > 0 && (s[0] == ' ' || s[0] == '\t') {
		s = s[1:]
	}
	for len(s) > 0 && (s[len(s)-1] == ' ' || s[len(s)-1] == '\t') {
		s = s[:len(s)-1]
	}
	return s
}

func FuzzMattermostToken(f *testing.F) {
	f.Add("application/x-www-form-urlencoded", []byte("token=abc&text=hi"), "")
	f.Add("application/json", []byte(`{"token":"abc"}`), "")
	f.Add("", []byte(""), "Token abc")
	f.Add("application/x-www-form-urlencoded", []byte("%zz"), "Token")
	tok := "mm-secret-token-123456"
	f.Fuzz(func(t *testing.T, ct string, body []byte, authz string) {
		h := headers("Content-Type", ct, "Authorization", authz)
		if _, err := Verify(SchemeMattermostToken, []string{tok}, h, body, time.Now()); err == nil {
			if got := mattermostToken(h, body); got != tok {
				t.Fatalf("verified with token %q", got)
			}
		}
	})
}

func FuzzBearer(f *testing.F) {
	f.Add("Bearer abc")
	f.Add("bearer  ")
	f.Add("Basic abc")
	sec := "bearer-secret-0123456789"
	f.Fuzz(func(t *testing.T, authz string) {
		_, err := Verify(SchemeBearer, []string{sec}, headers("Authorization", authz), nil, time.Now())
		if err == nil && trim(authz[len("Bearer "):]) != sec {
			t.Fatalf("header %q verified", authz)
		}
	})
}

func TestVerifyRefusesWithoutSecrets(t *testing.T) {
	for _, s := range Schemes {
		if _, err := Verify(s, nil, http.Header{}, nil, time.Now()); !IsUnverified(err) {
			t.Errorf("%s without secrets: %v", s, err)
		}
	}
	if _, err := Verify("rot13", []string{"x"}, http.Header{}, nil, time.Now()); !IsUnverified(err) {
		t.Error("unknown scheme verified")
	}
}

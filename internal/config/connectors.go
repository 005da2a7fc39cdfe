package config

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"time"
)

// ConnectorSpec declares a connector in ipai.yaml. Secrets are usually
// written as ${ENV} references so the file holds no secret itself.
type ConnectorSpec struct {
	Code       string            `yaml:"code"`
	Name       string            `yaml:"name"`
	Type       string            `yaml:"type"`
	BaseURL    string            `yaml:"base_url"`
	APIVersion string            `yaml:"api_version"`
	AuthType   string            `yaml:"auth_type"`
	Settings   map[string]string `yaml:"settings"`
	Secrets    map[string]string `yaml:"secrets"`
}

// Health configures the connector health checks of `ipai serve`.
type Health struct {
	Interval    time.Duration `yaml:"interval"`    // between rounds; default 60s
	Concurrency int           `yaml:"concurrency"` // checks in flight at once; default 4
	Timeout     time.Duration `yaml:"timeout"`     // per check; default 10s
}

// CodePattern is what a connector code must look like (a slug).
var CodePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)

// ConnectorTypes are the connector types ipai knows.
var ConnectorTypes = []string{"mattermost", "focalboard", "n8n", "superset", "odoo", "keycloak", "supabase", "http"}

func (c Config) validateConnectors(bad func(key, format string, args ...any)) {
	seen := map[string]int{}
	for i, s := range c.Connectors {
		key := fmt.Sprintf("connectors[%d]", i)
		switch {
		case s.Code == "":
			bad(key+".code", "is required; expected a slug such as chat or erp")
		case !CodePattern.MatchString(s.Code):
			bad(key+".code", "%q is not a slug; use lower-case letters, digits, - and _ (at most 63)", s.Code)
		default:
			if j, dup := seen[s.Code]; dup {
				bad(key+".code", "%q is already used by connectors[%d]; codes must be unique", s.Code, j)
			}
			seen[s.Code] = i
		}
		known := false
		for _, t := range ConnectorTypes {
			known = known || t == s.Type
		}
		if !known {
			bad(key+".type", "%q is not a connector type; expected one of: %s", s.Type, strings.Join(ConnectorTypes, ", "))
		}
		if err := CheckBaseURL(s.BaseURL); err != nil {
			bad(key+".base_url", "%v", err)
		}
	}
}

// CheckBaseURL accepts an absolute http(s) URL without credentials in it.
func CheckBaseURL(raw string) error {
	if strings.TrimSpace(raw) == "" {
		return fmt.Errorf("is required; expected an absolute URL such as https://chat.example.com")
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("%q is not an absolute http(s) URL; expected e.g. https://chat.example.com", raw)
	}
	if u.User != nil {
		return fmt.Errorf("must not contain credentials; put them in secrets instead")
	}
	for name := range u.Query() {
		if credentialName(name) {
			return fmt.Errorf("query parameter %q looks like a credential: base_url is stored and shown in the clear; "+
				"remove it from the URL and put it in the connector's secrets instead", name)
		}
	}
	return nil
}

// credentialName reports whether a query parameter's name looks like it
// carries a credential (token, api_key, access_token, password, secret,
// sig, auth, session, jwt, …).
func credentialName(name string) bool {
	n := strings.Map(func(r rune) rune {
		if r >= 'A' && r <= 'Z' {
			return r + 'a' - 'A'
		}
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			return r
		}
		return -1
	}, name)
	for _, part := range []string{"token", "secret", "passw", "pwd", "auth", "credential", "signature", "session", "jwt", "bearer", "apikey"} {
		if strings.Contains(n, part) {
			return true
		}
	}
	return strings.HasSuffix(n, "key") || n == "sig" || n == "pass" || n == "pw" || n == "code"
}

func (h Health) validate(bad func(key, format string, args ...any)) {
	if h.Interval < time.Second {
		bad("health.interval", "%v is too short; expected a duration of at least 1s (default 60s)", h.Interval)
	}
	if h.Concurrency < 1 {
		bad("health.concurrency", "%d is too small; expected at least 1 (default 4)", h.Concurrency)
	}
	if h.Timeout < 100*time.Millisecond {
		bad("health.timeout", "%v is too short; expected a duration of at least 100ms (default 10s)", h.Timeout)
	}
}

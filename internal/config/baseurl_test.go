package config

import (
	"strings"
	"testing"
)

// A credential in a connector's base_url query string is refused (it would
// be stored and shown in the clear), without echoing its value.
func TestBaseURLQueryCredentialsAreRefused(t *testing.T) {
	for _, u := range []string{"https://x.example.com/?token=abc123secret", "https://x.example.com/api?api_key=abc123secret",
		"https://x.example.com/?X-Amz-Signature=abc123secret", "https://x.example.com/?access_token=abc123secret&page=1",
		"https://x.example.com/?apiKey=abc123secret", "https://x.example.com/?password=abc123secret", "https://x.example.com/?sig=abc123secret"} {
		err := CheckBaseURL(u)
		if err == nil || !strings.Contains(err.Error(), "secrets") || strings.Contains(err.Error(), "abc123secret") {
			t.Errorf("%s: err = %v; want a refusal pointing to secrets, without the value", u, err)
		}
	}
	for _, u := range []string{"https://x.example.com/", "https://x.example.com/odoo?db=prod", "https://x.example.com/?lang=en&page=2"} {
		if err := CheckBaseURL(u); err != nil {
			t.Errorf("%s: %v", u, err)
		}
	}
	t.Setenv("IPAI_DATABASE_URL", "")
	_, err := Load(write(t, "connectors:\n  - code: chat\n    type: mattermost\n    base_url: https://chat.example.com/?token=abc123secret\n"))
	if err == nil || !strings.Contains(err.Error(), "connectors[0].base_url") || strings.Contains(err.Error(), "abc123secret") {
		t.Fatalf("ipai.yaml: err = %v", err)
	}
}

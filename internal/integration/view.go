package integration

import (
	"sort"
	"time"

	"github.com/insightpulseai/ipai/internal/store"
)

// View is a connector as the API and CLI show it: secrets only as the
// names of those that are set, never their values.
type View struct {
	Code          string            `json:"code"`
	Name          string            `json:"name"`
	Type          string            `json:"type"`
	BaseURL       string            `json:"base_url"`
	APIVersion    string            `json:"api_version"`
	AuthType      string            `json:"auth_type"`
	Settings      map[string]string `json:"settings"`
	Secrets       map[string]bool   `json:"secrets"`
	State         string            `json:"state"`
	LastPing      *time.Time        `json:"last_ping,omitempty"`
	LastError     string            `json:"last_error,omitempty"`
	LastLatencyMS int64             `json:"last_latency_ms"`
	Version       string            `json:"version,omitempty"`
	Managed       bool              `json:"managed"`
	CreatedAt     time.Time         `json:"created_at"`
	UpdatedAt     time.Time         `json:"updated_at"`
}

// ViewOf converts a stored connector for display.
func ViewOf(c store.Connector) View {
	v := View{Code: c.Code, Name: c.Name, Type: c.Type, BaseURL: c.BaseURL, APIVersion: c.APIVersion, AuthType: c.AuthType,
		Settings: map[string]string{}, Secrets: map[string]bool{}, State: c.State, LastError: c.LastError,
		LastLatencyMS: c.LastLatencyMS, Version: c.Version, Managed: c.Managed, CreatedAt: c.CreatedAt, UpdatedAt: c.UpdatedAt}
	for k, val := range c.Settings {
		v.Settings[k] = val
	}
	for k := range c.Secrets {
		v.Secrets[k] = true
	}
	if !c.LastPing.IsZero() {
		t := c.LastPing
		v.LastPing = &t
	}
	return v
}

// SecretNames lists the names of the secrets that are set, sorted.
func (v View) SecretNames() []string {
	out := make([]string, 0, len(v.Secrets))
	for k := range v.Secrets {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

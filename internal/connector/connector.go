// Package connector defines what ipai knows about an external service it talks
// to: the Connector interface every client implements, the registry of
// connector types with their fields and secrets, the Test Connection report,
// and the typed errors clients return. One subpackage per service type
// (mattermost, focalboard, n8n, superset, odoo, keycloak, supabase, http)
// holds the client; subpackages import nothing of ipai but this package.
package connector

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"
)

// DefaultTimeout bounds a whole Test Connection when the caller gives none.
const DefaultTimeout = 10 * time.Second

// Connector is a configured client of one service.
type Connector interface {
	// Test checks that the service is reachable, accepts the credentials and
	// runs a supported version, recording each finding (and the version the
	// service reported) on p. It must honour ctx and return when it is done.
	Test(ctx context.Context, p *Probe)
}

// Config is everything a connector type needs to build a client. Secrets
// holds opened (plaintext) secrets: callers keep them out of logs.
type Config struct {
	Code       string
	Type       string
	BaseURL    string
	APIVersion string
	AuthType   string
	// Settings holds the type's own fields (see Type.Fields), e.g.
	// "team" for Mattermost or "database" for Odoo.
	Settings map[string]string
	// Secrets holds the type's secrets by name (see Type.Secrets).
	Secrets map[string]string
}

// Setting returns a type-specific field, or "".
func (c Config) Setting(name string) string { return c.Settings[name] }

// Secret returns an opened secret, or "".
func (c Config) Secret(name string) string { return c.Secrets[name] }

// Field describes one type-specific setting.
type Field struct {
	Name     string
	Label    string
	Required bool
}

// Type is a registered connector type.
type Type struct {
	Name string
	// AuthTypes lists the auth types the type accepts; the first is the default.
	AuthTypes []string
	// DefaultAPIVersion is used when a connector leaves api_version empty.
	DefaultAPIVersion string
	Fields            []Field
	// Secrets names the secrets the type uses (e.g. "token", "password").
	Secrets []string
	// New builds a client. hc is never nil.
	New func(cfg Config, hc *http.Client) (Connector, error)
}

// Auth types.
const (
	AuthToken       = "token"
	AuthBasic       = "basic"
	AuthAPIKey      = "api_key"
	AuthOAuthClient = "oauth_client"
	AuthNone        = "none"
)

var (
	mu    sync.RWMutex
	types = map[string]Type{}
)

// Register adds a connector type; subpackages call it from init. It panics
// on a duplicate name, which is a programming error.
func Register(t Type) {
	mu.Lock()
	defer mu.Unlock()
	if _, dup := types[t.Name]; dup {
		panic("connector: type registered twice: " + t.Name)
	}
	types[t.Name] = t
}

// Lookup returns the registered type of that name.
func Lookup(name string) (Type, bool) {
	mu.RLock()
	defer mu.RUnlock()
	t, ok := types[name]
	return t, ok
}

// Types returns the registered type names, sorted.
func Types() []string {
	mu.RLock()
	defer mu.RUnlock()
	names := make([]string, 0, len(types))
	for n := range types {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Validate checks cfg against its type: known type, base URL, auth type,
// required fields. Messages say what to fix.
func Validate(cfg Config) error {
	t, ok := Lookup(cfg.Type)
	if !ok {
		return fmt.Errorf("unknown connector type %q (known: %s)", cfg.Type, strings.Join(Types(), ", "))
	}
	if err := checkBaseURL(cfg.BaseURL); err != nil {
		return err
	}
	if cfg.AuthType != "" && !slices.Contains(t.AuthTypes, cfg.AuthType) {
		return fmt.Errorf("auth type %q is not valid for %s connectors (use one of: %s)", cfg.AuthType, t.Name, strings.Join(t.AuthTypes, ", "))
	}
	for _, f := range t.Fields {
		if f.Required && strings.TrimSpace(cfg.Settings[f.Name]) == "" {
			return fmt.Errorf("%s connectors need the setting %q (%s)", t.Name, f.Name, f.Label)
		}
	}
	for k := range cfg.Settings {
		if !t.hasField(k) {
			return fmt.Errorf("unknown setting %q for %s connectors", k, t.Name)
		}
	}
	for k := range cfg.Secrets {
		if !slices.Contains(t.Secrets, k) {
			return fmt.Errorf("unknown secret %q for %s connectors (known: %s)", k, t.Name, strings.Join(t.Secrets, ", "))
		}
	}
	return nil
}

func (t Type) hasField(name string) bool {
	for _, f := range t.Fields {
		if f.Name == name {
			return true
		}
	}
	return false
}

// New builds the client of cfg's type. A nil hc gets a client without a
// global timeout (Test bounds each call with its context).
func New(cfg Config, hc *http.Client) (Connector, error) {
	t, ok := Lookup(cfg.Type)
	if !ok {
		return nil, fmt.Errorf("unknown connector type %q", cfg.Type)
	}
	if cfg.AuthType == "" && len(t.AuthTypes) > 0 {
		cfg.AuthType = t.AuthTypes[0]
	}
	if cfg.APIVersion == "" {
		cfg.APIVersion = t.DefaultAPIVersion
	}
	return t.New(cfg, HTTPClient(hc, cfg.BaseURL))
}

// NewAs builds cfg's client as New does and checks that it is a T, the
// client of connectors of type want. Its errors name the connector and the
// cause: New's error, or the type the connector has instead.
func NewAs[T Connector](cfg Config, hc *http.Client, want string) (T, error) {
	var zero T
	c, err := New(cfg, hc)
	if err != nil {
		return zero, fmt.Errorf("connector %q: %w", cfg.Code, err)
	}
	t, ok := c.(T)
	if !ok {
		return zero, fmt.Errorf("connector %q is of type %s; name a connector of type %s", cfg.Code, cfg.Type, want)
	}
	return t, nil
}

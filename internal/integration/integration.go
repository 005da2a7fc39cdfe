// Package integration manages the connectors ipai talks to on top of the
// store: create, update, delete and validate them with their secrets sealed
// at rest, apply the ones declared in ipai.yaml (managed), run Test
// Connection and Activate, and feed the health runner with the active ones.
// Every connector call goes through the outbound guard; each connector's
// client may also reach its own URLs (base_url, and an n8n connector's
// webhook_url) — that client only, and only while the connector exists with
// those URLs.
package integration

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/connector"
	_ "github.com/insightpulseai/ipai/internal/connector/all" // register every type
	"github.com/insightpulseai/ipai/internal/outbound"
	"github.com/insightpulseai/ipai/internal/problem"
	"github.com/insightpulseai/ipai/internal/secret"
	"github.com/insightpulseai/ipai/internal/store"
)

// Service is the connector service.
type Service struct {
	DB  *store.DB
	Box *secret.Box
	// Guard checks every connector call; nil means outbound.Default(). Each
	// connector's client adds its own URLs' scheme/host/port (HTTPClient).
	Guard *outbound.Guard
	// Timeout bounds one Test Connection (default connector.DefaultTimeout).
	Timeout time.Duration
	// Audit and Log are optional (health up/down transitions).
	Audit *audit.Log
	Log   *slog.Logger
	Now   func() time.Time

	mu      sync.Mutex
	clients map[string]*ownClient // by connector code
}

// ownClient is a connector's HTTP client and the URLs it was built for.
type ownClient struct {
	urls string
	hc   *http.Client
}

// New returns a service.
func New(db *store.DB, box *secret.Box, guard *outbound.Guard, timeout time.Duration) *Service {
	return &Service{DB: db, Box: box, Guard: guard, Timeout: timeout}
}

func (s *Service) now() time.Time {
	if s.Now == nil {
		return time.Now().UTC()
	}
	return s.Now().UTC()
}

func (s *Service) timeout() time.Duration {
	if s.Timeout <= 0 {
		return connector.DefaultTimeout
	}
	return s.Timeout
}

// ownURLs are the URLs a connector's client may reach even on a refused
// (e.g. private) address: its base URL and URL settings (n8n's
// webhook_url), in a fixed order.
func ownURLs(baseURL string, settings map[string]string) []string {
	urls := []string{baseURL}
	for _, k := range slices.Sorted(maps.Keys(settings)) {
		if strings.HasSuffix(k, "_url") && settings[k] != "" {
			urls = append(urls, settings[k])
		}
	}
	return urls
}

// HTTPClient returns the guarded client of a connector (cfg as Config
// returns it): besides outbound.allow it may reach exactly the scheme, host
// and port of the connector's own URLs — no other client may — and only
// while the stored connector still has those URLs (checked before each new
// connection to an address only this allowance permits). The client is
// reused while the connector's URLs stay the same.
func (s *Service) HTTPClient(cfg connector.Config) *http.Client {
	urls := ownURLs(cfg.BaseURL, cfg.Settings)
	key := strings.Join(urls, "\n")
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.clients[cfg.Code]; c != nil {
		if c.urls == key {
			return c.hc
		}
		c.hc.CloseIdleConnections()
	}
	g := s.Guard
	if g == nil {
		g = outbound.Default()
	}
	var own []outbound.Target
	for _, u := range urls {
		if t, err := outbound.TargetOf(u); err == nil {
			own = append(own, t)
		}
	}
	hc := g.Client(outbound.Options{Timeout: s.timeout(), Allow: own, Live: s.live(cfg.Code, key)})
	if s.clients == nil {
		s.clients = map[string]*ownClient{}
	}
	s.clients[cfg.Code] = &ownClient{urls: key, hc: hc}
	return hc
}

// live is a connector client's allowance check: the connector must still
// exist with the same URLs.
func (s *Service) live(code, urls string) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		c, err := s.DB.Connector(ctx, code)
		if errors.Is(err, store.ErrNotFound) {
			return fmt.Errorf("connector %s no longer exists", code)
		}
		if err != nil {
			return fmt.Errorf("connector %s: %w", code, err)
		}
		if strings.Join(ownURLs(c.BaseURL, c.Settings), "\n") != urls {
			return fmt.Errorf("connector %s's URLs changed", code)
		}
		return nil
	}
}

// forget drops a connector's client (deleted, or its URLs changed).
func (s *Service) forget(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.clients[code]; c != nil {
		c.hc.CloseIdleConnections()
		delete(s.clients, code)
	}
}

// Input is a connector as a caller creates it; Secrets are plaintext.
type Input struct {
	Code       string
	Name       string
	Type       string
	BaseURL    string
	APIVersion string
	AuthType   string
	Settings   map[string]string
	Secrets    map[string]string
}

// Patch changes some of a connector's fields. In Settings and Secrets a nil
// or empty value removes the entry.
type Patch struct {
	Name       *string
	BaseURL    *string
	APIVersion *string
	AuthType   *string
	Settings   map[string]*string
	Secrets    map[string]*string
}

func aad(code, name string) string { return "connector:" + code + ":" + name }

func managedConflict(code string) error {
	return problem.Conflict("connector %s is managed by ipai.yaml: edit (or remove) it there and restart ipai serve", code)
}

func notFound(code string) error {
	return problem.NotFound("no connector with code %q (list them with GET /api/v1/connectors)", code)
}

// Get returns one connector.
func (s *Service) Get(ctx context.Context, code string) (store.Connector, error) {
	c, err := s.DB.Connector(ctx, code)
	if errors.Is(err, store.ErrNotFound) {
		return c, notFound(code)
	}
	return c, err
}

// List returns the connectors in a state ("" for all).
func (s *Service) List(ctx context.Context, state string) ([]store.Connector, error) {
	return s.DB.ListConnectors(ctx, state)
}

// Create validates, seals and stores a new connector in state draft.
func (s *Service) Create(ctx context.Context, in Input) (store.Connector, error) {
	return s.create(ctx, in, false)
}

func (s *Service) create(ctx context.Context, in Input, managed bool) (store.Connector, error) {
	in.Code = strings.TrimSpace(in.Code)
	if !config.CodePattern.MatchString(in.Code) {
		return store.Connector{}, problem.Invalid("code", "%q is not a valid code; use a slug of lower-case letters, digits, - and _ (at most 63), e.g. chat", in.Code)
	}
	now := s.now()
	c := store.Connector{Code: in.Code, Name: in.Name, Type: in.Type, BaseURL: in.BaseURL, APIVersion: in.APIVersion,
		AuthType: in.AuthType, Settings: clean(in.Settings), Secrets: map[string]string{}, State: connector.StateDraft,
		Managed: managed, CreatedAt: now, UpdatedAt: now}
	plain := clean(in.Secrets)
	if err := s.validate(&c, plain); err != nil {
		return c, err
	}
	if err := s.seal(&c, plain); err != nil {
		return c, err
	}
	err := s.DB.CreateConnector(ctx, c)
	if errors.Is(err, store.ErrConflict) {
		return c, problem.Conflict("a connector with code %q already exists; choose another code or PATCH that one", c.Code)
	}
	return c, err
}

// Update applies a patch to an unmanaged connector. Changing anything the
// connection depends on sends it back to draft: it must pass Test
// Connection and be activated again.
func (s *Service) Update(ctx context.Context, code string, p Patch) (store.Connector, error) {
	c, err := s.Get(ctx, code)
	if err != nil {
		return c, err
	}
	if c.Managed {
		return c, managedConflict(code)
	}
	before := c
	set := func(dst *string, v *string) {
		if v != nil {
			*dst = *v
		}
	}
	set(&c.Name, p.Name)
	set(&c.BaseURL, p.BaseURL)
	set(&c.APIVersion, p.APIVersion)
	set(&c.AuthType, p.AuthType)
	c.Settings = maps.Clone(c.Settings)
	for k, v := range p.Settings {
		if v == nil || *v == "" {
			delete(c.Settings, k)
		} else {
			c.Settings[k] = *v
		}
	}
	plain, err := s.open(c)
	if err != nil {
		return c, err
	}
	secretsChanged := false
	for k, v := range p.Secrets {
		if v == nil || *v == "" {
			if _, had := plain[k]; had {
				secretsChanged = true
			}
			delete(plain, k)
		} else {
			secretsChanged = secretsChanged || plain[k] != *v
			plain[k] = *v
		}
	}
	if err := s.validate(&c, plain); err != nil {
		return c, err
	}
	if secretsChanged {
		if err := s.seal(&c, plain); err != nil {
			return c, err
		}
	}
	if secretsChanged || connectionChanged(before, c) {
		c.State = connector.StateDraft
	}
	c.UpdatedAt = s.now()
	if err := s.DB.UpdateConnector(ctx, c); errors.Is(err, store.ErrNotFound) {
		return c, notFound(code)
	} else if err != nil {
		return c, err
	}
	if !slices.Equal(ownURLs(before.BaseURL, before.Settings), ownURLs(c.BaseURL, c.Settings)) {
		s.forget(code)
	}
	return c, nil
}

func connectionChanged(a, b store.Connector) bool {
	return a.Type != b.Type || a.BaseURL != b.BaseURL || a.APIVersion != b.APIVersion || a.AuthType != b.AuthType ||
		!maps.Equal(a.Settings, b.Settings)
}

// Delete removes an unmanaged connector.
func (s *Service) Delete(ctx context.Context, code string) error {
	c, err := s.Get(ctx, code)
	if err != nil {
		return err
	}
	if c.Managed {
		return managedConflict(code)
	}
	if err := s.DB.DeleteConnector(ctx, code); errors.Is(err, store.ErrNotFound) {
		return notFound(code)
	} else if err != nil {
		return err
	}
	s.forget(code)
	return nil
}

// Activate moves a connector from testing to active; any other state is a
// conflict that says what to do.
func (s *Service) Activate(ctx context.Context, code string) (store.Connector, error) {
	err := s.DB.TransitionConnector(ctx, code, connector.StateTesting, connector.StateActive, s.now())
	switch {
	case errors.Is(err, store.ErrNotFound):
		return store.Connector{}, notFound(code)
	case errors.Is(err, store.ErrConflict):
		c, gerr := s.Get(ctx, code)
		if gerr != nil {
			return c, gerr
		}
		if c.State == connector.StateActive {
			return c, problem.Conflict("connector %s is already active", code)
		}
		return c, problem.Conflict("connector %s is %s: only a connector in state testing (after a passing Test Connection) can be activated; run its test first", code, c.State)
	case err != nil:
		return store.Connector{}, err
	}
	return s.Get(ctx, code)
}

// Test runs Test Connection and saves its outcome: draft or error goes to
// testing on a pass, an active connector stays active; any failure goes to
// error. The report's State is the connector's new state.
func (s *Service) Test(ctx context.Context, code string) (connector.Report, error) {
	c, err := s.Get(ctx, code)
	if err != nil {
		return connector.Report{}, err
	}
	rep := connector.Test(ctx, s.build(c), s.timeout())
	state := connector.StateError
	if rep.OK {
		state = connector.StateTesting
		if c.State == connector.StateActive {
			state = connector.StateActive
		}
	}
	rep.State = state
	err = s.DB.RecordConnectorTest(ctx, code, state, s.now(), rep.Error(), rep.LatencyMS, rep.Version)
	if errors.Is(err, store.ErrNotFound) {
		return rep, notFound(code)
	}
	return rep, err
}

// ReportFields is a report as audit entry fields (no secrets are in reports).
func ReportFields(rep connector.Report) map[string]any {
	return map[string]any{"ok": rep.OK, "state": rep.State, "version": rep.Version, "latency_ms": rep.LatencyMS, "checks": rep.Checks}
}

// ReportMessage is a one-line summary of a report.
func ReportMessage(code string, rep connector.Report) string {
	if rep.OK {
		return fmt.Sprintf("connector %s test passed in %d ms (version %s)", code, rep.LatencyMS, cmp.Or(rep.Version, "-"))
	}
	return fmt.Sprintf("connector %s test failed: %s", code, rep.Error())
}

// Config returns a connector's client configuration with its secrets
// opened (for commands that call the service directly, e.g. n8n sync).
// Keep the result out of logs.
func (s *Service) Config(ctx context.Context, code string) (connector.Config, error) {
	c, err := s.Get(ctx, code)
	if err != nil {
		return connector.Config{}, err
	}
	plain, err := s.open(c)
	if err != nil {
		return connector.Config{}, err
	}
	return connector.Config{Code: c.Code, Type: c.Type, BaseURL: c.BaseURL, APIVersion: c.APIVersion,
		AuthType: c.AuthType, Settings: maps.Clone(c.Settings), Secrets: plain}, nil
}

// build makes the client of a stored connector; a connector that cannot be
// built (e.g. a secret that no longer opens) becomes one whose test fails
// with the reason.
func (s *Service) build(c store.Connector) connector.Connector {
	plain, err := s.open(c)
	if err != nil {
		return failing{connector.CheckAuth, err}
	}
	cfg := connector.Config{Code: c.Code, Type: c.Type, BaseURL: c.BaseURL, APIVersion: c.APIVersion,
		AuthType: c.AuthType, Settings: c.Settings, Secrets: plain}
	conn, err := connector.New(cfg, s.HTTPClient(cfg))
	if err != nil {
		return failing{connector.CheckReachable, err}
	}
	return conn
}

type failing struct {
	check string
	err   error
}

func (f failing) Test(_ context.Context, p *connector.Probe) { p.Fail(f.check, f.err) }

// validate checks a connector and fills its defaults; errors name the field.
func (s *Service) validate(c *store.Connector, plain map[string]string) error {
	t, ok := connector.Lookup(c.Type)
	if !ok {
		return problem.Invalid("type", "%q is not a connector type; expected one of: %s", c.Type, strings.Join(connector.Types(), ", "))
	}
	if c.Name = strings.TrimSpace(c.Name); c.Name == "" {
		c.Name = c.Code
	}
	if len(c.Name) > 200 {
		return problem.Invalid("name", "is %d characters long; the limit is 200", len(c.Name))
	}
	if err := config.CheckBaseURL(c.BaseURL); err != nil {
		return problem.Invalid("base_url", "%v", err)
	}
	c.BaseURL = strings.TrimRight(c.BaseURL, "/")
	if c.AuthType == "" && len(t.AuthTypes) > 0 {
		c.AuthType = t.AuthTypes[0]
	}
	if !slices.Contains(t.AuthTypes, c.AuthType) {
		return problem.Invalid("auth_type", "%q is not valid for %s connectors; use one of: %s", c.AuthType, t.Name, strings.Join(t.AuthTypes, ", "))
	}
	if c.APIVersion == "" {
		c.APIVersion = t.DefaultAPIVersion
	}
	for k := range c.Settings {
		if !slices.ContainsFunc(t.Fields, func(f connector.Field) bool { return f.Name == k }) {
			names := make([]string, 0, len(t.Fields))
			for _, f := range t.Fields {
				names = append(names, f.Name)
			}
			return problem.Invalid("settings."+k, "is not a setting of %s connectors; known: %s", t.Name, strings.Join(names, ", "))
		}
	}
	for _, f := range t.Fields {
		if f.Required && strings.TrimSpace(c.Settings[f.Name]) == "" {
			return problem.Invalid("settings."+f.Name, "is required for %s connectors (%s)", t.Name, f.Label)
		}
	}
	for k := range plain {
		if !slices.Contains(t.Secrets, k) {
			return problem.Invalid("secrets."+k, "is not a secret of %s connectors; known: %s", t.Name, strings.Join(t.Secrets, ", "))
		}
	}
	if err := connector.Validate(connector.Config{Code: c.Code, Type: c.Type, BaseURL: c.BaseURL, AuthType: c.AuthType,
		Settings: c.Settings, Secrets: plain}); err != nil {
		return problem.Invalid("", "%v", err)
	}
	return nil
}

func (s *Service) seal(c *store.Connector, plain map[string]string) error {
	c.Secrets = map[string]string{}
	if len(plain) == 0 {
		return nil
	}
	if s.Box == nil {
		return errors.New("no master key loaded: secrets cannot be sealed")
	}
	for k, v := range plain {
		c.Secrets[k] = s.Box.Seal(v, aad(c.Code, k))
	}
	return nil
}

func (s *Service) open(c store.Connector) (map[string]string, error) {
	out := make(map[string]string, len(c.Secrets))
	if len(c.Secrets) == 0 {
		return out, nil
	}
	if s.Box == nil {
		return nil, errors.New("no master key loaded: secrets cannot be opened")
	}
	for k, v := range c.Secrets {
		p, err := s.Box.Open(v, aad(c.Code, k))
		if err != nil {
			return nil, fmt.Errorf("secret %s of connector %s: %w (was IPAI_MASTER_KEY or the key file changed?)", k, c.Code, err)
		}
		out[k] = p
	}
	return out, nil
}

func clean(m map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		if v != "" {
			out[k] = v
		}
	}
	return out
}

package rule

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"time"

	"github.com/google/uuid"

	"github.com/insightpulseai/ipai/internal/loop"
	"github.com/insightpulseai/ipai/internal/store"
)

// Service keeps a Router's rules planner in step with the rules table:
// Reload after a change made here, Watch for changes made by other replicas.
type Service struct {
	DB     *store.DB
	Router *Router
	Log    *slog.Logger

	mu      sync.Mutex
	version string
}

// NewService returns a service for db feeding router.
func NewService(db *store.DB, router *Router, log *slog.Logger) *Service {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Service{DB: db, Router: router, Log: log}
}

// NewID returns a new rule id.
func NewID() string {
	return "rul_" + strings.ReplaceAll(uuid.Must(uuid.NewV7()).String(), "-", "")
}

// ToStore converts a validated spec to its stored form.
func ToStore(id string, s Spec, managed bool, now time.Time) store.Rule {
	acts, _ := json.Marshal(s.Actions)
	return store.Rule{ID: id, Name: strings.TrimSpace(s.Name), Enabled: s.IsEnabled(), Managed: managed,
		MatchSource: s.Match.Source, MatchType: s.Match.Type, Condition: strings.TrimSpace(s.Condition),
		Actions: string(acts), CreatedAt: now, UpdatedAt: now}
}

// FromStore converts a stored rule back to a spec.
func FromStore(r store.Rule) (Spec, error) {
	enabled := r.Enabled
	s := Spec{Name: r.Name, Enabled: &enabled, Match: Match{Source: r.MatchSource, Type: r.MatchType}, Condition: r.Condition}
	if err := json.Unmarshal([]byte(r.Actions), &s.Actions); err != nil {
		return s, fmt.Errorf("rule %s: stored actions: %w", r.ID, err)
	}
	return s, nil
}

// Reload compiles every stored rule and installs them in the router. A rule
// that no longer compiles is skipped with an error in the log.
func (s *Service) Reload(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reload(ctx)
}

func (s *Service) reload(ctx context.Context) error {
	version, err := s.DB.RulesVersion(ctx)
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	rows, err := s.DB.ListRules(ctx)
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	var compiled []*Compiled
	for _, r := range rows {
		spec, err := FromStore(r)
		if err == nil {
			var c *Compiled
			if c, err = Compile(r.ID, spec); err == nil {
				compiled = append(compiled, c)
				continue
			}
		}
		s.Log.Error("rule skipped: it does not compile", "rule", r.Name, "rule_id", r.ID, "err", err)
	}
	e := NewEngine(compiled, s.Log)
	if s.Router != nil {
		s.Router.SetRules(e)
	}
	s.version = version
	return nil
}

// ApplyConfig makes the managed rules exactly specs (by name) and reloads.
// Specs must have been validated (config.Validate does it).
func (s *Service) ApplyConfig(ctx context.Context, specs []Spec, now time.Time) (store.ApplyResult, error) {
	want := make([]store.Rule, 0, len(specs))
	for _, sp := range specs {
		if fe := sp.Validate(); fe != nil {
			return store.ApplyResult{}, fmt.Errorf("rule %q: %w", sp.Name, fe)
		}
		want = append(want, ToStore(NewID(), sp, true, now))
	}
	res, err := s.DB.ApplyManagedRules(ctx, want, now)
	if err != nil {
		return res, fmt.Errorf("apply rules from config: %w", err)
	}
	return res, s.Reload(ctx)
}

// Watch reloads the rules whenever the table changes (another replica
// edited them), checking every interval until ctx ends.
func (s *Service) Watch(ctx context.Context, every time.Duration) {
	loop.Every(ctx, every, every, s.check)
}

// check reloads the rules if the table changed since they were loaded.
func (s *Service) check(ctx context.Context) {
	v, err := s.DB.RulesVersion(ctx)
	if err != nil {
		if ctx.Err() == nil {
			s.Log.Warn("rules watch failed", "err", err)
		}
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if v != s.version {
		if err := s.reload(ctx); err != nil {
			s.Log.Warn("rules reload failed", "err", err)
		}
	}
}

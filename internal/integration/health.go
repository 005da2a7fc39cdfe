package integration

import (
	"context"
	"sync"
	"time"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/health"
	"github.com/insightpulseai/ipai/internal/store"
)

// Targets lists the active connectors as health check targets.
func (s *Service) Targets(ctx context.Context) ([]health.Target, error) {
	active, err := s.DB.ListConnectors(ctx, connector.StateActive)
	if err != nil {
		return nil, err
	}
	out := make([]health.Target, 0, len(active))
	for _, c := range active {
		out = append(out, health.Target{Code: c.Code, Type: c.Type, Conn: s.build(c)})
	}
	return out, nil
}

// NewRunner builds a health runner over the active connectors. Its history
// is seeded from the stored results, and every new result is stored (the
// newest health.HistorySize per connector are kept) and updates the
// connector's last ping, error, latency and version. Transitions to down
// and back up are logged and audited.
func (s *Service) NewRunner(ctx context.Context, cfg config.Health) (*health.Runner, error) {
	r := &health.Runner{Targets: s.Targets, Interval: cfg.Interval, Timeout: cfg.Timeout, Concurrency: cfg.Concurrency}
	if err := s.seed(ctx, r); err != nil {
		return nil, err
	}
	r.OnResult = func(t health.Target, res health.Result, _ health.Status) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		err := s.DB.AddConnectorCheck(ctx, store.ConnectorCheck{Code: t.Code, At: res.At, OK: res.OK, LatencyMS: res.LatencyMS,
			Version: res.Version, Error: res.Error}, health.HistorySize)
		if err != nil && s.Log != nil {
			s.Log.Error("health: cannot store check result", "connector", t.Code, "err", err)
		}
	}
	var mu sync.Mutex
	prev := map[string]string{}
	for _, st := range r.Statuses() {
		prev[st.Code] = st.State
	}
	r.OnChange = func(st health.Status) {
		mu.Lock()
		was := prev[st.Code]
		prev[st.Code] = st.State
		mu.Unlock()
		if was == "" || was == health.StateUnknown {
			if st.State != health.StateDown {
				return // first result and fine: nothing to tell
			}
		}
		level, msg := audit.Info, "connector "+st.Code+" is up again"
		if st.State == health.StateDown {
			level, msg = audit.Warning, "connector "+st.Code+" is down: "+st.LastError
		}
		if s.Log != nil {
			s.Log.Warn("health: "+msg, "connector", st.Code, "type", st.Type)
		}
		if s.Audit != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = s.Audit.Write(ctx, audit.Entry{Actor: "system", Action: "connector.health", Level: level, Target: st.Code,
				Message: msg, Fields: map[string]any{"state": st.State, "uptime": st.Uptime}})
		}
	}
	return r, nil
}

func (s *Service) seed(ctx context.Context, r *health.Runner) error {
	active, err := s.DB.ListConnectors(ctx, connector.StateActive)
	if err != nil {
		return err
	}
	for _, c := range active {
		hist, err := s.DB.ConnectorChecks(ctx, c.Code, health.HistorySize)
		if err != nil {
			return err
		}
		for _, h := range hist {
			r.Record(health.Target{Code: c.Code, Type: c.Type}, health.Result{At: h.At, OK: h.OK, LatencyMS: h.LatencyMS,
				Version: h.Version, Error: h.Error})
		}
	}
	return nil
}

// HealthView is the health of every active connector.
type HealthView struct {
	// OK is false when any active connector is down.
	OK         bool            `json:"ok"`
	Connectors []health.Status `json:"connectors"`
}

// Health reports every active connector's status from r (nil: from the
// stored history alone). Active connectors not checked yet are unknown.
func (s *Service) Health(ctx context.Context, r *health.Runner) (HealthView, error) {
	if r == nil {
		r = &health.Runner{}
		if err := s.seed(ctx, r); err != nil {
			return HealthView{}, err
		}
	}
	active, err := s.DB.ListConnectors(ctx, connector.StateActive)
	if err != nil {
		return HealthView{}, err
	}
	byCode := map[string]health.Status{}
	for _, st := range r.Statuses() {
		byCode[st.Code] = st
	}
	v := HealthView{OK: true, Connectors: []health.Status{}}
	for _, c := range active {
		st, ok := byCode[c.Code]
		if !ok {
			st = health.Status{Code: c.Code, Type: c.Type, State: health.StateUnknown}
		}
		v.Connectors = append(v.Connectors, st)
	}
	v.OK = !health.AnyDown(v.Connectors)
	return v, nil
}

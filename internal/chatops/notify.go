package chatops

import (
	"context"
	"fmt"
	"time"

	"github.com/insightpulseai/ipai/internal/connector/mattermost"
	"github.com/insightpulseai/ipai/internal/health"
)

// Severities of notifications.
const (
	Info    = "INFO"
	Warning = "WARNING"
	Error   = "ERROR"
)

// Notice is one notification.
type Notice struct {
	Severity string
	Title    string
	Module   string
	NextStep string
	Text     string
}

// Notify routes a notice by severity: INFO to the info channel (or only the
// log), WARNING to the warning channel, ERROR to the error channel with
// @here and, when configured, the n8n auto-heal workflow. The payload is
// text + an attachment with color and fields (module, environment, time,
// next step).
func (s *Service) Notify(ctx context.Context, n Notice) error {
	cfg := s.Cfg.Notifications
	channel, color, prefix := cfg.Info, "#439fe0", "ℹ️"
	switch n.Severity {
	case Warning:
		channel, color, prefix = cfg.Warning, "#f2c744", "⚠️"
	case Error:
		channel, color, prefix = cfg.Error, "#d24b4e", "@here 🔴"
	}
	s.Log.Info("notification", "severity", n.Severity, "title", n.Title, "module", n.Module)
	var errs []error
	if n.Severity == Error && cfg.AutoHeal != "" && s.Clients != nil {
		if cl, err := s.Clients.N8N(ctx, s.Cfg.N8N.Connector); err != nil {
			errs = append(errs, err)
		} else if _, err := cl.TriggerWebhook(ctx, cfg.AutoHeal, map[string]any{"severity": n.Severity, "title": n.Title,
			"module": n.Module, "environment": cfg.Environment, "text": n.Text, "at": s.now().UTC()}); err != nil {
			errs = append(errs, fmt.Errorf("auto-heal: %w", err))
		}
	}
	if channel == "" || cfg.Connector == "" {
		return joinErrs(errs)
	}
	mm, ccfg, err := s.Clients.Mattermost(ctx, cfg.Connector)
	if err != nil {
		return err
	}
	id, err := channelByName(ctx, mm, ccfg.Setting("team"), channel)
	if err != nil {
		return err
	}
	env := cfg.Environment
	if env == "" {
		env = "-"
	}
	next := n.NextStep
	if next == "" {
		next = "-"
	}
	att := map[string]any{"fallback": n.Title, "color": color, "title": n.Title, "text": n.Text, "fields": []any{
		map[string]any{"title": "Module", "value": n.Module, "short": true},
		map[string]any{"title": "Environment", "value": env, "short": true},
		map[string]any{"title": "Time", "value": s.now().UTC().Format(time.RFC3339), "short": true},
		map[string]any{"title": "Next step", "value": next, "short": false},
	}}
	_, err = mm.CreatePost(ctx, mattermost.Post{ChannelID: id, Message: fmt.Sprintf("%s **%s** %s", prefix, n.Severity, n.Title),
		Props: map[string]any{"attachments": []any{att}, "from_ipai": "true"}})
	if err != nil {
		errs = append(errs, err)
	}
	return joinErrs(errs)
}

func joinErrs(errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("notify: %v", errs)
}

// HealthNotice turns a connector health transition into a notice.
func HealthNotice(st health.Status, down bool) Notice {
	if down {
		return Notice{Severity: Error, Title: fmt.Sprintf("%s (%s) is down", st.Code, st.Type), Module: st.Code,
			Text: st.LastError, NextStep: "check the service, then `ipai connector test " + st.Code + "`"}
	}
	return Notice{Severity: Info, Title: fmt.Sprintf("%s (%s) is up again", st.Code, st.Type), Module: st.Code,
		NextStep: "none"}
}

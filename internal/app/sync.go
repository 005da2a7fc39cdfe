package app

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/insightpulseai/ipai/internal/audit"
	"github.com/insightpulseai/ipai/internal/boardsync"
	"github.com/insightpulseai/ipai/internal/config"
	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/connector/focalboard"
	"github.com/insightpulseai/ipai/internal/connector/mattermost"
	"github.com/insightpulseai/ipai/internal/connector/odoo"
	"github.com/insightpulseai/ipai/internal/embed"
	"github.com/insightpulseai/ipai/internal/integration"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/store"
)

// newEmbed builds the Superset embedding service of the configured
// dashboards (nil: none).
func newEmbed(sc config.Superset, connectors *integration.Service, al *audit.Log) *embed.Service {
	if len(sc.Dashboards) == 0 {
		return nil
	}
	return &embed.Service{Dashboards: sc.Dashboards, Client: connectors.HTTPClient, Audit: al,
		Config: func(ctx context.Context) (connector.Config, error) {
			cfg, err := connectors.Config(ctx, sc.Connector)
			if err == nil && cfg.Type != "superset" {
				err = fmt.Errorf("superset.connector %q is a %s connector; name a superset one", sc.Connector, cfg.Type)
			}
			return cfg, err
		}}
}

// newSync builds the Odoo change-capture watchers (events routed by router;
// wake is told of each commit) and the task ↔ card board links (nil: none
// configured).
func newSync(ctx context.Context, s config.Sync, db *store.DB, router *rule.Router, connectors *integration.Service,
	wake func(), al *audit.Log, log *slog.Logger) (*boardsync.Service, error) {
	if len(s.Watchers) == 0 && len(s.Boards) == 0 {
		return nil, nil
	}
	svc := &boardsync.Service{DB: db, Pairs: map[string]*boardsync.Pair{}, Interval: s.Interval, SweepEvery: s.SweepEvery, Log: log}
	onCommit := func(int) { wake() }
	for _, w := range s.Watchers {
		cl, err := odooClient(ctx, connectors, w.Connector)
		if err != nil {
			return nil, fmt.Errorf("sync.watchers %s/%s: %w", w.Connector, w.Model, err)
		}
		overlap := w.Overlap
		if overlap == 0 {
			overlap = time.Minute
		}
		svc.Watchers = append(svc.Watchers, &boardsync.Watcher{DB: db, Router: router, Odoo: cl, Source: w.Connector,
			Model: w.Model, Fields: w.Fields, Start: w.Start, Overlap: overlap, OnCommit: onCommit})
	}
	for _, b := range s.Boards {
		ocl, err := odooClient(ctx, connectors, b.Odoo)
		if err != nil {
			return nil, fmt.Errorf("sync.boards %s: %w", b.Name, err)
		}
		fcfg, err := connectors.Config(ctx, b.Focalboard)
		if err != nil {
			return nil, fmt.Errorf("sync.boards %s: focalboard connector %q: %w", b.Name, b.Focalboard, err)
		}
		fcl, err := connector.NewAs[*focalboard.Client](fcfg, connectors.HTTPClient(fcfg), "focalboard")
		if err != nil {
			return nil, fmt.Errorf("sync.boards %s: %w", b.Name, err)
		}
		if fcfg.AuthType == connector.AuthBasic {
			if _, err := fcl.Login(ctx, fcfg.Setting("username"), fcfg.Secret("password")); err != nil {
				log.Warn("focalboard login for board sync", "pair", b.Name, "err", err)
			}
		}
		p := &boardsync.Pair{Name: b.Name, DB: db, Odoo: ocl, Board: fcl, ProjectID: b.Project, BoardID: b.Board,
			Direction: b.Direction, StageProperty: b.StageProperty, PriorityProperty: b.PriorityProperty,
			DeadlineProperty: b.DeadlineProperty, AssigneesProperty: b.AssigneesProperty, Users: b.Users, FullSweepEvery: b.FullSweepEvery, Audit: al}
		if b.NotifyConnector != "" {
			p.Notify = notifier(connectors, b.NotifyConnector, b.NotifyChannel)
		}
		svc.Pairs[b.Name] = p
	}
	return svc, nil
}

func odooClient(ctx context.Context, connectors *integration.Service, code string) (*odoo.Client, error) {
	cfg, err := connectors.Config(ctx, code)
	if err != nil {
		return nil, fmt.Errorf("odoo connector %q: %w", code, err)
	}
	return connector.NewAs[*odoo.Client](cfg, connectors.HTTPClient(cfg), "odoo")
}

// notifier posts conflict notices to a Mattermost channel (name in the
// connector's team, "team/channel", or an id).
func notifier(connectors *integration.Service, code, channel string) func(ctx context.Context, text string) error {
	return func(ctx context.Context, text string) error {
		cfg, err := connectors.Config(ctx, code)
		if err != nil {
			return err
		}
		mm := mattermost.New(cfg.BaseURL, cfg.Secret("token"), connectors.HTTPClient(cfg))
		id := channel
		if len(channel) != 26 {
			team, name := cfg.Setting("team"), channel
			if t, n, ok := strings.Cut(channel, "/"); ok {
				team, name = t, n
			}
			ch, err := mm.ChannelByName(ctx, team, name)
			if err != nil {
				return fmt.Errorf("find channel %s/%s: %w", team, name, err)
			}
			id = ch.ID
		}
		_, err = mm.CreatePost(ctx, mattermost.Post{ChannelID: id, Message: text})
		return err
	}
}

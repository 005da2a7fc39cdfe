package app

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/insightpulseai/ipai/internal/api"
	"github.com/insightpulseai/ipai/internal/boardsync"
	"github.com/insightpulseai/ipai/internal/connector"
	"github.com/insightpulseai/ipai/internal/connector/focalboard"
	"github.com/insightpulseai/ipai/internal/connector/mattermost"
	"github.com/insightpulseai/ipai/internal/connector/odoo"
	"github.com/insightpulseai/ipai/internal/embed"
)

// setupSync builds the Odoo change-capture watchers, the task ↔ card board
// links and the Superset embedding service from the config, and hands them
// to the API. Needs setupConnectors and setupRules first.
func (a *App) setupSync(ctx context.Context) error {
	a.API.EmbedSDKPath = filepath.Join(a.Cfg.DataDir, api.SDKFile)
	if sc := a.Cfg.Superset; len(sc.Dashboards) > 0 {
		a.API.Embed = &embed.Service{Dashboards: sc.Dashboards, Client: a.Connectors.HTTPClient, Audit: a.Audit,
			Config: func(ctx context.Context) (connector.Config, error) {
				cfg, err := a.Connectors.Config(ctx, sc.Connector)
				if err == nil && cfg.Type != "superset" {
					err = fmt.Errorf("superset.connector %q is a %s connector; name a superset one", sc.Connector, cfg.Type)
				}
				return cfg, err
			}}
	}
	s := a.Cfg.Sync
	if len(s.Watchers) == 0 && len(s.Boards) == 0 {
		return nil
	}
	svc := &boardsync.Service{DB: a.DB, Pairs: map[string]*boardsync.Pair{}, Interval: s.Interval, SweepEvery: s.SweepEvery, Log: a.Log}
	wake := func(int) {
		if a.Dispatcher != nil {
			a.Dispatcher.Wake()
		}
	}
	for _, w := range s.Watchers {
		cl, err := a.odooClient(ctx, w.Connector)
		if err != nil {
			return fmt.Errorf("sync.watchers %s/%s: %w", w.Connector, w.Model, err)
		}
		overlap := w.Overlap
		if overlap == 0 {
			overlap = time.Minute
		}
		svc.Watchers = append(svc.Watchers, &boardsync.Watcher{DB: a.DB, Router: a.Router, Odoo: cl, Source: w.Connector,
			Model: w.Model, Fields: w.Fields, Start: w.Start, Overlap: overlap, OnCommit: wake})
	}
	for _, b := range s.Boards {
		ocl, err := a.odooClient(ctx, b.Odoo)
		if err != nil {
			return fmt.Errorf("sync.boards %s: %w", b.Name, err)
		}
		fcfg, err := a.Connectors.Config(ctx, b.Focalboard)
		if err != nil {
			return fmt.Errorf("sync.boards %s: focalboard connector %q: %w", b.Name, b.Focalboard, err)
		}
		fcl, err := connector.NewAs[*focalboard.Client](fcfg, a.Connectors.HTTPClient(fcfg), "focalboard")
		if err != nil {
			return fmt.Errorf("sync.boards %s: %w", b.Name, err)
		}
		if fcfg.AuthType == connector.AuthBasic {
			if _, err := fcl.Login(ctx, fcfg.Setting("username"), fcfg.Secret("password")); err != nil {
				a.Log.Warn("focalboard login for board sync", "pair", b.Name, "err", err)
			}
		}
		p := &boardsync.Pair{Name: b.Name, DB: a.DB, Odoo: ocl, Board: fcl, ProjectID: b.Project, BoardID: b.Board,
			Direction: b.Direction, StageProperty: b.StageProperty, PriorityProperty: b.PriorityProperty,
			DeadlineProperty: b.DeadlineProperty, AssigneesProperty: b.AssigneesProperty, Users: b.Users, FullSweepEvery: b.FullSweepEvery, Audit: a.Audit}
		if b.NotifyConnector != "" {
			p.Notify = a.notifier(b.NotifyConnector, b.NotifyChannel)
		}
		svc.Pairs[b.Name] = p
	}
	a.API.Sync = svc
	return nil
}

func (a *App) odooClient(ctx context.Context, code string) (*odoo.Client, error) {
	cfg, err := a.Connectors.Config(ctx, code)
	if err != nil {
		return nil, fmt.Errorf("odoo connector %q: %w", code, err)
	}
	return connector.NewAs[*odoo.Client](cfg, a.Connectors.HTTPClient(cfg), "odoo")
}

// notifier posts conflict notices to a Mattermost channel (name in the
// connector's team, "team/channel", or an id).
func (a *App) notifier(code, channel string) func(ctx context.Context, text string) error {
	return func(ctx context.Context, text string) error {
		cfg, err := a.Connectors.Config(ctx, code)
		if err != nil {
			return err
		}
		mm := mattermost.New(cfg.BaseURL, cfg.Secret("token"), a.Connectors.HTTPClient(cfg))
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

// runSync runs the watchers and board links until ctx ends.
func (a *App) runSync(ctx context.Context) {
	if a.API.Sync != nil {
		go a.API.Sync.Run(ctx)
	}
}

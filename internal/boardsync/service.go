package boardsync

import (
	"context"
	"fmt"
	"log/slog"
	"time"

	"github.com/insightpulseai/ipai/internal/loop"
	"github.com/insightpulseai/ipai/internal/store"
)

// Service runs the watchers and pairs and answers the sync API.
type Service struct {
	DB         *store.DB
	Watchers   []*Watcher
	Pairs      map[string]*Pair
	Interval   time.Duration // default 30s
	SweepEvery time.Duration // default 10m
	Log        *slog.Logger
}

// link reads link id and the pair it belongs to.
func (s *Service) link(ctx context.Context, id string) (store.SyncLink, *Pair, error) {
	l, err := s.DB.SyncLink(ctx, id)
	if err != nil {
		return l, nil, err
	}
	p := s.Pairs[l.Pair]
	if p == nil {
		return l, nil, fmt.Errorf("link %s belongs to board link %q, which is no longer configured; add it to sync.boards or delete the link", l.ID, l.Pair)
	}
	return l, p, nil
}

// Resolve settles a conflict keeping "odoo" or "board".
func (s *Service) Resolve(ctx context.Context, id, keep string) (store.SyncLink, error) {
	l, p, err := s.link(ctx, id)
	if err != nil {
		return l, err
	}
	return p.Resolve(ctx, l, keep)
}

// Resync clears a link's error and runs its pair's round now.
func (s *Service) Resync(ctx context.Context, id string) (store.SyncLink, error) {
	l, p, err := s.link(ctx, id)
	if err != nil {
		return l, err
	}
	if l.State == store.SyncConflict {
		return l, fmt.Errorf("link %s is in conflict: resolve it (keep odoo or board) instead", l.ID)
	}
	l.State, l.LastError, l.UpdatedAt = store.SyncPending, "", p.now()
	if err := s.DB.UpdateSyncLink(ctx, l); err != nil {
		return l, err
	}
	if _, err := p.SyncOnce(ctx); err != nil {
		return l, err
	}
	got, err := s.DB.SyncLink(ctx, id)
	if err == store.ErrNotFound {
		return l, nil // the round removed it (one side was deleted)
	}
	return got, err
}

// Run polls every Interval and sweeps deletions every SweepEvery until ctx ends.
func (s *Service) Run(ctx context.Context) {
	iv, sw := s.Interval, s.SweepEvery
	if iv <= 0 {
		iv = 30 * time.Second
	}
	if sw <= 0 {
		sw = 10 * time.Minute
	}
	log := s.Log
	if log == nil {
		log = slog.Default()
	}
	var lastSweep time.Time
	loop.Every(ctx, 0, iv, func(ctx context.Context) {
		sweep := time.Since(lastSweep) >= sw
		if sweep {
			lastSweep = time.Now()
		}
		for _, w := range s.Watchers {
			if res, err := w.Poll(ctx); err != nil {
				log.Warn("odoo change capture", "watcher", w.Name(), "err", err)
			} else if res.Events > 0 {
				log.Info("odoo changes captured", "watcher", w.Name(), "events", res.Events, "duplicates", res.Duplicates)
			}
			if sweep {
				if n, err := w.Sweep(ctx); err != nil {
					log.Warn("odoo deletion sweep", "watcher", w.Name(), "err", err)
				} else if n > 0 {
					log.Info("odoo deletions captured", "watcher", w.Name(), "deleted", n)
				}
			}
		}
		for name, p := range s.Pairs {
			if rep, err := p.SyncOnce(ctx); err != nil {
				log.Warn("board sync", "pair", name, "err", err)
			} else if rep != (Report{}) {
				log.Info("board sync", "pair", name, "report", fmt.Sprintf("%+v", rep))
			}
		}
	})
}

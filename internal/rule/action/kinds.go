package action

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/insightpulseai/ipai/internal/connector/focalboard"
	"github.com/insightpulseai/ipai/internal/connector/mattermost"
	"github.com/insightpulseai/ipai/internal/connector/odoo"
	"github.com/insightpulseai/ipai/internal/rule"
	"github.com/insightpulseai/ipai/internal/store"
)

// chanCache remembers channel ids by connector, team and name.
type chanCache struct{ m sync.Map }

// isChannelID reports a Mattermost id (26 lowercase alphanumerics).
func isChannelID(s string) bool {
	if len(s) != 26 {
		return false
	}
	for _, c := range s {
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') {
			return false
		}
	}
	return true
}

func (x *Executors) mattermost(ctx context.Context, r rule.Rendered, c *store.Claimed) (string, error) {
	mm, cfg, err := x.Clients.Mattermost(ctx, r.Connector)
	if err != nil {
		return "", err
	}
	channelID := r.Channel
	if !isChannelID(channelID) {
		team, name := cfg.Setting("team"), strings.TrimPrefix(r.Channel, "~")
		if t, n, ok := strings.Cut(name, "/"); ok {
			team, name = t, n
		}
		if team == "" {
			return "", permanentf("channel %q is a name but connector %s has no team setting; set it or write team/channel", r.Channel, r.Connector)
		}
		key := r.Connector + "\x00" + team + "\x00" + name
		if v, ok := x.channels.m.Load(key); ok {
			channelID = v.(string)
		} else {
			ch, err := mm.ChannelByName(ctx, team, name)
			if err != nil {
				return "", fmt.Errorf("find channel %s/%s: %w", team, name, err)
			}
			channelID = ch.ID
			x.channels.m.Store(key, channelID)
		}
	}
	post := mattermost.Post{ChannelID: channelID, Message: r.Text,
		Props: map[string]any{"from_ipai": "true", "ipai_delivery_id": c.ID, "ipai_event_id": c.EventID}}
	if r.Attachments != nil {
		post.Props["attachments"] = r.Attachments
	}
	p, err := mm.CreatePost(ctx, post)
	if err != nil {
		return "", err
	}
	return `{"post_id":"` + p.ID + `"}`, nil
}

func (x *Executors) n8n(ctx context.Context, r rule.Rendered, c *store.Claimed) (string, error) {
	cl, err := x.Clients.N8N(ctx, r.Connector)
	if err != nil {
		return "", err
	}
	body := r.Body
	if body == nil {
		// Default body: the event, so a workflow gets everything.
		body = map[string]any{"event_id": c.EventID, "delivery_id": c.ID, "type": c.Event.Type, "source": c.Event.Source,
			"received_at": c.Event.ReceivedAt, "data": json.RawMessage(orNull(c.Event.Payload))}
	}
	resp, err := cl.TriggerWebhook(ctx, r.Path, body)
	if err != nil {
		return string(resp.Body), err
	}
	return string(resp.Body), nil
}

func orNull(s string) string {
	if !json.Valid([]byte(s)) {
		return "null"
	}
	return s
}

func (x *Executors) odoo(ctx context.Context, r rule.Rendered, _ *store.Claimed) (string, error) {
	cl, err := x.Clients.Odoo(ctx, r.Connector)
	if err != nil {
		return "", err
	}
	var out json.RawMessage
	if err := cl.ExecuteKW(ctx, r.Model, r.Method, r.Args, r.Kwargs, &out); err != nil {
		if errors.Is(err, odoo.ErrPositional) { // the rule must change: no retry helps
			return "", fmt.Errorf("%w: %w", errPermanent, err)
		}
		return "", err
	}
	return string(out), nil
}

func (x *Executors) supabase(ctx context.Context, r rule.Rendered, _ *store.Claimed) (string, error) {
	cl, err := x.Clients.Supabase(ctx, r.Connector)
	if err != nil {
		return "", err
	}
	var out json.RawMessage
	if err := cl.Insert(ctx, r.Table, r.Row, &out); err != nil {
		return "", err
	}
	return string(out), nil
}

func (x *Executors) focalboard(ctx context.Context, r rule.Rendered, _ *store.Claimed) (string, error) {
	cl, cfg, err := x.Clients.Focalboard(ctx, r.Connector)
	if err != nil {
		return "", err
	}
	board := r.Board
	if board == "" {
		board = cfg.Setting("board")
	}
	if board == "" {
		return "", permanentf("no board: give the action a board or set connector %s's board setting", r.Connector)
	}
	card, err := cl.CreateCard(ctx, board, focalboard.Card{Title: r.Title})
	if err != nil {
		return "", err
	}
	return `{"card_id":"` + card.ID + `"}`, nil
}

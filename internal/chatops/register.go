package chatops

import (
	"context"
	"errors"
	"fmt"

	"github.com/insightpulseai/ipai/internal/connector/mattermost"
	"github.com/insightpulseai/ipai/internal/store"
)

// Registered is one command `ipai chatops register` handled.
type Registered struct {
	Trigger string `json:"trigger"`
	ID      string `json:"mattermost_id"`
	URL     string `json:"url"`
	Reused  bool   `json:"reused"` // it existed in Mattermost already
}

// Register creates the bot's slash commands in Mattermost (team from the
// bot's connector setting "team"), pointing at this hub, and stores their
// tokens sealed. A command that already exists with the same trigger and
// URL is reused.
func (s *Service) Register(ctx context.Context, bot string) ([]Registered, error) {
	b, err := s.DB.Bot(ctx, bot)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("no bot %q; add it under chatops.bots in ipai.yaml or with POST /api/v1/bots", bot)
	}
	if err != nil {
		return nil, err
	}
	cmds, err := s.DB.Commands(ctx, bot)
	if err != nil {
		return nil, err
	}
	if len(cmds) == 0 {
		return nil, fmt.Errorf("bot %q has no commands to register; add some first", bot)
	}
	mm, cfg, err := s.Clients.Mattermost(ctx, b.Connector)
	if err != nil {
		return nil, fmt.Errorf("bot %s's connector: %w", bot, err)
	}
	teamName := cfg.Setting("team")
	if teamName == "" {
		return nil, fmt.Errorf("connector %s has no team setting; set it (the team the commands belong to)", b.Connector)
	}
	team, err := mm.TeamByName(ctx, teamName)
	if err != nil {
		return nil, fmt.Errorf("team %s: %w", teamName, err)
	}
	existing, err := mm.Commands(ctx, team.ID)
	if err != nil {
		return nil, fmt.Errorf("list the team's commands: %w", err)
	}
	var out []Registered
	for _, c := range cmds {
		url := s.SlashURL(bot, c.Command)
		var got mattermost.Command
		reused := false
		for _, e := range existing {
			if e.Trigger == c.Command && e.URL == url && e.Token != "" {
				got, reused = e, true
			}
		}
		if !reused {
			got, err = mm.CreateCommand(ctx, mattermost.Command{TeamID: team.ID, Trigger: c.Command, Method: c.Method, URL: url,
				Username: b.Username, DisplayName: b.DisplayName, Description: c.Description, AutoComplete: true,
				AutoCompleteDesc: c.Description, AutoCompleteHint: c.Hint})
			if err != nil {
				return out, fmt.Errorf("create /%s in Mattermost: %w", c.Command, err)
			}
		}
		if err := s.DB.SetCommandRegistration(ctx, bot, c.Command, got.ID, s.seal(got.Token, cmdAAD(bot, c.Command)), s.now()); err != nil {
			return out, err
		}
		out = append(out, Registered{Trigger: "/" + c.Command, ID: got.ID, URL: url, Reused: reused})
	}
	return out, nil
}

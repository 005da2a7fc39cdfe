package config

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/insightpulseai/ipai/internal/embed"
)

// Sync configures Odoo change capture and task ↔ card sync.
type Sync struct {
	// Interval between polls; default 30s.
	Interval time.Duration `yaml:"interval"`
	// SweepEvery is how often deletions are looked for; default 10m.
	SweepEvery time.Duration `yaml:"sweep_every"`
	Watchers   []SyncWatcher `yaml:"watchers"`
	Boards     []SyncBoard   `yaml:"boards"`
}

// SyncWatcher captures the changes of one Odoo model as events.
type SyncWatcher struct {
	Connector string        `yaml:"connector"` // the Odoo connector's code (the events' source)
	Model     string        `yaml:"model"`
	Fields    []string      `yaml:"fields"`
	Start     string        `yaml:"start"`   // now (default) or all
	Overlap   time.Duration `yaml:"overlap"` // re-read window before the cursor; default 60s
}

// SyncBoard links an Odoo project with a Focalboard board.
type SyncBoard struct {
	Name       string `yaml:"name"`
	Odoo       string `yaml:"odoo"`       // Odoo connector code
	Focalboard string `yaml:"focalboard"` // Focalboard connector code
	Project    int    `yaml:"project"`    // project.project id
	Board      string `yaml:"board"`      // board id
	Direction  string `yaml:"direction"`  // both (default), odoo_to_board, board_to_odoo
	// Board property names (defaults Status, Priority, Deadline, Assignees).
	StageProperty     string `yaml:"stage_property"`
	PriorityProperty  string `yaml:"priority_property"`
	DeadlineProperty  string `yaml:"deadline_property"`
	AssigneesProperty string `yaml:"assignees_property"`
	// Users maps Odoo logins to Focalboard usernames for assignees whose
	// names differ; equal names match without it (Focalboard never tells
	// users' emails).
	Users map[string]string `yaml:"users"`
	// FullSweepEvery: rounds between comparisons of every card (default 10);
	// the others compare only cards updated since the board's cursor.
	FullSweepEvery int `yaml:"full_sweep_every"`
	// Conflicts are posted to this Mattermost connector and channel.
	NotifyConnector string `yaml:"notify_connector"`
	NotifyChannel   string `yaml:"notify_channel"`
}

// Superset configures dashboard embedding.
type Superset struct {
	Connector  string            `yaml:"connector"` // the Superset connector's code
	Dashboards []embed.Dashboard `yaml:"dashboards"`
}

// validateSync checks the sync and superset sections and fills in their
// defaults.
func (c *Config) validateSync(bad func(key, format string, args ...any)) {
	s := &c.Sync
	if s.Interval == 0 {
		s.Interval = 30 * time.Second
	}
	if s.Interval < time.Second {
		bad("sync.interval", "%s: expected at least 1s (default 30s)", s.Interval)
	}
	if s.SweepEvery == 0 {
		s.SweepEvery = 10 * time.Minute
	}
	if s.SweepEvery < time.Second {
		bad("sync.sweep_every", "%s: expected at least 1s (default 10m)", s.SweepEvery)
	}
	s.Watchers = slices.Clone(s.Watchers)
	for i := range s.Watchers {
		w := &s.Watchers[i]
		k := fmt.Sprintf("sync.watchers[%d]", i)
		if w.Connector == "" || w.Model == "" {
			bad(k, "connector and model are required, e.g. {connector: odoo, model: project.task}")
		}
		if w.Start == "" {
			w.Start = "now"
		}
		if w.Start != "now" && w.Start != "all" {
			bad(k+".start", "%q: expected now (report later changes) or all (report every existing record once)", w.Start)
		}
		if w.Overlap == 0 {
			w.Overlap = time.Minute
		}
		if w.Overlap < 0 {
			bad(k+".overlap", "%s: expected a duration of 0s or more (default 60s)", w.Overlap)
		}
	}
	names := map[string]bool{}
	s.Boards = slices.Clone(s.Boards)
	for i := range s.Boards {
		b := &s.Boards[i]
		k := fmt.Sprintf("sync.boards[%d]", i)
		if b.Name == "" || names[b.Name] {
			bad(k+".name", "%q: each board link needs a unique name", b.Name)
		}
		names[b.Name] = true
		if b.Odoo == "" || b.Focalboard == "" || b.Project <= 0 || b.Board == "" {
			bad(k, "odoo, focalboard (connector codes), project (an Odoo project id) and board (a board id) are required")
		}
		if b.Direction == "" {
			b.Direction = "both"
		}
		switch b.Direction {
		case "both", "odoo_to_board", "board_to_odoo":
		default:
			bad(k+".direction", "%q: expected both, odoo_to_board or board_to_odoo", b.Direction)
		}
		b.StageProperty = cmp.Or(b.StageProperty, "Status")
		b.PriorityProperty = cmp.Or(b.PriorityProperty, "Priority")
		b.DeadlineProperty = cmp.Or(b.DeadlineProperty, "Deadline")
		b.AssigneesProperty = cmp.Or(b.AssigneesProperty, "Assignees")
		if b.FullSweepEvery == 0 {
			b.FullSweepEvery = 10
		}
		if b.FullSweepEvery < 1 {
			bad(k+".full_sweep_every", "%d: expected a number of rounds ≥ 1 (default 10)", b.FullSweepEvery)
		}
		for login, name := range b.Users {
			if strings.TrimSpace(login) == "" || strings.TrimSpace(name) == "" {
				bad(k+".users", "%q: %q: map an Odoo login to a Focalboard username, both non-empty", login, name)
			}
		}
		if (b.NotifyConnector == "") != (b.NotifyChannel == "") {
			bad(k, "notify_connector and notify_channel go together")
		}
	}
	ids := map[string]bool{}
	for i, d := range c.Superset.Dashboards {
		k := fmt.Sprintf("superset.dashboards[%d]", i)
		if err := d.Validate(); err != nil {
			bad(k, "%v", err)
		}
		if ids[d.ID] {
			bad(k+".id", "%q is used twice", d.ID)
		}
		ids[d.ID] = true
	}
	if len(c.Superset.Dashboards) > 0 && c.Superset.Connector == "" {
		bad("superset.connector", "is required with dashboards: the code of the Superset connector holding the service account")
	}
}

package chatops

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/insightpulseai/ipai/internal/store"
)

var modelName = regexp.MustCompile(`^[a-z_][a-z0-9_]*(\.[a-z0-9_]+)+$`)

// plan answers what can be answered at once and says whether the rest is
// long work for a job (then resp is the acknowledgement).
func (s *Service) plan(ctx context.Context, c *Call) (resp CommandResponse, later bool) {
	sub, rest := c.Args()
	ack := Ephemeral("⏳ Working on `/%s %s`…", c.Command.Command, c.Req.Text)
	switch c.Command.Handler {
	case "ipai":
		switch sub {
		case "", "help":
			return Ephemeral("%s", ipaiHelp(c.Command.Command)), false
		case "deliveries":
			return s.deliveries(ctx), false
		case "replay":
			return s.replay(ctx, c, rest), false
		case "status", "odoo", "run", "ask":
			return ack, true
		}
		return Ephemeral("Unknown command: /%s %s. Try `/%s help`.", c.Command.Command, sub, c.Command.Command), false
	case "opex":
		switch sub {
		case "", "help":
			return Ephemeral("%s", opexHelp), false
		case "status", "closing":
			return ack, true
		}
		return Ephemeral("Unknown command: /%s %s. Try `/%s help`.", c.Command.Command, sub, c.Command.Command), false
	case "bir-status":
		return ack, true
	}
	return Ephemeral("Unknown command: /%s", c.Command.Command), false
}

func ipaiHelp(t string) string {
	return strings.ReplaceAll(`**/ipai** commands:
- `+"`/T status`"+` — health of every service
- `+"`/T deliveries`"+` — failed and dead deliveries
- `+"`/T replay ID`"+` — deliver a failed or dead delivery again
- `+"`/T odoo MODEL QUERY`"+` — search Odoo (read-only), e.g. `+"`/T odoo res.partner deco`"+`
- `+"`/T run WORKFLOW [json]`"+` — run an n8n workflow
- `+"`/T ask AGENT TEXT`"+` — ask an agent (pulser)`, "/T", "/"+t)
}

const opexHelp = "**/opex** commands:\n- `/opex status` — today's close status\n- `/opex closing` — open month-end tasks\n- `/opex help` — this help"

// execute runs the long work of a call and returns the answer.
func (s *Service) execute(ctx context.Context, c *Call) CommandResponse {
	sub, rest := c.Args()
	var text string
	var err error
	switch {
	case c.Command.Handler == "ipai" && sub == "status":
		text = s.status()
	case c.Command.Handler == "ipai" && sub == "odoo":
		text, err = s.odooSearch(ctx, rest)
	case c.Command.Handler == "ipai" && sub == "run":
		text, err = s.run(ctx, c, rest)
	case c.Command.Handler == "ipai" && sub == "ask":
		agent, q, _ := strings.Cut(rest, " ")
		if s.Ask == nil {
			err = fmt.Errorf("agents are not available on this hub (the pulser MCP server is not mounted)")
		} else if agent == "" || strings.TrimSpace(q) == "" {
			err = fmt.Errorf("usage: /%s ask AGENT TEXT", c.Command.Command)
		} else {
			text, err = s.Ask(ctx, agent, strings.TrimSpace(q), "mattermost:"+c.Req.UserName)
		}
	case c.Command.Handler == "opex":
		text, err = s.opex(ctx, sub)
	case c.Command.Handler == "bir-status":
		text, err = s.birStatus(ctx)
	default:
		text = "Unknown command"
	}
	if err != nil {
		return Ephemeral("⚠️ /%s %s failed: %v", c.Command.Command, c.Req.Text, err)
	}
	return CommandResponse{ResponseType: c.Command.ResponseType, Text: clip(text)}
}

func (s *Service) deliveries(ctx context.Context) CommandResponse {
	counts, err := s.DB.CountDeliveries(ctx, store.DeliveryFilter{})
	if err != nil {
		return Ephemeral("could not count deliveries: %v", err)
	}
	dead, _ := s.DB.ListDeliveries(ctx, store.DeliveryFilter{State: store.DeliveryDead, Limit: 5})
	var b strings.Builder
	fmt.Fprintf(&b, "Deliveries: %d failed (retrying), %d dead, %d pending, %d succeeded.", counts[store.DeliveryFailed],
		counts[store.DeliveryDead], counts[store.DeliveryPending], counts[store.DeliverySucceeded])
	if len(dead) > 0 {
		b.WriteString("\n\n| id | kind | error |\n|---|---|---|\n")
		for _, d := range dead {
			fmt.Fprintf(&b, "| `%s` | %s | %s |\n", d.ID, d.Kind, cell(d.LastError))
		}
		b.WriteString("\nReplay one with `/ipai replay ID`.")
	}
	return Ephemeral("%s", b.String())
}

func (s *Service) replay(ctx context.Context, c *Call, id string) CommandResponse {
	if id == "" {
		return Ephemeral("usage: /%s replay DELIVERY_ID (see /%s deliveries)", c.Command.Command, c.Command.Command)
	}
	n, err := s.DB.ReplayDeliveries(ctx, store.DeliveryFilter{}, []string{id}, s.now())
	if err != nil {
		return Ephemeral("replay failed: %v", err)
	}
	if n == 0 {
		return Ephemeral("No finished delivery %s (only failed, dead or succeeded ones can be replayed).", id)
	}
	if s.Wake != nil {
		s.Wake()
	}
	s.auditCall(ctx, c, "chatops.replay", id)
	return Ephemeral("Delivery %s is queued again.", id)
}

func (s *Service) auditCall(ctx context.Context, c *Call, action, target string) {
	s.audit(ctx, auditEntry("mattermost:"+c.Req.UserName, action, target, c.Req.Command+" "+c.Req.Text))
}

func (s *Service) status() string {
	if s.Health == nil {
		return "No health checks run on this hub."
	}
	st := s.Health()
	if len(st) == 0 {
		return "No active connectors are checked yet."
	}
	sort.Slice(st, func(i, j int) bool { return st[i].Code < st[j].Code })
	var b strings.Builder
	b.WriteString("| service | type | state | latency | last check | error |\n|---|---|---|---|---|---|\n")
	for _, x := range st {
		icon := "🟢"
		if x.State != "up" && x.State != "ok" {
			icon = "🔴"
		}
		fmt.Fprintf(&b, "| %s %s | %s | %s | %d ms | %s | %s |\n", icon, x.Code, x.Type, x.State, x.LatencyMS,
			x.LastCheck.Format(time.RFC3339), cell(x.LastError))
	}
	return b.String()
}

func cell(s string) string {
	s = strings.NewReplacer("|", "\\|", "\n", " ").Replace(s)
	if len(s) > 120 {
		s = s[:117] + "…"
	}
	return s
}

func (s *Service) odooSearch(ctx context.Context, rest string) (string, error) {
	model, q, _ := strings.Cut(rest, " ")
	if !modelName.MatchString(model) {
		return "", fmt.Errorf("usage: /ipai odoo MODEL QUERY, e.g. /ipai odoo res.partner deco")
	}
	var dom []any
	if q = strings.TrimSpace(q); q != "" {
		dom = []any{[]any{"display_name", "ilike", q}}
	}
	rows, err := s.odooRead(ctx, model, dom, []string{"display_name"}, 10, "")
	if err != nil {
		return "", err
	}
	return table(fmt.Sprintf("%s matching %q", model, q), []string{"id", "display_name"}, rows), nil
}

// odooRead is the read-only query path of the chat commands.
func (s *Service) odooRead(ctx context.Context, model string, dom []any, fields []string, limit int, order string) ([]map[string]any, error) {
	if s.Cfg.Odoo == "" {
		return nil, fmt.Errorf("no Odoo is configured for chat commands; set chatops.odoo in ipai.yaml")
	}
	cl, err := s.Clients.Odoo(ctx, s.Cfg.Odoo)
	if err != nil {
		return nil, err
	}
	if dom == nil {
		dom = []any{}
	}
	opts := map[string]any{"fields": fields, "limit": limit}
	if order != "" {
		opts["order"] = order
	}
	var rows []map[string]any
	if err := cl.SearchRead(ctx, model, dom, opts, &rows); err != nil {
		return nil, err
	}
	return rows, nil
}

func table(title string, cols []string, rows []map[string]any) string {
	var b strings.Builder
	fmt.Fprintf(&b, "**%s** (%d)\n\n", title, len(rows))
	if len(rows) == 0 {
		b.WriteString("_nothing found_")
		return b.String()
	}
	b.WriteString("| " + strings.Join(cols, " | ") + " |\n|" + strings.Repeat("---|", len(cols)) + "\n")
	for _, r := range rows {
		var cells []string
		for _, c := range cols {
			cells = append(cells, cell(odooValue(r[c])))
		}
		b.WriteString("| " + strings.Join(cells, " | ") + " |\n")
	}
	return b.String()
}

// odooValue shows an Odoo value: many2one [id, name] as the name, false as "".
func odooValue(v any) string {
	switch x := v.(type) {
	case nil, bool:
		if x == true {
			return "yes"
		}
		return ""
	case []any:
		if len(x) == 2 {
			return fmt.Sprint(x[1])
		}
		b, _ := json.Marshal(x)
		return string(b)
	case float64:
		if x == float64(int64(x)) {
			return fmt.Sprint(int64(x))
		}
		return fmt.Sprintf("%.2f", x)
	}
	return fmt.Sprint(v)
}

func (s *Service) run(ctx context.Context, c *Call, rest string) (string, error) {
	wf, input, _ := strings.Cut(rest, " ")
	if wf == "" {
		return "", fmt.Errorf("usage: /%s run WORKFLOW [json]", c.Command.Command)
	}
	raw := json.RawMessage(`{}`)
	if input = strings.TrimSpace(input); input != "" {
		if !json.Valid([]byte(input)) {
			return "", fmt.Errorf("the input is not JSON; write e.g. /%s run %s {\"key\":\"value\"}", c.Command.Command, wf)
		}
		raw = json.RawMessage(input)
	}
	if s.Flows == nil {
		return "", fmt.Errorf("no n8n is configured; set chatops.n8n.connector in ipai.yaml")
	}
	s.auditCall(ctx, c, "chatops.run", wf)
	return s.Flows.Run(ctx, wf, raw, "mattermost")
}

func (s *Service) opex(ctx context.Context, sub string) (string, error) {
	fields := []string{"name", "project_id", "date_deadline", "user_ids"}
	// Odoo 17+ tasks have a state; done and cancelled ones are closed
	// (project_task.py CLOSED_STATES), however active they are.
	open := []any{[]any{"active", "=", true}, []any{"state", "not in", closedTaskStates}}
	rows, err := s.odooRead(ctx, "project.task", open, fields, 50, "date_deadline asc")
	if err != nil {
		return "", err
	}
	if sub == "closing" {
		return table("Open month-end tasks", []string{"name", "project_id", "date_deadline"}, rows), nil
	}
	today := s.now().Format("2006-01-02")
	overdue := 0
	for _, r := range rows {
		if d, ok := r["date_deadline"].(string); ok && d != "" && d < today {
			overdue++
		}
	}
	return fmt.Sprintf("**Close status %s**: %d open tasks, %d overdue. `/opex closing` lists them.", today, len(rows), overdue), nil
}

// closedTaskStates are the states of closed project.task records (Odoo 17+).
var closedTaskStates = []any{"1_done", "1_canceled"}

// birStatus lists the next unfiled BIR deadlines. The date field is
// deadline_date, as the MCP tool odoo_bir_deadlines reads it.
func (s *Service) birStatus(ctx context.Context) (string, error) {
	rows, err := s.odooRead(ctx, "bir.filing_deadline", []any{[]any{"status", "!=", "filed"}},
		[]string{"name", "form_type", "deadline_date", "status"}, 10, "deadline_date asc")
	if err != nil {
		return "", fmt.Errorf("%w (is the BIR module installed in Odoo?)", err)
	}
	return table("Next BIR filing deadlines", []string{"form_type", "name", "deadline_date", "status"}, rows), nil
}

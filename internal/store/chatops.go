package store

import (
	"context"
	"fmt"
	"time"
)

// Bot states.
const (
	BotDraft    = "draft"
	BotActive   = "active"
	BotDisabled = "disabled"
)

// Bot is a Mattermost bot account ipai speaks as. Permissions and the
// commands' Allow are JSON text.
type Bot struct {
	Username    string
	DisplayName string
	Description string
	Connector   string // the Mattermost connector the bot lives on
	TokenSealed string
	Permissions string // JSON list: post, read, manage
	State       string
	Managed     bool
	LastActive  time.Time
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

const botCols = "username, display_name, description, connector, token_sealed, permissions, state, managed, last_active, created_at, updated_at"

func scanBot(s scanner) (Bot, error) {
	var b Bot
	var last, c, u int64
	err := s.Scan(&b.Username, &b.DisplayName, &b.Description, &b.Connector, &b.TokenSealed, &b.Permissions, &b.State,
		&b.Managed, &last, &c, &u)
	b.LastActive, b.CreatedAt, b.UpdatedAt = Time(last), Time(c), Time(u)
	return b, err
}

// UpsertBot creates or replaces a bot (its commands are kept).
func (db *DB) UpsertBot(ctx context.Context, b Bot) error {
	_, err := db.Exec(ctx, "INSERT INTO bots ("+botCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (username) DO UPDATE SET display_name = excluded.display_name, description = excluded.description,
		connector = excluded.connector, token_sealed = excluded.token_sealed, permissions = excluded.permissions,
		state = excluded.state, managed = excluded.managed, updated_at = excluded.updated_at`,
		b.Username, b.DisplayName, b.Description, b.Connector, b.TokenSealed, b.Permissions, b.State, b.Managed,
		Micros(b.LastActive), Micros(b.CreatedAt), Micros(b.UpdatedAt))
	return err
}

// Bot returns one bot.
func (db *DB) Bot(ctx context.Context, username string) (Bot, error) {
	return scanBot(db.QueryRow(ctx, "SELECT "+botCols+" FROM bots WHERE username = ?", username))
}

// Bots lists the bots by username.
func (db *DB) Bots(ctx context.Context) ([]Bot, error) {
	rows, err := db.Query(ctx, "SELECT "+botCols+" FROM bots ORDER BY username")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Bot
	for rows.Next() {
		b, err := scanBot(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, rows.Err()
}

// DeleteBot removes a bot and its commands; ErrNotFound when missing.
func (db *DB) DeleteBot(ctx context.Context, username string) error {
	return db.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM bot_commands WHERE bot = ?", username); err != nil {
			return err
		}
		res, err := tx.Exec(ctx, "DELETE FROM bots WHERE username = ?", username)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return ErrNotFound
		}
		return nil
	})
}

// TouchBot records that a bot was used.
func (db *DB) TouchBot(ctx context.Context, username string, now time.Time) error {
	_, err := db.Exec(ctx, "UPDATE bots SET last_active = ? WHERE username = ?", Micros(now), username)
	return err
}

// BotCommand is one slash command of a bot. Command is the trigger without
// the slash ("ipai"); Allow is JSON {"users":[…],"teams":[…],"channels":[…]}.
type BotCommand struct {
	Bot          string
	Command      string
	Description  string
	Hint         string
	ResponseType string // ephemeral | in_channel
	Handler      string
	Method       string // P (POST) or G (GET), as Mattermost calls it
	Allow        string
	TokenSealed  string
	MMCommandID  string
	Active       bool
	Managed      bool
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

const cmdCols = "bot, command, description, hint, response_type, handler, method, allow, token_sealed, mm_command_id, active, managed, created_at, updated_at"

func scanCommand(s scanner) (BotCommand, error) {
	var c BotCommand
	var ca, ua int64
	err := s.Scan(&c.Bot, &c.Command, &c.Description, &c.Hint, &c.ResponseType, &c.Handler, &c.Method, &c.Allow,
		&c.TokenSealed, &c.MMCommandID, &c.Active, &c.Managed, &ca, &ua)
	c.CreatedAt, c.UpdatedAt = Time(ca), Time(ua)
	return c, err
}

// UpsertCommand creates or replaces a command. An empty TokenSealed or
// MMCommandID keeps the stored one (a config re-apply must not forget the
// token `ipai chatops register` stored).
func (db *DB) UpsertCommand(ctx context.Context, c BotCommand) error {
	_, err := db.Exec(ctx, "INSERT INTO bot_commands ("+cmdCols+`) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)
		ON CONFLICT (bot, command) DO UPDATE SET description = excluded.description, hint = excluded.hint,
		response_type = excluded.response_type, handler = excluded.handler, method = excluded.method, allow = excluded.allow,
		token_sealed = CASE WHEN excluded.token_sealed = '' THEN bot_commands.token_sealed ELSE excluded.token_sealed END,
		mm_command_id = CASE WHEN excluded.mm_command_id = '' THEN bot_commands.mm_command_id ELSE excluded.mm_command_id END,
		active = excluded.active, managed = excluded.managed, updated_at = excluded.updated_at`,
		c.Bot, c.Command, c.Description, c.Hint, c.ResponseType, c.Handler, c.Method, c.Allow, c.TokenSealed, c.MMCommandID,
		c.Active, c.Managed, Micros(c.CreatedAt), Micros(c.UpdatedAt))
	return err
}

// Command returns one command of a bot.
func (db *DB) Command(ctx context.Context, bot, command string) (BotCommand, error) {
	return scanCommand(db.QueryRow(ctx, "SELECT "+cmdCols+" FROM bot_commands WHERE bot = ? AND command = ?", bot, command))
}

// Commands lists a bot's commands by trigger.
func (db *DB) Commands(ctx context.Context, bot string) ([]BotCommand, error) {
	rows, err := db.Query(ctx, "SELECT "+cmdCols+" FROM bot_commands WHERE bot = ? ORDER BY command", bot)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []BotCommand
	for rows.Next() {
		c, err := scanCommand(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// DeleteCommand removes a command; ErrNotFound when missing.
func (db *DB) DeleteCommand(ctx context.Context, bot, command string) error {
	res, err := db.Exec(ctx, "DELETE FROM bot_commands WHERE bot = ? AND command = ?", bot, command)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// SetCommandRegistration stores the Mattermost command id and sealed token
// `ipai chatops register` got back.
func (db *DB) SetCommandRegistration(ctx context.Context, bot, command, mmID, tokenSealed string, now time.Time) error {
	res, err := db.Exec(ctx, "UPDATE bot_commands SET mm_command_id = ?, token_sealed = ?, updated_at = ? WHERE bot = ? AND command = ?",
		mmID, tokenSealed, Micros(now), bot, command)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// ChatOpsKey returns the sealed key called name, storing sealed first when
// there is none yet (so replicas agree on one key).
func (db *DB) ChatOpsKey(ctx context.Context, name, sealed string, now time.Time) (string, error) {
	if _, err := db.Exec(ctx, "INSERT INTO chatops_keys (name, sealed, created_at) VALUES (?, ?, ?) ON CONFLICT (name) DO NOTHING",
		name, sealed, Micros(now)); err != nil {
		return "", err
	}
	var got string
	err := db.QueryRow(ctx, "SELECT sealed FROM chatops_keys WHERE name = ?", name).Scan(&got)
	return got, err
}

// N8NWorkflow is a workflow as last synced from n8n. Tags is a JSON list.
type N8NWorkflow struct {
	Connector   string
	ID          string
	Name        string
	Active      bool
	Tags        string
	TriggerType string // webhook | schedule | manual
	WebhookPath string
	LastSync    time.Time
}

const wfCols = "connector, id, name, active, tags, trigger_type, webhook_path, last_sync"

// SyncN8NWorkflows replaces a connector's workflows with wfs in one transaction.
func (db *DB) SyncN8NWorkflows(ctx context.Context, connector string, wfs []N8NWorkflow) error {
	return db.InTx(ctx, func(tx *Tx) error {
		if _, err := tx.Exec(ctx, "DELETE FROM n8n_workflows WHERE connector = ?", connector); err != nil {
			return err
		}
		return insertMany(ctx, tx, "n8n_workflows", wfCols, 8, len(wfs), func(i int) []any {
			w := wfs[i]
			return []any{connector, w.ID, w.Name, w.Active, w.Tags, w.TriggerType, w.WebhookPath, Micros(w.LastSync)}
		})
	})
}

// N8NWorkflows lists the synced workflows ("" = every connector) by name.
func (db *DB) N8NWorkflows(ctx context.Context, connector string) ([]N8NWorkflow, error) {
	q, args := "SELECT "+wfCols+" FROM n8n_workflows", []any{}
	if connector != "" {
		q += " WHERE connector = ?"
		args = append(args, connector)
	}
	rows, err := db.Query(ctx, q+" ORDER BY name, id", args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []N8NWorkflow
	for rows.Next() {
		var w N8NWorkflow
		var ls int64
		if err := rows.Scan(&w.Connector, &w.ID, &w.Name, &w.Active, &w.Tags, &w.TriggerType, &w.WebhookPath, &ls); err != nil {
			return nil, err
		}
		w.LastSync = Time(ls)
		out = append(out, w)
	}
	return out, rows.Err()
}

// N8N execution states and sources.
const (
	ExecRunning = "running"
	ExecSuccess = "success"
	ExecError   = "error"
)

// N8NExecution is one logged workflow run.
type N8NExecution struct {
	ID             string
	Connector      string
	WorkflowID     string
	N8NExecutionID string
	Source         string // webhook | mattermost | rule | manual | callback
	Status         string // waiting | running | success | error | canceled
	StartedAt      time.Time
	FinishedAt     time.Time
	Input          string
	Output         string
	Error          string
	ResModel       string
	ResID          int64
}

// Duration is finished minus started (0 while running).
func (e N8NExecution) Duration() time.Duration {
	if e.FinishedAt.IsZero() {
		return 0
	}
	return e.FinishedAt.Sub(e.StartedAt)
}

const execCols = "id, connector, workflow_id, n8n_execution_id, source, status, started_at, finished_at, input, output, error, res_model, res_id"

func scanExec(s scanner) (N8NExecution, error) {
	var e N8NExecution
	var st, fi int64
	err := s.Scan(&e.ID, &e.Connector, &e.WorkflowID, &e.N8NExecutionID, &e.Source, &e.Status, &st, &fi, &e.Input, &e.Output,
		&e.Error, &e.ResModel, &e.ResID)
	e.StartedAt, e.FinishedAt = Time(st), Time(fi)
	return e, err
}

// InsertN8NExecution logs an execution.
func (db *DB) InsertN8NExecution(ctx context.Context, e N8NExecution) error {
	_, err := db.Exec(ctx, "INSERT INTO n8n_executions ("+execCols+") VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
		e.ID, e.Connector, e.WorkflowID, e.N8NExecutionID, e.Source, e.Status, Micros(e.StartedAt), Micros(e.FinishedAt),
		e.Input, e.Output, e.Error, e.ResModel, e.ResID)
	return err
}

// FinishN8NExecution records the outcome of the execution with n8n's id
// (the newest such row, or the row with our id). It reports whether one was found.
func (db *DB) FinishN8NExecution(ctx context.Context, id, n8nID, status, output, errMsg string, now time.Time) (bool, error) {
	res, err := db.Exec(ctx, `UPDATE n8n_executions SET status = ?, output = ?, error = ?, finished_at = ?,
		n8n_execution_id = CASE WHEN n8n_execution_id = '' THEN ? ELSE n8n_execution_id END
		WHERE id = ? OR (n8n_execution_id <> '' AND n8n_execution_id = ?)`, status, output, errMsg, Micros(now), n8nID, id, n8nID)
	if err != nil {
		return false, err
	}
	n, _ := res.RowsAffected()
	return n > 0, nil
}

// N8NExecutions lists executions newest first ("" workflow = all).
func (db *DB) N8NExecutions(ctx context.Context, workflowID string, limit int) ([]N8NExecution, error) {
	if limit <= 0 || limit > 500 {
		limit = 50
	}
	q, args := "SELECT "+execCols+" FROM n8n_executions", []any{}
	if workflowID != "" {
		q += " WHERE workflow_id = ?"
		args = append(args, workflowID)
	}
	rows, err := db.Query(ctx, q+fmt.Sprintf(" ORDER BY started_at DESC, id DESC LIMIT %d", limit), args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []N8NExecution
	for rows.Next() {
		e, err := scanExec(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, rows.Err()
}

package store

import (
	"context"
	"database/sql"
	"time"
)

// Agent is a Pulser agent: something that takes an input and produces an
// output — an HTTP endpoint (kind "http") or an n8n webhook (kind "n8n").
type Agent struct {
	ID            string
	Name          string
	Kind          string
	Endpoint      string // URL (http) or webhook path (n8n)
	Description   string
	AllowedTools  string // space-separated MCP tool names the agent may use
	NotifyChannel string // Mattermost channel for results ("" = none)
	CreatedAt     time.Time
	UpdatedAt     time.Time
}

// Run statuses.
const (
	RunPending   = "pending"
	RunRunning   = "running"
	RunCompleted = "completed"
	RunFailed    = "failed"
	RunCancelled = "cancelled"
)

// Run is one run of an agent. Input, Output and Trace are JSON text.
type Run struct {
	ID         string
	AgentID    string
	Status     string
	Input      string
	Output     string
	Error      string
	Trace      string
	Actor      string
	CreatedAt  time.Time
	StartedAt  time.Time
	FinishedAt time.Time
}

const agentCols = "id, name, kind, endpoint, description, allowed_tools, notify_channel, created_at, updated_at"

func scanAgent(s scanner) (Agent, error) {
	var a Agent
	var c, u int64
	err := s.Scan(&a.ID, &a.Name, &a.Kind, &a.Endpoint, &a.Description, &a.AllowedTools, &a.NotifyChannel, &c, &u)
	a.CreatedAt, a.UpdatedAt = Time(c), Time(u)
	return a, err
}

// CreateAgent stores an agent; ErrConflict when the name is taken.
func (db *DB) CreateAgent(ctx context.Context, a Agent) error {
	_, err := db.Exec(ctx, "INSERT INTO mcp_agents ("+agentCols+") VALUES (?,?,?,?,?,?,?,?,?)",
		a.ID, a.Name, a.Kind, a.Endpoint, a.Description, a.AllowedTools, a.NotifyChannel, Micros(a.CreatedAt), Micros(a.UpdatedAt))
	return err
}

// Agent finds an agent by id or name.
func (db *DB) Agent(ctx context.Context, idOrName string) (Agent, error) {
	return scanAgent(db.QueryRow(ctx, "SELECT "+agentCols+" FROM mcp_agents WHERE id = ? OR name = ?", idOrName, idOrName))
}

// Agents lists agents by name.
func (db *DB) Agents(ctx context.Context) ([]Agent, error) {
	rows, err := db.Query(ctx, "SELECT "+agentCols+" FROM mcp_agents ORDER BY name")
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Agent
	for rows.Next() {
		a, err := scanAgent(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

const runCols = "id, agent_id, status, input, output, error, trace, actor, created_at, started_at, finished_at"

func scanRun(s scanner) (Run, error) {
	var r Run
	var c int64
	var st, fi sql.NullInt64
	err := s.Scan(&r.ID, &r.AgentID, &r.Status, &r.Input, &r.Output, &r.Error, &r.Trace, &r.Actor, &c, &st, &fi)
	r.CreatedAt, r.StartedAt, r.FinishedAt = Time(c), Time(st.Int64), Time(fi.Int64)
	return r, err
}

// CreateRun stores a new run (status pending).
func (db *DB) CreateRun(ctx context.Context, r Run) error {
	if r.Status == "" {
		r.Status = RunPending
	}
	if r.Trace == "" {
		r.Trace = "[]"
	}
	_, err := db.Exec(ctx, "INSERT INTO mcp_runs ("+runCols+") VALUES (?,?,?,?,?,?,?,?,?,?,?)",
		r.ID, r.AgentID, r.Status, r.Input, r.Output, r.Error, r.Trace, r.Actor, Micros(r.CreatedAt),
		NullMicros(r.StartedAt), NullMicros(r.FinishedAt))
	return err
}

// Run finds a run.
func (db *DB) Run(ctx context.Context, id string) (Run, error) {
	return scanRun(db.QueryRow(ctx, "SELECT "+runCols+" FROM mcp_runs WHERE id = ?", id))
}

// Runs lists runs, newest first, optionally of one agent and/or status.
func (db *DB) Runs(ctx context.Context, agentID, status string, limit int) ([]Run, error) {
	q := "SELECT " + runCols + " FROM mcp_runs WHERE (? = '' OR agent_id = ?) AND (? = '' OR status = ?) ORDER BY created_at DESC, id DESC LIMIT ?"
	rows, err := db.Query(ctx, q, agentID, agentID, status, status, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// ClaimRun moves a pending run to running; false when another worker (or a
// cancel) got there first.
func (db *DB) ClaimRun(ctx context.Context, id string, at time.Time) (bool, error) {
	res, err := db.Exec(ctx, "UPDATE mcp_runs SET status = ?, started_at = ? WHERE id = ? AND status = ?", RunRunning, Micros(at), id, RunPending)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// PendingRuns returns the ids of pending runs, oldest first.
func (db *DB) PendingRuns(ctx context.Context, limit int) ([]string, error) {
	rows, err := db.Query(ctx, "SELECT id FROM mcp_runs WHERE status = ? ORDER BY created_at, id LIMIT ?", RunPending, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// FinishRun records a running run's outcome; false when the run is no longer
// running (e.g. it was cancelled meanwhile).
func (db *DB) FinishRun(ctx context.Context, id, status, output, errText, trace string, at time.Time) (bool, error) {
	res, err := db.Exec(ctx, "UPDATE mcp_runs SET status = ?, output = ?, error = ?, trace = ?, finished_at = ? WHERE id = ? AND status = ?",
		status, output, errText, trace, Micros(at), id, RunRunning)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// CancelRun cancels a pending or running run; false when it already ended.
func (db *DB) CancelRun(ctx context.Context, id string, at time.Time) (bool, error) {
	res, err := db.Exec(ctx, "UPDATE mcp_runs SET status = ?, finished_at = ? WHERE id = ? AND status IN (?, ?)",
		RunCancelled, Micros(at), id, RunPending, RunRunning)
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

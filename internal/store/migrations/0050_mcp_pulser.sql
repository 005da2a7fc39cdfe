-- Pulser (MCP agent orchestration): the agent registry and agent runs.
CREATE TABLE mcp_agents (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	kind TEXT NOT NULL,
	endpoint TEXT NOT NULL DEFAULT '',
	description TEXT NOT NULL DEFAULT '',
	allowed_tools TEXT NOT NULL DEFAULT '',
	notify_channel TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE TABLE mcp_runs (
	id TEXT PRIMARY KEY,
	agent_id TEXT NOT NULL REFERENCES mcp_agents (id),
	status TEXT NOT NULL,
	input TEXT NOT NULL DEFAULT '{}',
	output TEXT NOT NULL DEFAULT '',
	error TEXT NOT NULL DEFAULT '',
	trace TEXT NOT NULL DEFAULT '[]',
	actor TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	started_at BIGINT,
	finished_at BIGINT
);
CREATE INDEX mcp_runs_status ON mcp_runs (status, created_at);
CREATE INDEX mcp_runs_agent ON mcp_runs (agent_id, created_at);

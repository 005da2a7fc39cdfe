-- ChatOps: Mattermost bots and their slash commands (tokens sealed), keys
-- of the hub's own signatures, the n8n workflow registry and the log of
-- n8n executions.
CREATE TABLE bots (
	username TEXT PRIMARY KEY,
	display_name TEXT NOT NULL DEFAULT '',
	description TEXT NOT NULL DEFAULT '',
	connector TEXT NOT NULL DEFAULT '',
	token_sealed TEXT NOT NULL DEFAULT '',
	permissions TEXT NOT NULL DEFAULT '[]',
	state TEXT NOT NULL,
	managed BOOLEAN NOT NULL DEFAULT FALSE,
	last_active BIGINT NOT NULL DEFAULT 0,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);

CREATE TABLE bot_commands (
	bot TEXT NOT NULL,
	command TEXT NOT NULL,
	description TEXT NOT NULL DEFAULT '',
	hint TEXT NOT NULL DEFAULT '',
	response_type TEXT NOT NULL DEFAULT 'ephemeral',
	handler TEXT NOT NULL DEFAULT '',
	method TEXT NOT NULL DEFAULT 'P',
	allow TEXT NOT NULL DEFAULT '{}',
	token_sealed TEXT NOT NULL DEFAULT '',
	mm_command_id TEXT NOT NULL DEFAULT '',
	active BOOLEAN NOT NULL DEFAULT TRUE,
	managed BOOLEAN NOT NULL DEFAULT FALSE,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL,
	PRIMARY KEY (bot, command)
);

CREATE TABLE chatops_keys (
	name TEXT PRIMARY KEY,
	sealed TEXT NOT NULL,
	created_at BIGINT NOT NULL
);

CREATE TABLE n8n_workflows (
	connector TEXT NOT NULL,
	id TEXT NOT NULL,
	name TEXT NOT NULL DEFAULT '',
	active BOOLEAN NOT NULL DEFAULT FALSE,
	tags TEXT NOT NULL DEFAULT '[]',
	trigger_type TEXT NOT NULL DEFAULT 'manual',
	webhook_path TEXT NOT NULL DEFAULT '',
	last_sync BIGINT NOT NULL,
	PRIMARY KEY (connector, id)
);

CREATE TABLE n8n_executions (
	id TEXT PRIMARY KEY,
	connector TEXT NOT NULL DEFAULT '',
	workflow_id TEXT NOT NULL DEFAULT '',
	n8n_execution_id TEXT NOT NULL DEFAULT '',
	source TEXT NOT NULL,
	status TEXT NOT NULL,
	started_at BIGINT NOT NULL,
	finished_at BIGINT NOT NULL DEFAULT 0,
	input TEXT NOT NULL DEFAULT '',
	output TEXT NOT NULL DEFAULT '',
	error TEXT NOT NULL DEFAULT '',
	res_model TEXT NOT NULL DEFAULT '',
	res_id BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX n8n_executions_workflow ON n8n_executions (workflow_id, started_at);
CREATE INDEX n8n_executions_n8n ON n8n_executions (n8n_execution_id);

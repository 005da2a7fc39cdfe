-- Routing rules: match events by source and type pattern, test a condition,
-- run actions (JSON list). Managed rules come from ipai.yaml.
CREATE TABLE rules (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL UNIQUE,
	enabled BOOLEAN NOT NULL DEFAULT TRUE,
	managed BOOLEAN NOT NULL DEFAULT FALSE,
	match_source TEXT NOT NULL DEFAULT '',
	match_type TEXT NOT NULL DEFAULT '',
	condition TEXT NOT NULL DEFAULT '',
	actions TEXT NOT NULL,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);

-- Tokens that let an Odoo database post "Send Webhook Notification"
-- payloads to /integrations/odoo/{connector}: only a SHA-256 is kept.
CREATE TABLE odoo_source_tokens (
	id TEXT PRIMARY KEY,
	connector TEXT NOT NULL,
	label TEXT NOT NULL DEFAULT '',
	hash TEXT NOT NULL UNIQUE,
	created_at BIGINT NOT NULL,
	last_used_at BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX odoo_source_tokens_connector ON odoo_source_tokens (connector, created_at);

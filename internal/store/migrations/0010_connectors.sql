-- Connectors: one row per configured service. Type-specific settings are a
-- JSON object of strings; secrets a JSON object name -> sealed value
-- (secret.Box, bound to "connector:<code>:<name>"), never plaintext.
CREATE TABLE connectors (
	code TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	type TEXT NOT NULL,
	base_url TEXT NOT NULL,
	api_version TEXT NOT NULL DEFAULT '',
	auth_type TEXT NOT NULL DEFAULT '',
	settings TEXT NOT NULL DEFAULT '{}',
	secrets TEXT NOT NULL DEFAULT '{}',
	state TEXT NOT NULL,
	last_ping BIGINT NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT '',
	last_latency_ms BIGINT NOT NULL DEFAULT 0,
	version TEXT NOT NULL DEFAULT '',
	managed BOOLEAN NOT NULL DEFAULT FALSE,
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX connectors_state ON connectors (state);

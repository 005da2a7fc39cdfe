-- API tokens: only a SHA-256 of the token is stored.
CREATE TABLE api_tokens (
	id TEXT PRIMARY KEY,
	name TEXT NOT NULL,
	role TEXT NOT NULL,
	scopes TEXT NOT NULL DEFAULT '',
	prefix TEXT NOT NULL,
	hash TEXT NOT NULL UNIQUE,
	created_by TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	expires_at BIGINT,
	last_used_at BIGINT,
	revoked_at BIGINT
);
CREATE INDEX api_tokens_name ON api_tokens (name);

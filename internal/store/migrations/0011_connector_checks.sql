-- Health check history: the last results per connector (trimmed on insert).
CREATE TABLE connector_checks (
	code TEXT NOT NULL,
	at BIGINT NOT NULL,
	ok BOOLEAN NOT NULL,
	latency_ms BIGINT NOT NULL DEFAULT 0,
	version TEXT NOT NULL DEFAULT '',
	error TEXT NOT NULL DEFAULT ''
);
CREATE INDEX connector_checks_code_at ON connector_checks (code, at);

-- Append-only, hash-chained audit log. seq orders the chain; hash covers the
-- entry's canonical content and prev_hash (the hash of the entry before it).
CREATE TABLE audit_log (
	seq BIGINT PRIMARY KEY,
	at BIGINT NOT NULL,
	actor TEXT NOT NULL DEFAULT '',
	actor_ip TEXT NOT NULL DEFAULT '',
	action TEXT NOT NULL,
	level TEXT NOT NULL,
	target TEXT NOT NULL DEFAULT '',
	message TEXT NOT NULL DEFAULT '',
	method TEXT NOT NULL DEFAULT '',
	url TEXT NOT NULL DEFAULT '',
	status INTEGER NOT NULL DEFAULT 0,
	duration_ms BIGINT NOT NULL DEFAULT 0,
	fields TEXT NOT NULL DEFAULT '',
	prev_hash TEXT NOT NULL,
	hash TEXT NOT NULL
);
CREATE INDEX audit_log_at ON audit_log (at);
CREATE INDEX audit_log_level_at ON audit_log (level, at);
CREATE INDEX audit_log_action ON audit_log (action, seq);
CREATE INDEX audit_log_target ON audit_log (target, seq);
CREATE INDEX audit_log_actor ON audit_log (actor, seq);

-- Webhooks: incoming hooks (verified receivers) and outgoing endpoints.
-- Type-specific settings live in spec (JSON); secrets are sealed.
CREATE TABLE webhooks (
	id TEXT PRIMARY KEY,
	direction TEXT NOT NULL,
	name TEXT NOT NULL DEFAULT '',
	connector TEXT NOT NULL DEFAULT '',
	state TEXT NOT NULL,
	managed BOOLEAN NOT NULL DEFAULT FALSE,
	spec TEXT NOT NULL,
	secret_sealed TEXT NOT NULL DEFAULT '',
	old_secret_sealed TEXT NOT NULL DEFAULT '',
	old_secret_until BIGINT NOT NULL DEFAULT 0,
	failing_since BIGINT NOT NULL DEFAULT 0,
	disabled_reason TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX webhooks_direction ON webhooks (direction, created_at);

-- Events: everything that entered the hub, committed before the 2xx.
CREATE TABLE events (
	id TEXT PRIMARY KEY,
	source TEXT NOT NULL,
	type TEXT NOT NULL,
	hook_id TEXT NOT NULL DEFAULT '',
	received_at BIGINT NOT NULL,
	idempotency_key TEXT NOT NULL,
	payload TEXT NOT NULL
);
CREATE INDEX events_received ON events (received_at);
CREATE INDEX events_hook ON events (hook_id, received_at);

-- Dedupe keys within their window: (source, key) -> the original event.
CREATE TABLE event_keys (
	source TEXT NOT NULL,
	idempotency_key TEXT NOT NULL,
	event_id TEXT NOT NULL,
	expires_at BIGINT NOT NULL,
	PRIMARY KEY (source, idempotency_key)
);
CREATE INDEX event_keys_expires ON event_keys (expires_at);

-- Deliveries: one durable job per (event, target). The id is the stable
-- webhook-id receivers dedupe on. The row is both the queue entry and the
-- record the API shows.
CREATE TABLE deliveries (
	id TEXT PRIMARY KEY,
	event_id TEXT NOT NULL,
	kind TEXT NOT NULL,
	endpoint_id TEXT NOT NULL DEFAULT '',
	rule_id TEXT NOT NULL DEFAULT '',
	action TEXT NOT NULL DEFAULT '',
	ordered_key TEXT,
	state TEXT NOT NULL,
	attempts INTEGER NOT NULL DEFAULT 0,
	round_base INTEGER NOT NULL DEFAULT 0,
	next_attempt_at BIGINT NOT NULL,
	lease_until BIGINT NOT NULL DEFAULT 0,
	last_status INTEGER NOT NULL DEFAULT 0,
	last_error TEXT NOT NULL DEFAULT '',
	created_at BIGINT NOT NULL,
	updated_at BIGINT NOT NULL
);
CREATE INDEX deliveries_due ON deliveries (state, next_attempt_at);
CREATE INDEX deliveries_endpoint ON deliveries (endpoint_id, created_at);
CREATE INDEX deliveries_event ON deliveries (event_id);
CREATE INDEX deliveries_ordered ON deliveries (ordered_key, created_at) WHERE ordered_key IS NOT NULL;

-- Every attempt of every delivery.
CREATE TABLE delivery_attempts (
	delivery_id TEXT NOT NULL,
	n INTEGER NOT NULL,
	at BIGINT NOT NULL,
	status INTEGER NOT NULL DEFAULT 0,
	duration_ms BIGINT NOT NULL DEFAULT 0,
	response TEXT NOT NULL DEFAULT '',
	error TEXT NOT NULL DEFAULT '',
	PRIMARY KEY (delivery_id, n)
);

-- Every running hub process keeps a row here with a heartbeat; a claimed
-- delivery names the hub that holds it, so the claims of a hub that stopped
-- beating (killed, or restarted with a new identity) are taken back at once
-- instead of after their whole lease.
CREATE TABLE hubs (
	id TEXT PRIMARY KEY,
	host TEXT NOT NULL,
	pid BIGINT NOT NULL,
	started_at BIGINT NOT NULL,
	heartbeat_at BIGINT NOT NULL
);
-- '' is a claim made without a hub identity: only its lease bounds it.
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
CREATE INDEX deliveries_running_hub ON deliveries (claimed_by) WHERE state = 'running';

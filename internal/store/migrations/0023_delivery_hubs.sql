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
-- (No index on it: one more index to maintain on every claim and outcome
-- halved claim throughput on PostgreSQL; the claims of a dead hub are found
-- through deliveries_due, whose first column is the state.)
ALTER TABLE deliveries ADD COLUMN claimed_by TEXT NOT NULL DEFAULT '';
